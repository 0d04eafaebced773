/**
 * One BGP session per configured peer: the TCP connection (MD5, source address and TTL set on the socket before the
 * SYN), the RFC 4271 FSM (`Fsm.step`) driven by a single inbox fiber, its timers on Effect's Clock (`FsmTimers`),
 * reconnects on an exponential, jittered, capped Schedule, the OPEN we send (MP-BGP IPv4+IPv6, 4-octet AS, route
 * refresh, graceful restart), NOTIFICATIONs for every malformed message, a receive hold timer, and an optional BFD
 * hook (BFD Down tears the session down with Cease / BFD Down, RFC 9384).
 *
 * Received UPDATEs are accepted and ignored (this speaker only announces). The session's state is a SubscriptionRef
 * that the speaker (`BgpSpeaker`) watches to (re-)announce its RIB-out on each new Established connection.
 *
 * docs/design/bgp-session.md describes the design and how it differs from MetalLB's native speaker.
 *
 * @since 0.1.0
 */
import { Context, Deferred, Duration, Effect, FiberHandle, Layer, Queue, Result, Schedule, Schema, type Scope, Stream, SubscriptionRef } from "effect"
import * as net from "node:net"
import { crc32 } from "node:zlib"
import * as Native from "../native/Native.ts"
import * as Metrics from "../observability/Metrics.ts"
import type { BfdSessionHandle } from "./Bfd.ts"
import * as Codec from "./Codec.ts"
import * as Fsm from "./Fsm.ts"
import * as FsmTimers from "./FsmTimers.ts"
import type { BgpMessage, Capability, OpenMessage, UpdateMessage } from "./Message.ts"
import { Afi, CapabilityCode, Safi } from "./Message.ts"
import { MessageReader } from "./MessageReader.ts"
import * as Negotiation from "./Negotiation.ts"
import { CeaseSubcode, describe, ErrorCode } from "./Notification.ts"
import * as Prefix from "./Prefix.ts"

export class BgpSessionError extends Schema.TaggedError<BgpSessionError>()("BgpSessionError", {
  peer: Schema.String,
  field: Schema.String,
  message: Schema.String
}) {}

/** A configured peer (the fields of MetalLB's BGPPeer this layer needs). Times are in seconds. */
export interface PeerConfig {
  readonly address: string
  /** Default 179. */
  readonly port?: number
  readonly localAsn: number
  /** A number, or MetalLB's dynamicASN: `internal` (our AS) / `external` (any other). */
  readonly peerAsn: Fsm.PeerAsn
  /** Dotted quad. Default: the session's local IPv4, else CRC-32 of the node name (as MetalLB). */
  readonly routerId?: string
  readonly sourceAddress?: string
  /** RFC 2385 TCP-MD5 key. */
  readonly password?: string
  /** Default 90. */
  readonly holdTime?: number
  readonly keepaliveTime?: number
  /** ConnectRetryTime and the cap of the reconnect backoff. Default 120. */
  readonly connectTime?: number
  /** Send with TTL 255 (eBGP multihop). */
  readonly ebgpMultiHop?: boolean
  /** Announce the Graceful Restart capability (RFC 4724) with this restart time. */
  readonly gracefulRestart?: { readonly restartTime: number }
  /** A BFD session towards the peer: its Up → Down transition drops the BGP session at once. */
  readonly bfd?: BfdSessionHandle
}

/** What an Established connection settled; the speaker announces according to it. */
export interface EstablishedInfo {
  /** Increases with every Established connection: a new value means the RIB-out must be sent in full. */
  readonly connection: number
  readonly localAddress: string
  readonly remoteAddress: string
  readonly internal: boolean
  readonly peerAsn: number
  readonly fourOctetAs: boolean
  readonly families: ReadonlyArray<Negotiation.Family>
  readonly holdTime: number
  /** Increases with every ROUTE-REFRESH the peer sends: the speaker re-sends its RIB-out. */
  readonly refreshRequests: number
}

export interface SessionStatus {
  readonly state: Fsm.StateName
  readonly established: EstablishedInfo | undefined
  /** Why the last session or attempt ended, for status and logs. */
  readonly lastError: string | undefined
}

export interface Session {
  /** `address:port`, the `peer` label of the metrics. */
  readonly peer: string
  readonly config: PeerConfig
  readonly status: SubscriptionRef.SubscriptionRef<SessionStatus>
  /**
   * Sends UPDATEs on the Established connection `connection`; false (nothing sent) when that connection is gone.
   * Waits for the socket to drain between messages, so a large RIB-out cannot balloon memory.
   */
  readonly sendUpdates: (connection: number, updates: ReadonlyArray<UpdateMessage>) => Effect.Effect<boolean>
  /**
   * Stops the session for good with Cease and this subcode (RFC 4486: 3 Peer De-configured, 6 Other Configuration
   * Change, ...); closing the scope does the same with 2 Administrative Shutdown — except when graceful restart was
   * negotiated: then the scope closing is a restart of this speaker (a rolling update), and the connection ends without
   * a NOTIFICATION so that the peer keeps our routes (stale) until we are back (RFC 4724 §4.2). Waits up to 1 s for
   * the send.
   */
  readonly stop: (subcode: number) => Effect.Effect<void>
}

export interface SessionOptions {
  /** The node name: router ID fallback (CRC-32, as MetalLB). */
  readonly nodeName: string
  /** We restarted with routes still in the peers' RIBs (RFC 4724): set the Restart State bit in the first OPEN. */
  readonly restarted?: boolean
  /** First reconnect delay (default 1 s); doubles up to `connectTime`. */
  readonly reconnectBase?: Duration.Input
}

// ---------------------------------------------------------------------------------------------------------------
// Pure helpers

/** Dotted quad → unsigned 32-bit, or undefined. */
export const parseRouterId = (text: string): number | undefined => {
  const parsed = Prefix.parseAddress(text)
  if (parsed === undefined || parsed.family !== 4) return undefined
  const b = parsed.bytes
  return (((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0
}

/** MetalLB's fallback router ID: CRC-32 (IEEE) of the node name written little-endian into the 4 bytes. */
export const routerIdFromNodeName = (nodeName: string): number => {
  const c = crc32(nodeName) >>> 0
  return (((c & 0xff) << 24) | (((c >>> 8) & 0xff) << 16) | (((c >>> 16) & 0xff) << 8) | ((c >>> 24) & 0xff)) >>> 0
}

/** Router ID: configured, else the session's local IPv4, else CRC-32 of the node name. */
export const routerIdFor = (config: PeerConfig, localAddress: string | undefined, nodeName: string): number => {
  if (config.routerId !== undefined) {
    const configured = parseRouterId(config.routerId)
    if (configured !== undefined) return configured
  }
  const local = localAddress === undefined ? undefined : parseRouterId(localAddress.replace(/^::ffff:/, ""))
  return local ?? routerIdFromNodeName(nodeName)
}

export const families: ReadonlyArray<Negotiation.Family> = [
  { afi: Afi.Ipv4, safi: Safi.Unicast },
  { afi: Afi.Ipv6, safi: Safi.Unicast }
]

/** The OPEN we send on a connection. */
export const openFor = (
  config: PeerConfig,
  bgpIdentifier: number,
  restarting: boolean
): OpenMessage =>
  Negotiation.makeOpen({
    asn: config.localAsn,
    holdTime: config.holdTime ?? 90,
    bgpIdentifier,
    families,
    routeRefresh: true,
    ...(config.gracefulRestart === undefined ? {} : {
      gracefulRestart: {
        restartTime: config.gracefulRestart.restartTime,
        restarting,
        // The routes point at this node, whose kernel keeps forwarding while the speaker restarts.
        forwardingPreserved: true
      }
    })
  })

const capabilityCode = (c: Capability): number => {
  switch (c._tag) {
    case "Multiprotocol":
      return CapabilityCode.Multiprotocol
    case "RouteRefresh":
      return CapabilityCode.RouteRefresh
    case "ExtendedMessage":
      return CapabilityCode.ExtendedMessage
    case "GracefulRestart":
      return CapabilityCode.GracefulRestart
    case "FourOctetAs":
      return CapabilityCode.FourOctetAs
    case "UnknownCapability":
      return c.code
  }
}

/** The FSM event for a message the codec rejected, by the error code it asks for. */
export const decodeErrorEvent = (notification: Fsm.Notification): Fsm.FsmEvent =>
  notification.code === ErrorCode.MessageHeader
    ? { _tag: "BgpHeaderErr", notification }
    : notification.code === ErrorCode.OpenMessage
    ? { _tag: "BgpOpenMsgErr", notification }
    : { _tag: "UpdateMsgErr", notification }

const asnOk = (n: number) => Number.isInteger(n) && n >= 1 && n <= 0xffffffff

export const validateConfig = (config: PeerConfig): Result.Result<PeerConfig, BgpSessionError> => {
  const peer = config.address
  const fail = (field: string, message: string) => Result.fail(new BgpSessionError({ peer, field, message }))
  if (Prefix.parseAddress(config.address) === undefined) return fail("address", `"${config.address}" is not an IP address`)
  if (config.sourceAddress !== undefined && Prefix.parseAddress(config.sourceAddress) === undefined) {
    return fail("sourceAddress", `"${config.sourceAddress}" is not an IP address`)
  }
  const port = config.port ?? 179
  if (!Number.isInteger(port) || port < 1 || port > 65535) return fail("port", `${port} is not a TCP port`)
  if (!asnOk(config.localAsn)) return fail("myASN", `${config.localAsn} is not an AS number (1..4294967295)`)
  if (typeof config.peerAsn === "number" && !asnOk(config.peerAsn)) {
    return fail("peerASN", `${config.peerAsn} is not an AS number (1..4294967295)`)
  }
  const hold = config.holdTime ?? 90
  if (!Number.isInteger(hold) || hold === 1 || hold === 2 || hold < 0 || hold > 65535) {
    return fail("holdTime", `${hold}s: must be 0 or 3..65535 seconds`)
  }
  const keepalive = config.keepaliveTime
  if (keepalive !== undefined && (!Number.isInteger(keepalive) || keepalive < 0 || (hold > 0 && keepalive >= hold))) {
    return fail("keepaliveTime", `${keepalive}s: must be a whole number of seconds below holdTime (${hold}s)`)
  }
  const connect = config.connectTime
  if (connect !== undefined && (!Number.isInteger(connect) || connect < 1 || connect > 65535)) {
    return fail("connectTime", `${connect}s: must be 1..65535 seconds`)
  }
  if (config.routerId !== undefined && parseRouterId(config.routerId) === undefined) {
    return fail("routerID", `"${config.routerId}" is not an IPv4 address`)
  }
  if (config.password !== undefined && Buffer.byteLength(config.password) > 80) {
    return fail("password", "TCP-MD5 keys are limited to 80 bytes")
  }
  const gr = config.gracefulRestart?.restartTime
  if (gr !== undefined && (!Number.isInteger(gr) || gr < 0 || gr > 4095)) {
    return fail("gracefulRestart.restartTime", `${gr}s: must be 0..4095 seconds`)
  }
  return Result.succeed(config)
}

/**
 * The delays between reconnect attempts: exponential from `base` (doubling), jittered by ×0.8–1.2 so that many
 * speakers restarted together do not dial in step, and capped at `cap` (the peer's connectTime).
 */
export const reconnectSchedule = (base: Duration.Input, cap: Duration.Duration): Schedule.Schedule<Duration.Duration> =>
  Schedule.exponential(base).pipe(
    Schedule.jittered,
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, cap)))
  )

// ---------------------------------------------------------------------------------------------------------------
// The session

type Input =
  | { readonly _tag: "Event"; readonly event: Fsm.FsmEvent; readonly conn?: number }
  | FsmTimers.TimerExpiry
  | { readonly _tag: "Frame"; readonly conn: number; readonly bytes: Uint8Array }
  | { readonly _tag: "FrameError"; readonly conn: number; readonly notification: Fsm.Notification }
  | { readonly _tag: "BfdDown" }
  | { readonly _tag: "Incoming"; readonly socket: net.Socket }
  /** `subcode` undefined: stop for a graceful restart (see Session.stop). */
  | { readonly _tag: "Stop"; readonly subcode: number | undefined; readonly done: Deferred.Deferred<void> }

interface Connection {
  readonly id: number
  /** Who opened the TCP connection: decides RFC 4271 §6.8 collisions. */
  readonly initiator: "LocallyInitiated" | "RemotelyInitiated"
  socket: net.Socket | undefined
  readonly reader: MessageReader
  codec: Codec.CodecOptions
  open: OpenMessage | undefined
  negotiated: Negotiation.Negotiated | undefined
  dead: boolean
}

const connectionEvent = (conn: number, event: Fsm.FsmEvent): Input => ({ _tag: "Event", event, conn })

/** Opens one session; it runs until the scope closes, which sends Cease / Administrative Shutdown. */
export const open = (
  input: PeerConfig,
  options: SessionOptions,
  listener?: Listener
): Effect.Effect<Session, BgpSessionError, Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* Effect.fromResult(validateConfig(input))
    const port = config.port ?? 179
    const family: 4 | 6 = config.address.includes(":") ? 6 : 4
    const peer = family === 6 ? `[${config.address}]:${port}` : `${config.address}:${port}`
    const labels = { peer }
    const status = yield* SubscriptionRef.make<SessionStatus>({ state: "Idle", established: undefined, lastError: undefined })
    const inbox = yield* Queue.unbounded<Input>()
    const timers = yield* FsmTimers.make({ onExpiry: (e) => Queue.offer(inbox, e).pipe(Effect.asVoid) })
    const reconnect = yield* FiberHandle.make()
    const log = (message: string, extra: Record<string, unknown> = {}) =>
      Effect.logInfo(message).pipe(Effect.annotateLogs({ peer, protocol: "bgp", ...extra }))

    let fsm = Fsm.initial(Fsm.makeConfig({
      localAsn: config.localAsn,
      localBgpId: config.routerId === undefined ? routerIdFromNodeName(options.nodeName) : routerIdFor(config, undefined, options.nodeName),
      peerAsn: config.peerAsn,
      holdTime: config.holdTime ?? 90,
      keepaliveTime: config.keepaliveTime,
      connectRetryTime: config.connectTime ?? 120
    }))
    let current: Connection | undefined
    /** An incoming connection waiting for its OPEN to settle a collision with `current` (RFC 4271 §6.8). */
    let pending: Connection | undefined
    let nextConnection = 0
    let establishedCount = 0
    let restarting = options.restarted === true
    let stopped = false

    const backoff = reconnectSchedule(options.reconnectBase ?? "1 second", Duration.seconds(config.connectTime ?? 120))
    let backoffStep = yield* Schedule.toStepWithSleep(backoff)

    yield* Metrics.update(Metrics.bgpSessionUp, labels, 0)

    const offerUnsafe = (i: Input) => Queue.offerUnsafe(inbox, i)

    const write = (conn: Connection, message: BgpMessage): Effect.Effect<boolean> =>
      Effect.callback<boolean>((resume) => {
        const socket = conn.socket
        if (socket === undefined || conn.dead || socket.destroyed) return resume(Effect.succeed(false))
        const bytes = Codec.encodeMessage(message, conn.codec)
        if (socket.write(bytes)) return resume(Effect.succeed(true))
        const done = () => {
          socket.off("drain", done)
          socket.off("close", done)
          resume(Effect.succeed(!socket.destroyed))
        }
        socket.on("drain", done)
        socket.on("close", done)
      })

    const closeSocket = (conn: Connection) =>
      Effect.sync(() => {
        conn.dead = true
        // Flush what was written (a NOTIFICATION) and close; never wait for a peer that may be frozen. A dial still
        // in progress (SYNs unanswered, e.g. a wrong MD5 key) is abandoned at once.
        if (conn.socket?.connecting === true) conn.socket.destroy()
        else conn.socket?.destroySoon()
        conn.socket = undefined
      })

    /** Feeds a socket's frames and failures to the inbox, tagged with its connection. */
    const wire = (conn: Connection, socket: net.Socket) => {
      socket.setNoDelay(true)
      conn.socket = socket
      let failed = false
      const fail = () => {
        if (failed) return
        failed = true
        offerUnsafe(connectionEvent(conn.id, { _tag: "TcpConnectionFails" }))
      }
      socket.on("error", fail)
      socket.on("close", fail)
      socket.on("data", (chunk: Buffer) => {
        const { frames, error } = conn.reader.feed(chunk)
        for (const bytes of frames) offerUnsafe({ _tag: "Frame", conn: conn.id, bytes })
        if (error !== undefined) {
          socket.pause()
          offerUnsafe({ _tag: "FrameError", conn: conn.id, notification: { code: error.code, subcode: error.subcode, data: error.data } })
        }
      })
    }

    const newConnection = (initiator: Connection["initiator"]): Connection => ({
      id: ++nextConnection,
      socket: undefined,
      reader: new MessageReader(),
      codec: Codec.initialOptions,
      open: undefined,
      negotiated: undefined,
      dead: false,
      initiator
    })

    /** Prepares the fd natively (MD5, source, TTL) so the very first SYN carries them, then connects with `net`. */
    const connect = (conn: Connection) =>
      Effect.gen(function*() {
        const fd = yield* Native.tcpSocket(family)
        const prepared = Effect.gen(function*() {
          if (config.password !== undefined && config.password !== "") {
            yield* Native.setTcpMd5(fd, config.address, config.password)
          }
          if (config.sourceAddress !== undefined) yield* Native.bindAddress(fd, config.sourceAddress, 0)
          if (config.ebgpMultiHop === true) {
            const c = Native.constants
            yield* family === 4
              ? Native.setSockOptInt(fd, c.IPPROTO_IP, c.IP_TTL, 255)
              : Native.setSockOptInt(fd, c.IPPROTO_IPV6, c.IPV6_UNICAST_HOPS, 255)
          }
        })
        yield* prepared.pipe(Effect.tapError(() => Native.closeFd(fd).pipe(Effect.ignore)))
        yield* Effect.sync(() => {
          const socket = new net.Socket({ fd, readable: true, writable: true })
          wire(conn, socket)
          socket.connect({ port, host: config.address }, () => offerUnsafe(connectionEvent(conn.id, { _tag: "TcpCrAcked" })))
        })
      }).pipe(
        Effect.catch((e) =>
          log(`cannot open the TCP socket: ${e.message}`).pipe(
            Effect.andThen(Effect.sync(() => offerUnsafe(connectionEvent(conn.id, { _tag: "TcpConnectionFails" }))))
          )
        )
      )

    const scheduleReconnect = FiberHandle.run(
      reconnect,
      Effect.andThen(backoffStep(undefined), Queue.offer(inbox, { _tag: "Event", event: { _tag: "AutomaticStart" } })),
      { onlyIfMissing: true }
    )

    // Publishes only real changes: the speaker re-syncs on every published status.
    const setStatus = (f: (s: SessionStatus) => SessionStatus) =>
      Effect.flatMap(SubscriptionRef.get(status), (s) => {
        const next = f(s)
        return next === s ? Effect.void : SubscriptionRef.set(status, next)
      })

    const perform = (action: Fsm.FsmAction): Effect.Effect<void> =>
      Effect.gen(function*() {
        const conn = current
        switch (action._tag) {
          case "StartTimer":
          case "StopTimer":
          case "ProcessUpdate":
          case "ReleaseResources":
            return
          case "InitiateTcpConnection": {
            if (current !== undefined) yield* closeSocket(current)
            const fresh = newConnection("LocallyInitiated")
            current = fresh
            yield* connect(fresh)
            return
          }
          case "DropTcpConnection":
          case "RejectTcpConnection":
            if (conn !== undefined) yield* closeSocket(conn)
            current = undefined
            return
          case "SendOpen": {
            if (conn === undefined) return
            const local = conn.socket?.localAddress
            const id = routerIdFor(config, local, options.nodeName)
            fsm = { ...fsm, config: { ...fsm.config, localBgpId: id } }
            conn.open = openFor(config, id, restarting)
            if (yield* write(conn, conn.open)) yield* Metrics.update(Metrics.bgpOpensSent, labels, 1)
            return
          }
          case "SendKeepalive":
            if (conn !== undefined && (yield* write(conn, { _tag: "Keepalive" }))) {
              yield* Metrics.update(Metrics.bgpKeepalivesSent, labels, 1)
            }
            return
          case "SendNotification":
            if (conn !== undefined) {
              yield* log(`sending NOTIFICATION ${describe(action.code, action.subcode)}`)
              if (yield* write(conn, { _tag: "Notification", code: action.code, subcode: action.subcode, data: action.data })) {
                yield* Metrics.update(Metrics.bgpNotificationsSent, labels, 1)
              }
            }
            return
          case "SessionEstablished": {
            const negotiated = conn?.negotiated
            if (conn === undefined || negotiated === undefined) return
            establishedCount++
            restarting = false
            backoffStep = yield* Schedule.toStepWithSleep(backoff)
            const info: EstablishedInfo = {
              connection: establishedCount,
              localAddress: conn.socket?.localAddress ?? config.sourceAddress ?? "",
              remoteAddress: config.address,
              internal: action.internal,
              peerAsn: action.peer.asn,
              fourOctetAs: negotiated.fourOctetAs,
              families: negotiated.families,
              holdTime: action.holdTime,
              refreshRequests: 0
            }
            yield* setStatus((s) => ({ ...s, established: info, lastError: undefined }))
            yield* Metrics.update(Metrics.bgpSessionUp, labels, 1)
            yield* log("BGP session established", { holdTime: action.holdTime, peerASN: action.peer.asn })
            return
          }
          case "SessionDown": {
            const why = action.sent !== undefined
              ? `sent ${describe(action.sent.code, action.sent.subcode)}`
              : action.received !== undefined
              ? `received ${describe(action.received.code, action.received.subcode)}`
              : action.event
            yield* setStatus((s) => ({ ...s, established: undefined, lastError: why }))
            yield* Metrics.update(Metrics.bgpSessionUp, labels, 0)
            yield* log(`BGP session down: ${why}`)
            return
          }
          case "LogFsmError":
            yield* log(`FSM error on ${action.event}: ${action.reason}`)
            return
        }
      })

    /**
     * RFC 4724 §4.2: to a helper, a connection that ends without a NOTIFICATION is the peer restarting: it keeps our
     * routes, marked stale, until we are back and send End-of-RIB (or our restart time runs out). Only when the peer
     * announced graceful restart; the FSM goes to Idle as if the transport had failed, which is what the peer sees.
     */
    const stopForRestart = (conn: Connection) =>
      Effect.gen(function*() {
        yield* log("stopping for a graceful restart: closing the connection without a NOTIFICATION, the peer keeps our routes")
        yield* closeSocket(conn)
        yield* step({ _tag: "TcpConnectionFails" })
      })

    const step = (event: Fsm.FsmEvent): Effect.Effect<void> =>
      Effect.gen(function*() {
        const [next, actions] = Fsm.step(fsm, event)
        fsm = next
        yield* timers.apply(actions)
        for (const action of actions) yield* perform(action)
        yield* setStatus((s) => (s.state === fsm.name ? s : { ...s, state: fsm.name }))
        if (fsm.name === "Idle" && !stopped) yield* scheduleReconnect
      })

    const onMessage = (conn: Connection, bytes: Uint8Array): Effect.Effect<void> =>
      Effect.gen(function*() {
        const decoded = Codec.decodeMessage(bytes, conn.codec)
        if (Result.isFailure(decoded)) {
          const e = decoded.failure
          yield* log(`malformed message: ${e.message}`)
          return yield* step(decodeErrorEvent({ code: e.code, subcode: e.subcode, data: e.data }))
        }
        const message = decoded.success
        switch (message._tag) {
          case "Open": {
            yield* Metrics.update(Metrics.bgpOpensReceived, labels, 1)
            const local = conn.open ?? openFor(config, fsm.config.localBgpId, restarting)
            const checked = Negotiation.validateOpen(message, { local })
            if (Result.isFailure(checked)) {
              const e = checked.failure
              yield* log(`unacceptable OPEN: ${e.message}`)
              return yield* step({ _tag: "BgpOpenMsgErr", notification: { code: e.code, subcode: e.subcode, data: e.data } })
            }
            conn.negotiated = checked.success
            conn.codec = checked.success.codecOptions
            return yield* step({
              _tag: "BgpOpen",
              holdTime: message.holdTime,
              asn: checked.success.peerAs,
              bgpId: message.bgpIdentifier,
              capabilities: message.capabilities.map(capabilityCode)
            })
          }
          case "Update":
            yield* Metrics.update(Metrics.bgpUpdatesReceived, labels, 1)
            return yield* step({ _tag: "UpdateMsg" })
          case "Keepalive":
            yield* Metrics.update(Metrics.bgpKeepalivesReceived, labels, 1)
            return yield* step({ _tag: "KeepAliveMsg" })
          case "Notification":
            yield* log(`received NOTIFICATION ${describe(message.code, message.subcode)}`)
            return yield* step(Fsm.notificationEvent(message))
          case "RouteRefresh":
            if (fsm.name === "Established") {
              yield* setStatus((s) =>
                s.established === undefined
                  ? s
                  : { ...s, established: { ...s.established, refreshRequests: s.established.refreshRequests + 1 } }
              )
            }
            return
        }
      })

    const notifyAndClose = (conn: Connection, subcode: number) =>
      Effect.gen(function*() {
        if (yield* write(conn, { _tag: "Notification", code: ErrorCode.Cease, subcode, data: new Uint8Array(0) })) {
          yield* Metrics.update(Metrics.bgpNotificationsSent, labels, 1)
        }
        yield* closeSocket(conn)
      })

    /** Makes `conn` (accepted from the peer) this session's connection; `replay` is an OPEN already read from it. */
    const adopt = (conn: Connection, replay?: Uint8Array) =>
      Effect.gen(function*() {
        if (fsm.name === "Idle") {
          yield* FiberHandle.clear(reconnect)
          yield* step({ _tag: "AutomaticStartWithPassiveTcpEstablishment" })
        }
        if (current !== undefined && current !== conn) yield* closeSocket(current)
        current = conn
        yield* step({ _tag: "TcpConnectionConfirmed" })
        if (replay !== undefined) yield* onMessage(conn, replay)
      })

    const incoming = (socket: net.Socket) =>
      Effect.gen(function*() {
        // Established without CollisionDetectEstablishedState, stopping, or one collision already pending: refuse.
        if (stopped || fsm.name === "Established" || pending !== undefined) {
          socket.destroy()
          return
        }
        const conn = newConnection("RemotelyInitiated")
        wire(conn, socket)
        yield* log("accepted a connection from the peer")
        if (fsm.name === "OpenSent" || fsm.name === "OpenConfirm") {
          pending = conn
          return
        }
        yield* adopt(conn)
      })

    /** The first message on a pending incoming connection: its OPEN decides the collision. */
    const pendingFrame = (conn: Connection, bytes: Uint8Array) =>
      Effect.gen(function*() {
        pending = undefined
        const decoded = Codec.decodeMessage(bytes, conn.codec)
        if (Result.isFailure(decoded) || decoded.success._tag !== "Open") return yield* closeSocket(conn)
        if (fsm.name === "Established") return yield* notifyAndClose(conn, CeaseSubcode.ConnectionCollisionResolution)
        if ((fsm.name === "OpenSent" || fsm.name === "OpenConfirm") && current !== undefined) {
          const loser = Fsm.collisionLoser(fsm.config.localBgpId, decoded.success.bgpIdentifier)
          yield* log(`connection collision: closing the ${loser === "LocallyInitiated" ? "local" : "remote"}ly initiated one`)
          if (loser !== current.initiator) return yield* notifyAndClose(conn, CeaseSubcode.ConnectionCollisionResolution)
          yield* step({ _tag: "OpenCollisionDump" })
        }
        yield* adopt(conn, bytes)
      })

    const handle = (item: Input): Effect.Effect<void> =>
      Effect.gen(function*() {
        switch (item._tag) {
          case "TimerExpiry": {
            const event = yield* timers.accept(item)
            if (event._tag === "Some") yield* step(event.value)
            return
          }
          case "Event":
            if (pending !== undefined && item.conn === pending.id) {
              if (item.event._tag === "TcpConnectionFails") pending = undefined
              return
            }
            // Socket events of a connection that was dropped or replaced are stale.
            if (item.conn !== undefined && item.conn !== current?.id) return
            return yield* step(item.event)
          case "Incoming":
            return yield* incoming(item.socket)
          case "Frame":
            if (pending !== undefined && item.conn === pending.id) return yield* pendingFrame(pending, item.bytes)
            if (current === undefined || item.conn !== current.id) return
            return yield* onMessage(current, item.bytes)
          case "FrameError":
            if (item.conn !== current?.id) return
            return yield* step({ _tag: "BgpHeaderErr", notification: item.notification })
          case "BfdDown":
            if (fsm.name === "Idle") return
            yield* log("BFD session down: dropping the BGP session")
            return yield* step({ _tag: "AutomaticStop", subcode: CeaseSubcode.BfdDown })
          case "Stop":
            // A second stop (the scope closing after an explicit stop) has nothing left to do.
            if (stopped) return yield* Deferred.succeed(item.done, undefined)
            stopped = true
            yield* FiberHandle.clear(reconnect)
            if (pending !== undefined) yield* closeSocket(pending)
            pending = undefined
            if (item.subcode === undefined && fsm.name === "Established" && current?.negotiated?.peerGracefulRestart !== undefined) {
              yield* stopForRestart(current)
            } else {
              yield* step({ _tag: "ManualStop", subcode: item.subcode ?? CeaseSubcode.AdministrativeShutdown })
            }
            yield* Deferred.succeed(item.done, undefined)
            return
        }
      })

    // A defect in handling one item (a bug, or a socket call that threw) is logged; the session keeps running.
    const handleSafely = (item: Input) =>
      handle(item).pipe(Effect.catchDefect((defect) => Effect.logError(`BGP session: ${item._tag} failed`, defect).pipe(Effect.annotateLogs({ peer }))))
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(inbox), handleSafely)))

    if (config.bfd !== undefined) {
      let previous: string | undefined
      yield* SubscriptionRef.changes(config.bfd.state).pipe(
        Stream.runForEach((state) =>
          Effect.sync(() => {
            // Only Up → Down: a peer that never speaks BFD must not keep BGP down, and AdminDown is a graceful stop
            // of BFD that must not take BGP down (RFC 5882 §3.2).
            if (previous === "Up" && state === "Down") offerUnsafe({ _tag: "BfdDown" })
            previous = state
          })
        ),
        Effect.forkScoped
      )
    }

    const stop = (subcode: number | undefined) =>
      Effect.gen(function*() {
        const done = yield* Deferred.make<void>()
        yield* Queue.offer(inbox, { _tag: "Stop", subcode, done })
        yield* Deferred.await(done).pipe(Effect.timeoutOption("1 second"))
      })

    yield* Effect.addFinalizer(() =>
      Effect.andThen(stop(config.gracefulRestart === undefined ? CeaseSubcode.AdministrativeShutdown : undefined), Metrics.remove(Metrics.bgpSessionUp, labels))
    )

    if (listener !== undefined) {
      yield* listener.register(config.address, config.password, (socket) => offerUnsafe({ _tag: "Incoming", socket }))
    }

    yield* Queue.offer(inbox, { _tag: "Event", event: { _tag: "ManualStart" } })

    const sendUpdates = (connection: number, updates: ReadonlyArray<UpdateMessage>): Effect.Effect<boolean> =>
      Effect.gen(function*() {
        for (const update of updates) {
          const conn = current
          if (conn === undefined || fsm.name !== "Established" || establishedCount !== connection) return false
          if (!(yield* write(conn, update))) return false
          yield* Metrics.update(Metrics.bgpUpdatesSent, labels, 1)
        }
        return true
      })

    return { peer, config, status, sendUpdates, stop } satisfies Session
  })

// ---------------------------------------------------------------------------------------------------------------
// The listener: incoming connections from configured peers (unknown addresses are refused)

export interface ListenOptions {
  /** Default 179. */
  readonly port?: number
  /** Default: every IPv4 and IPv6 address. */
  readonly addresses?: ReadonlyArray<string>
}

export interface Listener {
  readonly port: number
  /** Hands connections from `address` to `onSocket` (MD5 key installed on the listening sockets) for the scope. */
  readonly register: (
    address: string,
    password: string | undefined,
    onSocket: (socket: net.Socket) => void
  ) => Effect.Effect<void, BgpSessionError, Scope.Scope>
}

/** Linux IPV6_V6ONLY: the IPv6 socket must not take the IPv4 port the IPv4 socket holds. */
const IPV6_V6ONLY = 26

const listenError = (message: string) => new BgpSessionError({ peer: "*", field: "listen", message })

const unmapped = (address: string | undefined) => (address ?? "").replace(/^::ffff:(?=\d+\.)/, "")

export const makeListener = (options: ListenOptions): Effect.Effect<Listener, BgpSessionError, Scope.Scope> =>
  Effect.gen(function*() {
    const wanted = options.port ?? 179
    const peers = new Map<string, (socket: net.Socket) => void>()
    const sockets: Array<{ readonly fd: number; readonly family: 4 | 6 }> = []
    const listenOn = (address: string, port: number) =>
      Effect.gen(function*() {
        const family: 4 | 6 = address.includes(":") ? 6 : 4
        const fd = yield* Native.tcpSocket(family)
        const bound = Effect.gen(function*() {
          if (family === 6) yield* Native.setSockOptInt(fd, Native.constants.IPPROTO_IPV6, IPV6_V6ONLY, 1)
          yield* Native.bindAddress(fd, address, port)
        })
        yield* bound.pipe(Effect.tapError(() => Native.closeFd(fd).pipe(Effect.ignore)))
        const server = yield* Effect.acquireRelease(
          Effect.callback<net.Server, BgpSessionError>((resume) => {
            const server = net.createServer((socket) => {
              const onSocket = peers.get(unmapped(socket.remoteAddress))
              if (onSocket === undefined) socket.destroy()
              else onSocket(socket)
            })
            server.once("error", (e) => resume(Effect.fail(listenError(`cannot listen on ${address}:${port}: ${e.message}`))))
            server.listen({ fd }, () => resume(Effect.succeed(server)))
          }),
          (server) => Effect.sync(() => server.close())
        )
        sockets.push({ fd, family })
        const a = server.address()
        return typeof a === "object" && a !== null ? a.port : port
      }).pipe(Effect.mapError((e) => (e instanceof BgpSessionError ? e : listenError(e.message))))
    const addresses = options.addresses ?? ["0.0.0.0", "::"]
    // With port 0 the first socket picks the port and the others share it.
    let port = wanted
    for (const address of addresses) port = yield* listenOn(address, port)

    const register: Listener["register"] = (address, password, onSocket) =>
      Effect.acquireRelease(
        Effect.gen(function*() {
          if (peers.has(address)) return yield* new BgpSessionError({ peer: address, field: "address", message: "a session to this peer is already open" })
          const family = address.includes(":") ? 6 : 4
          if (password !== undefined && password !== "") {
            for (const s of sockets) if (s.family === family) yield* Native.setTcpMd5(s.fd, address, password).pipe(Effect.mapError((e) => listenError(e.message)))
          }
          peers.set(address, onSocket)
        }),
        () =>
          Effect.gen(function*() {
            peers.delete(address)
            if (password !== undefined && password !== "") {
              for (const s of sockets) yield* Native.setTcpMd5(s.fd, address, "").pipe(Effect.ignore)
            }
          })
      )
    return { port, register } satisfies Listener
  })

/** The session layer: opens sessions for configured peers, each for the lifetime of its scope. */
export class BgpSession extends Context.Service<BgpSession, {
  readonly open: (peer: PeerConfig) => Effect.Effect<Session, BgpSessionError, Scope.Scope>
  /** The listening port when accepting connections (after `listen.port: 0`, the one the kernel chose). */
  readonly listenPort: number | undefined
}>()("metallb/bgp/BgpSession") {
  /** Sessions that dial out, and with `listen` also accept their peers' connections (collisions per RFC 4271 §6.8). */
  static readonly layer = (options: SessionOptions & { readonly listen?: ListenOptions }) =>
    Layer.effect(
      BgpSession,
      Effect.gen(function*() {
        const listener = options.listen === undefined ? undefined : yield* makeListener(options.listen)
        return BgpSession.of({ open: (peer) => open(peer, options, listener), listenPort: listener?.port })
      })
    )
}
