/**
 * BFD (RFC 5880/5881): single-hop asynchronous mode over UDP 3784, with a BFDProfile's intervals, multiplier and
 * passive mode (no echo, no authentication). A BGP session with a BFD profile opens one BFD session towards its peer
 * and drops at once when it goes down, instead of waiting for the hold timer.
 *
 * Timers run on Effect's Clock (tests drive them with TestClock); the pure state machine is `BfdFsm`.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Option, PubSub, Queue, Random, Result, Schema, Scope, Stream, SubscriptionRef } from "effect"
import * as Dgram from "node:dgram"
import * as Metrics from "../observability/Metrics.ts"
import * as BfdFsm from "./BfdFsm.ts"
import * as BfdPacket from "./BfdPacket.ts"

/** A BFD socket could not be opened or bound (`peer` is the address, `*` for the listener). */
export class BfdError extends Schema.TaggedError<BfdError>()("BfdError", {
  peer: Schema.String,
  message: Schema.String
}) {}

export interface BfdPeer {
  /** Peer address (IPv4 or IPv6 literal). */
  readonly address: string
  /** Local address to send from (the BGP session's local address). */
  readonly localAddress?: string
  readonly config: BfdFsm.BfdConfig
}

export type BfdEvent =
  | { readonly _tag: "Up"; readonly peer: string }
  | { readonly _tag: "Down"; readonly peer: string; readonly diag: number }

export interface BfdSessionHandle {
  readonly peer: string
  readonly state: SubscriptionRef.SubscriptionRef<BfdPacket.BfdState>
  readonly events: Stream.Stream<BfdEvent>
}

/** How a session reaches its peer: UDP in production, an in-memory pipe in tests. */
export interface BfdTransport {
  readonly send: (bytes: Uint8Array) => Effect.Effect<void>
}

const toMillis = (micros: number) => Math.max(1, Math.round(micros / 1000))

/**
 * Runs one BFD session until interrupted: sends on the jittered interval, processes received packets from `inbox`,
 * and declares the session down when the detection time passes. Publishes Up/Down events and MetalLB's
 * `metallb_bfd_*` metrics (labels `peer`, `vrf`), whose series are removed when the session ends. On interruption it
 * sends AdminDown so the peer stops at once rather than waiting for its detection time.
 */
export const runSession = (
  peer: string,
  config: BfdFsm.BfdConfig,
  localDiscr: number,
  transport: BfdTransport,
  inbox: Queue.Dequeue<BfdPacket.BfdControlPacket>,
  state: SubscriptionRef.SubscriptionRef<BfdPacket.BfdState>,
  events: PubSub.PubSub<BfdEvent>
): Effect.Effect<never> =>
  Effect.gen(function*() {
    let session = BfdFsm.make(config, localDiscr)
    let nextTx = yield* Clock.currentTimeMillis
    let detectAt: number | undefined
    const labels = { peer, vrf: "default" }
    const send = (final: boolean) =>
      Effect.andThen(
        transport.send(BfdPacket.encode(BfdFsm.packet(session, { final }))),
        Metrics.update(Metrics.bfdControlPacketOutput, labels, 1)
      )
    const apply = Effect.fnUntraced(function*(r: BfdFsm.StepResult) {
      const before = BfdFsm.transmitInterval(session)
      session = r.session
      yield* SubscriptionRef.set(state, session.state)
      if (r.sendNow !== "none" && !(config.passive && session.remoteDiscr === 0)) yield* send(r.sendNow === "final")
      // A faster rate (we came Up, or the peer asks for more) applies at once: the peer's detection time shrinks with
      // the interval we advertise, so the next periodic packet must not wait for the slow schedule (§6.8.3: a
      // decrease takes effect immediately). Otherwise the peer declares us down right after the session comes Up
      // (FRR and BIRD both shorten their detection time as soon as they read our new DesiredMinTx).
      const after = BfdFsm.transmitInterval(session)
      if (after !== undefined && (before === undefined || after < before)) {
        const now = yield* Clock.currentTimeMillis
        const random = yield* Random.next
        nextTx = Math.min(nextTx, now + toMillis(BfdFsm.jittered(after, config.detectMult, random)))
      }
      if (r.wentUp) {
        yield* Metrics.update(Metrics.bfdSessionUp, labels, 1)
        yield* Metrics.update(Metrics.bfdSessionUpEvents, labels, 1)
        yield* PubSub.publish(events, { _tag: "Up", peer })
      }
      if (r.wentDown) {
        yield* Metrics.update(Metrics.bfdSessionUp, labels, 0)
        yield* Metrics.update(Metrics.bfdSessionDownEvents, labels, 1)
        yield* PubSub.publish(events, { _tag: "Down", peer, diag: session.localDiag })
      }
    })
    // Every series starts at 0, so a session that never comes up shows as down (and its counters as 0).
    const counters = [Metrics.bfdControlPacketInput, Metrics.bfdControlPacketOutput, Metrics.bfdSessionUpEvents, Metrics.bfdSessionDownEvents]
    for (const counter of counters) yield* Metrics.update(counter, labels, 0)
    yield* Metrics.update(Metrics.bfdSessionUp, labels, 0)
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        const r = BfdFsm.adminDown(session)
        session = r.session
        yield* send(false)
        yield* Metrics.remove(Metrics.bfdSessionUp, labels)
        for (const counter of counters) yield* Metrics.remove(counter, labels)
      }))
    while (true) {
      const now = yield* Clock.currentTimeMillis
      const interval = BfdFsm.transmitInterval(session)
      const deadlines = [interval === undefined ? Infinity : nextTx, detectAt ?? Infinity]
      const wait = Math.max(0, Math.min(...deadlines) - now)
      const received = yield* (wait === Infinity
        ? Queue.take(inbox).pipe(Effect.map(Option.some))
        : Queue.take(inbox).pipe(Effect.timeoutOption(wait)))
      const at = yield* Clock.currentTimeMillis
      if (Option.isSome(received)) {
        yield* Metrics.update(Metrics.bfdControlPacketInput, labels, 1)
        const r = BfdFsm.receive(session, received.value)
        if (!r.discarded) {
          yield* apply(r)
          const detection = BfdFsm.detectionTime(session)
          detectAt = detection === undefined ? undefined : at + toMillis(detection)
        }
        continue
      }
      if (detectAt !== undefined && at >= detectAt) {
        detectAt = undefined
        yield* apply(BfdFsm.detectionTimeExpired(session))
      }
      const txInterval = BfdFsm.transmitInterval(session)
      if (txInterval !== undefined && at >= nextTx) {
        yield* send(false)
        const random = yield* Random.next
        nextTx = at + toMillis(BfdFsm.jittered(txInterval, config.detectMult, random))
      }
    }
  }).pipe(Effect.scoped) as Effect.Effect<never>

/** A nonzero random 32-bit discriminator. */
const newDiscriminator = Random.nextIntBetween(1, 0xffffffff)

interface Registered {
  readonly peer: string
  readonly localDiscr: number
  readonly inbox: Queue.Queue<BfdPacket.BfdControlPacket>
}

/** RFC 5881 §4: source port in 49152–65535, TTL 255. */
const openSender = (peer: BfdPeer): Effect.Effect<Dgram.Socket, BfdError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<Dgram.Socket, BfdError>((resume) => {
      const family = peer.address.includes(":") ? "udp6" : "udp4"
      const socket = Dgram.createSocket({ type: family })
      let attempts = 0
      const tryBind = () => {
        attempts++
        const port = 49152 + Math.floor(Math.random() * 16384)
        socket.bind({ port, ...(peer.localAddress === undefined ? {} : { address: peer.localAddress }) })
      }
      socket.on("error", (e) => {
        if (attempts < 20 && (e as NodeJS.ErrnoException).code === "EADDRINUSE") return tryBind()
        socket.close()
        resume(Effect.fail(new BfdError({ peer: peer.address, message: `cannot open BFD socket: ${e.message}` })))
      })
      socket.on("listening", () => {
        socket.removeAllListeners("error")
        socket.on("error", () => undefined)
        socket.setTTL(255)
        resume(Effect.succeed(socket))
      })
      tryBind()
    }),
    (socket) => Effect.sync(() => socket.close())
  )

/** BFD (RFC 5880/5881) sessions over UDP: `open(peer)` for the life of a scope, with state changes as events. */
export class Bfd extends Context.Service<Bfd, {
  /** Opens a BFD session towards `peer` for the lifetime of the scope. */
  readonly open: (peer: BfdPeer) => Effect.Effect<BfdSessionHandle, BfdError, Scope.Scope>
}>()("metallb/bgp/Bfd") {
  /** Listens on UDP 3784 (IPv4 and IPv6) on `listenAddresses` (default: all). */
  static readonly layer = (options: { readonly port?: number; readonly listenAddresses?: ReadonlyArray<string> } = {}) =>
    Layer.effect(Bfd, make(options))
}

const make = Effect.fnUntraced(function*(options: { readonly port?: number; readonly listenAddresses?: ReadonlyArray<string> }) {
  const port = options.port ?? 3784
  const byDiscr = new Map<number, Registered>()
  const byPeer = new Map<string, Registered>()
  const onMessage = (bytes: Buffer, from: Dgram.RemoteInfo) => {
    const decoded = BfdPacket.decode(bytes)
    if (Result.isFailure(decoded)) return
    const p = decoded.success
    const target = p.yourDiscriminator !== 0 ? byDiscr.get(p.yourDiscriminator) : byPeer.get(from.address)
    if (target !== undefined) Queue.offerUnsafe(target.inbox, p)
  }
  const listen = (type: "udp4" | "udp6", address: string | undefined) =>
    Effect.acquireRelease(
      Effect.callback<Dgram.Socket, BfdError>((resume) => {
        const socket = Dgram.createSocket({ type, reuseAddr: true, ...(type === "udp6" ? { ipv6Only: true } : {}) })
        socket.once("error", (e) =>
          resume(Effect.fail(new BfdError({ peer: address ?? "*", message: `cannot listen on UDP ${port}: ${e.message}` }))))
        socket.on("message", onMessage)
        socket.bind({ port, ...(address === undefined ? {} : { address }) }, () => {
          socket.removeAllListeners("error")
          socket.on("error", () => undefined)
          resume(Effect.succeed(socket))
        })
      }),
      (socket) => Effect.sync(() => socket.close())
    )
  const addresses = options.listenAddresses
  if (addresses === undefined) {
    yield* listen("udp4", undefined)
    // IPv6 may be disabled on the host; BFD over IPv4 must still work.
    yield* listen("udp6", undefined).pipe(Effect.catch(() => Effect.void))
  } else {
    for (const address of addresses) yield* listen(address.includes(":") ? "udp6" : "udp4", address)
  }

  const open = Effect.fnUntraced(function*(peer: BfdPeer) {
    if (byPeer.has(peer.address)) {
      return yield* new BfdError({ peer: peer.address, message: "a BFD session to this peer is already open" })
    }
    const socket = yield* openSender(peer)
    const localDiscr = yield* newDiscriminator
    const inbox = yield* Queue.unbounded<BfdPacket.BfdControlPacket>()
    const registered: Registered = { peer: peer.address, localDiscr, inbox }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        byDiscr.set(localDiscr, registered)
        byPeer.set(peer.address, registered)
      }),
      () =>
        Effect.sync(() => {
          byDiscr.delete(localDiscr)
          byPeer.delete(peer.address)
        })
    )
    const state = yield* SubscriptionRef.make<BfdPacket.BfdState>("Down")
    const events = yield* Effect.acquireRelease(PubSub.unbounded<BfdEvent>(), PubSub.shutdown)
    const transport: BfdTransport = {
      send: (bytes) =>
        Effect.callback<void>((resume) => {
          socket.send(bytes, port, peer.address, () => resume(Effect.void))
        })
    }
    yield* Effect.forkScoped(runSession(peer.address, peer.config, localDiscr, transport, inbox, state, events))
    return { peer: peer.address, state, events: Stream.fromPubSub(events) }
  })

  return Bfd.of({ open })
})
