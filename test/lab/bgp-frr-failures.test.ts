// Failure handling against FRR: hold-timer expiry in both directions, BFD tearing the session down at once in both
// directions, and graceful restart (FRR keeps our route stale across a kill -9 and a restart, never removing it).
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Ref, Schedule } from "effect"
import * as Netns from "../../src/testing/Netns.ts"
import * as Routers from "../../src/testing/Routers.ts"
import { bfddConf, ebgpPeer, eventually, frrEbgp, frrLogTime, startNode } from "./bgpLab.ts"
import { labGate } from "./prerequisites.ts"

const gate = labGate(["ip", "vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "/usr/lib/frr/bfdd"])
const vip = "203.0.113.10/32"

const setup = (bgpd: string, bfdd?: string) =>
  Effect.gen(function*() {
    const lab = yield* Netns.make()
    const hosts = yield* lab.lan({ rtr: 1, n1: 11 })
    const frr = yield* Routers.startFrr(lab, hosts.rtr.ns, { bgpd, preciseTimestamps: true, ...(bfdd === undefined ? {} : { bfdd }) })
    return { lab, hosts, frr }
  })

const routeCount = (frr: Routers.Frr) => Routers.frrPaths(frr, vip).pipe(Effect.map((ps) => ps.length))
const routeGone = (frr: Routers.Frr) => routeCount(frr).pipe(Effect.map((n) => (n === 0 ? true : undefined)))
const routeThere = (frr: Routers.Frr) => routeCount(frr).pipe(Effect.map((n) => (n > 0 ? true : undefined)))

/** SIGSTOP a process for the duration of `body`, SIGCONT afterwards even on failure. */
const frozen = <A, E>(pid: number, body: Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => process.kill(pid, "SIGSTOP")),
    () => body,
    () => Effect.sync(() => process.kill(pid, "SIGCONT"))
  )

describe.skipIf(gate.skip)("BGP speaker failure handling against FRR", () => {
  it("has its prerequisites", () => {
    assert.isUndefined(gate.problem, gate.problem)
  })

  it.live("hold timer: we send Hold Timer Expired when FRR freezes; FRR drops us when we freeze", () =>
    Effect.scoped(Effect.gen(function*() {
      const { lab, hosts, frr } = yield* setup(frrEbgp())
      const node = yield* startNode(lab, hosts.n1.ns, { nodeName: "n1", peers: [{ peer: ebgpPeer({ holdTime: 3 }), routes: [{ prefix: vip }] }] })
      yield* eventually("route in FRR", routeThere(frr))
      // FRR frozen: our receive hold timer (3 s) expires and we say so.
      const frozenAt = Date.now()
      yield* frozen(frr.bgpd.pid, node.waitFor(/"lastError":"sent Hold Timer Expired \/ Unspecific"/, "8 seconds"))
      // FRR's keepalives come every second, so the last one arrived at most 1 s before the freeze.
      const expiredAfter = Date.now() - frozenAt
      assert.isAtLeast(expiredAfter, 1900)
      assert.isAtMost(expiredAfter, 4500)
      // It comes back on its own once FRR runs again.
      yield* node.waitFor(/Hold Timer Expired[\s\S]*"established":true/, "20 seconds")
      yield* eventually("route back in FRR", routeThere(frr))
      // We are frozen: FRR's hold timer (3 s) expires and the route goes.
      yield* frozen(node.process.pid, Effect.gen(function*() {
        yield* eventually("route gone from FRR", routeGone(frr), "8 seconds")
        // The dynamic neighbour is deleted with its session; FRR's log says why it went.
        yield* frr.bgpd.waitFor(/sent to neighbor 192\.0\.2\.11.*Hold Timer Expired/, { timeout: "2 seconds" })
      }))
    })), 60_000)

  it.live("BFD: FRR drops the route within the detect time when we freeze; our BFD Down sends Cease / BFD Down", () =>
    Effect.scoped(Effect.gen(function*() {
      const { lab, hosts, frr } = yield* setup(frrEbgp({ bfd: true }), bfddConf)
      const bfd = { desiredMinTx: 100_000, requiredMinRx: 100_000, detectMult: 3, passive: false }
      const node = yield* startNode(lab, hosts.n1.ns, {
        nodeName: "n1",
        bfdListen: ["192.0.2.11"],
        peers: [{ peer: ebgpPeer({ sourceAddress: "192.0.2.11" }), bfd, routes: [{ prefix: vip }] }]
      })
      yield* eventually("route in FRR", routeThere(frr))
      const bfdUp = frr.json<ReadonlyArray<{ readonly peer: string; readonly status: string }>>("show bfd peers", "bfdd").pipe(
        Effect.map((ps) => (ps.some((p) => p.peer === "192.0.2.11" && p.status === "up") ? true : undefined))
      )
      yield* eventually("BFD up in FRR", bfdUp)
      // Our process frozen: FRR's BFD sees it within 3 × 100 ms and takes the BGP session (and route) down at once,
      // long before the 9 s hold time.
      // Timed from FRR's own log, so polling and a loaded machine do not count.
      const t0 = Date.now()
      yield* frozen(node.process.pid, eventually("route gone", routeGone(frr), "5 seconds"))
      const down = frrLogTime(frr.bgpd.stdout(), /192\.0\.2\.11.*Down/, t0)
      assert.isDefined(down, frr.bgpd.stdout().slice(-2000))
      assert.isAtMost((down ?? Infinity) - t0, 1000)
      yield* node.waitFor(/"established":false[\s\S]*"established":true/, "20 seconds")
      yield* eventually("route back", routeThere(frr))
      yield* eventually("BFD up again", bfdUp)
      // FRR's bfdd frozen: our BFD session goes down and our hook ends the BGP session with Cease / BFD Down.
      const bfdd = frr.bfdd
      assert.isDefined(bfdd)
      if (bfdd === undefined) return
      const t1 = Date.now()
      yield* frozen(bfdd.pid, node.waitFor(/"lastError":"sent Cease \/ BFD Down"/, "5 seconds"))
      assert.isAtMost(Date.now() - t1, 1500)
    })), 60_000)

  it.live("graceful restart: FRR keeps the route stale across kill -9 and a restart, then fresh after End-of-RIB", () =>
    Effect.scoped(Effect.gen(function*() {
      const { lab, hosts, frr } = yield* setup(frrEbgp({ gracefulRestart: true }))
      const spec = (restarted: boolean) => ({
        nodeName: "n1",
        restarted,
        peers: [{ peer: ebgpPeer({ gracefulRestart: { restartTime: 30 } }), routes: [{ prefix: vip, communities: ["64500:1"] }] }]
      })
      const first = yield* startNode(lab, hosts.n1.ns, spec(false), "n1-a")
      yield* eventually("route in FRR", routeThere(frr))
      const grMode = yield* eventually("FRR sees our GR capability", frr.json<Record<string, { readonly gracefulRestartInfo?: { readonly remoteGrMode?: string } }>>("show bgp neighbors 192.0.2.11").pipe(
        Effect.map((r) => r["192.0.2.11"]?.gracefulRestartInfo?.remoteGrMode)
      ))
      assert.strictEqual(grMode, "Restart")
      // Sample FRR's paths from the kill until the end: the route must never disappear.
      const missing = yield* Ref.make(0)
      const sampler = yield* routeCount(frr).pipe(
        Effect.flatMap((n) => (n === 0 ? Ref.update(missing, (m) => m + 1) : Effect.void)),
        Effect.repeat(Schedule.spaced("50 millis")),
        Effect.forkChild
      )
      process.kill(first.process.pid, "SIGKILL")
      yield* first.process.exited
      const stale = yield* eventually("route stale in FRR", Routers.frrPaths(frr, vip).pipe(Effect.map((ps) => (ps[0]?.stale === true ? ps[0] : undefined))))
      assert.strictEqual(stale.nexthop, "192.0.2.11")
      yield* startNode(lab, hosts.n1.ns, spec(true), "n1-b")
      const fresh = yield* eventually("route fresh again", Routers.frrPaths(frr, vip).pipe(
        Effect.map((ps) => (ps.length === 1 && ps[0]?.stale === false ? ps[0] : undefined))
      ), "20 seconds")
      assert.deepStrictEqual(fresh.communities, ["64500:1"])
      yield* Fiber.interrupt(sampler)
      assert.strictEqual(yield* Ref.get(missing), 0)
    })), 60_000)
})
