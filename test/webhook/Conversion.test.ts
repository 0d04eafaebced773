import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import { fieldsLostInV1beta1 } from "../../src/config/crds/BGPPeer.ts"
import { convertObject, review, V1beta1, V1beta2 } from "../../src/webhook/Conversion.ts"
import { validConfig } from "../config/arbitraries.ts"
import { peer, peerSpec, peerV1beta1 } from "../config/fixtures.ts"

const meta = {
  uid: "7f0c",
  resourceVersion: "42",
  generation: 3,
  managedFields: [{ manager: "kubectl", operation: "Apply" }],
  labels: { team: "net" }
}

const ok = (r: Result.Result<unknown, string>): Record<string, unknown> => {
  if (Result.isFailure(r)) throw new Error(r.failure)
  return r.success as Record<string, unknown>
}

/** v1beta1 requires values in every match expression, so Exists / DoesNotExist selectors are read-only there. */
const v1beta1Expressible = (spec: Record<string, unknown>): boolean =>
  spec["peerAddress"] !== undefined && spec["peerASN"] !== undefined &&
  !JSON.stringify(spec["nodeSelectors"] ?? []).includes("Exist")

describe("Conversion", () => {
  it("v1beta1 → v1beta2 keeps every field, metadata (unknown keys included) and status", () => {
    const old = {
      ...peerV1beta1("p", peerSpec({
        holdTime: "90s",
        keepaliveTime: "30s",
        routerID: "192.0.2.100",
        bfdProfile: "fast",
        ebgpMultiHop: true,
        nodeSelectors: [{ matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] }]
      }), meta),
      status: {}
    }
    const converted = ok(convertObject(old, V1beta2))
    assert.deepStrictEqual(converted, { ...old, apiVersion: V1beta2 })
  })

  it("v1beta2 → v1beta1 drops the fields v1beta1 lacks; dynamicASN leaves peerASN 0", () => {
    const rich = peer("p", {
      myASN: 64500,
      dynamicASN: "external",
      peerAddress: "192.0.2.1",
      localASN: 64999,
      connectTime: "5s",
      passwordSecret: { name: "s" },
      enableGracefulRestart: true,
      dualStackAddressFamily: true,
      disableMP: true,
      holdTime: "9s"
    }, meta)
    const converted = ok(convertObject(rich, V1beta1))
    assert.strictEqual(converted["apiVersion"], V1beta1)
    assert.deepStrictEqual(converted["metadata"], rich.metadata)
    assert.deepStrictEqual(converted["spec"], { myASN: 64500, peerASN: 0, peerAddress: "192.0.2.1", holdTime: "9s" })
  })

  it("an object already in the desired version is returned as is", () => {
    const p = peer("p", peerSpec(), meta)
    assert.strictEqual(ok(convertObject(p, V1beta2)), p)
  })

  it("names the object and the field when a spec cannot be converted", () => {
    const r = convertObject(peerV1beta1("bad", { myASN: "x", peerASN: 1, peerAddress: "192.0.2.1" }), V1beta2)
    assert.isTrue(Result.isFailure(r))
    if (Result.isFailure(r)) assert.match(r.failure, /^BGPPeer metallb-system\/bad: spec\.myASN: /)
    assert.isTrue(Result.isFailure(convertObject(peer("p", peerSpec()), "metallb.io/v1")))
    assert.isTrue(Result.isFailure(convertObject({ ...peer("p", peerSpec()), kind: "IPAddressPool" }, V1beta1)))
    assert.isTrue(Result.isFailure(convertObject({ ...peer("p", peerSpec()), apiVersion: "metallb.io/v1alpha1" }, V1beta1)))
  })

  it("v1beta2 → v1beta1 → v1beta2 loses exactly the v1beta1-less fields (generated peers)", () => {
    let checked = 0
    fc.assert(fc.property(validConfig, (config) => {
      for (const p of (config.bgpPeers ?? []) as ReadonlyArray<{ apiVersion: string; spec: Record<string, unknown> }>) {
        if (p.apiVersion !== V1beta2 || !v1beta1Expressible(p.spec)) continue
        checked++
        const back = ok(convertObject(ok(convertObject(p, V1beta1)), V1beta2))
        const expected = Object.fromEntries(Object.entries(p.spec).filter(([k]) => !(fieldsLostInV1beta1 as ReadonlyArray<string>).includes(k)))
        assert.deepStrictEqual(back["spec"], expected)
      }
    }), { numRuns: 60 })
    assert.isAbove(checked, 10)
  })

  it("an Exists selector reads as v1beta1 (values []) but cannot be written back in v1beta1, as in MetalLB", () => {
    const p = peer("p", peerSpec({ nodeSelectors: [{ matchExpressions: [{ key: "zone", operator: "Exists" }] }] }))
    const v1 = ok(convertObject(p, V1beta1))
    assert.deepStrictEqual((v1["spec"] as { nodeSelectors: unknown }).nodeSelectors, [{ matchExpressions: [{ key: "zone", operator: "Exists", values: [] }] }])
    const back = convertObject(v1, V1beta2)
    assert.isTrue(Result.isFailure(back))
    if (Result.isFailure(back)) assert.include(back.failure, "spec.nodeSelectors[0].matchExpressions[0].values")
  })

  it("answers a ConversionReview with the uid and every object converted", () => {
    const objects = [peerV1beta1("a", peerSpec()), peer("b", peerSpec())]
    const r = review({ apiVersion: "apiextensions.k8s.io/v1", kind: "ConversionReview", request: { uid: "u1", desiredAPIVersion: V1beta2, objects } })
    assert.strictEqual(r.kind, "ConversionReview")
    assert.strictEqual(r.apiVersion, "apiextensions.k8s.io/v1")
    assert.strictEqual(r.response.uid, "u1")
    assert.deepStrictEqual(r.response.result, { status: "Success" })
    assert.deepStrictEqual(r.response.convertedObjects.map((o) => (o as { apiVersion: string }).apiVersion), [V1beta2, V1beta2])
  })

  it("fails the whole review when one object fails, and rejects what is not a review", () => {
    const bad = review({
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "ConversionReview",
      request: { uid: "u2", desiredAPIVersion: V1beta2, objects: [peerV1beta1("a", peerSpec()), peerV1beta1("b", { myASN: -1 })] }
    })
    assert.strictEqual(bad.response.uid, "u2")
    assert.deepStrictEqual(bad.response.convertedObjects, [])
    assert.strictEqual(bad.response.result.status, "Failure")
    for (const body of [null, {}, { kind: "ConversionReview", request: {} }]) {
      assert.strictEqual(review(body).response.result.status, "Failure")
    }
    const noObjects = review({ kind: "ConversionReview", request: { uid: "u3", desiredAPIVersion: V1beta2 } })
    assert.deepStrictEqual(noObjects.response.result, { status: "Failure", message: "request.objects must be a list" })
  })
})
