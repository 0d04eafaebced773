/**
 * fast-check generators of *valid* metallb.io configurations (objects in their wire form plus cluster facts).
 */
import { Result } from "effect"
import * as fc from "fast-check"
import * as LabelSelector from "../../src/config/LabelSelector.ts"
import type { ConfigInput } from "../../src/config/Parse.ts"

const ns = "metallb-system"

const labelKey = fc.constantFrom("zone", "rack", "tier", "example.com/role")
const labelValue = fc.constantFrom("a", "b", "c", "")
const labels = fc.dictionary(labelKey, labelValue, { maxKeys: 3 })

const requirement = fc.oneof(
  fc.record({
    key: labelKey,
    operator: fc.constantFrom("In" as const, "NotIn" as const),
    values: fc.uniqueArray(fc.constantFrom("a", "b", "c"), { minLength: 1, maxLength: 3 })
  }),
  fc.record({ key: labelKey, operator: fc.constantFrom("Exists" as const, "DoesNotExist" as const) })
)

const selector: fc.Arbitrary<LabelSelector.LabelSelector> = fc.record(
  { matchLabels: labels, matchExpressions: fc.uniqueArray(requirement, { selector: (r) => `${r.key} ${r.operator}`, maxLength: 2 }) },
  { requiredKeys: [] }
)

const selectorKey = (s: LabelSelector.LabelSelector): string => {
  const parsed = LabelSelector.parse(s)
  return Result.isSuccess(parsed) ? LabelSelector.format(parsed.success) : JSON.stringify(s)
}

const selectors = fc.uniqueArray(selector, { selector: selectorKey, maxLength: 2 })

/** Optional fields: each key of the record may be left out. */
const partial = <T extends Record<string, unknown>>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }) =>
  fc.record(model, { requiredKeys: [] })

const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, namespace: ns, ...extra })

const names = (prefix: string, max: number) =>
  fc.uniqueArray(fc.integer({ min: 0, max: 50 }), { maxLength: max }).map((ids) => ids.map((i) => `${prefix}${i}`))

const entry = (block: number) =>
  fc.constantFrom(
    `10.${block}.0.0/24`,
    `10.${block}.0.10-10.${block}.0.20`,
    `10.${block}.0.10 - 10.${block}.0.10`,
    `2001:db8:${block.toString(16)}::/120`,
    `2001:db8:${block.toString(16)}::1-2001:db8:${block.toString(16)}::ff`
  )

const communityValue = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff })).map(([a, b]) => `${a}:${b}`),
  fc.tuple(fc.nat(), fc.nat(), fc.nat()).map(([a, b, c]) => `large:${a}:${b}:${c}`)
)

const timers = fc.constantFrom<Record<string, string>>(
  {},
  { holdTime: "90s" },
  { holdTime: "3s" },
  { holdTime: "0s" },
  { keepaliveTime: "10s" },
  { holdTime: "1m30s", keepaliveTime: "30s" },
  { holdTime: "4m", keepaliveTime: "1m" }
)

const someOf = <T>(values: ReadonlyArray<T>) => fc.subarray([...values])

export const validConfig: fc.Arbitrary<ConfigInput> = fc
  .record({
    nodeNames: names("node", 4),
    nodeLabels: fc.array(labels, { minLength: 4, maxLength: 4 }),
    namespaceNames: names("ns", 3),
    blocks: fc.uniqueArray(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 8 }),
    poolCount: fc.integer({ min: 1, max: 4 }),
    bfdNames: names("bfd", 2),
    peerNames: names("peer", 3),
    l2Names: names("l2", 3),
    bgpNames: names("bgp", 3),
    aliasNames: names("alias", 3),
    localPref: fc.option(fc.integer({ min: 0, max: 4294967295 }), { nil: undefined })
  })
  .chain((shape) => {
    const poolNames = Array.from({ length: Math.min(shape.poolCount, shape.blocks.length) }, (_, i) => `pool${i}`)
    const poolBlocks = poolNames.map((_, i) => shape.blocks.filter((_b, j) => j % poolNames.length === i))
    const pools = fc.tuple(...poolNames.map((name, i) =>
      fc.record({
        addresses: fc.tuple(...(poolBlocks[i] ?? []).map(entry)),
        labels,
        spec: partial({
          autoAssign: fc.boolean(),
          avoidBuggyIPs: fc.boolean(),
          serviceAllocation: partial({
            priority: fc.integer({ min: -100, max: 100 }),
            namespaces: fc.uniqueArray(fc.constantFrom("default", "kube-system", "web")),
            namespaceSelectors: selectors,
            serviceSelectors: selectors
          })
        })
      }).map((p) => ({
        apiVersion: "metallb.io/v1beta1",
        kind: "IPAddressPool",
        metadata: meta(name, { labels: p.labels }),
        spec: { addresses: p.addresses, ...p.spec }
      }))
    ))
    const bfdProfiles = fc.tuple(...shape.bfdNames.map((name) =>
      partial({
        receiveInterval: fc.integer({ min: 10, max: 60000 }),
        transmitInterval: fc.integer({ min: 10, max: 60000 }),
        detectMultiplier: fc.integer({ min: 2, max: 255 }),
        echoInterval: fc.integer({ min: 10, max: 60000 }),
        echoMode: fc.constant(false),
        passiveMode: fc.boolean(),
        minimumTtl: fc.integer({ min: 1, max: 254 })
      }).map((spec) => ({ apiVersion: "metallb.io/v1beta1", kind: "BFDProfile", metadata: meta(name), spec }))
    ))
    const communities = fc.tuple(...shape.aliasNames.map((alias) => communityValue.map((value) => ({ name: alias, value }))))
      .map((aliases) => aliases.length === 0 ? [] : [{ apiVersion: "metallb.io/v1beta1", kind: "Community", metadata: meta("communities"), spec: { communities: aliases } }])
    const peers = fc.tuple(...shape.peerNames.map((name, i) =>
      fc.record({
        myASN: fc.integer({ min: 1, max: 4294967295 }),
        asn: fc.oneof(
          fc.record({ peerASN: fc.integer({ min: 1, max: 4294967295 }) }),
          fc.record({ dynamicASN: fc.constantFrom("internal" as const, "external" as const) })
        ),
        multiHop: fc.boolean(),
        timers,
        auth: fc.constantFrom<Record<string, unknown>>({}, { password: "secret" }, { passwordSecret: { name: "bgp-password" } }),
        bfd: fc.option(fc.constantFrom(...shape.bfdNames, "none"), { nil: undefined }),
        rest: partial({
          localASN: fc.integer({ min: 1, max: 4294967295 }),
          sourceAddress: fc.constantFrom("192.0.2.200", "2001:db8::200"),
          peerPort: fc.integer({ min: 1, max: 16384 }),
          connectTime: fc.constantFrom("1s", "10s", "1m"),
          routerID: fc.constantFrom("10.0.0.1", "10.0.0.2"),
          nodeSelectors: selectors,
          enableGracefulRestart: fc.boolean(),
          dualStackAddressFamily: fc.boolean(),
          disableMP: fc.constant(false)
        })
      }).map((p) => {
        const ibgp = "dynamicASN" in p.asn ? p.asn.dynamicASN === "internal" : p.asn.peerASN === p.myASN
        const bfdProfile = p.bfd !== undefined && p.bfd !== "none" ? { bfdProfile: p.bfd } : {}
        return {
          apiVersion: "metallb.io/v1beta2",
          kind: "BGPPeer",
          metadata: meta(name),
          spec: {
            myASN: p.myASN,
            ...p.asn,
            peerAddress: i % 2 === 0 ? `192.0.2.${i + 1}` : `2001:db8::${i + 1}`,
            ...(p.multiHop && !ibgp ? { ebgpMultiHop: true } : {}),
            ...p.timers,
            ...p.auth,
            ...bfdProfile,
            ...p.rest
          }
        }
      })
    ))
    const l2Ads = fc.tuple(...shape.l2Names.map((name) =>
      partial({
        ipAddressPools: someOf(poolNames),
        ipAddressPoolSelectors: selectors,
        nodeSelectors: selectors,
        interfaces: fc.uniqueArray(fc.constantFrom("eth0", "eth1", "bond0")),
        serviceSelectors: selectors,
        preferredNodeSelectors: fc.array(fc.record({ weight: fc.integer({ min: 1, max: 100 }), preference: selector }), { maxLength: 2 })
      }).map((spec) => ({ apiVersion: "metallb.io/v1beta1", kind: "L2Advertisement", metadata: meta(name), spec }))
    ))
    const bgpAds = fc.tuple(...shape.bgpNames.map((name) =>
      partial({
        aggregationLength: fc.constant(32),
        aggregationLengthV6: fc.constant(128),
        communities: someOf([...shape.aliasNames, "65535:65281", "large:1:2:3"]),
        ipAddressPools: someOf(poolNames),
        ipAddressPoolSelectors: selectors,
        nodeSelectors: selectors,
        peers: someOf(shape.peerNames),
        serviceSelectors: selectors
      }).map((spec) => ({
        apiVersion: "metallb.io/v1beta1",
        kind: "BGPAdvertisement",
        metadata: meta(name),
        spec: { ...spec, ...(shape.localPref !== undefined ? { localPref: shape.localPref } : {}) }
      }))
    ))
    return fc.record({ pools, bfdProfiles, communities, peers, l2Ads, bgpAds }).map((o): ConfigInput => ({
      ipAddressPools: o.pools,
      bfdProfiles: o.bfdProfiles,
      communities: o.communities,
      bgpPeers: o.peers,
      l2Advertisements: o.l2Ads,
      bgpAdvertisements: o.bgpAds,
      nodes: shape.nodeNames.map((name, i) => ({ metadata: { name, labels: shape.nodeLabels[i] ?? {} } })),
      namespaces: shape.namespaceNames.map((name) => ({ metadata: { name, labels: { team: name } } })),
      secrets: [{
        metadata: { name: "bgp-password", namespace: ns },
        type: "kubernetes.io/basic-auth",
        data: { password: Buffer.from("s3cret").toString("base64") }
      }]
    }))
  })
