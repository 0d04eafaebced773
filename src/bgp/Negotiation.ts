/**
 * The semantic checks of a received OPEN that need configuration (RFC 4271 §6.2, RFC 5492, RFC 6286, RFC 6793,
 * RFC 7607) and what the two OPENs settle: hold time, 4-octet AS, extended messages, families.
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import { capabilityBytes } from "./Capabilities.ts"
import type { CodecOptions } from "./Codec.ts"
import type { Capability, OpenMessage } from "./Message.ts"
import { AS_TRANS } from "./Message.ts"
import type { BgpDecodeError } from "./Notification.ts"
import { decodeError, ErrorCode, OpenSubcode } from "./Notification.ts"

export interface OpenExpectations {
  /** The OPEN this speaker sent. */
  readonly local: OpenMessage
  /** The configured peer AS; omitted accepts any. */
  readonly peerAs?: number
  /** Smallest non-zero hold time accepted (RFC 4271 requires at least 3, which is also the default). */
  readonly minHoldTime?: number
  /** Capabilities the peer must announce (RFC 5492 §5), e.g. Multiprotocol IPv6 unicast. */
  readonly requiredCapabilities?: ReadonlyArray<Capability>
}

export interface Family {
  readonly afi: number
  readonly safi: number
}

export interface Negotiated {
  readonly peerAs: number
  readonly peerBgpIdentifier: number
  /** min(local, peer) seconds; 0 means no keepalives and no hold timer. */
  readonly holdTime: number
  /** holdTime / 3, rounded down (RFC 4271 §10 suggests one third). */
  readonly keepaliveTime: number
  readonly fourOctetAs: boolean
  readonly extendedMessages: boolean
  /** The peer accepts ROUTE-REFRESH. */
  readonly routeRefresh: boolean
  /** Families both sides announced (IPv4 unicast implied for a side that announced none, RFC 4760 §8). */
  readonly families: ReadonlyArray<Family>
  /** The peer's Graceful Restart capability, if it sent one. */
  readonly peerGracefulRestart?: Extract<Capability, { _tag: "GracefulRestart" }>
  /** The codec options for the rest of the session. */
  readonly codecOptions: CodecOptions
}

const openError = (subcode: number, data: Uint8Array, reason: string): BgpDecodeError =>
  decodeError(ErrorCode.OpenMessage, subcode, data, reason)

/** The AS a speaker announces: the 4-octet AS capability wins over My AS (RFC 6793 §4.1). */
export const speakerAs = (open: OpenMessage): number => {
  for (const capability of open.capabilities) if (capability._tag === "FourOctetAs") return capability.asn
  return open.myAs
}

const has = (open: OpenMessage, tag: Capability["_tag"]): boolean =>
  open.capabilities.some((capability) => capability._tag === tag)

const sameCapability = (a: Capability, b: Capability): boolean => {
  if (a._tag !== b._tag) return false
  if (a._tag === "Multiprotocol" && b._tag === "Multiprotocol") return a.afi === b.afi && a.safi === b.safi
  if (a._tag === "UnknownCapability" && b._tag === "UnknownCapability") return a.code === b.code
  return true
}

const familiesOf = (open: OpenMessage): Array<Family> => {
  const families: Array<Family> = []
  for (const capability of open.capabilities) {
    if (capability._tag === "Multiprotocol") families.push({ afi: capability.afi, safi: capability.safi })
  }
  return families.length === 0 ? [{ afi: 1, safi: 1 }] : families
}

/** Checks a peer's OPEN against configuration and the local OPEN; the error is the NOTIFICATION to send. */
export const validateOpen = (
  peer: OpenMessage,
  expectations: OpenExpectations
): Result.Result<Negotiated, BgpDecodeError> => {
  const local = expectations.local
  const minHoldTime = Math.max(3, expectations.minHoldTime ?? 3)
  if (peer.holdTime !== 0 && peer.holdTime < minHoldTime) {
    return Result.fail(
      openError(OpenSubcode.UnacceptableHoldTime, new Uint8Array(0), `hold time ${peer.holdTime}s: 0 or at least ${minHoldTime}s`)
    )
  }
  const peerAs = speakerAs(peer)
  if (peerAs === 0 || (peerAs === AS_TRANS && has(peer, "FourOctetAs"))) {
    // RFC 7607: AS 0 is never valid; RFC 6793: AS_TRANS must not be announced as the real AS.
    return Result.fail(openError(OpenSubcode.BadPeerAs, new Uint8Array(0), `peer AS ${peerAs} is reserved`))
  }
  if (expectations.peerAs !== undefined && peerAs !== expectations.peerAs) {
    return Result.fail(
      openError(OpenSubcode.BadPeerAs, new Uint8Array(0), `peer AS ${peerAs}, configured ${expectations.peerAs}`)
    )
  }
  const localAs = speakerAs(local)
  if (peer.bgpIdentifier === 0) {
    return Result.fail(openError(OpenSubcode.BadBgpIdentifier, new Uint8Array(0), "BGP Identifier 0 is invalid"))
  }
  if (peerAs === localAs && peer.bgpIdentifier === local.bgpIdentifier) {
    // RFC 6286 §2.1: identifiers must differ within an AS; across ASes equal identifiers are allowed.
    return Result.fail(
      openError(OpenSubcode.BadBgpIdentifier, new Uint8Array(0), "iBGP peer uses this speaker's BGP Identifier")
    )
  }
  const missing = (expectations.requiredCapabilities ?? []).filter(
    (required) => !peer.capabilities.some((offered) => sameCapability(required, offered))
  )
  if (missing.length > 0) {
    const parts = missing.map(capabilityBytes)
    const data = new Uint8Array(parts.reduce((n, part) => n + part.length, 0))
    let offset = 0
    for (const part of parts) {
      data.set(part, offset)
      offset += part.length
    }
    return Result.fail(
      openError(OpenSubcode.UnsupportedCapability, data, `peer lacks ${missing.map((c) => c._tag).join(", ")}`)
    )
  }
  const holdTime = Math.min(local.holdTime, peer.holdTime)
  const fourOctetAs = has(local, "FourOctetAs") && has(peer, "FourOctetAs")
  const extendedMessages = has(local, "ExtendedMessage") && has(peer, "ExtendedMessage")
  const peerFamilies = familiesOf(peer)
  const families = familiesOf(local).filter((family) =>
    peerFamilies.some((other) => other.afi === family.afi && other.safi === family.safi)
  )
  const peerGracefulRestart = peer.capabilities.find(
    (capability): capability is Extract<Capability, { _tag: "GracefulRestart" }> => capability._tag === "GracefulRestart"
  )
  return Result.succeed({
    peerAs,
    peerBgpIdentifier: peer.bgpIdentifier,
    holdTime,
    keepaliveTime: Math.floor(holdTime / 3),
    fourOctetAs,
    extendedMessages,
    routeRefresh: has(peer, "RouteRefresh"),
    families,
    ...(peerGracefulRestart === undefined ? {} : { peerGracefulRestart }),
    codecOptions: { fourOctetAs, extendedMessages }
  })
}

/**
 * The OPEN this speaker sends (RFC 6793: My AS = AS_TRANS when the AS needs 4 octets; the capability always
 * carries the real one).
 */
export const makeOpen = (params: {
  readonly asn: number
  readonly holdTime: number
  readonly bgpIdentifier: number
  readonly families: ReadonlyArray<Family>
  readonly routeRefresh?: boolean
  readonly extendedMessages?: boolean
  readonly gracefulRestart?: {
    readonly restartTime: number
    readonly restarting: boolean
    readonly forwardingPreserved: boolean
    /** Announce RFC 8538 Graceful NOTIFICATION support (the N bit). */
    readonly notification?: boolean
  }
}): OpenMessage => {
  const capabilities: Array<Capability> = params.families.map((family) => ({ _tag: "Multiprotocol", ...family }))
  if (params.routeRefresh === true) capabilities.push({ _tag: "RouteRefresh" })
  if (params.extendedMessages === true) capabilities.push({ _tag: "ExtendedMessage" })
  const gr = params.gracefulRestart
  if (gr !== undefined) {
    capabilities.push({
      _tag: "GracefulRestart",
      flags: (gr.restarting ? 0x8 : 0) | (gr.notification === true ? 0x4 : 0),
      restartTime: Math.min(gr.restartTime, 0xfff),
      families: params.families.map((family) => ({ ...family, flags: gr.forwardingPreserved ? 0x80 : 0 }))
    })
  }
  capabilities.push({ _tag: "FourOctetAs", asn: params.asn })
  return {
    _tag: "Open",
    myAs: params.asn > 0xffff ? AS_TRANS : params.asn,
    holdTime: params.holdTime,
    bgpIdentifier: params.bgpIdentifier,
    capabilities
  }
}
