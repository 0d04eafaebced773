import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { TestClock } from "effect/testing"
import { Announcer, burstCount, metallbTiming } from "../../src/layer2/Announcer.ts"

const recorder = () => {
  const times: Array<number> = []
  const burst = Clock.currentTimeMillis.pipe(Effect.map((t) => void times.push(t)))
  return { times, burst }
}

describe("Announcer", () => {
  it("MetalLB's timing gives 5 bursts", () => {
    assert.strictEqual(burstCount(metallbTiming), 5)
  })

  it.effect("bursts at 0, 1.1, 2.2, 3.3 and 4.4 s after a gain, then stops", () =>
    Effect.gen(function*() {
      const announcer = yield* Announcer
      const r = recorder()
      yield* announcer.gained("192.0.2.200", r.burst)
      yield* TestClock.adjust("20 seconds")
      assert.deepStrictEqual(r.times, [0, 1100, 2200, 3300, 4400])
      assert.deepStrictEqual(yield* announcer.active, [])
    }).pipe(Effect.provide(Announcer.layer())))

  it.effect("with `confirm`, one extra burst that long after the first, besides MetalLB's", () =>
    Effect.gen(function*() {
      const announcer = yield* Announcer
      const r = recorder()
      yield* announcer.gained("192.0.2.200", r.burst)
      yield* TestClock.adjust("20 seconds")
      assert.deepStrictEqual(r.times, [0, 400, 1100, 2200, 3300, 4400])
    }).pipe(Effect.provide(Announcer.layer({ ...metallbTiming, confirm: "400 millis" }))))

  it.effect("losing the IP stops its bursts at once; other IPs go on", () =>
    Effect.gen(function*() {
      const announcer = yield* Announcer
      const a = recorder()
      const b = recorder()
      yield* announcer.gained("192.0.2.200", a.burst)
      yield* announcer.gained("2001:db8:0:1::200", b.burst)
      yield* TestClock.adjust("1500 millis")
      yield* announcer.lost("192.0.2.200")
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(a.times, [0, 1100])
      assert.deepStrictEqual(b.times, [0, 1100, 2200, 3300, 4400])
    }).pipe(Effect.provide(Announcer.layer())))

  it.effect("a failing burst does not stop the next one", () =>
    Effect.gen(function*() {
      const announcer = yield* Announcer
      let calls = 0
      yield* announcer.gained("192.0.2.201", Effect.suspend(() => (++calls === 1 ? Effect.fail("ENETDOWN") : Effect.void)))
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(calls, 5)
    }).pipe(Effect.provide(Announcer.layer())))
})
