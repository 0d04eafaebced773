import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import { BROADCAST_MAC, formatIpv4, formatMac } from "../../src/layer2/Address.ts"
import * as Arp from "../../src/layer2/Arp.ts"
import * as Ethernet from "../../src/layer2/Ethernet.ts"
import { arp, bytes, ipv4, mac, mutated, vlan } from "./arbitraries.ts"

const requestFrame = fc
  .tuple(arp, mac, fc.option(vlan, { nil: undefined }), fc.nat({ max: 18 }))
  .map(([packet, destination, tag, padding]) => {
    const payload = new Uint8Array(Arp.LENGTH + padding)
    payload.set(Arp.encode({ ...packet, operation: Arp.OP_REQUEST }))
    return Ethernet.encode({
      destination,
      source: packet.senderMac,
      ...(tag === undefined ? {} : { vlan: tag }),
      ethertype: Ethernet.ETHERTYPE_ARP,
      payload
    })
  })

describe("layer2 Arp", () => {
  it("decode ∘ encode = id", () => {
    fc.assert(fc.property(arp, (packet) => {
      assert.deepStrictEqual(Result.getOrThrow(Arp.decode(Arp.encode(packet))), packet)
    }))
  })

  it("answers a request to the requester, swapping sender and target (and keeps the VLAN tag)", () => {
    fc.assert(fc.property(requestFrame, mac, (bytes, ours) => {
      const request = Result.getOrThrow(Arp.decodeFrame(bytes))
      const reply = Result.getOrThrow(Arp.decodeFrame(Arp.reply(request, ours)))
      assert.deepStrictEqual(reply.ethernet.destination, request.arp.senderMac)
      assert.deepStrictEqual(reply.ethernet.source, ours)
      assert.deepStrictEqual(reply.ethernet.vlan, request.ethernet.vlan)
      assert.deepStrictEqual(reply.arp, {
        operation: Arp.OP_REPLY,
        senderMac: ours,
        senderIp: request.arp.targetIp,
        targetMac: request.arp.senderMac,
        targetIp: request.arp.senderIp
      })
    }))
  })

  it("builds gratuitous requests and replies in MetalLB's form", () => {
    fc.assert(fc.property(mac, ipv4, fc.constantFrom(Arp.OP_REQUEST, Arp.OP_REPLY), (ours, vip, operation) => {
      const frame = Result.getOrThrow(Arp.decodeFrame(Arp.gratuitous(operation, ours, vip)))
      assert.deepStrictEqual(frame.ethernet.destination, BROADCAST_MAC)
      assert.deepStrictEqual(frame.arp, { operation, senderMac: ours, senderIp: vip, targetMac: BROADCAST_MAC, targetIp: vip })
    }))
    const one = Arp.gratuitous(Arp.OP_REPLY, Uint8Array.of(2, 0, 0, 0, 0, 0x12), Uint8Array.of(192, 0, 2, 200))
    assert.strictEqual(one.length, 42)
    const decoded = Result.getOrThrow(Arp.decodeFrame(one))
    assert.strictEqual(formatMac(decoded.arp.senderMac), "02:00:00:00:00:12")
    assert.strictEqual(formatIpv4(decoded.arp.targetIp), "192.0.2.200")
  })

  it("rejects what is not Ethernet/IPv4 ARP with the field and reason", () => {
    const good = Arp.encode({
      operation: 1,
      senderMac: new Uint8Array(6),
      senderIp: new Uint8Array(4),
      targetMac: new Uint8Array(6),
      targetIp: new Uint8Array(4)
    })
    const field = (edit: (b: Uint8Array) => Uint8Array) => {
      const result = Arp.decode(edit(Uint8Array.from(good)))
      return Result.isFailure(result) ? result.failure.field : "accepted"
    }
    assert.strictEqual(field((b) => b.subarray(0, 27)), "packet")
    assert.strictEqual(field((b) => (b[1] = 6, b)), "hardwareType")
    assert.strictEqual(field((b) => (b[2] = 0x86, b)), "protocolType")
    assert.strictEqual(field((b) => (b[4] = 8, b)), "hardwareLength")
    assert.strictEqual(field((b) => (b[5] = 16, b)), "protocolLength")
    assert.strictEqual(field((b) => (b[7] = 3, b)), "operation")
    const ipFrame = Ethernet.encode({ destination: BROADCAST_MAC, source: BROADCAST_MAC, ethertype: 0x0800, payload: good })
    const notArp = Arp.decodeFrame(ipFrame)
    assert.isTrue(Result.isFailure(notArp) && notArp.failure.field === "ethertype")
  })

  it("never throws on random or mutated frames: it decodes them or says why not", () => {
    const input = fc.oneof(fc.uint8Array({ maxLength: 80 }), mutated(requestFrame), bytes(42))
    fc.assert(fc.property(input, (frame) => {
      const result = Arp.decodeFrame(frame)
      if (Result.isFailure(result)) {
        assert.strictEqual(result.failure._tag, "MalformedFrame")
        assert.isNotEmpty(result.failure.field)
        assert.isNotEmpty(result.failure.reason)
      }
    }), { numRuns: 2000 })
  })
})
