import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { spawnSync } from "node:child_process"
import * as Der from "../../src/webhook/Der.ts"

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex")

/** A test-side reader of one TLV: tag, content, and the bytes used (to check the encoder's lengths). */
const readTlv = (b: Uint8Array): { tag: number; content: Uint8Array; used: number } => {
  const tag = b[0] ?? -1
  const first = b[1] ?? 0
  let length = first
  let at = 2
  if (first & 0x80) {
    length = 0
    for (let i = 0; i < (first & 0x7f); i++) length = length * 256 + (b[2 + i] ?? 0)
    at = 2 + (first & 0x7f)
  }
  return { tag, content: b.subarray(at, at + length), used: at + length }
}

const readOid = (content: Uint8Array): string => {
  const arcs: Array<bigint> = []
  let n = 0n
  for (const byte of content) {
    n = (n << 7n) | BigInt(byte & 0x7f)
    if ((byte & 0x80) === 0) {
      arcs.push(n)
      n = 0n
    }
  }
  const [first = 0n, ...rest] = arcs
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n]
  return [...head, ...rest].join(".")
}

const text = (d: Der.Der) => Buffer.from(readTlv(d).content).toString("ascii")

describe("Der", () => {
  it("encodes lengths in short and long form", () => {
    assert.strictEqual(hex(Der.encodeLength(0)), "00")
    assert.strictEqual(hex(Der.encodeLength(127)), "7f")
    assert.strictEqual(hex(Der.encodeLength(128)), "8180")
    assert.strictEqual(hex(Der.encodeLength(256)), "820100")
    assert.strictEqual(hex(Der.encodeLength(70000)), "83011170")
    assert.throws(() => Der.encodeLength(-1))
  })

  it("a TLV's length always covers exactly its content", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 70000 }), (content) => {
      const encoded = Der.octetString(content)
      const read = readTlv(encoded)
      assert.strictEqual(read.tag, 0x04)
      assert.strictEqual(read.used, encoded.length)
      assert.deepStrictEqual(read.content, content)
    }), { numRuns: 50 })
  })

  it("encodes integers minimally and positive", () => {
    assert.strictEqual(hex(Der.integer(0)), "020100")
    assert.strictEqual(hex(Der.integer(2)), "020102")
    assert.strictEqual(hex(Der.integer(127)), "02017f")
    assert.strictEqual(hex(Der.integer(128)), "02020080")
    assert.strictEqual(hex(Der.integer(256)), "02020100")
    assert.strictEqual(hex(Der.integer(Uint8Array.of(0, 0, 0x7f))), "02017f")
    assert.strictEqual(hex(Der.integer(Uint8Array.of(0xff, 1))), "020300ff01")
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 20 }), (bytes) => {
      const { tag, content } = readTlv(Der.integer(bytes))
      assert.strictEqual(tag, 0x02)
      assert.strictEqual((content[0] ?? 0) & 0x80, 0, "positive")
      assert.isFalse(content.length > 1 && content[0] === 0 && ((content[1] ?? 0) & 0x80) === 0, "minimal")
      assert.strictEqual(BigInt(`0x${hex(content)}`), BigInt(`0x${hex(bytes)}`))
    }))
  })

  it("encodes object identifiers (X.690 §8.19) and rejects malformed ones", () => {
    assert.strictEqual(hex(Der.oid("1.2.840.113549")), "06062a864886f70d")
    assert.strictEqual(hex(Der.oid("2.5.29.17")), "0603551d11")
    assert.strictEqual(hex(Der.oid("1.2.840.10045.4.3.2")), "06082a8648ce3d040302")
    for (const bad of ["1", "3.1", "1.40", "1..2", "1.a"]) assert.throws(() => Der.oid(bad), RangeError)
    const oid = fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 39 }), fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n })))
      .map(([a, b, rest]) => [a, b, ...rest].join("."))
    fc.assert(fc.property(oid, (dotted) => {
      assert.strictEqual(readOid(readTlv(Der.oid(dotted)).content), dotted)
    }))
  })

  it("encodes times as UTCTime until 2049 and GeneralizedTime from 2050", () => {
    const t2026 = Der.time(new Date("2026-11-26T13:04:05Z"))
    assert.strictEqual(t2026[0], 0x17)
    assert.strictEqual(text(t2026), "261126130405Z")
    const t2050 = Der.time(new Date("2050-01-01T00:00:00Z"))
    assert.strictEqual(t2050[0], 0x18)
    assert.strictEqual(text(t2050), "20500101000000Z")
    assert.strictEqual(Der.time(new Date("1949-12-31T23:59:59Z"))[0], 0x18)
  })

  it("encodes named bit strings with the unused bit count", () => {
    assert.strictEqual(hex(Der.namedBits([0, 2])), "030205a0")
    assert.strictEqual(hex(Der.namedBits([0, 5, 6])), "03020186")
    assert.strictEqual(hex(Der.namedBits([8])), "0303070080")
    assert.strictEqual(hex(Der.namedBits([])), "030100")
  })

  it("produces structures openssl parses", () => {
    const der = Der.sequence(
      Der.explicit(0, Der.integer(2)),
      Der.oid("2.5.4.3"),
      Der.utf8String("metallb"),
      Der.ia5String("a.example"),
      Der.boolean(true),
      Der.nullValue,
      Der.bitString(Uint8Array.of(1, 2)),
      Der.set(Der.time(new Date("2030-01-02T03:04:05Z"))),
      Der.implicit(2, new TextEncoder().encode("x.svc"))
    )
    const out = spawnSync("openssl", ["asn1parse", "-inform", "DER"], { input: der, encoding: "utf8" })
    assert.strictEqual(out.status, 0, out.stderr)
    for (const line of ["INTEGER           :02", "OBJECT            :commonName", "UTF8STRING        :metallb", "IA5STRING         :a.example", "BOOLEAN           :255", "NULL", "BIT STRING", "UTCTIME           :300102030405Z", "cont [ 2 ]"]) {
      assert.include(out.stdout, line)
    }
  })

  it("armours PEM in 64-column lines", () => {
    const pem = Der.pem("CERTIFICATE", new Uint8Array(100))
    const lines = pem.trim().split("\n")
    assert.strictEqual(lines[0], "-----BEGIN CERTIFICATE-----")
    assert.strictEqual(lines.at(-1), "-----END CERTIFICATE-----")
    assert.strictEqual(lines[1]?.length, 64)
    assert.strictEqual(Buffer.from(lines.slice(1, -1).join(""), "base64").length, 100)
  })
})
