import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Metric, PubSub, Queue, Result, Stream, SubscriptionRef } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import * as Bfd from "../../src/bgp/Bfd.ts"
import * as BfdFsm from "../../src/bgp/BfdFsm.ts"
import * as BfdPacket from "../../src/bgp/BfdPacket.ts"
import * as Metrics from "../../src/observability/Metrics.ts"

const u32 = fc.integer({ min: 1, max: 0xffffffff })
const packetArb: fc.Arbitrary<BfdPacket.BfdControlPacket> = fc.record({
  version: fc.constant(1),
  diag: fc.integer({ min: 0, max: 31 }),
  state: fc.constantFrom<BfdPacket.BfdState>("AdminDown", "Down", "Init", "Up"),
  poll: fc.boolean(),
  final: fc.boolean(),
  controlPlaneIndependent: fc.boolean(),
  authenticationPresent: fc.constant(false),
  demand: fc.boolean(),
  multipoint: fc.constant(false),
  detectMult: fc.integer({ min: 1, max: 255 }),
  myDiscriminator: u32,
  yourDiscriminator: fc.integer({ min: 0, max: 0xffffffff }),
  desiredMinTxInterval: fc.integer({ min: 0, max: 0xffffffff }),
  requiredMinRxInterval: fc.integer({ min: 0, max: 0xffffffff }),
  requiredMinEchoRxInterval: fc.integer({ min: 0, max: 0xffffffff })
})

const config: BfdFsm.BfdConfig = { desiredMinTx: 100_000, requiredMinRx: 100_000, detectMult: 3, passive: false }

const reason = (r: Result.Result<unknown, string>) => (Result.isFailure(r) ? r.failure : "ok")

describe("BfdPacket", () => {
  it("decode∘encode = id", () => {
    fc.assert(fc.property(packetArb, (p) => {
      assert.deepStrictEqual(Result.getOrThrow(BfdPacket.decode(BfdPacket.encode(p))), p)
    }), { numRuns: 1000 })
  })

  it("never throws on random bytes and names why it discards", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const r = BfdPacket.decode(bytes)
      if (Result.isFailure(r)) assert.isString(r.failure)
    }), { numRuns: 5000 })
  })

  it("discards the invalid cases of RFC 5880 §6.8.6", () => {
    const good = BfdPacket.encode(BfdFsm.packet(BfdFsm.make(config, 7), { final: false }))
    const mutate = (f: (b: Uint8Array) => void) => {
      const b = new Uint8Array(good)
      f(b)
      return BfdPacket.decode(b)
    }
    assert.strictEqual(reason(BfdPacket.decode(good.subarray(0, 20))), "too short")
    assert.strictEqual(reason(mutate((b) => { b[0] = (2 << 5) })), "bad version")
    assert.strictEqual(reason(mutate((b) => { b[3] = 30 })), "bad length field")
    assert.strictEqual(reason(mutate((b) => { b[2] = 0 })), "zero detect multiplier")
    assert.strictEqual(reason(mutate((b) => { b[1] = (b[1] ?? 0) | 1 })), "multipoint bit set")
    assert.strictEqual(reason(mutate((b) => { b.fill(0, 4, 8) })), "zero my discriminator")
    assert.strictEqual(reason(BfdPacket.decode(good)), "ok")
  })
})

type Side = { s: BfdFsm.BfdSession }
const send = (from: Side, to: Side, final = false) => BfdFsm.receive(to.s, BfdFsm.packet(from.s, { final }))

describe("BfdFsm", () => {
  it("comes up by the three-way handshake and then polls the fast rate in", () => {
    const a: Side = { s: BfdFsm.make(config, 1) }
    const b: Side = { s: BfdFsm.make(config, 2) }
    assert.strictEqual(BfdFsm.transmitInterval(a.s), BfdFsm.slowInterval)
    let r = send(a, b) // b: Down -> Init
    b.s = r.session
    assert.strictEqual(b.s.state, "Init")
    r = send(b, a) // a: Down + remote Init -> Up
    a.s = r.session
    assert.isTrue(r.wentUp)
    r = send(a, b) // b: Init + remote Up -> Up
    b.s = r.session
    assert.strictEqual(b.s.state, "Up")
    // Both now advertise the fast rate inside a Poll sequence until the peer answers with Final.
    assert.isTrue(a.s.polling)
    assert.isTrue(BfdFsm.packet(a.s, { final: false }).poll)
    r = send(a, b)
    b.s = r.session
    assert.strictEqual(r.sendNow, "final")
    a.s = send(b, a, true).session
    assert.isFalse(a.s.polling)
    assert.strictEqual(BfdFsm.transmitInterval(a.s), 100_000)
    assert.strictEqual(BfdFsm.detectionTime(a.s), 300_000)
  })

  it("goes Down with diag 1 when the detection time expires, and 3 when the peer says so", () => {
    const a: Side = { s: BfdFsm.make(config, 1) }
    const b: Side = { s: BfdFsm.make(config, 2) }
    b.s = send(a, b).session
    a.s = send(b, a).session
    b.s = send(a, b).session
    const expired = BfdFsm.detectionTimeExpired(a.s)
    assert.isTrue(expired.wentDown)
    assert.strictEqual(expired.session.localDiag, BfdPacket.Diag.ControlDetectionTimeExpired)
    assert.strictEqual(expired.session.remoteDiscr, 0)
    const told = BfdFsm.receive(b.s, BfdFsm.packet(BfdFsm.adminDown(a.s).session, { final: false }))
    assert.isTrue(told.wentDown)
    assert.strictEqual(told.session.localDiag, BfdPacket.Diag.NeighborSignaledSessionDown)
  })

  it("a passive session is silent until it hears the peer", () => {
    const p = BfdFsm.make({ ...config, passive: true }, 9)
    assert.isUndefined(BfdFsm.transmitInterval(p))
    const heard = BfdFsm.receive(p, BfdFsm.packet(BfdFsm.make(config, 4), { final: false })).session
    assert.strictEqual(BfdFsm.transmitInterval(heard), BfdFsm.slowInterval)
  })

  it("is only Up after hearing Init or Up from the peer, under any loss and order", () => {
    const event = fc.constantFrom("a->b", "b->a", "expireA", "expireB", "drop")
    fc.assert(fc.property(fc.array(event, { maxLength: 60 }), (events) => {
      const a: Side = { s: BfdFsm.make(config, 1) }
      const b: Side = { s: BfdFsm.make(config, 2) }
      for (const e of events) {
        const [to, r] = e === "a->b" ? [b, send(a, b)] : e === "b->a" ? [a, send(b, a)] :
          e === "expireA" ? [a, BfdFsm.detectionTimeExpired(a.s)] : e === "expireB" ? [b, BfdFsm.detectionTimeExpired(b.s)] : [undefined, undefined]
        if (to === undefined || r === undefined) continue
        if (r.wentUp) assert.include(["Init", "Up"], r.session.remoteState)
        to.s = r.session
        assert.isFalse(r.wentUp && r.wentDown)
      }
    }), { numRuns: 2000 })
  })

  it("jitters the interval into 75–100 % (75–90 % with multiplier 1)", () => {
    fc.assert(fc.property(fc.integer({ min: 10_000, max: 60_000_000 }), fc.double({ min: 0, max: 0.999999, noNaN: true }),
      fc.integer({ min: 1, max: 255 }), (interval, random, mult) => {
        const j = BfdFsm.jittered(interval, mult, random)
        assert.isAtLeast(j, Math.floor(interval * 0.75))
        assert.isAtMost(j, interval * (mult === 1 ? 0.9 : 1))
      }))
  })
})


// Two sessions joined by an in-memory link that can be cut.
const pair = (cfg: BfdFsm.BfdConfig) =>
  Effect.gen(function*() {
    const link = { up: true, sent: 0 }
    const inboxA = yield* Queue.unbounded<BfdPacket.BfdControlPacket>()
    const inboxB = yield* Queue.unbounded<BfdPacket.BfdControlPacket>()
    const deliver = (to: Queue.Queue<BfdPacket.BfdControlPacket>) => (bytes: Uint8Array) =>
      Effect.sync(() => {
        link.sent++
        const decoded = BfdPacket.decode(bytes)
        if (link.up && Result.isSuccess(decoded)) Queue.offerUnsafe(to, decoded.success)
      })
    const stateA = yield* SubscriptionRef.make<BfdPacket.BfdState>("Down")
    const stateB = yield* SubscriptionRef.make<BfdPacket.BfdState>("Down")
    const eventsA = yield* PubSub.unbounded<Bfd.BfdEvent>()
    const downsA = yield* Stream.fromPubSub(eventsA).pipe(Stream.filter((e) => e._tag === "Down"), Stream.take(1),
      Stream.runCollect, Effect.forkScoped)
    // Every state change of A, in order (a flap shows as Up, Down, Up, ...).
    const changesA: Array<string> = []
    yield* Stream.fromPubSub(eventsA).pipe(Stream.runForEach((e) => Effect.sync(() => changesA.push(e._tag))), Effect.forkScoped)
    const eventsB = yield* PubSub.unbounded<Bfd.BfdEvent>()
    const fa = yield* Effect.forkScoped(Bfd.runSession("b", cfg, 11, { send: deliver(inboxB) }, inboxA, stateA, eventsA))
    const fb = yield* Effect.forkScoped(Bfd.runSession("a", cfg, 22, { send: deliver(inboxA) }, inboxB, stateB, eventsB))
    return { link, stateA, stateB, downsA, changesA, fa, fb }
  })

/** The value of session "b"'s series `name` in the exposition text. */
const series = (text: string, name: string) =>
  Number(new RegExp(`^${name}\\{peer="b",vrf="default"\\} (\\d+)`, "m").exec(text)?.[1] ?? Number.NaN)

describe("Bfd session loop (TestClock)", () => {
  it.effect("comes up, stays up, and detects a cut link within multiplier × interval", () =>
    Effect.gen(function*() {
      const p = yield* pair(config)
      yield* TestClock.adjust("3 seconds")
      assert.strictEqual(yield* SubscriptionRef.get(p.stateA), "Up")
      assert.strictEqual(yield* SubscriptionRef.get(p.stateB), "Up")
      // Up for a while at the fast rate: ~10 packets per second each way after the poll sequence.
      const before = p.link.sent
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(yield* SubscriptionRef.get(p.stateA), "Up")
      assert.isAtLeast(p.link.sent - before, 2 * 10 * 10)
      p.link.up = false
      // The last packet arrived at most one interval (100 ms) before the cut: Down within [200, 300] ms.
      yield* TestClock.adjust("150 millis")
      assert.strictEqual(yield* SubscriptionRef.get(p.stateA), "Up")
      yield* TestClock.adjust("160 millis")
      assert.strictEqual(yield* SubscriptionRef.get(p.stateA), "Down")
      const downs = yield* Fiber.join(p.downsA)
      assert.strictEqual(downs.length, 1)
    }))

  it.effect("sends at the fast rate as soon as it is Up, not on the slow schedule (the peer's detection time shrinks at once)", () =>
    Effect.gen(function*() {
      // A scripted peer like BIRD: it computes its detection time from our DesiredMinTx as soon as it reads it.
      const inbox = yield* Queue.unbounded<BfdPacket.BfdControlPacket>()
      const sent: Array<{ readonly at: number; readonly state: BfdPacket.BfdState }> = []
      const transport: Bfd.BfdTransport = {
        send: (bytes) =>
          Effect.gen(function*() {
            const at = yield* Clock.currentTimeMillis
            const decoded = BfdPacket.decode(bytes)
            if (Result.isSuccess(decoded)) sent.push({ at, state: decoded.success.state })
          })
      }
      const state = yield* SubscriptionRef.make<BfdPacket.BfdState>("Down")
      const events = yield* PubSub.unbounded<Bfd.BfdEvent>()
      yield* Effect.forkScoped(Bfd.runSession("peer", config, 11, transport, inbox, state, events))
      const fromPeer = (st: BfdPacket.BfdState, your: number): BfdPacket.BfdControlPacket => ({
        ...BfdFsm.packet({ ...BfdFsm.make(config, 99), state: st, remoteDiscr: your }, { final: false }),
        desiredMinTxInterval: 100_000
      })
      yield* TestClock.adjust("10 millis")
      Queue.offerUnsafe(inbox, fromPeer("Down", 0))
      yield* TestClock.adjust("10 millis")
      Queue.offerUnsafe(inbox, fromPeer("Up", 11))
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* SubscriptionRef.get(state), "Up")
      const upAt = yield* Clock.currentTimeMillis
      for (let i = 0; i < 20; i++) {
        Queue.offerUnsafe(inbox, fromPeer("Up", 11))
        yield* TestClock.adjust("100 millis")
      }
      assert.strictEqual(yield* SubscriptionRef.get(state), "Up")
      const times = [upAt, ...sent.filter((p) => p.at >= upAt && p.state === "Up").map((p) => p.at)]
      const gaps = times.slice(1).map((t, i) => t - (times[i] ?? t))
      assert.isAtLeast(gaps.length, 20)
      assert.isAtMost(Math.max(...gaps), 100, `gaps after Up: ${gaps.join(", ")} ms`)
    }))

  it.effect("comes up once and stays up: the fast rate starts with Up, before the peer's shorter detection time runs out", () =>
    Effect.gen(function*() {
      const p = yield* pair(config)
      // Both sides start at the slow rate (1 s); once Up they advertise 100 ms, so the other side's detection time
      // drops to 300 ms at once: a packet sent on the old 1 s schedule would come too late, and the session flap.
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(p.changesA, ["Up"])
      assert.strictEqual(yield* SubscriptionRef.get(p.stateB), "Up")
    }))

  it.effect("stopping one side sends AdminDown so the other goes down at once", () =>
    Effect.gen(function*() {
      const p = yield* pair(config)
      yield* TestClock.adjust("3 seconds")
      assert.strictEqual(yield* SubscriptionRef.get(p.stateA), "Up")
      yield* Fiber.interrupt(p.fb)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* SubscriptionRef.get(p.stateA), "Down")
    }))

  it.effect("exports MetalLB's BFD metrics per peer, and removes them when the session ends", () =>
    Effect.gen(function*() {
      // A peer that never answers: the session is there, down, sending.
      const silent = yield* Effect.forkScoped(Bfd.runSession("c", config, 33, { send: () => Effect.void },
        yield* Queue.unbounded<BfdPacket.BfdControlPacket>(), yield* SubscriptionRef.make<BfdPacket.BfdState>("Down"),
        yield* PubSub.unbounded<Bfd.BfdEvent>()))
      yield* TestClock.adjust("3 seconds")
      let text = yield* Metrics.exposition
      assert.match(text, /^metallb_bfd_session_up\{peer="c",vrf="default"\} 0$/m)
      assert.match(text, /^metallb_bfd_session_up_events\{peer="c",vrf="default"\} 0$/m)
      assert.match(text, /^metallb_bfd_control_packet_input\{peer="c",vrf="default"\} 0$/m)
      assert.match(text, /^metallb_bfd_control_packet_output\{peer="c",vrf="default"\} [1-9]/m)
      yield* Fiber.interrupt(silent)

      const p = yield* pair(config)
      yield* TestClock.adjust("3 seconds")
      text = yield* Metrics.exposition
      assert.strictEqual(series(text, "metallb_bfd_session_up"), 1)
      assert.strictEqual(series(text, "metallb_bfd_session_up_events"), 1)
      assert.strictEqual(series(text, "metallb_bfd_session_down_events"), 0)
      const input = series(text, "metallb_bfd_control_packet_input")
      const output = series(text, "metallb_bfd_control_packet_output")
      assert.isAbove(input, 3)
      assert.isAbove(output, 3)
      // Sent and received are counted by the session that sends or receives: A's output is B's input.
      assert.strictEqual(input + output, p.link.sent)
      p.link.up = false
      yield* TestClock.adjust("1 second")
      text = yield* Metrics.exposition
      assert.strictEqual(series(text, "metallb_bfd_session_up"), 0)
      assert.strictEqual(series(text, "metallb_bfd_session_down_events"), 1)
      yield* Fiber.interrupt(p.fa)
      text = yield* Metrics.exposition
      assert.notMatch(text, /^metallb_bfd_[a-z_]+\{peer="b"/m)
      assert.match(text, /^metallb_bfd_session_up\{peer="a",vrf="default"\} 0/m, "the other session's series stay")
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))
})
