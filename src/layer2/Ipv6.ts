/**
 * The fixed IPv6 header (RFC 8200) and the upper-layer checksum over the IPv6 pseudo-header (RFC 8200 §8.1) that
 * ICMPv6 uses. Extension headers are not parsed: NDP messages never carry them (RFC 4861 §7.1 drops such
 * messages anyway when they come with a hop limit below 255, and routers never forward them).
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import type { Ipv6 } from "./Address.ts"
import { copy, put16, put32, u16, u32, u8 } from "./Bytes.ts"
import { malformed, type MalformedFrame } from "./MalformedFrame.ts"

export const NEXT_HEADER_ICMPV6 = 58
export const HEADER = 40

export interface Ipv6Packet {
  /** 0–255. */
  readonly trafficClass: number
  /** 0–0xfffff. */
  readonly flowLabel: number
  readonly nextHeader: number
  readonly hopLimit: number
  readonly source: Ipv6
  readonly destination: Ipv6
  readonly payload: Uint8Array
}

/** Decodes the header; bytes past the payload length (Ethernet padding) are dropped. */
export const decode = (bytes: Uint8Array): Result.Result<Ipv6Packet, MalformedFrame> => {
  if (bytes.length < HEADER) return Result.fail(malformed("ipv6", "header", `${bytes.length} bytes, shorter than 40`))
  const word = u32(bytes, 0)
  const version = word >>> 28
  if (version !== 6) return Result.fail(malformed("ipv6", "version", `${version}, expected 6`))
  const payloadLength = u16(bytes, 4)
  if (HEADER + payloadLength > bytes.length) {
    return Result.fail(
      malformed("ipv6", "payloadLength", `${payloadLength} but only ${bytes.length - HEADER} bytes follow the header`)
    )
  }
  return Result.succeed({
    trafficClass: (word >>> 20) & 0xff,
    flowLabel: word & 0xfffff,
    nextHeader: u8(bytes, 6),
    hopLimit: u8(bytes, 7),
    source: copy(bytes, 8, 24),
    destination: copy(bytes, 24, 40),
    payload: copy(bytes, HEADER, HEADER + payloadLength)
  })
}

export const encode = (packet: Ipv6Packet): Uint8Array => {
  const out = new Uint8Array(HEADER + packet.payload.length)
  put32(out, 0, ((6 << 28) | ((packet.trafficClass & 0xff) << 20) | (packet.flowLabel & 0xfffff)) >>> 0)
  put16(out, 4, packet.payload.length)
  out[6] = packet.nextHeader
  out[7] = packet.hopLimit
  out.set(packet.source, 8)
  out.set(packet.destination, 24)
  out.set(packet.payload, HEADER)
  return out
}

const sum16 = (bytes: Uint8Array, initial: number): number => {
  let sum = initial
  const even = bytes.length & ~1
  for (let i = 0; i < even; i += 2) sum += ((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)
  if (even !== bytes.length) sum += (bytes[even] ?? 0) << 8
  return sum
}

/**
 * The Internet checksum of `upper` (an ICMPv6 message, say) preceded by the pseudo-header of `source`,
 * `destination`, the upper-layer length and `nextHeader`. Computed over a message whose checksum field is zero it
 * is the value to write there; over a message carrying a correct checksum it is 0.
 */
export const pseudoHeaderChecksum = (source: Ipv6, destination: Ipv6, nextHeader: number, upper: Uint8Array): number => {
  let sum = sum16(source, 0)
  sum = sum16(destination, sum)
  sum += (upper.length >>> 16) + (upper.length & 0xffff) + nextHeader
  sum = sum16(upper, sum)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}
