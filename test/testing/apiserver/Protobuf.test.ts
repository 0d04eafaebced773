import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import { decodeKubernetesProtobuf } from "../../../src/testing/apiserver/Protobuf.ts"

/** The body kubectl 1.32 sent for `kubectl create secret generic memberlist -n default --from-literal=secretkey=abc --from-literal=x=yz`. */
const kubectlSecret = Buffer.from(
  "6b3873000a0c0a0276311206536563726574124" +
    "00a210a0a6d656d6265726c69737412001a0764656661756c742200" +
    "2a00320038004200121" +
    "00a097365637265746b6579120361626312070a01781202797a1a001a00220" +
    "0",
  "hex"
)

// A minimal protobuf writer for the property test.
const varint = (n: number): Array<number> => {
  const out: Array<number> = []
  let v = n
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80)
    v = Math.floor(v / 128)
  }
  out.push(v)
  return out
}
const field = (num: number, payload: Uint8Array | string): Array<number> => {
  const bytes = typeof payload === "string" ? Buffer.from(payload, "utf8") : payload
  return [...varint(num * 8 + 2), ...varint(bytes.length), ...bytes]
}
const msg = (...parts: ReadonlyArray<Array<number>>) => Uint8Array.from(parts.flat())
const mapEntries = (num: number, m: Record<string, string>) =>
  Object.entries(m).flatMap(([k, v]) => field(num, msg(field(1, k), field(2, v))))
const envelope = (apiVersion: string, kind: string, raw: Uint8Array) =>
  Uint8Array.from([0x6b, 0x38, 0x73, 0x00, ...field(1, msg(field(1, apiVersion), field(2, kind))), ...field(2, raw), ...field(3, ""), ...field(4, "")])

describe("Kubernetes protobuf bodies", () => {
  it("decodes what kubectl create secret sends", () => {
    assert.deepStrictEqual(decodeKubernetesProtobuf(kubectlSecret), Result.succeed({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "memberlist", namespace: "default" },
      data: { secretkey: Buffer.from("abc").toString("base64"), x: Buffer.from("yz").toString("base64") }
    }))
  })

  it("decodes ConfigMaps with labels and data (property)", () => {
    const text = fc.string({ unit: "grapheme", maxLength: 8 })
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/), fc.dictionary(text, text, { maxKeys: 3 }), fc.dictionary(text, text, { maxKeys: 3 }), (name, labels, data) => {
        const raw = msg(field(1, msg(field(1, name), mapEntries(11, labels))), mapEntries(2, data))
        const decoded = Result.getOrThrow(decodeKubernetesProtobuf(envelope("v1", "ConfigMap", raw)))
        assert.deepStrictEqual(decoded, {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name, ...(Object.keys(labels).length > 0 ? { labels } : {}) },
          ...(Object.keys(data).length > 0 ? { data } : {})
        })
      })
    )
  })

  it("refuses other kinds, a missing prefix and truncated input with a reason", () => {
    const refused = decodeKubernetesProtobuf(envelope("apps/v1", "Deployment", msg()))
    assert.include(Result.isFailure(refused) ? refused.failure : "", 'not "apps/v1" "Deployment"')
    assert.isTrue(Result.isFailure(decodeKubernetesProtobuf(Buffer.from("{}"))))
    assert.isTrue(Result.isFailure(decodeKubernetesProtobuf(kubectlSecret.subarray(0, 30))))
  })
})
