// A scripted BGP router on 127.0.0.1 for session and speaker tests: it hands each connection's decoded messages to
// the test and sends whatever the test tells it to.
import { Effect, Queue, Result, Stream, SubscriptionRef } from "effect"
import * as net from "node:net"
import * as BgpSession from "../../src/bgp/BgpSession.ts"
import { decodeMessage, encodeMessage } from "../../src/bgp/Codec.ts"
import type { BgpMessage } from "../../src/bgp/Message.ts"
import { MessageReader } from "../../src/bgp/MessageReader.ts"
import { makeOpen } from "../../src/bgp/Negotiation.ts"

export const peerConfig = (port: number, extra: Partial<BgpSession.PeerConfig> = {}): BgpSession.PeerConfig => ({
  address: "127.0.0.1",
  port,
  localAsn: 64500,
  peerAsn: 64512,
  holdTime: 9,
  ...extra
})

/** A scripted router on 127.0.0.1: hands each connection's decoded messages to the test, sends what it is told. */
export const fakeRouter = Effect.acquireRelease(
  Effect.flatMap(Queue.unbounded<FakeConnection>(), (connections) => Effect.callback<{ server: net.Server; port: number; connections: Queue.Queue<FakeConnection> }>((resume) => {
    const server = net.createServer((socket) => {
      const messages = Effect.runSync(Queue.unbounded<BgpMessage>())
      const reader = new MessageReader()
      socket.on("data", (chunk) => {
        for (const frame of reader.feed(chunk).frames) {
          const m = decodeMessage(frame, { fourOctetAs: true })
          if (Result.isSuccess(m)) Queue.offerUnsafe(messages, m.success)
        }
      })
      socket.on("error", () => undefined)
      Queue.offerUnsafe(connections, { socket, messages, send: (bytes: Uint8Array) => Effect.sync(() => void socket.write(bytes)) })
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      resume(Effect.succeed({ server, port: typeof address === "object" && address !== null ? address.port : 0, connections }))
    })
  })),
  ({ server }) => Effect.sync(() => server.close())
)

export interface FakeConnection {
  readonly socket: net.Socket
  readonly messages: Queue.Queue<BgpMessage>
  readonly send: (bytes: Uint8Array) => Effect.Effect<void>
}

export const routerOpen = (asn = 64512) =>
  encodeMessage(makeOpen({ asn, holdTime: 9, bgpIdentifier: 0x01010101, families: [{ afi: 1, safi: 1 }] }))
export const keepalive = encodeMessage({ _tag: "Keepalive" })

export const until = (status: SubscriptionRef.SubscriptionRef<BgpSession.SessionStatus>, p: (s: BgpSession.SessionStatus) => boolean) =>
  SubscriptionRef.changes(status).pipe(Stream.filter(p), Stream.runHead, Effect.timeout("5 seconds"))

export const nextOf = <T extends BgpMessage["_tag"]>(c: FakeConnection, tag: T) =>
  Effect.gen(function*() {
    while (true) {
      const m = yield* Queue.take(c.messages)
      if (m._tag === tag) return m as Extract<BgpMessage, { _tag: T }>
    }
  }).pipe(Effect.timeout("5 seconds"))

/** A session with the fake router (our config plus `extra`, the router's OPEN `open`), up to Established. */
export const establishWith = (extra: Partial<BgpSession.PeerConfig> = {}, open: Uint8Array = routerOpen()) => Effect.gen(function*() {
  const router = yield* fakeRouter
  const session = yield* BgpSession.open(peerConfig(router.port, extra), { nodeName: "n1" })
  const c = yield* Queue.take(router.connections)
  const ours = yield* nextOf(c, "Open")
  yield* c.send(open)
  yield* c.send(keepalive)
  yield* nextOf(c, "Keepalive")
  yield* until(session.status, (s) => s.established !== undefined)
  return { router, session, c, open: ours }
})

export const establish = establishWith()
