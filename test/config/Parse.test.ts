import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as Config from "../../src/config/Config.ts"
import * as LabelSelector from "../../src/config/LabelSelector.ts"
import type { ConfigInput } from "../../src/config/Parse.ts"
import { parseConfig } from "../../src/config/Parse.ts"
import { formatPath } from "../../src/config/Resources.ts"
import * as Cidr from "../../src/net/Cidr.ts"
import * as Ip from "../../src/net/Ip.ts"
import {
  bfd,
  bgpAd,
  community,
  l2,
  namespace,
  node,
  parseErrors,
  parseOk,
  peer,
  peerSpec,
  peerV1beta1,
  pool,
  secret
} from "./fixtures.ts"

interface Case {
  readonly title: string
  readonly input: ConfigInput
  readonly kind: string
  readonly name: string
  readonly path: string
  readonly reason: string
  readonly transient?: boolean
}

const v4pool = pool("p", { addresses: ["1.1.1.0/28"] })

const cases: ReadonlyArray<Case> = [
  {
    title: "overlapping CIDRs across pools",
    input: { ipAddressPools: [pool("a", { addresses: ["192.0.2.0/24"] }), pool("b", { addresses: ["192.0.2.10-192.0.2.20"] })] },
    kind: "IPAddressPool",
    name: "b",
    path: "spec.addresses[0]",
    reason: `CIDR "192.0.2.10/31" in pool "b" overlaps with already defined CIDR "192.0.2.0/24"`
  },
  {
    title: "overlapping CIDRs inside one pool",
    input: { ipAddressPools: [pool("a", { addresses: ["192.0.2.0/24", "192.0.2.128/25"] })] },
    kind: "IPAddressPool",
    name: "a",
    path: "spec.addresses[1]",
    reason: `CIDR "192.0.2.128/25" in pool "a" overlaps with already defined CIDR "192.0.2.0/24"`
  },
  {
    title: "pool without addresses",
    input: { ipAddressPools: [pool("a", { addresses: [] })] },
    kind: "IPAddressPool",
    name: "a",
    path: "spec.addresses",
    reason: "pool has no prefixes defined"
  },
  {
    title: "bad CIDR",
    input: { ipAddressPools: [pool("a", { addresses: ["192.0.2.0/33"] })] },
    kind: "IPAddressPool",
    name: "a",
    path: "spec.addresses[0]",
    reason: `invalid CIDR "192.0.2.0/33": prefix 33 is longer than 32 in pool "a"`
  },
  {
    title: "range with start after end",
    input: { ipAddressPools: [pool("a", { addresses: ["192.0.2.9-192.0.2.1"] })] },
    kind: "IPAddressPool",
    name: "a",
    path: "spec.addresses[0]",
    reason: `invalid IP range "192.0.2.9-192.0.2.1": start IP is after the end IP in pool "a"`
  },
  {
    title: "duplicate namespaces in serviceAllocation",
    input: { ipAddressPools: [pool("a", { addresses: ["192.0.2.0/24"], serviceAllocation: { namespaces: ["x", "x"] } })] },
    kind: "IPAddressPool",
    name: "a",
    path: "spec.serviceAllocation.namespaces[1]",
    reason: "duplicate definition in namespaces field"
  },
  {
    title: "duplicate serviceSelectors",
    input: {
      ipAddressPools: [pool("a", {
        addresses: ["192.0.2.0/24"],
        serviceAllocation: { serviceSelectors: [{ matchLabels: { app: "x" } }, { matchLabels: { app: "x" } }] }
      })]
    },
    kind: "IPAddressPool",
    name: "a",
    path: "spec.serviceAllocation.serviceSelectors[1]",
    reason: `duplicate definition of serviceSelectors "app=x"`
  },
  {
    title: "In without values",
    input: {
      ipAddressPools: [pool("a", {
        addresses: ["192.0.2.0/24"],
        serviceAllocation: { namespaceSelectors: [{ matchExpressions: [{ key: "team", operator: "In" }] }] }
      })]
    },
    kind: "IPAddressPool",
    name: "a",
    path: "spec.serviceAllocation.namespaceSelectors[0].matchExpressions[0].values",
    reason: "for 'In', 'NotIn' operators, values set can't be empty"
  },
  {
    title: "Exists with values",
    input: { l2Advertisements: [l2("l", { nodeSelectors: [{ matchExpressions: [{ key: "k", operator: "Exists", values: ["v"] }] }] })] },
    kind: "L2Advertisement",
    name: "l",
    path: "spec.nodeSelectors[0].matchExpressions[0].values",
    reason: "values set must be empty for 'Exists' and 'DoesNotExist' operators"
  },
  {
    title: "duplicate match expression value",
    input: { l2Advertisements: [l2("l", { nodeSelectors: [{ matchExpressions: [{ key: "k", operator: "In", values: ["v", "v"] }] }] })] },
    kind: "L2Advertisement",
    name: "l",
    path: "spec.nodeSelectors[0].matchExpressions[0].values",
    reason: `duplicate definition of match expression value in label selector "v"`
  },
  {
    title: "duplicate match expressions",
    input: {
      l2Advertisements: [l2("l", {
        nodeSelectors: [{ matchExpressions: [{ key: "k", operator: "In", values: ["b", "a"] }, { key: "k", operator: "In", values: ["a", "b"] }] }]
      })]
    },
    kind: "L2Advertisement",
    name: "l",
    path: "spec.nodeSelectors[0].matchExpressions[1]",
    reason: `duplicate definition of match expressions "k In [a,b]"`
  },
  {
    title: "invalid label key",
    input: { l2Advertisements: [l2("l", { nodeSelectors: [{ matchLabels: { "-bad": "x" } }] })] },
    kind: "L2Advertisement",
    name: "l",
    path: "spec.nodeSelectors[0].matchLabels.-bad",
    reason: `invalid label key "-bad": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`
  },
  {
    title: "duplicate pool names in an L2Advertisement",
    input: { l2Advertisements: [l2("l", { ipAddressPools: ["a", "a"] })] },
    kind: "L2Advertisement",
    name: "l",
    path: "spec.ipAddressPools[1]",
    reason: `duplicate definition of ipAddressPools "a"`
  },
  {
    title: "aggregation length less specific than the pool",
    input: { ipAddressPools: [v4pool], bgpAdvertisements: [bgpAd("ad", { aggregationLength: 26 })] },
    kind: "BGPAdvertisement",
    name: "ad",
    path: "spec.aggregationLength",
    reason: "invalid aggregation length 26: prefix 28 in this pool is more specific than the aggregation length for addresses 1.1.1.0/28"
  },
  {
    title: "IPv6 aggregation length less specific than the pool",
    input: {
      ipAddressPools: [pool("p", { addresses: ["2001:db8::/120"] })],
      bgpAdvertisements: [bgpAd("ad", { aggregationLengthV6: 112 })]
    },
    kind: "BGPAdvertisement",
    name: "ad",
    path: "spec.aggregationLengthV6",
    reason: "invalid aggregation length 112: prefix 120 in this pool is more specific than the aggregation length for addresses 2001:db8::/120"
  },
  {
    title: "aggregation length above 32",
    input: { bgpAdvertisements: [bgpAd("ad", { aggregationLength: 33 })] },
    kind: "BGPAdvertisement",
    name: "ad",
    path: "spec.aggregationLength",
    reason: "invalid aggregation length 33 for IPv4"
  },
  {
    title: "aggregation length V6 above 128",
    input: { bgpAdvertisements: [bgpAd("ad", { aggregationLengthV6: 129 })] },
    kind: "BGPAdvertisement",
    name: "ad",
    path: "spec.aggregationLengthV6",
    reason: "invalid aggregation length 129 for IPv6"
  },
  {
    title: "serviceSelectors with aggregationLength",
    input: { bgpAdvertisements: [bgpAd("ad", { aggregationLength: 24, serviceSelectors: [{ matchLabels: { a: "b" } }] })] },
    kind: "BGPAdvertisement",
    name: "ad",
    path: "spec.aggregationLength",
    reason: "serviceSelectors and aggregationLength are mutually exclusive, both cannot be set in ad"
  },
  {
    title: "serviceSelectors with aggregationLengthV6",
    input: { bgpAdvertisements: [bgpAd("ad", { aggregationLengthV6: 120, serviceSelectors: [{ matchLabels: { a: "b" } }] })] },
    kind: "BGPAdvertisement",
    name: "ad",
    path: "spec.aggregationLengthV6",
    reason: "serviceSelectors and aggregationLengthV6 are mutually exclusive, both cannot be set in ad"
  },
  {
    title: "invalid community section",
    input: { bgpAdvertisements: [bgpAd("ad", { communities: ["99999999:1"] })] },
    kind: "BGPAdvertisement",
    name: "ad",
    path: "spec.communities[0]",
    reason: `invalid community value: invalid section "99999999" of community "99999999:1"`
  },
  {
    title: "invalid large community marker",
    input: { communities: [community("c", { communities: [{ name: "x", value: "lar:123:9999:123" }] })] },
    kind: "Community",
    name: "c",
    path: "spec.communities[0].value",
    reason:
      `invalid community value: invalid marker for large community, expected community to be of format large:<uint32>:<uint32>:<uint32> but got "lar:123:9999:123" instead`
  },
  {
    title: "duplicate community alias across Community objects",
    input: {
      communities: [
        community("c1", { communities: [{ name: "x", value: "1:1" }] }),
        community("c2", { communities: [{ name: "x", value: "1:2" }] })
      ]
    },
    kind: "Community",
    name: "c2",
    path: "spec.communities[0].name",
    reason: `duplicate definition of community "x"`
  },
  {
    title: "duplicate community in an advertisement",
    input: { bgpAdvertisements: [bgpAd("ad", { communities: ["1:1", "1:1"] })] },
    kind: "BGPAdvertisement",
    name: "ad",
    path: "spec.communities[1]",
    reason: `duplicate definition of community "1:1"`
  },
  {
    title: "unknown community alias (transient)",
    input: { bgpAdvertisements: [bgpAd("ad", { communities: ["no-export"] })] },
    kind: "BGPAdvertisement",
    name: "ad",
    path: "spec.communities[0]",
    reason: `invalid community "no-export" in BGP advertisement: not a community value and no Community alias of that name exists`,
    transient: true
  },
  {
    title: "incompatible localPref on one pool",
    input: {
      ipAddressPools: [v4pool],
      bgpAdvertisements: [bgpAd("a1", { localPref: 100 }), bgpAd("a2", { localPref: 200 })],
      nodes: [node("n1")]
    },
    kind: "BGPAdvertisement",
    name: "a2",
    path: "spec.localPref",
    reason:
      "invalid local preference 200: local preference 100 was already set for the same type of BGP update. Check existing BGP advertisements with common pools and aggregation lengths"
  },
  {
    title: "object outside the MetalLB namespace",
    input: { ipAddressPools: [pool("a", { addresses: ["192.0.2.0/24"] }, { namespace: "default" })] },
    kind: "IPAddressPool",
    name: "a",
    path: "metadata.namespace",
    reason: "resource must be created in metallb-system namespace"
  },
  {
    title: "duplicate pool names",
    input: { ipAddressPools: [pool("a", { addresses: ["192.0.2.0/25"] }), pool("a", { addresses: ["192.0.2.128/25"] })] },
    kind: "IPAddressPool",
    name: "a",
    path: "metadata.name",
    reason: `duplicate definition of pool "a"`
  },
  {
    title: "invalid peer address",
    input: { bgpPeers: [peer("p", peerSpec({ peerAddress: "192.0.2" }))] },
    kind: "BGPPeer",
    name: "p",
    path: "spec.peerAddress",
    reason: `invalid BGPPeer address "192.0.2"`
  },
  {
    title: "missing local ASN",
    input: { bgpPeers: [peer("p", peerSpec({ myASN: 0 }))] },
    kind: "BGPPeer",
    name: "p",
    path: "spec.myASN",
    reason: "missing local ASN"
  },
  {
    title: "neither peerASN nor dynamicASN",
    input: { bgpPeers: [peer("p", { myASN: 64500, peerAddress: "192.0.2.1" })] },
    kind: "BGPPeer",
    name: "p",
    path: "spec.peerASN",
    reason: "missing peer ASN and dynamicASN"
  },
  {
    title: "both peerASN and dynamicASN",
    input: { bgpPeers: [peer("p", peerSpec({ dynamicASN: "external" }))] },
    kind: "BGPPeer",
    name: "p",
    path: "spec.dynamicASN",
    reason: "both peer ASN and dynamicASN specified"
  },
  {
    title: "ebgpMultiHop on an iBGP peer",
    input: { bgpPeers: [peer("p", peerSpec({ peerASN: 64500, ebgpMultiHop: true }))] },
    kind: "BGPPeer",
    name: "p",
    path: "spec.ebgpMultiHop",
    reason: "invalid ebgp-multihop parameter set for an ibgp peer"
  },
  {
    title: "hold time below 3s",
    input: { bgpPeers: [peer("p", peerSpec({ holdTime: "2s" }))] },
    kind: "BGPPeer",
    name: "p",
    path: "spec.holdTime",
    reason: `invalid BGPPeer timers: invalid hold time "2s": must be 0 or >=3s`
  },
  {
    title: "keepalive above hold",
    input: { bgpPeers: [peer("p", peerSpec({ holdTime: "30s", keepaliveTime: "40s" }))] },
    kind: "BGPPeer",
    name: "p",
    path: "spec.keepaliveTime",
    reason: `invalid BGPPeer timers: invalid keepaliveTime "40s", must be lower than holdTime "30s"`
  },
  {
    title: "connect time with a fraction of a second",
    input: { bgpPeers: [peer("p", peerSpec({ connectTime: "1500ms" }))] },
    kind: "BGPPeer",
    name: "p",
    path: "spec.connectTime",
    reason: "connect time should contain a whole number of seconds"
  },
  {
    title: "connect time out of range",
    input: { bgpPeers: [peer("p", peerSpec({ connectTime: "20h" }))] },
    kind: "BGPPeer",
    name: "p",
    path: "spec.connectTime",
    reason: "connect time should be between 1 seconds to 65535"
  },
  {
    title: "invalid router ID",
    input: { bgpPeers: [peer("p", peerSpec({ routerID: "not-an-ip" }))] },
    kind: "BGPPeer",
    name: "p",
    path: "spec.routerID",
    reason: `invalid router ID "not-an-ip"`
  },
  {
    title: "invalid source address",
    input: { bgpPeers: [peer("p", peerSpec({ sourceAddress: "1.2.3.4.5" }))] },
    kind: "BGPPeer",
    name: "p",
    path: "spec.sourceAddress",
    reason: `invalid source IP "1.2.3.4.5"`
  },
  {
    title: "password and passwordSecret",
    input: { bgpPeers: [peer("p", peerSpec({ password: "x", passwordSecret: { name: "s" } }))] },
    kind: "BGPPeer",
    name: "p",
    path: "spec.passwordSecret",
    reason: `can not have both password and secret ref set in peer config "metallb-system"/"p"`
  },
  {
    title: "missing password Secret (transient)",
    input: { bgpPeers: [peer("p", peerSpec({ passwordSecret: { name: "s" } }))] },
    kind: "BGPPeer",
    name: "p",
    path: "spec.passwordSecret.name",
    reason: `secret ref not found for peer config "metallb-system"/"p"`,
    transient: true
  },
  {
    title: "password Secret of the wrong type",
    input: {
      bgpPeers: [peer("peer1", peerSpec({ passwordSecret: { name: "bgp-password" } }))],
      secrets: [secret("bgp-password", "Opaque", { password: "x" })]
    },
    kind: "BGPPeer",
    name: "peer1",
    path: "spec.passwordSecret.name",
    reason: `secret type mismatch on "metallb-system"/"bgp-password", type "kubernetes.io/basic-auth" is expected`
  },
  {
    title: "password Secret without the password key",
    input: {
      bgpPeers: [peer("p", peerSpec({ passwordSecret: { name: "s" } }))],
      secrets: [secret("s", "kubernetes.io/basic-auth", { username: "x" })]
    },
    kind: "BGPPeer",
    name: "p",
    path: "spec.passwordSecret.name",
    reason: `password not specified in the secret "metallb-system"/"s"`
  },
  {
    title: "missing BFD profile (transient)",
    input: { bgpPeers: [peer("p", peerSpec({ bfdProfile: "fast" }))] },
    kind: "BGPPeer",
    name: "p",
    path: "spec.bfdProfile",
    reason: "peer p referencing non existing bfd profile fast",
    transient: true
  },
  {
    title: "vrf is not supported",
    input: { bgpPeers: [peer("p", peerSpec({ vrf: "red" }))] },
    kind: "BGPPeer",
    name: "p",
    path: "spec.vrf",
    reason: "vrf is not supported by metallb-ts: BGP sessions always run in the default VRF"
  },
  {
    title: "unnumbered interface peers are not supported",
    input: { bgpPeers: [peer("p", { myASN: 64500, peerASN: 64501, interface: "eth1" })] },
    kind: "BGPPeer",
    name: "p",
    path: "spec.interface",
    reason: "interface (unnumbered BGP peering) is not supported by metallb-ts: set peerAddress instead"
  },
  {
    title: "neither address nor interface",
    input: { bgpPeers: [peer("p", { myASN: 64500, peerASN: 64501 })] },
    kind: "BGPPeer",
    name: "p",
    path: "spec.peerAddress",
    reason: "peer has no Address or Interface specified"
  },
  {
    title: "two peers with one address on a shared node",
    input: {
      bgpPeers: [peer("a", peerSpec()), peer("b", peerSpec({ myASN: 64510 }))],
      nodes: [node("n1")]
    },
    kind: "BGPPeer",
    name: "b",
    path: "spec.peerAddress",
    reason: "peer 192.0.2.1 already exists"
  },
  {
    title: "BFD echo mode is not supported",
    input: { bfdProfiles: [bfd("echo", { echoMode: true })] },
    kind: "BFDProfile",
    name: "echo",
    path: "spec.echoMode",
    reason: "echoMode is not supported by metallb-ts: its BFD implementation has no echo function; leave echoMode unset or false"
  },
  {
    title: "BFD echo on a peer that IPv6 pools are advertised to",
    input: {
      bfdProfiles: [bfd("echo", { echoMode: true })],
      bgpPeers: [peer("p", peerSpec({ bfdProfile: "echo" }))],
      ipAddressPools: [pool("v6", { addresses: ["2001:db8::/120"] })],
      bgpAdvertisements: [bgpAd("ad")]
    },
    kind: "BGPAdvertisement",
    name: "ad",
    path: "spec.peers",
    reason: "pool v6 has bgpadvertisement ad which references peer p which has bfd echo enabled, which is not possible"
  },
  {
    title: "BFD interval out of range (schema)",
    input: { bfdProfiles: [bfd("slow", { receiveInterval: 70000 })] },
    kind: "BFDProfile",
    name: "slow",
    path: "spec.receiveInterval",
    reason: "Expected a value between 10 and 60000, got 70000"
  },
  {
    title: "peer port out of range (schema)",
    input: { bgpPeers: [peer("p", peerSpec({ peerPort: 20000 }))] },
    kind: "BGPPeer",
    name: "p",
    path: "spec.peerPort",
    reason: "Expected a value between 1 and 16384, got 20000"
  },
  {
    title: "bad duration (schema)",
    input: { bgpPeers: [peer("p", peerSpec({ holdTime: "90" }))] },
    kind: "BGPPeer",
    name: "p",
    path: "spec.holdTime",
    reason: `invalid duration "90"`
  },
  {
    title: "preferredNodeSelectors weight out of range (schema)",
    input: { l2Advertisements: [l2("l", { preferredNodeSelectors: [{ weight: 0, preference: {} }] })] },
    kind: "L2Advertisement",
    name: "l",
    path: "spec.preferredNodeSelectors[0].weight",
    reason: "Expected a value between 1 and 100, got 0"
  }
]

describe("parseConfig errors", () => {
  it.each(cases)("$title", (c) => {
      const errors = parseErrors(c.input)
      const found = errors.find((e) => e.kind === c.kind && e.name === c.name && formatPath(e.path) === c.path)
      assert.isDefined(found, `no ${c.kind} ${c.name} ${c.path} error among:\n${errors.map((e) => e.message).join("\n")}`)
      assert.strictEqual(found?.reason, c.reason)
      assert.strictEqual(found?.transient, c.transient ?? false)
  })

  it("reports every error of every object at once", () => {
    const errors = parseErrors({
      ipAddressPools: [pool("a", { addresses: [] }), pool("b", { addresses: ["x"] })],
      bgpPeers: [peer("p", { myASN: 0, peerAddress: "nope", holdTime: "1s" })]
    })
    assert.deepStrictEqual(
      errors.map((e) => `${e.kind}/${e.name}/${formatPath(e.path)}`),
      [
        "BGPPeer/p/spec.myASN",
        "BGPPeer/p/spec.peerASN",
        "BGPPeer/p/spec.holdTime",
        "BGPPeer/p/spec.peerAddress",
        "IPAddressPool/a/spec.addresses",
        "IPAddressPool/b/spec.addresses[0]"
      ]
    )
  })

  it("marks a configuration whose only errors are missing references as transient", () => {
    const result = parseConfig({ bgpPeers: [peer("p", peerSpec({ bfdProfile: "later" }))] })
    assert.isTrue(Result.isFailure(result) && result.failure.transientOnly)
    const permanent = parseConfig({ bgpPeers: [peer("p", peerSpec({ bfdProfile: "later", myASN: 0 }))] })
    assert.isTrue(Result.isFailure(permanent) && !permanent.failure.transientOnly)
  })

  it("an object without a name is named by its position", () => {
    const errors = parseErrors({ ipAddressPools: [pool("ok", { addresses: ["192.0.2.0/24"] }), pool("", { addresses: ["198.51.100.0/24"] })] })
    assert.deepStrictEqual(errors.map((e) => [e.kind, e.name, formatPath(e.path)]), [["IPAddressPool", "#1", "metadata.name"]])
  })

  it("error messages name the object and the field", () => {
    const [error] = parseErrors({ bgpPeers: [peer("p", peerSpec({ peerAddress: "x" }))] })
    assert.strictEqual(error?.message, `BGPPeer "p" spec.peerAddress: invalid BGPPeer address "x"`)
  })
})

const adsOf = (input: ConfigInput) => parseOk(input).config.pools[0]?.bgpAdvertisements.length

describe("parseConfig results", () => {
  it("applies defaults and resolves a pool", () => {
    const { config } = parseOk({ ipAddressPools: [pool("a", { addresses: ["192.0.2.0/24", "198.51.100.10 - 198.51.100.13"] })] })
    const p = Config.findPool(config, "a")
    assert.isDefined(p)
    assert.isTrue(p?.autoAssign)
    assert.isFalse(p?.avoidBuggyIPs)
    assert.isUndefined(p?.serviceAllocation)
    assert.deepStrictEqual(p?.cidrs.map(Cidr.format), ["192.0.2.0/24", "198.51.100.10/31", "198.51.100.12/31"])
  })

  it("resolves serviceAllocation namespaces and treats priority-only as match-everything", () => {
    const { config } = parseOk({
      ipAddressPools: [
        pool("a", {
          addresses: ["192.0.2.0/24"],
          serviceAllocation: { priority: 10, namespaces: ["x"], namespaceSelectors: [{ matchLabels: { team: "blue" } }] }
        }),
        pool("b", { addresses: ["198.51.100.0/24"], serviceAllocation: { priority: 5 } })
      ],
      namespaces: [namespace("blue1", { team: "blue" }), namespace("red", { team: "red" }), namespace("blue2", { team: "blue" })]
    })
    assert.deepStrictEqual(Config.findPool(config, "a")?.serviceAllocation, { priority: 10, namespaces: ["blue1", "blue2", "x"], serviceSelectors: [] })
    const b = Config.findPool(config, "b")?.serviceAllocation
    assert.strictEqual(b?.priority, 5)
    assert.strictEqual(b?.serviceSelectors.length, 1)
    assert.isTrue(b !== undefined && b.serviceSelectors.every(LabelSelector.isEverything))
  })

  it("attaches L2 advertisements with node sets, interfaces, preferences, and de-duplicates identical ones", () => {
    const { config } = parseOk({
      ipAddressPools: [pool("a", { addresses: ["192.0.2.0/24"] }, { labels: { tier: "front" } }), pool("b", { addresses: ["198.51.100.0/24"] })],
      l2Advertisements: [
        l2("all"),
        l2("all-again"),
        l2("front", {
          ipAddressPoolSelectors: [{ matchLabels: { tier: "front" } }],
          ipAddressPools: ["a"],
          nodeSelectors: [{ matchLabels: { zone: "z1" } }],
          interfaces: ["eth0"],
          preferredNodeSelectors: [{ weight: 50, preference: { matchLabels: { fast: "yes" } } }, { weight: 10, preference: {} }]
        })
      ],
      nodes: [node("n1", { zone: "z1", fast: "yes" }), node("n2", { zone: "z1" }), node("n3", { zone: "z2", fast: "yes" })]
    })
    const a = Config.findPool(config, "a")
    const b = Config.findPool(config, "b")
    assert.deepStrictEqual(a?.l2Advertisements.map((x) => x.name), ["all", "front"])
    assert.deepStrictEqual(b?.l2Advertisements.map((x) => x.name), ["all"])
    const front = a?.l2Advertisements[1]
    assert.deepStrictEqual(front?.nodes, ["n1", "n2"])
    assert.deepStrictEqual(front?.interfaces, ["eth0"])
    assert.isFalse(front?.allInterfaces)
    assert.deepStrictEqual(front?.preferredNodes, [{ node: "n1", weight: 60 }, { node: "n2", weight: 10 }])
    assert.deepStrictEqual(a?.l2Advertisements[0]?.nodes, ["n1", "n2", "n3"])
  })

  it("resolves BGP advertisements: communities through aliases, peers, nodes", () => {
    const { config, warnings } = parseOk({
      ipAddressPools: [pool("a", { addresses: ["192.0.2.0/24", "2001:db8::/64"] })],
      communities: [community("c", { communities: [{ name: "no-advertise", value: "65535:65282" }, { name: "big", value: "large:1:2:3" }] })],
      bgpAdvertisements: [
        bgpAd("ad", { aggregationLength: 24, aggregationLengthV6: 64, localPref: 50, communities: ["big", "no-advertise", "1:1"], peers: ["p", "ghost"] })
      ],
      bgpPeers: [peer("p", peerSpec())],
      nodes: [node("n1")]
    })
    const ad = Config.findPool(config, "a")?.bgpAdvertisements[0]
    assert.strictEqual(ad?.aggregationLength, 24)
    assert.strictEqual(ad?.aggregationLengthV6, 64)
    assert.strictEqual(ad?.localPref, 50)
    assert.deepStrictEqual(ad?.communities, [
      { _tag: "Large", globalAdministrator: 1, localData1: 2, localData2: 3 },
      { _tag: "Standard", value: 65537 },
      { _tag: "Standard", value: 0xffffff02 }
    ])
    assert.deepStrictEqual(ad?.peers, ["p", "ghost"])
    assert.deepStrictEqual(ad?.nodes, ["n1"])
    assert.deepStrictEqual(warnings.map((w) => `${w.kind}/${w.name}/${formatPath(w.path)}: ${w.message}`), [
      `BGPAdvertisement/ad/spec.peers[1]: no BGPPeer named "ghost": ignored`
    ])
  })

  it("accepts localPref differences when aggregation, peers or nodes differ", () => {
    assert.strictEqual(adsOf({
      ipAddressPools: [pool("a", { addresses: ["192.0.2.0/24"] })],
      bgpAdvertisements: [bgpAd("a1", { localPref: 100 }), bgpAd("a2", { localPref: 200, aggregationLength: 24 })],
      nodes: [node("n1")]
    }), 2)
    assert.strictEqual(adsOf({
      ipAddressPools: [pool("a", { addresses: ["192.0.2.0/24"] })],
      bgpAdvertisements: [bgpAd("a1", { localPref: 100, peers: ["x"] }), bgpAd("a2", { localPref: 200, peers: ["y"] })],
      nodes: [node("n1")]
    }), 2)
    assert.strictEqual(adsOf({
      ipAddressPools: [pool("a", { addresses: ["192.0.2.0/24"] })],
      bgpAdvertisements: [
        bgpAd("a1", { localPref: 100, nodeSelectors: [{ matchLabels: { r: "1" } }] }),
        bgpAd("a2", { localPref: 200, nodeSelectors: [{ matchLabels: { r: "2" } }] })
      ],
      nodes: [node("n1", { r: "1" }), node("n2", { r: "2" })]
    }), 2)
  })

  it("resolves a peer: defaults, timers, password from a Secret, nodes", () => {
    const { config, warnings } = parseOk({
      bgpPeers: [
        peer("p", peerSpec({
          holdTime: "1m30s",
          passwordSecret: { name: "s", namespace: "elsewhere" },
          nodeSelectors: [{ matchLabels: { bgp: "yes" } }],
          disableMP: true,
          connectTime: "10s"
        })),
        peer("q", peerSpec({ peerAddress: "2001:db8::1", keepaliveTime: "20s", dynamicASN: "internal", peerASN: 0 }))
      ],
      secrets: [secret("s", "kubernetes.io/basic-auth", { password: "s3cret" })],
      nodes: [node("n1", { bgp: "yes" }), node("n2")]
    })
    const p = Config.findPeer(config, "p")
    assert.strictEqual(p?.port, 179)
    assert.strictEqual(p?.holdTimeMs, 90_000)
    assert.strictEqual(p?.keepaliveTimeMs, 30_000)
    assert.strictEqual(p?.connectTimeMs, 10_000)
    assert.strictEqual(p?.password, "s3cret")
    assert.deepStrictEqual(p?.nodes, ["n1"])
    assert.deepStrictEqual(p?.passwordSecret, { name: "s", namespace: "elsewhere" })
    const q = Config.findPeer(config, "q")
    assert.strictEqual(q?.holdTimeMs, 60_000)
    assert.strictEqual(q?.keepaliveTimeMs, 20_000)
    assert.strictEqual(q?.dynamicASN, "internal")
    assert.isTrue(q !== undefined && Ip.format(q.address) === "2001:db8::1")
    assert.deepStrictEqual(q?.nodes, ["n1", "n2"])
    assert.deepStrictEqual(warnings.map((w) => w.message), ["disable mp is deprecated and has no effect, use dualStackAddressFamily instead"])
  })

  it("allows two peers with one address when their nodes are disjoint", () => {
    const { config } = parseOk({
      bgpPeers: [
        peer("a", peerSpec({ nodeSelectors: [{ matchLabels: { rack: "1" } }] })),
        peer("b", peerSpec({ nodeSelectors: [{ matchLabels: { rack: "2" } }] }))
      ],
      nodes: [node("n1", { rack: "1" }), node("n2", { rack: "2" })]
    })
    assert.deepStrictEqual(config.peers.map((p) => p.nodes), [["n1"], ["n2"]])
  })

  it("a speaker's parse leaves out BGP objects that do not target its node", () => {
    const input: ConfigInput = {
      bgpPeers: [
        peer("for-a", peerSpec({ myASN: 0, nodeSelectors: [{ matchLabels: { "kubernetes.io/hostname": "a" } }] })),
        peer("for-all", peerSpec({ peerAddress: "192.0.2.2" }))
      ],
      bgpAdvertisements: [bgpAd("ad-a", { communities: ["missing"], nodeSelectors: [{ matchLabels: { "kubernetes.io/hostname": "a" } }] })],
      nodes: [node("a", { "kubernetes.io/hostname": "a" }), node("b", { "kubernetes.io/hostname": "b" })]
    }
    const { config } = parseOk(input, { node: "b" })
    assert.deepStrictEqual(config.peers.map((p) => p.name), ["for-all"])
    assert.deepStrictEqual(
      parseErrors(input, { node: "a" }).map((e) => `${e.kind}/${e.name}`),
      ["BGPPeer/for-a", "BGPAdvertisement/ad-a"]
    )
    assert.strictEqual(parseErrors(input).length, 2)
  })

  it("accepts v1beta1 peers and converts them", () => {
    const { config } = parseOk({ bgpPeers: [peerV1beta1("old", peerSpec({ holdTime: "9s" }))] })
    assert.strictEqual(Config.findPeer(config, "old")?.keepaliveTimeMs, 3000)
  })

  it("supports BFD profiles without echo", () => {
    const { config } = parseOk({
      bfdProfiles: [bfd("fast", { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3, passiveMode: true, minimumTtl: 250 - 4 })],
      bgpPeers: [peer("p", peerSpec({ bfdProfile: "fast" }))]
    })
    assert.deepStrictEqual(config.bfdProfiles, [{
      name: "fast",
      receiveInterval: 100,
      transmitInterval: 100,
      detectMultiplier: 3,
      echoInterval: undefined,
      passiveMode: true,
      minimumTtl: 246
    }])
  })

  it("does not depend on the order of the input lists", () => {
    const objects = {
      ipAddressPools: [pool("b", { addresses: ["198.51.100.0/24"] }), pool("a", { addresses: ["192.0.2.0/24"] })],
      l2Advertisements: [l2("y"), l2("x", { interfaces: ["eth1"] })],
      nodes: [node("n2"), node("n1")]
    }
    const reversed = {
      ipAddressPools: [...objects.ipAddressPools].toReversed(),
      l2Advertisements: [...objects.l2Advertisements].toReversed(),
      nodes: [...objects.nodes].toReversed()
    }
    const one = parseOk(objects).config
    const two = parseOk(reversed).config
    assert.isTrue(Config.equals(one, two))
    assert.strictEqual(Config.hash(one), Config.hash(two))
    const changed = parseOk({ ...objects, nodes: [node("n1")] }).config
    assert.isFalse(Config.equals(one, changed))
    assert.notStrictEqual(Config.hash(one), Config.hash(changed))
  })
})
