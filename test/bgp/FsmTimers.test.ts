import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Option, Queue, Ref } from "effect"
import { TestClock } from "effect/testing"
import { type FsmAction, type FsmConfig, type FsmEvent, initial, makeConfig, type StateName, step } from "../../src/bgp/Fsm.ts"
import * as FsmTimers from "../../src/bgp/FsmTimers.ts"

const config = makeConfig({ localAsn: 64512, localBgpId: 0xc0000201, peerAsn: 64513, holdTime: 90 })
const peerOpen: FsmEvent = { _tag: "BgpOpen", holdTime: 90, asn: 64513, bgpId: 0xc0000202, capabilities: [] }

interface Logged {
  readonly at: number
  readonly action: FsmAction
}

/**
 * The driver loop a session layer runs for one connection: one inbox for socket events and timer expiries, one fiber
 * that steps the FSM and applies the timer actions. Other actions are only recorded here.
 */
const driver = (fsmConfig: FsmConfig, jitter = false) =>
  Effect.gen(function*() {
    const inbox = yield* Queue.unbounded<FsmEvent | FsmTimers.TimerExpiry>()
    const timers = yield* FsmTimers.make({ onExpiry: (x) => Effect.asVoid(Queue.offer(inbox, x)), jitter })
    const state = yield* Ref.make(initial(fsmConfig))
    const log = yield* Ref.make<ReadonlyArray<Logged>>([])

    const handle = (event: FsmEvent) =>
      Effect.gen(function*() {
        const [next, actions] = step(yield* Ref.get(state), event)
        yield* Ref.set(state, next)
        yield* timers.apply(actions)
        const at = yield* Clock.currentTimeMillis
        yield* Ref.update(log, (xs) => [...xs, ...actions.map((action) => ({ at, action }))])
      })

    yield* Effect.forkScoped(
      Effect.forever(
        Effect.flatMap(Queue.take(inbox), (item) =>
          item._tag === "TimerExpiry"
            ? Effect.flatMap(timers.accept(item), Option.match({ onNone: () => Effect.void, onSome: handle }))
            : handle(item))
      )
    )
    // Drain the inbox: TestClock.adjust(0) lets the driver fiber run.
    const send = (event: FsmEvent) => Effect.andThen(Queue.offer(inbox, event), TestClock.adjust(0))
    const name = Effect.map(Ref.get(state), (s): StateName => s.name)
    const actions = (tag: FsmAction["_tag"]) =>
      Effect.map(Ref.get(log), (xs) => xs.filter((x) => x.action._tag === tag))
    return { send, name, actions, timers }
  })

/** Dial out, exchange OPENs and the first KEEPALIVE: Established at virtual time 0. */
const establish = (d: Effect.Success<ReturnType<typeof driver>>) =>
  Effect.gen(function*() {
    yield* d.send({ _tag: "ManualStart" })
    yield* d.send({ _tag: "TcpCrAcked" })
    yield* d.send(peerOpen)
    yield* d.send({ _tag: "KeepAliveMsg" })
    assert.strictEqual(yield* d.name, "Established")
  })

describe("FsmTimers driving Fsm.step on Effect's Clock", () => {
  it.effect("sends Hold Timer Expired (4/0) and goes Idle after the negotiated hold time without a KEEPALIVE", () =>
    Effect.gen(function*() {
      const d = yield* driver(config)
      yield* establish(d)
      yield* TestClock.adjust(Duration.seconds(89))
      assert.strictEqual(yield* d.name, "Established")
      // Our own keepalives went out at 30 and 60 seconds meanwhile.
      assert.deepStrictEqual((yield* d.actions("SendKeepalive")).map((x) => x.at), [0, 30_000, 60_000])
      assert.deepStrictEqual(yield* d.actions("SendNotification"), [])

      yield* TestClock.adjust(Duration.seconds(1))
      assert.strictEqual(yield* d.name, "Idle")
      const sent = yield* d.actions("SendNotification")
      assert.deepStrictEqual(sent, [{
        at: 90_000,
        action: { _tag: "SendNotification", code: 4, subcode: 0, data: new Uint8Array(0) }
      }])
      assert.strictEqual((yield* d.actions("SessionDown")).length, 1)
      assert.strictEqual((yield* d.actions("DropTcpConnection")).length, 1)
    }))

  it.effect("stays Established for 10 virtual minutes while KEEPALIVEs arrive every hold/3", () =>
    Effect.gen(function*() {
      const d = yield* driver(config)
      yield* establish(d)
      for (let i = 0; i < 20; i++) {
        yield* TestClock.adjust(Duration.seconds(30))
        yield* d.send({ _tag: "KeepAliveMsg" })
      }
      assert.strictEqual(yield* d.name, "Established")
      assert.deepStrictEqual(yield* d.actions("SendNotification"), [])
      // One KEEPALIVE acknowledging the OPEN, then one every 30 s for 600 s.
      assert.strictEqual((yield* d.actions("SendKeepalive")).length, 21)
      // Silence from now on: the hold timer fires 90 s after the last KEEPALIVE.
      yield* TestClock.adjust(Duration.seconds(90))
      assert.strictEqual(yield* d.name, "Idle")
      assert.deepInclude((yield* d.actions("SendNotification"))[0], { at: 690_000 })
    }))

  it.effect("uses the large hold timer (4 minutes) while waiting for the peer's OPEN", () =>
    Effect.gen(function*() {
      const d = yield* driver(config)
      yield* d.send({ _tag: "ManualStart" })
      yield* d.send({ _tag: "TcpCrAcked" })
      yield* TestClock.adjust(Duration.seconds(239))
      assert.strictEqual(yield* d.name, "OpenSent")
      yield* TestClock.adjust(Duration.seconds(1))
      assert.strictEqual(yield* d.name, "Idle")
      assert.deepInclude((yield* d.actions("SendNotification"))[0]?.action, { code: 4, subcode: 0 })
    }))

  it.effect("retries the connection when the ConnectRetryTimer expires, with jitter within [0.75, 1] of 120 s", () =>
    Effect.gen(function*() {
      const d = yield* driver(config, true)
      yield* d.send({ _tag: "ManualStart" })
      yield* TestClock.adjust(Duration.seconds(89))
      assert.strictEqual((yield* d.actions("InitiateTcpConnection")).length, 1)
      yield* TestClock.adjust(Duration.seconds(31))
      const dials = yield* d.actions("InitiateTcpConnection")
      assert.strictEqual(dials.length, 2)
      const retryAt = dials[1]?.at ?? 0
      assert.isAtLeast(retryAt, 90_000)
      assert.isAtMost(retryAt, 120_000)
      assert.strictEqual(yield* d.name, "Connect")
    }))

  it.effect("drops expiries of timers stopped or restarted after they fired", () =>
    Effect.gen(function*() {
      const fired = yield* Queue.unbounded<FsmTimers.TimerExpiry>()
      const timers = yield* FsmTimers.make({ onExpiry: (x) => Effect.asVoid(Queue.offer(fired, x)), jitter: false })
      yield* timers.apply([{ _tag: "StartTimer", timer: "Hold", seconds: 3 }])
      yield* TestClock.adjust(Duration.seconds(3))
      const expiry = yield* Queue.take(fired)
      // The FSM restarted the timer before the driver got to the expiry: stale.
      yield* timers.apply([{ _tag: "StartTimer", timer: "Hold", seconds: 3 }])
      assert.isTrue(Option.isNone(yield* timers.accept(expiry)))
      yield* TestClock.adjust(Duration.seconds(3))
      const current = yield* Queue.take(fired)
      assert.deepStrictEqual(yield* timers.accept(current), Option.some<FsmEvent>({ _tag: "HoldTimerExpires" }))
      // Accepted once only.
      assert.isTrue(Option.isNone(yield* timers.accept(current)))
      // A stopped timer never fires.
      yield* timers.apply([
        { _tag: "StartTimer", timer: "Keepalive", seconds: 1 },
        { _tag: "StopTimer", timer: "Keepalive" }
      ])
      yield* TestClock.adjust(Duration.seconds(5))
      assert.strictEqual(yield* Queue.size(fired), 0)
    }))
})
