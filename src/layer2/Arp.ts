/**
 * ARP for Ethernet/IPv4 (RFC 826): the packet codec, a whole-frame decoder for the responder, and builders for the
 * frames a layer 2 speaker sends (reply, gratuitous request and reply in MetalLB's form).
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import { BROADCAST_MAC, type Ipv4, type Mac } from "./Address.ts"
import { copy, put16, u16, u8 } from "./Bytes.ts"
import * as Ethernet from "./Ethernet.ts"
import { malformed, type MalformedFrame } from "./MalformedFrame.ts"

export const OP_REQUEST = 1
export const OP_REPLY = 2

export interface ArpPacket {
  /** {@link OP_REQUEST} or {@link OP_REPLY}. */
  readonly operation: number
  readonly senderMac: Mac
  readonly senderIp: Ipv4
  readonly targetMac: Mac
  readonly targetIp: Ipv4
}

/** Size of an Ethernet/IPv4 ARP packet; Ethernet padding after it is ignored. */
export const LENGTH = 28

export const decode = (bytes: Uint8Array): Result.Result<ArpPacket, MalformedFrame> => {
  if (bytes.length < LENGTH) return Result.fail(malformed("arp", "packet", `${bytes.length} bytes, shorter than 28`))
  const htype = u16(bytes, 0)
  if (htype !== 1) return Result.fail(malformed("arp", "hardwareType", `${htype}, only Ethernet (1) is supported`))
  const ptype = u16(bytes, 2)
  if (ptype !== Ethernet.ETHERTYPE_IPV4) {
    return Result.fail(malformed("arp", "protocolType", `0x${ptype.toString(16)}, only IPv4 (0x800) is supported`))
  }
  if (u8(bytes, 4) !== 6) return Result.fail(malformed("arp", "hardwareLength", `${u8(bytes, 4)}, expected 6`))
  if (u8(bytes, 5) !== 4) return Result.fail(malformed("arp", "protocolLength", `${u8(bytes, 5)}, expected 4`))
  const operation = u16(bytes, 6)
  if (operation !== OP_REQUEST && operation !== OP_REPLY) {
    return Result.fail(malformed("arp", "operation", `${operation}, expected 1 (request) or 2 (reply)`))
  }
  return Result.succeed({
    operation,
    senderMac: copy(bytes, 8, 14),
    senderIp: copy(bytes, 14, 18),
    targetMac: copy(bytes, 18, 24),
    targetIp: copy(bytes, 24, 28)
  })
}

export const encode = (packet: ArpPacket): Uint8Array => {
  const out = new Uint8Array(LENGTH)
  put16(out, 0, 1)
  put16(out, 2, Ethernet.ETHERTYPE_IPV4)
  out[4] = 6
  out[5] = 4
  put16(out, 6, packet.operation)
  out.set(packet.senderMac, 8)
  out.set(packet.senderIp, 14)
  out.set(packet.targetMac, 18)
  out.set(packet.targetIp, 24)
  return out
}

export interface ArpFrame {
  readonly ethernet: Ethernet.EthernetFrame
  readonly arp: ArpPacket
}

/** Decodes a received frame down to its ARP packet; any other ethertype is rejected with the reason. */
export const decodeFrame = (bytes: Uint8Array): Result.Result<ArpFrame, MalformedFrame> =>
  Result.flatMap(Ethernet.decode(bytes), (ethernet) =>
    ethernet.ethertype !== Ethernet.ETHERTYPE_ARP
      ? Result.fail(malformed("arp", "ethertype", `0x${ethernet.ethertype.toString(16)}, expected ARP (0x806)`))
      : Result.map(decode(ethernet.payload), (arp) => ({ ethernet, arp })))

const frame = (destination: Mac, source: Mac, arp: ArpPacket, vlan: Ethernet.VlanTag | undefined): Uint8Array =>
  Ethernet.encode({
    destination,
    source,
    ...(vlan === undefined ? {} : { vlan }),
    ethertype: Ethernet.ETHERTYPE_ARP,
    payload: encode(arp)
  })

/**
 * The reply to `request` saying that its target IP is at `mac`: unicast to the requester, on the requester's VLAN
 * if it was tagged (MetalLB answers with the MAC of the interface the request arrived on).
 */
export const reply = (request: ArpFrame, mac: Mac): Uint8Array =>
  frame(request.arp.senderMac, mac, {
    operation: OP_REPLY,
    senderMac: mac,
    senderIp: request.arp.targetIp,
    targetMac: request.arp.senderMac,
    targetIp: request.arp.senderIp
  }, request.ethernet.vlan)

/**
 * A gratuitous ARP request or reply announcing `ip` at `mac`, in MetalLB's form: Ethernet broadcast, sender IP =
 * target IP = `ip`, target MAC ff:ff:ff:ff:ff:ff.
 */
export const gratuitous = (operation: typeof OP_REQUEST | typeof OP_REPLY, mac: Mac, ip: Ipv4, vlan?: Ethernet.VlanTag) =>
  frame(BROADCAST_MAC, mac, { operation, senderMac: mac, senderIp: ip, targetMac: BROADCAST_MAC, targetIp: ip }, vlan)
