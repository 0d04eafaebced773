import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { parse, parseAllDocuments } from "yaml"
import * as Convert from "../../../src/config/legacy/Convert.ts"
import * as Legacy from "../../../src/config/legacy/LegacyConfig.ts"
import { validateObjects } from "../../../src/config/Objects.ts"

const dir = "test/config/fixtures"
const read = (path: string): string => readFileSync(`${dir}/${path}`, "utf8")

/** The `config` text of a fixture: a ConfigMap's `data.config`, or the whole file for a bare document. */
const configText = (text: string): string => {
  const doc: unknown = parse(text)
  return Legacy.isLegacyConfigMap(doc) ? doc.data.config : text
}

const ok = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) assert.fail(JSON.stringify(r.failure, null, 2))
  return (r as Result.Success<A, E>).success
}

/** Go's serializer writes zero values configmaptocrs never set; they carry no meaning. */
const normalize = (o: Record<string, unknown>): unknown => {
  const { status: _status, ...rest } = o
  const metadata = { ...(rest["metadata"] as Record<string, unknown>) }
  delete metadata["creationTimestamp"]
  const spec = { ...(rest["spec"] as Record<string, unknown>) }
  if (JSON.stringify(spec["passwordSecret"]) === "{}") delete spec["passwordSecret"]
  return { ...rest, metadata, spec }
}

describe("configmaptocrs golden files", () => {
  const goldens = readdirSync(`${dir}/configmaptocrs`).filter((f) => f.endsWith(".golden"))

  it("has the goldens", () => assert.isAtLeast(goldens.length, 4))

  for (const golden of goldens) {
    it(`${golden}: the same objects as MetalLB's converter`, () => {
      const input = read(`configmaptocrs/${golden.replace(/\.golden$/, ".yaml")}`)
      // configmaptocrs reads its input without MetalLB's semantic rules (it keeps `protocol: l2`): so does this check.
      const legacy = ok(Legacy.decodeStructure(parse(configText(input))))
      const resources = ok(Convert.toResources(legacy))
      const expected = parseAllDocuments(read(`configmaptocrs/${golden}`))
        .map((d) => d.toJS() as Record<string, unknown> | null)
        .filter((o) => o !== null)
        .map(normalize)
      assert.deepStrictEqual(resources, expected)
      // And the YAML we print reads back as the same objects.
      const printed = parseAllDocuments(Convert.toYaml(resources)).map((d) => d.toJS()).filter((o) => o !== null)
      assert.deepStrictEqual(printed, resources)
    })
  }

  it("rejects what MetalLB 0.12 rejected: the golden input with `protocol: l2` is not a valid legacy config", () => {
    const issues = Result.match(Legacy.parseText(configText(read("configmaptocrs/config-data-full.yaml"))), {
      onSuccess: () => [],
      onFailure: (i) => i.map(Legacy.formatIssue)
    })
    assert.deepStrictEqual(issues, ['line 37, column 3: address-pools[1].protocol: unknown protocol "l2" (expected layer2 or bgp)'])
  })
})

const convert = (text: string) => ok(Convert.toResources(ok(Legacy.parseText(text))))
const names = (rs: ReadonlyArray<Convert.Resource>) => rs.map((r) => `${r.kind}/${r.metadata.name}`)

describe("toResources", () => {
  it("numbers BGPAdvertisements with one counter across pools; a bgp pool without any gets an empty one", () => {
    const rs = convert(`
address-pools:
- name: a
  protocol: bgp
  addresses: [192.0.2.0/28]
  bgp-advertisements: [{localpref: 100}, {aggregation-length: 28}]
- name: b
  protocol: layer2
  addresses: [192.0.2.16/28]
- name: c
  protocol: bgp
  addresses: [192.0.2.32/28]
- name: d
  protocol: layer2
  addresses: [192.0.2.48/28]
`)
    assert.deepStrictEqual(names(rs), [
      "IPAddressPool/a",
      "IPAddressPool/b",
      "IPAddressPool/c",
      "IPAddressPool/d",
      "BGPAdvertisement/bgpadvertisement1",
      "BGPAdvertisement/bgpadvertisement2",
      "BGPAdvertisement/bgpadvertisement3",
      "L2Advertisement/l2advertisement1",
      "L2Advertisement/l2advertisement2"
    ])
    assert.deepStrictEqual(rs[6]?.spec, { ipAddressPools: ["c"] })
    assert.deepStrictEqual(rs[4]?.spec, { ipAddressPools: ["a"], localPref: 100 })
    assert.deepStrictEqual(validateObjects(rs).errors, [])
  })

  it("writes holdTime always (default 1m30s, truncated to seconds) and keepaliveTime only when set", () => {
    const rs = convert(`
peers:
- {my-asn: 64500, peer-asn: 64501, peer-address: 192.0.2.1}
- {my-asn: 64500, peer-asn: 64501, peer-address: 192.0.2.2, hold-time: 3.9s, keepalive-time: 1500ms}
- {my-asn: 64500, peer-asn: 64501, peer-address: 192.0.2.3, hold-time: 1h, ebgp-multihop: true, peer-port: 1179}
`)
    assert.deepStrictEqual(rs.map((r) => r.spec), [
      { holdTime: "1m30s", myASN: 64500, peerASN: 64501, peerAddress: "192.0.2.1" },
      { holdTime: "3s", keepaliveTime: "1s", myASN: 64500, peerASN: 64501, peerAddress: "192.0.2.2" },
      { ebgpMultiHop: true, holdTime: "1h0m0s", myASN: 64500, peerASN: 64501, peerAddress: "192.0.2.3", peerPort: 1179 }
    ])
  })

  it("sorts community aliases in byte order, like Go's sort.Strings", () => {
    const rs = convert("bgp-communities: {b: '1:2', B: '1:3', a: '1:1', _x: '1:4'}")
    assert.deepStrictEqual(rs[0]?.spec, {
      communities: [
        { name: "B", value: "1:3" },
        { name: "_x", value: "1:4" },
        { name: "a", value: "1:1" },
        { name: "b", value: "1:2" }
      ]
    })
  })

  it("fixes pool and BFD profile names, and the peers' references to the profiles", () => {
    const rs = convert(`
peers: [{my-asn: 64500, peer-asn: 64501, peer-address: 192.0.2.1, bfd-profile: Fast_Profile}]
bfd-profiles: [{name: Fast_Profile}]
address-pools: [{name: 2nd_Pool, protocol: layer2, addresses: [192.0.2.0/28]}]
`)
    assert.deepStrictEqual(names(rs), ["BGPPeer/peer1", "IPAddressPool/nd-pool", "L2Advertisement/l2advertisement1", "BFDProfile/fast-profile"])
    assert.strictEqual(rs[0]?.spec["bfdProfile"], "fast-profile")
    assert.deepStrictEqual(rs[2]?.spec, { ipAddressPools: ["nd-pool"] })
  })

  it("fails, naming the object, when a name has no letter to start from", () => {
    const r = Convert.toResources(ok(Legacy.parseText("address-pools: [{name: '2021', protocol: layer2, addresses: [192.0.2.0/28]}]")))
    assert.deepStrictEqual(Result.isFailure(r) ? r.failure : [], [
      { path: ["address-pools", 0, "name"], message: "failed to make IpAddressPool K8S compatible: 2021" }
    ])
  })

  it("fixName follows configmaptocrs", () => {
    const cases: Array<[string, string]> = [
      ["my-pool", "my-pool"],
      ["01-numbered-addresspool", "numbered-addresspool"],
      ["Capitalized-AddressPool", "capitalized-addresspool"],
      ["underscored_bfd_profile", "underscored-bfd-profile"],
      [
        "tooLongBFDProfileName01-tooLongBFDProfileName02-tooLongBFDProfileName03-tooLongBFDProfileName04",
        "toolongbfdprofilename01-toolongbfdprofilename02-toolongbfdprofi"
      ]
    ]
    for (const [input, output] of cases) assert.strictEqual(ok(Convert.fixName(input, "IpAddressPool")), output)
    assert.isTrue(Result.isFailure(Convert.fixName("__1", "BFDProfile")))
  })

  it("quotes by YAML 1.1 rules: kubectl must read 64512:1 back as a string", () => {
    const yaml = Convert.toYaml(convert(`
address-pools:
- name: p
  protocol: bgp
  addresses: [192.0.2.0/28]
  bgp-advertisements: [{communities: ["64512:1", "65535:65281"]}]
`))
    assert.include(yaml, '  - "64512:1"\n  - 65535:65281\n')
  })

  const legacyFixtures = ["legacy/example-config.yaml", "legacy/example-config-0.12.yaml", "legacy/docs-bgp-advertisements.yaml"]
  const dataFixtures = ["legacy/docs-data-bfd.yaml", "legacy/docs-data-node-selectors.yaml", "legacy/docs-data-source-address.yaml", "legacy/docs-data-auto-assign.yaml"]
  for (const file of [...legacyFixtures, ...dataFixtures]) {
    it(`${file} converts to resources that parseConfig accepts`, () => {
      const rs = convert(configText(read(file)))
      assert.isNotEmpty(rs)
      assert.deepStrictEqual(validateObjects(rs).errors, [])
    })
  }

  it("the 0.9 example-config: peer, pool with auto-assign false, advertisement with alias, community", () => {
    const rs = convert(configText(read("legacy/example-config.yaml")))
    assert.deepStrictEqual(names(rs), ["BGPPeer/peer1", "IPAddressPool/my-ip-space", "BGPAdvertisement/bgpadvertisement1", "Community/communities"])
    assert.deepStrictEqual(rs[1]?.spec, { addresses: ["198.51.100.0/24", "192.168.0.150-192.168.0.200"], autoAssign: false, avoidBuggyIPs: true })
    assert.deepStrictEqual(rs[0]?.spec["nodeSelectors"], [
      { matchExpressions: [{ key: "beta.kubernetes.io/arch", operator: "In", values: ["amd64", "arm"] }], matchLabels: { "kubernetes.io/hostname": "prod-01" } }
    ])
  })
})
