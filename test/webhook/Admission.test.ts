import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import { parseConfig } from "../../src/config/Parse.ts"
import {
  admit,
  type AdmissionRequest,
  type AdmissionResponse,
  decodeRequest,
  disableMPWarning,
  type Existing,
  listsNeeded,
  toReview
} from "../../src/webhook/Admission.ts"
import { validConfig } from "../config/arbitraries.ts"
import { bfd, bgpAd, community, l2, node, peer, peerSpec, peerV1beta1, pool } from "../config/fixtures.ts"

type Obj = { readonly apiVersion: string; readonly kind: string; readonly metadata: { readonly name: string } }

const request = (operation: AdmissionRequest["operation"], object: Obj, oldObject?: Obj): AdmissionRequest => {
  const [group, version] = object.apiVersion.split("/")
  return {
    uid: "0b4f8c1e-uid",
    kind: { group: group ?? "", version: version ?? "", kind: object.kind },
    namespace: "metallb-system",
    name: object.metadata.name,
    operation,
    ...(operation === "DELETE" ? { oldObject: object } : { object }),
    ...(oldObject !== undefined ? { oldObject } : {})
  }
}

const create = (object: Obj, existing: Existing = {}) => admit(request("CREATE", object), existing)
const update = (object: Obj, existing: Existing = {}) => admit(request("UPDATE", object, object), existing)

/** The denial message of a 403 Forbidden response ("" when allowed, so that `include` fails with both texts). */
const denial = (response: AdmissionResponse): string => {
  if (response.allowed) return ""
  assert.strictEqual(response.status?.code, 403)
  assert.strictEqual(response.status?.reason, "Forbidden")
  return response.status?.message ?? ""
}

/** "allowed", or the denial message. */
const verdict = (response: AdmissionResponse): string => (response.allowed ? "allowed" : response.status?.message ?? "denied")

const otherNs = { namespace: "default" }
const inZone = (zone: string) => [{ matchLabels: { zone } }]
const alias = (name: string, value: string) => ({ name, value })

describe("Admission (e2e Webhooks cases, reference §8.7)", () => {
  describe("IPAddressPool", () => {
    const existing = { ipAddressPools: [pool("pool1", { addresses: ["192.0.2.0/24"] })] }

    it("rejects overlapping addresses on create and update, prefix and range forms", () => {
      for (const addresses of [["192.0.2.128/25"], ["192.0.2.10-192.0.2.20"]]) {
        const incoming = pool("pool2", { addresses })
        assert.include(denial(create(incoming, existing)), "overlaps with already defined CIDR")
        assert.include(denial(update(incoming, existing)), "overlaps with already defined CIDR")
      }
    })

    it("accepts disjoint pools and an update of a pool to new addresses (the old version is replaced)", () => {
      assert.strictEqual(verdict(create(pool("pool2", { addresses: ["198.51.100.0/24"] }), existing)), "allowed")
      assert.strictEqual(verdict(update(pool("pool1", { addresses: ["192.0.2.0/25"] }), existing)), "allowed")
    })

    it("names the CIDRs exactly as MetalLB", () => {
      const r = create(pool("pool2", { addresses: ["192.0.2.0/28"] }), existing)
      assert.include(denial(r), `CIDR "192.0.2.0/28" in pool "pool2" overlaps with already defined CIDR "192.0.2.0/24"`)
    })

    it("checks syntax and start ≤ end", () => {
      assert.isFalse(create(pool("p", { addresses: ["192.0.2.300/24"] })).allowed)
      assert.isFalse(create(pool("p", { addresses: ["192.0.2.20-192.0.2.10"] })).allowed)
    })

    it("is parsed with the BGPAdvertisements: a pool too wide for an aggregation length is caught at once", () => {
      const adv = bgpAd("adv", { aggregationLength: 26, ipAddressPools: ["p"] })
      assert.include(denial(create(pool("p", { addresses: ["192.0.2.0/28"] }), { bgpAdvertisements: [adv] })), "invalid aggregation length 26")
    })
  })

  describe("BGPAdvertisement", () => {
    const pools = { ipAddressPools: [pool("pool1", { addresses: ["1.1.1.0/28"] })] }

    it("rejects an aggregation length less specific than a pool prefix", () => {
      const r = create(bgpAd("adv", { aggregationLength: 26, ipAddressPools: ["pool1"] }), pools)
      assert.include(
        denial(r),
        "invalid aggregation length 26: prefix 28 in this pool is more specific than the aggregation length for addresses 1.1.1.0/28"
      )
    })

    it("rejects serviceSelectors with a non-default aggregationLength", () => {
      const r = create(
        bgpAd("adv", { aggregationLength: 30, serviceSelectors: [{ matchLabels: { app: "web" } }], ipAddressPools: ["pool1"] }),
        pools
      )
      assert.include(denial(r), "serviceSelectors and aggregationLength are mutually exclusive")
    })

    it("accepts a valid advertisement; a Community alias that does not exist yet is not an error", () => {
      assert.strictEqual(verdict(create(bgpAd("adv", { aggregationLength: 32, ipAddressPools: ["pool1"], communities: ["later-alias"] }), pools)), "allowed")
    })

    it("does not warn about peers, which MetalLB does not pass to this check", () => {
      const r = create(bgpAd("adv", { peers: ["peer-elsewhere"], ipAddressPools: ["nope"] }), pools)
      assert.strictEqual(verdict(r), "allowed")
      assert.deepStrictEqual(r.warnings, [`BGPAdvertisement "adv" spec.ipAddressPools[0]: no IPAddressPool named "nope": ignored`])
    })

    it("rejects incompatible local preferences on the same pool for shared nodes", () => {
      const existing = {
        ...pools,
        nodes: [node("n1")],
        bgpAdvertisements: [bgpAd("adv1", { localPref: 100, ipAddressPools: ["pool1"] })]
      }
      assert.include(denial(create(bgpAd("adv2", { localPref: 200, ipAddressPools: ["pool1"] }), existing)), "invalid local preference")
    })
  })

  describe("L2Advertisement", () => {
    it("rejects duplicate pools and bad selectors, accepts a valid one", () => {
      const pools = { ipAddressPools: [pool("pool1", { addresses: ["192.0.2.0/24"] })] }
      assert.include(denial(create(l2("l2", { ipAddressPools: ["pool1", "pool1"] }), pools)), `duplicate definition of ipAddressPools "pool1"`)
      assert.isFalse(
        create(l2("l2", { nodeSelectors: [{ matchExpressions: [{ key: "zone", operator: "In", values: [] }] }] }), pools).allowed
      )
      assert.strictEqual(verdict(create(l2("l2", { ipAddressPools: ["pool1"], interfaces: ["eth0"] }), pools)), "allowed")
    })
  })

  describe("BGPPeer", () => {
    it("rejects an invalid BGPPeer IP address", () => {
      assert.include(denial(create(peer("peer1", peerSpec({ peerAddress: "1.1.1" })))), "invalid BGPPeer address")
      assert.include(denial(update(peer("peer1", peerSpec({ peerAddress: "1.1.1" })))), "invalid BGPPeer address")
    })

    const nodes = [node("n1", { zone: "a" }), node("n2", { zone: "b" })]
    it("rejects two peers with the same address and overlapping nodeSelectors", () => {
      const existing = { nodes, bgpPeers: [peer("peer1", peerSpec({ nodeSelectors: inZone("a") }))] }
      assert.include(denial(create(peer("peer2", peerSpec({ nodeSelectors: inZone("a") })), existing)), "already exists")
    })

    it("allows two peers with the same address when nodeSelectors are disjoint", () => {
      const existing = { nodes, bgpPeers: [peer("peer1", peerSpec({ nodeSelectors: inZone("a") }))] }
      assert.strictEqual(verdict(create(peer("peer2", peerSpec({ nodeSelectors: inZone("b") })), existing)), "allowed")
    })

    it("ignores references that may appear later: a BFDProfile or a password Secret", () => {
      assert.strictEqual(verdict(create(peer("p", peerSpec({ bfdProfile: "later" })))), "allowed")
      assert.strictEqual(verdict(create(peer("p", peerSpec({ passwordSecret: { name: "later" } })))), "allowed")
    })

    it("rejects myASN 0, both peerASN and dynamicASN, ebgpMultiHop on iBGP", () => {
      assert.include(denial(create(peer("p", peerSpec({ myASN: 0 })))), "missing local ASN")
      assert.include(denial(create(peer("p", peerSpec({ dynamicASN: "external" })))), "both peer ASN and dynamicASN specified")
      assert.include(denial(create(peer("p", peerSpec({ peerASN: 64500, ebgpMultiHop: true })))), "invalid ebgp-multihop parameter set for an ibgp peer")
    })

    it("create with disableMP: allowed with the deprecation warning and nothing else checked (MetalLB's quirk)", () => {
      const r = create(peer("p", peerSpec({ disableMP: true, peerAddress: "not-an-ip" }), otherNs))
      assert.deepStrictEqual(r, { uid: "0b4f8c1e-uid", allowed: true, warnings: [disableMPWarning] })
      assert.deepStrictEqual(listsNeeded(request("CREATE", peer("p", peerSpec({ disableMP: true })))), [])
    })

    it("update with disableMP is validated and warned about", () => {
      const r = update(peer("p", peerSpec({ disableMP: true })))
      assert.strictEqual(verdict(r), "allowed")
      assert.strictEqual(r.warnings?.length, 1)
      assert.include(r.warnings?.[0] ?? "", "disable mp is deprecated")
      assert.include(denial(update(peer("p", peerSpec({ disableMP: true, peerAddress: "not-an-ip" })))), "invalid BGPPeer address")
    })

    it("converts a v1beta1 request to v1beta2 before the check", () => {
      assert.strictEqual(verdict(create(peerV1beta1("p", peerSpec()))), "allowed")
      assert.include(denial(create(peerV1beta1("p", peerSpec({ peerAddress: "1.1.1" })))), "invalid BGPPeer address")
    })
  })

  describe("Community", () => {
    it("rejects invalid legacy and large values on create and update", () => {
      const legacy = community("c", { communities: [alias("a", "65536:1")] })
      assert.include(denial(create(legacy)), "invalid community value: invalid section")
      assert.include(denial(update(legacy)), "invalid community value: invalid section")
      const large = community("c", { communities: [alias("a", "lrge:1:2:3")] })
      assert.include(denial(create(large)), "expected community to be of format large")
      assert.include(denial(update(large)), "expected community to be of format large")
    })

    it("rejects duplicate aliases within one object and across objects", () => {
      assert.include(denial(create(community("c", { communities: [alias("a", "1:1"), alias("a", "1:2")] }))), "duplicate definition of community")
      const existing = { communities: [community("c1", { communities: [alias("a", "1:1")] })] }
      assert.include(denial(create(community("c2", { communities: [alias("a", "1:2")] }), existing)), "duplicate definition of community")
      assert.strictEqual(verdict(create(community("c2", { communities: [alias("b", "large:1:2:3")] }), existing)), "allowed")
    })
  })

  describe("BFDProfile", () => {
    it("rejects deleting a profile used by a BGPPeer; deletable once the peer is gone", () => {
      const profile = bfd("fast", { receiveInterval: 100 })
      const existing = { bgpPeers: [peer("peer2", peerSpec({ bfdProfile: "fast" })), peer("peer1", peerSpec({ bfdProfile: "fast" }))] }
      const del = request("DELETE", profile)
      assert.deepStrictEqual(listsNeeded(del), ["bgpPeers"])
      assert.include(denial(admit(del, existing)), "failed to delete BFDProfile fast, used by BGPPeer peer1")
      assert.strictEqual(verdict(admit(del, { bgpPeers: [] })), "allowed")
    })

    it("create checks the namespace only; updates are not hooked", () => {
      assert.strictEqual(verdict(create(bfd("fast", { echoMode: true }))), "allowed")
      assert.deepStrictEqual(listsNeeded(request("CREATE", bfd("fast"))), [])
      assert.strictEqual(verdict(update(bfd("fast", {}, otherNs))), "allowed")
    })
  })

  it("namespace validation: every kind must be created in metallb-system", () => {
    const objects: ReadonlyArray<Obj> = [
      bfd("x", {}, otherNs),
      pool("x", { addresses: ["192.0.2.0/24"] }, otherNs),
      peer("x", peerSpec(), otherNs),
      bgpAd("x", {}, otherNs),
      l2("x", {}, otherNs),
      community("x", { communities: [] }, otherNs)
    ]
    for (const o of objects) {
      const r = create(o)
      assert.include(denial(r), "resource must be created in metallb-system namespace")
      assert.strictEqual(r.status?.message, "resource must be created in metallb-system namespace")
    }
  })

  it("a custom MetalLB namespace is honoured", () => {
    const r = admit(request("CREATE", pool("x", { addresses: ["192.0.2.0/24"] })), {}, { namespace: "lb" })
    assert.strictEqual(r.status?.message, "resource must be created in lb namespace")
  })
})

describe("Admission requests", () => {
  it("names the lists each kind is parsed with", () => {
    assert.deepStrictEqual(listsNeeded(request("CREATE", pool("p"))), ["ipAddressPools", "bgpAdvertisements", "nodes"])
    assert.deepStrictEqual(listsNeeded(request("UPDATE", bgpAd("a"))), ["bgpAdvertisements", "ipAddressPools", "nodes"])
    assert.deepStrictEqual(listsNeeded(request("UPDATE", l2("a"))), ["l2Advertisements", "ipAddressPools"])
    assert.deepStrictEqual(listsNeeded(request("CREATE", community("c"))), ["communities"])
    assert.deepStrictEqual(listsNeeded(request("CREATE", peer("p", peerSpec()))), ["bgpPeers", "nodes"])
    assert.deepStrictEqual(listsNeeded(request("DELETE", pool("p"))), [])
  })

  it("allows deletes of validated kinds without looking", () => {
    assert.strictEqual(verdict(admit(request("DELETE", pool("p")), {})), "allowed")
  })

  it("decodes an AdmissionReview and reports what is wrong with a bad one", () => {
    const body = { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: request("CREATE", pool("p")) }
    assert.isTrue(Result.isSuccess(decodeRequest(body)))
    const bad = decodeRequest({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: { uid: 1 } })
    assert.isTrue(Result.isFailure(bad))
    if (Result.isFailure(bad)) assert.include(bad.failure, "request.uid")
  })

  it("answers 400 for a missing object and an unknown kind", () => {
    const noObject = admit({ ...request("CREATE", pool("p")), object: null }, {})
    assert.strictEqual(noObject.status?.code, 400)
    const wrong = admit(request("CREATE", { apiVersion: "v1", kind: "Service", metadata: { name: "s" } }), {})
    assert.strictEqual(wrong.status?.code, 400)
  })

  it("wraps the response in an AdmissionReview v1", () => {
    assert.deepStrictEqual(toReview({ uid: "u", allowed: true }), {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      response: { uid: "u", allowed: true }
    })
  })
})

describe("Admission properties", () => {
  const listOf = {
    IPAddressPool: "ipAddressPools",
    BGPAdvertisement: "bgpAdvertisements",
    L2Advertisement: "l2Advertisements",
    Community: "communities",
    BGPPeer: "bgpPeers"
  } as const

  it("in a valid configuration, re-submitting any object as an update is allowed", () => {
    fc.assert(
      fc.property(validConfig, (config) => {
        fc.pre(Result.isSuccess(parseConfig(config)))
        const existing: Existing = {
          ipAddressPools: config.ipAddressPools ?? [],
          bgpAdvertisements: config.bgpAdvertisements ?? [],
          l2Advertisements: config.l2Advertisements ?? [],
          communities: config.communities ?? [],
          bgpPeers: config.bgpPeers ?? [],
          nodes: config.nodes ?? []
        }
        for (const [kind, list] of Object.entries(listOf)) {
          for (const o of existing[list] ?? []) {
            assert.strictEqual((o as Obj).kind, kind)
            const r = update(o as Obj, existing)
            assert.isTrue(r.allowed, r.status?.message)
          }
        }
      }),
      { numRuns: 40 }
    )
  })

  it("a copy of an existing pool under a new name is always rejected for overlap", () => {
    fc.assert(
      fc.property(validConfig, (config) => {
        const pools = (config.ipAddressPools ?? []) as ReadonlyArray<Obj & { spec: { addresses: ReadonlyArray<string> } }>
        fc.pre(pools.length > 0 && Result.isSuccess(parseConfig(config)))
        for (const p of pools) {
          fc.pre(p.spec.addresses.length > 0)
          const copy = { ...p, metadata: { ...p.metadata, name: `${p.metadata.name}-copy` } }
          assert.include(denial(create(copy, { ipAddressPools: pools })), "overlaps with already defined CIDR")
        }
      }),
      { numRuns: 40 }
    )
  })

  it("the order in which the API server lists the existing objects does not change the answer", () => {
    fc.assert(
      fc.property(validConfig, fc.nat(), (config, seed) => {
        const pools = (config.ipAddressPools ?? []) as ReadonlyArray<Obj>
        fc.pre(pools.length > 1)
        const shuffled = <T>(xs: ReadonlyArray<T>): Array<T> =>
          xs.map((x, i) => [((i + 1) * 7919 * (seed + 1)) % 104729, x] as const).toSorted((a, b) => a[0] - b[0]).map(([, x]) => x)
        const incoming = pool("zz-new", { addresses: ["203.0.113.0/28"] })
        const existing = { ipAddressPools: pools, bgpAdvertisements: config.bgpAdvertisements ?? [], nodes: config.nodes ?? [] }
        const reordered = { ...existing, ipAddressPools: shuffled(pools), bgpAdvertisements: shuffled(existing.bgpAdvertisements) }
        assert.deepStrictEqual(create(incoming, reordered), create(incoming, existing))
      }),
      { numRuns: 40 }
    )
  })

  it("never throws: any JSON as the object gives a response", () => {
    const kinds = fc.constantFrom("IPAddressPool", "BGPAdvertisement", "L2Advertisement", "Community", "BGPPeer", "BFDProfile")
    const ops = fc.constantFrom("CREATE" as const, "UPDATE" as const, "DELETE" as const, "CONNECT" as const)
    fc.assert(
      fc.property(kinds, ops, fc.jsonValue(), fc.jsonValue(), (kind, operation, object, spec) => {
        const base: AdmissionRequest = { uid: "u", kind: { group: "metallb.io", version: "v1beta1", kind }, operation }
        for (const o of [object, { apiVersion: "metallb.io/v1beta1", kind, metadata: { name: "x", namespace: "metallb-system" }, spec }]) {
          const r = admit({ ...base, object: o, oldObject: o }, { bgpPeers: [o], ipAddressPools: [o] })
          assert.strictEqual(r.uid, "u")
          assert.isBoolean(r.allowed)
          if (!r.allowed) assert.isString(r.status?.message)
        }
      }),
      { numRuns: 300 }
    )
  })
})
