/**
 * ICMPv6 Neighbor Solicitation and Neighbor Advertisement (RFC 4861 §4.3, §4.4) with their link-layer address
 * options: the message codec (checksum verified on decode, computed on encode), a whole-frame decoder for the
 * responder, and builders for the advertisements a layer 2 speaker sends.
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import {
  ALL_NODES,
  isMulticastIpv6,
  isUnspecifiedIpv6,
  type Ipv6,
  type Mac,
  multicastMac
} from "./Address.ts"
import { copy, put32, u16, u32, u8 } from "./Bytes.ts"
import * as Ethernet from "./Ethernet.ts"
import * as Ip from "./Ipv6.ts"
import { malformed, type MalformedFrame } from "./MalformedFrame.ts"

export const TYPE_NEIGHBOR_SOLICITATION = 135
export const TYPE_NEIGHBOR_ADVERTISEMENT = 136
const OPTION_SOURCE_LINK_LAYER = 1
const OPTION_TARGET_LINK_LAYER = 2
/** NDP messages are only valid with the maximum hop limit: proof they were not forwarded (RFC 4861 §7.1). */
export const HOP_LIMIT = 255

export interface NeighborSolicitation {
  readonly _tag: "NeighborSolicitation"
  readonly target: Ipv6
  readonly sourceLinkLayer?: Mac
}

export interface NeighborAdvertisement {
  readonly _tag: "NeighborAdvertisement"
  readonly router: boolean
  readonly solicited: boolean
  readonly override: boolean
  readonly target: Ipv6
  readonly targetLinkLayer?: Mac
}

export type NdpMessage = NeighborSolicitation | NeighborAdvertisement

const BODY = 24 // type, code, checksum, reserved/flags, target

const reject = (field: string, reason: string) => Result.fail(malformed("ndp", field, reason))

/**
 * Decodes the ICMPv6 payload of `packet` as an NS or NA, with RFC 4861 §7.1 validation: ICMPv6 next header, hop
 * limit 255, code 0, correct checksum, no zero-length option, no multicast target, no source link-layer option
 * from the unspecified address, no solicited flag on an advertisement sent to a multicast group. Unknown options
 * are skipped, as the RFC asks.
 */
export const decode = (packet: Ip.Ipv6Packet): Result.Result<NdpMessage, MalformedFrame> => {
  const bytes = packet.payload
  if (packet.nextHeader !== Ip.NEXT_HEADER_ICMPV6) {
    return reject("nextHeader", `${packet.nextHeader}, expected ICMPv6 (58) without extension headers`)
  }
  if (bytes.length < BODY) return reject("length", `${bytes.length} bytes, shorter than the 24-byte NS/NA body`)
  const type = u8(bytes, 0)
  if (type !== TYPE_NEIGHBOR_SOLICITATION && type !== TYPE_NEIGHBOR_ADVERTISEMENT) {
    return reject("type", `ICMPv6 type ${type}, expected 135 (NS) or 136 (NA)`)
  }
  if (packet.hopLimit !== HOP_LIMIT) return reject("hopLimit", `${packet.hopLimit}, NDP requires 255`)
  if (u8(bytes, 1) !== 0) return reject("code", `${u8(bytes, 1)}, expected 0`)
  if (Ip.pseudoHeaderChecksum(packet.source, packet.destination, Ip.NEXT_HEADER_ICMPV6, bytes) !== 0) {
    return reject("checksum", `0x${u16(bytes, 2).toString(16)} does not match the message`)
  }
  const target = copy(bytes, 8, 24)
  if (isMulticastIpv6(target)) return reject("target", "a multicast address")
  let sourceLinkLayer: Mac | undefined
  let targetLinkLayer: Mac | undefined
  for (let at = BODY; at < bytes.length;) {
    if (at + 2 > bytes.length) return reject("options", "truncated option header")
    const optionType = u8(bytes, at)
    const length = u8(bytes, at + 1) * 8
    if (length === 0) return reject("options", `option ${optionType} has length 0`)
    if (at + length > bytes.length) return reject("options", `option ${optionType} runs past the message`)
    if (optionType === OPTION_SOURCE_LINK_LAYER || optionType === OPTION_TARGET_LINK_LAYER) {
      if (length < 8) return reject("options", `link-layer address option of ${length} bytes`)
      const mac = copy(bytes, at + 2, at + 8)
      if (optionType === OPTION_SOURCE_LINK_LAYER) sourceLinkLayer = mac
      else targetLinkLayer = mac
    }
    at += length
  }
  if (type === TYPE_NEIGHBOR_SOLICITATION) {
    if (sourceLinkLayer !== undefined && isUnspecifiedIpv6(packet.source)) {
      return reject("options", "source link-layer address option from the unspecified address")
    }
    return Result.succeed({
      _tag: "NeighborSolicitation",
      target,
      ...(sourceLinkLayer === undefined ? {} : { sourceLinkLayer })
    })
  }
  const flags = u32(bytes, 4)
  const solicited = (flags & 0x40000000) !== 0
  if (solicited && isMulticastIpv6(packet.destination)) {
    return reject("flags", "solicited advertisement sent to a multicast address")
  }
  return Result.succeed({
    _tag: "NeighborAdvertisement",
    router: (flags & 0x80000000) !== 0,
    solicited,
    override: (flags & 0x20000000) !== 0,
    target,
    ...(targetLinkLayer === undefined ? {} : { targetLinkLayer })
  })
}

/** Encodes `message` as ICMPv6 bytes whose checksum is right for `source` → `destination`. */
export const encode = (message: NdpMessage, source: Ipv6, destination: Ipv6): Uint8Array => {
  const linkLayer = message._tag === "NeighborSolicitation" ? message.sourceLinkLayer : message.targetLinkLayer
  const out = new Uint8Array(BODY + (linkLayer === undefined ? 0 : 8))
  if (message._tag === "NeighborSolicitation") {
    out[0] = TYPE_NEIGHBOR_SOLICITATION
  } else {
    out[0] = TYPE_NEIGHBOR_ADVERTISEMENT
    put32(
      out,
      4,
      (message.router ? 0x80000000 : 0) + (message.solicited ? 0x40000000 : 0) + (message.override ? 0x20000000 : 0)
    )
  }
  out.set(message.target, 8)
  if (linkLayer !== undefined) {
    out[BODY] = message._tag === "NeighborSolicitation" ? OPTION_SOURCE_LINK_LAYER : OPTION_TARGET_LINK_LAYER
    out[BODY + 1] = 1
    out.set(linkLayer, BODY + 2)
  }
  const checksum = Ip.pseudoHeaderChecksum(source, destination, Ip.NEXT_HEADER_ICMPV6, out)
  out[2] = checksum >>> 8
  out[3] = checksum & 0xff
  return out
}

export interface NdpFrame {
  readonly ethernet: Ethernet.EthernetFrame
  readonly ipv6: Ip.Ipv6Packet
  readonly ndp: NdpMessage
}

/** Decodes a received frame down to its NS or NA; anything else is rejected with the reason. */
export const decodeFrame = (bytes: Uint8Array): Result.Result<NdpFrame, MalformedFrame> =>
  Result.flatMap(Ethernet.decode(bytes), (ethernet) =>
    ethernet.ethertype !== Ethernet.ETHERTYPE_IPV6
      ? reject("ethertype", `0x${ethernet.ethertype.toString(16)}, expected IPv6 (0x86dd)`)
      : Result.flatMap(Ip.decode(ethernet.payload), (ipv6) =>
        Result.map(decode(ipv6), (ndp) => ({ ethernet, ipv6, ndp }))))

/** Ethernet + IPv6 (hop limit 255) + the encoded message. */
export const frame = (options: {
  readonly destinationMac: Mac
  readonly sourceMac: Mac
  readonly vlan?: Ethernet.VlanTag | undefined
  readonly source: Ipv6
  readonly destination: Ipv6
  readonly message: NdpMessage
}): Uint8Array =>
  Ethernet.encode({
    destination: options.destinationMac,
    source: options.sourceMac,
    ...(options.vlan === undefined ? {} : { vlan: options.vlan }),
    ethertype: Ethernet.ETHERTYPE_IPV6,
    payload: Ip.encode({
      trafficClass: 0,
      flowLabel: 0,
      nextHeader: Ip.NEXT_HEADER_ICMPV6,
      hopLimit: HOP_LIMIT,
      source: options.source,
      destination: options.destination,
      payload: encode(options.message, options.source, options.destination)
    })
  })

/**
 * The solicited advertisement answering `solicitation` with `mac` (S=1, O=1, target link-layer option = `mac`).
 * Its IPv6 source is the target address itself, not the link-local one MetalLB uses: both the kernel and
 * ndisc6 accept that form, ndisc6 accepts no other. A solicitation from the unspecified address (duplicate address
 * detection) gets the RFC 4861 §7.2.4 answer: S=0, to all nodes.
 */
export const solicitedAdvertisement = (solicitation: NdpFrame & { readonly ndp: NeighborSolicitation }, mac: Mac) => {
  const dad = isUnspecifiedIpv6(solicitation.ipv6.source)
  const destination = dad ? ALL_NODES : solicitation.ipv6.source
  return frame({
    destinationMac: dad ? multicastMac(ALL_NODES) : solicitation.ndp.sourceLinkLayer ?? solicitation.ethernet.source,
    sourceMac: mac,
    vlan: solicitation.ethernet.vlan,
    source: solicitation.ndp.target,
    destination,
    message: {
      _tag: "NeighborAdvertisement",
      router: false,
      solicited: !dad,
      override: true,
      target: solicitation.ndp.target,
      targetLinkLayer: mac
    }
  })
}

/** An unsolicited advertisement of `target` at `mac` to ff02::1 (S=0, O=1): the IPv6 gratuitous announcement. */
export const unsolicitedAdvertisement = (mac: Mac, target: Ipv6, vlan?: Ethernet.VlanTag) =>
  frame({
    destinationMac: multicastMac(ALL_NODES),
    sourceMac: mac,
    vlan,
    source: target,
    destination: ALL_NODES,
    message: { _tag: "NeighborAdvertisement", router: false, solicited: false, override: true, target, targetLinkLayer: mac }
  })

/** Type guard for the responder: the decoded frame is a solicitation. */
export const isSolicitation = (f: NdpFrame): f is NdpFrame & { readonly ndp: NeighborSolicitation } =>
  f.ndp._tag === "NeighborSolicitation"
