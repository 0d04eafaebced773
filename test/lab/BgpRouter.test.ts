/**
 * The sandbox router against a known-good speaker: three gobgpd processes on loopback (each its own API socket,
 * local address 127.0.0.3/.4/.5, no listening port) dial the router, announce one /32 with communities, and the
 * router must show three Established sessions and three multipaths; a withdrawal and a clean gobgpd stop (Cease,
 * no graceful restart) remove their paths. Lab convention: runs as root or in CI (gobgpd must be installed).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { make } from "../../src/testing/BgpRouter.ts"
import type { RouterSnapshot } from "../../src/testing/BgpRib.ts"
import { labGate } from "./prerequisites.ts"

const gate = labGate(["gobgpd", "gobgp"])
const paths = (s: RouterSnapshot, prefix: string) => s.routes.find((r) => r.prefix === prefix)?.paths ?? []

const gobgpdConfig = (n: number, routerPort: number) => `[global.config]
  as = 64500
  router-id = "192.0.2.1${n}"
  port = -1
[[neighbors]]
  [neighbors.config]
    neighbor-address = "127.0.0.1"
    peer-as = 64512
  [neighbors.transport.config]
    local-address = "127.0.0.${n}"
    remote-port = ${routerPort}
  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 9
    keepalive-interval = 3
    idle-hold-time-after-reset = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
`

describe.skipIf(gate.skip)("BgpRouter with gobgpd as the node speaker (lab)", () => {
  it("prerequisites", () => {
    assert.isUndefined(gate.problem)
  })

  it.live("three gobgpd sessions Established, one /32 with three multipaths, withdraw and stop remove paths", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "bgprouter-gobgp-"))
      const children: Array<ChildProcess> = []
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          for (const child of children) if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, "SIGKILL")
          rmSync(dir, { recursive: true, force: true })
        })
      )
      const router = yield* make({ asn: 64512, routerId: "192.0.2.1", peerAs: 64500, holdTime: 9 })
      const gobgp = (n: number, ...args: Array<string>) => {
        const r = spawnSync("gobgp", ["--target", `unix://${dir}/n${n}.sock`, ...args], { encoding: "utf8" })
        if (r.status !== 0) throw new Error(`gobgp ${args.join(" ")}: ${r.stderr}`)
      }
      for (const n of [3, 4, 5]) {
        writeFileSync(join(dir, `n${n}.toml`), gobgpdConfig(n, router.port))
        children.push(spawn("gobgpd", ["-f", join(dir, `n${n}.toml`), "--api-hosts", `unix://${dir}/n${n}.sock`, "--pprof-disable", "-l", "warn"], { stdio: "ignore" }))
      }
      // gobgpd v3 waits 5-10 s before its first dial.
      yield* router.waitFor((s) => s.sessions.filter((x) => x.state === "Established").length === 3, "30 seconds").pipe(
        Effect.tapError(() => Effect.flatMap(router.summary, (t) => Effect.sync(() => console.error(t))))
      )
      for (const n of [3, 4, 5]) gobgp(n, "global", "rib", "add", "-a", "ipv4", "203.0.113.10/32", "nexthop", `192.0.2.1${n}`, "community", "64500:100")
      const full = yield* router.waitFor((s) => paths(s, "203.0.113.10/32").length === 3, "10 seconds")
      const got = paths(full, "203.0.113.10/32")
      assert.deepStrictEqual(got.map((p) => p.nextHop).toSorted(), ["192.0.2.13", "192.0.2.14", "192.0.2.15"])
      assert.isTrue(got.every((p) => p.multipath && p.peerAs === 64500 && p.communities.includes("64500:100")))
      assert.strictEqual(got.filter((p) => p.best).length, 1)
      assert.deepStrictEqual(full.sessions.map((s) => [s.peer, s.peerRouterId]), [
        ["127.0.0.3", "192.0.2.13"],
        ["127.0.0.4", "192.0.2.14"],
        ["127.0.0.5", "192.0.2.15"]
      ])
      assert.match(yield* router.summary, /Peers 3, established 3/)
      assert.match(yield* router.routes(), /Displayed 1 routes and 3 total paths/)
      gobgp(3, "global", "rib", "del", "-a", "ipv4", "203.0.113.10/32")
      yield* router.waitFor((s) => paths(s, "203.0.113.10/32").length === 2, "10 seconds")
      const stopped = children[1]
      if (stopped?.pid !== undefined) process.kill(stopped.pid, "SIGTERM")
      const after = yield* router.waitFor((s) => paths(s, "203.0.113.10/32").length === 1, "10 seconds")
      assert.strictEqual(after.sessions.find((s) => s.peer === "127.0.0.4")?.state, "Idle")
      assert.match(after.sessions.find((s) => s.peer === "127.0.0.4")?.lastError ?? "", /NOTIFICATION Cease/)
    }).pipe(Effect.scoped), 60_000)
})
