import { assert, describe, it } from "@effect/vitest"
import type { JsonObject } from "../../../src/testing/apiserver/Json.ts"
import { Registry } from "../../../src/testing/apiserver/Registry.ts"
import { humanDuration, jsonPath, toTable } from "../../../src/testing/apiserver/Table.ts"

describe("humanDuration", () => {
  it("follows Kubernetes' buckets", () => {
    const s = 1000
    const cases: ReadonlyArray<[number, string]> = [
      [-500, "0s"],
      [-5 * s, "<invalid>"],
      [5 * s, "5s"],
      [119 * s, "119s"],
      [303 * s, "5m3s"],
      [120 * s, "2m"],
      [179 * 60 * s, "179m"],
      [(3 * 60 + 5) * 60 * s, "3h5m"],
      [3 * 3600 * s, "3h"],
      [8 * 3600 * s, "8h"],
      [51 * 3600 * s, "2d3h"],
      [48 * 3600 * s, "2d"],
      [8 * 86400 * s, "8d"],
      [694 * 86400 * s, "694d"],
      [731 * 86400 * s, "2y1d"],
      [9 * 365 * 86400 * s, "9y"]
    ]
    for (const [ms, text] of cases) assert.strictEqual(humanDuration(ms), text, String(ms))
  })
})

describe("jsonPath", () => {
  const o = { spec: { addresses: ["192.0.2.0/24"], peers: [{ ip: "a" }, { ip: "b" }], "x.y": 1 } }
  it("evaluates the forms printer columns use", () => {
    assert.deepStrictEqual(jsonPath(o, ".spec.addresses"), [["192.0.2.0/24"]])
    assert.deepStrictEqual(jsonPath(o, ".spec.addresses[0]"), ["192.0.2.0/24"])
    assert.deepStrictEqual(jsonPath(o, ".spec.peers[*].ip"), ["a", "b"])
    assert.deepStrictEqual(jsonPath(o, ".spec['x.y']"), [1])
    assert.deepStrictEqual(jsonPath(o, "{.spec.peers[1].ip}"), ["b"])
    assert.deepStrictEqual(jsonPath(o, ".spec.missing"), [])
  })
})

const now = new Date("2026-01-01T00:10:00Z")
const meta = (name: string) => ({ name, namespace: "default", creationTimestamp: "2026-01-01T00:00:00Z" })
const type = (group: string, plural: string) => {
  const t = new Registry().byResource(group, "v1", plural)
  if (t === undefined) throw new Error(plural)
  return t
}
const cells = (t: JsonObject) => (t["rows"] as ReadonlyArray<{ cells: ReadonlyArray<unknown> }>).map((r) => r.cells)
const svc = (spec: JsonObject, status: JsonObject = {}) => ({ metadata: meta("s"), spec, status })
const crd = (columns: ReadonlyArray<JsonObject>): JsonObject => ({
  spec: { group: "metallb.io", scope: "Namespaced", names: { kind: "IPAddressPool", plural: "ipaddresspools" }, versions: [{ name: "v1beta1", served: true, storage: true, additionalPrinterColumns: columns }] }
})

describe("toTable", () => {

  it("prints Services like upstream", () => {
    const table = toTable(type("", "services"), "v1", [
      svc({ type: "LoadBalancer", clusterIPs: ["10.96.0.10"], externalIPs: ["203.0.113.9"], ports: [{ port: 80, nodePort: 30000, protocol: "TCP" }], selector: { b: "2", a: "1" } }, {
        loadBalancer: { ingress: [{ ip: "192.0.2.2" }, { ip: "192.0.2.1" }, { ip: "192.0.2.2" }] }
      }),
      svc({ type: "LoadBalancer", clusterIPs: ["10.96.0.11"], ports: [] }),
      svc({ type: "ExternalName", externalName: "example.com" })
    ], { resourceVersion: "5", include: "None", now })
    assert.deepStrictEqual(cells(table), [
      ["s", "LoadBalancer", "10.96.0.10", "192.0.2.1,192.0.2.2,203.0.113.9", "80:30000/TCP", "10m", "a=1,b=2"],
      ["s", "LoadBalancer", "10.96.0.11", "<pending>", "<none>", "10m", "<none>"],
      ["s", "ExternalName", "<none>", "example.com", "<none>", "10m", "<none>"]
    ])
    assert.deepStrictEqual((table["metadata"] as JsonObject)["resourceVersion"], "5")
    assert.isUndefined((table["rows"] as ReadonlyArray<JsonObject>)[0]?.["object"], "includeObject=None")
  })

  it("prints custom resources with their printer columns and no Age, or Age when they have none", () => {
    const registry = new Registry()
    const pool = { metadata: meta("p"), spec: { addresses: ["192.0.2.0/24"], autoAssign: true } }
    registry.rebuild([crd([{ name: "Auto Assign", type: "boolean", jsonPath: ".spec.autoAssign" }, { name: "Addresses", type: "string", jsonPath: ".spec.addresses" }, { name: "Missing", type: "string", jsonPath: ".spec.nope" }, { name: "Made", type: "date", jsonPath: ".metadata.creationTimestamp" }])])
    const t = registry.byResource("metallb.io", "v1beta1", "ipaddresspools")
    if (t === undefined) throw new Error("not served")
    const table = toTable(t, "v1beta1", [pool], { resourceVersion: "1", include: "Metadata", now })
    assert.deepStrictEqual((table["columnDefinitions"] as ReadonlyArray<JsonObject>).map((c) => c["name"]), ["Name", "Auto Assign", "Addresses", "Missing", "Made"])
    assert.deepStrictEqual(cells(table), [["p", true, '["192.0.2.0/24"]', null, "10m"]])
    registry.rebuild([crd([])])
    const bare = registry.byResource("metallb.io", "v1beta1", "ipaddresspools")
    if (bare === undefined) throw new Error("not served")
    assert.deepStrictEqual(cells(toTable(bare, "v1beta1", [pool], { resourceVersion: "1", include: "Metadata", now })), [["p", "10m"]])
  })

  it("prints bindings, webhooks and kinds without a printer", () => {
    const binding = { metadata: meta("b"), roleRef: { kind: "ClusterRole", name: "r" }, subjects: [{ kind: "ServiceAccount", name: "sa", namespace: "ns" }, { kind: "User", name: "u" }] }
    assert.deepStrictEqual(cells(toTable(type("rbac.authorization.k8s.io", "clusterrolebindings"), "v1", [binding], { resourceVersion: "1", include: "None", now })), [
      ["b", "ClusterRole/r", "10m", "u", "", "ns:sa"]
    ])
    const webhooks = { metadata: meta("w"), webhooks: [{ name: "a" }, { name: "b" }] }
    assert.deepStrictEqual(cells(toTable(type("admissionregistration.k8s.io", "validatingwebhookconfigurations"), "v1", [webhooks], { resourceVersion: "1", include: "None", now })), [["w", 2, "10m"]])
    assert.deepStrictEqual(cells(toTable(type("rbac.authorization.k8s.io", "clusterroles"), "v1", [{ metadata: meta("r") }], { resourceVersion: "1", include: "None", now })), [["r", "2026-01-01T00:00:00Z"]])
  })
})
