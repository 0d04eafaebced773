import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Scope, SubscriptionRef } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import * as Liveness from "../../src/election/Liveness.ts"
import * as LV from "../../src/election/LivenessView.ts"
import * as SpeakerDirectory from "../../src/election/SpeakerDirectory.ts"
import * as MemorySegment from "../../src/testing/MemorySegment.ts"

const nodes = ["n1", "n2", "n3"] as const
const speakers = nodes.map((node) => ({ node, interfaces: "all" as const }))

/** Three speakers on one in-memory segment, each in its own scope (closing it is a graceful stop). */
const cluster = (timing: LV.Timing, key?: (node: string) => Uint8Array | undefined) =>
  Effect.gen(function*() {
    const segment = MemorySegment.make()
    const members = new Map<string, { service: Liveness.Liveness["Service"]; scope: Scope.Closeable }>()
    for (const [i, node] of nodes.entries()) {
      const scope = yield* Scope.make()
      const k = key?.(node)
      const layer = Liveness.Liveness.layer({
        node,
        interfaces: ["eth0"],
        timing,
        linkUp: () => segment.linkUp(node),
        ...(k === undefined ? {} : { key: k })
      }).pipe(Layer.provide([segment.sockets(node, 11 + i), SpeakerDirectory.layerInMemory(node, speakers)]))
      const context = yield* Layer.buildWithScope(layer, scope)
      members.set(node, { service: Context.get(context, Liveness.Liveness), scope })
    }
    const candidatesOf = (node: string) =>
      Effect.gen(function*() {
        const m = members.get(node)
        if (m === undefined) return []
        const snapshot = yield* SubscriptionRef.get(m.service.view)
        return [...(snapshot.interfaces.get("eth0")?.candidates ?? [])].toSorted()
      })
    return { segment, members, candidatesOf }
  })

const timings = [["default", LV.defaultTiming], ["fast", LV.fastTiming]] as const

describe("Liveness on TestClock", () => {
  for (const [name, timing] of timings) {
    it.effect(`${name}: all agree after rejoinAfter; a crashed node is dropped within deadAfter, not before deadAfter − interval`, () =>
      Effect.gen(function*() {
        const c = yield* cluster(timing)
        yield* TestClock.adjust(timing.deadAfter + timing.rejoinAfter + 2 * timing.interval)
        for (const n of nodes) assert.deepStrictEqual(yield* c.candidatesOf(n), ["n1", "n2", "n3"], n)
        c.segment.setLink("n1", false)
        yield* TestClock.adjust(timing.deadAfter - timing.interval - 1)
        assert.deepStrictEqual(yield* c.candidatesOf("n2"), ["n1", "n2", "n3"])
        yield* TestClock.adjust(timing.interval + 1)
        assert.deepStrictEqual(yield* c.candidatesOf("n2"), ["n2", "n3"])
        assert.deepStrictEqual(yield* c.candidatesOf("n3"), ["n2", "n3"])
        // n1 saw its own link go down at its next tick.
        assert.notInclude(yield* c.candidatesOf("n1"), "n1")
        // Back up: it counts again only after listening deadAfter and a full rejoin run.
        c.segment.setLink("n1", true)
        yield* TestClock.adjust(timing.deadAfter + timing.rejoinAfter - 2 * timing.interval)
        assert.deepStrictEqual(yield* c.candidatesOf("n2"), ["n2", "n3"])
        yield* TestClock.adjust(3 * timing.interval)
        for (const n of nodes) assert.deepStrictEqual(yield* c.candidatesOf(n), ["n1", "n2", "n3"], n)
      }))

    it.effect(`${name}: a graceful stop is seen at once (leaving frames)`, () =>
      Effect.gen(function*() {
        const c = yield* cluster(timing)
        yield* TestClock.adjust(timing.deadAfter + timing.rejoinAfter + 2 * timing.interval)
        const n2 = c.members.get("n2")
        if (n2 === undefined) return assert.fail("no n2")
        const closing = yield* Effect.forkChild(Scope.close(n2.scope, Exit.void))
        yield* TestClock.adjust(1)
        assert.deepStrictEqual(yield* c.candidatesOf("n1"), ["n1", "n3"])
        assert.deepStrictEqual(yield* c.candidatesOf("n3"), ["n1", "n3"])
        // The remaining two leaving frames go out 10 ms apart; the close (uninterruptible) then completes.
        yield* TestClock.adjust(25)
        yield* Fiber.join(closing)
        const stats = yield* n2.service.stats
        assert.isAtLeast(stats.sent, 3)
      }))

    it.effect(`${name}: a node that hears nobody isolates itself and says so; its peers stop counting it`, () =>
      Effect.gen(function*() {
        const c = yield* cluster(timing)
        yield* TestClock.adjust(timing.deadAfter + timing.rejoinAfter + 2 * timing.interval)
        c.segment.setDeaf("n3", true)
        yield* TestClock.adjust(2 * timing.deadAfter + 2 * timing.interval)
        const n3 = c.members.get("n3")
        if (n3 === undefined) return assert.fail("no n3")
        assert.isTrue((yield* SubscriptionRef.get(n3.service.view)).interfaces.get("eth0")?.isolated)
        assert.deepStrictEqual(yield* c.candidatesOf("n3"), [])
        assert.deepStrictEqual(yield* c.candidatesOf("n1"), ["n1", "n2"])
        assert.deepStrictEqual(yield* c.candidatesOf("n2"), ["n1", "n2"])
      }))
  }

  it("a crash at any phase of the heartbeat cycle is seen after deadAfter − interval and by deadAfter (property, TestClock)", async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(...timings), fc.double({ min: 0, max: 1, noNaN: true }), async ([, timing], phase) => {
      const program = Effect.gen(function*() {
        const c = yield* cluster(timing)
        yield* TestClock.adjust(timing.deadAfter + timing.rejoinAfter + 2 * timing.interval + Math.floor(phase * timing.interval))
        c.segment.setLink("n1", false)
        let seenAfter = 0
        while ((yield* c.candidatesOf("n2")).includes("n1") && seenAfter <= 2 * timing.deadAfter) {
          yield* TestClock.adjust(1)
          seenAfter++
        }
        assert.isAbove(seenAfter, timing.deadAfter - timing.interval)
        assert.isAtMost(seenAfter, timing.deadAfter)
        for (const m of c.members.values()) yield* Effect.forkChild(Scope.close(m.scope, Exit.void))
        yield* TestClock.adjust(50)
      })
      await Effect.runPromise(program.pipe(Effect.provide(TestClock.layer()), Effect.scoped))
    }), { numRuns: 12 })
  })

  it.effect("with a key, unsigned or wrongly signed heartbeats are dropped and counted", () =>
    Effect.gen(function*() {
      const timing = LV.fastTiming
      const c = yield* cluster(timing, (node) => node === "n1" ? Buffer.from("other") : Buffer.from("shared"))
      yield* TestClock.adjust(timing.deadAfter + timing.rejoinAfter + 2 * timing.interval)
      assert.deepStrictEqual(yield* c.candidatesOf("n2"), ["n2", "n3"])
      const stats = yield* (c.members.get("n2")?.service.stats ?? Effect.die("no n2"))
      assert.isAbove(stats.unauthenticated, 0)
    }))

  it.effect("refuses a bad configuration with the field and the reason", () =>
    Effect.gen(function*() {
      const segment = MemorySegment.make()
      const exit = yield* Layer.build(Liveness.Liveness.layer({ node: "n1", interfaces: ["eth0"], timing: { interval: 100, deadAfter: 150, rejoinAfter: 500 } }).pipe(
        Layer.provide([segment.sockets("n1", 11), SpeakerDirectory.layerInMemory("n1", [])])
      )).pipe(Effect.scoped, Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "deadAfter")
    }))
})
