/**
 * An AF_PACKET socket on one interface, as a scoped resource: the kernel filter (classic BPF) keeps only the frames
 * a responder wants, a decoder turns each frame into a value (malformed frames are dropped and counted), and the
 * frames arrive either through a synchronous handler (a responder answers from inside the receive callback, with
 * no fiber hop, for latency) or as a Stream.
 *
 * `PacketSockets` is the service the responders depend on; its live layer opens real sockets through the native
 * addon, a test layer can hand out in-memory ones.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Queue, Result, Schema, type Scope, Stream } from "effect"
import * as Native from "../native/Native.ts"
import type { MalformedFrame } from "./MalformedFrame.ts"

/** A failed socket operation on an interface: the errno name (`ENODEV`, `EPERM`, `ENETDOWN`, ...) says why. */
export class PacketSocketError extends Schema.TaggedError<PacketSocketError>()("PacketSocketError", {
  interface: Schema.String,
  operation: Schema.String,
  code: Schema.String,
  message: Schema.String
}) {}

const fromNative = (ifname: string, operation: string) => (error: Native.NativeError): PacketSocketError =>
  new PacketSocketError({
    interface: ifname,
    operation,
    code: error.code,
    message: `${operation} on ${ifname}: ${error.message}`
  })

export interface PacketSocketOptions<A> {
  readonly interface: string
  /** Ethertype the socket is bound to (0x0806 for ARP, 0x86dd for NDP). */
  readonly ethertype: number
  /** Classic BPF program run in the kernel before a frame is queued (see Bpf.ts). */
  readonly filter?: ReadonlyArray<Native.BpfInstruction>
  readonly decode: (frame: Uint8Array) => Result.Result<A, MalformedFrame>
  /** Called for each frame the decoder rejects, after it is counted (for rate-limited logging). */
  readonly onMalformed?: (error: MalformedFrame) => void
}

/** A decoded frame and how it reached the interface (`Native.constants.PACKET_HOST`, `PACKET_BROADCAST`, ...). */
export interface Received<A> {
  readonly value: A
  readonly packetType: number
}

export interface PacketSocketStats {
  readonly received: number
  readonly malformed: number
  /** Frames a Stream consumer was too slow to take (its buffer was full). */
  readonly overflowed: number
  readonly sent: number
  readonly sendErrors: number
}

export interface PacketSocket<A> {
  readonly interface: Native.InterfaceFacts
  /**
   * Delivers every decoded frame to `handler`, synchronously inside the receive callback, until the scope closes.
   * One receiver at a time per socket: a second one fails with code `EBUSY`.
   */
  readonly receive: (
    handler: (value: A, packetType: number) => void
  ) => Effect.Effect<void, PacketSocketError, Scope.Scope>
  /** The decoded frames as a Stream (bounded buffer, newest dropped on overflow and counted). */
  readonly frames: Stream.Stream<Received<A>, PacketSocketError>
  readonly send: (frame: Uint8Array) => Effect.Effect<void, PacketSocketError>
  /** `send` for the synchronous path: no Effect to run, the error comes back as a value. */
  readonly sendNow: (frame: Uint8Array) => Result.Result<number, PacketSocketError>
  /**
   * Has the receiver answer ARP requests for these IPv4 addresses itself, with the interface MAC, before the frame
   * reaches the handler (whose packet type then carries `Native.constants.PACKET_ANSWERED`). Replaces the previous
   * table; kept across receivers.
   */
  readonly answerArp: (ips: ReadonlyArray<Uint8Array>) => void
  /** Makes the interface accept frames to a multicast MAC (solicited-node groups), until `leave` or close. */
  readonly join: (mac: Uint8Array) => Effect.Effect<void, PacketSocketError>
  readonly leave: (mac: Uint8Array) => Effect.Effect<void, PacketSocketError>
  readonly stats: Effect.Effect<PacketSocketStats>
}

const STREAM_BUFFER = 4096
const RECEIVE_BUFFER = 16 * 1024 * 1024

const asBuffer = (frame: Uint8Array): Buffer =>
  Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength)

/** Opens the socket for the life of the scope; the reader started by `receive` or `frames` stops before it closes. */
export const open = <A>(options: PacketSocketOptions<A>): Effect.Effect<PacketSocket<A>, PacketSocketError, Scope.Scope> =>
  Effect.gen(function*() {
    const ifname = options.interface
    const facts = yield* Native.interfaceInfo(ifname).pipe(Effect.mapError(fromNative(ifname, "interfaceInfo")))
    const raw = yield* Effect.acquireRelease(
      Native.openPacket(ifname, options.ethertype, options.filter).pipe(Effect.mapError(fromNative(ifname, "open"))),
      (socket) => Native.closeFd(socket.fd).pipe(Effect.ignore)
    )
    // Room for a burst: a request flood must not overflow the queue while the process is descheduled or collecting
    // garbage for a while (the kernel charges a small veth frame ~2 KB, so the default ~212 KB holds only ~100;
    // 16 MiB holds ~0.4 s of a 20,000/s flood). Memory is used only while frames wait. Beyond rmem_max only with
    // CAP_NET_ADMIN; best effort.
    yield* Native.setSockOptInt(raw.fd, Native.constants.SOL_SOCKET, Native.constants.SO_RCVBUFFORCE, RECEIVE_BUFFER).pipe(
      Effect.catch(() => Native.setSockOptInt(raw.fd, Native.constants.SOL_SOCKET, Native.constants.SO_RCVBUF, RECEIVE_BUFFER)),
      Effect.ignore
    )
    const counters = { received: 0, malformed: 0, overflowed: 0, sent: 0, sendErrors: 0 }
    let receiving = false
    let receiver: Native.Receiver | undefined
    let arpTable: ReadonlyArray<Uint8Array> = []

    const receive = (handler: (value: A, packetType: number) => void) => {
      const onFrames = (frames: ReadonlyArray<Buffer>, types: ReadonlyArray<number>) => {
        for (let i = 0; i < frames.length; i++) {
          const frame = frames[i]
          if (frame === undefined) continue
          counters.received++
          const decoded = options.decode(frame)
          if (Result.isSuccess(decoded)) {
            handler(decoded.success, types[i] ?? 0)
          } else {
            counters.malformed++
            options.onMalformed?.(decoded.failure)
          }
        }
      }
      const start = Effect.suspend(() =>
        receiving
          ? Effect.fail(
            new PacketSocketError({
              interface: ifname,
              operation: "receive",
              code: "EBUSY",
              message: `receive on ${ifname}: the socket already has a receiver`
            })
          )
          : Native.startReceiving(raw, onFrames).pipe(
            Effect.mapError(fromNative(ifname, "receive")),
            Effect.tap((r) =>
              Effect.sync(() => {
                receiving = true
                receiver = r
                if (arpTable.length > 0) r.answerArp(facts.mac, arpTable)
              })
            )
          )
      )
      return Effect.asVoid(Effect.acquireRelease(start, (r) =>
        Effect.sync(() => {
          r.stop()
          receiver = undefined
          receiving = false
        })))
    }

    const frames = Stream.callback<Received<A>, PacketSocketError>((queue) =>
      receive((value, packetType) => {
        if (!Queue.offerUnsafe(queue, { value, packetType })) counters.overflowed++
      }), { bufferSize: STREAM_BUFFER, strategy: "dropping" })

    const sendNow = (frame: Uint8Array): Result.Result<number, PacketSocketError> => {
      try {
        const n = Native.sendFrameUnsafe(raw, asBuffer(frame))
        counters.sent++
        return Result.succeed(n)
      } catch (cause) {
        counters.sendErrors++
        const code = (cause as { code?: unknown }).code
        return Result.fail(
          new PacketSocketError({
            interface: ifname,
            operation: "send",
            code: typeof code === "string" ? code : "EUNKNOWN",
            message: `send on ${ifname}: ${cause instanceof Error ? cause.message : String(cause)}`
          })
        )
      }
    }

    const membership = (mac: Uint8Array, add: boolean) =>
      Native.addPacketMembership(raw, mac, add).pipe(Effect.mapError(fromNative(ifname, add ? "join" : "leave")))

    return {
      interface: facts,
      receive,
      frames,
      send: (frame) => Effect.suspend(() => Effect.fromResult(sendNow(frame))).pipe(Effect.asVoid),
      sendNow,
      answerArp: (ips) => {
        arpTable = ips
        receiver?.answerArp(facts.mac, ips)
      },
      join: (mac) => membership(mac, true),
      leave: (mac) => membership(mac, false),
      stats: Effect.sync(() => ({ ...counters }))
    } satisfies PacketSocket<A>
  })

/** The factory the responders use, so their tests can swap in sockets that never touch the network. */
export class PacketSockets extends Context.Service<PacketSockets, {
  readonly open: <A>(options: PacketSocketOptions<A>) => Effect.Effect<PacketSocket<A>, PacketSocketError, Scope.Scope>
}>()("metallb/layer2/PacketSockets") {
  /** Real AF_PACKET sockets (needs CAP_NET_RAW). */
  static readonly layer = Layer.succeed(PacketSockets, { open })
}
