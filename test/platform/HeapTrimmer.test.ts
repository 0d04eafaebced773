import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import * as V8 from "node:v8"
import * as HeapTrimmer from "../../src/platform/HeapTrimmer.ts"

const MiB = 2 ** 20
const policy = HeapTrimmer.defaultPolicy

/** A program whose committed heap and loop utilisation the test sets; a trim brings the heap to `afterTrim`. */
const fakeProgram = (start: { committed: number; afterTrim: number }) => {
  const state = { committed: start.committed, utilization: 0, afterTrim: start.afterTrim, trims: 0 }
  const probe: HeapTrimmer.Probe = {
    sample: Effect.sync(() => ({ committedBytes: state.committed, loopUtilization: state.utilization })),
    collect: Effect.sync(() => {
      state.trims++
      state.committed = state.afterTrim
      return state.committed
    })
  }
  return { state, probe }
}

describe("HeapTrimmer.shouldTrim", () => {
  const sample = fc.record({ committedBytes: fc.integer({ min: 0, max: 2 ** 31 }), loopUtilization: fc.double({ min: 0, max: 1, noNaN: true }) })
  const baseline = fc.integer({ min: 0, max: 2 ** 31 })

  it("never trims a busy program", () => {
    fc.assert(fc.property(sample, baseline, (s, b) => {
      if (s.loopUtilization > policy.idleUtilization) assert.isFalse(HeapTrimmer.shouldTrim(policy, s, b))
    }))
  })

  it("never trims for growth below the minimum or below the ratio (V8's own growth between collections)", () => {
    fc.assert(fc.property(sample, baseline, (s, b) => {
      const growth = s.committedBytes - b
      if (growth < policy.minGrowthBytes || growth < b * policy.growthRatio) assert.isFalse(HeapTrimmer.shouldTrim(policy, s, b))
    }))
  })

  it("trims an idle program whose heap grew past both thresholds", () => {
    fc.assert(fc.property(sample, baseline, (s, b) => {
      const growth = s.committedBytes - b
      if (s.loopUtilization <= policy.idleUtilization && growth >= policy.minGrowthBytes && growth >= b * policy.growthRatio) {
        assert.isTrue(HeapTrimmer.shouldTrim(policy, s, b))
      }
    }))
    // The measured case: 54 MiB committed after the first list of 10,000 Services, 18 MiB at start.
    assert.isTrue(HeapTrimmer.shouldTrim(policy, { committedBytes: 54 * MiB, loopUtilization: 0.01 }, 18 * MiB))
    assert.isFalse(HeapTrimmer.shouldTrim(policy, { committedBytes: 54 * MiB, loopUtilization: 0.3 }, 18 * MiB))
    // 20 % growth of a 60 MiB heap (--heap-growing-percent=20) is 12 MiB: more than the minimum, less than the ratio.
    assert.isFalse(HeapTrimmer.shouldTrim(policy, { committedBytes: 72 * MiB, loopUtilization: 0 }, 60 * MiB))
  })
})

describe("HeapTrimmer.run", () => {
  it.effect("trims once the burst is over, once per burst, measured from the heap after the last trim", () =>
    Effect.gen(function*() {
      const program = fakeProgram({ committed: 18 * MiB, afterTrim: 30 * MiB })
      yield* HeapTrimmer.run({ interval: 5_000, probe: program.probe })
      // The burst: the heap grows while the loop is busy.
      program.state.committed = 54 * MiB
      program.state.utilization = 0.9
      yield* TestClock.adjust("5 seconds")
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(program.state.trims, 0, "not while busy")
      // Quiet: the next look trims, and only that one.
      program.state.utilization = 0.01
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(program.state.trims, 1)
      assert.strictEqual(program.state.committed, 30 * MiB)
      yield* TestClock.adjust("60 seconds")
      assert.strictEqual(program.state.trims, 1, "nothing more to give back")
      // Normal growth after the trim (20 %) is left alone; a second burst is trimmed.
      program.state.committed = 36 * MiB
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(program.state.trims, 1)
      program.state.committed = 48 * MiB
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(program.state.trims, 2)
    }).pipe(Effect.scoped))

  it.effect("stops looking when its scope closes", () =>
    Effect.gen(function*() {
      const program = fakeProgram({ committed: 18 * MiB, afterTrim: 20 * MiB })
      yield* Effect.scoped(HeapTrimmer.run({ interval: 5_000, probe: program.probe }))
      program.state.committed = 80 * MiB
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(program.state.trims, 0)
    }))
})

describe("HeapTrimmer.nodeProbe", () => {
  it("gives the garbage of a burst back (V8's memory-reducing collection), without exposing gc()", () => {
    const probe = HeapTrimmer.nodeProbe()
    let burst: Array<{ readonly i: number; readonly s: string }> | undefined = []
    for (let i = 0; i < 400_000; i++) burst.push({ i, s: `item-${i}` })
    const before = Effect.runSync(probe.sample).committedBytes
    assert.isAbove(burst.length, 0)
    burst = undefined
    const after = Effect.runSync(probe.collect)
    assert.isBelow(after, before - 16 * MiB, `committed ${before / MiB} MiB → ${after / MiB} MiB`)
    assert.strictEqual(after, V8.getHeapStatistics().total_heap_size)
    assert.isUndefined((globalThis as { gc?: unknown }).gc)
  })
})
