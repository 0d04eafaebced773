import { assert, it as effectIt } from "@effect/vitest"
import * as fc from "fast-check"
import { Context, Effect, Layer, Queue, Result, SubscriptionRef } from "effect"
import { describe, expect, it } from "vitest"
import * as Arb from "../../src/bgp/Arbitraries.ts"
import * as BgpSession from "../../src/bgp/BgpSession.ts"
import { attach, attributeKey, BgpSpeaker, buildUpdates, carries, mergeRoutes, parseRoute, plan, type Route, routeKey, type SessionFacts } from "../../src/bgp/BgpSpeaker.ts"
import { decodeMessage, encodeMessage, isEndOfRib, reachability } from "../../src/bgp/Codec.ts"
import type { PathAttribute, UpdateMessage } from "../../src/bgp/Message.ts"
import * as Prefix from "../../src/bgp/Prefix.ts"
import { establish, type FakeConnection, fakeRouter, keepalive, nextOf, peerConfig, routerOpen } from "./fakeRouter.ts"

const arbRoute: fc.Arbitrary<Route> = fc.record({
  prefix: Arb.prefix,
  communities: fc.array(fc.constantFrom(0xfbf40064, 0xfbf40001, 0xfc000007), { maxLength: 3 }),
  largeCommunities: fc.array(fc.constantFrom({ globalAdmin: 64500, localData1: 1, localData2: 2 }), { maxLength: 1 }),
  localPref: fc.constantFrom(undefined, 100, 200),
  nextHop: fc.constantFrom(undefined, "192.0.2.99")
})
const arbRib = fc.array(arbRoute, { maxLength: 40 }).map(mergeRoutes)

const v4Facts: SessionFacts = {
  localAsn: 64500,
  internal: false,
  fourOctetAs: true,
  localAddress: "192.0.2.11",
  families: [{ afi: 1, safi: 1 }, { afi: 2, safi: 1 }]
}

const parsed = (input: Parameters<typeof parseRoute>[0]): Route => {
  const r = parseRoute(input)
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return r.success
}

/** Encodes and decodes every UPDATE, as the peer sees them. */
const onTheWire = (facts: SessionFacts, updates: ReadonlyArray<UpdateMessage>): Array<UpdateMessage> =>
  updates.map((u) => {
    const bytes = encodeMessage(u, { fourOctetAs: facts.fourOctetAs })
    expect(bytes.length).toBeLessThanOrEqual(4096)
    const decoded = decodeMessage(bytes, { fourOctetAs: facts.fourOctetAs })
    if (Result.isFailure(decoded) || decoded.success._tag !== "Update") throw new Error("not an UPDATE")
    expect(decoded.success.issues).toBeUndefined()
    return decoded.success
  })

const build = (facts: SessionFacts, p: ReturnType<typeof plan>) => {
  const r = buildUpdates(facts, p)
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return onTheWire(facts, r.success)
}

const keys = (prefixes: Iterable<Prefix.Prefix>) => [...prefixes].map(Prefix.format).toSorted()
const find = <T extends PathAttribute["_tag"]>(u: UpdateMessage, tag: T) =>
  u.attributes.find((a): a is Extract<PathAttribute, { _tag: T }> => a._tag === tag)

describe("BgpSpeaker.plan", () => {
  it("takes the advertised RIB to the desired one", () => {
    // Desired routes drawn partly from the advertised ones, so shared prefixes (changed or not) are common.
    const pair = arbRib.chain((advertised) =>
      fc.tuple(fc.constant(advertised), fc.subarray([...advertised.values()]), fc.array(arbRoute, { maxLength: 10 }))
        .map(([a, kept, extra]) => [a, mergeRoutes([...kept, ...extra])] as const)
    )
    fc.assert(fc.property(pair, ([advertised, desired]) => {
      const p = plan(advertised, desired)
      const after = new Map(advertised)
      for (const prefix of p.withdraw) after.delete(Prefix.format(prefix))
      for (const route of p.announce) after.set(routeKey(route), route)
      expect([...after.keys()].toSorted()).toEqual([...desired.keys()].toSorted())
      // Same attributes as desired (an unchanged route keeps its advertised object).
      for (const [key, route] of desired) expect(attributeKey(after.get(key) ?? route)).toBe(attributeKey(route))
      expect(p.withdraw.every((w) => !desired.has(Prefix.format(w)))).toBe(true)
    }))
  })

  it("sends nothing when nothing changed", () => {
    fc.assert(fc.property(arbRib, (rib) => {
      const p = plan(rib, new Map(rib))
      expect(p.announce).toEqual([])
      expect(p.withdraw).toEqual([])
    }))
  })

  it("re-announces a prefix whose attributes changed", () => {
    const before = mergeRoutes([parsed({ prefix: "203.0.113.10/32", communities: ["64500:1"] })])
    const after = mergeRoutes([parsed({ prefix: "203.0.113.10/32", communities: ["64500:2"] })])
    expect(plan(before, after).announce.map(routeKey)).toEqual(["203.0.113.10/32"])
    expect(plan(before, after).withdraw).toEqual([])
  })
})

describe("BgpSpeaker.buildUpdates", () => {
  it("announces and withdraws exactly the plan, in packed UPDATEs that decode cleanly", () => {
    fc.assert(fc.property(arbRib, arbRib, fc.boolean(), fc.boolean(), (advertised, desired, internal, v6Session) => {
      const facts = { ...v4Facts, internal, localAddress: v6Session ? "2001:db8:0:1::11" : "192.0.2.11" }
      const p = plan(advertised, desired)
      const wire = build(facts, p)
      const announced = wire.flatMap((u) => reachability(u).announced)
      const withdrawn = wire.flatMap((u) => reachability(u).withdrawn)
      expect(keys(announced)).toEqual(keys(p.announce.map((r) => r.prefix)))
      expect(keys(withdrawn)).toEqual(keys(p.withdraw))
      for (const u of wire) {
        if (reachability(u).announced.length === 0) continue
        expect(find(u, "Origin")?.value).toBe(0)
        const path = find(u, "AsPath")?.segments.flatMap((s) => s.asns)
        expect(path).toEqual(internal ? [] : [64500])
        expect(find(u, "LocalPref") !== undefined).toBe(internal)
        // IPv4 NLRI rides in the classic field only on an IPv4 session.
        const classicOk = v6Session ? u.nlri.length === 0 : (find(u, "MpReachNlri")?.afi ?? 2) === 2
        expect(classicOk).toBe(true)
      }
    }))
  })

  it("uses MetalLB's attributes: next hop = local address, sorted communities, LOCAL_PREF on iBGP (100 unless set)", () => {
    const routes = mergeRoutes([
      parsed({ prefix: "203.0.113.10/32", communities: ["64500:100", "64500:7"], largeCommunities: ["64500:1:2"] }),
      parsed({ prefix: "203.0.113.11/32", communities: ["64500:7", "64500:100"], largeCommunities: ["64500:1:2"] }),
      parsed({ prefix: "2001:db8:ffff::10/128", localPref: 200 })
    ])
    const ebgp = build(v4Facts, plan(new Map(), routes))
    expect(ebgp).toHaveLength(2) // the two IPv4 routes share one UPDATE
    const [v4, v6] = ebgp
    if (v4 === undefined || v6 === undefined) throw new Error("two UPDATEs")
    expect(keys(v4.nlri)).toEqual(["203.0.113.10/32", "203.0.113.11/32"])
    expect(Prefix.formatAddress(find(v4, "NextHop")?.address ?? new Uint8Array())).toBe("192.0.2.11")
    expect(find(v4, "Communities")?.values).toEqual([0xfbf40007, 0xfbf40064])
    expect(find(v4, "LargeCommunities")?.values).toEqual([{ globalAdmin: 64500, localData1: 1, localData2: 2 }])
    expect(find(v4, "LocalPref")).toBeUndefined()
    // An IPv6 route over an IPv4 session: MP_REACH with the IPv4-mapped local address.
    expect(Prefix.formatAddress(find(v6, "MpReachNlri")?.nextHop ?? new Uint8Array())).toBe("::ffff:c000:20b")
    const ibgp = build({ ...v4Facts, internal: true }, plan(new Map(), routes))
    expect(ibgp.map((u) => find(u, "LocalPref")?.value)).toEqual([100, 200])
  })

  it("holds back what the session cannot carry: a family not negotiated, IPv4 over IPv6 without an IPv4 next hop", () => {
    const v4 = parsed({ prefix: "203.0.113.10/32" })
    const v4WithHop = parsed({ prefix: "203.0.113.11/32", nextHop: "192.0.2.11" })
    const v6 = parsed({ prefix: "2001:db8:ffff::10/128" })
    const v6Session = { ...v4Facts, localAddress: "2001:db8:0:1::11" }
    expect([v4, v4WithHop, v6].map((r) => carries(v6Session, r))).toEqual([false, true, true])
    expect([v4, v4WithHop, v6].map((r) => carries(v4Facts, r))).toEqual([true, true, true])
    expect(carries({ ...v4Facts, families: [{ afi: 1, safi: 1 }] }, v6)).toBe(false)
  })

  it("gives 10,000 /32s in 13 UPDATEs", () => {
    const routes = mergeRoutes(Array.from({ length: 10_000 }, (_, i) => parsed({ prefix: `198.18.${i >> 8}.${i & 255}/32` })))
    const r = buildUpdates(v4Facts, plan(new Map(), routes))
    expect(Result.isSuccess(r) && r.success.length).toBe(13)
  })

  it("End-of-RIB markers are recognised", () => {
    expect(isEndOfRib({ _tag: "Update", withdrawn: [], attributes: [], nlri: [] })).toEqual({ afi: 1, safi: 1 })
  })
})

const field = (input: Parameters<typeof parseRoute>[0]) => {
  const r = parseRoute(input)
  return Result.isFailure(r) ? r.failure.field : undefined
}

describe("BgpSpeaker routes", () => {
  it("merges duplicate prefixes: communities unioned, first localPref kept", () => {
    const merged = mergeRoutes([
      parsed({ prefix: "203.0.113.10/32", communities: ["64500:1"], localPref: 200 }),
      parsed({ prefix: "203.0.113.10/32", communities: ["64500:2", "64500:1"], localPref: 300 })
    ])
    const route = merged.get("203.0.113.10/32")
    expect(route?.communities.toSorted()).toEqual([0xfbf40001, 0xfbf40002])
    expect(route?.localPref).toBe(200)
  })

  it("names the field that is wrong", () => {
    expect(field({ prefix: "203.0.113.300/32" })).toBe("prefix")
    expect(field({ prefix: "203.0.113.1/32", communities: ["70000:1"] })).toBe("communities")
    expect(field({ prefix: "203.0.113.1/32", largeCommunities: ["1:2"] })).toBe("largeCommunities")
    expect(field({ prefix: "203.0.113.1/32", localPref: -1 })).toBe("localPref")
    expect(field({ prefix: "203.0.113.1/32", nextHop: "nope" })).toBe("nextHop")
    expect(field({ prefix: "203.0.113.1/32" })).toBeUndefined()
  })
})

const prefixesOf = (u: UpdateMessage) => reachability(u)
const nextUpdate = (c: FakeConnection) => nextOf(c, "Update")

describe("BgpSpeaker RIB-out over a session", () => {
  effectIt.live("announces packed, ends with End-of-RIB, withdraws the difference, re-announces in full after a reconnect", () =>
    Effect.scoped(Effect.gen(function*() {
      const { router, session, c } = yield* establish
      const rib = yield* attach(session)
      // An explicit next hop: the session's own (127.0.0.1) is not a valid NEXT_HOP.
      const a = parsed({ prefix: "203.0.113.10/32", communities: ["64500:1"], nextHop: "192.0.2.11" })
      const b = parsed({ prefix: "203.0.113.11/32", communities: ["64500:1"], nextHop: "192.0.2.11" })
      yield* rib.setRoutes([a, b])
      const first = yield* nextUpdate(c)
      assert.deepStrictEqual(keys(prefixesOf(first).announced), ["203.0.113.10/32", "203.0.113.11/32"])
      assert.deepStrictEqual(isEndOfRib(yield* nextUpdate(c)), { afi: 1, safi: 1 })
      yield* rib.setRoutes([a])
      assert.deepStrictEqual(keys(prefixesOf(yield* nextUpdate(c)).withdrawn), ["203.0.113.11/32"])
      // The router drops the connection: the session reconnects and the RIB-out goes out in full again.
      c.socket.destroy()
      const again = yield* Queue.take(router.connections).pipe(Effect.timeout("5 seconds"))
      yield* nextOf(again, "Open")
      yield* again.send(routerOpen())
      yield* again.send(keepalive)
      const full = yield* nextUpdate(again)
      assert.deepStrictEqual(keys(prefixesOf(full).announced), ["203.0.113.10/32"])
      assert.deepStrictEqual(isEndOfRib(yield* nextUpdate(again)), { afi: 1, safi: 1 })
      assert.strictEqual(yield* SubscriptionRef.get(rib.advertised), 1)
    })))
})

const handshake = (c: FakeConnection) =>
  Effect.gen(function*() {
    yield* nextOf(c, "Open")
    yield* c.send(routerOpen())
    yield* c.send(keepalive)
  })

describe("BgpSpeaker service", () => {
  effectIt.live("opens a session per peer, reopens one whose configuration changed (Cease 6), closes a removed one (Cease 3)", () =>
    Effect.scoped(Effect.gen(function*() {
      const router = yield* fakeRouter
      // Built into the test's scope, so the speaker lives until the test ends.
      const services = yield* Layer.build(
        BgpSpeaker.layer.pipe(Layer.provide(BgpSession.BgpSession.layer({ nodeName: "n1", reconnectBase: "50 millis" })))
      )
      const speaker = Context.get(services, BgpSpeaker)
      const routes = [parsed({ prefix: "203.0.113.10/32", nextHop: "192.0.2.11" })]
      yield* speaker.set([{ peer: peerConfig(router.port), routes }])
      const first = yield* Queue.take(router.connections)
      yield* handshake(first)
      assert.deepStrictEqual(keys(prefixesOf(yield* nextUpdate(first)).announced), ["203.0.113.10/32"])
      assert.deepStrictEqual(isEndOfRib(yield* nextUpdate(first)), { afi: 1, safi: 1 })
      // Same configuration, other routes: same session, a withdraw.
      yield* speaker.set([{ peer: peerConfig(router.port), routes: [] }])
      assert.deepStrictEqual(keys(prefixesOf(yield* nextUpdate(first)).withdrawn), ["203.0.113.10/32"])
      // A changed hold time: the session is replaced.
      yield* speaker.set([{ peer: peerConfig(router.port, { holdTime: 30 }), routes }])
      const changed = yield* nextOf(first, "Notification")
      assert.deepStrictEqual([changed.code, changed.subcode], [6, 6])
      const second = yield* Queue.take(router.connections).pipe(Effect.timeout("5 seconds"))
      const open = yield* nextOf(second, "Open")
      assert.strictEqual(open.holdTime, 30)
      yield* second.send(routerOpen())
      yield* second.send(keepalive)
      assert.deepStrictEqual(keys(prefixesOf(yield* nextUpdate(second)).announced), ["203.0.113.10/32"])
      assert.strictEqual((yield* speaker.peers).size, 1)
      // Removed: Peer De-configured.
      yield* speaker.set([])
      const removed = yield* nextOf(second, "Notification")
      assert.deepStrictEqual([removed.code, removed.subcode], [6, 3])
      assert.strictEqual((yield* speaker.peers).size, 0)
    })))
})
