import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Queue, Result, Schedule, SubscriptionRef } from "effect"
import { TestClock } from "effect/testing"
import * as net from "node:net"
import { crc32 } from "node:zlib"
import * as BgpSession from "../../src/bgp/BgpSession.ts"
import { decodeMessage, encodeMessage } from "../../src/bgp/Codec.ts"
import type { BgpMessage } from "../../src/bgp/Message.ts"
import { AS_TRANS } from "../../src/bgp/Message.ts"
import { establish, establishWith, type FakeConnection, fakeRouter, keepalive, nextOf, peerConfig, routerOpen, until } from "./fakeRouter.ts"
import { MessageReader } from "../../src/bgp/MessageReader.ts"
import { makeOpen } from "../../src/bgp/Negotiation.ts"


const field = (extra: Partial<BgpSession.PeerConfig>) => {
  const r = BgpSession.validateConfig(peerConfig(179, extra))
  return Result.isFailure(r) ? r.failure.field : undefined
}
const n = (code: number) => ({ code, subcode: 1, data: new Uint8Array() })

describe("BgpSession helpers", () => {
  it("router ID: configured, else the local IPv4, else CRC-32 of the node name little-endian (MetalLB)", () => {
    const c = crc32("node-1") >>> 0
    const le = ((c & 0xff) * 2 ** 24) + ((c >>> 8) & 0xff) * 2 ** 16 + ((c >>> 16) & 0xff) * 2 ** 8 + (c >>> 24)
    assert.strictEqual(BgpSession.routerIdFromNodeName("node-1"), le)
    const config = peerConfig(179)
    assert.strictEqual(BgpSession.routerIdFor({ ...config, routerId: "10.0.0.1" }, "192.0.2.11", "n"), 0x0a000001)
    assert.strictEqual(BgpSession.routerIdFor(config, "192.0.2.11", "n"), 0xc000020b)
    assert.strictEqual(BgpSession.routerIdFor(config, "::ffff:192.0.2.11", "n"), 0xc000020b)
    assert.strictEqual(BgpSession.routerIdFor(config, "2001:db8::1", "node-1"), le)
  })

  it("OPEN: AS_TRANS in My AS above 65535, MP IPv4+IPv6, route refresh, 4-octet AS, GR with the R bit when restarting", () => {
    const open = BgpSession.openFor(peerConfig(179, { localAsn: 4200000000, gracefulRestart: { restartTime: 120 } }), 1, true)
    assert.strictEqual(open.myAs, AS_TRANS)
    assert.strictEqual(open.holdTime, 9)
    const tags = open.capabilities.map((c) => c._tag)
    assert.deepStrictEqual(tags, ["Multiprotocol", "Multiprotocol", "RouteRefresh", "GracefulRestart", "FourOctetAs"])
    const gr = open.capabilities.find((c) => c._tag === "GracefulRestart")
    assert.deepStrictEqual(gr, {
      _tag: "GracefulRestart",
      flags: 0x8,
      restartTime: 120,
      families: [{ afi: 1, safi: 1, flags: 0x80 }, { afi: 2, safi: 1, flags: 0x80 }]
    })
    assert.isFalse(BgpSession.openFor(peerConfig(179), 1, false).capabilities.some((c) => c._tag === "GracefulRestart"))
  })

  it("rejects bad configuration naming the field", () => {
    assert.strictEqual(field({ address: "nope" }), "address")
    assert.strictEqual(field({ port: 0 }), "port")
    assert.strictEqual(field({ localAsn: 0 }), "myASN")
    assert.strictEqual(field({ peerAsn: 2 ** 32 }), "peerASN")
    assert.strictEqual(field({ holdTime: 2 }), "holdTime")
    assert.strictEqual(field({ holdTime: 9, keepaliveTime: 9 }), "keepaliveTime")
    assert.strictEqual(field({ connectTime: 0 }), "connectTime")
    assert.strictEqual(field({ routerId: "2001:db8::1" }), "routerID")
    assert.strictEqual(field({ password: "x".repeat(81) }), "password")
    assert.strictEqual(field({ gracefulRestart: { restartTime: 5000 } }), "gracefulRestart.restartTime")
    assert.isUndefined(field({}))
  })

  it("maps codec errors to the FSM event that carries their NOTIFICATION", () => {
    assert.strictEqual(BgpSession.decodeErrorEvent(n(1))._tag, "BgpHeaderErr")
    assert.strictEqual(BgpSession.decodeErrorEvent(n(2))._tag, "BgpOpenMsgErr")
    assert.strictEqual(BgpSession.decodeErrorEvent(n(3))._tag, "UpdateMsgErr")
  })
})

describe("BgpSession reconnect schedule", () => {
  it.effect("doubles from the base with ±20% jitter and stops growing at connectTime", () =>
    Effect.gen(function*() {
      const step = yield* Schedule.toStep(BgpSession.reconnectSchedule("1 second", Duration.seconds(30)))
      let now = 0
      for (let i = 0; i < 10; i++) {
        const [, delay] = yield* step(now, undefined)
        const wait = Duration.toMillis(delay)
        const nominal = 1000 * 2 ** i
        assert.isAtLeast(wait, Math.min(nominal * 0.8, 30_000), `attempt ${i}: ${wait} ms`)
        assert.isAtMost(wait, Math.min(nominal * 1.2, 30_000), `attempt ${i}: ${wait} ms`)
        now += wait
      }
    }))
})

// What the router saw when the session's scope closed: the messages that came, once our side has closed.
const closeWith = (extra: Partial<BgpSession.PeerConfig>, open: Uint8Array) =>
  Effect.gen(function*() {
    const done = yield* Deferred.make<FakeConnection>()
    yield* Effect.scoped(Effect.gen(function*() {
      const { c } = yield* establishWith(extra, open)
      yield* Deferred.succeed(done, c)
    }))
    const c = yield* Deferred.await(done)
    yield* Effect.callback<void>((resume) => {
      if (c.socket.readableEnded || c.socket.destroyed) return resume(Effect.void)
      c.socket.once("end", () => resume(Effect.void))
      c.socket.once("close", () => resume(Effect.void))
    }).pipe(Effect.timeout("5 seconds"))
    return (yield* Queue.clear(c.messages)).map((m) => m._tag)
  })
const grOpen = encodeMessage(makeOpen({
  asn: 64512,
  holdTime: 9,
  bgpIdentifier: 0x01010101,
  families: [{ afi: 1, safi: 1 }],
  gracefulRestart: { restartTime: 120, restarting: false, forwardingPreserved: false }
}))

describe("BgpSession over loopback", () => {
  it.live("reaches Established with a router and sends our OPEN first", () =>
    Effect.scoped(Effect.gen(function*() {
      const { session, open } = yield* establish
      assert.strictEqual(open.myAs, 64500)
      assert.strictEqual(open.bgpIdentifier, 0x7f000001) // the session's local IPv4
      const s = yield* SubscriptionRef.get(session.status)
      assert.strictEqual(s.established?.holdTime, 9)
      assert.isFalse(s.established?.internal)
      assert.deepStrictEqual(s.established?.families, [{ afi: 1, safi: 1 }])
    })))

  it.live("answers a malformed UPDATE with the NOTIFICATION the codec names, then reconnects", () =>
    Effect.scoped(Effect.gen(function*() {
      const { router, session, c } = yield* establish
      // Withdrawn Routes Length overruns the message: 3/1 Malformed Attribute List.
      const bad = Uint8Array.from([...new Uint8Array(16).fill(0xff), 0, 23, 2, 0, 9, 0, 0])
      const expected = decodeMessage(bad)
      assert.isTrue(Result.isFailure(expected))
      if (Result.isSuccess(expected)) return
      yield* c.send(bad)
      const n = yield* nextOf(c, "Notification")
      assert.strictEqual(n.code, expected.failure.code)
      assert.strictEqual(n.subcode, expected.failure.subcode)
      const down = yield* until(session.status, (s) => s.established === undefined)
      assert.match(down._tag === "Some" ? down.value.lastError ?? "" : "", /UPDATE Message Error \/ Malformed Attribute List/)
      // The reconnect schedule dials again.
      yield* Queue.take(router.connections).pipe(Effect.timeout("5 seconds"))
    })))

  it.live("refuses a router with the wrong AS (2/2) and a bad header (1/1)", () =>
    Effect.scoped(Effect.gen(function*() {
      const router = yield* fakeRouter
      yield* BgpSession.open(peerConfig(router.port), { nodeName: "n1" })
      const c = yield* Queue.take(router.connections)
      yield* nextOf(c, "Open")
      yield* c.send(routerOpen(64999))
      const n = yield* nextOf(c, "Notification")
      assert.deepStrictEqual([n.code, n.subcode], [2, 2])
      const again = yield* Queue.take(router.connections).pipe(Effect.timeout("5 seconds"))
      yield* nextOf(again, "Open")
      yield* again.send(Uint8Array.from([...new Uint8Array(16).fill(0xfe), 0, 19, 4]))
      const h = yield* nextOf(again, "Notification")
      assert.deepStrictEqual([h.code, h.subcode], [1, 1])
    })))

  it.effect("on TestClock: KEEPALIVEs every hold/3, and Hold Timer Expired after the negotiated hold time of silence", () =>
    Effect.scoped(Effect.gen(function*() {
      const { session, c } = yield* establish
      // Negotiated hold 9 s, keepalive 3 s (jittered to 2.25–3 s): three in 9 s.
      yield* TestClock.adjust("3 seconds")
      yield* nextOf(c, "Keepalive")
      yield* TestClock.adjust("3 seconds")
      yield* nextOf(c, "Keepalive")
      // The router's last word was its KEEPALIVE during the handshake; 9 s of silence in all.
      yield* TestClock.adjust("3 seconds")
      const n = yield* nextOf(c, "Notification")
      assert.deepStrictEqual([n.code, n.subcode], [4, 0])
      const s = yield* SubscriptionRef.get(session.status)
      assert.strictEqual(s.lastError, "sent Hold Timer Expired / Unspecific")
    })))

  it.live("sends Cease / Administrative Shutdown when its scope closes", () =>
    Effect.gen(function*() {
      const done = yield* Deferred.make<FakeConnection>()
      yield* Effect.scoped(Effect.gen(function*() {
        const { c } = yield* establish
        yield* Deferred.succeed(done, c)
      }))
      const c = yield* Deferred.await(done)
      const n = yield* nextOf(c, "Notification")
      assert.deepStrictEqual([n.code, n.subcode], [6, 2])
    }))

  it.live("with graceful restart negotiated, closing its scope is a restart: the connection ends without a NOTIFICATION", () =>
    Effect.gen(function*() {
      const seen = yield* closeWith({ gracefulRestart: { restartTime: 120 } }, grOpen)
      assert.notInclude(seen, "Notification")
    }))

  it.live("graceful restart configured but not announced by the router: closing its scope still sends Cease", () =>
    Effect.gen(function*() {
      assert.include(yield* closeWith({ gracefulRestart: { restartTime: 120 } }, routerOpen()), "Notification")
      // And announced by the router but not configured here: Cease too.
      assert.include(yield* closeWith({}, grOpen), "Notification")
    }))

  it.live("with graceful restart negotiated, an explicit stop (peer removed) still sends its Cease", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const { c, session } = yield* establishWith({ gracefulRestart: { restartTime: 120 } }, grOpen)
        yield* session.stop(3)
        const n = yield* nextOf(c, "Notification")
        assert.deepStrictEqual([n.code, n.subcode], [6, 3])
      }))
    }))
})

/** Connects to our listener from 127.0.0.1 like a router dialling us. */
const dialUs = (port: number) =>
  Effect.gen(function*() {
    const messages = yield* Queue.unbounded<BgpMessage>()
    const socket = yield* Effect.acquireRelease(
      Effect.callback<net.Socket>((resume) => {
        const socket = net.connect({ port, host: "127.0.0.1" }, () => resume(Effect.succeed(socket)))
      }),
      (socket) => Effect.sync(() => socket.destroy())
    )
    const reader = new MessageReader()
    socket.on("data", (chunk) => {
      for (const frame of reader.feed(chunk).frames) {
        const m = decodeMessage(frame, { fourOctetAs: true })
        if (Result.isSuccess(m)) Queue.offerUnsafe(messages, m.success)
      }
    })
    socket.on("error", () => undefined)
    return { socket, messages, send: (bytes: Uint8Array) => Effect.sync(() => void socket.write(bytes)) } satisfies FakeConnection
  })

const openWithId = (bgpIdentifier: number) =>
  encodeMessage(makeOpen({ asn: 64512, holdTime: 9, bgpIdentifier, families: [{ afi: 1, safi: 1 }] }))

describe("BgpSession accepting connections", () => {
  it.live("accepts the peer's connection while it cannot dial, and reaches Established on it", () =>
    Effect.scoped(Effect.gen(function*() {
      const listener = yield* BgpSession.makeListener({ port: 0, addresses: ["127.0.0.1"] })
      // Nothing listens on port 1: our own dial fails and the session waits in its reconnect backoff.
      const session = yield* BgpSession.open(peerConfig(1), { nodeName: "n1" }, listener)
      const c = yield* dialUs(listener.port)
      yield* nextOf(c, "Open")
      yield* c.send(routerOpen())
      yield* c.send(keepalive)
      yield* nextOf(c, "Keepalive")
      yield* until(session.status, (s) => s.established !== undefined)
    })))

  it.live("collision, the peer has the higher BGP Identifier: our connection gets Cease 7, the peer's is kept", () =>
    Effect.scoped(Effect.gen(function*() {
      const router = yield* fakeRouter
      const listener = yield* BgpSession.makeListener({ port: 0, addresses: ["127.0.0.1"] })
      const session = yield* BgpSession.open(peerConfig(router.port), { nodeName: "n1" }, listener)
      const ours = yield* Queue.take(router.connections)
      yield* nextOf(ours, "Open") // we are in OpenSent on our connection
      const theirs = yield* dialUs(listener.port)
      yield* theirs.send(openWithId(0xc6336401)) // 198.51.100.1 > 127.0.0.1
      const cease = yield* nextOf(ours, "Notification")
      assert.deepStrictEqual([cease.code, cease.subcode], [6, 7])
      yield* nextOf(theirs, "Open")
      yield* nextOf(theirs, "Keepalive")
      yield* theirs.send(keepalive)
      yield* until(session.status, (s) => s.established !== undefined)
    })))

  it.live("collision, we have the higher BGP Identifier: the peer's connection gets Cease 7, ours is kept", () =>
    Effect.scoped(Effect.gen(function*() {
      const router = yield* fakeRouter
      const listener = yield* BgpSession.makeListener({ port: 0, addresses: ["127.0.0.1"] })
      const session = yield* BgpSession.open(peerConfig(router.port), { nodeName: "n1" }, listener)
      const ours = yield* Queue.take(router.connections)
      yield* nextOf(ours, "Open")
      const theirs = yield* dialUs(listener.port)
      yield* theirs.send(openWithId(0x01010101)) // 1.1.1.1 < 127.0.0.1
      const cease = yield* nextOf(theirs, "Notification")
      assert.deepStrictEqual([cease.code, cease.subcode], [6, 7])
      yield* ours.send(openWithId(0x01010101))
      yield* ours.send(keepalive)
      yield* until(session.status, (s) => s.established !== undefined)
    })))
})
