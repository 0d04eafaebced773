// The lab kit itself: topology as lab-harness.md §1 describes it, captures, and teardown that leaves nothing
// behind, also when the process is killed before its scope closes.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import * as Netns from "../../src/testing/Netns.ts"
import { labGate } from "./prerequisites.ts"

const holder = fileURLToPath(new URL("fixtures/lab-holder.ts", import.meta.url))
const gate = labGate(["ip", "tcpdump", "ping"])

const namespaces = Effect.map(Netns.runOk(["ip", "netns", "list"]), (r) => r.stdout)
const alive = (pid: number) => existsSync(`/proc/${pid}`)

describe.skipIf(gate.skip)("testing/Netns lab kit", () => {
  it("has its prerequisites", () => {
    assert.isUndefined(gate.problem, gate.problem)
  })

  it.live("builds the LAN with fixed MACs and addresses, captures traffic, and removes everything on scope close", () =>
    Effect.gen(function*() {
      const { prefix, sleeper } = yield* Effect.scoped(Effect.gen(function*() {
        const lab = yield* Netns.make()
        const { cli, n1 } = yield* lab.lan({ cli: 100, n1: 11 })
        assert.strictEqual(n1.mac, "02:00:00:00:00:11")
        assert.strictEqual(cli.mac, "02:00:00:00:01:00")
        const link = yield* lab.exec(n1.ns, ["ip", "-j", "addr", "show", "eth0"])
        const [info] = JSON.parse(link.stdout) as Array<{ address: string; addr_info: Array<{ local: string }> }>
        assert.strictEqual(info?.address, n1.mac)
        assert.includeMembers(info?.addr_info.map((a) => a.local) ?? [], ["192.0.2.11", "2001:db8:0:1::11"])
        const capture = yield* lab.capture(cli.ns, "eth0", "icmp", "ping")
        yield* lab.exec(cli.ns, ["ping", "-c", "1", "-W", "1", n1.ipv4])
        yield* lab.exec(cli.ns, ["ping", "-6", "-c", "1", "-W", "1", n1.ipv6])
        yield* capture.stop
        const lines = yield* capture.read()
        assert.isTrue(lines.some((l) => l.includes(`${cli.ipv4} > ${n1.ipv4}: ICMP echo request`)), lines.join("\n"))
        const sleeper = yield* lab.spawn(n1.ns, ["sleep", "600"])
        assert.isTrue(alive(sleeper.pid))
        assert.include(yield* namespaces, lab.ns("sw"))
        return { prefix: lab.prefix, sleeper: sleeper.pid }
      }))
      assert.notInclude(yield* namespaces, prefix)
      assert.isFalse(alive(sleeper))
    }))

  it.live("tears down on SIGTERM of a process that still holds its lab", () =>
    Effect.scoped(Effect.gen(function*() {
      const child = yield* Effect.acquireRelease(
        Effect.sync(() => spawn(process.execPath, [holder], { stdio: ["ignore", "pipe", "pipe"] })),
        (c) => Effect.sync(() => c.exitCode === null && c.signalCode === null && c.kill("SIGKILL"))
      )
      const line = yield* Effect.callback<string>((resume) => {
        let out = ""
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString()
          if (out.includes("\n")) resume(Effect.succeed(out.split("\n")[0] ?? ""))
        })
      }).pipe(Effect.timeout("10 seconds"))
      const held = JSON.parse(line) as { prefix: string; dir: string; namespaces: Array<string>; sleeper: number }
      const listed = yield* namespaces
      for (const ns of held.namespaces) assert.include(listed, ns)
      assert.isTrue(alive(held.sleeper))
      child.kill("SIGTERM")
      const code = yield* Effect.callback<number | null>((resume) => {
        child.once("exit", (c) => resume(Effect.succeed(c)))
      })
      assert.strictEqual(code, 143)
      assert.notInclude(yield* namespaces, held.prefix)
      assert.isFalse(existsSync(held.dir))
      // The sleeper was SIGKILLed; give the reaper a moment (PID 1 here is not an init, see lab-harness.md §5).
      yield* Effect.sleep("300 millis")
      const status = existsSync(`/proc/${held.sleeper}/status`)
        ? (yield* Netns.run(["cat", `/proc/${held.sleeper}/status`])).stdout
        : ""
      assert.isTrue(status === "" || /State:\s+Z/.test(status), status)
    })))
})
