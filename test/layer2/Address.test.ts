import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import * as Address from "../../src/layer2/Address.ts"
import { ipv6, mac } from "./arbitraries.ts"

const ok = <A>(r: Result.Result<A, string>): A => Result.getOrThrow(r)

describe("layer2 Address", () => {
  it("formats and parses MACs and IPv4 addresses losslessly", () => {
    fc.assert(fc.property(mac, (m) => assert.deepStrictEqual(ok(Address.parseMac(Address.formatMac(m))), m)))
    fc.assert(fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (ip) =>
      assert.deepStrictEqual(ok(Address.parseIpv4(Address.formatIpv4(ip))), ip)))
    assert.strictEqual(Address.formatMac(Uint8Array.of(2, 0, 0, 0, 0, 0x11)), "02:00:00:00:00:11")
  })

  it("writes IPv6 in RFC 5952 form (the WHATWG URL serializer agrees) and reads it back", () => {
    fc.assert(fc.property(
      fc.oneof(ipv6, fc.array(fc.constantFrom(0, 0, 0, 1, 0xff), { minLength: 16, maxLength: 16 }).map((a) => Uint8Array.from(a))),
      (ip) => {
        const text = Address.formatIpv6(ip)
        assert.strictEqual(`[${text}]`, new URL(`http://[${text}]/`).hostname)
        assert.deepStrictEqual(ok(Address.parseIpv6(text)), ip)
      }
    ))
    assert.strictEqual(Address.formatIpv6(ok(Address.parseIpv6("2001:DB8:0:1:0:0:0:200"))), "2001:db8:0:1::200")
    assert.deepStrictEqual(ok(Address.parseIpv6("::ffff:192.0.2.1")).subarray(10), Uint8Array.of(0xff, 0xff, 192, 0, 2, 1))
  })

  it("rejects malformed text with the reason", () => {
    for (const bad of ["", "1.2.3", "1.2.3.256", "01.2.3.4", "a.b.c.d"]) assert.isTrue(Result.isFailure(Address.parseIpv4(bad)))
    for (const bad of ["", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "1:2:3:4:5:6:7", "::g", "1:2:3:4:5:6:7::8:9", "1.2.3.4::"]) {
      assert.isTrue(Result.isFailure(Address.parseIpv6(bad)), bad)
    }
    for (const bad of ["", "02:00:00:00:00", "02:00:00:00:00:100", "zz:00:00:00:00:00"]) {
      assert.isTrue(Result.isFailure(Address.parseMac(bad)), bad)
    }
  })

  it("derives the solicited-node group and its 33:33:ff MAC from the low 24 bits", () => {
    const vip = ok(Address.parseIpv6("2001:db8:0:1::200"))
    assert.strictEqual(Address.formatIpv6(Address.solicitedNodeAddress(vip)), "ff02::1:ff00:200")
    assert.strictEqual(Address.formatMac(Address.solicitedNodeMac(vip)), "33:33:ff:00:02:00")
    assert.strictEqual(Address.formatMac(Address.multicastMac(Address.ALL_NODES)), "33:33:00:00:00:01")
    fc.assert(fc.property(ipv6, (ip) => {
      const group = Address.solicitedNodeAddress(ip)
      assert.deepStrictEqual(group.subarray(13), ip.subarray(13))
      assert.isTrue(Address.isMulticastIpv6(group))
      assert.isTrue(Address.isMulticastMac(Address.solicitedNodeMac(ip)))
    }))
  })
})
