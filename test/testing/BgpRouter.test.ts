/**
 * The sandbox router against the project's own codec, driven by hand over loopback: OPEN exchange and AS rules,
 * routes stored per prefix per peer with their attributes, withdrawals, End-of-RIB, RFC 7606 treat-as-withdraw, the
 * NOTIFICATIONs it sends for bad input, the hold timer on the TestClock, graceful restart, and the text views.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Result, Stream } from "effect"
import { TestClock } from "effect/testing"
import { connect, type Socket } from "node:net"
import { asPathAttributes } from "../../src/bgp/Attributes.ts"
import { decodeMessage, encodeMessage, endOfRib } from "../../src/bgp/Codec.ts"
import type { CodecOptions } from "../../src/bgp/Codec.ts"
import type { BgpMessage, OpenMessage, PathAttribute, UpdateMessage } from "../../src/bgp/Message.ts"
import { keepalive } from "../../src/bgp/Message.ts"
import { MessageReader } from "../../src/bgp/MessageReader.ts"
import { makeOpen } from "../../src/bgp/Negotiation.ts"
import { CeaseSubcode, ErrorCode, FsmSubcode, HeaderSubcode, OpenSubcode } from "../../src/bgp/Notification.ts"
import * as Prefix from "../../src/bgp/Prefix.ts"
import { type BgpRouterOptions, make } from "../../src/testing/BgpRouter.ts"
import type { RouterSnapshot } from "../../src/testing/BgpRib.ts"

const routerAs = 64512
const nodeAs = 64500

/** A hand-driven client connection: decodes every frame, hands messages out in order. */
class Client {
  private readonly reader = new MessageReader()
  private readonly inbox: Array<BgpMessage | "closed"> = []
  private waiter: (() => void) | undefined
  options: CodecOptions = { fourOctetAs: true }

  readonly socket: Socket

  constructor(socket: Socket) {
    this.socket = socket
    socket.on("data", (chunk: Buffer) => {
      for (const frame of this.reader.feed(chunk).frames) {
        const decoded = decodeMessage(frame, this.options)
        if (Result.isSuccess(decoded)) this.inbox.push(decoded.success)
      }
      this.waiter?.()
    })
    socket.on("close", () => {
      this.inbox.push("closed")
      this.waiter?.()
    })
    socket.on("error", () => undefined)
  }

  send(message: BgpMessage | Uint8Array): void {
    this.socket.write(message instanceof Uint8Array ? message : encodeMessage(message, this.options))
  }

  next(): Promise<BgpMessage | "closed"> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no message within 5 s")), 5000)
      const poll = () => {
        const item = this.inbox.shift()
        if (item === undefined) {
          this.waiter = poll
          return
        }
        this.waiter = undefined
        clearTimeout(timer)
        resolve(item)
      }
      poll()
    })
  }

  async expect<T extends BgpMessage["_tag"]>(tag: T): Promise<Extract<BgpMessage, { _tag: T }>> {
    const message = await this.next()
    if (message === "closed" || message._tag !== tag) {
      throw new Error(`expected ${tag}, got ${message === "closed" ? "close" : JSON.stringify(message)}`)
    }
    return message as Extract<BgpMessage, { _tag: T }>
  }
}

const open = (localAddress: string, port: number): Effect.Effect<Client> =>
  Effect.callback<Client>((resume) => {
    const socket = connect({ host: "127.0.0.1", port, localAddress })
    socket.once("connect", () => resume(Effect.succeed(new Client(socket))))
  })

const nodeOpen = (asn = nodeAs, gracefulRestart = false): OpenMessage =>
  makeOpen({
    asn,
    holdTime: 90,
    bgpIdentifier: 0x0a000003,
    families: [{ afi: 1, safi: 1 }],
    routeRefresh: true,
    ...(gracefulRestart ? { gracefulRestart: { restartTime: 30, restarting: false, forwardingPreserved: false } } : {})
  })

/** OPEN → OPEN + KEEPALIVE → KEEPALIVE → End-of-RIB: an Established session. */
const establish = (client: Client, openMessage = nodeOpen()) =>
  Effect.promise(async () => {
    const theirs = await client.expect("Open")
    client.send(openMessage)
    await client.expect("Keepalive")
    client.send(keepalive)
    const eor = await client.expect("Update")
    return { theirs, eor }
  })

const v4 = (text: string) => Result.getOrThrow(Prefix.parse(text))

const announce = (prefixes: ReadonlyArray<string>, nextHop: string, extra: ReadonlyArray<PathAttribute> = []): UpdateMessage => ({
  _tag: "Update",
  withdrawn: [],
  attributes: [
    { _tag: "Origin", value: 2 },
    ...asPathAttributes([nodeAs], true),
    { _tag: "NextHop", address: Prefix.parseAddress(nextHop)?.bytes ?? new Uint8Array(4) },
    ...extra
  ],
  nlri: prefixes.map(v4)
})

const withRouter = <A, E>(
  options: Partial<BgpRouterOptions>,
  body: (router: Effect.Success<ReturnType<typeof make>>) => Effect.Effect<A, E>
) =>
  Effect.scoped(
    Effect.gen(function*() {
      const router = yield* make({ asn: routerAs, routerId: "192.0.2.1", ...options })
      return yield* body(router)
    })
  )

const paths = (snapshot: RouterSnapshot, prefix: string) => snapshot.routes.find((r) => r.prefix === prefix)?.paths ?? []

describe("BgpRouter", () => {
  it.live("answers OPEN with its capabilities, stores paths per peer with their attributes, picks best and multipaths", () =>
    withRouter({ peerAs: "external", acceptLoopbackNextHops: false }, (router) =>
      Effect.gen(function*() {
        const a = yield* open("127.0.0.3", router.port)
        const { theirs, eor } = yield* establish(a)
        assert.deepStrictEqual(theirs.capabilities.map((c) => c._tag), [
          "Multiprotocol",
          "Multiprotocol",
          "RouteRefresh",
          "GracefulRestart",
          "FourOctetAs"
        ])
        assert.strictEqual(theirs.holdTime, 90)
        assert.deepStrictEqual(eor, endOfRib(1, 1))
        const b = yield* open("127.0.0.4", router.port)
        yield* establish(b)
        a.send(announce(["203.0.113.10/32"], "192.0.2.11", [
          { _tag: "Communities", values: [64500 * 65536 + 100] },
          { _tag: "LargeCommunities", values: [{ globalAdmin: 64500, localData1: 1, localData2: 2 }] },
          { _tag: "LocalPref", value: 200 }
        ]))
        b.send(announce(["203.0.113.10/32", "203.0.113.20/32"], "192.0.2.12"))
        const s = yield* router.waitFor((s) => paths(s, "203.0.113.10/32").length === 2 && paths(s, "203.0.113.20/32").length === 1, "5 seconds")
        const [best, other] = paths(s, "203.0.113.10/32")
        assert.strictEqual(best?.peer, "127.0.0.3")
        assert.strictEqual(best?.nextHop, "192.0.2.11")
        assert.deepStrictEqual(best?.asPath, [nodeAs])
        assert.deepStrictEqual(best?.communities, ["64500:100"])
        assert.deepStrictEqual(best?.largeCommunities, ["64500:1:2"])
        assert.strictEqual(best?.localPref, 200)
        assert.strictEqual(best?.best, true)
        // local-pref 200 beats the default 100: the second path is not a multipath.
        assert.strictEqual(other?.multipath, false)
        assert.deepStrictEqual(s.sessions.map((x) => [x.peer, x.state, x.peerAs, x.prefixesReceived]), [
          ["127.0.0.3", "Established", nodeAs, 1],
          ["127.0.0.4", "Established", nodeAs, 2]
        ])
        const summary = yield* router.summary
        assert.match(summary, /127\.0\.0\.3\s+4\s+64500\s+\d+\s+\d+\s+\d\d:\d\d:\d\d 1/)
        const view = yield* router.routes(4)
        assert.match(view, /\*> 203\.0\.113\.10\/32\s+192\.0\.2\.11\s+200 127\.0\.0\.3\s+64500 \?\s+\[64500:100 64500:1:2\]/)
        assert.match(view, /Displayed 2 routes and 3 total paths/)
        a.socket.destroy()
        b.socket.destroy()
      })))

  it.live("equal paths from three peers are all multipath; a withdrawal and a dropped session remove theirs", () =>
    withRouter({}, (router) =>
      Effect.gen(function*() {
        const clients: Array<Client> = []
        for (const n of [3, 4, 5]) {
          const c = yield* open(`127.0.0.${n}`, router.port)
          yield* establish(c)
          c.send(announce(["203.0.113.10/32"], `192.0.2.1${n}`))
          clients.push(c)
        }
        const s = yield* router.waitFor((s) => paths(s, "203.0.113.10/32").length === 3, "5 seconds")
        assert.deepStrictEqual(paths(s, "203.0.113.10/32").map((p) => [p.best, p.multipath]), [[true, true], [false, true], [false, true]])
        assert.match(yield* router.routes(), /\*= {22}192\.0\.2\.14/)
        const [c3, c4] = clients
        c3?.send({ _tag: "Update", withdrawn: [v4("203.0.113.10/32")], attributes: [], nlri: [] })
        yield* router.waitFor((s) => paths(s, "203.0.113.10/32").length === 2, "5 seconds")
        c4?.socket.destroy()
        const after = yield* router.waitFor((s) => paths(s, "203.0.113.10/32").length === 1, "5 seconds")
        assert.strictEqual(after.sessions.find((x) => x.peer === "127.0.0.4")?.state, "Idle")
        for (const c of clients) c.socket.destroy()
      })))

  it.live("IPv6 over MP_REACH/MP_UNREACH: stored with the MP next hop, shown in the ipv6 view, withdrawn", () =>
    withRouter({}, (router) =>
      Effect.gen(function*() {
        const c = yield* open("127.0.0.3", router.port)
        yield* establish(c, makeOpen({ asn: nodeAs, holdTime: 90, bgpIdentifier: 0x0a000003, families: [{ afi: 1, safi: 1 }, { afi: 2, safi: 1 }] }))
        const prefix = Result.getOrThrow(Prefix.parse("2001:db8:ffff::10/128"))
        const hop = Prefix.parseAddress("2001:db8:0:1::13")?.bytes ?? new Uint8Array(16)
        c.send({
          _tag: "Update",
          withdrawn: [],
          attributes: [
            { _tag: "Origin", value: 0 },
            ...asPathAttributes([nodeAs], true),
            { _tag: "MpReachNlri", afi: 2, safi: 1, nextHop: hop, nlri: [prefix] }
          ],
          nlri: []
        })
        const s = yield* router.waitFor((s) => paths(s, "2001:db8:ffff::10/128").length === 1, "5 seconds")
        assert.strictEqual(paths(s, "2001:db8:ffff::10/128")[0]?.nextHop, "2001:db8:0:1::13")
        assert.match(yield* router.routes(6), /\*> 2001:db8:ffff::10\/128 +2001:db8:0:1::13/)
        assert.match(yield* router.routes(4), /Displayed 0 routes/)
        c.send({ _tag: "Update", withdrawn: [], attributes: [{ _tag: "MpUnreachNlri", afi: 2, safi: 1, withdrawn: [prefix] }], nlri: [] })
        yield* router.waitFor((s) => s.routes.length === 0, "5 seconds")
        c.send(endOfRib(2, 1))
        yield* router.waitFor((s) => s.sessions[0]?.endOfRib.includes("ipv6-unicast") === true, "5 seconds")
        c.socket.destroy()
      })))

  it.live("loopback next hops: treated as withdraw per the codec, accepted when the sandbox asks", () =>
    Effect.gen(function*() {
      for (const accept of [false, true]) {
        yield* withRouter({ acceptLoopbackNextHops: accept }, (router) =>
          Effect.gen(function*() {
            const c = yield* open("127.0.0.3", router.port)
            yield* establish(c)
            c.send(announce(["203.0.113.10/32"], "127.0.0.3"))
            c.send(announce(["203.0.113.99/32"], "192.0.2.11"))
            const s = yield* router.waitFor((s) => paths(s, "203.0.113.99/32").length === 1, "5 seconds")
            assert.deepStrictEqual(paths(s, "203.0.113.10/32").map((p) => p.nextHop), accept ? ["127.0.0.3"] : [])
            c.socket.destroy()
          }))
      }
    }))

  it.live("AS rules and unknown peers get the NOTIFICATION the codec builds", () =>
    Effect.gen(function*() {
      yield* withRouter({ peerAs: "internal" }, (router) =>
        Effect.gen(function*() {
          const c = yield* open("127.0.0.3", router.port)
          const n = yield* Effect.promise(async () => {
            await c.expect("Open")
            c.send(nodeOpen(nodeAs))
            return c.expect("Notification")
          })
          assert.deepStrictEqual([n.code, n.subcode], [ErrorCode.OpenMessage, OpenSubcode.BadPeerAs])
          const s = yield* router.waitFor((s) => s.sessions[0]?.state === "Idle", "5 seconds")
          assert.match(s.sessions[0]?.lastError ?? "", /not our AS 64512/)
        }))
      yield* withRouter({ peers: [{ address: "127.0.0.4", asn: nodeAs }] }, (router) =>
        Effect.gen(function*() {
          const stranger = yield* open("127.0.0.3", router.port)
          const n = yield* Effect.promise(() => stranger.expect("Notification"))
          assert.deepStrictEqual([n.code, n.subcode], [ErrorCode.Cease, CeaseSubcode.ConnectionRejected])
          const before = yield* router.snapshot
          assert.deepStrictEqual(before.sessions.map((s) => [s.peer, s.state]), [["127.0.0.4", "Active"]])
          const wrong = yield* open("127.0.0.4", router.port)
          const n2 = yield* Effect.promise(async () => {
            await wrong.expect("Open")
            wrong.send(nodeOpen(65001))
            return wrong.expect("Notification")
          })
          assert.deepStrictEqual([n2.code, n2.subcode], [ErrorCode.OpenMessage, OpenSubcode.BadPeerAs])
          const good = yield* open("127.0.0.4", router.port)
          yield* establish(good)
          good.socket.destroy()
        }))
    }))

  it.live("malformed input and messages out of order end the session with a NOTIFICATION", () =>
    withRouter({}, (router) =>
      Effect.gen(function*() {
        const bad = yield* open("127.0.0.3", router.port)
        const header = yield* Effect.promise(async () => {
          await bad.expect("Open")
          const garbage = new Uint8Array(19).fill(0xff)
          garbage[0] = 0
          bad.send(garbage)
          return bad.expect("Notification")
        })
        assert.deepStrictEqual([header.code, header.subcode], [ErrorCode.MessageHeader, HeaderSubcode.ConnectionNotSynchronized])
        const early = yield* open("127.0.0.5", router.port)
        const fsm = yield* Effect.promise(async () => {
          await early.expect("Open")
          early.send(keepalive)
          return early.expect("Notification")
        })
        assert.deepStrictEqual([fsm.code, fsm.subcode], [ErrorCode.FiniteStateMachine, FsmSubcode.UnexpectedMessageInOpenSent])
      })))

  it.effect("keepalives and the hold timer run on the Clock", () =>
    withRouter({ holdTime: 9 }, (router) =>
      Effect.gen(function*() {
        const c = yield* open("127.0.0.3", router.port)
        yield* establish(c, { ...nodeOpen(), holdTime: 9 })
        yield* TestClock.adjust("3 seconds")
        yield* Effect.promise(() => c.expect("Keepalive"))
        yield* TestClock.adjust("7 seconds")
        const n = yield* Effect.promise(async () => {
          for (;;) {
            const m = await c.next()
            if (m === "closed" || m._tag === "Notification") return m
          }
        })
        assert.notStrictEqual(n, "closed")
        if (n !== "closed") assert.strictEqual(n.code, ErrorCode.HoldTimerExpired)
        const s = yield* router.snapshot
        assert.match(s.sessions[0]?.lastError ?? "", /hold timer expired/)
      })))

  it.live("graceful restart: a dropped peer's paths stay stale until its End-of-RIB after the reconnect", () =>
    withRouter({}, (router) =>
      Effect.gen(function*() {
        const seen: Array<string> = []
        const changes = yield* router.changes.pipe(
          Stream.runForEach((c) => Effect.sync(() => seen.push(c._tag === "PathChanged" ? `${c._tag} ${c.prefix} stale=${c.path.stale}` : c._tag))),
          Effect.forkChild
        )
        yield* Effect.yieldNow
        const first = yield* open("127.0.0.3", router.port)
        yield* establish(first, nodeOpen(nodeAs, true))
        first.send(announce(["203.0.113.10/32", "203.0.113.11/32"], "192.0.2.11"))
        yield* router.waitFor((s) => s.routes.length === 2, "5 seconds")
        first.socket.destroy()
        const stale = yield* router.waitFor((s) => s.routes.every((r) => r.paths[0]?.stale === true), "5 seconds")
        assert.strictEqual(stale.routes.length, 2)
        assert.match(yield* router.routes(), /S\*> 203\.0\.113\.10\/32/)
        const again = yield* open("127.0.0.3", router.port)
        yield* establish(again, nodeOpen(nodeAs, true))
        again.send(announce(["203.0.113.10/32"], "192.0.2.11"))
        again.send(endOfRib(1, 1))
        const after = yield* router.waitFor((s) => s.sessions[0]?.endOfRib.includes("ipv4-unicast") === true, "5 seconds")
        assert.deepStrictEqual(after.routes.map((r) => [r.prefix, r.paths[0]?.stale]), [["203.0.113.10/32", false]])
        again.socket.destroy()
        yield* Fiber.interrupt(changes)
        assert.includeMembers(seen, ["SessionChanged", "PathChanged 203.0.113.11/32 stale=true", "PathWithdrawn", "EndOfRib"])
      })))
})
