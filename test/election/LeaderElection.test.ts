import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Ref, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import {
  type Candidate,
  decide,
  type ElectionTiming,
  initialCandidate,
  LeaderElectionConfigError,
  make,
  observe,
  stepDown,
  validateConfig,
  withinDeadline,
  written
} from "../../src/election/LeaderElection.ts"
import { type LeaseRecord, LeaseStore, type LeaseStoreShape, makeMemoryStore } from "../../src/election/LeaseStore.ts"
import { link, type LinkMode } from "./LeaseLink.ts"

const timing: ElectionTiming = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 }
const config = (identity: string) => ({
  identity,
  leaseDuration: "15 seconds",
  renewDeadline: "10 seconds",
  retryPeriod: "2 seconds"
} as const)

const holder = fc.constantFrom<string | undefined>(undefined, "a", "b", "c")
const record: fc.Arbitrary<LeaseRecord> = fc.record({
  holderIdentity: holder,
  leaseDurationMs: fc.integer({ min: 1_000, max: 60_000 }),
  acquireTime: fc.option(fc.integer({ min: 0, max: 1e6 }), { nil: undefined }),
  renewTime: fc.option(fc.integer({ min: 0, max: 1e6 }), { nil: undefined }),
  leaseTransitions: fc.integer({ min: 0, max: 100 })
})

describe("decide (lease transition function)", () => {
  it("takes an absent lease with zero transitions", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1e9 }), fc.boolean(), (now, leading) => {
      const d = decide(undefined, now, "a", timing, leading)
      assert.strictEqual(d._tag, "Acquire")
      assert.deepStrictEqual(d._tag === "Acquire" ? d.record : undefined, {
        holderIdentity: "a",
        leaseDurationMs: timing.leaseDurationMs,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: 0
      })
    }))
  })

  it("renews its own lease, takes released or expired ones, and never a live lease of another", () => {
    fc.assert(fc.property(
      record,
      fc.integer({ min: 0, max: 1e6 }),
      fc.integer({ min: 0, max: 120_000 }),
      fc.boolean(),
      (rec, observedAt, elapsed, leading) => {
        const now = observedAt + elapsed
        const d = decide({ record: rec, observedAt }, now, "a", timing, leading)
        const live = now < observedAt + rec.leaseDurationMs
        if (rec.holderIdentity === "a") {
          assert.strictEqual(d._tag, "Renew")
          if (d._tag === "Renew") {
            assert.strictEqual(d.record.renewTime, now)
            assert.strictEqual(d.record.acquireTime, rec.acquireTime)
            assert.strictEqual(d.record.leaseTransitions, rec.leaseTransitions)
          }
        } else if (rec.holderIdentity === undefined || !live) {
          assert.strictEqual(d._tag, "Acquire")
          if (d._tag === "Acquire") {
            assert.strictEqual(d.record.holderIdentity, "a")
            assert.strictEqual(d.record.leaseTransitions, rec.leaseTransitions + 1)
            assert.strictEqual(d.record.acquireTime, now)
          }
        } else {
          assert.strictEqual(d._tag, leading ? "Lost" : "Observe")
          if (d._tag === "Observe" || d._tag === "Lost") assert.strictEqual(d.expiresAt, observedAt + rec.leaseDurationMs)
        }
      }
    ), { numRuns: 2000 })
  })

  it("measures expiry from the local observation, not the holder's renewTime", () => {
    const rec: LeaseRecord = { holderIdentity: "b", leaseDurationMs: 15_000, acquireTime: 0, renewTime: 0, leaseTransitions: 0 }
    // b's clock is far behind: its renewTime says 0, but we saw this version only at t=100 s.
    assert.strictEqual(decide({ record: rec, observedAt: 100_000 }, 110_000, "a", timing, false)._tag, "Observe")
    assert.strictEqual(decide({ record: rec, observedAt: 100_000 }, 115_000, "a", timing, false)._tag, "Acquire")
  })

  // A model of N electors on one atomic store, driven by random interleavings of reads, (possibly late) writes,
  // failures, releases and clock moves. Whatever happens, at most one elector may act as leader at any instant.
  it("never lets two electors lead at the same instant (model check)", () => {
    type Action =
      | { readonly _tag: "advance"; readonly ms: number }
      | { readonly _tag: "read"; readonly who: number }
      | { readonly _tag: "write"; readonly who: number }
      | { readonly _tag: "release"; readonly who: number }
    const who = fc.integer({ min: 0, max: 2 })
    const action: fc.Arbitrary<Action> = fc.oneof(
      fc.record({ _tag: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 6_000 }) }),
      fc.record({ _tag: fc.constant("read" as const), who }),
      fc.record({ _tag: fc.constant("write" as const), who }),
      fc.record({ _tag: fc.constant("release" as const), who })
    )
    fc.assert(fc.property(fc.array(action, { maxLength: 200 }), (actions) => {
      let now = 0
      let store: { record: LeaseRecord; version: number } | undefined
      const ids = ["a", "b", "c"] as const
      const electors: Array<Candidate> = [initialCandidate, initialCandidate, initialCandidate]
      const pending: Array<{ record: LeaseRecord; version: number | undefined } | undefined> = [undefined, undefined, undefined]
      const leaders = () => electors.filter((c) => withinDeadline(c, now, timing)).length
      for (const a of actions) {
        if (a._tag === "advance") now += a.ms
        const i = a._tag === "advance" ? 0 : a.who
        const c = electors[i] ?? initialCandidate
        if (a._tag === "read") {
          const seen = observe(c, store?.record, now)
          const d = decide(seen.observed, now, ids[i] ?? "", timing, withinDeadline(seen, now, timing))
          electors[i] = d._tag === "Lost" ? stepDown(seen) : seen
          pending[i] = d._tag === "Acquire" || d._tag === "Renew" ? { record: d.record, version: store?.version } : undefined
        } else if (a._tag === "write") {
          const p = pending[i]
          pending[i] = undefined
          if (p !== undefined && p.version === store?.version) {
            store = { record: p.record, version: (store?.version ?? 0) + 1 }
            electors[i] = written(c, p.record, now, now, timing)
          }
        } else if (a._tag === "release" && withinDeadline(c, now, timing)) {
          electors[i] = stepDown(c)
          if (store !== undefined && store.record.holderIdentity === ids[i]) {
            store = { record: { ...store.record, holderIdentity: undefined }, version: store.version + 1 }
          }
        }
        assert.isAtMost(leaders(), 1, `at t=${now}`)
      }
    }), { numRuns: 3000 })
  })
})

describe("validateConfig", () => {
  it.effect("names the field that breaks leaseDuration > renewDeadline > retryPeriod", () =>
    Effect.gen(function*() {
      const e1 = yield* Effect.flip(validateConfig({ ...config("a"), renewDeadline: "20 seconds" }))
      assert.instanceOf(e1, LeaderElectionConfigError)
      assert.strictEqual(e1.field, "leaseDuration")
      const e2 = yield* Effect.flip(validateConfig({ ...config("a"), retryPeriod: "10 seconds" }))
      assert.strictEqual(e2.field, "renewDeadline")
      const e3 = yield* Effect.flip(validateConfig({ ...config(""), retryPeriod: "1 second" }))
      assert.strictEqual(e3.field, "identity")
      assert.deepStrictEqual(yield* validateConfig(config("a")), timing)
    }))
})

const replica = Effect.fnUntraced(function*(identity: string, store: LeaseStoreShape) {
  const mode = yield* Ref.make<LinkMode>("ok")
  const scope = yield* Scope.make()
  const elector = yield* make(config(identity)).pipe(
    Effect.provideService(LeaseStore, link(store, mode)),
    Scope.provide(scope)
  )
  return { elector, mode, scope }
})

const at = (ms: number) => TestClock.setTime(ms)

describe("LeaderElection (TestClock)", () => {
  it.effect("two replicas started together: exactly one leads", () =>
    Effect.gen(function*() {
      const store = yield* makeMemoryStore()
      const a = yield* replica("a", store)
      const b = yield* replica("b", store)
      for (let t = 0; t <= 30_000; t += 500) {
        yield* at(t)
        const leaders = [yield* a.elector.isLeader, yield* b.elector.isLeader].filter(Boolean).length
        assert.strictEqual(leaders, 1, `t=${t}`)
      }
      yield* Scope.close(a.scope, Exit.void)
      yield* Scope.close(b.scope, Exit.void)
    }))

  it.effect("A holds, A dies: B acquires only after the lease expires", () =>
    Effect.gen(function*() {
      const store = yield* makeMemoryStore()
      const a = yield* replica("a", store)
      yield* at(0)
      assert.isTrue(yield* a.elector.isLeader)
      const b = yield* replica("b", store)
      yield* at(10_500) // a renewed at t=10 s
      assert.isFalse(yield* b.elector.isLeader)
      yield* Ref.set(a.mode, "fail") // a's process is gone: nothing it does reaches the store
      yield* Scope.close(a.scope, Exit.void)
      yield* at(24_900)
      assert.isFalse(yield* b.elector.isLeader, "the lease a renewed at 10 s is live until 25 s")
      yield* at(28_100)
      assert.isTrue(yield* b.elector.isLeader)
      const stored = yield* store.get
      assert.strictEqual(stored?.record.holderIdentity, "b")
      assert.strictEqual(stored?.record.leaseTransitions, 1)
      yield* Scope.close(b.scope, Exit.void)
    }))

  it.effect("A releases on shutdown: B acquires at its next retry, without waiting for expiry", () =>
    Effect.gen(function*() {
      const store = yield* makeMemoryStore()
      const a = yield* replica("a", store)
      yield* at(0)
      const b = yield* replica("b", store)
      yield* at(5_000)
      assert.isTrue(yield* a.elector.isLeader)
      yield* Scope.close(a.scope, Exit.void)
      assert.isFalse(yield* a.elector.isLeader)
      assert.isUndefined((yield* store.get)?.record.holderIdentity)
      yield* at(6_000)
      assert.isTrue(yield* b.elector.isLeader)
      yield* Scope.close(b.scope, Exit.void)
    }))

  it.effect("a partitioned leader steps down before anybody else can take over, then follows", () =>
    Effect.gen(function*() {
      const store = yield* makeMemoryStore()
      const a = yield* replica("a", store)
      yield* at(0)
      const b = yield* replica("b", store)
      yield* at(7_000)
      yield* Ref.set(a.mode, "fail")
      let bLedAt: number | undefined
      for (let t = 7_000; t <= 60_000; t += 100) {
        yield* at(t)
        const la = yield* a.elector.isLeader
        const lb = yield* b.elector.isLeader
        assert.isFalse(la && lb, `both lead at t=${t}`)
        if (lb && bLedAt === undefined) bLedAt = t
        if (t === 60_000 - 30_000) yield* Ref.set(a.mode, "ok") // the partition heals; b holds by then
      }
      assert.isDefined(bLedAt)
      assert.isAtLeast(bLedAt ?? 0, 6_000 + 15_000)
      assert.isFalse(yield* a.elector.isLeader)
      assert.isTrue(yield* b.elector.isLeader)
      yield* Scope.close(a.scope, Exit.void)
      yield* Scope.close(b.scope, Exit.void)
    }))

  it.effect("a leader that cannot renew steps down exactly at renewDeadline, even with the request hanging", () =>
    Effect.gen(function*() {
      const store = yield* makeMemoryStore()
      const a = yield* replica("a", store)
      yield* at(6_500) // renewed at 0, 2, 4, 6 s
      yield* Ref.set(a.mode, "hang")
      yield* at(15_999)
      assert.isTrue(yield* a.elector.isLeader)
      yield* at(16_000)
      assert.isFalse(yield* a.elector.isLeader)
      yield* Scope.close(a.scope, Exit.void)
    }))

  it.effect("changes streams the leadership and awaitLeadership completes on acquiring", () =>
    Effect.gen(function*() {
      const store = yield* makeMemoryStore()
      const a = yield* replica("a", store)
      yield* at(0)
      const b = yield* replica("b", store)
      const waiting = yield* Effect.forkChild(b.elector.awaitLeadership)
      yield* at(3_000)
      assert.isUndefined(waiting.pollUnsafe())
      yield* Scope.close(a.scope, Exit.void)
      yield* at(4_000)
      assert.isDefined(waiting.pollUnsafe())
      yield* Scope.close(b.scope, Exit.void)
    }))
})
