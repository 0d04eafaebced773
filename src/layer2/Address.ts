/**
 * Link-layer and IP addresses as the codecs see them: plain bytes (`Uint8Array` of 6, 4 or 16), plus the few text
 * helpers the layer 2 code and its tests need. Local to layer2 on purpose: packets are bytes, and the project-wide
 * value types of `src/net` are a separate concern.
 *
 * @since 0.1.0
 */
import { Result } from "effect"

/** 6 bytes. */
export type Mac = Uint8Array
/** 4 bytes. */
export type Ipv4 = Uint8Array
/** 16 bytes. */
export type Ipv6 = Uint8Array

export const BROADCAST_MAC: Mac = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
export const ZERO_MAC: Mac = new Uint8Array(6)
/** ff02::1, all nodes. */
export const ALL_NODES: Ipv6 = Uint8Array.of(0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)
export const UNSPECIFIED_IPV6: Ipv6 = new Uint8Array(16)

export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

const hex2 = (n: number): string => n.toString(16).padStart(2, "0")

export const formatMac = (mac: Mac): string => Array.from(mac, hex2).join(":")

export const parseMac = (text: string): Result.Result<Mac, string> => {
  const parts = text.split(/[:-]/)
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) {
    return Result.fail(`"${text}" is not a MAC address (six hex bytes separated by ':')`)
  }
  return Result.succeed(Uint8Array.from(parts, (p) => parseInt(p, 16)))
}

export const formatIpv4 = (ip: Ipv4): string => Array.from(ip).join(".")

export const parseIpv4 = (text: string): Result.Result<Ipv4, string> => {
  const parts = text.split(".")
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) {
    return Result.fail(`"${text}" is not an IPv4 address (four decimal bytes)`)
  }
  return Result.succeed(Uint8Array.from(parts, Number))
}

/** RFC 5952 text: lower case, no leading zeros, the longest run (first on a tie) of two or more zero groups as `::`. */
export const formatIpv6 = (ip: Ipv6): string => {
  const groups: Array<number> = []
  for (let i = 0; i < 16; i += 2) groups.push(((ip[i] ?? 0) << 8) | (ip[i + 1] ?? 0))
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  if (bestStart < 0) return hexGroups(groups)
  return `${hexGroups(groups.slice(0, bestStart))}::${hexGroups(groups.slice(bestStart + bestLength))}`
}

const hexGroups = (groups: Array<number>): string => groups.map((g) => g.toString(16)).join(":")

/** The 16-bit groups of one side of "::" (an IPv4 tail, allowed on the last side, counts as two), or undefined. */
const groupsOf = (part: string, last: boolean): Array<number> | undefined => {
  if (part === "") return []
  const out: Array<number> = []
  const pieces = part.split(":")
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i] ?? ""
    if (last && i === pieces.length - 1 && piece.includes(".")) {
      const v4 = parseIpv4(piece)
      if (Result.isFailure(v4)) return undefined
      const b = v4.success
      out.push(((b[0] ?? 0) << 8) | (b[1] ?? 0), ((b[2] ?? 0) << 8) | (b[3] ?? 0))
    } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
      out.push(parseInt(piece, 16))
    } else {
      return undefined
    }
  }
  return out
}

export const parseIpv6 = (text: string): Result.Result<Ipv6, string> => {
  const bad = Result.fail(`"${text}" is not an IPv6 address`)
  const halves = text.split("::")
  if (halves.length > 2) return bad
  const head = groupsOf(halves[0] ?? "", halves.length === 1)
  const tail = halves.length === 2 ? groupsOf(halves[1] ?? "", true) : []
  if (head === undefined || tail === undefined) return bad
  const missing = 8 - head.length - tail.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return bad
  const groups = [...head, ...Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail]
  const out = new Uint8Array(16)
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8
    out[2 * i + 1] = g & 0xff
  })
  return Result.succeed(out)
}

/** The solicited-node multicast address ff02::1:ffXX:XXXX of `ip` (RFC 4291 §2.7.1): where its NSs are sent. */
export const solicitedNodeAddress = (ip: Ipv6): Ipv6 =>
  Uint8Array.of(0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, ip[13] ?? 0, ip[14] ?? 0, ip[15] ?? 0)

/** The Ethernet MAC of an IPv6 multicast address: 33:33 and its last 32 bits (RFC 2464 §7). */
export const multicastMac = (group: Ipv6): Mac =>
  Uint8Array.of(0x33, 0x33, group[12] ?? 0, group[13] ?? 0, group[14] ?? 0, group[15] ?? 0)

/** 33:33:ff:XX:XX:XX, the MAC a NIC must accept to hear the NSs for `ip`. */
export const solicitedNodeMac = (ip: Ipv6): Mac => multicastMac(solicitedNodeAddress(ip))

export const isMulticastMac = (mac: Mac): boolean => ((mac[0] ?? 0) & 1) === 1
export const isMulticastIpv6 = (ip: Ipv6): boolean => ip[0] === 0xff
export const isUnspecifiedIpv6 = (ip: Ipv6): boolean => equalBytes(ip, UNSPECIFIED_IPV6)
