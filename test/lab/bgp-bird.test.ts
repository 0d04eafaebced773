// BgpSession + BgpSpeaker against BIRD 2 as the router (lab-harness.md §3): eBGP over IPv4 and IPv6 with dynamic
// peers, the route's attributes, withdraw, and iBGP with LOCAL_PREF.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Netns from "../../src/testing/Netns.ts"
import * as Routers from "../../src/testing/Routers.ts"
import { ebgpPeer, eventually, startNode } from "./bgpLab.ts"
import { labGate } from "./prerequisites.ts"

const gate = labGate(["ip", "bird", "birdc"])
const vip = "203.0.113.10/32"
const vip6 = "2001:db8:ffff::10/128"

const birdConf = (mode: "external" | "internal") => `router id 192.0.2.1;
protocol device { scan time 10; }
protocol kernel k4 { ipv4 { import none; export where source = RTS_BGP; }; merge paths on; }
protocol kernel k6 { ipv6 { import none; export where source = RTS_BGP; }; merge paths on; }
template bgp nodes {
  local 192.0.2.1 as 64512;
  passive on;
  hold time 9; keepalive time 3;
  ${mode === "internal" ? "direct;" : ""}
  ipv4 { import all; export none; };
}
protocol bgp node from nodes { neighbor range 192.0.2.0/24 ${mode}; }
template bgp nodes6 {
  local 2001:db8:0:1::1 as 64512;
  passive on;
  hold time 9; keepalive time 3;
  ipv6 { import all; export none; };
}
protocol bgp node6 from nodes6 { neighbor range 2001:db8:0:1::/64 external; }`

const routes = (bird: Routers.Bird, prefix: string) => Routers.birdRoutes(bird, prefix)
const present = (bird: Routers.Bird, prefix: string, n = 1) =>
  routes(bird, prefix).pipe(Effect.map((rs) => (rs.length === n ? rs : undefined)))

describe.skipIf(gate.skip)("BGP speaker against BIRD 2", () => {
  it("has its prerequisites", () => {
    assert.isUndefined(gate.problem, gate.problem)
  })

  it.live("eBGP over IPv4 and IPv6: attributes, next hops, withdraw", () =>
    Effect.scoped(Effect.gen(function*() {
      const lab = yield* Netns.make()
      const hosts = yield* lab.lan({ rtr: 1, n1: 11 })
      const bird = yield* Routers.startBird(lab, hosts.rtr.ns, birdConf("external"))
      const spec = (withRoutes: boolean) => ({
        nodeName: "n1",
        peers: [
          {
            peer: ebgpPeer(),
            routes: withRoutes ? [{ prefix: vip, communities: ["64500:100"], largeCommunities: ["64500:1:2"] }] : []
          },
          // dynamicASN "external" on this one
          { peer: ebgpPeer({ address: "2001:db8:0:1::1", peerAsn: "external" }), routes: withRoutes ? [{ prefix: vip6, communities: ["64500:6"] }] : [] }
        ]
      })
      const node = yield* startNode(lab, hosts.n1.ns, spec(true))
      const [v4] = yield* eventually("IPv4 route in BIRD", present(bird, vip))
      assert.strictEqual(v4?.nexthop, "192.0.2.11")
      assert.strictEqual(v4?.attributes["BGP.origin"], "IGP")
      assert.strictEqual(v4?.attributes["BGP.as_path"], "64500")
      assert.strictEqual(v4?.attributes["BGP.community"], "(64500,100)")
      assert.strictEqual(v4?.attributes["BGP.large_community"], "(64500, 1, 2)")
      const [v6] = yield* eventually("IPv6 route in BIRD", present(bird, vip6))
      assert.strictEqual(v6?.nexthop, "2001:db8:0:1::11")
      assert.strictEqual(v6?.attributes["BGP.community"], "(64500,6)")
      yield* node.update(spec(false))
      yield* eventually("IPv4 withdrawn", routes(bird, vip).pipe(Effect.map((a) => (a.length === 0 ? true : undefined))))
      yield* eventually("IPv6 withdrawn", routes(bird, vip6).pipe(Effect.map((a) => (a.length === 0 ? true : undefined))))
      const protocols = yield* bird.birdc("show protocols")
      assert.match(protocols, /dynbgp\d+\s+BGP\s+---\s+up\s+\S+\s+Established/)
    })), 60_000)

  it.live("iBGP: LOCAL_PREF and an empty AS_PATH", () =>
    Effect.scoped(Effect.gen(function*() {
      const lab = yield* Netns.make()
      const hosts = yield* lab.lan({ rtr: 1, n1: 11 })
      const bird = yield* Routers.startBird(lab, hosts.rtr.ns, birdConf("internal"))
      yield* startNode(lab, hosts.n1.ns, {
        nodeName: "n1",
        peers: [{ peer: ebgpPeer({ localAsn: 64512, peerAsn: 64512 }), routes: [{ prefix: vip, localPref: 200 }] }]
      })
      const [route] = yield* eventually("iBGP route in BIRD", present(bird, vip))
      assert.strictEqual(route?.nexthop, "192.0.2.11")
      assert.strictEqual(route?.attributes["BGP.local_pref"], "200")
      assert.strictEqual(route?.attributes["BGP.as_path"], "")
      assert.strictEqual(route?.attributes["BGP.origin"], "IGP")
    })), 60_000)
})
