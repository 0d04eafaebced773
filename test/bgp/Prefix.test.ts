import * as fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import * as Arb from "../../src/bgp/Arbitraries.ts"
import * as Prefix from "../../src/bgp/Prefix.ts"

const parsed = (text: string) => {
  const result = Prefix.parse(text)
  return Result.isSuccess(result) ? Prefix.format(result.success) : `error: ${result.failure}`
}

describe("Prefix", () => {
  it("formats and parses IPv4 and IPv6 prefixes", () => {
    expect(parsed("203.0.113.10/32")).toBe("203.0.113.10/32")
    expect(parsed("203.0.113.10")).toBe("203.0.113.10/32")
    expect(parsed("0.0.0.0/0")).toBe("0.0.0.0/0")
    expect(parsed("2001:DB8:0:0:0:0:0:1")).toBe("2001:db8::1/128")
    expect(parsed("2001:db8::/32")).toBe("2001:db8::/32")
    expect(parsed("::/0")).toBe("::/0")
    expect(parsed("::ffff:192.0.2.1/128")).toBe("::ffff:c000:201/128")
  })

  it("writes IPv6 in RFC 5952 form: longest zero run compressed, a single zero group not", () => {
    expect(parsed("2001:db8:0:1:1:1:1:1")).toBe("2001:db8:0:1:1:1:1:1/128")
    expect(parsed("2001:0:0:1:0:0:0:1")).toBe("2001:0:0:1::1/128")
    expect(parsed("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1/128")
  })

  it("rejects bad text with a reason", () => {
    expect(parsed("203.0.113.10/24")).toBe(
      'error: prefix "203.0.113.10/24": host bits set past /24 (did you mean 203.0.113.0/24?)'
    )
    expect(parsed("203.0.113/24")).toMatch(/not an IPv4 or IPv6 address/)
    expect(parsed("256.0.0.1")).toMatch(/not an IPv4/)
    expect(parsed("2001:db8::/129")).toMatch(/length must be 0..128/)
    expect(parsed("2001:db8::1::2")).toMatch(/not an IPv4/)
    expect(parsed("1:2:3:4:5:6:7:8:9")).toMatch(/not an IPv4/)
  })

  it("parse ∘ format is the identity", () => {
    fc.assert(
      fc.property(Arb.prefix, (prefix) => {
        const result = Prefix.parse(Prefix.format(prefix))
        expect(Result.isSuccess(result) && result.success).toEqual(prefix)
      }),
      { numRuns: 2000 }
    )
  })

  it("decodes NLRI lists and names what is wrong", () => {
    expect(Prefix.decodeList(Uint8Array.of(24, 198, 51, 100, 0), 0, 5, 4)).toEqual([
      Prefix.make(4, Uint8Array.of(198, 51, 100), 24),
      Prefix.make(4, new Uint8Array(0), 0)
    ])
    expect(Prefix.decodeList(Uint8Array.of(24, 198, 51, 100), 0, 4, 4)).toEqual([Prefix.make(4, Uint8Array.of(198, 51, 100), 24)])
    expect(Prefix.decodeList(Uint8Array.of(33, 1, 2, 3, 4, 5), 0, 6, 4)).toBe("prefix length 33 exceeds 32 at offset 0")
    expect(Prefix.decodeList(Uint8Array.of(24, 198, 51), 0, 3, 4)).toBe("prefix /24 needs 3 octets but only 2 remain")
    // Trailing bits past the length are irrelevant (RFC 4271 §4.3) and zeroed.
    expect(Prefix.decodeList(Uint8Array.of(23, 198, 51, 101), 0, 4, 4)).toEqual([Prefix.make(4, Uint8Array.of(198, 51, 100), 23)])
  })
})
