/**
 * IP addresses as value types with exact arithmetic.
 *
 * An address is its family plus its numeric value as a `bigint`: IPv6 needs 128 bits, and BigInt gives exact
 * comparison, addition and masking for both families with one code path (no library: the whole need is parse,
 * format, compare, add). Hot loops that only ever touch IPv4 may convert to `number` themselves.
 *
 * Parsing is strict, like Go's `net.ParseIP` that MetalLB uses: dotted-quad IPv4 without leading zeros, IPv6 per
 * RFC 4291 §2.2 (with `::` and an embedded IPv4 tail), no zone identifiers. Formatting of IPv6 follows RFC 5952.
 *
 * @since 0.1.0
 */
import { Result } from "effect"

export type Family = 4 | 6

export interface IpAddress {
  readonly family: Family
  readonly value: bigint
}

export const bits = (family: Family): number => (family === 4 ? 32 : 128)

export const maxValue = (family: Family): bigint => (1n << BigInt(bits(family))) - 1n

export const make = (family: Family, value: bigint): IpAddress => ({ family, value })

const parseV4Value = (text: string): bigint | undefined => {
  const parts = text.split(".")
  if (parts.length !== 4) return undefined
  let value = 0n
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined
    const octet = Number(part)
    if (octet > 255) return undefined
    value = (value << 8n) | BigInt(octet)
  }
  return value
}

const parseGroups = (s: string): Array<number> | undefined => {
  if (s === "") return []
  const out: Array<number> = []
  for (const g of s.split(":")) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined
    out.push(parseInt(g, 16))
  }
  return out
}

const parseV6Value = (input: string): bigint | undefined => {
  if (input.length === 0 || input.length > 45) return undefined
  let text = input
  // An embedded IPv4 tail ("::ffff:192.0.2.1") stands for the last two groups: rewrite it as hex and parse on.
  const lastColon = text.lastIndexOf(":")
  const tail = text.slice(lastColon + 1)
  if (tail.includes(".")) {
    const v4 = parseV4Value(tail)
    if (v4 === undefined) return undefined
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`
  }
  const halves = text.split("::")
  if (halves.length > 2) return undefined
  const head = parseGroups(halves[0] ?? "")
  const back = halves.length === 2 ? parseGroups(halves[1] ?? "") : []
  if (head === undefined || back === undefined) return undefined
  let groups: Array<number>
  if (halves.length === 2) {
    const missing = 8 - head.length - back.length
    if (missing < 1) return undefined
    groups = [...head, ...Array<number>(missing).fill(0), ...back]
  } else {
    if (head.length !== 8) return undefined
    groups = head
  }
  let value = 0n
  for (const g of groups) value = (value << 16n) | BigInt(g)
  return value
}

/** Parses an IPv4 or IPv6 literal; `undefined` when it is not one. */
export const parse = (text: string): IpAddress | undefined => {
  if (text.includes(":")) {
    const value = parseV6Value(text)
    return value === undefined ? undefined : { family: 6, value }
  }
  const value = parseV4Value(text)
  return value === undefined ? undefined : { family: 4, value }
}

/** Like {@link parse}, with a reason on failure. */
export const parseResult = (text: string): Result.Result<IpAddress, string> => {
  const ip = parse(text)
  return ip === undefined ? Result.fail(`invalid IP address ${JSON.stringify(text)}`) : Result.succeed(ip)
}

export const formatV4 = (value: bigint): string =>
  [24n, 16n, 8n, 0n].map((shift) => String(Number((value >> shift) & 0xffn))).join(".")

const hexGroups = (gs: ReadonlyArray<number>): string => gs.map((g) => g.toString(16)).join(":")

/** RFC 5952 text of eight 16-bit groups: the longest run (≥ 2, first on a tie) of zero groups becomes "::". */
export const formatV6Groups = (groups: ReadonlyArray<number>): string => {
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

const formatV6 = (value: bigint): string => {
  const groups: Array<number> = []
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn))
  return formatV6Groups(groups)
}

/** Canonical text: dotted quad, or RFC 5952 IPv6. */
export const format = (ip: IpAddress): string => (ip.family === 4 ? formatV4(ip.value) : formatV6(ip.value))

export const equals = (a: IpAddress, b: IpAddress): boolean => a.family === b.family && a.value === b.value

/** Orders IPv4 before IPv6, then numerically. */
export const compare = (a: IpAddress, b: IpAddress): -1 | 0 | 1 =>
  a.family !== b.family ? (a.family < b.family ? -1 : 1) : a.value < b.value ? -1 : a.value > b.value ? 1 : 0

/** `ip + n`, or `undefined` when it leaves the family's address space. */
export const add = (ip: IpAddress, n: bigint): IpAddress | undefined => {
  const value = ip.value + n
  return value < 0n || value > maxValue(ip.family) ? undefined : { family: ip.family, value }
}

/** Network byte order. */
export const toBytes = (ip: IpAddress): Uint8Array => {
  const length = ip.family === 4 ? 4 : 16
  const out = new Uint8Array(length)
  let value = ip.value
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(value & 0xffn)
    value >>= 8n
  }
  return out
}

export const fromBytes = (bytes: Uint8Array): IpAddress | undefined => {
  if (bytes.length !== 4 && bytes.length !== 16) return undefined
  let value = 0n
  for (const byte of bytes) value = (value << 8n) | BigInt(byte)
  return { family: bytes.length === 4 ? 4 : 6, value }
}

/** A map/set key that is cheap to build and unique per address (the canonical text). */
export const key = format
