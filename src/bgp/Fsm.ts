/**
 * The BGP finite state machine of RFC 4271 §8, as a pure function.
 *
 * `step(state, event)` returns the next state and the actions the session layer must perform (send a message, start a
 * timer, drop the TCP connection, ...). It never throws and handles every (state, event) pair. One `FsmState` stands for
 * one TCP connection (RFC 4271 §8.2.1); collision detection across connections (§6.8) is the session layer's job, with
 * `collisionLoser` here to decide it and the `OpenCollisionDump` event to carry the verdict back.
 *
 * Messages are described by the facts the FSM needs, not by the codec's types, so the FSM stays independent of the wire
 * format. docs/design/bgp-fsm.md explains the model, the optional attributes chosen, and the places where the RFC text
 * had to be interpreted.
 */

// ---------------------------------------------------------------------------------------------------------------------
// States, timers, configuration
// ---------------------------------------------------------------------------------------------------------------------

export const stateNames = ["Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"] as const
/** The six states of RFC 4271 §8.2.2. */
export type StateName = (typeof stateNames)[number]

export const timerNames = ["ConnectRetry", "Hold", "Keepalive", "DelayOpen"] as const
export type TimerName = (typeof timerNames)[number]

/** Which timers are running: the FSM's own bookkeeping of the StartTimer/StopTimer actions it emitted. */
export type RunningTimers = { readonly [T in TimerName]: boolean }

/** Expected AS of the peer: a number, or MetalLB's dynamicASN ("internal" = our AS, "external" = any other AS). */
export type PeerAsn = number | "internal" | "external"

/**
 * The session attributes that configuration fixes (RFC 4271 §8 and §8.1.1). All times are in seconds.
 * DampPeerOscillations / IdleHoldTime, TrackTcpState-only behaviour beyond events 14/15, and
 * AcceptConnectionsUnconfiguredPeers are not supported: the session layer's reconnect schedule plays the idle-hold role.
 */
export interface FsmConfig {
  readonly localAsn: number
  /** Our BGP Identifier as an unsigned 32-bit integer. */
  readonly localBgpId: number
  readonly peerAsn: PeerAsn
  /** HoldTime we offer: 0 (no hold timer, no keepalives) or >= 3. */
  readonly holdTime: number
  /** KeepaliveTime; `undefined` means one third of the negotiated hold time. Always capped at hold/3. */
  readonly keepaliveTime: number | undefined
  readonly connectRetryTime: number
  /** The "large value" the HoldTimer gets while waiting for the peer's OPEN (RFC 4271 suggests 4 minutes). */
  readonly largeHoldTime: number
  readonly delayOpen: boolean
  readonly delayOpenTime: number
  readonly sendNotificationWithoutOpen: boolean
  readonly collisionDetectEstablishedState: boolean
  readonly allowAutomaticStart: boolean
  readonly allowAutomaticStop: boolean
}

/** RFC 4271 §10 suggested defaults: ConnectRetryTime 120 s, HoldTime 90 s, large hold 4 minutes. */
export const makeConfig = (
  options: Pick<FsmConfig, "localAsn" | "localBgpId" | "peerAsn"> & Partial<FsmConfig>
): FsmConfig => ({
  holdTime: 90,
  keepaliveTime: undefined,
  connectRetryTime: 120,
  largeHoldTime: 240,
  delayOpen: false,
  delayOpenTime: 0,
  sendNotificationWithoutOpen: false,
  collisionDetectEstablishedState: false,
  allowAutomaticStart: true,
  allowAutomaticStop: true,
  ...options
})

/** What the FSM keeps from the peer's OPEN. */
export interface PeerOpen {
  readonly holdTime: number
  /** The peer's AS (the 4-octet AS from the capability when present, else the 2-octet field). */
  readonly asn: number
  readonly bgpId: number
  /** Capability codes the peer advertised (RFC 5492), passed through to `SessionEstablished`. */
  readonly capabilities: ReadonlyArray<number>
}

/** One connection's FSM: its state, counters, running timers and what was negotiated. Start from {@link initial}. */
export interface FsmState {
  readonly name: StateName
  readonly config: FsmConfig
  readonly connectRetryCounter: number
  /** PassiveTcpEstablishment, as set by the last start event. */
  readonly passiveTcpEstablishment: boolean
  readonly running: RunningTimers
  /** HoldTime: the configured value until an OPEN is accepted, then the negotiated one. */
  readonly holdTime: number
  /** KeepaliveTime that goes with `holdTime` (0 when the hold time is 0). */
  readonly keepaliveTime: number
  readonly peer: PeerOpen | undefined
}

const noTimers: RunningTimers = { ConnectRetry: false, Hold: false, Keepalive: false, DelayOpen: false }

/** Idle, no timers running, the configured hold time. */
export const initial = (config: FsmConfig): FsmState => ({
  name: "Idle",
  config,
  connectRetryCounter: 0,
  passiveTcpEstablishment: false,
  running: noTimers,
  holdTime: config.holdTime,
  keepaliveTime: keepaliveFor(config, config.holdTime),
  peer: undefined
})

// ---------------------------------------------------------------------------------------------------------------------
// NOTIFICATION codes (RFC 4271 §4.5, RFC 4486 Cease subcodes, RFC 6608 FSM error subcodes)
// ---------------------------------------------------------------------------------------------------------------------

export interface Notification {
  readonly code: number
  readonly subcode: number
  readonly data: Uint8Array
}

export const ErrorCode = {
  MessageHeader: 1,
  OpenMessage: 2,
  UpdateMessage: 3,
  HoldTimerExpired: 4,
  FiniteStateMachine: 5,
  Cease: 6
} as const

export const OpenSubcode = {
  UnsupportedVersionNumber: 1,
  BadPeerAs: 2,
  BadBgpIdentifier: 3,
  UnsupportedOptionalParameter: 4,
  UnacceptableHoldTime: 6
} as const

export const CeaseSubcode = {
  AdministrativeShutdown: 2,
  ConnectionCollisionResolution: 7
} as const

/** RFC 6608: which state received the unexpected message (0 = not a message, e.g. an unexpected timer). */
export const FsmErrorSubcode = {
  Unspecified: 0,
  OpenSent: 1,
  OpenConfirm: 2,
  Established: 3
} as const

const empty = new Uint8Array(0)
export const notification = (code: number, subcode: number, data: Uint8Array = empty): Notification => ({
  code,
  subcode,
  data
})

// ---------------------------------------------------------------------------------------------------------------------
// Events (RFC 4271 §8.1; events 6, 7 and 13 belong to DampPeerOscillations, which is not supported)
// ---------------------------------------------------------------------------------------------------------------------

/** The events of RFC 4271 §8.1 the session layer feeds to {@link step} (the numbers are the RFC's). */
export type FsmEvent =
  | { readonly _tag: "ManualStart" } // 1
  | { readonly _tag: "ManualStop"; readonly subcode?: number; readonly data?: Uint8Array } // 2
  | { readonly _tag: "AutomaticStart" } // 3
  | { readonly _tag: "ManualStartWithPassiveTcpEstablishment" } // 4
  | { readonly _tag: "AutomaticStartWithPassiveTcpEstablishment" } // 5
  | { readonly _tag: "AutomaticStop"; readonly subcode?: number; readonly data?: Uint8Array } // 8
  | { readonly _tag: "ConnectRetryTimerExpires" } // 9
  | { readonly _tag: "HoldTimerExpires" } // 10
  | { readonly _tag: "KeepaliveTimerExpires" } // 11
  | { readonly _tag: "DelayOpenTimerExpires" } // 12
  | { readonly _tag: "TcpConnectionValid" } // 14
  | { readonly _tag: "TcpCrInvalid" } // 15
  | { readonly _tag: "TcpCrAcked" } // 16
  | { readonly _tag: "TcpConnectionConfirmed" } // 17
  | { readonly _tag: "TcpConnectionFails" } // 18
  | ({ readonly _tag: "BgpOpen" } & PeerOpen) // 19, or 20 while the DelayOpenTimer runs
  | { readonly _tag: "BgpHeaderErr"; readonly notification: Notification } // 21
  | { readonly _tag: "BgpOpenMsgErr"; readonly notification: Notification } // 22
  | { readonly _tag: "OpenCollisionDump" } // 23
  | { readonly _tag: "NotifMsgVerErr"; readonly notification: Notification } // 24
  | { readonly _tag: "NotifMsg"; readonly notification: Notification } // 25
  | { readonly _tag: "KeepAliveMsg" } // 26
  | { readonly _tag: "UpdateMsg" } // 27
  | { readonly _tag: "UpdateMsgErr"; readonly notification: Notification } // 28

export type EventTag = FsmEvent["_tag"]

export const eventTags: ReadonlyArray<EventTag> = [
  "ManualStart",
  "ManualStop",
  "AutomaticStart",
  "ManualStartWithPassiveTcpEstablishment",
  "AutomaticStartWithPassiveTcpEstablishment",
  "AutomaticStop",
  "ConnectRetryTimerExpires",
  "HoldTimerExpires",
  "KeepaliveTimerExpires",
  "DelayOpenTimerExpires",
  "TcpConnectionValid",
  "TcpCrInvalid",
  "TcpCrAcked",
  "TcpConnectionConfirmed",
  "TcpConnectionFails",
  "BgpOpen",
  "BgpHeaderErr",
  "BgpOpenMsgErr",
  "OpenCollisionDump",
  "NotifMsgVerErr",
  "NotifMsg",
  "KeepAliveMsg",
  "UpdateMsg",
  "UpdateMsgErr"
]

/** The timer-expiry event for each timer (what a timer driver feeds back). */
export const expiryEvent = {
  ConnectRetry: { _tag: "ConnectRetryTimerExpires" },
  Hold: { _tag: "HoldTimerExpires" },
  Keepalive: { _tag: "KeepaliveTimerExpires" },
  DelayOpen: { _tag: "DelayOpenTimerExpires" }
} as const satisfies Record<TimerName, FsmEvent>

/** A received NOTIFICATION becomes event 24 for "version error" (OPEN error / Unsupported Version), else event 25. */
export const notificationEvent = (received: Notification): FsmEvent =>
  received.code === ErrorCode.OpenMessage && received.subcode === OpenSubcode.UnsupportedVersionNumber
    ? { _tag: "NotifMsgVerErr", notification: received }
    : { _tag: "NotifMsg", notification: received }

// ---------------------------------------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------------------------------------

/** What {@link step} asks the session layer to do, in order. */
export type FsmAction =
  | { readonly _tag: "StartTimer"; readonly timer: TimerName; readonly seconds: number }
  | { readonly _tag: "StopTimer"; readonly timer: TimerName }
  | { readonly _tag: "InitiateTcpConnection" }
  | { readonly _tag: "DropTcpConnection" }
  /** Refuse an incoming connection request (events 14 in Idle and 15). */
  | { readonly _tag: "RejectTcpConnection" }
  | { readonly _tag: "SendOpen" }
  | { readonly _tag: "SendKeepalive" }
  | ({ readonly _tag: "SendNotification" } & Notification)
  /** Process the UPDATE that produced this event (hand it to the RIB). */
  | { readonly _tag: "ProcessUpdate" }
  | {
    readonly _tag: "SessionEstablished"
    readonly peer: PeerOpen
    readonly holdTime: number
    readonly keepaliveTime: number
    readonly internal: boolean
  }
  /** Leaving Established: delete all routes learned on this connection. */
  | {
    readonly _tag: "SessionDown"
    readonly event: EventTag
    /** The NOTIFICATION we sent, if any. */
    readonly sent: Notification | undefined
    /** The NOTIFICATION the peer sent, if that is why the session went down. */
    readonly received: Notification | undefined
  }
  /** Release the per-connection BGP resources (everything but the configuration). */
  | { readonly _tag: "ReleaseResources" }
  /** An event arrived that the configured attributes do not allow (RFC 4271 §8.1.2: "log an FSM error"). */
  | { readonly _tag: "LogFsmError"; readonly event: EventTag; readonly reason: string }

export type ActionTag = FsmAction["_tag"]

// ---------------------------------------------------------------------------------------------------------------------
// OPEN checks and timer negotiation (RFC 4271 §4.2, §6.2, §10; RFC 6286 §2.2)
// ---------------------------------------------------------------------------------------------------------------------

/** KeepaliveTime for a hold time: 0 when hold is 0, else the configured value capped at hold/3 (at least 1 s). */
export const keepaliveFor = (config: FsmConfig, holdTime: number): number => {
  if (holdTime === 0) return 0
  const third = Math.max(1, Math.floor(holdTime / 3))
  return config.keepaliveTime === undefined || config.keepaliveTime <= 0 ? third : Math.min(config.keepaliveTime, third)
}

/** The negotiated hold time: the smaller of ours and the peer's (RFC 4271 §4.2). */
export const negotiateHoldTime = (config: FsmConfig, peerHoldTime: number): number =>
  Math.min(config.holdTime, peerHoldTime)

/**
 * The semantic OPEN checks that depend on configuration. The codec has already checked the syntax and the version;
 * anything it rejects arrives as `BgpOpenMsgErr`. Returns the NOTIFICATION to send, or undefined when acceptable.
 */
export const checkOpen = (config: FsmConfig, open: PeerOpen): Notification | undefined => {
  const expected = config.peerAsn
  const asnOk = expected === "internal"
    ? open.asn === config.localAsn
    : expected === "external"
    ? open.asn !== config.localAsn
    : open.asn === expected
  if (!asnOk) return notification(ErrorCode.OpenMessage, OpenSubcode.BadPeerAs)
  // RFC 6286 §2.2: zero is never valid; equal to ours is invalid for an internal peer.
  if (open.bgpId === 0 || (open.bgpId === config.localBgpId && open.asn === config.localAsn)) {
    return notification(ErrorCode.OpenMessage, OpenSubcode.BadBgpIdentifier)
  }
  // RFC 4271 §6.2: "An implementation MUST reject Hold Time values of one or two seconds." Values outside the
  // 16-bit field cannot come from the wire; refusing them keeps every timer duration finite and non-negative.
  const h = open.holdTime
  if (h === 1 || h === 2 || !Number.isInteger(h) || h < 0 || h > 0xffff) {
    return notification(ErrorCode.OpenMessage, OpenSubcode.UnacceptableHoldTime)
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------------------------------
// Collision detection (RFC 4271 §6.8)
// ---------------------------------------------------------------------------------------------------------------------

/** Whether a connection in this state takes part in collision detection when an OPEN arrives on another one. */
export const collisionCandidate = (state: FsmState): boolean =>
  state.name === "OpenConfirm" || state.name === "OpenSent" ||
  (state.name === "Established" && state.config.collisionDetectEstablishedState)

/**
 * Which of two colliding connections to close: keep the one initiated by the speaker with the higher BGP Identifier
 * (compared as unsigned 32-bit integers). Returns the initiator whose connection must get `OpenCollisionDump`.
 */
export const collisionLoser = (localBgpId: number, remoteBgpId: number): "LocallyInitiated" | "RemotelyInitiated" =>
  (localBgpId >>> 0) < (remoteBgpId >>> 0) ? "LocallyInitiated" : "RemotelyInitiated"

// ---------------------------------------------------------------------------------------------------------------------
// The transition function
// ---------------------------------------------------------------------------------------------------------------------

type Result = readonly [FsmState, ReadonlyArray<FsmAction>]

const start = (timer: TimerName, seconds: number): FsmAction => ({ _tag: "StartTimer", timer, seconds })
const stopIfRunning = (s: FsmState, ...timers: ReadonlyArray<TimerName>): Array<FsmAction> =>
  timers.filter((t) => s.running[t]).map((timer) => ({ _tag: "StopTimer", timer }))
const send = (n: Notification): FsmAction => ({ _tag: "SendNotification", ...n })
const stay = (s: FsmState, actions: ReadonlyArray<FsmAction> = []): Result => [s, actions]

const ceaseFor = (e: { readonly subcode?: number; readonly data?: Uint8Array }, fallback: number): Notification =>
  notification(ErrorCode.Cease, e.subcode ?? fallback, e.data ?? empty)

const fsmError = (s: FsmState, e: FsmEvent): Notification => {
  const isMessage = e._tag !== "ConnectRetryTimerExpires" && e._tag !== "KeepaliveTimerExpires" &&
    e._tag !== "DelayOpenTimerExpires" && e._tag !== "HoldTimerExpires"
  const subcode = !isMessage
    ? FsmErrorSubcode.Unspecified
    : s.name === "OpenSent"
    ? FsmErrorSubcode.OpenSent
    : s.name === "OpenConfirm"
    ? FsmErrorSubcode.OpenConfirm
    : s.name === "Established"
    ? FsmErrorSubcode.Established
    : FsmErrorSubcode.Unspecified
  return notification(ErrorCode.FiniteStateMachine, subcode)
}

interface IdleOptions {
  readonly notify?: Notification | undefined
  readonly counter: "zero" | "increment" | "keep"
}

/**
 * Every path back to Idle: optionally send a NOTIFICATION, stop all timers, delete the routes if the session was up,
 * release resources, drop the TCP connection, and set the ConnectRetryCounter. Restarting a timer on the way to Idle
 * (Active + event 18 says so) is not observable because Idle ignores its expiry, so all timers simply stop.
 */
const toIdle = (s: FsmState, e: FsmEvent, options: IdleOptions): Result => {
  const actions: Array<FsmAction> = []
  if (options.notify !== undefined) actions.push(send(options.notify))
  actions.push(...stopIfRunning(s, ...timerNames))
  if (s.name === "Established") {
    const received = e._tag === "NotifMsg" || e._tag === "NotifMsgVerErr" ? e.notification : undefined
    actions.push({ _tag: "SessionDown", event: e._tag, sent: options.notify, received })
  }
  actions.push({ _tag: "ReleaseResources" }, { _tag: "DropTcpConnection" })
  const counter = options.counter === "zero"
    ? 0
    : options.counter === "increment"
    ? s.connectRetryCounter + 1
    : s.connectRetryCounter
  return [
    {
      ...s,
      name: "Idle",
      connectRetryCounter: counter,
      holdTime: s.config.holdTime,
      keepaliveTime: keepaliveFor(s.config, s.config.holdTime),
      peer: undefined
    },
    actions
  ]
}

/** TCP is up and OPEN is not delayed (or the delay ended): send OPEN, arm the large hold timer, go to OpenSent. */
const sendOpen = (s: FsmState): Result => [
  { ...s, name: "OpenSent" },
  [
    ...stopIfRunning(s, "ConnectRetry", "DelayOpen"),
    { _tag: "SendOpen" },
    start("Hold", s.config.largeHoldTime)
  ]
]

/** TCP is up: either delay the OPEN (DelayOpen) and stay, or send it now. */
const tcpUp = (s: FsmState): Result =>
  s.config.delayOpen
    ? stay(s, [...stopIfRunning(s, "ConnectRetry"), start("DelayOpen", s.config.delayOpenTime)])
    : sendOpen(s)

/**
 * A valid OPEN in OpenSent (event 19) or while the DelayOpenTimer runs (event 20, which also sends our OPEN now).
 * An OPEN that fails the configured checks is an OPEN message error (event 22) instead.
 */
const acceptOpen = (s: FsmState, e: FsmEvent & { readonly _tag: "BgpOpen" }, sendOurOpen: boolean): Result => {
  const peer: PeerOpen = { holdTime: e.holdTime, asn: e.asn, bgpId: e.bgpId, capabilities: e.capabilities }
  const problem = checkOpen(s.config, peer)
  if (problem !== undefined) return transition(s, { _tag: "BgpOpenMsgErr", notification: problem })
  const holdTime = negotiateHoldTime(s.config, e.holdTime)
  const keepaliveTime = keepaliveFor(s.config, holdTime)
  const actions: Array<FsmAction> = [...stopIfRunning(s, "ConnectRetry", "DelayOpen")]
  if (sendOurOpen) actions.push({ _tag: "SendOpen" })
  // This KEEPALIVE acknowledges the OPEN; it is sent even when the hold time is 0 (no *periodic* keepalives then).
  actions.push({ _tag: "SendKeepalive" })
  if (holdTime > 0) actions.push(start("Keepalive", keepaliveTime), start("Hold", holdTime))
  else actions.push(...stopIfRunning(s, "Keepalive", "Hold"))
  return [{ ...s, name: "OpenConfirm", holdTime, keepaliveTime, peer }, actions]
}

/** Periodic KEEPALIVE on KeepaliveTimer expiry; never with a zero hold time (RFC 4271 §4.4). */
const periodicKeepalive = (s: FsmState): Result =>
  s.holdTime === 0 ? stay(s) : stay(s, [{ _tag: "SendKeepalive" }, start("Keepalive", s.keepaliveTime)])

const restartHold = (s: FsmState): ReadonlyArray<FsmAction> => (s.holdTime > 0 ? [start("Hold", s.holdTime)] : [])

const automaticAllowed = (s: FsmState, e: FsmEvent): boolean => {
  if (e._tag === "AutomaticStart" || e._tag === "AutomaticStartWithPassiveTcpEstablishment") {
    return s.config.allowAutomaticStart
  }
  if (e._tag === "AutomaticStop") return s.config.allowAutomaticStop
  return true
}

const isStart = (e: FsmEvent): boolean =>
  e._tag === "ManualStart" || e._tag === "AutomaticStart" ||
  e._tag === "ManualStartWithPassiveTcpEstablishment" || e._tag === "AutomaticStartWithPassiveTcpEstablishment"

const idle = (s: FsmState, e: FsmEvent): Result => {
  switch (e._tag) {
    case "ManualStart":
    case "AutomaticStart":
      return [
        { ...s, name: "Connect", connectRetryCounter: 0, passiveTcpEstablishment: false },
        [start("ConnectRetry", s.config.connectRetryTime), { _tag: "InitiateTcpConnection" }]
      ]
    case "ManualStartWithPassiveTcpEstablishment":
    case "AutomaticStartWithPassiveTcpEstablishment":
      return [
        { ...s, name: "Active", connectRetryCounter: 0, passiveTcpEstablishment: true },
        [start("ConnectRetry", s.config.connectRetryTime)]
      ]
    // "In this state, BGP FSM refuses all incoming BGP connections for this peer."
    case "TcpConnectionValid":
      return stay(s, [{ _tag: "RejectTcpConnection" }])
    case "TcpCrAcked":
    case "TcpConnectionConfirmed":
      return stay(s, [{ _tag: "DropTcpConnection" }])
    default:
      return stay(s)
  }
}

/** Connect and Active share most of their behaviour (RFC 4271 §8.2.2); the differences are marked. */
const connectOrActive = (s: FsmState, e: FsmEvent): Result => {
  const delaying = s.running.DelayOpen
  switch (e._tag) {
    case "ManualStart":
    case "AutomaticStart":
    case "ManualStartWithPassiveTcpEstablishment":
    case "AutomaticStartWithPassiveTcpEstablishment":
      return stay(s)
    case "ManualStop": {
      // Active only: a Cease is possible when a connection is up with our OPEN delayed.
      const notify = s.name === "Active" && delaying && s.config.sendNotificationWithoutOpen
        ? ceaseFor(e, CeaseSubcode.AdministrativeShutdown)
        : undefined
      return toIdle(s, e, { notify, counter: "zero" })
    }
    case "ConnectRetryTimerExpires": {
      if (s.name === "Active" && s.passiveTcpEstablishment) {
        // Passive peers never dial out; keep listening.
        return stay(s, [start("ConnectRetry", s.config.connectRetryTime)])
      }
      const drop: ReadonlyArray<FsmAction> = s.name === "Connect" ? [{ _tag: "DropTcpConnection" }] : []
      return [
        { ...s, name: "Connect" },
        [
          ...drop,
          ...stopIfRunning(s, "DelayOpen"),
          start("ConnectRetry", s.config.connectRetryTime),
          { _tag: "InitiateTcpConnection" }
        ]
      ]
    }
    case "DelayOpenTimerExpires":
      return sendOpen(s)
    case "TcpConnectionValid":
      return stay(s)
    case "TcpCrInvalid":
      return stay(s, [{ _tag: "RejectTcpConnection" }])
    case "TcpCrAcked":
    case "TcpConnectionConfirmed":
      return tcpUp(s)
    case "TcpConnectionFails":
      if (s.name === "Connect" && !delaying) return toIdle(s, e, { counter: "keep" })
      if (s.name === "Active" || !delaying) return toIdle(s, e, { counter: "increment" })
      // Connect with the OPEN delayed: fall back to listening.
      return [
        { ...s, name: "Active" },
        [...stopIfRunning(s, "DelayOpen"), start("ConnectRetry", s.config.connectRetryTime)]
      ]
    case "BgpOpen":
      // Event 20 (OPEN while our OPEN is delayed); without the DelayOpenTimer it is event 19, "any other event".
      return delaying ? acceptOpen(s, e, true) : toIdle(s, e, { counter: "increment" })
    case "BgpHeaderErr":
    case "BgpOpenMsgErr":
      return toIdle(s, e, {
        notify: s.config.sendNotificationWithoutOpen ? e.notification : undefined,
        counter: "increment"
      })
    case "NotifMsgVerErr":
      return toIdle(s, e, { counter: delaying ? "keep" : "increment" })
    case "AutomaticStop":
      return automaticAllowed(s, e) ? toIdle(s, e, { counter: "increment" }) : ignoredByAttribute(s, e)
    case "HoldTimerExpires":
    case "KeepaliveTimerExpires":
    case "OpenCollisionDump":
    case "NotifMsg":
    case "KeepAliveMsg":
    case "UpdateMsg":
    case "UpdateMsgErr":
      return toIdle(s, e, { counter: "increment" })
  }
}

const openSent = (s: FsmState, e: FsmEvent): Result => {
  switch (e._tag) {
    case "ManualStart":
    case "AutomaticStart":
    case "ManualStartWithPassiveTcpEstablishment":
    case "AutomaticStartWithPassiveTcpEstablishment":
    case "TcpConnectionValid":
    case "TcpCrInvalid":
    case "TcpCrAcked":
    case "TcpConnectionConfirmed":
      // A second connection is the session layer's to track (RFC 4271 §6.8); this one is unaffected.
      return stay(s)
    case "ManualStop":
      return toIdle(s, e, { notify: ceaseFor(e, CeaseSubcode.AdministrativeShutdown), counter: "zero" })
    case "AutomaticStop":
      return automaticAllowed(s, e)
        ? toIdle(s, e, { notify: ceaseFor(e, 0), counter: "increment" })
        : ignoredByAttribute(s, e)
    case "HoldTimerExpires":
      return toIdle(s, e, { notify: notification(ErrorCode.HoldTimerExpired, 0), counter: "increment" })
    case "TcpConnectionFails":
      return [
        { ...s, name: "Active" },
        [
          ...stopIfRunning(s, "Hold", "Keepalive", "DelayOpen"),
          { _tag: "DropTcpConnection" },
          start("ConnectRetry", s.config.connectRetryTime)
        ]
      ]
    case "BgpOpen":
      return s.running.DelayOpen
        ? toIdle(s, e, { notify: fsmError(s, e), counter: "increment" }) // event 20 is unexpected here
        : acceptOpen(s, e, false)
    case "BgpHeaderErr":
    case "BgpOpenMsgErr":
      return toIdle(s, e, { notify: e.notification, counter: "increment" })
    case "OpenCollisionDump":
      return toIdle(s, e, {
        notify: notification(ErrorCode.Cease, CeaseSubcode.ConnectionCollisionResolution),
        counter: "increment"
      })
    case "NotifMsgVerErr":
      return toIdle(s, e, { counter: "keep" })
    case "ConnectRetryTimerExpires":
    case "KeepaliveTimerExpires":
    case "DelayOpenTimerExpires":
    case "NotifMsg":
    case "KeepAliveMsg":
    case "UpdateMsg":
    case "UpdateMsgErr":
      return toIdle(s, e, { notify: fsmError(s, e), counter: "increment" })
  }
}

const openConfirm = (s: FsmState, e: FsmEvent): Result => {
  switch (e._tag) {
    case "ManualStart":
    case "AutomaticStart":
    case "ManualStartWithPassiveTcpEstablishment":
    case "AutomaticStartWithPassiveTcpEstablishment":
    case "TcpConnectionValid":
    case "TcpCrInvalid":
    case "TcpCrAcked":
    case "TcpConnectionConfirmed":
      return stay(s)
    case "ManualStop":
      return toIdle(s, e, { notify: ceaseFor(e, CeaseSubcode.AdministrativeShutdown), counter: "zero" })
    case "AutomaticStop":
      return automaticAllowed(s, e)
        ? toIdle(s, e, { notify: ceaseFor(e, 0), counter: "increment" })
        : ignoredByAttribute(s, e)
    case "HoldTimerExpires":
      return toIdle(s, e, { notify: notification(ErrorCode.HoldTimerExpired, 0), counter: "increment" })
    case "KeepaliveTimerExpires":
      return periodicKeepalive(s)
    case "TcpConnectionFails":
    case "NotifMsg":
      return toIdle(s, e, { counter: "increment" })
    case "NotifMsgVerErr":
      return toIdle(s, e, { counter: "keep" })
    case "BgpHeaderErr":
    case "BgpOpenMsgErr":
      return toIdle(s, e, { notify: e.notification, counter: "increment" })
    case "OpenCollisionDump":
      return toIdle(s, e, {
        notify: notification(ErrorCode.Cease, CeaseSubcode.ConnectionCollisionResolution),
        counter: "increment"
      })
    case "KeepAliveMsg": {
      const peer = s.peer
      if (peer === undefined) return toIdle(s, e, { notify: fsmError(s, e), counter: "increment" })
      const established: FsmAction = {
        _tag: "SessionEstablished",
        peer,
        holdTime: s.holdTime,
        keepaliveTime: s.keepaliveTime,
        internal: peer.asn === s.config.localAsn
      }
      return [{ ...s, name: "Established" }, [...restartHold(s), established]]
    }
    // A second OPEN on this connection (a colliding OPEN on another connection arrives as OpenCollisionDump).
    case "BgpOpen":
    case "ConnectRetryTimerExpires":
    case "DelayOpenTimerExpires":
    case "UpdateMsg":
    case "UpdateMsgErr":
      return toIdle(s, e, { notify: fsmError(s, e), counter: "increment" })
  }
}

const established = (s: FsmState, e: FsmEvent): Result => {
  switch (e._tag) {
    case "ManualStart":
    case "AutomaticStart":
    case "ManualStartWithPassiveTcpEstablishment":
    case "AutomaticStartWithPassiveTcpEstablishment":
    case "TcpConnectionValid":
    case "TcpCrInvalid":
    case "TcpCrAcked":
    case "TcpConnectionConfirmed":
      return stay(s)
    case "ManualStop":
      return toIdle(s, e, { notify: ceaseFor(e, CeaseSubcode.AdministrativeShutdown), counter: "zero" })
    case "AutomaticStop":
      return automaticAllowed(s, e)
        ? toIdle(s, e, { notify: ceaseFor(e, 0), counter: "increment" })
        : ignoredByAttribute(s, e)
    case "HoldTimerExpires":
      return toIdle(s, e, { notify: notification(ErrorCode.HoldTimerExpired, 0), counter: "increment" })
    case "KeepaliveTimerExpires":
      return periodicKeepalive(s)
    case "OpenCollisionDump":
      return s.config.collisionDetectEstablishedState
        ? toIdle(s, e, {
          notify: notification(ErrorCode.Cease, CeaseSubcode.ConnectionCollisionResolution),
          counter: "increment"
        })
        : ignoredByAttribute(s, e)
    case "TcpConnectionFails":
    case "NotifMsgVerErr":
    case "NotifMsg":
      return toIdle(s, e, { counter: "increment" })
    case "KeepAliveMsg":
      return stay(s, restartHold(s))
    case "UpdateMsg":
      return stay(s, [{ _tag: "ProcessUpdate" }, ...restartHold(s)])
    case "UpdateMsgErr":
      return toIdle(s, e, { notify: e.notification, counter: "increment" })
    // RFC 4271 §6.1 makes the Message Header Error code a MUST, so a header error keeps its own NOTIFICATION.
    case "BgpHeaderErr":
      return toIdle(s, e, { notify: e.notification, counter: "increment" })
    // Any OPEN on an Established connection is unexpected (a colliding OPEN on another connection arrives as
    // OpenCollisionDump when CollisionDetectEstablishedState is set).
    case "BgpOpen":
    case "BgpOpenMsgErr":
    case "ConnectRetryTimerExpires":
    case "DelayOpenTimerExpires":
      return toIdle(s, e, { notify: fsmError(s, e), counter: "increment" })
  }
}

const ignoredByAttribute = (s: FsmState, e: FsmEvent): Result => {
  const reason = e._tag === "OpenCollisionDump"
    ? "OpenCollisionDump in Established needs CollisionDetectEstablishedState"
    : e._tag === "AutomaticStop"
    ? "AutomaticStop needs AllowAutomaticStop"
    : "AutomaticStart needs AllowAutomaticStart"
  return stay(s, [{ _tag: "LogFsmError", event: e._tag, reason }])
}

const transition = (s: FsmState, e: FsmEvent): Result => {
  if (isStart(e) && !automaticAllowed(s, e)) return s.name === "Idle" ? ignoredByAttribute(s, e) : stay(s)
  switch (s.name) {
    case "Idle":
      return idle(s, e)
    case "Connect":
    case "Active":
      return connectOrActive(s, e)
    case "OpenSent":
      return openSent(s, e)
    case "OpenConfirm":
      return openConfirm(s, e)
    case "Established":
      return established(s, e)
  }
}

const expiredTimer = (e: FsmEvent): TimerName | undefined => {
  switch (e._tag) {
    case "ConnectRetryTimerExpires":
      return "ConnectRetry"
    case "HoldTimerExpires":
      return "Hold"
    case "KeepaliveTimerExpires":
      return "Keepalive"
    case "DelayOpenTimerExpires":
      return "DelayOpen"
    default:
      return undefined
  }
}

/** The running-timer flags after a list of actions: the FSM's view always follows its own Start/Stop actions. */
export const runningAfter = (running: RunningTimers, actions: ReadonlyArray<FsmAction>): RunningTimers => {
  let next = running
  for (const a of actions) {
    if (a._tag === "StartTimer") next = { ...next, [a.timer]: true }
    else if (a._tag === "StopTimer") next = { ...next, [a.timer]: false }
  }
  return next
}

/**
 * One FSM step. A timer-expiry event first marks that timer as no longer running (it fired). The driver must feed
 * only expiries of timers that are still running: a timer stopped or restarted after it fired is stale
 * (`FsmTimers` takes care of that).
 */
export const step = (state: FsmState, event: FsmEvent): Result => {
  const fired = expiredTimer(event)
  const before = fired === undefined ? state : { ...state, running: { ...state.running, [fired]: false } }
  const [next, actions] = transition(before, event)
  return [{ ...next, running: runningAfter(before.running, actions) }, actions]
}

/** Applies a sequence of events, collecting every action in order. */
export const run = (state: FsmState, events: Iterable<FsmEvent>): Result => {
  let current = state
  const all: Array<FsmAction> = []
  for (const e of events) {
    const [next, actions] = step(current, e)
    current = next
    all.push(...actions)
  }
  return [current, all]
}
