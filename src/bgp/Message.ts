/**
 * The BGP-4 messages, path attributes and capabilities as plain immutable values (RFC 4271, 4760, 6793, 2918,
 * 4724, 1997, 8092, 5492, 8654, 7313). The codec maps bytes to these and back; nothing here does I/O.
 *
 * @since 0.1.0
 */
import type { ErrorAction } from "./Notification.ts"
import type { Prefix } from "./Prefix.ts"

export const MessageType = { Open: 1, Update: 2, Notification: 3, Keepalive: 4, RouteRefresh: 5 } as const

export const HEADER_LENGTH = 19
/** RFC 4271 §4.1 maximum message size. */
export const MAX_MESSAGE_LENGTH = 4096
/** RFC 8654 maximum once both sides announced the Extended Message capability (never for OPEN and KEEPALIVE). */
export const MAX_EXTENDED_MESSAGE_LENGTH = 65535
/** RFC 6793: the 2-octet placeholder for a 4-octet AS number. */
export const AS_TRANS = 23456
export const BGP_VERSION = 4

export const Afi = { Ipv4: 1, Ipv6: 2 } as const
export const Safi = { Unicast: 1 } as const

// ---------------------------------------------------------------------------------------------------------------
// Capabilities (RFC 5492)

export const CapabilityCode = {
  Multiprotocol: 1,
  RouteRefresh: 2,
  ExtendedMessage: 6,
  GracefulRestart: 64,
  FourOctetAs: 65
} as const

/** RFC 4724 restart flags (4 bits) and per-family flags. */
export const GracefulRestartFlags = { RestartState: 0x8, Notification: 0x4 } as const
export const GracefulRestartFamilyFlags = { ForwardingPreserved: 0x80 } as const

export interface GracefulRestartFamily {
  readonly afi: number
  readonly safi: number
  /** 8 bits; 0x80 = forwarding state preserved. */
  readonly flags: number
}

export type Capability =
  | { readonly _tag: "Multiprotocol"; readonly afi: number; readonly safi: number }
  | { readonly _tag: "RouteRefresh" }
  | { readonly _tag: "ExtendedMessage" }
  | {
    readonly _tag: "GracefulRestart"
    /** 4 bits: 0x8 = Restart State (R), 0x4 = Graceful Notification (N, RFC 8538). */
    readonly flags: number
    /** Seconds, 12 bits. */
    readonly restartTime: number
    readonly families: ReadonlyArray<GracefulRestartFamily>
  }
  | { readonly _tag: "FourOctetAs"; readonly asn: number }
  /** Any other capability, kept byte for byte. */
  | { readonly _tag: "UnknownCapability"; readonly code: number; readonly value: Uint8Array }

// ---------------------------------------------------------------------------------------------------------------
// Path attributes

export const AttributeFlag = { Optional: 0x80, Transitive: 0x40, Partial: 0x20, ExtendedLength: 0x10 } as const

export const AttributeType = {
  Origin: 1,
  AsPath: 2,
  NextHop: 3,
  MultiExitDisc: 4,
  LocalPref: 5,
  AtomicAggregate: 6,
  Aggregator: 7,
  Communities: 8,
  MpReachNlri: 14,
  MpUnreachNlri: 15,
  As4Path: 17,
  As4Aggregator: 18,
  LargeCommunity: 32
} as const

export const Origin = { Igp: 0, Egp: 1, Incomplete: 2 } as const

export const AsPathSegmentType = { AsSet: 1, AsSequence: 2, AsConfedSequence: 3, AsConfedSet: 4 } as const

export interface AsPathSegment {
  /** 1 AS_SET, 2 AS_SEQUENCE, 3 AS_CONFED_SEQUENCE, 4 AS_CONFED_SET. */
  readonly type: number
  /** 1..255 AS numbers. */
  readonly asns: ReadonlyArray<number>
}

export interface LargeCommunity {
  readonly globalAdmin: number
  readonly localData1: number
  readonly localData2: number
}

export type PathAttribute =
  | { readonly _tag: "Origin"; readonly value: number }
  | { readonly _tag: "AsPath"; readonly segments: ReadonlyArray<AsPathSegment> }
  /** RFC 4271: 4 bytes. */
  | { readonly _tag: "NextHop"; readonly address: Uint8Array }
  | { readonly _tag: "MultiExitDisc"; readonly value: number }
  | { readonly _tag: "LocalPref"; readonly value: number }
  | { readonly _tag: "AtomicAggregate" }
  | { readonly _tag: "Aggregator"; readonly asn: number; readonly address: Uint8Array }
  /** RFC 1997 communities as 32-bit values (`65000:100` = 65000 << 16 | 100). */
  | { readonly _tag: "Communities"; readonly values: ReadonlyArray<number> }
  | {
    readonly _tag: "MpReachNlri"
    readonly afi: 1 | 2
    readonly safi: 1
    /** 4 (IPv4), 16 (global) or 32 (global + link-local) bytes. */
    readonly nextHop: Uint8Array
    readonly nlri: ReadonlyArray<Prefix>
  }
  | { readonly _tag: "MpUnreachNlri"; readonly afi: 1 | 2; readonly safi: 1; readonly withdrawn: ReadonlyArray<Prefix> }
  | { readonly _tag: "As4Path"; readonly segments: ReadonlyArray<AsPathSegment> }
  | { readonly _tag: "As4Aggregator"; readonly asn: number; readonly address: Uint8Array }
  | { readonly _tag: "LargeCommunities"; readonly values: ReadonlyArray<LargeCommunity> }
  /**
   * Any other attribute (and MP_REACH/MP_UNREACH of a family this codec does not parse), kept byte for byte.
   * `flags` holds the Optional, Transitive and Partial bits; Extended Length is chosen when encoding.
   */
  | { readonly _tag: "UnknownAttribute"; readonly flags: number; readonly typeCode: number; readonly value: Uint8Array }

// ---------------------------------------------------------------------------------------------------------------
// Messages

export interface OpenMessage {
  readonly _tag: "Open"
  /** The 2-octet My AS field: the speaker's AS, or AS_TRANS when it does not fit. */
  readonly myAs: number
  readonly holdTime: number
  /** The BGP Identifier as an unsigned 32-bit number. */
  readonly bgpIdentifier: number
  readonly capabilities: ReadonlyArray<Capability>
}

/**
 * A problem found in an UPDATE that RFC 7606 lets the session survive: the UPDATE is still delivered, and the
 * session applies `action`. `code`/`subcode`/`data` are what RFC 4271 would have sent, for logs.
 */
export interface UpdateIssue {
  readonly action: Exclude<ErrorAction, "session-reset">
  readonly code: number
  readonly subcode: number
  readonly data: Uint8Array
  readonly reason: string
}

export interface UpdateMessage {
  readonly _tag: "Update"
  /** IPv4 unicast prefixes in the classic Withdrawn Routes field. */
  readonly withdrawn: ReadonlyArray<Prefix>
  readonly attributes: ReadonlyArray<PathAttribute>
  /** IPv4 unicast prefixes in the classic NLRI field. */
  readonly nlri: ReadonlyArray<Prefix>
  /** Present only on decoded UPDATEs that had RFC 7606 recoverable errors; ignored when encoding. */
  readonly issues?: ReadonlyArray<UpdateIssue>
}

export interface NotificationMessage {
  readonly _tag: "Notification"
  readonly code: number
  readonly subcode: number
  readonly data: Uint8Array
}

export interface KeepaliveMessage {
  readonly _tag: "Keepalive"
}

export interface RouteRefreshMessage {
  readonly _tag: "RouteRefresh"
  readonly afi: number
  /** RFC 7313: 0 normal request, 1 Beginning of Route Refresh, 2 End of Route Refresh. */
  readonly subtype: number
  readonly safi: number
}

export type BgpMessage = OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage

export const keepalive: KeepaliveMessage = { _tag: "Keepalive" }

export const notification = (code: number, subcode: number, data: Uint8Array = new Uint8Array(0)): NotificationMessage =>
  ({ _tag: "Notification", code, subcode, data })
