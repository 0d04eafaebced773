import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as Resources from "../../src/config/Resources.ts"

describe("Resources", () => {
  it("decodes a valid object, filling in an absent spec", () => {
    const r = Resources.decodeAny({ apiVersion: "metallb.io/v1beta1", kind: "L2Advertisement", metadata: { name: "l2" } })
    assert.isTrue(Result.isSuccess(r))
    if (Result.isSuccess(r)) assert.deepStrictEqual(r.success.spec, {})
  })

  it("reports every issue with its path", () => {
    const r = Resources.decodeIPAddressPool({
      apiVersion: "metallb.io/v1beta1",
      kind: "IPAddressPool",
      metadata: { name: "p" },
      spec: {
        addresses: ["192.0.2.0/24", 7],
        autoAssign: "yes",
        serviceAllocation: { namespaceSelectors: [{ matchExpressions: [{ key: "k", operator: "Maybe" }] }] }
      }
    })
    assert.isTrue(Result.isFailure(r))
    if (Result.isFailure(r)) {
      assert.deepStrictEqual(r.failure.map((i) => Resources.formatPath(i.path)), [
        "spec.addresses[1]",
        "spec.autoAssign",
        "spec.serviceAllocation.namespaceSelectors[0].matchExpressions[0].operator"
      ])
      assert.strictEqual(
        Resources.formatIssues(r.failure.slice(0, 1)),
        "spec.addresses[1]: Expected string, got 7"
      )
    }
  })

  it("dispatches on apiVersion and kind", () => {
    const unknownKind = Resources.decodeAny({ apiVersion: "metallb.io/v1beta1", kind: "AddressPool", metadata: { name: "x" } })
    assert.isTrue(Result.isFailure(unknownKind))
    if (Result.isFailure(unknownKind)) {
      assert.deepStrictEqual(unknownKind.failure, [{ path: ["kind"], message: `unknown kind "AddressPool" in "metallb.io/v1beta1"` }])
    }
    const badVersion = Resources.decodeAny({ apiVersion: "metallb.io/v1", kind: "BGPPeer", metadata: { name: "x" } })
    assert.isTrue(Result.isFailure(badVersion))
    if (Result.isFailure(badVersion)) assert.deepStrictEqual(badVersion.failure[0]?.path, ["apiVersion"])
    assert.isTrue(Result.isFailure(Resources.decodeAny("nope")))
    const peer = Resources.decodeAny({ apiVersion: "metallb.io/v1beta2", kind: "BGPPeer", metadata: { name: "p" }, spec: { myASN: 1 } })
    assert.isTrue(Result.isSuccess(peer) && peer.success.apiVersion === "metallb.io/v1beta2")
  })

  it("rejects values outside the CRD ranges", () => {
    const r = Resources.decodeBGPPeer({
      apiVersion: "metallb.io/v1beta2",
      kind: "BGPPeer",
      metadata: { name: "p" },
      spec: { myASN: 4294967296, peerPort: 0, localASN: 0, dynamicASN: "sometimes" }
    })
    assert.isTrue(Result.isFailure(r))
    if (Result.isFailure(r)) {
      assert.deepStrictEqual(r.failure.map((i) => Resources.formatPath(i.path)), ["spec.myASN", "spec.dynamicASN", "spec.localASN", "spec.peerPort"])
    }
  })
})
