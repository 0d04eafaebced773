/**
 * CIDR prefixes and inclusive address ranges, and the conversion MetalLB applies to pool entries: a range `a-b` is
 * summarised into the minimal list of CIDRs that cover exactly the same addresses.
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import * as Ip from "./Ip.ts"

export interface Cidr {
  readonly family: Ip.Family
  /** The network address (host bits are zero). */
  readonly network: bigint
  readonly prefix: number
}

export interface Range {
  readonly family: Ip.Family
  readonly first: bigint
  readonly last: bigint
}

export const hostBits = (cidr: Cidr): number => Ip.bits(cidr.family) - cidr.prefix

const maskFor = (family: Ip.Family, prefix: number): bigint =>
  Ip.maxValue(family) ^ ((1n << BigInt(Ip.bits(family) - prefix)) - 1n)

export const make = (ip: Ip.IpAddress, prefix: number): Cidr => ({
  family: ip.family,
  network: ip.value & maskFor(ip.family, prefix),
  prefix
})

export const first = (cidr: Cidr): bigint => cidr.network

export const last = (cidr: Cidr): bigint => cidr.network | ((1n << BigInt(hostBits(cidr))) - 1n)

/** Number of addresses (exact, also for a /0 of IPv6). */
export const size = (cidr: Cidr): bigint => 1n << BigInt(hostBits(cidr))

export const toRange = (cidr: Cidr): Range => ({ family: cidr.family, first: first(cidr), last: last(cidr) })

export const contains = (cidr: Cidr, ip: Ip.IpAddress): boolean =>
  ip.family === cidr.family && ip.value >= first(cidr) && ip.value <= last(cidr)

export const overlaps = (a: Cidr, b: Cidr): boolean =>
  a.family === b.family && first(a) <= last(b) && first(b) <= last(a)

export const format = (cidr: Cidr): string => `${Ip.format(Ip.make(cidr.family, cidr.network))}/${cidr.prefix}`

export const equals = (a: Cidr, b: Cidr): boolean =>
  a.family === b.family && a.network === b.network && a.prefix === b.prefix

/**
 * Parses `address/prefix`. Like Go's `net.ParseCIDR` (which MetalLB uses) host bits are allowed and masked off:
 * `192.0.2.7/24` is `192.0.2.0/24`.
 */
export const parse = (text: string): Result.Result<Cidr, string> => {
  const slash = text.indexOf("/")
  if (slash < 0) return Result.fail(`invalid CIDR ${JSON.stringify(text)}: missing "/prefix"`)
  const ip = Ip.parse(text.slice(0, slash))
  if (ip === undefined) return Result.fail(`invalid CIDR ${JSON.stringify(text)}: bad address`)
  const prefixText = text.slice(slash + 1)
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) return Result.fail(`invalid CIDR ${JSON.stringify(text)}: bad prefix`)
  const prefix = Number(prefixText)
  if (prefix > Ip.bits(ip.family)) {
    return Result.fail(`invalid CIDR ${JSON.stringify(text)}: prefix ${prefix} is longer than ${Ip.bits(ip.family)}`)
  }
  return Result.succeed(make(ip, prefix))
}

/** The minimal list of CIDRs covering exactly `[first, last]`, ascending. */
export const summarize = (range: Range): Array<Cidr> => {
  const out: Array<Cidr> = []
  const width = Ip.bits(range.family)
  let start = range.first
  while (start <= range.last) {
    // The largest block aligned at `start` that does not pass `last`.
    let host = 0
    while (host < width) {
      const next = host + 1
      const blockSize = 1n << BigInt(next)
      if (start % blockSize !== 0n || start + blockSize - 1n > range.last) break
      host = next
    }
    out.push({ family: range.family, network: start, prefix: width - host })
    start += 1n << BigInt(host)
  }
  return out
}

/**
 * Parses one pool `addresses` entry: a CIDR, or an inclusive range `A-B` (spaces around the dash allowed, both ends
 * of one family, start ≤ end), summarised into CIDRs. MetalLB's wording for the errors.
 */
export const parsePoolEntry = (text: string): Result.Result<Array<Cidr>, string> => {
  if (!text.includes("-")) return Result.map(parse(text), (cidr) => [cidr])
  const parts = text.split("-")
  if (parts.length !== 2) return Result.fail(`invalid IP range ${JSON.stringify(text)}: must be of the form "a-b"`)
  const start = Ip.parse((parts[0] ?? "").trim())
  const end = Ip.parse((parts[1] ?? "").trim())
  if (start === undefined) return Result.fail(`invalid IP range ${JSON.stringify(text)}: invalid start IP`)
  if (end === undefined) return Result.fail(`invalid IP range ${JSON.stringify(text)}: invalid end IP`)
  if (start.family !== end.family) {
    return Result.fail(`invalid IP range ${JSON.stringify(text)}: start and end are of different address families`)
  }
  if (start.value > end.value) {
    return Result.fail(`invalid IP range ${JSON.stringify(text)}: start IP is after the end IP`)
  }
  return Result.succeed(summarize({ family: start.family, first: start.value, last: end.value }))
}
