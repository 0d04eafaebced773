import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import * as Ip from "../../src/layer2/Ipv6.ts"
import { ipv6, ipv6Packet } from "./arbitraries.ts"

describe("layer2 Ipv6", () => {
  it("decode ∘ encode = id, and padding after the payload is dropped", () => {
    fc.assert(fc.property(ipv6Packet, fc.uint8Array({ maxLength: 20 }), (packet, padding) => {
      const bytes = Ip.encode(packet)
      const padded = new Uint8Array(bytes.length + padding.length)
      padded.set(bytes)
      padded.set(padding, bytes.length)
      assert.deepStrictEqual(Result.getOrThrow(Ip.decode(padded)), packet)
    }))
  })

  it("rejects a wrong version or a payload length past the end", () => {
    const bytes = Ip.encode({
      trafficClass: 0, flowLabel: 0, nextHeader: 58, hopLimit: 255,
      source: new Uint8Array(16), destination: new Uint8Array(16), payload: new Uint8Array(8)
    })
    const version = Ip.decode(Uint8Array.from(bytes, (b, i) => (i === 0 ? 0x40 : b)))
    assert.isTrue(Result.isFailure(version) && version.failure.field === "version")
    const truncated = Ip.decode(bytes.subarray(0, 47))
    assert.isTrue(Result.isFailure(truncated) && truncated.failure.field === "payloadLength")
    assert.isTrue(Result.isFailure(Ip.decode(bytes.subarray(0, 39))))
  })

  it("the pseudo-header checksum written into a message verifies to 0, and any flipped bit breaks it", () => {
    const message = fc.uint8Array({ minLength: 4, maxLength: 90 })
    fc.assert(fc.property(ipv6, ipv6, message, fc.nat(), (source, destination, bytes, bit) => {
      const m = Uint8Array.from(bytes)
      m[2] = 0
      m[3] = 0
      const checksum = Ip.pseudoHeaderChecksum(source, destination, 58, m)
      m[2] = checksum >> 8
      m[3] = checksum & 0xff
      assert.strictEqual(Ip.pseudoHeaderChecksum(source, destination, 58, m), 0)
      const at = bit % (m.length * 8)
      // A checksum byte flipped from 0x00 to 0xff style values can alias (0x0000 vs 0xffff), payload bits cannot.
      if ((at >> 3) !== 2 && (at >> 3) !== 3) {
        m[at >> 3] = (m[at >> 3] ?? 0) ^ (1 << (at & 7))
        assert.notStrictEqual(Ip.pseudoHeaderChecksum(source, destination, 58, m), 0)
      }
    }))
  })

  it("matches a hand-computed checksum (RFC 1071 arithmetic on a tiny message)", () => {
    // pseudo-header: src ::1, dst ::2, length 4, next header 58; message 0x8700 0x0000.
    // words: 1 + 2 + 4 + 58 + 0x8700 = 0x8741 → ~ = 0x78be
    const src = new Uint8Array(16)
    src[15] = 1
    const dst = new Uint8Array(16)
    dst[15] = 2
    assert.strictEqual(Ip.pseudoHeaderChecksum(src, dst, 58, Uint8Array.of(0x87, 0, 0, 0)), 0x78be)
  })
})
