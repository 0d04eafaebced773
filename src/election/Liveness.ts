/**
 * Layer 2 liveness as a service (docs/design/l2-liveness.md): on each announcing interface it sends a heartbeat
 * every `interval` (Heartbeat.ts), receives its peers' heartbeats through a PacketSocket joined to the heartbeat
 * multicast MAC, watches the link (carrier and operstate polled every interval; a send failing with ENETDOWN counts
 * as link down at once) and keeps the per-interface view of LivenessView.ts, published as a SubscriptionRef.
 *
 * Time is Effect's Clock (monotonic), so the whole service runs on TestClock with in-memory sockets. Between ticks
 * it sleeps until the next moment the view can change by itself (a peer reaching `deadAfter`), so a death is acted
 * on when it happens rather than at the next tick.
 *
 * `leave` (also run when the scope closes) stops counting self and sends three `leaving` heartbeats 10 ms apart, so
 * peers take over at once.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import { Clock, Context, Duration, Effect, Layer, Result, Schedule, Schema, type Scope, Stream, SubscriptionRef } from "effect"
import * as PacketSocket from "../layer2/PacketSocket.ts"
import * as Heartbeat from "./Heartbeat.ts"
import * as LV from "./LivenessView.ts"
import { expectedOn, SpeakerDirectory } from "./SpeakerDirectory.ts"

export class LivenessError extends Schema.TaggedError<LivenessError>()("LivenessError", {
  field: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `liveness: ${this.field}: ${this.reason}`
  }
}

export interface LivenessOptions {
  /** This node's name (Kubernetes node name). */
  readonly node: string
  /** Announcing interfaces to heartbeat on. */
  readonly interfaces: ReadonlyArray<string>
  readonly timing?: LV.Timing
  /**
   * Shared heartbeat key (the memberlist Secret): sign outgoing frames and accept only signed incoming ones. A
   * function is read at every frame, so a rotated Secret applies without a restart.
   */
  readonly key?: Uint8Array | (() => Uint8Array | undefined)
  /** Link state of an interface (default: /sys/class/net carrier and operstate). */
  readonly linkUp?: (iface: string) => boolean
}

export interface LivenessSnapshot {
  /** Per interface, what this node sees there. */
  readonly interfaces: ReadonlyMap<string, LV.View>
  /** Set once `leave` ran: self counts nowhere. */
  readonly leaving: boolean
}

export interface LivenessStats {
  readonly sent: number
  readonly sendErrors: number
  readonly received: number
  /** Frames dropped because they lacked the right HMAC. */
  readonly unauthenticated: number
}

export class Liveness extends Context.Service<Liveness, {
  readonly view: SubscriptionRef.SubscriptionRef<LivenessSnapshot>
  readonly changes: Stream.Stream<LivenessSnapshot>
  /** Stops counting self and tells the peers (three `leaving` frames, 10 ms apart). Idempotent. */
  readonly leave: Effect.Effect<void>
  readonly stats: Effect.Effect<LivenessStats>
}>()("metallb/election/Liveness") {
  static readonly layer = (
    options: LivenessOptions
  ): Layer.Layer<Liveness, LivenessError | PacketSocket.PacketSocketError, PacketSocket.PacketSockets | SpeakerDirectory> =>
    Layer.effect(Liveness, make(options))
}

/** The election input: per interface, the nodes that may own IPs there now. */
export const candidates = (snapshot: LivenessSnapshot): ReadonlyMap<string, ReadonlySet<string>> =>
  new Map([...snapshot.interfaces].map(([iface, v]) => [iface, v.candidates]))

/** Carrier present and operstate up (or unknown, as on some virtual links); false when the files cannot be read. */
export const sysfsLinkUp = (iface: string): boolean => {
  try {
    const carrier = readFileSync(`/sys/class/net/${iface}/carrier`, "utf8").trim()
    const operstate = readFileSync(`/sys/class/net/${iface}/operstate`, "utf8").trim()
    return carrier === "1" && (operstate === "up" || operstate === "unknown")
  } catch {
    // `carrier` reads EINVAL while the interface is administratively down; a vanished interface is down too.
    return false
  }
}

interface Running {
  readonly iface: string
  readonly socket: PacketSocket.PacketSocket<Heartbeat.ReceivedHeartbeat>
  state: LV.State
  sendOk: boolean
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")

const same = (a: LivenessSnapshot, b: LivenessSnapshot) =>
  a.leaving === b.leaving && [...a.interfaces].every(([i, v]) => {
    const w = b.interfaces.get(i)
    return w !== undefined && LV.sameView(v, w)
  })

const make = (options: LivenessOptions): Effect.Effect<Liveness["Service"], LivenessError | PacketSocket.PacketSocketError, PacketSocket.PacketSockets | SpeakerDirectory | Scope.Scope> =>
  Effect.gen(function*() {
    const timing = options.timing ?? LV.defaultTiming
    const badTiming = LV.invalidTiming(timing)
    if (badTiming !== undefined) return yield* new LivenessError({ field: "timing", reason: badTiming })
    const badName = Heartbeat.invalidNodeName(options.node)
    if (badName !== undefined) return yield* new LivenessError({ field: "node", reason: badName })
    if (options.interfaces.length === 0) return yield* new LivenessError({ field: "interfaces", reason: "no interface to heartbeat on" })

    const sockets = yield* PacketSocket.PacketSockets
    const directory = yield* SpeakerDirectory
    const clock = yield* Clock.Clock
    const nowMs = () => Number(clock.monotonicTimeNanosUnsafe() / 1_000_000n)
    const linkUp = options.linkUp ?? sysfsLinkUp
    const keyOption = options.key
    const key = typeof keyOption === "function" ? keyOption : () => keyOption
    const bootId = randomBytes(Heartbeat.BOOT_ID_LENGTH)
    const counters = { sent: 0, sendErrors: 0, received: 0, unauthenticated: 0 }
    let sequence = 0
    let leaving = false

    const running: Array<Running> = []
    for (const iface of options.interfaces) {
      const socket = yield* sockets.open({ interface: iface, ethertype: Heartbeat.ETHERTYPE, decode: Heartbeat.decodeFrame })
      yield* socket.join(Heartbeat.MULTICAST_MAC)
      running.push({ iface, socket, state: LV.initial(timing), sendOk: true })
    }

    const snapshotAt = (now: number): LivenessSnapshot => ({
      leaving,
      interfaces: new Map(running.map((r) => {
        const v = LV.view(r.state, options.node, now)
        if (!leaving || !v.selfCandidate) return [r.iface, v]
        const candidates = new Set(v.candidates)
        candidates.delete(options.node)
        return [r.iface, { ...v, selfCandidate: false, selfReady: false, candidates }]
      }))
    })
    const view = yield* SubscriptionRef.make(snapshotAt(nowMs()))
    const publish = Effect.suspend(() => {
      const next = snapshotAt(nowMs())
      return same(next, SubscriptionRef.getUnsafe(view)) ? Effect.void : SubscriptionRef.set(view, next)
    })

    const frame = (r: Running, leavingFrame: boolean) =>
      Heartbeat.encodeFrame(
        { node: options.node, bootId, sequence: ++sequence >>> 0, leaving: leavingFrame, ready: !leavingFrame && LV.selfReady(r.state) },
        r.socket.interface.mac,
        key()
      )

    const send = (r: Running, leavingFrame: boolean): boolean => {
      const result = r.socket.sendNow(frame(r, leavingFrame))
      if (Result.isSuccess(result)) {
        counters.sent++
        return true
      }
      counters.sendErrors++
      return false
    }

    const tickOne = (r: Running, expected: ReadonlySet<string>) => {
      const up = linkUp(r.iface)
      r.state = LV.tick(r.state, { linkUp: up, sendOk: r.sendOk, expected }, nowMs())
      if (leaving) return
      const result = r.socket.sendNow(frame(r, false))
      if (Result.isSuccess(result)) {
        counters.sent++
        r.sendOk = true
      } else {
        counters.sendErrors++
        r.sendOk = false
        // The kernel says the link is down: do not wait for the next poll.
        r.state = LV.tick(r.state, { linkUp: up && result.failure.code !== "ENETDOWN", sendOk: false, expected }, nowMs())
      }
    }

    // Every timer wake first tells the view that self ran now (time away does not count toward peers' silence).
    const wake = () => {
      const now = nowMs()
      for (const r of running) r.state = LV.awake(r.state, now)
    }

    const tickAll = Effect.gen(function*() {
      wake()
      const dir = yield* directory.snapshot
      for (const r of running) tickOne(r, expectedOn(dir, options.node, r.iface))
      yield* publish
    })

    const receiveOn = (r: Running) =>
      Stream.runForEach(r.socket.frames, ({ value }) =>
        Effect.suspend(() => {
          counters.received++
          if (value.node === options.node) return Effect.void
          if (!Heartbeat.authentic(value, key())) {
            counters.unauthenticated++
            return Effect.void
          }
          r.state = LV.heard(r.state, {
            node: value.node,
            bootId: hex(value.bootId),
            sequence: value.sequence,
            leaving: value.leaving,
            ready: value.ready
          }, nowMs())
          return publish
        }))

    // Wakes when the view can change by itself (a peer reaching deadAfter), at least every interval.
    const watch = Effect.gen(function*() {
      wake()
      yield* publish
      const now = nowMs()
      let next = now + timing.interval
      for (const r of running) {
        const t = LV.nextChange(r.state, now)
        if (t !== undefined && t < next) next = t
      }
      yield* Effect.sleep(Duration.millis(Math.max(1, next - now)))
    }).pipe(Effect.forever)

    const leave = Effect.gen(function*() {
      if (leaving) return
      leaving = true
      yield* publish
      for (let i = 0; i < 3; i++) {
        if (i > 0) yield* Effect.sleep(Duration.millis(10))
        for (const r of running) send(r, true)
      }
    })

    for (const r of running) {
      yield* Effect.forkScoped(receiveOn(r).pipe(
        Effect.catch((e) => Effect.logError("heartbeat receive stopped").pipe(Effect.annotateLogs({ interface: r.iface, error: e.message })))
      ))
    }
    yield* Effect.forkScoped(tickAll.pipe(Effect.repeat(Schedule.fixed(Duration.millis(timing.interval)))))
    yield* Effect.forkScoped(watch)
    yield* Effect.addFinalizer(() => leave)

    return Liveness.of({
      view,
      changes: SubscriptionRef.changes(view),
      leave,
      stats: Effect.sync(() => ({ ...counters }))
    })
  })
