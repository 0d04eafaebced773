/**
 * fast-check arbitraries for the BGP FSM, public so that code built on `Fsm.step` (a session layer, a simulator, a
 * monitoring exporter) can be property-tested against realistic inputs.
 *
 * - `arbFsmConfig`: configurations across the optional attributes (DelayOpen, passive, SendNOTIFICATIONwithoutOPEN, ...).
 * - `arbFsmEvent(config)`: any event, with OPENs biased towards ones the configuration accepts.
 * - `arbFsmTrace(config)`: event sequences that often walk the happy path to Established, mixed with random events.
 * - `arbReachableState(config)`: a state reached from `initial(config)` by such a trace.
 * - `arbFsmState`: a reachable state under a random configuration.
 * - `arbAnyState`: structurally valid but possibly unreachable states (for totality checks).
 */
import * as fc from "fast-check"
import {
  type FsmConfig,
  type FsmEvent,
  type FsmState,
  initial,
  makeConfig,
  type Notification,
  notification,
  type PeerOpen,
  type PeerAsn,
  run,
  stateNames
} from "./Fsm.ts"

const uint32 = fc.integer({ min: 0, max: 0xffff_ffff })
const asn = fc.oneof(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 0xffff_ffff }))
/** Hold times a speaker may configure: 0 or 3..65535, with the usual values frequent. */
const holdTime = fc.oneof(
  fc.constantFrom(0, 3, 9, 90, 180),
  fc.integer({ min: 3, max: 65535 })
)

export const arbFsmConfig: fc.Arbitrary<FsmConfig> = fc
  .record({
    localAsn: asn,
    localBgpId: uint32.filter((id) => id !== 0),
    peerKind: fc.constantFrom("same", "other", "internal", "external"),
    otherAsn: asn,
    holdTime,
    keepaliveTime: fc.option(fc.integer({ min: 1, max: 120 }), { nil: undefined }),
    connectRetryTime: fc.integer({ min: 1, max: 300 }),
    largeHoldTime: fc.constantFrom(240, 120, 480),
    delayOpen: fc.boolean(),
    delayOpenTime: fc.integer({ min: 1, max: 60 }),
    sendNotificationWithoutOpen: fc.boolean(),
    collisionDetectEstablishedState: fc.boolean(),
    allowAutomaticStart: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    allowAutomaticStop: fc.boolean()
  })
  .map(({ otherAsn, peerKind, ...rest }) => {
    const peerAsn: PeerAsn = peerKind === "same"
      ? rest.localAsn
      : peerKind === "other"
      ? (otherAsn === rest.localAsn ? otherAsn + 1 : otherAsn)
      : peerKind
    return makeConfig({ ...rest, peerAsn })
  })

/** An AS the configuration accepts from the peer. */
const acceptedAsn = (config: FsmConfig): fc.Arbitrary<number> => {
  const p = config.peerAsn
  if (p === "internal") return fc.constant(config.localAsn)
  if (p === "external") return asn.filter((a) => a !== config.localAsn)
  return fc.constant(p)
}

/** The facts of an OPEN the configuration accepts (hold 0 or >= 3, right AS, usable BGP Identifier). */
export const arbAcceptableOpen = (config: FsmConfig): fc.Arbitrary<PeerOpen> =>
  fc.record({
    holdTime,
    asn: acceptedAsn(config),
    bgpId: uint32.filter((id) => id !== 0 && id !== config.localBgpId),
    capabilities: fc.uniqueArray(fc.constantFrom(1, 2, 64, 65, 69, 70), { maxLength: 4 })
  })

/** Any OPEN facts, acceptable most of the time, otherwise with a bad hold time, AS or BGP Identifier. */
export const arbPeerOpen = (config: FsmConfig): fc.Arbitrary<PeerOpen> =>
  fc.oneof(
    { weight: 4, arbitrary: arbAcceptableOpen(config) },
    {
      weight: 1,
      arbitrary: fc.record({
        holdTime: fc.oneof(fc.constantFrom(0, 1, 2, 3), fc.integer({ min: 0, max: 65535 })),
        asn: fc.oneof(asn, fc.constant(config.localAsn)),
        bgpId: fc.oneof(fc.constantFrom(0, config.localBgpId), uint32),
        capabilities: fc.constant([])
      })
    }
  )

export const arbNotification: fc.Arbitrary<Notification> = fc.record({
  code: fc.integer({ min: 1, max: 6 }),
  subcode: fc.integer({ min: 0, max: 11 }),
  data: fc.uint8Array({ maxLength: 8 })
})

const carrying = (code: number): fc.Arbitrary<Notification> =>
  fc.record({ subcode: fc.integer({ min: 0, max: 11 }), data: fc.uint8Array({ maxLength: 4 }) }).map((n) =>
    notification(code, n.subcode, n.data)
  )

/** Every event of the FSM; `config` biases the OPENs towards ones it accepts. */
export const arbFsmEvent = (config: FsmConfig): fc.Arbitrary<FsmEvent> =>
  fc.oneof(
    fc.constantFrom<FsmEvent>(
      { _tag: "ManualStart" },
      { _tag: "AutomaticStart" },
      { _tag: "ManualStartWithPassiveTcpEstablishment" },
      { _tag: "AutomaticStartWithPassiveTcpEstablishment" },
      { _tag: "ConnectRetryTimerExpires" },
      { _tag: "HoldTimerExpires" },
      { _tag: "KeepaliveTimerExpires" },
      { _tag: "DelayOpenTimerExpires" },
      { _tag: "TcpConnectionValid" },
      { _tag: "TcpCrInvalid" },
      { _tag: "TcpCrAcked" },
      { _tag: "TcpConnectionConfirmed" },
      { _tag: "TcpConnectionFails" },
      { _tag: "OpenCollisionDump" },
      { _tag: "KeepAliveMsg" },
      { _tag: "UpdateMsg" }
    ),
    fc.record({ subcode: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }) }).map(({ subcode }) =>
      subcode === undefined ? { _tag: "ManualStop" as const } : { _tag: "ManualStop" as const, subcode }
    ),
    fc.record({ subcode: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }) }).map(({ subcode }) =>
      subcode === undefined ? { _tag: "AutomaticStop" as const } : { _tag: "AutomaticStop" as const, subcode }
    ),
    arbPeerOpen(config).map((open): FsmEvent => ({ _tag: "BgpOpen", ...open })),
    carrying(1).map((n): FsmEvent => ({ _tag: "BgpHeaderErr", notification: n })),
    carrying(2).map((n): FsmEvent => ({ _tag: "BgpOpenMsgErr", notification: n })),
    carrying(3).map((n): FsmEvent => ({ _tag: "UpdateMsgErr", notification: n })),
    fc.constant<FsmEvent>({ _tag: "NotifMsgVerErr", notification: notification(2, 1) }),
    arbNotification
      .filter((n) => !(n.code === 2 && n.subcode === 1))
      .map((n): FsmEvent => ({ _tag: "NotifMsg", notification: n }))
  )

/** The event that moves a state one step towards Established (or keeps it there). */
const happyEvent = (state: FsmState, open: PeerOpen, passive: boolean): FsmEvent => {
  switch (state.name) {
    case "Idle":
      return passive ? { _tag: "ManualStartWithPassiveTcpEstablishment" } : { _tag: "ManualStart" }
    case "Connect":
    case "Active":
      if (state.running.DelayOpen) return { _tag: "BgpOpen", ...open }
      return state.name === "Connect" ? { _tag: "TcpCrAcked" } : { _tag: "TcpConnectionConfirmed" }
    case "OpenSent":
      return { _tag: "BgpOpen", ...open }
    case "OpenConfirm":
    case "Established":
      return { _tag: "KeepAliveMsg" }
  }
}

/**
 * Event sequences from `initial(config)`: each element is either the next happy-path event for the state reached so
 * far or a random event, so traces reach OpenConfirm and Established often and still hit every error path.
 */
export const arbFsmTrace = (config: FsmConfig, maxLength = 40): fc.Arbitrary<ReadonlyArray<FsmEvent>> =>
  fc
    .record({
      passive: fc.boolean(),
      open: arbAcceptableOpen(config),
      moves: fc.array(
        fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: arbFsmEvent(config) }),
        { maxLength }
      )
    })
    .map(({ moves, open, passive }) => {
      let state = initial(config)
      const events: Array<FsmEvent> = []
      for (const move of moves) {
        const event = move ?? happyEvent(state, open, passive)
        events.push(event)
        state = run(state, [event])[0]
      }
      return events
    })

/** A state reachable from `initial(config)`. */
export const arbReachableState = (config: FsmConfig): fc.Arbitrary<FsmState> =>
  arbFsmTrace(config).map((events) => run(initial(config), events)[0])

/** A configuration and a state reachable under it. */
export const arbFsmState: fc.Arbitrary<FsmState> = arbFsmConfig.chain(arbReachableState)

/** Structurally valid states in any combination of fields, reachable or not: for totality and robustness tests. */
export const arbAnyState: fc.Arbitrary<FsmState> = fc
  .record({
    config: arbFsmConfig,
    name: fc.constantFrom(...stateNames),
    connectRetryCounter: fc.nat({ max: 1000 }),
    passiveTcpEstablishment: fc.boolean(),
    running: fc.record({
      ConnectRetry: fc.boolean(),
      Hold: fc.boolean(),
      Keepalive: fc.boolean(),
      DelayOpen: fc.boolean()
    }),
    holdTime: holdTime,
    keepaliveTime: fc.nat({ max: 21845 }),
    peer: fc.option(
      fc.record({
        holdTime,
        asn,
        bgpId: uint32,
        capabilities: fc.constant<ReadonlyArray<number>>([])
      }),
      { nil: undefined }
    )
  })
