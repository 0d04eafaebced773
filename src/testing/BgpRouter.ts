/**
 * A passive BGP endpoint: the router of the sandbox when FRR cannot run, and a peer for tests and embedders. It
 * listens on a TCP port, accepts sessions from configured peers (or any peer under an AS rule), answers OPEN with
 * its own capabilities (MP IPv4/IPv6 unicast, 4-octet AS, route refresh, graceful-restart helper), keeps sessions up
 * with KEEPALIVEs on Effect's Clock, stores the received paths per prefix per peer and shows them like a router
 * does ({@link ./BgpRib.ts}). It announces nothing. Malformed input from a peer gets the codec's NOTIFICATION.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, FiberSet, Layer, PubSub, Schema, type Scope, Stream } from "effect"
import * as Clock from "effect/Clock"
import * as Queue from "effect/Queue"
import * as net from "node:net"
import * as Codec from "../bgp/Codec.ts"
import type { BgpMessage, OpenMessage, UpdateMessage } from "../bgp/Message.ts"
import { Afi, keepalive, Safi } from "../bgp/Message.ts"
import { MessageReader } from "../bgp/MessageReader.ts"
import * as Negotiation from "../bgp/Negotiation.ts"
import type { BgpDecodeError } from "../bgp/Notification.ts"
import { CeaseSubcode, decodeError, describe, ErrorCode, FsmSubcode, OpenSubcode, UpdateSubcode } from "../bgp/Notification.ts"
import * as Prefix from "../bgp/Prefix.ts"
import * as Rib from "./BgpRib.ts"

export class BgpRouterError extends Schema.TaggedError<BgpRouterError>()("BgpRouterError", {
  message: Schema.String
}) {}

export interface BgpRouterPeer {
  readonly address: string
  /** The AS the peer must announce; omitted follows {@link BgpRouterOptions.peerAs}. */
  readonly asn?: number
}

export interface BgpRouterOptions {
  readonly asn: number
  /** The BGP identifier, dotted quad. */
  readonly routerId: string
  /** Listen address (default 127.0.0.1). */
  readonly host?: string
  /** TCP port (default 0: a free port, see {@link BgpRouterShape.port}). */
  readonly port?: number
  /** Hold time offered in OPEN, seconds (default 90; 0 disables keepalives). */
  readonly holdTime?: number
  /** Accept only these peers (by remote address). Omitted: accept any address. */
  readonly peers?: ReadonlyArray<BgpRouterPeer>
  /** The AS rule for peers without their own `asn`: a number, "internal" (our AS), "external" (another AS). */
  readonly peerAs?: number | "internal" | "external"
  /**
   * Accept 127.0.0.0/8 NEXT_HOPs (the codec treats them as withdrawals, RFC 7606): a sandbox on loopback has no
   * other addresses to announce with.
   */
  readonly acceptLoopbackNextHops?: boolean
  /** Restart time of our Graceful Restart capability, seconds (default 120). */
  readonly restartTime?: number
}

export type RouterChange =
  | { readonly _tag: "SessionChanged"; readonly peer: string; readonly state: Rib.SessionState; readonly reason?: string }
  | { readonly _tag: "PathChanged"; readonly prefix: string; readonly peer: string; readonly path: Rib.RibPath }
  | { readonly _tag: "PathWithdrawn"; readonly prefix: string; readonly peer: string }
  | { readonly _tag: "EndOfRib"; readonly peer: string; readonly family: string }

export interface BgpRouterShape {
  readonly host: string
  readonly port: number
  readonly snapshot: Effect.Effect<Rib.RouterSnapshot>
  /** Every change from now on. */
  readonly changes: Stream.Stream<RouterChange>
  /** "show bgp summary". */
  readonly summary: Effect.Effect<string>
  /** "show bgp ipv4 unicast" / "show bgp ipv6 unicast". */
  readonly routes: (family?: 4 | 6) => Effect.Effect<string>
  /** Polls the snapshot (every 50 ms) until `predicate` holds; fails after `timeout`. */
  readonly waitFor: (
    predicate: (snapshot: Rib.RouterSnapshot) => boolean,
    timeout: Duration.Input
  ) => Effect.Effect<Rib.RouterSnapshot, BgpRouterError>
}

const familyName = (afi: number, safi: number): string =>
  `${afi === Afi.Ipv4 ? "ipv4" : afi === Afi.Ipv6 ? "ipv6" : `afi${afi}`}-${safi === Safi.Unicast ? "unicast" : `safi${safi}`}`

const plainAddress = (address: string | undefined): string => (address ?? "").replace(/^::ffff:(?=\d+\.)/, "")

const dotted = (n: number): string => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join(".")

const parseRouterId = (text: string): number | undefined => {
  const parsed = Prefix.parseAddress(text)
  if (parsed?.family !== 4) return undefined
  const [a = 0, b = 0, c = 0, d = 0] = parsed.bytes
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0
}

interface SessionRecord {
  peer: string
  remotePort: number | undefined
  localAddress: string | undefined
  state: Rib.SessionState
  peerAs: number | undefined
  peerRouterId: string | undefined
  holdTime: number | undefined
  upDownSince: number
  messagesReceived: number
  messagesSent: number
  endOfRib: Set<string>
  lastError: string | undefined
  /** Bumped per connection so a replaced connection's cleanup leaves its successor alone. */
  generation: number
  close: (() => void) | undefined
}

const newRecord = (peer: string, state: Rib.SessionState, now: number, peerAs: number | undefined): SessionRecord => ({
  peer,
  remotePort: undefined,
  localAddress: undefined,
  state,
  peerAs,
  peerRouterId: undefined,
  holdTime: undefined,
  upDownSince: now,
  messagesReceived: 0,
  messagesSent: 0,
  endOfRib: new Set(),
  lastError: undefined,
  generation: 0,
  close: undefined
})

type Inbound = { readonly _tag: "Data"; readonly chunk: Uint8Array } | { readonly _tag: "Closed"; readonly reason: string }

/** Why a session ends: a NOTIFICATION we sent or received, or the connection went away. */
type Ending = { readonly sent: boolean; readonly notified: boolean; readonly reason: string }

/**
 * Checks the UPDATE's RFC 7606 issues and, when loopback next hops are accepted, turns a treat-as-withdraw for a
 * 127/8 NEXT_HOP back into an announcement with that next hop.
 */
const loopbackRelaxed = (update: UpdateMessage, accept: boolean): { update: UpdateMessage; nextHop?: string } => {
  if (!accept || update.issues === undefined) return { update }
  let nextHop: string | undefined
  const issues = update.issues.filter((issue) => {
    const address = issue.data.subarray(issue.data.length - 4)
    const loopback = issue.subcode === UpdateSubcode.InvalidNextHopAttribute && issue.data.length === 7 && address[0] === 127
    if (loopback) nextHop = Prefix.formatAddress(address)
    return !loopback
  })
  return nextHop === undefined ? { update } : { update: { ...update, issues }, nextHop }
}

/** Starts the router in the current scope; it stops (closing every session) when the scope closes. */
export const make = (options: BgpRouterOptions): Effect.Effect<BgpRouterShape, BgpRouterError, Scope.Scope> =>
  Effect.gen(function*() {
    const routerId = parseRouterId(options.routerId)
    if (routerId === undefined || routerId === 0) {
      return yield* new BgpRouterError({ message: `routerId: "${options.routerId}" is not a non-zero IPv4 address` })
    }
    const holdTime = options.holdTime ?? 90
    if (holdTime !== 0 && (holdTime < 3 || holdTime > 65535)) {
      return yield* new BgpRouterError({ message: `holdTime: ${holdTime} is neither 0 nor 3..65535 seconds` })
    }
    const families = [{ afi: Afi.Ipv4, safi: Safi.Unicast }, { afi: Afi.Ipv6, safi: Safi.Unicast }]
    const localOpen: OpenMessage = Negotiation.makeOpen({
      asn: options.asn,
      holdTime,
      bgpIdentifier: routerId,
      families,
      routeRefresh: true,
      gracefulRestart: { restartTime: options.restartTime ?? 120, restarting: false, forwardingPreserved: false }
    })
    const sessions = new Map<string, SessionRecord>()
    const rib = new Map<string, Map<string, Rib.RibPath>>()
    const pubsub = yield* PubSub.unbounded<RouterChange>()
    yield* Effect.addFinalizer(() => PubSub.shutdown(pubsub))
    const publish = (change: RouterChange) => PubSub.publishUnsafe(pubsub, change)
    const run = yield* FiberSet.makeRuntime<never>()

    const setState = (record: SessionRecord, state: Rib.SessionState, now: number, reason?: string): void => {
      if (record.state === state) return
      if (state === "Established" || record.state === "Established") record.upDownSince = now
      record.state = state
      if (reason !== undefined) record.lastError = reason
      publish({ _tag: "SessionChanged", peer: record.peer, state, ...(reason === undefined ? {} : { reason }) })
    }

    const setPath = (path: Rib.RibPath): void => {
      let paths = rib.get(path.prefix)
      if (paths === undefined) {
        paths = new Map()
        rib.set(path.prefix, paths)
      }
      paths.set(path.peer, path)
      publish({ _tag: "PathChanged", prefix: path.prefix, peer: path.peer, path })
    }

    const removePath = (prefix: string, peer: string): void => {
      const paths = rib.get(prefix)
      if (paths?.delete(peer) !== true) return
      if (paths.size === 0) rib.delete(prefix)
      publish({ _tag: "PathWithdrawn", prefix, peer })
    }

    const removePeerPaths = (peer: string, onlyStale: boolean, family?: 4 | 6): void => {
      for (const [prefix, paths] of rib) {
        const path = paths.get(peer)
        if (path === undefined || (onlyStale && !path.stale)) continue
        if (family !== undefined && (prefix.includes(":") ? 6 : 4) !== family) continue
        removePath(prefix, peer)
      }
    }

    const prefixCount = (peer: string): number => {
      let n = 0
      for (const paths of rib.values()) if (paths.has(peer)) n++
      return n
    }

    const snapshot = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      return {
        asn: options.asn,
        routerId: options.routerId,
        now,
        sessions: [...sessions.values()]
          .map((s): Rib.RibSession => ({
            peer: s.peer,
            remotePort: s.remotePort,
            localAddress: s.localAddress,
            state: s.state,
            peerAs: s.peerAs,
            peerRouterId: s.peerRouterId,
            holdTime: s.holdTime,
            upDownSince: s.upDownSince,
            messagesReceived: s.messagesReceived,
            messagesSent: s.messagesSent,
            prefixesReceived: prefixCount(s.peer),
            endOfRib: [...s.endOfRib],
            lastError: s.lastError
          }))
          .toSorted((a, b) => Rib.compareAddresses(a.peer, b.peer)),
        routes: Rib.table(rib)
      } satisfies Rib.RouterSnapshot
    })

    const configuredPeer = (address: string): BgpRouterPeer | undefined =>
      options.peers?.find((p) => plainAddress(p.address) === address)

    const asRuleError = (peerAs: number, peer: BgpRouterPeer | undefined): string | undefined => {
      const rule = peer?.asn ?? options.peerAs
      if (rule === undefined) return undefined
      if (rule === "internal") return peerAs === options.asn ? undefined : `peer AS ${peerAs} is not our AS ${options.asn} (iBGP only)`
      if (rule === "external") return peerAs !== options.asn ? undefined : `peer AS ${peerAs} is our own AS (eBGP only)`
      return peerAs === rule ? undefined : `peer AS ${peerAs}, configured ${rule}`
    }

    /** One TCP connection from accept to close. */
    const session = (socket: net.Socket): Effect.Effect<void> =>
      Effect.gen(function*() {
        const peer = plainAddress(socket.remoteAddress)
        const inbound = yield* Queue.unbounded<Inbound>()
        socket.on("data", (chunk: Buffer) => Queue.offerUnsafe(inbound, { _tag: "Data", chunk: new Uint8Array(chunk) }))
        socket.on("error", (error) => Queue.offerUnsafe(inbound, { _tag: "Closed", reason: `connection error: ${error.message}` }))
        socket.on("close", () => Queue.offerUnsafe(inbound, { _tag: "Closed", reason: "connection closed by peer" }))
        yield* Effect.addFinalizer(() => Effect.sync(() => socket.destroy()))
        const now = yield* Clock.currentTimeMillis
        const configured = configuredPeer(peer)
        const send = (record: SessionRecord | undefined, message: BgpMessage, codecOptions?: Codec.CodecOptions) =>
          Effect.sync(() => {
            if (socket.destroyed) return
            socket.write(Codec.encodeMessage(message, codecOptions))
            if (record !== undefined) record.messagesSent++
          })
        if (options.peers !== undefined && configured === undefined) {
          // RFC 4486: Connection Rejected for a peer we are not configured for.
          yield* send(undefined, Codec.notificationOf(decodeError(ErrorCode.Cease, CeaseSubcode.ConnectionRejected, new Uint8Array(0), "")))
          yield* Effect.sync(() => socket.end())
          return
        }
        const previous = sessions.get(peer)
        // A peer that reconnects replaces its old connection (a restarted speaker must not wait for our hold timer).
        previous?.close?.()
        const record = previous ?? newRecord(peer, "Idle", now, undefined)
        record.generation++
        const generation = record.generation
        record.remotePort = socket.remotePort
        record.localAddress = plainAddress(socket.localAddress)
        record.endOfRib = new Set()
        record.close = () => Queue.offerUnsafe(inbound, { _tag: "Closed", reason: "replaced by a new connection from the same peer" })
        sessions.set(peer, record)
        const current = () => record.generation === generation

        const reader = new MessageReader()
        let codecOptions: Codec.CodecOptions = Codec.initialOptions
        let negotiated: Negotiation.Negotiated | undefined
        let lastReceived = now
        let ending: Ending | undefined
        const fail = (error: BgpDecodeError) =>
          send(record, Codec.notificationOf(error), codecOptions).pipe(
            Effect.andThen(Effect.sync(() => {
              ending = { sent: true, notified: true, reason: `sent NOTIFICATION ${error.message}` }
            }))
          )
        const fsmError = (subcode: number, what: string) =>
          fail(decodeError(ErrorCode.FiniteStateMachine, subcode, new Uint8Array(0), `${what} in state ${record.state}`))

        yield* send(record, localOpen)
        setState(record, "OpenSent", now)

        const timers = yield* FiberSet.make()
        const startTimers = (n: Negotiation.Negotiated) =>
          Effect.gen(function*() {
            if (n.holdTime === 0) return
            const keepalives = send(record, keepalive).pipe(
              Effect.delay(Duration.seconds(Math.max(1, n.keepaliveTime))),
              Effect.forever
            )
            // The hold timer: sleep until the last message plus the hold time, then check again (RFC 4271 §10).
            const hold = Effect.gen(function*() {
              for (;;) {
                const t = yield* Clock.currentTimeMillis
                const due = lastReceived + n.holdTime * 1000
                if (t >= due) {
                  yield* send(record, Codec.notificationOf(decodeError(ErrorCode.HoldTimerExpired, 0, new Uint8Array(0), "")), codecOptions)
                  Queue.offerUnsafe(inbound, { _tag: "Closed", reason: `hold timer expired (${n.holdTime}s)` })
                  return
                }
                yield* Effect.sleep(Duration.millis(due - t))
              }
            })
            yield* FiberSet.run(timers, keepalives)
            yield* FiberSet.run(timers, hold)
          })

        const applyUpdate = (received: UpdateMessage, n: Negotiation.Negotiated) =>
          Effect.sync(() => {
            const eor = Codec.isEndOfRib(received)
            if (eor !== undefined) {
              const family = familyName(eor.afi, eor.safi)
              record.endOfRib.add(family)
              // RFC 4724 §4.2: paths the restarted peer did not re-announce before its End-of-RIB are gone.
              removePeerPaths(peer, true, eor.afi === Afi.Ipv6 ? 6 : 4)
              publish({ _tag: "EndOfRib", peer, family })
              return
            }
            const relaxed = loopbackRelaxed(received, options.acceptLoopbackNextHops === true)
            const { announced, withdrawn } = Codec.reachability(relaxed.update)
            for (const prefix of withdrawn) removePath(Prefix.format(prefix), peer)
            if (announced.length === 0) return
            const attributes = Rib.pathAttributes(relaxed.update.attributes)
            for (const prefix of announced) {
              const nextHop = Rib.nextHopOf(relaxed.update.attributes, prefix.family) ?? relaxed.nextHop ?? ""
              setPath({
                ...attributes,
                prefix: Prefix.format(prefix),
                peer,
                peerAs: n.peerAs,
                peerRouterId: dotted(n.peerBgpIdentifier),
                internal: n.peerAs === options.asn,
                nextHop,
                stale: false
              })
            }
          })

        const handle = (message: BgpMessage) =>
          Effect.gen(function*() {
            if (message._tag === "Notification") {
              ending = { sent: false, notified: true, reason: `received NOTIFICATION ${describe(message.code, message.subcode)}` }
              return
            }
            switch (record.state) {
              case "OpenSent": {
                if (message._tag !== "Open") return yield* fsmError(FsmSubcode.UnexpectedMessageInOpenSent, message._tag)
                const result = Negotiation.validateOpen(message, { local: localOpen })
                if (result._tag === "Failure") return yield* fail(result.failure)
                const n = result.success
                const ruleError = asRuleError(n.peerAs, configured)
                if (ruleError !== undefined) {
                  return yield* fail(decodeError(ErrorCode.OpenMessage, OpenSubcode.BadPeerAs, new Uint8Array(0), ruleError))
                }
                negotiated = n
                codecOptions = n.codecOptions
                reader.setExtendedMessages(n.extendedMessages)
                record.peerAs = n.peerAs
                record.peerRouterId = dotted(n.peerBgpIdentifier)
                record.holdTime = n.holdTime
                yield* send(record, keepalive)
                setState(record, "OpenConfirm", yield* Clock.currentTimeMillis)
                yield* startTimers(n)
                return
              }
              case "OpenConfirm": {
                if (message._tag !== "Keepalive") return yield* fsmError(FsmSubcode.UnexpectedMessageInOpenConfirm, message._tag)
                setState(record, "Established", yield* Clock.currentTimeMillis)
                for (const f of negotiated?.families ?? []) yield* send(record, Codec.endOfRib(f.afi, f.safi), codecOptions)
                return
              }
              default: {
                if (message._tag === "Open") return yield* fsmError(FsmSubcode.UnexpectedMessageInEstablished, "OPEN")
                if (message._tag === "Update" && negotiated !== undefined) return yield* applyUpdate(message, negotiated)
                if (message._tag === "RouteRefresh") {
                  // We announce nothing: the answer to a refresh is the End-of-RIB of that family.
                  yield* send(record, Codec.endOfRib(message.afi, message.safi), codecOptions)
                }
                return
              }
            }
          })

        while (ending === undefined) {
          const item = yield* Queue.take(inbound)
          if (item._tag === "Closed") {
            ending = { sent: false, notified: false, reason: item.reason }
            break
          }
          lastReceived = yield* Clock.currentTimeMillis
          const { frames, error } = reader.feed(item.chunk)
          for (const frame of frames) {
            if (ending !== undefined) break
            record.messagesReceived++
            const decoded = Codec.decodeMessage(frame, codecOptions)
            if (decoded._tag === "Failure") yield* fail(decoded.failure)
            else yield* handle(decoded.success)
          }
          if (error !== undefined && ending === undefined) yield* fail(error)
        }
        yield* FiberSet.clear(timers)
        if (!current()) return
        record.close = undefined
        const t = yield* Clock.currentTimeMillis
        const gr = negotiated?.peerGracefulRestart
        const wasEstablished = record.state === "Established"
        setState(record, configured === undefined ? "Idle" : "Active", t, ending.reason)
        if (wasEstablished && !ending.notified && gr !== undefined && gr.restartTime > 0) {
          // Graceful restart helper (RFC 4724 §4.2): keep the peer's paths, marked stale, for its restart time.
          for (const [prefix, paths] of rib) {
            const path = paths.get(peer)
            if (path !== undefined) setPath({ ...path, prefix, stale: true })
          }
          const restartTime = gr.restartTime
          yield* Effect.sleep(Duration.seconds(restartTime)).pipe(
            Effect.andThen(Effect.sync(() => removePeerPaths(peer, true))),
            Effect.forkDetach
          )
        } else {
          removePeerPaths(peer, false)
        }
        if (ending.sent) yield* Effect.sync(() => socket.end())
      }).pipe(Effect.scoped)

    const sockets = new Set<net.Socket>()
    const server = net.createServer({ noDelay: true }, (socket) => {
      sockets.add(socket)
      socket.once("close", () => sockets.delete(socket))
      run(session(socket))
    })
    const host = options.host ?? "127.0.0.1"
    yield* Effect.acquireRelease(
      Effect.callback<void, BgpRouterError>((resume) => {
        server.once("error", (error) => resume(Effect.fail(new BgpRouterError({ message: `listen on ${host}:${options.port ?? 0}: ${error.message}` }))))
        server.listen({ host, port: options.port ?? 0 }, () => resume(Effect.void))
      }),
      () =>
        Effect.callback<void>((resume) => {
          // close() waits for open connections: end them first (their sessions are interrupted with the scope).
          for (const socket of sockets) socket.destroy()
          server.close(() => resume(Effect.void))
        })
    )
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : options.port ?? 0
    for (const peer of options.peers ?? []) {
      const t = yield* Clock.currentTimeMillis
      sessions.set(peer.address, newRecord(peer.address, "Active", t, peer.asn))
    }

    const waitFor: BgpRouterShape["waitFor"] = (predicate, timeout) =>
      Effect.gen(function*() {
        for (;;) {
          const s = yield* snapshot
          if (predicate(s)) return s
          yield* Effect.sleep(Duration.millis(50))
        }
      }).pipe(
        Effect.timeoutOption(timeout),
        Effect.flatMap((o) =>
          o._tag === "Some"
            ? Effect.succeed(o.value)
            : Effect.fail(new BgpRouterError({ message: `the router did not reach the expected state within ${Duration.format(Duration.fromInputUnsafe(timeout))}` }))
        )
      )

    return {
      host,
      port,
      snapshot,
      changes: Stream.fromPubSub(pubsub),
      summary: Effect.map(snapshot, Rib.renderSummary),
      routes: (family = 4) => Effect.map(snapshot, (s) => Rib.renderRoutes(s, family)),
      waitFor
    } satisfies BgpRouterShape
  })

export class BgpRouter extends Context.Service<BgpRouter, BgpRouterShape>()("metallb-ts/testing/BgpRouter") {
  static readonly layer = (options: BgpRouterOptions): Layer.Layer<BgpRouter, BgpRouterError> =>
    Layer.effect(BgpRouter, make(options))
}
