// BFD against FRR's bfdd in a namespace (RFC 5880/5881 interop): the session comes up at the profile's intervals,
// a dead peer is seen within multiplier × interval on both sides, and a graceful stop is AdminDown at once.
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Schedule } from "effect"
import { fileURLToPath } from "node:url"
import * as Netns from "../../src/testing/Netns.ts"
import * as Routers from "../../src/testing/Routers.ts"
import { labGate } from "./prerequisites.ts"

const fixture = fileURLToPath(new URL("fixtures/bfd-peer.ts", import.meta.url))
const gate = labGate(["ip", "vtysh", "/usr/lib/frr/bfdd"])

interface FrrBfdPeer {
  readonly peer: string
  readonly status: string
  readonly diagnostic?: string
  readonly "remote-diagnostic"?: string
  readonly "receive-interval"?: number
  readonly "transmit-interval"?: number
}

const bfddConf = `bfd
 profile fast
  receive-interval 100
  transmit-interval 100
  detect-multiplier 3
 exit
 peer 192.0.2.11 local-address 192.0.2.1
  profile fast
 exit
exit`

const frrPeer = (frr: Routers.Frr) =>
  frr.json<ReadonlyArray<FrrBfdPeer>>("show bfd peers", "bfdd").pipe(Effect.map((ps) => ps.find((p) => p.peer === "192.0.2.11")))

const setup = Effect.gen(function*() {
  const lab = yield* Netns.make()
  const hosts = yield* lab.lan({ rtr: 1, n1: 11 })
  const frr = yield* Routers.startFrr(lab, hosts.rtr.ns, { bgpd: "", bfdd: bfddConf })
  const speaker = yield* lab.spawn(hosts.n1.ns, [process.execPath, fixture, "192.0.2.1", "192.0.2.11", "100", "3"], { name: "bfd-peer" })
  return { lab, hosts, frr, peer: frrPeer(frr), speaker }
})

const waitFor = <A>(what: string, check: Effect.Effect<A | undefined, Netns.LabError>, timeout: Duration.Input = "10 seconds") =>
  check.pipe(
    Effect.flatMap((a) => (a === undefined ? Effect.fail(new Netns.LabError({ command: what, reason: "not yet" })) : Effect.succeed(a))),
    Effect.retry(Schedule.spaced("20 millis")),
    Effect.timeout(timeout)
  )

describe.skipIf(gate.skip)("BFD against FRR bfdd", () => {
  it("has its prerequisites", () => {
    assert.isUndefined(gate.problem, gate.problem)
  })

  it.live("comes up with the profile's intervals and detects a frozen FRR within 3 × 100 ms", () =>
    Effect.scoped(Effect.gen(function*() {
      const { frr, peer, speaker } = yield* setup
      yield* speaker.waitFor(/"state":"Up"/, { timeout: "15 seconds" })
      const up = yield* waitFor("FRR peer up", peer.pipe(Effect.map((p) => (p?.status === "up" ? p : undefined))))
      assert.strictEqual(up["receive-interval"], 100)
      assert.strictEqual(up["transmit-interval"], 100)
      // Freeze bfdd: our side must declare the session down after the detection time.
      const bfdd = frr.bfdd
      assert.isDefined(bfdd)
      if (bfdd === undefined) return
      const frozenAt = Date.now()
      process.kill(bfdd.pid, "SIGSTOP")
      const down = yield* speaker.waitFor(/\{"t":(\d+),"event":"state","state":"Down"\}/, { timeout: "5 seconds" })
      process.kill(bfdd.pid, "SIGCONT")
      const detectedMs = Number(down[1]) - frozenAt
      assert.isAtMost(detectedMs, 600)
      // And it recovers once bfdd runs again.
      yield* speaker.waitFor(/"state":"Down"[\s\S]*"state":"Up"/, { timeout: "15 seconds" })
    })))

  it.live("FRR sees our session down within the detection time when the speaker dies, and at once on a graceful stop", () =>
    Effect.scoped(Effect.gen(function*() {
      const { peer, speaker } = yield* setup
      yield* waitFor("FRR peer up", peer.pipe(Effect.map((p) => (p?.status === "up" ? p : undefined))), "15 seconds")
      const stoppedAt = Date.now()
      yield* speaker.stop("SIGTERM")
      const down = yield* waitFor("FRR peer down", peer.pipe(Effect.map((p) => (p?.status === "down" ? p : undefined))))
      const elapsed = Date.now() - stoppedAt
      assert.strictEqual(down["remote-diagnostic"], "administratively down")
      assert.isAtMost(elapsed, 1000)
    })))
})
