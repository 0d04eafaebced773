// fast-check arbitraries shared by the layer 2 codec tests.
import * as fc from "fast-check"
import type { ArpPacket } from "../../src/layer2/Arp.ts"
import type { EthernetFrame, VlanTag } from "../../src/layer2/Ethernet.ts"
import type { Ipv6Packet } from "../../src/layer2/Ipv6.ts"
import type { NdpMessage } from "../../src/layer2/Ndp.ts"

export const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n })
export const mac = bytes(6)
export const ipv4 = bytes(4)
export const ipv6 = bytes(16)
/** Unicast targets: NDP rejects multicast ones. */
export const unicastIpv6 = ipv6.filter((b) => b[0] !== 0xff)

export const vlan: fc.Arbitrary<VlanTag> = fc.record({
  priority: fc.integer({ min: 0, max: 7 }),
  dropEligible: fc.boolean(),
  id: fc.integer({ min: 0, max: 4095 })
})

export const ethernet: fc.Arbitrary<EthernetFrame> = fc
  .record({
    destination: mac,
    source: mac,
    vlan: fc.option(vlan, { nil: undefined }),
    ethertype: fc.integer({ min: 0x0600, max: 0xffff }).filter((t) => t !== 0x8100),
    payload: fc.uint8Array({ maxLength: 100 })
  })
  .map(({ vlan, ...rest }) => (vlan === undefined ? rest : { ...rest, vlan }))

export const arp: fc.Arbitrary<ArpPacket> = fc.record({
  operation: fc.constantFrom(1, 2),
  senderMac: mac,
  senderIp: ipv4,
  targetMac: mac,
  targetIp: ipv4
})

export const ipv6Packet: fc.Arbitrary<Ipv6Packet> = fc.record({
  trafficClass: fc.integer({ min: 0, max: 255 }),
  flowLabel: fc.integer({ min: 0, max: 0xfffff }),
  nextHeader: fc.integer({ min: 0, max: 255 }),
  hopLimit: fc.integer({ min: 0, max: 255 }),
  source: ipv6,
  destination: ipv6,
  payload: fc.uint8Array({ maxLength: 100 })
})

export const ndp: fc.Arbitrary<NdpMessage> = fc.oneof(
  fc.record({ target: unicastIpv6, sourceLinkLayer: fc.option(mac, { nil: undefined }) }).map(
    ({ sourceLinkLayer, target }): NdpMessage => ({
      _tag: "NeighborSolicitation",
      target,
      ...(sourceLinkLayer === undefined ? {} : { sourceLinkLayer })
    })
  ),
  fc.record({
    router: fc.boolean(),
    solicited: fc.boolean(),
    override: fc.boolean(),
    target: unicastIpv6,
    targetLinkLayer: fc.option(mac, { nil: undefined })
  }).map(({ targetLinkLayer, ...rest }): NdpMessage => ({
    _tag: "NeighborAdvertisement",
    ...rest,
    ...(targetLinkLayer === undefined ? {} : { targetLinkLayer })
  }))
)

/** A frame with a few random bytes overwritten, cut short or extended: the fuzz input. */
export const mutated = (valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> =>
  fc.tuple(
    valid,
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
    fc.option(fc.nat(), { nil: undefined }),
    fc.uint8Array({ maxLength: 8 })
  ).map(([frame, edits, cut, extra]) => {
    const out = Uint8Array.from(frame)
    for (const [at, value] of edits) if (out.length > 0) out[at % out.length] = value
    const kept = cut === undefined ? out : out.subarray(0, cut % (out.length + 1))
    const result = new Uint8Array(kept.length + extra.length)
    result.set(kept)
    result.set(extra, kept.length)
    return result
  })
