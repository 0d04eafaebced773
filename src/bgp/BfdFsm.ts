/**
 * The BFD session state machine (RFC 5880 §6.2, §6.8.1–§6.8.7) for single-hop asynchronous mode without echo or
 * authentication, as a pure function. The effectful `Bfd` service owns sockets and timers and asks this module what
 * to send, when, and when the session is down.
 *
 * Times are microseconds, as on the wire.
 *
 * @since 0.1.0
 */
import type { BfdControlPacket, BfdState } from "./BfdPacket.ts"
import { Diag } from "./BfdPacket.ts"

export interface BfdConfig {
  /** bfd.DesiredMinTxInterval once Up (BFDProfile transmitInterval). */
  readonly desiredMinTx: number
  /** bfd.RequiredMinRxInterval (BFDProfile receiveInterval). */
  readonly requiredMinRx: number
  /** bfd.DetectMult (BFDProfile detectMultiplier). */
  readonly detectMult: number
  /** BFDProfile passiveMode: do not send until the peer has been heard. */
  readonly passive: boolean
}

export interface BfdSession {
  readonly config: BfdConfig
  readonly state: BfdState
  readonly remoteState: BfdState
  readonly localDiscr: number
  readonly remoteDiscr: number
  readonly localDiag: number
  readonly remoteMinRx: number
  readonly remoteDesiredMinTx: number
  readonly remoteDetectMult: number
  /** A Poll sequence is in progress (we send P until the peer answers with F). */
  readonly polling: boolean
  /** The rate the peer last acknowledged with a Final (what it may currently rely on). */
  readonly ackedDesiredMinTx: number
}

/** RFC 5880 §6.8.3: while not Up, the transmit interval must not be below one second. */
export const slowInterval = 1_000_000

export const make = (config: BfdConfig, localDiscr: number): BfdSession => ({
  config,
  state: "Down",
  remoteState: "Down",
  localDiscr,
  remoteDiscr: 0,
  localDiag: Diag.None,
  remoteMinRx: 1,
  remoteDesiredMinTx: 0,
  remoteDetectMult: 0,
  polling: false,
  ackedDesiredMinTx: Math.max(config.desiredMinTx, slowInterval)
})

/** The DesiredMinTxInterval we advertise now. */
export const effectiveDesiredMinTx = (s: BfdSession): number =>
  s.state === "Up" ? s.config.desiredMinTx : Math.max(s.config.desiredMinTx, slowInterval)

/**
 * The base periodic transmit interval (before the 75–100 % jitter), or `undefined` when nothing may be sent
 * periodically: the peer asked for no packets (RequiredMinRx 0), or we are passive and have not heard it yet.
 */
export const transmitInterval = (s: BfdSession): number | undefined => {
  if (s.config.passive && s.remoteDiscr === 0) return undefined
  if (s.remoteMinRx === 0) return undefined
  return Math.max(effectiveDesiredMinTx(s), s.remoteMinRx)
}

/** Jitter per §6.8.7: 75–100 %, or 75–90 % with a detect multiplier of 1. `random` in [0, 1). */
export const jittered = (interval: number, detectMult: number, random: number): number =>
  Math.floor(interval * (0.75 + random * (detectMult === 1 ? 0.15 : 0.25)))

/** The detection time, or `undefined` until the peer has been heard (§6.8.4, asynchronous mode). */
export const detectionTime = (s: BfdSession): number | undefined =>
  s.remoteDiscr === 0 || s.remoteDetectMult === 0
    ? undefined
    : s.remoteDetectMult * Math.max(s.config.requiredMinRx, s.remoteDesiredMinTx)

export const packet = (s: BfdSession, options: { readonly final: boolean }): BfdControlPacket => ({
  version: 1,
  diag: s.localDiag,
  state: s.state,
  poll: s.polling && !options.final,
  final: options.final,
  controlPlaneIndependent: false,
  authenticationPresent: false,
  demand: false,
  multipoint: false,
  detectMult: s.config.detectMult,
  myDiscriminator: s.localDiscr,
  yourDiscriminator: s.remoteDiscr,
  desiredMinTxInterval: effectiveDesiredMinTx(s),
  requiredMinRxInterval: s.config.requiredMinRx,
  requiredMinEchoRxInterval: 0
})

/** What happened on a step, for the layer above (BGP tears its session down on `wentDown`). */
export interface StepResult {
  readonly session: BfdSession
  readonly discarded: boolean
  /** Send a packet now (with F set when answering a Poll). */
  readonly sendNow: "none" | "final" | "regular"
  readonly wentUp: boolean
  readonly wentDown: boolean
}

const moveTo = (s: BfdSession, state: BfdState, diag: number): BfdSession => {
  if (s.state === state) return s
  // Leaving or entering Up changes the advertised rate: start a Poll sequence so the peer adopts it (§6.8.3).
  const polling = state === "Up" || s.state === "Up" ? effectiveDesiredMinTx({ ...s, state }) !== s.ackedDesiredMinTx : s.polling
  return { ...s, state, localDiag: diag, polling }
}

/** Reception of a Control packet for this session (§6.8.6, after the state-independent checks of decode). */
export const receive = (s0: BfdSession, p: BfdControlPacket): StepResult => {
  if (p.yourDiscriminator === 0 && p.state !== "Down" && p.state !== "AdminDown") {
    return { session: s0, discarded: true, sendNow: "none", wentUp: false, wentDown: false }
  }
  if (p.yourDiscriminator !== 0 && p.yourDiscriminator !== s0.localDiscr) {
    return { session: s0, discarded: true, sendNow: "none", wentUp: false, wentDown: false }
  }
  const wasState = s0.state
  let s: BfdSession = {
    ...s0,
    remoteDiscr: p.myDiscriminator,
    remoteState: p.state,
    remoteMinRx: p.requiredMinRxInterval,
    remoteDesiredMinTx: p.desiredMinTxInterval,
    remoteDetectMult: p.detectMult
  }
  if (p.final && s.polling) s = { ...s, polling: false, ackedDesiredMinTx: effectiveDesiredMinTx(s) }
  if (s.state !== "AdminDown") {
    if (p.state === "AdminDown") {
      if (s.state !== "Down") s = moveTo(s, "Down", Diag.NeighborSignaledSessionDown)
    } else if (s.state === "Down") {
      if (p.state === "Down") s = moveTo(s, "Init", Diag.None)
      else if (p.state === "Init") s = moveTo(s, "Up", Diag.None)
    } else if (s.state === "Init") {
      if (p.state === "Init" || p.state === "Up") s = moveTo(s, "Up", Diag.None)
    } else if (s.state === "Up") {
      if (p.state === "Down") s = moveTo(s, "Down", Diag.NeighborSignaledSessionDown)
    }
  }
  const changed = s.state !== wasState
  return {
    session: s,
    discarded: false,
    // Answer a Poll at once with Final; a state change is announced at once too so the peer converges fast.
    sendNow: p.poll ? "final" : changed ? "regular" : "none",
    wentUp: changed && s.state === "Up",
    wentDown: changed && wasState === "Up"
  }
}

/** The detection timer fired: no valid packet within the detection time (§6.8.4). */
export const detectionTimeExpired = (s0: BfdSession): StepResult => {
  const wasState = s0.state
  let s: BfdSession = { ...s0, remoteDiscr: 0, remoteState: "Down", remoteMinRx: 1, remoteDetectMult: 0 }
  if (s.state === "Init" || s.state === "Up") s = moveTo(s, "Down", Diag.ControlDetectionTimeExpired)
  const changed = s.state !== wasState
  return { session: s, discarded: false, sendNow: changed ? "regular" : "none", wentUp: false, wentDown: changed && wasState === "Up" }
}

/** Administrative shutdown (the speaker stops): tell the peer with AdminDown (§6.8.16). */
export const adminDown = (s0: BfdSession): StepResult => {
  const wasUp = s0.state === "Up"
  const s = { ...s0, state: "AdminDown" as const, localDiag: Diag.AdministrativelyDown }
  return { session: s, discarded: false, sendNow: "regular", wentUp: false, wentDown: wasUp }
}
