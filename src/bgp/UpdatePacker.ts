/**
 * Packs many prefixes that share one attribute set into as few UPDATEs as fit the message size: IPv4 in the
 * classic NLRI field (or MP_REACH_NLRI when asked), IPv6 in MP_REACH_NLRI; withdrawals likewise. This is how the
 * speaker sends thousands of prefixes in a handful of messages, where MetalLB's native speaker sent one each.
 *
 * @since 0.1.0
 */
import { Result, Schema } from "effect"
import { attributeLength, attributeTypeCode } from "./Attributes.ts"
import type { CodecOptions } from "./Codec.ts"
import { maxMessageLength } from "./Codec.ts"
import type { PathAttribute, UpdateMessage } from "./Message.ts"
import { AttributeType } from "./Message.ts"
import * as Prefix from "./Prefix.ts"

/** The routes cannot be packed as given: an attribute the packer sets itself, or no next hop for a family. */
export class BgpPackError extends Schema.TaggedError<BgpPackError>()("BgpPackError", {
  message: Schema.String
}) {}

export interface PackOptions extends CodecOptions {
  /** Carry IPv4 prefixes in MP_REACH/MP_UNREACH_NLRI instead of the classic fields (e.g. over an IPv6 session). */
  readonly ipv4InMpReach?: boolean
}

export interface RouteAttributes {
  /** ORIGIN, AS_PATH, LOCAL_PREF, COMMUNITIES, ...: everything except NEXT_HOP and MP_*, which the packer adds. */
  readonly attributes: ReadonlyArray<PathAttribute>
  /** 4 bytes: the NEXT_HOP of IPv4 prefixes. */
  readonly nextHopIpv4?: Uint8Array
  /** 16 or 32 bytes: the MP_REACH next hop of IPv6 prefixes (and of IPv4 ones in MP_REACH without an IPv4 one). */
  readonly nextHopIpv6?: Uint8Array
}

const UPDATE_OVERHEAD = 23 // header + Withdrawn Routes Length + Total Path Attribute Length
const EXTENDED_ATTRIBUTE_HEADER = 4

/**
 * Splits prefixes into groups whose encoded sizes each fit in `capacity` octets. Every group is filled until no
 * remaining prefix fits (largest first, then smaller ones into the gap), so equal-size prefixes, the usual /32 or
 * /128 case, come out in the minimum number of groups.
 */
const fill = (prefixes: ReadonlyArray<Prefix.Prefix>, capacity: number): Array<Array<Prefix.Prefix>> => {
  const bySize: Array<Array<Prefix.Prefix>> = []
  for (const prefix of prefixes) {
    const size = Prefix.encodedLength(prefix)
    const bucket = bySize[size]
    if (bucket === undefined) bySize[size] = [prefix]
    else bucket.push(prefix)
  }
  const taken: Array<number> = bySize.map(() => 0)
  let remaining = prefixes.length
  const groups: Array<Array<Prefix.Prefix>> = []
  while (remaining > 0) {
    let room = capacity
    const group: Array<Prefix.Prefix> = []
    for (let size = bySize.length - 1; size >= 1; size--) {
      const bucket = bySize[size]
      if (bucket === undefined) continue
      const from = taken[size] ?? 0
      const count = Math.min(bucket.length - from, Math.floor(room / size))
      if (count <= 0) continue
      for (let i = from; i < from + count; i++) group.push(bucket[i] as Prefix.Prefix)
      taken[size] = from + count
      room -= count * size
      remaining -= count
    }
    groups.push(group)
  }
  return groups
}

const split = (prefixes: ReadonlyArray<Prefix.Prefix>) => ({
  v4: prefixes.filter((prefix) => prefix.family === 4),
  v6: prefixes.filter((prefix) => prefix.family === 6)
})

const rank = (attribute: PathAttribute): number => {
  const code = attributeTypeCode(attribute)
  return code === AttributeType.MpReachNlri || code === AttributeType.MpUnreachNlri ? -1 : code
}

/** MP_* first (RFC 7606 §5.1), then by type code, as most implementations send them. */
const ordered = (attributes: ReadonlyArray<PathAttribute>): Array<PathAttribute> =>
  attributes.toSorted((a, b) => rank(a) - rank(b))

const reserved = new Set<number>([AttributeType.NextHop, AttributeType.MpReachNlri, AttributeType.MpUnreachNlri])

/** UPDATEs announcing `prefixes` (IPv4 and/or IPv6) with one attribute set. */
export const packAnnouncements = (
  prefixes: ReadonlyArray<Prefix.Prefix>,
  route: RouteAttributes,
  options: PackOptions
): Result.Result<Array<UpdateMessage>, BgpPackError> => {
  const clash = route.attributes.find((attribute) => reserved.has(attributeTypeCode(attribute)))
  if (clash !== undefined) {
    return Result.fail(new BgpPackError({ message: `attributes must not include ${clash._tag}: the packer adds it` }))
  }
  const max = maxMessageLength(options)
  const attributesLength = route.attributes.reduce((n, attribute) => n + attributeLength(attribute, options), 0)
  const { v4, v6 } = split(prefixes)
  const messages: Array<UpdateMessage> = []
  const emit = (
    family: 4 | 6,
    list: ReadonlyArray<Prefix.Prefix>,
    nextHop: Uint8Array | undefined,
    classic: boolean
  ): BgpPackError | undefined => {
    if (list.length === 0) return undefined
    if (nextHop === undefined) {
      return new BgpPackError({ message: `no IPv${family} next hop given for ${list.length} IPv${family} prefixes` })
    }
    const overhead = classic
      ? UPDATE_OVERHEAD + attributesLength + 3 + nextHop.length
      : UPDATE_OVERHEAD + attributesLength + EXTENDED_ATTRIBUTE_HEADER + 5 + nextHop.length
    const capacity = max - overhead
    if (capacity < (family === 4 ? 5 : 17)) {
      return new BgpPackError({ message: `the attributes take ${overhead} of ${max} octets, no room for prefixes` })
    }
    for (const group of fill(list, capacity)) {
      if (classic) {
        messages.push({
          _tag: "Update",
          withdrawn: [],
          attributes: ordered([...route.attributes, { _tag: "NextHop", address: nextHop }]),
          nlri: group
        })
      } else {
        const mp: PathAttribute = { _tag: "MpReachNlri", afi: family === 4 ? 1 : 2, safi: 1, nextHop, nlri: group }
        messages.push({ _tag: "Update", withdrawn: [], attributes: ordered([...route.attributes, mp]), nlri: [] })
      }
    }
    return undefined
  }
  const ipv4Classic = options.ipv4InMpReach !== true
  const v4Error = emit(4, v4, ipv4Classic ? route.nextHopIpv4 : route.nextHopIpv4 ?? route.nextHopIpv6, ipv4Classic)
  if (v4Error !== undefined) return Result.fail(v4Error)
  const v6Error = emit(6, v6, route.nextHopIpv6, false)
  if (v6Error !== undefined) return Result.fail(v6Error)
  return Result.succeed(messages)
}

/** UPDATEs withdrawing `prefixes`: IPv4 in Withdrawn Routes (or MP_UNREACH when asked), IPv6 in MP_UNREACH. */
export const packWithdrawals = (prefixes: ReadonlyArray<Prefix.Prefix>, options: PackOptions): Array<UpdateMessage> => {
  const max = maxMessageLength(options)
  const { v4, v6 } = split(prefixes)
  const messages: Array<UpdateMessage> = []
  const mpCapacity = max - UPDATE_OVERHEAD - EXTENDED_ATTRIBUTE_HEADER - 3
  const mp = (afi: 1 | 2, list: ReadonlyArray<Prefix.Prefix>) => {
    for (const group of fill(list, mpCapacity)) {
      messages.push({
        _tag: "Update",
        withdrawn: [],
        attributes: [{ _tag: "MpUnreachNlri", afi, safi: 1, withdrawn: group }],
        nlri: []
      })
    }
  }
  if (options.ipv4InMpReach === true) mp(1, v4)
  else for (const group of fill(v4, max - UPDATE_OVERHEAD)) messages.push({ _tag: "Update", withdrawn: group, attributes: [], nlri: [] })
  mp(2, v6)
  return messages
}
