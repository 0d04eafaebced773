/**
 * Path attributes of an UPDATE (RFC 4271 §4.3, §5; RFC 4760; RFC 6793; RFC 1997; RFC 8092) with the revised
 * error handling of RFC 7606: every problem is classified as session-reset, treat-as-withdraw or
 * attribute-discard, and only session-reset stops decoding.
 *
 * @since 0.1.0
 */
import { ByteWriter, u16, u32, u8 } from "./Bytes.ts"
import type { AsPathSegment, LargeCommunity, PathAttribute, UpdateIssue } from "./Message.ts"
import { AS_TRANS, AttributeFlag, AttributeType } from "./Message.ts"
import type { BgpDecodeError, ErrorAction } from "./Notification.ts"
import { decodeError, ErrorCode, UpdateSubcode } from "./Notification.ts"
import * as Prefix from "./Prefix.ts"

export interface AttributeCodecOptions {
  /** Both sides announced the 4-octet AS capability: AS_PATH and AGGREGATOR carry 4-octet AS numbers. */
  readonly fourOctetAs: boolean
}

const O = AttributeFlag.Optional
const T = AttributeFlag.Transitive

/** The Optional and Transitive bits each known attribute must carry (RFC 4271 §5, RFC 4760, 6793, 1997, 8092). */
const expectedFlags: ReadonlyArray<number | undefined> = (() => {
  const table: Array<number | undefined> = []
  table[AttributeType.Origin] = T
  table[AttributeType.AsPath] = T
  table[AttributeType.NextHop] = T
  table[AttributeType.MultiExitDisc] = O
  table[AttributeType.LocalPref] = T
  table[AttributeType.AtomicAggregate] = T
  table[AttributeType.Aggregator] = O | T
  table[AttributeType.Communities] = O | T
  table[AttributeType.MpReachNlri] = O
  table[AttributeType.MpUnreachNlri] = O
  table[AttributeType.As4Path] = O | T
  table[AttributeType.As4Aggregator] = O | T
  table[AttributeType.LargeCommunity] = O | T
  return table
})()

/** The attribute type codes this codec parses; any other is kept as an UnknownAttribute. */
export const isKnownType = (typeCode: number): boolean => expectedFlags[typeCode] !== undefined

/** A classified problem with one attribute, before it becomes an issue or a BgpDecodeError. */
export interface AttributeProblem {
  readonly _tag: "AttributeProblem"
  readonly action: ErrorAction
  readonly subcode: number
  readonly data: Uint8Array
  readonly reason: string
}

const problem = (action: ErrorAction, subcode: number, data: Uint8Array, reason: string): AttributeProblem => ({
  _tag: "AttributeProblem",
  action,
  subcode,
  data,
  reason
})

const EMPTY = new Uint8Array(0)

const decodeSegments = (
  buf: Uint8Array,
  start: number,
  end: number,
  asnSize: 2 | 4,
  maxType: 2 | 4
): Array<AsPathSegment> | string => {
  const segments: Array<AsPathSegment> = []
  let p = start
  while (p < end) {
    if (p + 2 > end) return `segment header at offset ${p - start} is truncated`
    const type = u8(buf, p)
    const count = u8(buf, p + 1)
    if (type < 1 || type > maxType) {
      return maxType === 4
        ? `segment type ${type} is not AS_SET, AS_SEQUENCE or a confederation segment`
        : `segment type ${type} is not AS_SET or AS_SEQUENCE`
    }
    if (count === 0) return `segment at offset ${p - start} has no AS numbers`
    const size = count * asnSize
    if (p + 2 + size > end) return `segment of ${count} AS numbers overruns the attribute`
    const asns: Array<number> = []
    for (let i = 0; i < count; i++) asns.push(asnSize === 4 ? u32(buf, p + 2 + 4 * i) : u16(buf, p + 2 + 2 * i))
    segments.push({ type, asns })
    p += 2 + size
  }
  return segments
}

const isMartianNextHop = (buf: Uint8Array, at: number): boolean => {
  const first = u8(buf, at)
  // 0.0.0.0/8, loopback, multicast and reserved/broadcast can never be a forwarding address.
  return first === 0 || first === 127 || first >= 224
}

const nextHopLengthOk = (afi: number, length: number): boolean =>
  afi === 1 ? length === 4 || length === 16 || length === 32 : length === 16 || length === 32

/**
 * Decodes one attribute value. `raw` is the whole attribute (flags, type, length, value): the NOTIFICATION data
 * RFC 4271 §6.3 asks for.
 */
const decodeValue = (
  flags: number,
  typeCode: number,
  buf: Uint8Array,
  at: number,
  length: number,
  raw: Uint8Array,
  options: AttributeCodecOptions
): PathAttribute | AttributeProblem => {
  const expected = expectedFlags[typeCode]
  if (expected === undefined) {
    if ((flags & O) === 0) {
      return problem("session-reset", UpdateSubcode.UnrecognizedWellKnownAttribute, raw, `type ${typeCode} is not known`)
    }
    return { _tag: "UnknownAttribute", flags: flags & 0xe0, typeCode, value: buf.slice(at, at + length) }
  }
  if ((flags & (O | T)) !== expected) {
    // RFC 7606 §3(c): wrong flags make the attribute malformed; without the NLRI of MP_* no withdraw is possible.
    const action = typeCode === AttributeType.MpReachNlri || typeCode === AttributeType.MpUnreachNlri
      ? "session-reset"
      : "treat-as-withdraw"
    return problem(action, UpdateSubcode.AttributeFlagsError, raw, `type ${typeCode} has flags 0x${flags.toString(16)}`)
  }
  const lengthError = (action: ErrorAction, want: string) =>
    problem(action, UpdateSubcode.AttributeLengthError, raw, `type ${typeCode} has length ${length}, expected ${want}`)
  switch (typeCode) {
    case AttributeType.Origin: {
      if (length !== 1) return lengthError("treat-as-withdraw", "1")
      const value = u8(buf, at)
      if (value > 2) return problem("treat-as-withdraw", UpdateSubcode.InvalidOriginAttribute, raw, `ORIGIN ${value}`)
      return { _tag: "Origin", value }
    }
    case AttributeType.AsPath: {
      const segments = decodeSegments(buf, at, at + length, options.fourOctetAs ? 4 : 2, 4)
      if (typeof segments === "string") {
        return problem("treat-as-withdraw", UpdateSubcode.MalformedAsPath, EMPTY, `AS_PATH: ${segments}`)
      }
      return { _tag: "AsPath", segments }
    }
    case AttributeType.As4Path: {
      // RFC 6793 §6: a malformed AS4_PATH, or one with confederation segments, is discarded; the UPDATE stays.
      const segments = decodeSegments(buf, at, at + length, 4, 2)
      if (typeof segments === "string") {
        return problem("attribute-discard", UpdateSubcode.OptionalAttributeError, raw, `AS4_PATH: ${segments}`)
      }
      return { _tag: "As4Path", segments }
    }
    case AttributeType.NextHop:
      if (length !== 4) return lengthError("treat-as-withdraw", "4")
      if (isMartianNextHop(buf, at)) {
        return problem(
          "treat-as-withdraw",
          UpdateSubcode.InvalidNextHopAttribute,
          raw,
          `NEXT_HOP ${Prefix.formatAddress(buf.subarray(at, at + 4))} is not a unicast address`
        )
      }
      return { _tag: "NextHop", address: buf.slice(at, at + 4) }
    case AttributeType.MultiExitDisc:
      if (length !== 4) return lengthError("treat-as-withdraw", "4")
      return { _tag: "MultiExitDisc", value: u32(buf, at) }
    case AttributeType.LocalPref:
      if (length !== 4) return lengthError("treat-as-withdraw", "4")
      return { _tag: "LocalPref", value: u32(buf, at) }
    case AttributeType.AtomicAggregate:
      if (length !== 0) return lengthError("attribute-discard", "0")
      return { _tag: "AtomicAggregate" }
    case AttributeType.Aggregator:
      if (options.fourOctetAs) {
        if (length !== 8) return lengthError("attribute-discard", "8")
        return { _tag: "Aggregator", asn: u32(buf, at), address: buf.slice(at + 4, at + 8) }
      }
      if (length !== 6) return lengthError("attribute-discard", "6")
      return { _tag: "Aggregator", asn: u16(buf, at), address: buf.slice(at + 2, at + 6) }
    case AttributeType.As4Aggregator:
      if (length !== 8) return lengthError("attribute-discard", "8")
      return { _tag: "As4Aggregator", asn: u32(buf, at), address: buf.slice(at + 4, at + 8) }
    case AttributeType.Communities: {
      if (length === 0 || length % 4 !== 0) return lengthError("treat-as-withdraw", "a non-zero multiple of 4")
      const values: Array<number> = []
      for (let i = 0; i < length; i += 4) values.push(u32(buf, at + i))
      return { _tag: "Communities", values }
    }
    case AttributeType.LargeCommunity: {
      if (length === 0 || length % 12 !== 0) return lengthError("treat-as-withdraw", "a non-zero multiple of 12")
      const values: Array<LargeCommunity> = []
      for (let p = at; p < at + length; p += 12) {
        values.push({ globalAdmin: u32(buf, p), localData1: u32(buf, p + 4), localData2: u32(buf, p + 8) })
      }
      return { _tag: "LargeCommunities", values }
    }
    case AttributeType.MpReachNlri: {
      // RFC 7606 §7.11: the NLRI cannot be located in a malformed MP_REACH_NLRI, so only a reset is safe.
      const bad = (reason: string) => problem("session-reset", UpdateSubcode.OptionalAttributeError, raw, reason)
      if (length < 5) return bad(`MP_REACH_NLRI has length ${length}, at least 5 needed`)
      const afi = u16(buf, at)
      const safi = u8(buf, at + 2)
      const nextHopLength = u8(buf, at + 3)
      if (5 + nextHopLength > length) return bad(`MP_REACH_NLRI next hop of ${nextHopLength} octets overruns it`)
      if ((afi !== 1 && afi !== 2) || safi !== 1) {
        return { _tag: "UnknownAttribute", flags: flags & 0xe0, typeCode, value: buf.slice(at, at + length) }
      }
      if (!nextHopLengthOk(afi, nextHopLength)) {
        return bad(`MP_REACH_NLRI next hop length ${nextHopLength} is not valid for AFI ${afi}`)
      }
      const nlri = Prefix.decodeList(buf, at + 5 + nextHopLength, at + length, afi === 1 ? 4 : 6)
      if (typeof nlri === "string") return bad(`MP_REACH_NLRI: ${nlri}`)
      return { _tag: "MpReachNlri", afi, safi, nextHop: buf.slice(at + 4, at + 4 + nextHopLength), nlri }
    }
    case AttributeType.MpUnreachNlri: {
      const bad = (reason: string) => problem("session-reset", UpdateSubcode.OptionalAttributeError, raw, reason)
      if (length < 3) return bad(`MP_UNREACH_NLRI has length ${length}, at least 3 needed`)
      const afi = u16(buf, at)
      const safi = u8(buf, at + 2)
      if ((afi !== 1 && afi !== 2) || safi !== 1) {
        return { _tag: "UnknownAttribute", flags: flags & 0xe0, typeCode, value: buf.slice(at, at + length) }
      }
      const withdrawn = Prefix.decodeList(buf, at + 3, at + length, afi === 1 ? 4 : 6)
      if (typeof withdrawn === "string") return bad(`MP_UNREACH_NLRI: ${withdrawn}`)
      return { _tag: "MpUnreachNlri", afi, safi, withdrawn }
    }
  }
  return { _tag: "UnknownAttribute", flags: flags & 0xe0, typeCode, value: buf.slice(at, at + length) }
}

const updateError = (subcode: number, data: Uint8Array, reason: string): BgpDecodeError =>
  decodeError(ErrorCode.UpdateMessage, subcode, data, reason)

/** What the attribute walk saw, for the missing-attribute check after it. */
export interface AttributeScan {
  /** 256 entries: 1 where that type code appeared, well-formed or not. */
  readonly present: Uint8Array
  /** The walk stopped early at a broken attribute header or length, so later attributes are unknown. */
  truncated: boolean
}

/**
 * Decodes the Path Attributes field `buf[start, end)`. Recoverable problems are appended to `issues` and what was
 * seen is recorded in `scan`. Returns the well-formed attributes in wire order, or the error that requires a
 * session reset.
 */
export const decodeAttributes = (
  buf: Uint8Array,
  start: number,
  end: number,
  options: AttributeCodecOptions,
  issues: Array<UpdateIssue>,
  scan: AttributeScan
): Array<PathAttribute> | BgpDecodeError => {
  const present = scan.present
  const out: Array<PathAttribute> = []
  let p = start
  while (p < end) {
    const flags = u8(buf, p)
    const headerLength = (flags & AttributeFlag.ExtendedLength) !== 0 ? 4 : 3
    if (p + headerLength > end) {
      // RFC 7606 §4: the Total Attribute Length still locates the NLRI, so withdraw rather than reset.
      issues.push({
        action: "treat-as-withdraw",
        code: ErrorCode.UpdateMessage,
        subcode: UpdateSubcode.MalformedAttributeList,
        data: EMPTY,
        reason: `${end - p} octets left at the end of the attributes, too few for an attribute header`
      })
      scan.truncated = true
      return out
    }
    const typeCode = u8(buf, p + 1)
    const length = headerLength === 4 ? u16(buf, p + 2) : u8(buf, p + 2)
    if (p + headerLength + length > end) {
      issues.push({
        action: "treat-as-withdraw",
        code: ErrorCode.UpdateMessage,
        subcode: UpdateSubcode.AttributeLengthError,
        data: buf.slice(p, end),
        reason: `attribute type ${typeCode} claims ${length} octets but only ${end - p - headerLength} remain`
      })
      scan.truncated = true
      return out
    }
    const raw = buf.subarray(p, p + headerLength + length)
    const next = p + headerLength + length
    if (present[typeCode] === 1) {
      // RFC 7606 §3(g): a repeated MP_* is a reset; any other repeat is dropped, the first occurrence kept.
      if (typeCode === AttributeType.MpReachNlri || typeCode === AttributeType.MpUnreachNlri) {
        return updateError(UpdateSubcode.MalformedAttributeList, EMPTY, `attribute type ${typeCode} appears twice`)
      }
      issues.push({
        action: "attribute-discard",
        code: ErrorCode.UpdateMessage,
        subcode: UpdateSubcode.MalformedAttributeList,
        data: EMPTY,
        reason: `attribute type ${typeCode} appears more than once; later copies discarded`
      })
      p = next
      continue
    }
    present[typeCode] = 1
    const decoded = decodeValue(flags, typeCode, buf, p + headerLength, length, raw, options)
    if (decoded._tag === "AttributeProblem") {
      // `raw` is a view of the input buffer: copy it so the caller may reuse that buffer.
      const data = decoded.data.slice()
      if (decoded.action === "session-reset") return updateError(decoded.subcode, data, decoded.reason)
      issues.push({
        action: decoded.action,
        code: ErrorCode.UpdateMessage,
        subcode: decoded.subcode,
        data,
        reason: decoded.reason
      })
    } else {
      out.push(decoded)
    }
    p = next
  }
  return out
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding

const writeSegments = (w: ByteWriter, segments: ReadonlyArray<AsPathSegment>, asnSize: 2 | 4): void => {
  for (const segment of segments) {
    // A segment holds at most 255 AS numbers (RFC 4271 §5.1.2): longer ones continue in a new segment.
    for (let offset = 0; offset < segment.asns.length; offset += 255) {
      const chunk = segment.asns.slice(offset, offset + 255)
      w.u8(segment.type)
      w.u8(chunk.length)
      for (const asn of chunk) {
        if (asnSize === 4) w.u32(asn)
        else w.u16(asn > 0xffff ? AS_TRANS : asn)
      }
    }
  }
}

const writePrefixes = (w: ByteWriter, prefixes: ReadonlyArray<Prefix.Prefix>): void => {
  for (const prefix of prefixes) {
    w.u8(prefix.length)
    const octets = (prefix.length + 7) >> 3
    for (let i = 0; i < octets; i++) w.u8(prefix.bytes[i] ?? 0)
  }
}

/** Writes a Withdrawn Routes or NLRI field. */
export const encodePrefixes = writePrefixes

const flagsOf = (attribute: PathAttribute): number => {
  switch (attribute._tag) {
    case "Origin":
    case "AsPath":
    case "NextHop":
    case "LocalPref":
    case "AtomicAggregate":
      return T
    case "MultiExitDisc":
    case "MpReachNlri":
    case "MpUnreachNlri":
      return O
    case "Aggregator":
    case "Communities":
    case "As4Path":
    case "As4Aggregator":
    case "LargeCommunities":
      return O | T
    case "UnknownAttribute":
      return attribute.flags & 0xe0
  }
}

const typeCodeOf = (attribute: PathAttribute): number => {
  switch (attribute._tag) {
    case "Origin":
      return AttributeType.Origin
    case "AsPath":
      return AttributeType.AsPath
    case "NextHop":
      return AttributeType.NextHop
    case "MultiExitDisc":
      return AttributeType.MultiExitDisc
    case "LocalPref":
      return AttributeType.LocalPref
    case "AtomicAggregate":
      return AttributeType.AtomicAggregate
    case "Aggregator":
      return AttributeType.Aggregator
    case "Communities":
      return AttributeType.Communities
    case "MpReachNlri":
      return AttributeType.MpReachNlri
    case "MpUnreachNlri":
      return AttributeType.MpUnreachNlri
    case "As4Path":
      return AttributeType.As4Path
    case "As4Aggregator":
      return AttributeType.As4Aggregator
    case "LargeCommunities":
      return AttributeType.LargeCommunity
    case "UnknownAttribute":
      return attribute.typeCode
  }
}

/** The attribute's type code, e.g. to check which attributes a set holds. */
export const attributeTypeCode = typeCodeOf

const writeValue = (w: ByteWriter, attribute: PathAttribute, options: AttributeCodecOptions): void => {
  switch (attribute._tag) {
    case "Origin":
      return w.u8(attribute.value)
    case "AsPath":
      return writeSegments(w, attribute.segments, options.fourOctetAs ? 4 : 2)
    case "As4Path":
      return writeSegments(w, attribute.segments, 4)
    case "NextHop":
      return w.bytes(attribute.address)
    case "MultiExitDisc":
    case "LocalPref":
      return w.u32(attribute.value)
    case "AtomicAggregate":
      return
    case "Aggregator":
      if (options.fourOctetAs) w.u32(attribute.asn)
      else w.u16(attribute.asn > 0xffff ? AS_TRANS : attribute.asn)
      return w.bytes(attribute.address)
    case "As4Aggregator":
      w.u32(attribute.asn)
      return w.bytes(attribute.address)
    case "Communities":
      for (const value of attribute.values) w.u32(value)
      return
    case "LargeCommunities":
      for (const value of attribute.values) {
        w.u32(value.globalAdmin)
        w.u32(value.localData1)
        w.u32(value.localData2)
      }
      return
    case "MpReachNlri":
      w.u16(attribute.afi)
      w.u8(attribute.safi)
      w.u8(attribute.nextHop.length)
      w.bytes(attribute.nextHop)
      w.u8(0) // Reserved (formerly the SNPA count), RFC 4760 §3.
      return writePrefixes(w, attribute.nlri)
    case "MpUnreachNlri":
      w.u16(attribute.afi)
      w.u8(attribute.safi)
      return writePrefixes(w, attribute.withdrawn)
    case "UnknownAttribute":
      return w.bytes(attribute.value)
  }
}

/** Writes one attribute; the Extended Length bit is set exactly when the value exceeds 255 octets. */
export const encodeAttribute = (w: ByteWriter, attribute: PathAttribute, options: AttributeCodecOptions): void => {
  const flagsAt = w.pos
  w.u8(flagsOf(attribute))
  w.u8(typeCodeOf(attribute))
  const lengthAt = w.reserve(1)
  writeValue(w, attribute, options)
  const length = w.pos - lengthAt - 1
  if (length <= 255) {
    w.patch8(lengthAt, length)
    return
  }
  w.shiftRight(lengthAt + 1)
  w.patch8(flagsAt, flagsOf(attribute) | AttributeFlag.ExtendedLength)
  w.patch16(lengthAt, length)
}

/** The encoded size of one attribute, header included. */
export const attributeLength = (attribute: PathAttribute, options: AttributeCodecOptions): number => {
  const w = new ByteWriter(64)
  encodeAttribute(w, attribute, options)
  return w.pos
}

/**
 * The attributes to send when passing a route on (RFC 4271 §5): unknown optional non-transitive attributes are
 * dropped, unknown optional transitive ones are kept with the Partial bit set.
 */
export const attributesToPropagate = (attributes: ReadonlyArray<PathAttribute>): Array<PathAttribute> => {
  const out: Array<PathAttribute> = []
  for (const attribute of attributes) {
    if (attribute._tag !== "UnknownAttribute") out.push(attribute)
    else if ((attribute.flags & T) !== 0) out.push({ ...attribute, flags: attribute.flags | AttributeFlag.Partial })
  }
  return out
}

/**
 * AS_PATH (and, for a 2-octet peer, AS4_PATH) for a path of AS numbers (RFC 6793 §4.2.2): an old speaker gets
 * AS_TRANS in AS_PATH and the real numbers in AS4_PATH. An empty path (iBGP) is an empty AS_PATH.
 */
export const asPathAttributes = (asns: ReadonlyArray<number>, fourOctetAs: boolean): Array<PathAttribute> => {
  const segments: Array<AsPathSegment> = asns.length === 0 ? [] : [{ type: 2, asns }]
  const asPath: PathAttribute = { _tag: "AsPath", segments }
  if (fourOctetAs || asns.every((asn) => asn <= 0xffff)) return [asPath]
  return [asPath, { _tag: "As4Path", segments }]
}

// ---------------------------------------------------------------------------------------------------------------
// Community text

/** `65000:100` → 0xFDE80064; undefined unless both halves are 0..65535. Well-known names are accepted too. */
export const parseCommunity = (text: string): number | undefined => {
  const named: Record<string, number> = {
    "no-export": 0xffffff01,
    "no-advertise": 0xffffff02,
    "no-export-subconfed": 0xffffff03,
    "no-peer": 0xffffff04
  }
  const known = named[text]
  if (known !== undefined) return known
  const match = /^(\d{1,5}):(\d{1,5})$/.exec(text)
  if (match === null) return undefined
  const high = Number(match[1])
  const low = Number(match[2])
  if (high > 0xffff || low > 0xffff) return undefined
  return high * 0x10000 + low
}

export const formatCommunity = (value: number): string => `${Math.floor(value / 0x10000)}:${value & 0xffff}`

/** `4200000000:1:2` → a large community; undefined unless all three parts fit in 32 bits. */
export const parseLargeCommunity = (text: string): LargeCommunity | undefined => {
  const match = /^(\d{1,10}):(\d{1,10}):(\d{1,10})$/.exec(text)
  if (match === null) return undefined
  const parts = [Number(match[1]), Number(match[2]), Number(match[3])]
  if (parts.some((part) => part > 0xffffffff)) return undefined
  return { globalAdmin: parts[0] ?? 0, localData1: parts[1] ?? 0, localData2: parts[2] ?? 0 }
}

export const formatLargeCommunity = (value: LargeCommunity): string =>
  `${value.globalAdmin}:${value.localData1}:${value.localData2}`
