// BgpSession + BgpSpeaker against GoBGP 3 as the router (lab-harness.md §3): eBGP with dynamic neighbours over IPv4
// and IPv6, attributes, withdraw; iBGP with MD5 on explicit passive neighbours (GoBGP cannot do MD5 with dynamic ones).
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Netns from "../../src/testing/Netns.ts"
import * as Routers from "../../src/testing/Routers.ts"
import { ebgpPeer, eventually, gobgpDynamicGroup, gobgpGlobal, gobgpNeighbor, startNode } from "./bgpLab.ts"
import { labGate } from "./prerequisites.ts"

const gate = labGate(["ip", "gobgpd", "gobgp"])
const vip = "203.0.113.10/32"
const vip6 = "2001:db8:ffff::10/128"

const ebgpConf = gobgpGlobal + gobgpDynamicGroup("nodes", 64500, "ipv4-unicast", "192.0.2.0/24") +
  gobgpDynamicGroup("nodes6", 64500, "ipv6-unicast", "2001:db8:0:1::/64")
const ibgpMd5Conf = (neighbors: ReadonlyArray<string>) => gobgpGlobal + neighbors.map((n) => gobgpNeighbor(n, 64512, "s3cret")).join("")

type Attrs = ReadonlyArray<Readonly<Record<string, unknown>>>
const attr = (attrs: Attrs, type: number) => attrs.find((a) => a.type === type)
const paths = (g: Routers.Gobgp, prefix: string, n: number) =>
  Routers.gobgpPaths(g, prefix).pipe(Effect.map((ps) => (ps.length === n ? ps : undefined)))

describe.skipIf(gate.skip)("BGP speaker against GoBGP 3", () => {
  it("has its prerequisites", () => {
    assert.isUndefined(gate.problem, gate.problem)
  })

  it.live("eBGP over IPv4 and IPv6 with dynamic neighbours: attributes, withdraw", () =>
    Effect.scoped(Effect.gen(function*() {
      const lab = yield* Netns.make()
      const hosts = yield* lab.lan({ rtr: 1, n1: 11 })
      const gobgp = yield* Routers.startGobgp(lab, hosts.rtr.ns, ebgpConf)
      const spec = (withRoutes: boolean) => ({
        nodeName: "n1",
        peers: [
          { peer: ebgpPeer(), routes: withRoutes ? [{ prefix: vip, communities: ["64500:100"], largeCommunities: ["64500:1:2"] }] : [] },
          { peer: ebgpPeer({ address: "2001:db8:0:1::1" }), routes: withRoutes ? [{ prefix: vip6 }] : [] }
        ]
      })
      const node = yield* startNode(lab, hosts.n1.ns, spec(true))
      const [v4] = yield* eventually("IPv4 path in GoBGP", paths(gobgp, vip, 1), "20 seconds")
      const attrs = v4?.attrs ?? []
      assert.strictEqual(attr(attrs, 1)?.value, 0) // ORIGIN IGP
      assert.deepStrictEqual(attr(attrs, 2)?.as_paths, [{ segment_type: 2, num: 1, asns: [64500] }])
      assert.strictEqual(attr(attrs, 3)?.nexthop, "192.0.2.11")
      assert.deepStrictEqual(attr(attrs, 8)?.communities, [64500 * 65536 + 100])
      assert.isDefined(attr(attrs, 32))
      assert.isUndefined(attr(attrs, 5)) // no LOCAL_PREF on eBGP
      const [v6] = yield* eventually("IPv6 path in GoBGP", paths(gobgp, vip6, 1), "20 seconds")
      assert.strictEqual(attr(v6?.attrs ?? [], 14)?.nexthop, "2001:db8:0:1::11")
      yield* node.update(spec(false))
      yield* eventually("IPv4 withdrawn", paths(gobgp, vip, 0))
      yield* eventually("IPv6 withdrawn", paths(gobgp, vip6, 0))
    })), 60_000)

  it.live("iBGP with MD5 on explicit neighbours: LOCAL_PREF, empty AS_PATH, two paths", () =>
    Effect.scoped(Effect.gen(function*() {
      const lab = yield* Netns.make()
      const hosts = yield* lab.lan({ rtr: 1, n1: 11, n2: 12 })
      const gobgp = yield* Routers.startGobgp(lab, hosts.rtr.ns, ibgpMd5Conf(["192.0.2.11", "192.0.2.12"]))
      const peer = ebgpPeer({ localAsn: 64512, peerAsn: "internal", password: "s3cret" })
      const routes = [{ prefix: vip, localPref: 150 }]
      yield* startNode(lab, hosts.n1.ns, { nodeName: "n1", peers: [{ peer, routes }] })
      yield* startNode(lab, hosts.n2.ns, { nodeName: "n2", peers: [{ peer, routes }] })
      const both = yield* eventually("two iBGP paths in GoBGP", paths(gobgp, vip, 2), "20 seconds")
      const hops = both.map((p) => attr(p.attrs, 3)?.nexthop).toSorted()
      assert.deepStrictEqual(hops, ["192.0.2.11", "192.0.2.12"])
      for (const p of both) {
        assert.strictEqual(attr(p.attrs, 5)?.value, 150)
        assert.deepStrictEqual(attr(p.attrs, 2)?.as_paths ?? [], [])
      }
    })), 60_000)
})
