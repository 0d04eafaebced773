// The real `metallb speaker` program against FRR when things fail (issue #5, BGP mode), configured only through
// metallb.io objects in the in-memory API server (speakerLab.ts): hold-timer expiry both ways (FRR's bgpd frozen,
// the speaker frozen), BFD from a BFDProfile taking our routes out of FRR within the detect time when a speaker is
// frozen or loses its link, and graceful restart keeping the route in FRR's RIB and FIB while the speaker restarts.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Ref, Schedule } from "effect"
import type { JsonObject } from "../../src/testing/apiserver/Json.ts"
import * as Netns from "../../src/testing/Netns.ts"
import * as Routers from "../../src/testing/Routers.ts"
import { bfddConf, eventually, frrLogTime, kernelNexthops, notYet } from "./bgpLab.ts"
import { labGate } from "./prerequisites.ts"
import {
  bfdProfile,
  bgpAdvertisement,
  bgpPeer,
  frrRouter,
  logAfter,
  mark,
  metricValue,
  METRICS_PORT,
  nodeNames,
  nodes,
  pathsFrom,
  sessionUp
} from "./speakerBgpFrr.ts"
import * as SpeakerLab from "./speakerLab.ts"

const gate = labGate(["ip", "vtysh", "curl", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "/usr/lib/frr/bfdd"])
const VIP = "203.0.113.10"
const PREFIX = `${VIP}/32`
const PEER = "192.0.2.1:179"

/** SIGSTOP a process for the duration of `body`, SIGCONT afterwards even on failure. */
const frozen = <A, E, R>(pid: number, body: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => process.kill(pid, "SIGSTOP")),
    () => body,
    () => Effect.sync(() => process.kill(pid, "SIGCONT"))
  )

/** The lab, FRR, and the objects every scenario shares: one Service on 203.0.113.10 and one IPv4 BGPPeer. */
const setup = <K extends string>(
  speakerNodes: Readonly<Record<K, number>>,
  frr: { readonly bgpd: string; readonly bfdd?: string },
  peer: JsonObject,
  ...extra: ReadonlyArray<JsonObject>
) =>
  Effect.gen(function*() {
    const l = yield* SpeakerLab.make(speakerNodes, { rtr: 1 })
    const router = yield* Routers.startFrr(l.lab, l.others.rtr.ns, { ...frr, preciseTimestamps: true })
    yield* l.upsert(
      SpeakerLab.pool("wan", ["203.0.113.0/28"]),
      bgpAdvertisement("wan", { ipAddressPools: ["wan"] }),
      bgpPeer("router", { myASN: 64500, peerASN: 64512, peerAddress: "192.0.2.1", ...peer }),
      SpeakerLab.service("web", VIP),
      SpeakerLab.endpoints("web", ["n1"]),
      ...extra
    )
    return { l, frr: router }
  })

const speakerArgs = ["--port", String(METRICS_PORT)]

describe.skipIf(gate.skip)("metallb speaker against FRR: failures", () => {
  it("has its prerequisites", () => {
    assert.isUndefined(gate.problem, gate.problem)
  })

  it.live("hold timer: the speaker drops a frozen FRR after the hold time and comes back; FRR drops a frozen speaker", () =>
    Effect.scoped(Effect.gen(function*() {
      const { l, frr } = yield* setup({ n1: 11 }, { bgpd: frrRouter() }, { holdTime: "3s" })
      const speaker = yield* l.startSpeaker("n1", speakerArgs)
      const ns = l.hosts.n1.ns
      const up = (want: number) =>
        eventually(`metallb_bgp_session_up = ${want}`, sessionUp(l.lab, ns, PEER).pipe(
          Effect.flatMap((v) => (v === want ? Effect.succeed(v) : notYet(`metallb_bgp_session_up is ${v}`)))
        ), "20 seconds")
      yield* pathsFrom(frr, PREFIX, ["192.0.2.11"])
      yield* up(1)

      // FRR's bgpd frozen: its keepalives stop, our 3 s hold timer expires, the metric and the log say so.
      const before = mark(speaker)
      const frozenAt = Date.now()
      yield* frozen(frr.bgpd.pid, Effect.gen(function*() {
        yield* logAfter(speaker, before, /BGP session down: sent Hold Timer Expired/, "the speaker's hold timer to expire")
        // FRR's last keepalive came at most 1 s (its keepalive interval with a 3 s hold) before the freeze.
        assert.isAtLeast(Date.now() - frozenAt, 1900, "not before the hold time")
        yield* up(0)
      }))
      // FRR runs again: the speaker dials it again on its own and the route is back.
      yield* logAfter(speaker, before, /Hold Timer Expired[\s\S]*BGP session established/, "the session to come back", "30 seconds")
      yield* up(1)
      yield* pathsFrom(frr, PREFIX, ["192.0.2.11"])

      // The speaker frozen: FRR's hold timer expires, it drops the session and our route.
      const frrBefore = mark(frr.bgpd)
      yield* frozen(speaker.pid, Effect.gen(function*() {
        yield* pathsFrom(frr, PREFIX, [], "20 seconds")
        yield* logAfter(frr.bgpd, frrBefore, /192\.0\.2\.11.*Hold Timer Expired|Hold Timer Expired.*192\.0\.2\.11/, "FRR to log the expiry")
      }))
      // Thawed, the speaker finds its session gone and sets it up again.
      yield* pathsFrom(frr, PREFIX, ["192.0.2.11"])
      yield* up(1)
    })), 120_000)

  it.live("BFD (BFDProfile on the BGPPeer): FRR drops a frozen speaker's and a cut-off speaker's routes long before the hold time", () =>
    Effect.scoped(Effect.gen(function*() {
      const holdMs = 9000
      const { l, frr } = yield* setup(
        nodes,
        { bgpd: frrRouter({ bfd: true }), bfdd: bfddConf },
        { holdTime: `${holdMs / 1000}s`, bfdProfile: "fast" },
        bfdProfile("fast", { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3 })
      )
      const speakers = new Map<string, Netns.LabProcess>()
      for (const n of nodeNames) speakers.set(n, yield* l.startSpeaker(n, [...speakerArgs, "--bfd-port", "3784"]))
      const all = nodeNames.map((n) => `192.0.2.${nodes[n]}`)
      yield* pathsFrom(frr, PREFIX, all)
      const bfdUp = eventually("BFD up with every node in FRR", frr.json<ReadonlyArray<{ readonly peer: string; readonly status: string }>>("show bfd peers", "bfdd").pipe(
        Effect.flatMap((ps) => {
          const up = ps.filter((p) => p.status === "up").map((p) => p.peer).toSorted()
          return up.join() === all.join() ? Effect.succeed(up) : notYet(`BFD peers ${JSON.stringify(ps.map((p) => [p.peer, p.status]))}`)
        })
      ), "30 seconds")
      yield* bfdUp
      // Each speaker's own view, in MetalLB's BFD metrics (peer = FRR's address).
      const bfdMetric = (node: string, name: string, want: (v: number | undefined) => boolean) =>
        eventually(`${node}: ${name}`, metricValue(l.lab, l.hosts[node as keyof typeof l.hosts].ns, name, "192.0.2.1").pipe(
          Effect.flatMap((v) => (want(v) ? Effect.succeed(v) : notYet(`${name} is ${v}`)))
        ), "10 seconds")
      for (const n of nodeNames) {
        yield* bfdMetric(n, "metallb_bfd_session_up", (v) => v === 1)
        yield* bfdMetric(n, "metallb_bfd_control_packet_input", (v) => (v ?? 0) > 0)
        yield* bfdMetric(n, "metallb_bfd_control_packet_output", (v) => (v ?? 0) > 0)
      }

      // How long FRR took, by its own log (microsecond stamps), from `t0` to its Cease / BFD Down to the node: BFD
      // was the cause, not the hold timer.
      const downAfter = (hop: string, t0: number, from: number) =>
        Effect.gen(function*() {
          const line = yield* logAfter(frr.bgpd, from, new RegExp(`.*NOTIFICATION: sent to neighbor ${hop.replaceAll(".", "\\.")} .*BFD Down.*`), `FRR's Cease / BFD Down to ${hop}`)
          const at = frrLogTime(line, /BFD Down/, t0 - 1000)
          assert.isDefined(at, line)
          return (at ?? Number.POSITIVE_INFINITY) - t0
        })

      // n1 frozen: it stops sending BFD; FRR notices within 3 × 100 ms and withdraws n1's path.
      let from = mark(frr.bgpd)
      const n1 = speakers.get("n1")
      assert.isDefined(n1)
      if (n1 === undefined) return
      const frozenAt = Date.now()
      const frozenFor = yield* frozen(n1.pid, Effect.gen(function*() {
        const took = yield* downAfter("192.0.2.11", frozenAt, from)
        yield* pathsFrom(frr, PREFIX, ["192.0.2.12", "192.0.2.13"])
        return took
      }))
      assert.isBelow(frozenFor, holdMs / 3, `BFD took ${frozenFor} ms; the hold time is ${holdMs} ms`)
      // Thawed, n1 finds its sessions gone and sets them up again.
      yield* pathsFrom(frr, PREFIX, all)
      yield* bfdUp

      // n2's link down: no FIN, no NOTIFICATION can reach FRR; BFD still takes its path out.
      from = mark(frr.bgpd)
      const cutAt = Date.now()
      yield* l.lab.exec(l.hosts.n2.ns, ["ip", "link", "set", "eth0", "down"])
      const cutFor = yield* downAfter("192.0.2.12", cutAt, from)
      yield* pathsFrom(frr, PREFIX, ["192.0.2.11", "192.0.2.13"])
      assert.isBelow(cutFor, holdMs / 3, `BFD took ${cutFor} ms; the hold time is ${holdMs} ms`)
      // n2 heard nothing from FRR either: its session went down too.
      yield* bfdMetric("n2", "metallb_bfd_session_down_events", (v) => (v ?? 0) >= 1)
      yield* l.lab.exec(l.hosts.n2.ns, ["ip", "link", "set", "eth0", "up"])
      yield* pathsFrom(frr, PREFIX, all, "40 seconds")
      yield* bfdMetric("n2", "metallb_bfd_session_up", (v) => v === 1)
    })), 180_000)

  it.live("graceful restart: FRR keeps the route stale in its RIB and FIB while the speaker restarts (SIGTERM and crash), fresh after End-of-RIB", () =>
    Effect.scoped(Effect.gen(function*() {
      const { l, frr } = yield* setup({ n1: 11 }, { bgpd: frrRouter({ gracefulRestart: true }) }, { holdTime: "9s", enableGracefulRestart: true })
      let speaker = yield* l.startSpeaker("n1")
      yield* pathsFrom(frr, PREFIX, ["192.0.2.11"])
      const neighbor = frr.json<Record<string, {
        readonly gracefulRestartInfo?: {
          readonly remoteGrMode?: string
          readonly ipv4Unicast?: { readonly endOfRibStatus?: { readonly endOfRibRecv?: boolean } }
        }
      }>>("show bgp neighbors 192.0.2.11").pipe(Effect.map((r) => r["192.0.2.11"]?.gracefulRestartInfo))
      assert.strictEqual((yield* eventually("FRR sees our GR capability", neighbor.pipe(Effect.map((g) => g?.remoteGrMode)))), "Restart")

      // From here to the end, FRR's RIB and the router's FIB must hold the route in every sample.
      const gaps = yield* Ref.make<ReadonlyArray<string>>([])
      const sample = Effect.all([Routers.frrPaths(frr, PREFIX), kernelNexthops(l.lab, l.others.rtr.ns, VIP)]).pipe(
        Effect.flatMap(([rib, fib]) =>
          rib.length === 1 && fib.includes("192.0.2.11")
            ? Effect.void
            : Ref.update(gaps, (g) => [...g, `${new Date().toISOString()} rib ${rib.length} fib [${fib.join(", ")}]`])
        ),
        Effect.catch((e) => Ref.update(gaps, (g) => [...g, `sample failed: ${e.message}`]))
      )
      const sampler = yield* sample.pipe(Effect.repeat(Schedule.spaced("100 millis")), Effect.forkChild)

      const restart = (how: "SIGTERM" | "SIGKILL") =>
        Effect.gen(function*() {
          yield* speaker.stop(how)
          const stale = yield* eventually(`the route stale after ${how}`, Routers.frrPaths(frr, PREFIX).pipe(
            Effect.flatMap((ps) => (ps[0]?.stale === true ? Effect.succeed(ps[0]) : notYet(`paths ${JSON.stringify(ps)}`)))
          ))
          assert.strictEqual(stale.nexthop, "192.0.2.11")
          speaker = yield* l.startSpeaker("n1")
          yield* eventually(`the route fresh after the restart (${how}) and our End-of-RIB`, Effect.all([Routers.frrPaths(frr, PREFIX), neighbor]).pipe(
            Effect.flatMap(([ps, gr]) =>
              ps.length === 1 && ps[0]?.stale === false && gr?.ipv4Unicast?.endOfRibStatus?.endOfRibRecv === true
                ? Effect.succeed(true)
                : notYet(`paths ${JSON.stringify(ps)}, GR ${JSON.stringify(gr)}`)
            )
          ), "30 seconds")
        })
      // A rolling update (SIGTERM), then a crash.
      yield* restart("SIGTERM")
      yield* restart("SIGKILL")
      yield* Fiber.interrupt(sampler)
      assert.deepStrictEqual(yield* Ref.get(gaps), [])
    })), 120_000)
})
