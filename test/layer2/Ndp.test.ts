import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import * as Address from "../../src/layer2/Address.ts"
import * as Ethernet from "../../src/layer2/Ethernet.ts"
import * as Ip from "../../src/layer2/Ipv6.ts"
import * as Ndp from "../../src/layer2/Ndp.ts"
import { mac, mutated, ndp, unicastIpv6, vlan } from "./arbitraries.ts"

const v6 = (text: string) => Result.getOrThrow(Address.parseIpv6(text))
const packet = (message: Ndp.NdpMessage, source: Uint8Array, destination: Uint8Array, hopLimit = 255): Ip.Ipv6Packet => ({
  trafficClass: 0,
  flowLabel: 0,
  nextHeader: 58,
  hopLimit,
  source,
  destination,
  payload: Ndp.encode(message, source, destination)
})
/** Rewrites the checksum of an edited ICMPv6 message so the edit itself is what decode judges. */
const reseal = (payload: Uint8Array, source: Uint8Array, destination: Uint8Array): Uint8Array => {
  payload[2] = 0
  payload[3] = 0
  const sum = Ip.pseudoHeaderChecksum(source, destination, 58, payload)
  payload[2] = sum >> 8
  payload[3] = sum & 0xff
  return payload
}
const rejection = (p: Ip.Ipv6Packet) => {
  const result = Ndp.decode(p)
  return Result.isFailure(result) ? result.failure : assert.fail("expected a rejection")
}

/** A solicitation frame as a client sends it: to the target's solicited-node group, with its source MAC option. */
const solicitationFrame = fc
  .tuple(mac, unicastIpv6, unicastIpv6, fc.option(vlan, { nil: undefined }))
  .map(([client, clientIp, target, tag]) =>
    Ndp.frame({
      destinationMac: Address.solicitedNodeMac(target),
      sourceMac: client,
      vlan: tag,
      source: clientIp,
      destination: Address.solicitedNodeAddress(target),
      message: { _tag: "NeighborSolicitation", target, sourceLinkLayer: client }
    }))

describe("layer2 Ndp", () => {
  it("decode ∘ encode = id for NS and NA, with and without link-layer options", () => {
    fc.assert(fc.property(ndp, unicastIpv6, unicastIpv6, (message, source, destination) => {
      assert.deepStrictEqual(Result.getOrThrow(Ndp.decode(packet(message, source, destination))), message)
    }))
  })

  it("decodes whole frames: Ethernet ∘ IPv6 ∘ ICMPv6", () => {
    fc.assert(fc.property(solicitationFrame, (bytes) => {
      const frame = Result.getOrThrow(Ndp.decodeFrame(bytes))
      assert.strictEqual(frame.ndp._tag, "NeighborSolicitation")
      assert.strictEqual(frame.ipv6.hopLimit, 255)
    }))
  })

  it("answers a solicitation with S=1 O=1 from the target address itself, to the solicitor, hop limit 255", () => {
    fc.assert(fc.property(solicitationFrame, mac, (bytes, ours) => {
      const ns = Result.getOrThrow(Ndp.decodeFrame(bytes))
      if (!Ndp.isSolicitation(ns)) return assert.fail("not an NS")
      const na = Result.getOrThrow(Ndp.decodeFrame(Ndp.solicitedAdvertisement(ns, ours)))
      assert.deepStrictEqual(na.ethernet.destination, ns.ethernet.source)
      assert.deepStrictEqual(na.ethernet.source, ours)
      assert.deepStrictEqual(na.ethernet.vlan, ns.ethernet.vlan)
      assert.deepStrictEqual(na.ipv6.source, ns.ndp.target)
      assert.deepStrictEqual(na.ipv6.destination, ns.ipv6.source)
      assert.strictEqual(na.ipv6.hopLimit, 255)
      assert.deepStrictEqual(na.ndp, {
        _tag: "NeighborAdvertisement",
        router: false,
        solicited: true,
        override: true,
        target: ns.ndp.target,
        targetLinkLayer: ours
      })
    }))
  })

  it("answers duplicate address detection (unspecified source) to all nodes with S=0", () => {
    const target = v6("2001:db8:0:1::200")
    const ours = Uint8Array.of(2, 0, 0, 0, 0, 0x11)
    const ns = Result.getOrThrow(Ndp.decodeFrame(Ndp.frame({
      destinationMac: Address.solicitedNodeMac(target),
      sourceMac: Uint8Array.of(2, 0, 0, 0, 1, 0),
      source: Address.UNSPECIFIED_IPV6,
      destination: Address.solicitedNodeAddress(target),
      message: { _tag: "NeighborSolicitation", target }
    })))
    if (!Ndp.isSolicitation(ns)) return assert.fail("not an NS")
    const na = Result.getOrThrow(Ndp.decodeFrame(Ndp.solicitedAdvertisement(ns, ours)))
    assert.strictEqual(Address.formatMac(na.ethernet.destination), "33:33:00:00:00:01")
    assert.strictEqual(Address.formatIpv6(na.ipv6.destination), "ff02::1")
    assert.isFalse(na.ndp._tag === "NeighborAdvertisement" && na.ndp.solicited)
  })

  it("builds the unsolicited advertisement to ff02::1 with O=1 S=0", () => {
    const target = v6("2001:db8:0:1::201")
    const ours = Uint8Array.of(2, 0, 0, 0, 0, 0x12)
    const bytes = Ndp.unsolicitedAdvertisement(ours, target)
    assert.strictEqual(bytes.length, 86) // tcpdump: "length 86" for scapy's equivalent frame
    const na = Result.getOrThrow(Ndp.decodeFrame(bytes))
    assert.strictEqual(Address.formatMac(na.ethernet.destination), "33:33:00:00:00:01")
    assert.deepStrictEqual(na.ipv6.source, target)
    assert.strictEqual(Address.formatIpv6(na.ipv6.destination), "ff02::1")
    assert.deepStrictEqual(na.ndp, {
      _tag: "NeighborAdvertisement", router: false, solicited: false, override: true, target, targetLinkLayer: ours
    })
  })

  it("applies the RFC 4861 validity checks, naming the field", () => {
    const src = v6("2001:db8:0:1::100")
    const dst = v6("ff02::1:ff00:200")
    const ns: Ndp.NdpMessage = { _tag: "NeighborSolicitation", target: v6("2001:db8:0:1::200"), sourceLinkLayer: new Uint8Array(6) }
    assert.strictEqual(rejection(packet(ns, src, dst, 64)).field, "hopLimit")
    const corrupt = packet(ns, src, dst)
    corrupt.payload[10] = (corrupt.payload[10] ?? 0) ^ 1
    assert.strictEqual(rejection(corrupt).field, "checksum")
    assert.strictEqual(rejection({ ...packet(ns, src, dst), nextHeader: 0 }).field, "nextHeader")
    assert.strictEqual(rejection(packet({ ...ns, target: dst }, src, dst)).field, "target")
    assert.strictEqual(rejection(packet(ns, Address.UNSPECIFIED_IPV6, dst)).field, "options")
    const na: Ndp.NdpMessage = { _tag: "NeighborAdvertisement", router: false, solicited: true, override: true, target: src }
    assert.strictEqual(rejection(packet(na, src, Address.ALL_NODES)).field, "flags")
    const zeroOption = packet(ns, src, dst)
    const payload = Uint8Array.from(zeroOption.payload)
    payload[25] = 0
    const fixed = { ...zeroOption, payload: reseal(payload, src, dst) }
    assert.strictEqual(rejection(fixed).field, "options")
    const echo = Uint8Array.from(packet(ns, src, dst).payload)
    echo[0] = 128
    assert.strictEqual(rejection({ ...packet(ns, src, dst), payload: echo }).field, "type")
  })

  it("skips unknown options", () => {
    const src = v6("2001:db8:0:1::100")
    const dst = v6("2001:db8:0:1::200")
    const body = Ndp.encode({ _tag: "NeighborSolicitation", target: dst }, src, dst)
    const payload = new Uint8Array(body.length + 16)
    payload.set(body)
    payload.set([14, 1, 9, 9, 9, 9, 9, 9, 1, 1, 2, 0, 0, 0, 0, 0x42], body.length) // nonce option, then SLLA
    reseal(payload, src, dst)
    const decoded = Result.getOrThrow(Ndp.decode({ ...packet({ _tag: "NeighborSolicitation", target: dst }, src, dst), payload }))
    assert.deepStrictEqual(decoded, { _tag: "NeighborSolicitation", target: dst, sourceLinkLayer: Uint8Array.of(2, 0, 0, 0, 0, 0x42) })
  })

  it("never throws on random or mutated frames: it decodes them or says why not", () => {
    const random = fc.uint8Array({ maxLength: 120 }).map((b) => {
      const out = Uint8Array.from(b)
      if (out.length > 13) out.set([0x86, 0xdd], 12) // get past the ethertype check most of the time
      if (out.length > 14) out[14] = 0x60
      return out
    })
    const input = fc.oneof(random, mutated(solicitationFrame), mutated(solicitationFrame.map((b) => {
      const frame = Result.getOrThrow(Ndp.decodeFrame(b))
      return Ndp.isSolicitation(frame) ? Ndp.solicitedAdvertisement(frame, new Uint8Array(6)) : b
    })))
    fc.assert(fc.property(input, (bytes) => {
      const result = Ndp.decodeFrame(bytes)
      if (Result.isFailure(result)) {
        assert.strictEqual(result.failure._tag, "MalformedFrame")
        assert.isNotEmpty(result.failure.field)
        assert.isNotEmpty(result.failure.reason)
      } else {
        assert.strictEqual(result.success.ethernet.ethertype, Ethernet.ETHERTYPE_IPV6)
      }
    }), { numRuns: 2000 })
  })
})
