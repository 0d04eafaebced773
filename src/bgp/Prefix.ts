/**
 * IP prefixes as BGP carries them: a family, the full-width address bytes (host bits zeroed) and a length. Kept
 * self-contained in `bgp/` so the codec has no dependency on the project-wide address module.
 *
 * @since 0.1.0
 */
import { Result } from "effect"

/** An IPv4 or IPv6 prefix. `bytes` is 4 or 16 bytes long with every bit past `length` zero. */
export interface Prefix {
  readonly family: 4 | 6
  readonly bytes: Uint8Array
  readonly length: number
}

/** Width of a family's addresses in bytes. */
export const addressBytes = (family: 4 | 6): 4 | 16 => (family === 4 ? 4 : 16)

/**
 * Builds a prefix from address bytes, zeroing the host bits (copies `bytes`). Bytes shorter than the family's width
 * are zero-filled, so the significant octets of an NLRI can be passed directly.
 */
export const make = (family: 4 | 6, bytes: Uint8Array, length: number): Prefix => {
  const out = new Uint8Array(addressBytes(family))
  const significant = Math.ceil(length / 8)
  for (let i = 0; i < significant && i < bytes.length && i < out.length; i++) out[i] = bytes[i] ?? 0
  const rest = length % 8
  if (rest !== 0 && significant <= out.length) out[significant - 1] = (out[significant - 1] ?? 0) & (0xff << (8 - rest))
  return { family, bytes: out, length }
}

/** Octets this prefix occupies in an NLRI field: one length octet plus the significant address octets. */
export const encodedLength = (prefix: Prefix): number => 1 + ((prefix.length + 7) >> 3)

export const equals = (a: Prefix, b: Prefix): boolean => {
  if (a.family !== b.family || a.length !== b.length) return false
  for (let i = 0; i < a.bytes.length; i++) if (a.bytes[i] !== b.bytes[i]) return false
  return true
}

const hex = (groups: Array<number>): string => groups.map((group) => group.toString(16)).join(":")

/** Formats an address: dotted quad for IPv4, RFC 5952 canonical text for IPv6. */
export const formatAddress = (bytes: Uint8Array): string => {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`
  const groups: Array<number> = []
  for (let i = 0; i + 1 < bytes.length; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0))
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < groups.length && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  if (bestStart < 0) return hex(groups)
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`
}

/** Formats a prefix as `address/length`, e.g. `203.0.113.10/32` or `2001:db8::/32`. */
export const format = (prefix: Prefix): string => `${formatAddress(prefix.bytes)}/${prefix.length}`

const parseIpv4 = (text: string): Uint8Array | undefined => {
  const parts = text.split(".")
  if (parts.length !== 4) return undefined
  const out = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const part = parts[i] ?? ""
    if (!/^\d{1,3}$/.test(part)) return undefined
    const value = Number(part)
    if (value > 255) return undefined
    out[i] = value
  }
  return out
}

const parseGroups = (text: string): Array<number> | undefined => {
  if (text === "") return []
  const groups: Array<number> = []
  const parts = text.split(":")
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] ?? ""
    if (i === parts.length - 1 && part.includes(".")) {
      const v4 = parseIpv4(part)
      if (v4 === undefined) return undefined
      groups.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0))
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return undefined
      groups.push(Number.parseInt(part, 16))
    }
  }
  return groups
}

const parseIpv6 = (text: string): Uint8Array | undefined => {
  const halves = text.split("::")
  if (halves.length > 2) return undefined
  const head = parseGroups(halves[0] ?? "")
  const tail = halves.length === 2 ? parseGroups(halves[1] ?? "") : []
  if (head === undefined || tail === undefined) return undefined
  const total = head.length + tail.length
  if (halves.length === 2 ? total > 7 : total !== 8) return undefined
  const groups = [...head, ...Array<number>(8 - total).fill(0), ...tail]
  const out = new Uint8Array(16)
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8
    out[2 * i + 1] = g & 0xff
  })
  return out
}

/** Parses an IPv4 or IPv6 address; undefined when the text is neither. */
export const parseAddress = (text: string): { readonly family: 4 | 6; readonly bytes: Uint8Array } | undefined => {
  if (text.includes(":")) {
    const bytes = parseIpv6(text)
    return bytes === undefined ? undefined : { family: 6, bytes }
  }
  const bytes = parseIpv4(text)
  return bytes === undefined ? undefined : { family: 4, bytes }
}

/**
 * Parses `address/length` or a bare address (a host prefix). Host bits must be zero, so a typo such as
 * `203.0.113.10/24` is reported rather than silently widened.
 */
export const parse = (text: string): Result.Result<Prefix, string> => {
  const slash = text.indexOf("/")
  const addressText = slash < 0 ? text : text.slice(0, slash)
  const address = parseAddress(addressText)
  if (address === undefined) return Result.fail(`prefix ${JSON.stringify(text)}: not an IPv4 or IPv6 address`)
  const max = address.family === 4 ? 32 : 128
  let length = max
  if (slash >= 0) {
    const lengthText = text.slice(slash + 1)
    if (!/^\d{1,3}$/.test(lengthText) || Number(lengthText) > max) {
      return Result.fail(`prefix ${JSON.stringify(text)}: length must be 0..${max}`)
    }
    length = Number(lengthText)
  }
  const prefix = make(address.family, address.bytes, length)
  if (!equals(prefix, { family: address.family, bytes: address.bytes, length })) {
    return Result.fail(`prefix ${JSON.stringify(text)}: host bits set past /${length} (did you mean ${format(prefix)}?)`)
  }
  return Result.succeed(prefix)
}

/**
 * Decodes an NLRI / withdrawn-routes field (RFC 4271 §4.3): a sequence of (length octet, significant octets).
 * Returns the prefixes, or a string naming what is wrong. Host bits past the length are zeroed (RFC 4271 says
 * trailing bits are irrelevant).
 */
export const decodeList = (
  buf: Uint8Array,
  start: number,
  end: number,
  family: 4 | 6
): Array<Prefix> | string => {
  const max = family === 4 ? 32 : 128
  const out: Array<Prefix> = []
  let p = start
  while (p < end) {
    const length = buf[p] ?? 0
    if (length > max) return `prefix length ${length} exceeds ${max} at offset ${p - start}`
    const octets = (length + 7) >> 3
    if (p + 1 + octets > end) return `prefix /${length} needs ${octets} octets but only ${end - p - 1} remain`
    out.push(make(family, buf.subarray(p + 1, p + 1 + octets), length))
    p += 1 + octets
  }
  return out
}
