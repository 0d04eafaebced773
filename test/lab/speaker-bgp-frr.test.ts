// The real `metallb speaker` program in three node namespaces against FRR (issue #5, BGP mode), configured only
// through metallb.io objects, Secrets, Services and EndpointSlices in the in-memory API server (speakerLab.ts):
// eBGP and iBGP, IPv4 and IPv6 (MP-BGP) sessions, MD5 from a Secret and from a plain password, a wrong key that never
// gets a session and the fixed key that does, and the route attributes as FRR's RIB shows them: communities
// (standard, large, a Community alias), local-pref on iBGP, aggregation of two /32s into one /28.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Routers from "../../src/testing/Routers.ts"
import { eventually, kernelNexthops, notYet, throughout } from "./bgpLab.ts"
import { labGate } from "./prerequisites.ts"
import {
  bgpAdvertisement,
  bgpPeer,
  communityAliases,
  frrPrefixes,
  frrRouter,
  nodeNames,
  nodes,
  passwordSecret,
  pathsFrom,
  tcpExt
} from "./speakerBgpFrr.ts"
import * as SpeakerLab from "./speakerLab.ts"

const gate = labGate(["ip", "vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra"])
const v4Hops = nodeNames.map((n) => `192.0.2.${nodes[n]}`)
const v6Hops = nodeNames.map((n) => `2001:db8:0:1::${nodes[n]}`)
const sorted = (xs: ReadonlyArray<string>) => [...xs].toSorted()

/** The router's two BGPPeers for nodes in `asn`: IPv4 keyed from the Secret router-auth, IPv6 with a plain password. */
const routers = (asn: number, password6: string) => [
  bgpPeer("router", {
    myASN: asn,
    peerASN: 64512,
    peerAddress: "192.0.2.1",
    holdTime: "9s",
    passwordSecret: { name: "router-auth", namespace: SpeakerLab.NS }
  }),
  bgpPeer("router6", { myASN: asn, peerASN: 64512, peerAddress: "2001:db8:0:1::1", holdTime: "9s", password: password6 })
]

describe.skipIf(gate.skip)("metallb speaker against FRR: sessions and attributes", () => {
  it("has its prerequisites", () => {
    assert.isUndefined(gate.problem, gate.problem)
  })

  it.live("eBGP over IPv4 (MD5 from a Secret) and IPv6 (plain password): communities, aliases, aggregation, ECMP", () =>
    Effect.scoped(Effect.gen(function*() {
      const l = yield* SpeakerLab.make(nodes, { rtr: 1 })
      const frr = yield* Routers.startFrr(l.lab, l.others.rtr.ns, { bgpd: frrRouter({ password: "s3cret", password6: "v6-s3cret" }) })
      yield* l.upsert(
        passwordSecret("router-auth", "s3cret"),
        communityAliases("aliases", { "site-a": "64500:7", "site-big": "large:64500:7:7" }),
        SpeakerLab.pool("wan", ["203.0.113.0/28", "2001:db8:ffff::/120"]),
        SpeakerLab.pool("agg", ["203.0.113.16/28"]),
        bgpAdvertisement("wan", { ipAddressPools: ["wan"], communities: ["64500:100", "site-a", "large:64500:1:2", "site-big"] }),
        bgpAdvertisement("agg", { ipAddressPools: ["agg"], aggregationLength: 28, communities: ["64500:28"] }),
        ...routers(64500, "v6-s3cret"),
        SpeakerLab.service("web", "203.0.113.10"),
        SpeakerLab.endpoints("web", ["n1"]),
        SpeakerLab.service("web6", "2001:db8:ffff::10"),
        SpeakerLab.endpoints("web6", ["n2"]),
        SpeakerLab.service("a", "203.0.113.17"),
        SpeakerLab.endpoints("a", ["n1"]),
        SpeakerLab.service("b", "203.0.113.18"),
        SpeakerLab.endpoints("b", ["n3"])
      )
      for (const n of nodeNames) yield* l.startSpeaker(n)

      // IPv4 over the MD5 session keyed from the Secret: one path per node, all used (ECMP: pathsFrom waits for it),
      // with every community.
      const v4 = yield* pathsFrom(frr, "203.0.113.10/32", v4Hops)
      for (const p of v4) {
        assert.strictEqual(p.asPath, "64500")
        assert.strictEqual(p.origin, "IGP")
        assert.deepStrictEqual(sorted(p.communities), ["64500:100", "64500:7"])
        assert.deepStrictEqual(sorted(p.largeCommunities), ["64500:1:2", "64500:7:7"])
      }
      // IPv6 over MP-BGP on the IPv6 session (plain password): next hops are the nodes' global addresses.
      const v6 = yield* pathsFrom(frr, "2001:db8:ffff::10/128", v6Hops)
      for (const p of v6) {
        assert.deepStrictEqual(sorted(p.communities), ["64500:100", "64500:7"])
        assert.deepStrictEqual(sorted(p.largeCommunities), ["64500:1:2", "64500:7:7"])
      }
      // zebra installs the three next hops in the router's kernel (a moment after the RIB settles).
      yield* eventually("the /128 with three next hops in the router's FIB", kernelNexthops(l.lab, l.others.rtr.ns, "2001:db8:ffff::10").pipe(
        Effect.flatMap((hops) => (sorted(hops).join() === sorted(v6Hops).join() ? Effect.succeed(hops) : notYet(`FIB next hops [${hops.join(", ")}]`)))
      ))

      // aggregationLength 28: the two Services' /32s are one /28, and neither /32 reaches FRR.
      const agg = yield* pathsFrom(frr, "203.0.113.16/28", v4Hops)
      for (const p of agg) assert.deepStrictEqual(p.communities, ["64500:28"])
      assert.deepStrictEqual(yield* frrPrefixes(frr, "ipv4"), ["203.0.113.10/32", "203.0.113.16/28"])
      assert.deepStrictEqual(yield* frrPrefixes(frr, "ipv6"), ["2001:db8:ffff::10/128"])
      // Each family went over its own session: the v6 prefix was not offered on the IPv4 sessions and vice versa.
      const summary = yield* frr.json<Record<string, { readonly peers?: Record<string, { readonly state?: string; readonly pfxRcd?: number }> }>>(
        "show bgp summary"
      )
      for (const hop of v4Hops) assert.strictEqual(summary["ipv4Unicast"]?.peers?.[hop]?.pfxRcd, 2, hop)
      for (const hop of v6Hops) assert.strictEqual(summary["ipv6Unicast"]?.peers?.[hop]?.pfxRcd, 1, hop)

      // One of the two Services goes: the aggregate stays (the other still covers it); both go: it is withdrawn.
      yield* Effect.sync(() => l.server.objects.delete("v1", "Service", "default", "a"))
      yield* Effect.sleep("1 second")
      yield* pathsFrom(frr, "203.0.113.16/28", v4Hops)
      yield* Effect.sync(() => l.server.objects.delete("v1", "Service", "default", "b"))
      yield* pathsFrom(frr, "203.0.113.16/28", [])
      assert.deepStrictEqual(yield* frrPrefixes(frr, "ipv4"), ["203.0.113.10/32"])
    })), 120_000)

  it.live("iBGP with local-pref over both families; a wrong MD5 key never gets a session, the fixed key does", () =>
    Effect.scoped(Effect.gen(function*() {
      const l = yield* SpeakerLab.make(nodes, { rtr: 1 })
      const frr = yield* Routers.startFrr(l.lab, l.others.rtr.ns, { bgpd: frrRouter({ ibgp: true, password: "s3cret", password6: "s3cret" }) })
      yield* l.upsert(
        passwordSecret("router-auth", "not-the-key"),
        SpeakerLab.pool("wan", ["203.0.113.0/28", "2001:db8:ffff::/120"]),
        bgpAdvertisement("wan", { ipAddressPools: ["wan"], localPref: 150, communities: ["64512:1"] }),
        ...routers(64512, "s3cret"),
        SpeakerLab.service("web", "203.0.113.10"),
        SpeakerLab.endpoints("web", ["n1"]),
        SpeakerLab.service("web6", "2001:db8:ffff::10"),
        SpeakerLab.endpoints("web6", ["n1"])
      )
      const md5Failures = tcpExt(l.lab, l.others.rtr.ns).pipe(Effect.map((c) => c.get("TCPMD5Failure") ?? 0))
      const before = yield* md5Failures
      for (const n of nodeNames) yield* l.startSpeaker(n)

      // The IPv6 sessions (right key) come up: iBGP, local-pref as advertised, no AS path.
      const v6 = yield* pathsFrom(frr, "2001:db8:ffff::10/128", v6Hops)
      for (const p of v6) {
        assert.strictEqual(p.localPref, 150)
        assert.strictEqual(p.asPath, "Local") // FRR's rendering of an empty AS_PATH
        assert.deepStrictEqual(p.communities, ["64512:1"])
      }
      // The IPv4 sessions (wrong key in the Secret) never do: FRR's kernel drops the SYNs, so FRR has nothing to log.
      const established = (hop: string) => Routers.frrNeighborState(frr, hop).pipe(Effect.map((s) => s === "Established"))
      yield* throughout("no IPv4 session with the wrong key", Effect.all(v4Hops.map(established)).pipe(
        Effect.map((up) => up.every((u) => !u))
      ), "6 seconds")
      assert.deepStrictEqual(yield* frrPrefixes(frr, "ipv4"), [])
      assert.notMatch(frr.bgpd.stdout(), /ADJCHANGE: neighbor 192\.0\.2\.1\d/)
      assert.isAbove(yield* md5Failures, before, "the router's kernel counts wrong MD5 signatures")

      // The key fixed in the Secret: the speakers reopen their sessions and the route arrives with its local-pref.
      yield* l.upsert(passwordSecret("router-auth", "s3cret"))
      const v4 = yield* pathsFrom(frr, "203.0.113.10/32", v4Hops)
      for (const p of v4) {
        assert.strictEqual(p.localPref, 150)
        assert.strictEqual(p.asPath, "Local") // FRR's rendering of an empty AS_PATH
      }
    })), 120_000)
})
