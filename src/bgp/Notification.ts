/**
 * NOTIFICATION codes and subcodes (RFC 4271 §4.5, RFC 4486, RFC 5492, RFC 6608, RFC 7313, RFC 8538) and the error
 * value every decoder returns instead of throwing: {@link BgpDecodeError}, which carries the NOTIFICATION the
 * session must send and the RFC 7606 action.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

export const ErrorCode = {
  MessageHeader: 1,
  OpenMessage: 2,
  UpdateMessage: 3,
  HoldTimerExpired: 4,
  FiniteStateMachine: 5,
  Cease: 6,
  RouteRefreshMessage: 7
} as const

export const HeaderSubcode = {
  ConnectionNotSynchronized: 1,
  BadMessageLength: 2,
  BadMessageType: 3
} as const

export const OpenSubcode = {
  Unspecific: 0,
  UnsupportedVersionNumber: 1,
  BadPeerAs: 2,
  BadBgpIdentifier: 3,
  UnsupportedOptionalParameter: 4,
  UnacceptableHoldTime: 6,
  UnsupportedCapability: 7
} as const

export const UpdateSubcode = {
  MalformedAttributeList: 1,
  UnrecognizedWellKnownAttribute: 2,
  MissingWellKnownAttribute: 3,
  AttributeFlagsError: 4,
  AttributeLengthError: 5,
  InvalidOriginAttribute: 6,
  InvalidNextHopAttribute: 8,
  OptionalAttributeError: 9,
  InvalidNetworkField: 10,
  MalformedAsPath: 11
} as const

export const FsmSubcode = {
  Unspecified: 0,
  UnexpectedMessageInOpenSent: 1,
  UnexpectedMessageInOpenConfirm: 2,
  UnexpectedMessageInEstablished: 3
} as const

export const CeaseSubcode = {
  MaximumPrefixesReached: 1,
  AdministrativeShutdown: 2,
  PeerDeconfigured: 3,
  AdministrativeReset: 4,
  ConnectionRejected: 5,
  OtherConfigurationChange: 6,
  ConnectionCollisionResolution: 7,
  OutOfResources: 8,
  HardReset: 9,
  BfdDown: 10
} as const

export const RouteRefreshSubcode = { InvalidMessageLength: 1 } as const

const codeNames: Record<number, string> = {
  1: "Message Header Error",
  2: "OPEN Message Error",
  3: "UPDATE Message Error",
  4: "Hold Timer Expired",
  5: "Finite State Machine Error",
  6: "Cease",
  7: "ROUTE-REFRESH Message Error"
}

const subcodeNames: Record<number, Record<number, string>> = {
  1: { 1: "Connection Not Synchronized", 2: "Bad Message Length", 3: "Bad Message Type" },
  2: {
    1: "Unsupported Version Number",
    2: "Bad Peer AS",
    3: "Bad BGP Identifier",
    4: "Unsupported Optional Parameter",
    6: "Unacceptable Hold Time",
    7: "Unsupported Capability"
  },
  3: {
    1: "Malformed Attribute List",
    2: "Unrecognized Well-known Attribute",
    3: "Missing Well-known Attribute",
    4: "Attribute Flags Error",
    5: "Attribute Length Error",
    6: "Invalid ORIGIN Attribute",
    8: "Invalid NEXT_HOP Attribute",
    9: "Optional Attribute Error",
    10: "Invalid Network Field",
    11: "Malformed AS_PATH"
  },
  5: {
    1: "Receive Unexpected Message in OpenSent State",
    2: "Receive Unexpected Message in OpenConfirm State",
    3: "Receive Unexpected Message in Established State"
  },
  6: {
    1: "Maximum Number of Prefixes Reached",
    2: "Administrative Shutdown",
    3: "Peer De-configured",
    4: "Administrative Reset",
    5: "Connection Rejected",
    6: "Other Configuration Change",
    7: "Connection Collision Resolution",
    8: "Out of Resources",
    9: "Hard Reset",
    10: "BFD Down"
  },
  7: { 1: "Invalid Message Length" }
}

/** Human text for a code/subcode pair, for logs: `UPDATE Message Error / Malformed AS_PATH`. */
export const describe = (code: number, subcode: number): string => {
  const codeName = codeNames[code] ?? `Unknown error code ${code}`
  if (subcode === 0) return `${codeName} / Unspecific`
  const subcodeName = subcodeNames[code]?.[subcode] ?? `subcode ${subcode}`
  return `${codeName} / ${subcodeName}`
}

/** What the session does about an error (RFC 7606 §2): reset it, withdraw the UPDATE's routes, or drop the attribute. */
export type ErrorAction = "session-reset" | "treat-as-withdraw" | "attribute-discard"

/**
 * A message that cannot be accepted: the session sends the NOTIFICATION `code`/`subcode`/`data` and closes
 * (RFC 7606 "session reset"). `message` says which field is wrong and why.
 */
export class BgpDecodeError extends Schema.TaggedError<BgpDecodeError>()("BgpDecodeError", {
  code: Schema.Number,
  subcode: Schema.Number,
  data: Schema.Uint8Array,
  action: Schema.Literal("session-reset"),
  message: Schema.String
}) {}

export const decodeError = (code: number, subcode: number, data: Uint8Array, reason: string): BgpDecodeError => {
  // The error describes the peer's bytes, not a fault here, so a stack trace says nothing; capturing one was
  // a third of the decoder's time on garbage input (bench/fuzz/bgp.ts).
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return new BgpDecodeError({ code, subcode, data, action: "session-reset", message: `${describe(code, subcode)}: ${reason}` })
  } finally {
    Error.stackTraceLimit = limit
  }
}

/** A 2-octet big-endian value, the data of Bad Message Length and Unsupported Version Number. */
export const u16Data = (value: number): Uint8Array => Uint8Array.of((value >> 8) & 0xff, value & 0xff)

/**
 * The data of a Cease / Administrative Shutdown or Reset carrying a shutdown communication (RFC 9003): a length
 * octet and up to 255 octets of UTF-8, cut at a character boundary.
 */
export const shutdownCommunication = (text: string): Uint8Array => {
  let bytes = new TextEncoder().encode(text)
  if (bytes.length > 255) {
    let end = 255
    // Back off continuation bytes (10xxxxxx) so the cut never splits a character.
    while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--
    bytes = bytes.subarray(0, end)
  }
  const out = new Uint8Array(1 + bytes.length)
  out[0] = bytes.length
  out.set(bytes, 1)
  return out
}
