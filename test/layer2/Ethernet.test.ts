import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import * as Ethernet from "../../src/layer2/Ethernet.ts"
import { ethernet } from "./arbitraries.ts"

const rejection = (bytes: Uint8Array) => {
  const result = Ethernet.decode(bytes)
  if (Result.isSuccess(result)) return assert.fail("expected a rejection")
  return result.failure
}

describe("layer2 Ethernet", () => {
  it("decode ∘ encode = id, with and without an 802.1Q tag", () => {
    fc.assert(fc.property(ethernet, (frame) => {
      assert.deepStrictEqual(Result.getOrThrow(Ethernet.decode(Ethernet.encode(frame))), frame)
    }))
  })

  it("lays out the tag as TPID 0x8100 then PCP/DEI/VID", () => {
    const bytes = Ethernet.encode({
      destination: new Uint8Array(6).fill(0xff),
      source: Uint8Array.of(2, 0, 0, 0, 0, 0x11),
      vlan: { priority: 5, dropEligible: true, id: 100 },
      ethertype: Ethernet.ETHERTYPE_ARP,
      payload: Uint8Array.of(0xab)
    })
    assert.deepStrictEqual(Array.from(bytes.subarray(12)), [0x81, 0x00, 0xb0, 0x64, 0x08, 0x06, 0xab])
  })

  it("rejects short frames, 802.3 length fields and stacked tags, naming the field", () => {
    assert.strictEqual(rejection(new Uint8Array(13)).field, "frame")
    const lengthField = new Uint8Array(60)
    lengthField[12] = 0x05
    assert.strictEqual(rejection(lengthField).field, "ethertype")
    const stacked = new Uint8Array(60)
    stacked.set([0x81, 0x00, 0, 1, 0x81, 0x00], 12)
    assert.include(rejection(stacked).reason, "stacked")
    const tagged = new Uint8Array(16)
    tagged.set([0x81, 0x00], 12)
    assert.strictEqual(rejection(tagged).field, "vlan")
  })
})
