import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import * as Heartbeat from "../../src/election/Heartbeat.ts"

const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((m) => {
  m[0] = (m[0] ?? 0) & 0xfe
  return m
})
const heartbeat = fc.record({
  node: fc.string({ minLength: 1, maxLength: 60 }).filter((s) => Heartbeat.invalidNodeName(s) === undefined),
  bootId: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  sequence: fc.nat({ max: 0xffffffff }),
  leaving: fc.boolean(),
  ready: fc.boolean()
})
const key = fc.uint8Array({ minLength: 1, maxLength: 64 })

describe("Heartbeat", () => {
  it("round-trips every field, signed or not, and is at least the Ethernet minimum", () => {
    fc.assert(fc.property(heartbeat, mac, fc.option(key, { nil: undefined }), (hb, source, k) => {
      const bytes = Heartbeat.encodeFrame(hb, source, k)
      assert.isAtLeast(bytes.length, 60)
      assert.deepStrictEqual([...bytes.subarray(0, 6)], [...Heartbeat.MULTICAST_MAC])
      const decoded = Result.getOrThrow(Heartbeat.decodeFrame(bytes))
      assert.strictEqual(decoded.node, hb.node)
      assert.deepStrictEqual([...decoded.bootId], [...hb.bootId])
      assert.strictEqual(decoded.sequence, hb.sequence)
      assert.strictEqual(decoded.leaving, hb.leaving)
      assert.strictEqual(decoded.ready, hb.ready)
      assert.strictEqual(decoded.hmac === undefined, k === undefined)
      assert.isTrue(Heartbeat.authentic(decoded, k))
      // A receiver without a key accepts signed and unsigned frames alike.
      assert.isTrue(Heartbeat.authentic(decoded, undefined))
    }))
  })

  it("a receiver with a key rejects unsigned frames, other keys, other senders and any flipped bit", () => {
    fc.assert(fc.property(heartbeat, mac, key, key, fc.nat(), (hb, source, k1, k2, bit) => {
      const unsigned = Result.getOrThrow(Heartbeat.decodeFrame(Heartbeat.encodeFrame(hb, source)))
      assert.isFalse(Heartbeat.authentic(unsigned, k1))
      const bytes = Heartbeat.encodeFrame(hb, source, k1)
      const signed = Result.getOrThrow(Heartbeat.decodeFrame(bytes))
      if (Buffer.compare(Buffer.from(k1), Buffer.from(k2)) !== 0) assert.isFalse(Heartbeat.authentic(signed, k2))
      const forged = Uint8Array.from(bytes)
      forged[6] = (forged[6] ?? 0) ^ 0x02
      const moved = Heartbeat.decodeFrame(forged)
      if (Result.isSuccess(moved)) assert.isFalse(Heartbeat.authentic(moved.success, k1))
      // Flip one bit of the signed payload (after the Ethernet header, before the HMAC).
      const signedLength = 14 + 27 + Buffer.byteLength(hb.node)
      const at = 14 + 6 + (bit % (signedLength - 14 - 6))
      const flipped = Uint8Array.from(bytes)
      flipped[at] = (flipped[at] ?? 0) ^ (1 << (bit % 8))
      const decoded = Heartbeat.decodeFrame(flipped)
      if (Result.isSuccess(decoded)) assert.isFalse(Heartbeat.authentic(decoded.success, k1))
    }))
  })

  it("names the field of a bad frame and never throws on arbitrary bytes", () => {
    const hb = { node: "n1", bootId: new Uint8Array(16), sequence: 1, leaving: false, ready: true }
    const good = Heartbeat.encodeFrame(hb, Uint8Array.of(2, 0, 0, 0, 0, 0x11))
    const badMagic = Uint8Array.from(good)
    badMagic[14] = 0
    const r1 = Heartbeat.decodeFrame(badMagic)
    assert.isTrue(Result.isFailure(r1) && r1.failure.field === "magic")
    const badVersion = Uint8Array.from(good)
    badVersion[18] = 9
    const r2 = Heartbeat.decodeFrame(badVersion)
    assert.isTrue(Result.isFailure(r2) && r2.failure.field === "version")
    const r3 = Heartbeat.decodeFrame(good.subarray(0, 20))
    assert.isTrue(Result.isFailure(r3) && r3.failure.field === "length")
    fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
      Heartbeat.decodeFrame(bytes)
    }))
  })

  it("refuses node names that do not fit", () => {
    assert.isString(Heartbeat.invalidNodeName(""))
    assert.isString(Heartbeat.invalidNodeName("x".repeat(256)))
    assert.isUndefined(Heartbeat.invalidNodeName("worker-1"))
  })
})
