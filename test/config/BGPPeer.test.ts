import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { type BGPPeerV1beta1, type BGPPeerV1beta2, v1beta1ToV1beta2, v1beta2ToV1beta1 } from "../../src/config/crds/BGPPeer.ts"
import * as Resources from "../../src/config/Resources.ts"

const meta = { name: "peer1", namespace: "metallb-system" }

const old: BGPPeerV1beta1 = {
  apiVersion: "metallb.io/v1beta1",
  kind: "BGPPeer",
  metadata: meta,
  spec: {
    myASN: 64500,
    peerASN: 64501,
    peerAddress: "192.0.2.1",
    sourceAddress: "192.0.2.10",
    peerPort: 1179,
    holdTime: "90s",
    keepaliveTime: "30s",
    routerID: "10.0.0.1",
    nodeSelectors: [{ matchLabels: { a: "b" }, matchExpressions: [{ key: "k", operator: "In", values: ["v"] }] }],
    password: "pw",
    bfdProfile: "fast",
    ebgpMultiHop: true
  }
}

describe("BGPPeer conversion", () => {
  it("v1beta1 → v1beta2 keeps every field", () => {
    const converted = v1beta1ToV1beta2(old)
    assert.strictEqual(converted.apiVersion, "metallb.io/v1beta2")
    assert.deepStrictEqual(converted.spec, {
      myASN: 64500,
      peerASN: 64501,
      peerAddress: "192.0.2.1",
      sourceAddress: "192.0.2.10",
      peerPort: 1179,
      holdTime: "90s",
      keepaliveTime: "30s",
      routerID: "10.0.0.1",
      nodeSelectors: [{ matchLabels: { a: "b" }, matchExpressions: [{ key: "k", operator: "In", values: ["v"] }] }],
      password: "pw",
      bfdProfile: "fast",
      ebgpMultiHop: true
    })
    assert.isTrue(Result.isSuccess(Resources.decodeBGPPeer(converted)))
  })

  it("v1beta1 → v1beta2 → v1beta1 is the identity", () => {
    assert.deepStrictEqual(v1beta2ToV1beta1(v1beta1ToV1beta2(old)), old)
  })

  it("v1beta2 → v1beta1 drops what v1beta1 cannot carry", () => {
    const rich: BGPPeerV1beta2 = {
      apiVersion: "metallb.io/v1beta2",
      kind: "BGPPeer",
      metadata: meta,
      spec: {
        myASN: 64500,
        dynamicASN: "external",
        localASN: 64999,
        peerAddress: "2001:db8::1",
        connectTime: "5s",
        passwordSecret: { name: "s" },
        enableGracefulRestart: true,
        vrf: "red",
        disableMP: false,
        dualStackAddressFamily: true,
        nodeSelectors: [{ matchExpressions: [{ key: "k", operator: "Exists" }] }]
      }
    }
    const back = v1beta2ToV1beta1(rich)
    assert.deepStrictEqual(back, {
      apiVersion: "metallb.io/v1beta1",
      kind: "BGPPeer",
      metadata: meta,
      spec: {
        myASN: 64500,
        peerASN: 0,
        peerAddress: "2001:db8::1",
        nodeSelectors: [{ matchExpressions: [{ key: "k", operator: "Exists", values: [] }] }]
      }
    })
  })

  it("v1beta1 requires myASN, peerASN and peerAddress", () => {
    const r = Resources.decodeBGPPeerV1beta1({ apiVersion: "metallb.io/v1beta1", kind: "BGPPeer", metadata: meta, spec: { myASN: 1 } })
    assert.isTrue(Result.isFailure(r))
    if (Result.isFailure(r)) {
      assert.deepStrictEqual(r.failure.map((i) => Resources.formatPath(i.path)), ["spec.peerASN", "spec.peerAddress"])
    }
  })
})
