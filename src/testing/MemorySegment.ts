/**
 * An in-memory Ethernet segment for tests: each host gets a `PacketSockets` layer whose sockets deliver every sent
 * frame to the other hosts' sockets of the same ethertype on the same interface name (never back to the sender, as
 * the native reader skips outgoing frames). Links can be cut per host, so receive-path and link failures can be
 * played on TestClock.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Queue, Result, Stream } from "effect"
import * as PacketSocket from "../layer2/PacketSocket.ts"

interface Endpoint {
  readonly host: string
  readonly iface: string
  readonly ethertype: number
  readonly deliver: (frame: Uint8Array) => void
}

export interface MemorySegment {
  /** The PacketSockets of `host`; its interfaces get MAC 02:00:00:00:00:`index`. */
  readonly sockets: (host: string, index: number) => Layer.Layer<PacketSocket.PacketSockets>
  /** Cuts (false) or restores (true) what `host` sends and receives; a cut sender's sends fail with ENETDOWN. */
  readonly setLink: (host: string, up: boolean) => void
  /** Drops what `host` receives while keeping its sends (a broken receive path). */
  readonly setDeaf: (host: string, deaf: boolean) => void
  readonly linkUp: (host: string) => boolean
}

export const make = (): MemorySegment => {
  const endpoints = new Set<Endpoint>()
  const down = new Set<string>()
  const deaf = new Set<string>()

  const open = (host: string, index: number) => <A>(options: PacketSocket.PacketSocketOptions<A>) =>
    Effect.gen(function*() {
      const queue = yield* Queue.sliding<PacketSocket.Received<A>>(4096)
      const counters = { received: 0, malformed: 0, overflowed: 0, sent: 0, sendErrors: 0 }
      const endpoint: Endpoint = {
        host,
        iface: options.interface,
        ethertype: options.ethertype,
        deliver: (frame) => {
          counters.received++
          const decoded = options.decode(frame)
          if (Result.isSuccess(decoded)) Queue.offerUnsafe(queue, { value: decoded.success, packetType: 2 })
          else counters.malformed++
        }
      }
      yield* Effect.acquireRelease(Effect.sync(() => endpoints.add(endpoint)), () => Effect.sync(() => endpoints.delete(endpoint)))
      const mac = Uint8Array.of(2, 0, 0, 0, 0, index)
      const sendNow = (frame: Uint8Array): Result.Result<number, PacketSocket.PacketSocketError> => {
        if (down.has(host)) {
          counters.sendErrors++
          return Result.fail(
            new PacketSocket.PacketSocketError({ interface: options.interface, operation: "send", code: "ENETDOWN", message: "link down" })
          )
        }
        counters.sent++
        for (const e of endpoints) {
          if (e.host !== host && e.iface === options.interface && e.ethertype === options.ethertype && !down.has(e.host) && !deaf.has(e.host)) {
            e.deliver(frame)
          }
        }
        return Result.succeed(frame.length)
      }
      const socket: PacketSocket.PacketSocket<A> = {
        interface: { name: options.interface, index, mac, flags: 0, mtu: 1500, up: true, broadcast: true, noArp: false, loopback: false },
        receive: () => Effect.void,
        frames: Stream.fromQueue(queue),
        send: (frame) => Effect.asVoid(Effect.fromResult(sendNow(frame))),
        sendNow,
        // Nothing is answered below JavaScript here: frames arrive unflagged and the responder answers them itself.
        answerArp: () => undefined,
        join: () => Effect.void,
        leave: () => Effect.void,
        stats: Effect.sync(() => ({ ...counters }))
      }
      return socket
    })

  return {
    sockets: (host, index) => Layer.succeed(PacketSocket.PacketSockets, { open: open(host, index) }),
    setLink: (host, up) => void (up ? down.delete(host) : down.add(host)),
    setDeaf: (host, d) => void (d ? deaf.add(host) : deaf.delete(host)),
    linkUp: (host) => !down.has(host)
  }
}
