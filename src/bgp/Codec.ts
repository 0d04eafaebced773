/**
 * Encoding and decoding of whole BGP messages (RFC 4271 §4): header, OPEN, UPDATE, NOTIFICATION, KEEPALIVE and
 * ROUTE-REFRESH (RFC 2918, 7313). Decoding never throws: it returns a decoded message or a {@link BgpDecodeError}
 * carrying the NOTIFICATION to send. Recoverable UPDATE problems (RFC 7606) come back on the message as `issues`.
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import { decodeAttributes, encodeAttribute, encodePrefixes } from "./Attributes.ts"
import { ByteWriter, u16, u32, u8 } from "./Bytes.ts"
import { decodeCapabilities, encodeCapability } from "./Capabilities.ts"
import type {
  BgpMessage,
  Capability,
  NotificationMessage,
  OpenMessage,
  PathAttribute,
  UpdateIssue,
  UpdateMessage
} from "./Message.ts"
import {
  AttributeType,
  BGP_VERSION,
  HEADER_LENGTH,
  MAX_EXTENDED_MESSAGE_LENGTH,
  MAX_MESSAGE_LENGTH,
  MessageType
} from "./Message.ts"
import type { BgpDecodeError } from "./Notification.ts"
import {
  decodeError,
  ErrorCode,
  HeaderSubcode,
  OpenSubcode,
  RouteRefreshSubcode,
  u16Data,
  UpdateSubcode
} from "./Notification.ts"
import * as Prefix from "./Prefix.ts"

export interface CodecOptions {
  /** Both sides announced the 4-octet AS capability (RFC 6793). */
  readonly fourOctetAs: boolean
  /** Both sides announced the Extended Message capability (RFC 8654): messages up to 65535 octets. */
  readonly extendedMessages?: boolean
  /**
   * RFC 7606 revised error handling, on by default. When false every UPDATE problem resets the session, as in
   * plain RFC 4271.
   */
  readonly revisedErrorHandling?: boolean
}

/** The options before an OPEN exchange has settled anything. */
export const initialOptions: CodecOptions = { fourOctetAs: false }

export const maxMessageLength = (options: Pick<CodecOptions, "extendedMessages">): number =>
  options.extendedMessages === true ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH

const EMPTY = new Uint8Array(0)

const headerError = (subcode: number, data: Uint8Array, reason: string) =>
  decodeError(ErrorCode.MessageHeader, subcode, data, reason)

const badLength = (length: number, reason: string) =>
  headerError(HeaderSubcode.BadMessageLength, u16Data(length), reason)

/**
 * Checks a header at `buf[at, at+19)`: the all-ones marker and a length within 19..max. Returns the message
 * length and type, or the Message Header Error to send. The type is checked by {@link decodeMessage}.
 */
export const decodeHeader = (
  buf: Uint8Array,
  at: number,
  maxLength: number
): { readonly length: number; readonly type: number } | BgpDecodeError => {
  for (let i = 0; i < 16; i++) {
    if (buf[at + i] !== 0xff) {
      return headerError(HeaderSubcode.ConnectionNotSynchronized, EMPTY, `marker octet ${i} is not 0xFF`)
    }
  }
  const length = u16(buf, at + 16)
  if (length < HEADER_LENGTH || length > maxLength) {
    return badLength(length, `length ${length} is outside ${HEADER_LENGTH}..${maxLength}`)
  }
  return { length, type: u8(buf, at + 18) }
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding

const openError = (subcode: number, data: Uint8Array, reason: string) =>
  decodeError(ErrorCode.OpenMessage, subcode, data, reason)

const decodeOpen = (buf: Uint8Array, length: number): Result.Result<OpenMessage, BgpDecodeError> => {
  if (length < 29) return Result.fail(badLength(length, `OPEN of ${length} octets is shorter than 29`))
  const version = u8(buf, 19)
  if (version !== BGP_VERSION) {
    return Result.fail(
      openError(OpenSubcode.UnsupportedVersionNumber, u16Data(BGP_VERSION), `version ${version}, only 4 is supported`)
    )
  }
  const capabilities: Array<Capability> = []
  const optionalLength = u8(buf, 28)
  // RFC 9072: Non-Ext OP Len 255 followed by Non-Ext OP Type 255 announces 2-octet parameter lengths.
  const extended = optionalLength === 255 && length > 29 && u8(buf, 29) === 255
  let p = extended ? 32 : 29
  const end = extended ? 32 + u16(buf, 30) : 29 + optionalLength
  if (extended && length < 32) {
    return Result.fail(openError(OpenSubcode.Unspecific, EMPTY, "extended optional parameters length is truncated"))
  }
  if (end !== length) {
    return Result.fail(
      openError(
        OpenSubcode.Unspecific,
        EMPTY,
        `optional parameters length ${end - p} does not match the ${length - p} octets that follow`
      )
    )
  }
  const parameterHeader = extended ? 3 : 2
  while (p < end) {
    if (p + parameterHeader > end) {
      return Result.fail(openError(OpenSubcode.Unspecific, EMPTY, "optional parameter header is truncated"))
    }
    const type = u8(buf, p)
    const parameterLength = extended ? u16(buf, p + 1) : u8(buf, p + 1)
    const valueAt = p + parameterHeader
    if (valueAt + parameterLength > end) {
      return Result.fail(
        openError(OpenSubcode.Unspecific, EMPTY, `optional parameter ${type} overruns the parameters field`)
      )
    }
    // RFC 5492: Capabilities is the only optional parameter in use (type 1, authentication, is deprecated).
    if (type !== 2) {
      return Result.fail(
        openError(OpenSubcode.UnsupportedOptionalParameter, EMPTY, `optional parameter type ${type}`)
      )
    }
    const error = decodeCapabilities(buf, valueAt, valueAt + parameterLength, capabilities)
    if (error !== undefined) return Result.fail(error)
    p = valueAt + parameterLength
  }
  return Result.succeed({
    _tag: "Open",
    myAs: u16(buf, 20),
    holdTime: u16(buf, 22),
    bgpIdentifier: u32(buf, 24),
    capabilities
  })
}

const updateError = (subcode: number, data: Uint8Array, reason: string) =>
  decodeError(ErrorCode.UpdateMessage, subcode, data, reason)

const decodeUpdate = (
  buf: Uint8Array,
  length: number,
  options: CodecOptions
): Result.Result<UpdateMessage, BgpDecodeError> => {
  if (length < 23) return Result.fail(badLength(length, `UPDATE of ${length} octets is shorter than 23`))
  const withdrawnLength = u16(buf, 19)
  const withdrawnEnd = 21 + withdrawnLength
  if (withdrawnEnd + 2 > length) {
    return Result.fail(
      updateError(UpdateSubcode.MalformedAttributeList, EMPTY, `withdrawn routes length ${withdrawnLength} overruns`)
    )
  }
  const withdrawn = Prefix.decodeList(buf, 21, withdrawnEnd, 4)
  if (typeof withdrawn === "string") {
    return Result.fail(updateError(UpdateSubcode.InvalidNetworkField, EMPTY, `withdrawn routes: ${withdrawn}`))
  }
  const attributesLength = u16(buf, withdrawnEnd)
  const attributesEnd = withdrawnEnd + 2 + attributesLength
  if (attributesEnd > length) {
    return Result.fail(
      updateError(UpdateSubcode.MalformedAttributeList, EMPTY, `total path attribute length ${attributesLength} overruns`)
    )
  }
  const issues: Array<UpdateIssue> = []
  const scan = { present: new Uint8Array(256), truncated: false }
  const present = scan.present
  const attributes = decodeAttributes(buf, withdrawnEnd + 2, attributesEnd, options, issues, scan)
  if (!Array.isArray(attributes)) return Result.fail(attributes)
  const nlri = Prefix.decodeList(buf, attributesEnd, length, 4)
  if (typeof nlri === "string") return Result.fail(updateError(UpdateSubcode.InvalidNetworkField, EMPTY, `NLRI: ${nlri}`))
  // RFC 4760 makes NEXT_HOP mandatory only with classic NLRI; ORIGIN and AS_PATH go with any reachability.
  // After a truncated walk the UPDATE is withdrawn already, and what is "missing" is unknowable.
  if (!scan.truncated && (nlri.length > 0 || present[AttributeType.MpReachNlri] === 1)) {
    const required = nlri.length > 0
      ? [AttributeType.Origin, AttributeType.AsPath, AttributeType.NextHop]
      : [AttributeType.Origin, AttributeType.AsPath]
    for (const typeCode of required) {
      if (present[typeCode] !== 1) {
        issues.push({
          action: "treat-as-withdraw",
          code: ErrorCode.UpdateMessage,
          subcode: UpdateSubcode.MissingWellKnownAttribute,
          data: Uint8Array.of(typeCode),
          reason: `well-known attribute type ${typeCode} is missing`
        })
      }
    }
  }
  if (issues.length === 0) return Result.succeed({ _tag: "Update", withdrawn, attributes, nlri })
  const first = issues[0]
  if (options.revisedErrorHandling === false && first !== undefined) {
    return Result.fail(decodeError(first.code, first.subcode, first.data, first.reason))
  }
  return Result.succeed({ _tag: "Update", withdrawn, attributes, nlri, issues })
}

/**
 * Decodes one whole message (`buf` holds exactly one frame, as {@link MessageReader} yields them). Never throws.
 */
export const decodeMessage = (
  buf: Uint8Array,
  options: CodecOptions = initialOptions
): Result.Result<BgpMessage, BgpDecodeError> => {
  if (buf.length < HEADER_LENGTH) {
    return Result.fail(badLength(buf.length, `${buf.length} octets cannot hold a 19-octet header`))
  }
  const header = decodeHeader(buf, 0, maxMessageLength(options))
  if (!("type" in header)) return Result.fail(header)
  const { length, type } = header
  if (buf.length !== length) {
    return Result.fail(badLength(length, `header says ${length} octets but the frame has ${buf.length}`))
  }
  switch (type) {
    case MessageType.Open:
      // RFC 8654 §4: OPEN stays within 4096 octets even when extended messages are negotiated.
      if (length > MAX_MESSAGE_LENGTH) return Result.fail(badLength(length, "OPEN longer than 4096 octets"))
      return decodeOpen(buf, length)
    case MessageType.Update:
      return decodeUpdate(buf, length, options)
    case MessageType.Notification:
      if (length < 21) return Result.fail(badLength(length, `NOTIFICATION of ${length} octets is shorter than 21`))
      return Result.succeed({ _tag: "Notification", code: u8(buf, 19), subcode: u8(buf, 20), data: buf.slice(21, length) })
    case MessageType.Keepalive:
      if (length !== HEADER_LENGTH) return Result.fail(badLength(length, `KEEPALIVE of ${length} octets, expected 19`))
      return Result.succeed({ _tag: "Keepalive" })
    case MessageType.RouteRefresh:
      if (length !== 23) {
        return Result.fail(
          decodeError(
            ErrorCode.RouteRefreshMessage,
            RouteRefreshSubcode.InvalidMessageLength,
            buf.slice(0, length),
            `ROUTE-REFRESH of ${length} octets, expected 23`
          )
        )
      }
      return Result.succeed({ _tag: "RouteRefresh", afi: u16(buf, 19), subtype: u8(buf, 21), safi: u8(buf, 22) })
    default:
      return Result.fail(headerError(HeaderSubcode.BadMessageType, Uint8Array.of(type), `message type ${type}`))
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding

const startMessage = (w: ByteWriter, type: number): void => {
  for (let i = 0; i < 16; i++) w.u8(0xff)
  w.reserve(2)
  w.u8(type)
}

const finishMessage = (w: ByteWriter): Uint8Array => {
  w.patch16(16, w.pos)
  return w.finish()
}

const encodeOpenParameters = (w: ByteWriter, capabilities: ReadonlyArray<Capability>): void => {
  const tlvs = capabilities.map((capability) => {
    const t = new ByteWriter(16)
    encodeCapability(t, capability)
    return t.finish()
  })
  // Classic form: Capabilities parameters of at most 255 octets each (RFC 5492 allows several).
  const parameters: Array<Array<Uint8Array>> = []
  let current: Array<Uint8Array> = []
  let currentLength = 0
  for (const tlv of tlvs) {
    if (currentLength + tlv.length > 255 && current.length > 0) {
      parameters.push(current)
      current = []
      currentLength = 0
    }
    current.push(tlv)
    currentLength += tlv.length
  }
  if (current.length > 0) parameters.push(current)
  const sizes = parameters.map((tlvGroup) => tlvGroup.reduce((n, tlv) => n + tlv.length, 0))
  const classicLength = sizes.reduce((n, size) => n + 2 + size, 0)
  if (classicLength <= 255 && sizes.every((size) => size <= 255)) {
    w.u8(classicLength)
    parameters.forEach((tlvGroup, i) => {
      w.u8(2)
      w.u8(sizes[i] ?? 0)
      for (const tlv of tlvGroup) w.bytes(tlv)
    })
    return
  }
  // RFC 9072 extended form: one Capabilities parameter with a 2-octet length.
  const total = tlvs.reduce((n, tlv) => n + tlv.length, 0)
  w.u8(255)
  w.u8(255)
  w.u16(3 + total)
  w.u8(2)
  w.u16(total)
  for (const tlv of tlvs) w.bytes(tlv)
}

/**
 * Encodes a message. Sizes are not checked here: UPDATEs built by {@link packUpdates} fit by construction, and
 * `encodedLength > maxMessageLength(options)` tells a caller building its own.
 */
export const encodeMessage = (message: BgpMessage, options: CodecOptions = initialOptions): Uint8Array => {
  switch (message._tag) {
    case "Open": {
      const w = new ByteWriter(64)
      startMessage(w, MessageType.Open)
      w.u8(BGP_VERSION)
      w.u16(message.myAs)
      w.u16(message.holdTime)
      w.u32(message.bgpIdentifier)
      encodeOpenParameters(w, message.capabilities)
      return finishMessage(w)
    }
    case "Update": {
      const w = new ByteWriter(256)
      startMessage(w, MessageType.Update)
      const withdrawnAt = w.reserve(2)
      encodePrefixes(w, message.withdrawn)
      w.patch16(withdrawnAt, w.pos - withdrawnAt - 2)
      const attributesAt = w.reserve(2)
      for (const attribute of message.attributes) encodeAttribute(w, attribute, options)
      w.patch16(attributesAt, w.pos - attributesAt - 2)
      encodePrefixes(w, message.nlri)
      return finishMessage(w)
    }
    case "Notification": {
      const w = new ByteWriter(21 + message.data.length)
      startMessage(w, MessageType.Notification)
      w.u8(message.code)
      w.u8(message.subcode)
      w.bytes(message.data)
      return finishMessage(w)
    }
    case "Keepalive": {
      const w = new ByteWriter(HEADER_LENGTH)
      startMessage(w, MessageType.Keepalive)
      return finishMessage(w)
    }
    case "RouteRefresh": {
      const w = new ByteWriter(23)
      startMessage(w, MessageType.RouteRefresh)
      w.u16(message.afi)
      w.u8(message.subtype)
      w.u8(message.safi)
      return finishMessage(w)
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// End-of-RIB (RFC 4724 §2) and reachability

/** The End-of-RIB marker of a family: an empty UPDATE for IPv4 unicast, else an empty MP_UNREACH_NLRI. */
export const endOfRib = (afi: number, safi: number): UpdateMessage => {
  if (afi === 1 && safi === 1) return { _tag: "Update", withdrawn: [], attributes: [], nlri: [] }
  const attribute: PathAttribute = (afi === 1 || afi === 2) && safi === 1
    ? { _tag: "MpUnreachNlri", afi, safi, withdrawn: [] }
    : { _tag: "UnknownAttribute", flags: 0x80, typeCode: AttributeType.MpUnreachNlri, value: Uint8Array.of(afi >> 8, afi & 0xff, safi) }
  return { _tag: "Update", withdrawn: [], attributes: [attribute], nlri: [] }
}

/** The family an UPDATE marks the End-of-RIB of, or undefined when it is not a marker. */
export const isEndOfRib = (update: UpdateMessage): { readonly afi: number; readonly safi: number } | undefined => {
  if (update.withdrawn.length > 0 || update.nlri.length > 0) return undefined
  if (update.attributes.length === 0) return { afi: 1, safi: 1 }
  if (update.attributes.length !== 1) return undefined
  const attribute = update.attributes[0]
  if (attribute?._tag === "MpUnreachNlri" && attribute.withdrawn.length === 0) {
    return { afi: attribute.afi, safi: attribute.safi }
  }
  if (
    attribute?._tag === "UnknownAttribute" && attribute.typeCode === AttributeType.MpUnreachNlri &&
    attribute.value.length === 3
  ) {
    return { afi: u16(attribute.value, 0), safi: u8(attribute.value, 2) }
  }
  return undefined
}

/**
 * What an UPDATE means for the RIB once RFC 7606 is applied: prefixes it announces and prefixes it withdraws,
 * across the classic fields and MP_REACH/MP_UNREACH. With a treat-as-withdraw issue every announced prefix is
 * withdrawn instead.
 */
export const reachability = (
  update: UpdateMessage
): { readonly announced: Array<Prefix.Prefix>; readonly withdrawn: Array<Prefix.Prefix> } => {
  const announced: Array<Prefix.Prefix> = [...update.nlri]
  const withdrawn: Array<Prefix.Prefix> = [...update.withdrawn]
  for (const attribute of update.attributes) {
    if (attribute._tag === "MpReachNlri") announced.push(...attribute.nlri)
    else if (attribute._tag === "MpUnreachNlri") withdrawn.push(...attribute.withdrawn)
  }
  if (update.issues?.some((issue) => issue.action === "treat-as-withdraw") === true) {
    return { announced: [], withdrawn: [...withdrawn, ...announced] }
  }
  return { announced, withdrawn }
}

/** The NOTIFICATION message a decode error asks for. */
export const notificationOf = (error: BgpDecodeError): NotificationMessage => ({
  _tag: "Notification",
  code: error.code,
  subcode: error.subcode,
  data: error.data
})
