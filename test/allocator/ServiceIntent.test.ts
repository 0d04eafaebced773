import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as Ip from "../../src/net/Ip.ts"
import * as ServiceIntent from "../../src/allocator/ServiceIntent.ts"
import { DUAL_CLUSTER, intent, serviceJson } from "./fixtures.ts"

const requestedText = (r: ServiceIntent.Requested): string | Array<string> =>
  r._tag === "None" ? "none" : r._tag === "Invalid" ? r.message : r.ips.map(Ip.format)

describe("ServiceIntent.fromService", () => {
  it("extracts identity, type, class, families and ports", () => {
    const s = intent("web", {
      namespace: "shop",
      labels: { app: "web" },
      clusterIPs: DUAL_CLUSTER,
      policy: "PreferDualStack",
      ipFamilies: ["IPv6", "IPv4"],
      ports: [["TCP", 80], ["UDP", 53]],
      loadBalancerClass: "other",
      ingress: ["192.0.2.1", "2001:db8::1"]
    })
    assert.strictEqual(s.key, "shop/web")
    assert.strictEqual(s.namespace, "shop")
    assert.deepStrictEqual(s.labels, { app: "web" })
    assert.strictEqual(s.type, "LoadBalancer")
    assert.strictEqual(s.loadBalancerClass, "other")
    assert.deepStrictEqual(s.clusterFamily._tag === "Ok" ? s.clusterFamily.family : s.clusterFamily.message, "dual")
    assert.strictEqual(s.ipFamilyPolicy, "PreferDualStack")
    assert.strictEqual(s.primaryFamily, 6)
    assert.deepStrictEqual(s.ports, [{ protocol: "TCP", port: 80 }, { protocol: "UDP", port: 53 }])
    assert.deepStrictEqual(s.ingress, ["192.0.2.1", "2001:db8::1"])
    assert.strictEqual(s.backendKey, "")
    assert.strictEqual(s.requested._tag, "None")
  })

  it("parses the current ingress and keeps it in step through withIngress", () => {
    const s = intent("a", { ingress: ["192.0.2.1", "2001:db8::1"] })
    assert.deepStrictEqual(requestedText(s.current), ["192.0.2.1", "2001:db8::1"])
    assert.strictEqual(ServiceIntent.withIngress(s, []).current._tag, "None")
    const odd = ServiceIntent.withIngress(s, ["192.0.2.1", "192.0.2.2"])
    assert.deepStrictEqual(odd.ingress, ["192.0.2.1", "192.0.2.2"])
    assert.strictEqual(requestedText(odd.current), `IPFamilyForAddresses: same address family ["192.0.2.1" "192.0.2.2"]`)
  })

  it("falls back to spec.clusterIP and reports a headless or missing ClusterIP", () => {
    const json = serviceJson("a")
    const spec = json["spec"] as Record<string, unknown>
    delete spec["clusterIPs"]
    const s = Result.getOrThrow(ServiceIntent.fromService(json))
    assert.deepStrictEqual(s.clusterIPs, ["10.96.0.10"])
    const headless = intent("h", { clusterIPs: ["None"] })
    assert.deepStrictEqual(
      headless.clusterFamily,
      { _tag: "Invalid", message: `IPFamilyForAddresses: Invalid address ["None"]` }
    )
    assert.deepStrictEqual(intent("n", { clusterIPs: [] }).clusterIPs, [])
  })

  it("reads requested IPs from the annotation, trimmed, new prefix first", () => {
    assert.deepStrictEqual(
      requestedText(intent("a", { annotations: { "metallb.io/loadBalancerIPs": " 192.0.2.5 , 2001:db8::5" } }).requested),
      ["192.0.2.5", "2001:db8::5"]
    )
    assert.deepStrictEqual(
      requestedText(intent("a", {
        annotations: {
          "metallb.io/loadBalancerIPs": "192.0.2.5",
          "metallb.universe.tf/loadBalancerIPs": "192.0.2.9"
        }
      }).requested),
      ["192.0.2.5"]
    )
    assert.deepStrictEqual(
      requestedText(intent("a", { annotations: { "metallb.universe.tf/loadBalancerIPs": "192.0.2.9" } }).requested),
      ["192.0.2.9"]
    )
    assert.deepStrictEqual(requestedText(intent("a", { loadBalancerIP: "198.51.100.3" }).requested), ["198.51.100.3"])
  })

  it("words request errors like MetalLB", () => {
    const cases: Array<[Record<string, string>, string | undefined, string]> = [
      [{ "metallb.io/loadBalancerIPs": "192.0.2.5" }, "192.0.2.6",
        "service can not have both metallb.io/loadBalancerIPs and svc.Spec.LoadBalancerIP"],
      [{ "metallb.io/loadBalancerIPs": "192.0.2.5,192.0.2.6" }, undefined,
        `IPFamilyForAddresses: same address family ["192.0.2.5" "192.0.2.6"]`],
      [{ "metallb.io/loadBalancerIPs": "192.0.2.5,2001:db8::1,192.0.2.7" }, undefined,
        `IPFamilyForAddresses: invalid ips length 3 ["192.0.2.5" "2001:db8::1" "192.0.2.7"]`],
      [{ "metallb.io/loadBalancerIPs": "192.0.2.5,nope" }, undefined,
        `invalid metallb.io/loadBalancerIPs: "192.0.2.5,nope"`],
      [{}, "300.1.1.1", `invalid spec.loadBalancerIP "300.1.1.1"`]
    ]
    for (const [annotations, lbIP, message] of cases) {
      const s = intent("a", { annotations, ...(lbIP === undefined ? {} : { loadBalancerIP: lbIP }) })
      assert.strictEqual(requestedText(s.requested), message)
    }
  })

  it("reads pool, sharing key and deprecated annotations", () => {
    const s = intent("a", {
      annotations: {
        "metallb.universe.tf/address-pool": "old",
        "metallb.universe.tf/allow-shared-ip": "k-old",
        "metallb.io/allow-shared-ip": ""
      }
    })
    assert.strictEqual(s.requestedPool, "old")
    // The new key wins whenever present, even empty.
    assert.strictEqual(s.sharingKey, "")
    assert.deepStrictEqual(s.deprecatedAnnotations, ["metallb.universe.tf/address-pool", "metallb.universe.tf/allow-shared-ip"])
    assert.strictEqual(intent("b", { annotations: { "metallb.universe.tf/allow-shared-ip": "k" } }).sharingKey, "k")
  })

  it("renders the backend key from the selector for ETP Local only", () => {
    assert.strictEqual(intent("a", { local: { tier: "be", app: "web" } }).backendKey, "app=web,tier=be")
    assert.strictEqual(intent("a", { local: {} }).backendKey, "")
    assert.strictEqual(intent("a").backendKey, "")
  })

  it("rejects objects without identity", () => {
    assert.isTrue(Result.isFailure(ServiceIntent.fromService(null)))
    assert.deepStrictEqual(ServiceIntent.fromService({ metadata: { name: "x" } }), Result.fail("service metadata.namespace: missing"))
  })

  it("filters by load-balancer class like --lb-class", () => {
    const plain = intent("a")
    const classed = intent("b", { loadBalancerClass: "foo" })
    assert.isTrue(ServiceIntent.isHandledBy(plain, undefined))
    assert.isFalse(ServiceIntent.isHandledBy(classed, undefined))
    assert.isTrue(ServiceIntent.isHandledBy(classed, "foo"))
    assert.isFalse(ServiceIntent.isHandledBy(plain, "foo"))
  })
})
