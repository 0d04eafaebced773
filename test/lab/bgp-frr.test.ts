// BgpSession + BgpSpeaker against FRR (lab-harness.md §2): eBGP with dynamic peers and MD5, attributes, ECMP from
// three node namespaces into FRR's RIB and the kernel FIB, withdraw, iBGP with local-pref, IPv6 over MP-BGP.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Netns from "../../src/testing/Netns.ts"
import * as Routers from "../../src/testing/Routers.ts"
import { ebgpPeer, eventually, frrEbgp, frrIbgp, kernelNexthops, startNode, throughout } from "./bgpLab.ts"
import { labGate } from "./prerequisites.ts"

const gate = labGate(["ip", "vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra"])
const vip = "203.0.113.10/32"

describe.skipIf(gate.skip)("BGP speaker against FRR", () => {
  it("has its prerequisites", () => {
    assert.isUndefined(gate.problem, gate.problem)
  })

  it.live("eBGP with MD5: attributes, ECMP over three nodes into the FIB, withdraw", () =>
    Effect.scoped(Effect.gen(function*() {
      const lab = yield* Netns.make()
      const hosts = yield* lab.lan({ rtr: 1, n1: 11, n2: 12, n3: 13 })
      const frr = yield* Routers.startFrr(lab, hosts.rtr.ns, { bgpd: frrEbgp({ password: "s3cret" }) })
      const route = { prefix: vip, communities: ["64500:100", "64500:7"], largeCommunities: ["64500:1:2"] }
      const spec = (name: string, routes: ReadonlyArray<typeof route>) => ({
        nodeName: name,
        peers: [{ peer: ebgpPeer({ password: "s3cret" }), routes }]
      })
      const n1 = yield* startNode(lab, hosts.n1.ns, spec("n1", [route]))
      yield* n1.waitFor(/"state":"Established"/)
      const first = yield* eventually("n1's route in FRR", Routers.frrPaths(frr, vip).pipe(Effect.map((ps) => ps[0])))
      assert.strictEqual(first.nexthop, "192.0.2.11")
      assert.strictEqual(first.origin, "IGP")
      assert.strictEqual(first.asPath, "64500")
      assert.deepStrictEqual(first.communities, ["64500:7", "64500:100"])
      assert.deepStrictEqual(first.largeCommunities, ["64500:1:2"])
      assert.isUndefined(first.localPref)

      yield* startNode(lab, hosts.n2.ns, spec("n2", [route]))
      yield* startNode(lab, hosts.n3.ns, spec("n3", [route]))
      const paths = yield* eventually("three multipaths", Routers.frrPaths(frr, vip).pipe(
        Effect.map((ps) => (ps.length === 3 && ps.every((p) => p.multipath) ? ps : undefined))
      ))
      assert.deepStrictEqual(paths.map((p) => p.nexthop).toSorted(), ["192.0.2.11", "192.0.2.12", "192.0.2.13"])
      assert.isTrue(paths.every((p) => p.multipath))
      const fib = yield* eventually("zebra FIB with 3 next hops", frr.json<Record<string, ReadonlyArray<{ nexthops?: ReadonlyArray<{ fib?: boolean }> }>>>(`show ip route ${vip}`, "zebra").pipe(
        Effect.map((r) => {
          const n = r[vip]?.[0]?.nexthops?.filter((h) => h.fib === true).length ?? 0
          return n === 3 ? n : undefined
        })
      ))
      assert.strictEqual(fib, 3)
      const kernel = yield* eventually("kernel route with 3 next hops", kernelNexthops(lab, hosts.rtr.ns, "203.0.113.10").pipe(
        Effect.map((hops) => (hops.length === 3 ? hops : undefined))
      ))
      assert.deepStrictEqual(kernel.toSorted(), ["192.0.2.11", "192.0.2.12", "192.0.2.13"])

      yield* n1.update(spec("n1", []))
      const after = yield* eventually("n1's withdraw", Routers.frrPaths(frr, vip).pipe(Effect.map((ps) => (ps.length === 2 ? ps : undefined))))
      assert.deepStrictEqual(after.map((p) => p.nexthop).toSorted(), ["192.0.2.12", "192.0.2.13"])
      assert.strictEqual(yield* Routers.frrNeighborState(frr, "192.0.2.11"), "Established")
    })), 60_000)

  it.live("MD5: a wrong key never gets a session", () =>
    Effect.scoped(Effect.gen(function*() {
      const lab = yield* Netns.make()
      const hosts = yield* lab.lan({ rtr: 1, n1: 11, n2: 12 })
      const frr = yield* Routers.startFrr(lab, hosts.rtr.ns, { bgpd: frrEbgp({ password: "s3cret" }) })
      const good = yield* startNode(lab, hosts.n2.ns, { nodeName: "n2", peers: [{ peer: ebgpPeer({ password: "s3cret" }), routes: [{ prefix: vip }] }] })
      yield* startNode(lab, hosts.n1.ns, { nodeName: "n1", peers: [{ peer: ebgpPeer({ password: "wrong" }), routes: [{ prefix: vip }] }] })
      yield* good.waitFor(/"state":"Established"/)
      yield* throughout("n1 stays down", Routers.frrNeighborState(frr, "192.0.2.11").pipe(Effect.map((s) => s !== "Established")), "4 seconds")
      const paths = yield* Routers.frrPaths(frr, vip)
      assert.deepStrictEqual(paths.map((p) => p.nexthop), ["192.0.2.12"])
      const counters = yield* lab.exec(hosts.rtr.ns, ["nstat", "-az", "TcpExtTCPMD5Failure"])
      assert.match(counters.stdout, /TcpExtTCPMD5Failure\s+[1-9]/)
    })), 60_000)

  it.live("iBGP with explicit passive neighbours: LOCAL_PREF, empty AS_PATH, ECMP", () =>
    Effect.scoped(Effect.gen(function*() {
      const lab = yield* Netns.make()
      const hosts = yield* lab.lan({ rtr: 1, n1: 11, n2: 12 })
      const frr = yield* Routers.startFrr(lab, hosts.rtr.ns, { bgpd: frrIbgp(["192.0.2.11", "192.0.2.12"]) })
      const peer = ebgpPeer({ localAsn: 64512, peerAsn: "internal" })
      const routes = [{ prefix: vip, communities: ["64512:1"], localPref: 200 }]
      yield* startNode(lab, hosts.n1.ns, { nodeName: "n1", peers: [{ peer, routes }] })
      yield* startNode(lab, hosts.n2.ns, { nodeName: "n2", peers: [{ peer, routes }] })
      const paths = yield* eventually("two iBGP multipaths", Routers.frrPaths(frr, vip).pipe(
        Effect.map((ps) => (ps.length === 2 && ps.every((p) => p.multipath) ? ps : undefined))
      ))
      for (const p of paths) {
        assert.strictEqual(p.localPref, 200)
        assert.strictEqual(p.asPath, "Local") // FRR's text for an empty AS_PATH
        assert.strictEqual(p.origin, "IGP")
        assert.deepStrictEqual(p.communities, ["64512:1"])
      }
    })), 60_000)

  it.live("IPv6 session carries a /128 over MP-BGP with the node's IPv6 next hop", () =>
    Effect.scoped(Effect.gen(function*() {
      const lab = yield* Netns.make()
      const hosts = yield* lab.lan({ rtr: 1, n1: 11 })
      const frr = yield* Routers.startFrr(lab, hosts.rtr.ns, { bgpd: frrEbgp() })
      const node = yield* startNode(lab, hosts.n1.ns, {
        nodeName: "n1",
        peers: [{ peer: ebgpPeer({ address: "2001:db8:0:1::1" }), routes: [{ prefix: "2001:db8:ffff::10/128", communities: ["64500:100"] }] }]
      })
      yield* node.waitFor(/"state":"Established"/)
      const path = yield* eventually("the /128 in FRR", Routers.frrPaths(frr, "2001:db8:ffff::10/128").pipe(Effect.map((ps) => ps[0])))
      assert.strictEqual(path.nexthop, "2001:db8:0:1::11")
      assert.strictEqual(path.origin, "IGP")
      assert.deepStrictEqual(path.communities, ["64500:100"])
      const kernel = yield* eventually("the /128 in the kernel", kernelNexthops(lab, hosts.rtr.ns, "2001:db8:ffff::10").pipe(
        Effect.map((hops) => (hops.length === 1 ? hops : undefined))
      ))
      assert.deepStrictEqual(kernel, ["2001:db8:0:1::11"])
    })), 60_000)

  it.live("FRR dialling us: accepted when we cannot dial, and a collision settles on one session", () =>
    Effect.scoped(Effect.gen(function*() {
      const lab = yield* Netns.make()
      const hosts = yield* lab.lan({ rtr: 1, n1: 11, n2: 12 })
      const frr = yield* Routers.startFrr(lab, hosts.rtr.ns, {
        bgpd: `router bgp 64512
 bgp router-id 192.0.2.1
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor 192.0.2.11 remote-as 64500
 neighbor 192.0.2.11 timers 3 9
 neighbor 192.0.2.11 timers connect 1
 neighbor 192.0.2.12 remote-as 64500
 neighbor 192.0.2.12 timers 3 9
 neighbor 192.0.2.12 timers connect 1
 address-family ipv4 unicast
  neighbor 192.0.2.11 activate
  neighbor 192.0.2.12 activate
  maximum-paths 8
 exit-address-family
!`
      })
      const routes = [{ prefix: vip }]
      // n1 dials FRR and FRR dials n1: whichever collision happens, one session survives.
      const n1 = yield* startNode(lab, hosts.n1.ns, { nodeName: "n1", listen: { addresses: ["192.0.2.11"] }, peers: [{ peer: ebgpPeer(), routes }] })
      // n2 dials a port nobody listens on: only FRR's connection to it can work.
      const n2 = yield* startNode(lab, hosts.n2.ns, { nodeName: "n2", listen: { addresses: ["192.0.2.12"] }, peers: [{ peer: ebgpPeer({ port: 1790 }), routes }] })
      yield* n1.waitFor(/"state":"Established"/, "20 seconds")
      yield* n2.waitFor(/"state":"Established"/, "20 seconds")
      yield* eventually("two paths", Routers.frrPaths(frr, vip).pipe(Effect.map((ps) => (ps.length === 2 ? ps : undefined))))
      yield* throughout("both stay Established", Effect.all([
        Routers.frrNeighborState(frr, "192.0.2.11"),
        Routers.frrNeighborState(frr, "192.0.2.12")
      ]).pipe(Effect.map((states) => states.every((st) => st === "Established"))), "3 seconds")
      assert.match(n2.process.stdout(), /accepted a connection from the peer/)
    })), 60_000)
})
