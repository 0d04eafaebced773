import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import { stringify } from "yaml"
import * as Convert from "../../../src/config/legacy/Convert.ts"
import * as Legacy from "../../../src/config/legacy/LegacyConfig.ts"
import { validateObjects } from "../../../src/config/Objects.ts"

const issuesOf = (r: Result.Result<unknown, ReadonlyArray<Legacy.Issue>>): Array<string> =>
  Result.isFailure(r) ? r.failure.map(Legacy.formatIssue) : []

describe("LegacyConfig: the walkthrough formats", () => {
  it("decodes the 0.7.3 layer2 and BGP examples", () => {
    const layer2 = Legacy.parseText("address-pools:\n- name: my-ip-space\n  protocol: layer2\n  addresses:\n  - 192.168.1.240/28\n")
    assert.deepStrictEqual(Result.getOrThrow(layer2), {
      "address-pools": [{ name: "my-ip-space", protocol: "layer2", addresses: ["192.168.1.240/28"] }]
    })
    const bgp = Legacy.parseText(
      "peers:\n- peer-address: 10.0.0.1\n  peer-asn: 64501\n  my-asn: 64500\naddress-pools:\n- name: default\n  protocol: bgp\n  addresses:\n  - 192.168.10.0/24\n"
    )
    assert.isTrue(Result.isSuccess(bgp))
  })

  it("treats empty sections and an empty document as absent, and scalars as strings (go-yaml v2)", () => {
    assert.deepStrictEqual(Result.getOrThrow(Legacy.parseText("")), {})
    assert.deepStrictEqual(Result.getOrThrow(Legacy.parseText("peers:\naddress-pools:\n")), { peers: null, "address-pools": null })
    const r = Legacy.parseText("peers: [{my-asn: 1, peer-asn: 2, peer-address: 192.0.2.1, password: 12345, hold-time: 90s}]")
    assert.strictEqual(Result.getOrThrow(r).peers?.[0]?.password, "12345")
  })
})

describe("LegacyConfig: strict parsing with located errors", () => {
  it("names every unknown key at every level, with line and column", () => {
    const text = [
      "peerz: []",
      "peers:",
      "- peer-address: 192.0.2.1",
      "  peer-asn: 1",
      "  my-asn: 2",
      "  holdtime: 90s",
      "  node-selectors:",
      "  - match-label: {a: b}",
      "address-pools:",
      "- name: p",
      "  protocol: bgp",
      "  addresses: [192.0.2.0/24]",
      "  bgp-advertisements:",
      "  - aggregation-length: 32",
      "    local-pref: 100",
      "bfd-profiles:",
      "- {name: x, echo: true}"
    ].join("\n")
    assert.sameMembers(issuesOf(Legacy.parseText(text)), [
      'line 1, column 1: peerz: unknown key "peerz"',
      'line 6, column 3: peers[0].holdtime: unknown key "holdtime"',
      'line 8, column 5: peers[0].node-selectors[0].match-label: unknown key "match-label"',
      'line 15, column 5: address-pools[0].bgp-advertisements[0].local-pref: unknown key "local-pref"',
      'line 17, column 13: bfd-profiles[0].echo: unknown key "echo"'
    ])
  })

  it("reports wrong types at their path", () => {
    assert.deepStrictEqual(issuesOf(Legacy.parseText("peers: {a: 1}")), ["line 1, column 1: peers: expected a list | null"])
    assert.deepStrictEqual(issuesOf(Legacy.parseText("peers: [{my-asn: '64500'}]")), ["line 1, column 10: peers[0].my-asn: expected number | null"])
    assert.deepStrictEqual(issuesOf(Legacy.parseText("- 1")), ["line 1, column 1: expected a mapping"])
  })

  it("reports YAML syntax errors with their position", () => {
    const issues = issuesOf(Legacy.parseText("address-pools: [\n"))
    assert.lengthOf(issues, 1)
    assert.match(issues[0] ?? "", /^line \d+, column \d+: could not parse config: /)
  })

  it("shifts positions by the origin of a ConfigMap's block, or drops them when unknown", () => {
    assert.deepStrictEqual(issuesOf(Legacy.parseText("x: 1", { lineOffset: 7, columnOffset: 4 })), ['line 8, column 5: x: unknown key "x"'])
    assert.deepStrictEqual(issuesOf(Legacy.parseText("x: 1", null)), ['x: unknown key "x"'])
  })
})

const rangePool = (length: number) =>
  `address-pools: [{name: p, protocol: bgp, addresses: [10.0.0.10-10.0.0.20], bgp-advertisements: [{aggregation-length: ${length}}]}]`

describe("LegacyConfig: MetalLB 0.12's rules, every problem at once", () => {
  const cases: Array<[string, string, string]> = [
    ["missing ASNs", "peers: [{peer-address: 192.0.2.1}]", "peers[0].my-asn: missing local ASN"],
    ["missing peer ASN", "peers: [{my-asn: 1, peer-address: 192.0.2.1}]", "peers[0].peer-asn: missing peer ASN"],
    ["ASN range", "peers: [{my-asn: 4294967296, peer-asn: 1, peer-address: 192.0.2.1}]", "peers[0].my-asn: value 4294967296 is out of range (0-4294967295)"],
    ["peer IP", "peers: [{my-asn: 1, peer-asn: 2, peer-address: nope}]", 'peers[0].peer-address: invalid peer IP "nope"'],
    ["port range", "peers: [{my-asn: 1, peer-asn: 2, peer-address: 192.0.2.1, peer-port: 70000}]", "peers[0].peer-port: value 70000 is out of range (0-65535)"],
    ["hold time syntax", "peers: [{my-asn: 1, peer-asn: 2, peer-address: 192.0.2.1, hold-time: '120'}]", 'peers[0].hold-time: invalid hold time "120"'],
    ["router ID", "peers: [{my-asn: 1, peer-asn: 2, peer-address: 192.0.2.1, router-id: r1}]", 'peers[0].router-id: invalid router ID "r1"'],
    ["source IP", "peers: [{my-asn: 1, peer-asn: 2, peer-address: 192.0.2.1, source-address: s}]", 'peers[0].source-address: invalid source IP "s"'],
    [
      "selector operator",
      "peers: [{my-asn: 1, peer-asn: 2, peer-address: 192.0.2.1, node-selectors: [{match-expressions: [{key: a, operator: Is, values: [b]}]}]}]",
      'peers[0].node-selectors[0].match-expressions[0].operator: "Is" is not a valid label selector operator'
    ],
    [
      "selector values",
      "peers: [{my-asn: 1, peer-asn: 2, peer-address: 192.0.2.1, node-selectors: [{match-expressions: [{key: a, operator: In}]}]}]",
      "values set can't be empty"
    ],
    ["label key", "peers: [{my-asn: 1, peer-asn: 2, peer-address: 192.0.2.1, node-selectors: [{match-labels: {'-a': b}}]}]", 'invalid label key "-a"'],
    ["duplicate peers", "peers: [{my-asn: 1, peer-asn: 2, peer-address: 192.0.2.1}, {my-asn: 1, peer-asn: 2, peer-address: 192.0.2.1, hold-time: 90s}]", "peers[1]: peer #2 already exists"],
    ["community alias", "bgp-communities: {a: '1:2:3'}", 'bgp-communities.a: parsing community "a": invalid community string "1:2:3"'],
    ["pool name", "address-pools: [{protocol: bgp, addresses: [192.0.2.0/24]}]", "address-pools[0].name: missing pool name"],
    ["CIDR syntax", "address-pools: [{name: p, protocol: bgp, addresses: [192.0.2.0/33]}]", 'address-pools[0].addresses[0]: invalid CIDR "192.0.2.0/33" in pool "p"'],
    ["range order", "address-pools: [{name: p, protocol: bgp, addresses: [192.0.2.9-192.0.2.1]}]", "start IP is after the end IP"],
    ["overlap within a pool", "address-pools: [{name: p, protocol: bgp, addresses: [192.0.2.0/24, 192.0.2.128/25]}]", 'overlaps with already defined CIDR "192.0.2.0/24"'],
    ["aggregation v4", "address-pools: [{name: p, protocol: bgp, addresses: [192.0.2.0/24], bgp-advertisements: [{aggregation-length: 33}]}]", "invalid aggregation length 33 for IPv4"],
    ["aggregation v6", "address-pools: [{name: p, protocol: bgp, addresses: ['2001:db8::/64'], bgp-advertisements: [{aggregation-length-v6: 48}]}]", "invalid aggregation length 48: prefix 64 in this pool is more specific"],
    ["advertised community", "address-pools: [{name: p, protocol: bgp, addresses: [192.0.2.0/24], bgp-advertisements: [{communities: [nope]}]}]", 'invalid community "nope" in BGP advertisement'],
    ["BFD profile name", "bfd-profiles: [{receive-interval: 100}]", "bfd-profiles[0].name: missing bfd profile name"],
    ["BFD duplicate", "bfd-profiles: [{name: a}, {name: a}]", "bfd-profiles[1].name: found duplicate bfd profile name a"],
    ["BFD range", "bfd-profiles: [{name: a, detect-multiplier: 1, minimum-ttl: 255}]", "invalid detect multiplier 1: must be between 2 and 255"]
  ]
  for (const [what, text, message] of cases) {
    it(`${what}`, () => {
      const issues = issuesOf(Legacy.parseText(text, null))
      assert.isTrue(issues.some((i) => i.includes(message)), `expected "${message}" in ${JSON.stringify(issues)}`)
    })
  }

  it("judges a range by the widest CIDR it summarises to, like MetalLB and like parseConfig after conversion", () => {
    // 10.0.0.10-10.0.0.20 is 10.0.0.10/31, .12/30, .16/30, .20/32: the widest is /30.
    assert.deepStrictEqual(issuesOf(Legacy.parseText(rangePool(30), null)), [])
    assert.deepStrictEqual(issuesOf(Legacy.parseText(rangePool(29), null)), [
      "address-pools[0].bgp-advertisements[0].aggregation-length: invalid aggregation length 29: prefix 30 in this pool is more specific than the aggregation length for addresses 10.0.0.10-10.0.0.20"
    ])
    const converted = Convert.toResources(Result.getOrThrow(Legacy.decodeStructure({
      "address-pools": [{ name: "p", protocol: "bgp", addresses: ["10.0.0.10-10.0.0.20"], "bgp-advertisements": [{ "aggregation-length": 29 }] }]
    })))
    assert.deepStrictEqual(
      validateObjects(Result.getOrThrow(converted)).errors.map((e) => e.reason),
      ["invalid aggregation length 29: prefix 30 in this pool is more specific than the aggregation length for addresses 10.0.0.10-10.0.0.20"]
    )
  })

  it("collects problems of different sections in one pass", () => {
    const issues = issuesOf(Legacy.parseText("peers: [{peer-address: x}]\naddress-pools: [{name: p, addresses: []}]", null))
    assert.sameMembers(issues, [
      "peers[0].my-asn: missing local ASN",
      "peers[0].peer-asn: missing peer ASN",
      'peers[0].peer-address: invalid peer IP "x"',
      "address-pools[0].protocol: address pool is missing the protocol field",
      "address-pools[0].addresses: pool has no prefixes defined"
    ])
  })
})

// -----------------------------------------------------------------------------------------------------------------
// Property tests
// -----------------------------------------------------------------------------------------------------------------

type Mutable = Record<string, unknown>

const labelKey = fc.constantFrom("rack", "kubernetes.io/hostname", "zone", "example.com/tier")
const labelValue = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?$/)
const selector = fc.record(
  {
    "match-labels": fc.dictionary(labelKey, labelValue, { maxKeys: 2 }),
    "match-expressions": fc.uniqueArray(
      fc.oneof(
        fc.record({ key: labelKey, operator: fc.constantFrom("In", "NotIn"), values: fc.uniqueArray(labelValue, { minLength: 1, maxLength: 3 }) }),
        fc.record({ key: labelKey, operator: fc.constantFrom("Exists", "DoesNotExist") })
      ),
      // MetalLB's CRD parser rejects duplicate expressions within a selector.
      { maxLength: 2, selector: (e) => JSON.stringify(e) }
    )
  },
  { requiredKeys: [] }
)
/** A selector's meaning, to keep a peer's selectors distinct (duplicates are rejected by the CRD parser). */
const selectorKey = (s: { readonly "match-labels"?: Record<string, string>; readonly "match-expressions"?: ReadonlyArray<unknown> }): string =>
  JSON.stringify([Object.entries(s["match-labels"] ?? {}).toSorted(), s["match-expressions"] ?? []])
const community = fc.tuple(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 })).map(([a, b]) => `${a}:${b}`)
const aliasName = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/)
const timer = fc.constantFrom<[string | undefined, string | undefined]>(
  [undefined, undefined],
  ["90s", undefined],
  ["0s", undefined],
  ["3s", "1s"],
  ["2m", "30s"],
  ["1m30s", "0s"],
  ["4.5s", "4s"],
  [undefined, "10s"]
)

/** A valid legacy configuration: pools in disjoint /16s, distinct peer addresses, references that resolve. */
const validConfig = fc
  .record({
    aliases: fc.dictionary(aliasName, community, { maxKeys: 3 }),
    profiles: fc.uniqueArray(
      fc.record(
        {
          name: fc.stringMatching(/^_?[a-zA-Z][a-zA-Z0-9_-]{0,10}[a-z0-9]$/),
          "receive-interval": fc.integer({ min: 10, max: 60000 }),
          "transmit-interval": fc.integer({ min: 10, max: 60000 }),
          "detect-multiplier": fc.integer({ min: 2, max: 255 }),
          "passive-mode": fc.boolean(),
          "minimum-ttl": fc.integer({ min: 1, max: 254 })
        },
        { requiredKeys: ["name"] }
      ),
      // Names equal after DNS fixing would collide as CRs: keep them apart.
      { maxLength: 2, selector: (p) => p.name.toLowerCase().replaceAll("_", "-").replace(/^[^a-z]*/, "") }
    ),
    pools: fc.array(
      fc.record({
        namePrefix: fc.constantFrom("pool-", "Pool_", "01-pool-", "p"),
        protocol: fc.constantFrom("layer2", "bgp"),
        form: fc.constantFrom("cidr", "range", "v6", "both"),
        prefix: fc.integer({ min: 20, max: 32 }),
        autoAssign: fc.option(fc.boolean(), { nil: undefined }),
        avoidBuggy: fc.option(fc.boolean(), { nil: undefined }),
        localpref: fc.option(fc.integer({ min: 0, max: 4294967295 }), { nil: undefined }),
        ads: fc.array(fc.record({ aggregate: fc.boolean(), v6: fc.boolean(), communities: fc.array(fc.oneof(community, fc.constant("@alias")), { maxLength: 2 }) }), { maxLength: 3 })
      }),
      { maxLength: 4 }
    ),
    peers: fc.array(
      fc.record({
        myAsn: fc.integer({ min: 1, max: 4294967295 }),
        peerAsn: fc.integer({ min: 1, max: 4294967295 }),
        port: fc.option(fc.integer({ min: 1, max: 16384 }), { nil: undefined }),
        timer,
        routerId: fc.option(fc.constant("192.0.2.200"), { nil: undefined }),
        source: fc.option(fc.constant("192.0.2.100"), { nil: undefined }),
        selectors: fc.uniqueArray(selector, { maxLength: 2, selector: selectorKey }),
        password: fc.option(fc.string({ minLength: 1, maxLength: 8 }), { nil: undefined }),
        multihop: fc.boolean(),
        bfd: fc.boolean()
      }),
      { maxLength: 3 }
    )
  })
  .map(({ aliases, profiles, pools, peers }): Mutable => {
    const aliasNames = Object.keys(aliases)
    const cfg: Mutable = {}
    if (peers.length > 0) {
      cfg["peers"] = peers.map((p, i) => {
        const [hold, keepalive] = p.timer
        const multihop = p.multihop && p.myAsn !== p.peerAsn
        const profile = p.bfd ? profiles[i % Math.max(profiles.length, 1)]?.name : undefined
        return {
          "my-asn": p.myAsn,
          "peer-asn": p.peerAsn,
          "peer-address": `198.51.100.${i + 1}`,
          ...(p.port === undefined ? {} : { "peer-port": p.port }),
          ...(hold === undefined ? {} : { "hold-time": hold }),
          ...(keepalive === undefined ? {} : { "keepalive-time": keepalive }),
          ...(p.routerId === undefined ? {} : { "router-id": p.routerId }),
          ...(p.source === undefined ? {} : { "source-address": p.source }),
          ...(p.selectors.length === 0 ? {} : { "node-selectors": p.selectors }),
          ...(p.password === undefined ? {} : { password: p.password }),
          ...(multihop ? { "ebgp-multihop": true } : {}),
          ...(profile === undefined ? {} : { "bfd-profile": profile })
        }
      })
    }
    if (aliasNames.length > 0) cfg["bgp-communities"] = aliases
    if (profiles.length > 0) cfg["bfd-profiles"] = profiles
    if (pools.length > 0) {
      cfg["address-pools"] = pools.map((p, i) => {
        const v4 = p.form === "range" ? [`10.${i}.0.10 - 10.${i}.0.20`] : [`10.${i}.0.0/${p.prefix}`]
        const addresses = p.form === "v6" ? [`2001:db8:${i}::/120`] : p.form === "both" ? [...v4, `2001:db8:${i}::/120`] : v4
        // The most specific prefix of the pool bounds the aggregation length from below.
        const v4Max = p.form === "range" ? 32 : p.prefix
        const ads = p.protocol === "bgp"
          ? p.ads.map((ad) => ({
            ...(ad.aggregate ? { "aggregation-length": v4Max } : {}),
            ...(ad.v6 ? { "aggregation-length-v6": 120 } : {}),
            // Advertisements of one pool share a local preference: MetalLB rejects conflicting ones.
            ...(p.localpref === undefined ? {} : { localpref: p.localpref }),
            // Duplicates are merged by MetalLB 0.12 but rejected by the CRD parser: keep them out.
            communities: [...new Set(ad.communities.flatMap((c) => (c === "@alias" ? aliasNames.slice(0, 1) : [c])))]
          }))
          : []
        return {
          name: `${p.namePrefix}${i}`,
          protocol: p.protocol,
          addresses,
          ...(p.autoAssign === undefined ? {} : { "auto-assign": p.autoAssign }),
          ...(p.avoidBuggy === undefined ? {} : { "avoid-buggy-ips": p.avoidBuggy }),
          ...(ads.length === 0 ? {} : { "bgp-advertisements": ads })
        }
      })
    }
    return cfg
  })

/** One change that makes a valid config invalid, and the path where the problem must be reported. */
interface Mutation {
  readonly apply: (cfg: Mutable) => Legacy.Path
}

const at = (cfg: Mutable, key: string, n: number): Mutable | undefined => {
  const list = cfg[key]
  return Array.isArray(list) && list.length > 0 ? (list[n % list.length] as Mutable) : undefined
}
const indexOf = (cfg: Mutable, key: string, item: Mutable): number => (cfg[key] as Array<unknown>).indexOf(item)

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ key: fc.stringMatching(/^[a-z][a-z-]{0,10}$/).filter((k) => !["peers", "bgp-communities", "address-pools", "bfd-profiles"].includes(k)) }).map(
    ({ key }): Mutation => ({
      apply: (cfg) => {
        cfg[key] = 1
        return [key]
      }
    })
  ),
  fc.record({ n: fc.nat(), key: fc.constantFrom("peer-adress", "myasn", "holdtime", "x") }).map(({ n, key }): Mutation => ({
    apply: (cfg) => {
      const peer = at(cfg, "peers", n)
      if (peer === undefined) {
        cfg["peers"] = "not a list"
        return ["peers"]
      }
      peer[key] = "x"
      return ["peers", indexOf(cfg, "peers", peer), key]
    }
  })),
  fc.record({ n: fc.nat(), value: fc.constantFrom("l2", "BGP", "arp", "layer-2") }).map(({ n, value }): Mutation => ({
    apply: (cfg) => {
      const pool = at(cfg, "address-pools", n)
      if (pool === undefined) {
        cfg["address-pools"] = [{ name: "p", addresses: ["192.0.2.0/24"] }]
        return ["address-pools", 0, "protocol"]
      }
      pool["protocol"] = value
      return ["address-pools", indexOf(cfg, "address-pools", pool), "protocol"]
    }
  })),
  fc.record({ n: fc.nat(), value: fc.constantFrom("10.0.0.0/33", "banana", "10.0.0.5-10.0.0.1", "") }).map(({ n, value }): Mutation => ({
    apply: (cfg) => {
      const pool = at(cfg, "address-pools", n)
      if (pool === undefined) {
        cfg["address-pools"] = [{ name: "p", protocol: "bgp", addresses: [value] }]
        return ["address-pools", 0, "addresses", 0]
      }
      pool["addresses"] = [value]
      return ["address-pools", indexOf(cfg, "address-pools", pool), "addresses", 0]
    }
  })),
  fc.record({ n: fc.nat(), field: fc.constantFrom("peer-address", "router-id", "source-address", "hold-time", "my-asn") }).map(({ n, field }): Mutation => ({
    apply: (cfg) => {
      const peer = at(cfg, "peers", n)
      if (peer === undefined) {
        cfg["peers"] = [{ "my-asn": 1, "peer-asn": 2 }]
        return ["peers", 0, "peer-address"]
      }
      peer[field] = field === "hold-time" ? "1s" : field === "my-asn" ? 0 : "999.1.1.1"
      return ["peers", indexOf(cfg, "peers", peer), field]
    }
  })),
  fc.nat().map((n): Mutation => ({
    apply: (cfg) => {
      const pool = at(cfg, "address-pools", n)
      if (pool === undefined) {
        cfg["bfd-profiles"] = [{ name: "a", "detect-multiplier": 1 }]
        return ["bfd-profiles", 0, "detect-multiplier"]
      }
      const pools = cfg["address-pools"] as Array<Mutable>
      pools.push({ ...pool, addresses: ["203.0.113.0/24"], "bgp-advertisements": [] })
      return ["address-pools", pools.length - 1, "name"]
    }
  }))
)

describe("LegacyConfig properties", () => {
  it("a valid legacy config converts to custom resources that parseConfig accepts", () => {
    fc.assert(
      fc.property(validConfig, (cfg) => {
        const legacy = Legacy.parseText(stringify(cfg))
        assert.deepStrictEqual(issuesOf(legacy), [])
        const resources = Convert.toResources(Result.getOrThrow(legacy))
        assert.isTrue(Result.isSuccess(resources))
        const rs = Result.getOrThrow(resources)
        assert.deepStrictEqual(validateObjects(rs).errors, [])
        // The printed YAML is the same set of objects.
        assert.deepStrictEqual(validateObjects(rs).errors, validateObjects(JSON.parse(JSON.stringify(rs))).errors)
      }),
      { numRuns: 150 }
    )
  })

  it("a mutated config is rejected with an error located at the mutated field, never an exception", () => {
    fc.assert(
      fc.property(validConfig, mutation, (cfg, m) => {
        const path = m.apply(cfg)
        const r = Legacy.parseText(stringify(cfg))
        assert.isTrue(Result.isFailure(r), `accepted: ${stringify(cfg)}`)
        const issues = Result.isFailure(r) ? r.failure : []
        assert.isTrue(
          issues.some((i) => Legacy.formatPath(i.path) === Legacy.formatPath(path)),
          `no issue at ${Legacy.formatPath(path)}: ${JSON.stringify(issues)}`
        )
        for (const issue of issues) {
          assert.isAbove(issue.message.length, 0)
          assert.isNumber(issue.line)
        }
      }),
      { numRuns: 200 }
    )
  })

  it("any YAML value at all gives a Result, never a throw", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const r = Legacy.decode(value)
        assert.isTrue(Result.isSuccess(r) || Result.isFailure(r))
      }),
      { numRuns: 300 }
    )
    fc.assert(
      fc.property(fc.string(), (text) => {
        const r = Legacy.parseText(text)
        assert.isTrue(Result.isSuccess(r) || Result.isFailure(r))
      }),
      { numRuns: 300 }
    )
  })
})
