/**
 * BFD Control packets (RFC 5880 §4.1), asynchronous mode, without authentication (MetalLB's BFDProfile has no
 * authentication settings). Decoding never throws: it returns the packet or the reason it must be discarded
 * (RFC 5880 §6.8.6, the checks that do not need session state).
 *
 * @since 0.1.0
 */
import { Result } from "effect"

export type BfdState = "AdminDown" | "Down" | "Init" | "Up"

const states: ReadonlyArray<BfdState> = ["AdminDown", "Down", "Init", "Up"]

/** Diagnostic codes (RFC 5880 §4.1). */
export const Diag = {
  None: 0,
  ControlDetectionTimeExpired: 1,
  EchoFunctionFailed: 2,
  NeighborSignaledSessionDown: 3,
  ForwardingPlaneReset: 4,
  PathDown: 5,
  ConcatenatedPathDown: 6,
  AdministrativelyDown: 7,
  ReverseConcatenatedPathDown: 8
} as const

export interface BfdControlPacket {
  readonly version: number
  readonly diag: number
  readonly state: BfdState
  readonly poll: boolean
  readonly final: boolean
  readonly controlPlaneIndependent: boolean
  readonly authenticationPresent: boolean
  readonly demand: boolean
  readonly multipoint: boolean
  readonly detectMult: number
  readonly myDiscriminator: number
  readonly yourDiscriminator: number
  /** Microseconds. */
  readonly desiredMinTxInterval: number
  /** Microseconds. */
  readonly requiredMinRxInterval: number
  /** Microseconds; 0 = this system does not support echo. */
  readonly requiredMinEchoRxInterval: number
}

export const headerLength = 24

export const encode = (p: BfdControlPacket): Uint8Array => {
  const out = new Uint8Array(headerLength)
  const view = new DataView(out.buffer)
  out[0] = ((p.version & 0x7) << 5) | (p.diag & 0x1f)
  out[1] = (states.indexOf(p.state) << 6) |
    (p.poll ? 0x20 : 0) | (p.final ? 0x10 : 0) | (p.controlPlaneIndependent ? 0x08 : 0) |
    (p.authenticationPresent ? 0x04 : 0) | (p.demand ? 0x02 : 0) | (p.multipoint ? 0x01 : 0)
  out[2] = p.detectMult & 0xff
  out[3] = headerLength
  view.setUint32(4, p.myDiscriminator >>> 0)
  view.setUint32(8, p.yourDiscriminator >>> 0)
  view.setUint32(12, p.desiredMinTxInterval >>> 0)
  view.setUint32(16, p.requiredMinRxInterval >>> 0)
  view.setUint32(20, p.requiredMinEchoRxInterval >>> 0)
  return out
}

/** Why a received packet is discarded (RFC 5880 §6.8.6, state-independent checks). */
export type DiscardReason =
  | "too short"
  | "bad version"
  | "bad length field"
  | "zero detect multiplier"
  | "multipoint bit set"
  | "zero my discriminator"
  | "authentication not supported"

export const decode = (bytes: Uint8Array): Result.Result<BfdControlPacket, DiscardReason> => {
  if (bytes.length < headerLength) return Result.fail("too short")
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const b0 = bytes[0] ?? 0
  const b1 = bytes[1] ?? 0
  const version = b0 >> 5
  if (version !== 1) return Result.fail("bad version")
  const length = bytes[3] ?? 0
  const authenticationPresent = (b1 & 0x04) !== 0
  if (length < (authenticationPresent ? 26 : headerLength) || length > bytes.length) return Result.fail("bad length field")
  const detectMult = bytes[2] ?? 0
  if (detectMult === 0) return Result.fail("zero detect multiplier")
  if ((b1 & 0x01) !== 0) return Result.fail("multipoint bit set")
  const myDiscriminator = view.getUint32(4)
  if (myDiscriminator === 0) return Result.fail("zero my discriminator")
  // No authentication is configured, so a packet with the A bit is discarded (§6.8.6).
  if (authenticationPresent) return Result.fail("authentication not supported")
  return Result.succeed({
    version,
    diag: b0 & 0x1f,
    state: states[b1 >> 6] ?? "AdminDown",
    poll: (b1 & 0x20) !== 0,
    final: (b1 & 0x10) !== 0,
    controlPlaneIndependent: (b1 & 0x08) !== 0,
    authenticationPresent,
    demand: (b1 & 0x02) !== 0,
    multipoint: false,
    detectMult,
    myDiscriminator,
    yourDiscriminator: view.getUint32(8),
    desiredMinTxInterval: view.getUint32(12),
    requiredMinRxInterval: view.getUint32(16),
    requiredMinEchoRxInterval: view.getUint32(20)
  })
}
