/**
 * The pure core of layer 2 liveness (docs/design/l2-liveness.md §2–§3): what one speaker knows about the speakers
 * on one interface, from the heartbeats it received there (by local arrival time) and its own timer ticks.
 *
 * - A peer is **alive** while its last heartbeat is younger than `deadAfter` and it has not said `leaving`.
 * - A peer is a **candidate** once it has said `ready` continuously (no gap of `deadAfter`, same boot id) for
 *   `rejoinAfter`: a flapping node cannot bounce ownership at heartbeat rate, losing one is never delayed.
 * - **Self** is ready (and says so) when its link is up, its heartbeats go out, it has listened for `deadAfter`
 *   (it has learnt who is alive) and it is not isolated; it counts itself a candidate `rejoinAfter − interval` after
 *   that, one interval before its peers do, so a handover overlaps by at most an interval instead of leaving a gap
 *   — but not before the peers that became ready with it (within an interval) count, so nodes starting together
 *   never each count only themselves.
 * - **Isolation**: when the directory says peers heartbeat here but none was heard for `2 × deadAfter` while the
 *   link is up, self is isolated: not ready, and its heartbeats say so, so peers stop counting it at once.
 * - **Stale self**: a tick later than `deadAfter` after the previous one (a stalled event loop) starts listening
 *   afresh; until the next tick runs, a view taken after such a gap does not count self either.
 * - **Time away does not count**: when self's timers wake late (the process was not running), the time it was away
 *   is not counted toward its peers' silence ({@link awake}): their heartbeats of that time may still wait unread in
 *   the socket, and a stalled node must not find every peer dead and claim every IP.
 *
 * All times are milliseconds on the receiver's monotonic clock.
 *
 * @since 0.1.0
 */

export interface Timing {
  /** Heartbeat period. */
  readonly interval: number
  /** A peer not heard for this long is dead. */
  readonly deadAfter: number
  /** A (re)appearing node counts after being heard `ready` continuously for this long. */
  readonly rejoinAfter: number
}

export const defaultTiming: Timing = { interval: 200, deadAfter: 800, rejoinAfter: 2000 }
export const fastTiming: Timing = { interval: 50, deadAfter: 200, rejoinAfter: 500 }

/** Why a timing cannot work, or `undefined`. */
export const invalidTiming = (t: Timing): string | undefined =>
  !(t.interval > 0) ? `interval must be positive, got ${t.interval}`
  : !(t.deadAfter >= 2 * t.interval) ? `deadAfter (${t.deadAfter}) must be at least 2 × interval (${t.interval})`
  : !(t.rejoinAfter >= t.interval) ? `rejoinAfter (${t.rejoinAfter}) must be at least interval (${t.interval})`
  : undefined

export interface Peer {
  readonly bootId: string
  readonly sequence: number
  readonly lastHeard: number
  /** When its current unbroken run of `ready` heartbeats began. */
  readonly readySince: number | undefined
  readonly leaving: boolean
}

export interface SelfState {
  readonly linkUp: boolean
  readonly sendOk: boolean
  readonly listeningSince: number | undefined
  readonly readySince: number | undefined
  readonly lastTick: number | undefined
  /** When self's timers last ran ({@link awake}). */
  readonly lastAwake: number | undefined
  readonly isolated: boolean
}

export interface State {
  readonly timing: Timing
  readonly self: SelfState
  readonly peers: ReadonlyMap<string, Peer>
}

export interface HeardEvent {
  readonly node: string
  readonly bootId: string
  readonly sequence: number
  readonly leaving: boolean
  readonly ready: boolean
}

export interface TickInput {
  /** Carrier and IFF_UP of the interface. */
  readonly linkUp: boolean
  /** The previous heartbeat went out without error. */
  readonly sendOk: boolean
  /** Other speakers the directory says heartbeat on this interface. */
  readonly expected: ReadonlySet<string>
}

export interface View {
  /** Peers heard within `deadAfter` (self excluded). */
  readonly alive: ReadonlySet<string>
  /** Nodes that may own an IP on this interface now, self included when it counts. */
  readonly candidates: ReadonlySet<string>
  readonly selfCandidate: boolean
  readonly selfReady: boolean
  readonly isolated: boolean
  readonly linkUp: boolean
}

export const initial = (timing: Timing): State => ({
  timing,
  self: { linkUp: false, sendOk: true, listeningSince: undefined, readySince: undefined, lastTick: undefined, lastAwake: undefined, isolated: false },
  peers: new Map()
})

/** A heartbeat from another node arrived at `at`. Duplicates and replays (old sequence, same boot) change nothing. */
export const heard = (state: State, event: HeardEvent, at: number): State => {
  const before = state.peers.get(event.node)
  const sameRun = before !== undefined && before.bootId === event.bootId && !before.leaving &&
    at - before.lastHeard < state.timing.deadAfter
  // Same incarnation, not newer: a duplicate, a reordered or a replayed frame (also after `leaving`).
  if (before !== undefined && before.bootId === event.bootId && event.sequence <= before.sequence) {
    return state
  }
  const readySince = event.leaving || !event.ready
    ? undefined
    : sameRun && before.readySince !== undefined
    ? before.readySince
    : at
  const peers = new Map(state.peers)
  peers.set(event.node, { bootId: event.bootId, sequence: event.sequence, lastHeard: at, readySince, leaving: event.leaving })
  return { ...state, peers }
}

const heardWithin = (peer: Peer | undefined, now: number, window: number) =>
  peer !== undefined && !peer.leaving && now - peer.lastHeard < window

/**
 * Self's timers ran at `at` (call it first thing at every wake: ticks and waits for {@link nextChange}). They wake at
 * least every `interval`; a longer gap means the process was not running, and all but one interval of it is
 * credited to every peer's silence (never beyond `at`). A real death is then acted on at most the stall later.
 */
export const awake = (state: State, at: number): State => {
  const { interval } = state.timing
  const last = state.self.lastAwake
  if (last !== undefined && at <= last) return state
  let peers = state.peers
  if (last !== undefined && at - last > 1.5 * interval) {
    const away = at - last - interval
    peers = new Map([...state.peers].map(([node, peer]) => [node, { ...peer, lastHeard: Math.min(at, peer.lastHeard + away) }]))
  }
  return { ...state, peers, self: { ...state.self, lastAwake: at } }
}

/** Own timer tick at `at`: link and send state, isolation, readiness. Returns the state and whether to say `ready`. */
export const tick = (state: State, input: TickInput, at: number): State => {
  const { deadAfter, rejoinAfter } = state.timing
  const stalled = state.self.lastTick !== undefined && at - state.self.lastTick > deadAfter
  const linkUp = input.linkUp
  const listeningSince = !linkUp ? undefined : stalled || state.self.listeningSince === undefined ? at : state.self.listeningSince
  const isolated = linkUp && listeningSince !== undefined && input.expected.size > 0 &&
    at - listeningSince >= 2 * deadAfter &&
    ![...input.expected].some((node) => heardWithin(state.peers.get(node), at, 2 * deadAfter))
  const ready = linkUp && input.sendOk && !isolated && listeningSince !== undefined && at - listeningSince >= deadAfter
  const readySince = !ready ? undefined : stalled || state.self.readySince === undefined ? at : state.self.readySince
  // Forget peers long gone (bounded memory); a returning one starts a fresh run anyway.
  const forgetAfter = 2 * deadAfter + rejoinAfter
  let peers = state.peers
  for (const [node, peer] of state.peers) {
    if (at - peer.lastHeard > forgetAfter) {
      if (peers === state.peers) peers = new Map(state.peers)
      ;(peers as Map<string, Peer>).delete(node)
    }
  }
  return {
    ...state,
    peers,
    self: { ...state.self, linkUp, sendOk: input.sendOk, listeningSince, readySince, lastTick: at, isolated }
  }
}

/** Whether self says `ready` in the heartbeat sent after this tick. */
export const selfReady = (state: State): boolean => state.self.readySince !== undefined

const selfCandidateThreshold = (t: Timing) => Math.max(0, t.rejoinAfter - t.interval)

/** What the state means at `now`, for the node named `self`. */
export const view = (state: State, self: string, now: number): View => {
  const { deadAfter, rejoinAfter } = state.timing
  const alive = new Set<string>()
  const candidates = new Set<string>()
  for (const [node, peer] of state.peers) {
    if (node === self || !heardWithin(peer, now, deadAfter)) continue
    alive.add(node)
    if (peer.readySince !== undefined && now - peer.readySince >= rejoinAfter) candidates.add(node)
  }
  const s = state.self
  const fresh = s.lastTick !== undefined && now - s.lastTick <= deadAfter
  // Counting self one interval early makes a returning node overlap the old owner. Nodes that became ready together
  // (a bootstrap, a rollout) would each count only themselves for that interval and all claim every IP: so self
  // also waits for the peers it hears that became ready no later than an interval after it.
  const readySince = s.readySince
  const peersFirst = readySince !== undefined && [...state.peers].some(([node, peer]) =>
    node !== self && heardWithin(peer, now, deadAfter) && peer.readySince !== undefined &&
    peer.readySince <= readySince + state.timing.interval && now - peer.readySince < rejoinAfter
  )
  const selfCandidate = fresh && readySince !== undefined && now - readySince >= selfCandidateThreshold(state.timing) && !peersFirst
  if (selfCandidate) candidates.add(self)
  return { alive, candidates, selfCandidate, selfReady: s.readySince !== undefined, isolated: s.isolated, linkUp: s.linkUp }
}

/**
 * The earliest time after `now` at which {@link view} can change without a new heartbeat or tick (a peer dying, a
 * run reaching `rejoinAfter`, self going stale), or `undefined` when nothing is pending. The service sleeps until
 * then, so a death is acted on when it happens, not at the next tick.
 */
export const nextChange = (state: State, now: number): number | undefined => {
  const { deadAfter, rejoinAfter } = state.timing
  let next = Infinity
  const consider = (t: number) => {
    if (t > now && t < next) next = t
  }
  for (const peer of state.peers.values()) {
    if (peer.leaving) continue
    consider(peer.lastHeard + deadAfter)
    if (peer.readySince !== undefined) consider(peer.readySince + rejoinAfter)
  }
  if (state.self.readySince !== undefined) consider(state.self.readySince + selfCandidateThreshold(state.timing))
  if (state.self.lastTick !== undefined) consider(state.self.lastTick + deadAfter + 1)
  return next === Infinity ? undefined : next
}

export const sameView = (a: View, b: View): boolean =>
  a.selfCandidate === b.selfCandidate && a.selfReady === b.selfReady && a.isolated === b.isolated &&
  a.linkUp === b.linkUp && sameSet(a.alive, b.alive) && sameSet(a.candidates, b.candidates)

const sameSet = (a: ReadonlySet<string>, b: ReadonlySet<string>) => a.size === b.size && [...a].every((x) => b.has(x))
