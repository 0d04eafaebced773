import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import { isIPv4, isIPv6 } from "node:net"
import * as Cidr from "../../src/net/Cidr.ts"
import * as Ip from "../../src/net/Ip.ts"
import * as Mac from "../../src/net/Mac.ts"

const v4 = fc.bigInt({ min: 0n, max: Ip.maxValue(4) }).map((value) => Ip.make(4, value))
const v6 = fc.oneof(
  fc.bigInt({ min: 0n, max: Ip.maxValue(6) }),
  // Mostly-zero addresses exercise "::" compression.
  fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
    .map((gs) => gs.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n))
).map((value) => Ip.make(6, value))
const anyIp = fc.oneof(v4, v6)

describe("Ip", () => {
  it("parses what it formats (both families)", () => {
    fc.assert(fc.property(anyIp, (ip) => {
      const text = Ip.format(ip)
      const back = Ip.parse(text)
      assert.isDefined(back)
      assert.isTrue(back !== undefined && Ip.equals(back, ip), text)
    }), { numRuns: 2000 })
  })

  it("formats IPv6 as RFC 5952, like the WHATWG URL parser", () => {
    fc.assert(fc.property(v6, (ip) => {
      const text = Ip.format(ip)
      assert.strictEqual(`[${text}]`, new URL(`http://[${text}]/`).hostname)
    }), { numRuns: 2000 })
  })

  it("agrees with node:net on what is an address", () => {
    const samples = [
      "192.0.2.1", "0.0.0.0", "255.255.255.255", "256.0.0.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "",
      "2001:db8::1", "::", "::1", "2001:db8::", "::ffff:192.0.2.1", "1::2::3", "2001:db8:0:0:0:0:0:1:2", "gggg::",
      "2001:db8:0:1::200", "fe80::1%eth0", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4:5:6:192.0.2.1"
    ]
    for (const s of samples) {
      const ours = Ip.parse(s)
      const theirs = isIPv4(s) ? 4 : isIPv6(s) && !s.includes("%") ? 6 : undefined
      // node accepts leading zeros in no case for v4 either; both must agree on the family.
      assert.strictEqual(ours?.family, theirs, s)
    }
  })

  it("keeps the embedded IPv4 tail", () => {
    const ip = Ip.parse("::ffff:192.0.2.1")
    assert.isDefined(ip)
    assert.strictEqual(ip && ip.value, 0xffffc0000201n)
  })

  it("round-trips bytes", () => {
    fc.assert(fc.property(anyIp, (ip) => {
      const back = Ip.fromBytes(Ip.toBytes(ip))
      assert.isTrue(back !== undefined && Ip.equals(back, ip))
    }))
  })

  it("orders IPv4 before IPv6 and adds within the family", () => {
    const a = Ip.parse("192.0.2.255")
    const b = Ip.parse("2001:db8::")
    assert.isTrue(a !== undefined && b !== undefined && Ip.compare(a, b) === -1)
    assert.strictEqual(a && Ip.format(Ip.add(a, 1n) ?? a), "192.0.3.0")
    assert.isUndefined(Ip.add(Ip.make(4, Ip.maxValue(4)), 1n))
  })
})

describe("Cidr", () => {
  it("masks host bits like Go's ParseCIDR", () => {
    const cidr = Result.getOrThrow(Cidr.parse("192.0.2.7/24"))
    assert.strictEqual(Cidr.format(cidr), "192.0.2.0/24")
    assert.strictEqual(Cidr.size(cidr), 256n)
  })

  it("rejects malformed prefixes with a reason", () => {
    for (const bad of ["192.0.2.0", "192.0.2.0/33", "2001:db8::/129", "192.0.2.0/-1", "x/24", "192.0.2.0/024"]) {
      const r = Cidr.parse(bad)
      assert.isTrue(Result.isFailure(r), bad)
    }
  })

  it("summarises any range into the minimal exact cover", () => {
    const family = fc.constantFrom<Ip.Family>(4, 6)
    fc.assert(fc.property(family, fc.bigInt({ min: 0n, max: 1n << 20n }), fc.bigInt({ min: 0n, max: 1n << 20n }),
      fc.bigInt({ min: 0n, max: 1n << 20n }), (fam, base, a, b) => {
        const offset = fam === 6 ? (0x20010db8n << 96n) : (192n << 24n)
        const lo = offset + base + (a < b ? a : b)
        const hi = offset + base + (a < b ? b : a)
        const cidrs = Cidr.summarize({ family: fam, first: lo, last: hi })
        // Contiguous, aligned, exact.
        let next = lo
        for (const c of cidrs) {
          assert.strictEqual(Cidr.first(c), next)
          assert.strictEqual(c.network % Cidr.size(c), 0n)
          next = Cidr.last(c) + 1n
        }
        assert.strictEqual(next, hi + 1n)
        // Minimal: no two neighbours could merge into one aligned block.
        for (let i = 1; i < cidrs.length; i++) {
          const p = cidrs[i - 1]
          const c = cidrs[i]
          if (p === undefined || c === undefined) continue
          const merged = p.prefix === c.prefix && p.network % (Cidr.size(p) * 2n) === 0n
          assert.isFalse(merged)
        }
      }), { numRuns: 500 })
  })

  it("parses pool entries: CIDRs and ranges with spaces", () => {
    const r = Result.getOrThrow(Cidr.parsePoolEntry("192.0.2.10 - 192.0.2.20"))
    assert.deepStrictEqual(r.map(Cidr.format), ["192.0.2.10/31", "192.0.2.12/30", "192.0.2.16/30", "192.0.2.20/32"])
    assert.isTrue(Result.isFailure(Cidr.parsePoolEntry("192.0.2.20-192.0.2.10")))
    assert.isTrue(Result.isFailure(Cidr.parsePoolEntry("192.0.2.1-2001:db8::1")))
    assert.deepStrictEqual(Result.getOrThrow(Cidr.parsePoolEntry("2001:db8::/124")).map(Cidr.format), ["2001:db8::/124"])
  })

  it("detects overlap and containment", () => {
    const a = Result.getOrThrow(Cidr.parse("192.0.2.0/24"))
    const b = Result.getOrThrow(Cidr.parse("192.0.2.128/25"))
    const c = Result.getOrThrow(Cidr.parse("198.51.100.0/24"))
    assert.isTrue(Cidr.overlaps(a, b))
    assert.isFalse(Cidr.overlaps(a, c))
    const ip = Ip.parse("192.0.2.200")
    assert.isTrue(ip !== undefined && Cidr.contains(b, ip) && !Cidr.contains(c, ip))
  })
})

describe("Mac", () => {
  it("parses and formats", () => {
    const mac = Mac.parse("02:00:00:00:00:1A")
    assert.isDefined(mac)
    assert.strictEqual(mac && Mac.format(mac), "02:00:00:00:00:1a")
    assert.isUndefined(Mac.parse("02:00:00:00:00"))
    assert.isTrue(Mac.equals(Mac.broadcast, new Uint8Array(6).fill(0xff)))
  })
})
