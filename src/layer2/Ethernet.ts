/**
 * Ethernet II frames, optionally with one IEEE 802.1Q tag.
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import type { Mac } from "./Address.ts"
import { copy, put16, u16 } from "./Bytes.ts"
import { malformed, type MalformedFrame } from "./MalformedFrame.ts"

export const ETHERTYPE_IPV4 = 0x0800
export const ETHERTYPE_ARP = 0x0806
export const ETHERTYPE_VLAN = 0x8100
export const ETHERTYPE_IPV6 = 0x86dd

export interface VlanTag {
  /** Priority code point, 0–7. */
  readonly priority: number
  readonly dropEligible: boolean
  /** VLAN identifier, 0–4095. */
  readonly id: number
}

export interface EthernetFrame {
  readonly destination: Mac
  readonly source: Mac
  readonly vlan?: VlanTag
  /** The ethertype of the payload (inside the tag when there is one). */
  readonly ethertype: number
  readonly payload: Uint8Array
}

const HEADER = 14
const TAG = 4

/** Decodes a frame as received from an AF_PACKET socket (no preamble, no FCS; trailing padding stays in `payload`). */
export const decode = (bytes: Uint8Array): Result.Result<EthernetFrame, MalformedFrame> => {
  if (bytes.length < HEADER) {
    return Result.fail(malformed("ethernet", "frame", `${bytes.length} bytes, shorter than the 14-byte header`))
  }
  const outer = u16(bytes, 12)
  if (outer < 0x0600) {
    return Result.fail(malformed("ethernet", "ethertype", `0x${outer.toString(16)} is an 802.3 length, not Ethernet II`))
  }
  const destination = copy(bytes, 0, 6)
  const source = copy(bytes, 6, 12)
  if (outer !== ETHERTYPE_VLAN) {
    return Result.succeed({ destination, source, ethertype: outer, payload: copy(bytes, HEADER, bytes.length) })
  }
  if (bytes.length < HEADER + TAG) {
    return Result.fail(malformed("ethernet", "vlan", `${bytes.length} bytes, too short for an 802.1Q tag`))
  }
  const tci = u16(bytes, 14)
  const ethertype = u16(bytes, 16)
  if (ethertype === ETHERTYPE_VLAN) {
    return Result.fail(malformed("ethernet", "vlan", "stacked 802.1Q tags are not supported"))
  }
  if (ethertype < 0x0600) {
    return Result.fail(malformed("ethernet", "ethertype", `0x${ethertype.toString(16)} inside the tag is an 802.3 length`))
  }
  const vlan: VlanTag = { priority: tci >>> 13, dropEligible: (tci & 0x1000) !== 0, id: tci & 0x0fff }
  return Result.succeed({ destination, source, vlan, ethertype, payload: copy(bytes, HEADER + TAG, bytes.length) })
}

export const encode = (frame: EthernetFrame): Uint8Array => {
  const header = frame.vlan === undefined ? HEADER : HEADER + TAG
  const out = new Uint8Array(header + frame.payload.length)
  out.set(frame.destination, 0)
  out.set(frame.source, 6)
  if (frame.vlan === undefined) {
    put16(out, 12, frame.ethertype)
  } else {
    put16(out, 12, ETHERTYPE_VLAN)
    const { dropEligible, id, priority } = frame.vlan
    put16(out, 14, ((priority & 7) << 13) | (dropEligible ? 0x1000 : 0) | (id & 0x0fff))
    put16(out, 16, frame.ethertype)
  }
  out.set(frame.payload, header)
  return out
}
