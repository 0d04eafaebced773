import { assert, describe, it } from "@effect/vitest"
import { toConfigInput, unknownFields, validateObjects } from "../../src/config/Objects.ts"

const pool = (name: string, addresses: ReadonlyArray<string>, extra: Record<string, unknown> = {}) => ({
  apiVersion: "metallb.io/v1beta1",
  kind: "IPAddressPool",
  metadata: { name, namespace: "metallb-system" },
  spec: { addresses, ...extra }
})

describe("Objects", () => {
  it("sorts objects into the parseConfig input by kind; the rest are others", () => {
    const node = { apiVersion: "v1", kind: "Node", metadata: { name: "n1" } }
    const service = { apiVersion: "v1", kind: "Service", metadata: { name: "s" } }
    const status = { apiVersion: "metallb.io/v1beta1", kind: "ServiceL2Status", metadata: { name: "l2-x" } }
    const { input, others } = toConfigInput([pool("a", ["192.0.2.0/28"]), node, service, status])
    assert.deepStrictEqual(Object.keys(input).toSorted(), ["ipAddressPools", "nodes"])
    assert.deepStrictEqual(others, [service, status])
  })

  it("reports fields the schema does not know below spec, as kubectl's strict validation would", () => {
    assert.deepStrictEqual(unknownFields(pool("a", ["192.0.2.0/28"], { autoassign: false })), [
      { kind: "IPAddressPool", name: "a", path: ["spec", "autoassign"], reason: 'unknown field "spec.autoassign"', transient: false }
    ])
    assert.deepStrictEqual(unknownFields(pool("a", ["192.0.2.0/28"])), [])
  })

  it("validates the bag as one configuration, errors at object and field, transient ones marked", () => {
    const v = validateObjects([
      pool("a", ["192.0.2.0/24"]),
      pool("b", ["192.0.2.0/28"]),
      {
        apiVersion: "metallb.io/v1beta2",
        kind: "BGPPeer",
        metadata: { name: "p", namespace: "metallb-system" },
        spec: { myASN: 64500, peerASN: 64501, peerAddress: "192.0.2.1", bfdProfile: "missing" }
      }
    ])
    assert.deepStrictEqual(
      v.errors.map((e) => [e.kind, e.name, e.path.join("."), e.transient]),
      [
        ["BGPPeer", "p", "spec.bfdProfile", true],
        ["IPAddressPool", "b", "spec.addresses.0", false]
      ]
    )
  })
})
