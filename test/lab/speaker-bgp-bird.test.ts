// The real `metallb speaker` program in three node namespaces against BIRD 2 as the router (lab-harness.md §3),
// configured only through metallb.io objects, Secrets, Services and EndpointSlices in the in-memory API server
// (speakerLab.ts, speakerBgpScenarios.ts). Checked in BIRD's RIB (`birdc show route all`) and the router namespace's
// kernel FIB: eBGP over IPv4 and IPv6 with ECMP, communities, a Community alias and aggregation, withdraw on Service
// delete; iBGP over IPv4 and IPv6 with LOCAL_PREF and MD5 (a wrong key never gets a session); BFD (a BFDProfile on
// the BGPPeer, BIRD's bfd protocol) drops a frozen, cut-off or killed speaker's routes long before the hold timer.
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import type * as Netns from "../../src/testing/Netns.ts"
import * as Routers from "../../src/testing/Routers.ts"
import { eventually, notYet } from "./bgpLab.ts"
import * as Objects from "./bgpObjects.ts"
import { labGate } from "./prerequisites.ts"
import * as Rib from "./routerRib.ts"
import * as SpeakerLab from "./speakerLab.ts"
import { ebgp, ibgpMd5, MD5_KEY, names, type NodeName, runEbgp, runIbgpMd5, type RouterView, setup, v4 } from "./speakerBgpScenarios.ts"

const gate = labGate(["ip", "bird", "birdc", "nstat"])
const HOLD = Duration.seconds(9)
const KEEPALIVE = Duration.seconds(3)

interface BirdOptions {
  readonly mode: "external" | "internal"
  readonly password?: string
  readonly bfd?: boolean
  readonly ipv6?: boolean
}

/** The router: AS 64512, passive, dynamic neighbours on the LAN; BGP routes exported to the kernel as ECMP. */
const birdConf = (o: BirdOptions) => {
  const template = (name: string, local: string, family: "ipv4" | "ipv6") => `template bgp ${name} {
  local ${local} as 64512;
  passive on;
  hold time ${Duration.toSeconds(HOLD)}; keepalive time ${Duration.toSeconds(KEEPALIVE)};
  ${o.password === undefined ? "" : `password "${o.password}";`}
  ${o.bfd === true ? "bfd on;" : ""}
  ${o.mode === "internal" ? "direct;" : ""}
  ${family} { import all; export none; };
}`
  return `router id 192.0.2.1;
${o.bfd === true ? "debug protocols { states, events };" : ""}
protocol device { scan time 10; }
protocol kernel k4 { ipv4 { import none; export where source = RTS_BGP; }; merge paths on; }
protocol kernel k6 { ipv6 { import none; export where source = RTS_BGP; }; merge paths on; }
${o.bfd === true ? `protocol bfd { interface "eth0" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }; }` : ""}
${template("nodes", "192.0.2.1", "ipv4")}
protocol bgp node from nodes { neighbor range 192.0.2.0/24 ${o.mode}; }
${o.ipv6 === false ? "" : `${template("nodes6", "2001:db8:0:1::1", "ipv6")}
protocol bgp node6 from nodes6 { neighbor range 2001:db8:0:1::/64 ${o.mode}; }`}`
}

const startBird = (o: BirdOptions) => (l: { readonly lab: Netns.Lab; readonly others: Record<"rtr", Netns.Host> }) =>
  Routers.startBird(l.lab, l.others.rtr.ns, birdConf(o))

const view = (bird: Routers.Bird): RouterView => ({
  name: "BIRD",
  paths: (prefix) => Rib.birdPaths(bird, prefix),
  sessions: Rib.birdSessions(bird)
})

const listed = (m: ReadonlyMap<string, string>) => [...m].map(([k, v]) => `${k} ${v}`).join(", ") || "none"

describe.skipIf(gate.skip)("metallb speaker against BIRD 2", () => {
  it("has its prerequisites", () => {
    assert.isUndefined(gate.problem, gate.problem)
  })

  it.live("eBGP over IPv4 and IPv6: ECMP from three speakers, communities, aggregation, withdraw on Service delete", () =>
    Effect.scoped(Effect.gen(function*() {
      const r = yield* setup(startBird({ mode: "external" }), ebgp.objects())
      // BIRD merges the three equal paths into one ECMP route in the router's kernel.
      const kernelEcmp = Effect.asVoid(eventually("the ECMP route in the router's kernel", Rib.kernelNexthops(r.l.others.rtr.ns, ebgp.web.prefix).pipe(
        Effect.flatMap((hops) =>
          hops.toSorted().join() === names.map(v4).join() ? Effect.succeed(hops) : notYet(`kernel next hops: ${hops.join(",") || "none"}`)
        )
      )))
      yield* runEbgp(r, view(r.router), kernelEcmp)
    })), 150_000)

  it.live("iBGP over IPv4 and IPv6 with MD5: LOCAL_PREF, empty AS_PATH; a wrong key never gets a session", () =>
    Effect.scoped(Effect.gen(function*() {
      const r = yield* setup(startBird({ mode: "internal", password: MD5_KEY }), ibgpMd5.objects())
      yield* runIbgpMd5(r, view(r.router))
    })), 150_000)

  it.live("BFD: a frozen, cut-off or killed speaker loses its routes within the detect time, not the hold time", () =>
    Effect.scoped(Effect.gen(function*() {
      const prefix = "203.0.113.10/32"
      // 300 ms × 3: detection in 0.9 s either way, ten times below the hold time, with room for a busy machine.
      const r = yield* setup(startBird({ mode: "external", bfd: true, ipv6: false }), [
        SpeakerLab.pool("wan", ["203.0.113.0/28"]),
        Objects.bgpAdvertisement("wan", { pools: ["wan"] }),
        Objects.bfdProfile("fast", { receiveInterval: 300, transmitInterval: 300, detectMultiplier: 3 }),
        Objects.bgpPeer("router", { myASN: 64500, peerASN: 64512, peerAddress: "192.0.2.1", holdTime: "9s", bfdProfile: "fast" }),
        ...Objects.serviceWithEndpoint("web", "203.0.113.10")
      ], ["--bfd-port", "3784"])
      const bird = r.router
      yield* Rib.waitForPaths("the route from three speakers", Rib.birdPaths(bird, prefix), names.map(v4), r.context)
      yield* eventually("three BFD sessions Up in BIRD", Rib.birdBfdSessions(bird).pipe(
        Effect.flatMap((bfd) => (names.every((n) => bfd.get(v4(n)) === "Up") ? Effect.succeed(bfd) : notYet(`BFD sessions: ${listed(bfd)}`)))
      ), "30 seconds")
      // BIRD's dynamic protocol per speaker, to find its reason in the log.
      const protocolOf = new Map((yield* Rib.birdProtocols(bird)).flatMap((p) => (p.neighbor === undefined ? [] : [[p.neighbor, p.name]])))
      const birdLog = () => readFileSync(join(bird.dir, "bird.log"), "utf8")

      // Each failure in turn; the other speakers' paths stay. The hold timer cannot fire before hold − keepalive
      // after the failure (the last KEEPALIVE is at most one interval old), so a drop before that is BFD's doing;
      // BIRD's log must say so too, except for the killed speaker, whose kernel closes its TCP connection at once.
      const notBefore = Duration.toMillis(HOLD) - Duration.toMillis(KEEPALIVE)
      const failures: ReadonlyArray<readonly [NodeName, string, Effect.Effect<void, Netns.LabError>, boolean]> = [
        ["n1", "frozen (SIGSTOP)", Effect.sync(() => process.kill(r.speakers.n1.pid, "SIGSTOP")), true],
        ["n2", "link down", r.l.lab.exec(r.l.hosts.n2.ns, ["ip", "link", "set", "eth0", "down"]).pipe(Effect.asVoid), true],
        ["n3", "killed (SIGKILL)", Effect.sync(() => process.kill(r.speakers.n3.pid, "SIGKILL")), false]
      ]
      let remaining = [...names]
      for (const [node, how, fail, byBfd] of failures) {
        remaining = remaining.filter((n) => n !== node)
        const started = Date.now()
        yield* fail
        yield* Rib.waitForNoPathVia(`the route of ${node} gone (${how})`, Rib.birdPaths(bird, prefix), v4(node))
        const elapsed = Date.now() - started
        yield* Effect.logInfo(`BIRD dropped the route of ${node} (${how}) after ${elapsed} ms`)
        assert.isBelow(elapsed, notBefore, `${node} ${how}: dropped after ${elapsed} ms; the hold timer could have done it after ${notBefore} ms`)
        if (byBfd) assert.include(birdLog(), `${protocolOf.get(v4(node)) ?? "?"}: BFD session down`, `${node} ${how}: BIRD's reason`)
        yield* Rib.waitForPaths(`the routes of the others after ${node} (${how})`, Rib.birdPaths(bird, prefix), remaining.map(v4), r.context, "30 seconds")
      }
      process.kill(r.speakers.n1.pid, "SIGKILL")
    })), 150_000)
})
