import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schedule, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import type { ObjectList, WatchEvent } from "../../src/k8s/KubeClient.ts"
import { KubeError } from "../../src/k8s/KubeError.ts"
import { keyOf, type KubeObject } from "../../src/k8s/Resource.ts"
import { apply, type Change, diff, listWatch, type ListWatcher } from "../../src/k8s/Watch.ts"

const obj = (name: string, rv: string, namespace = "default"): KubeObject => ({ metadata: { name, namespace, resourceVersion: rv } })

type Ending = "end" | "hang" | KubeError
interface Session { readonly events: ReadonlyArray<WatchEvent<KubeObject>>; readonly ending: Ending }

/** A scripted API: each list/watch call takes the next answer; the resourceVersions asked for are recorded. */
const scripted = (lists: Array<ObjectList<KubeObject> | KubeError>, sessions: Array<Session>) => {
  const calls = { lists: 0, watches: [] as Array<string> }
  const lw: ListWatcher<KubeObject> = {
    list: Effect.suspend(() => {
      const answer = lists[Math.min(calls.lists++, lists.length - 1)]
      return answer === undefined || answer instanceof KubeError
        ? Effect.fail(answer ?? gone)
        : Effect.succeed(answer)
    }),
    watch: (rv) => {
      calls.watches.push(rv)
      const s = sessions.shift() ?? { events: [], ending: "hang" as const }
      const tail = s.ending === "end" ? Stream.empty : s.ending === "hang" ? Stream.never : Stream.fail(s.ending)
      return Stream.concat(Stream.fromIterable(s.events), tail)
    }
  }
  return { lw, calls }
}

const gone = new KubeError({ reason: "Gone", request: "WATCH", status: 410, message: "too old resource version" })
const cut = new KubeError({ reason: "Unavailable", request: "WATCH", message: "socket hang up" })

const describeChange = (c: Change<KubeObject>) =>
  c._tag === "Synced" ? "Synced" : `${c._tag}:${c.object.metadata.name}@${c.object.metadata.resourceVersion ?? ""}`

const collect = (lw: ListWatcher<KubeObject>, n: number) =>
  listWatch(lw, { backoff: Schedule.exponential("1 second") }).pipe(Stream.take(n), Stream.runCollect, Effect.map((cs) => cs.map(describeChange)))

describe("diff", () => {
  const objects = fc.uniqueArray(
    fc.record({ name: fc.constantFrom("a", "b", "c", "d", "e"), ns: fc.constantFrom("x", "y"), rv: fc.constantFrom("1", "2", "3") }),
    { selector: (o) => `${o.ns}/${o.name}` }
  ).map((os) => os.map((o) => obj(o.name, o.rv, o.ns)))

  it("turns the known cache into exactly the listed items, touching only what differs", () => {
    fc.assert(fc.property(objects, objects, (before, after) => {
      const cache = new Map(before.map((o) => [keyOf(o), o]))
      const changes = diff(cache, after)
      for (const c of changes) apply(cache, c)
      assert.deepStrictEqual([...cache.keys()].toSorted(), after.map(keyOf).toSorted())
      for (const o of after) assert.deepStrictEqual(cache.get(keyOf(o)), o)
      const unchanged = after.filter((o) => before.some((b) => keyOf(b) === keyOf(o) && b.metadata.resourceVersion === o.metadata.resourceVersion))
      assert.strictEqual(changes.length, after.length - unchanged.length + before.filter((b) => !after.some((o) => keyOf(o) === keyOf(b))).length)
    }), { numRuns: 1000 })
  })
})

describe("listWatch", () => {
  it.effect("lists, watches from the list's version, and resumes a cut watch from the last version seen", () =>
    Effect.gen(function*() {
      const { lw, calls } = scripted([{ items: [obj("a", "1"), obj("b", "2")], resourceVersion: "5" }], [
        { events: [{ type: "MODIFIED", object: obj("a", "6") }], ending: cut },
        { events: [{ type: "BOOKMARK", resourceVersion: "9" }], ending: "end" },
        { events: [{ type: "ADDED", object: obj("c", "10") }, { type: "DELETED", object: obj("b", "11") }], ending: "hang" }
      ])
      const fiber = yield* Effect.forkChild(collect(lw, 6))
      yield* TestClock.adjust("10 seconds")
      const seen = yield* Fiber.join(fiber)
      assert.deepStrictEqual(seen, ["Added:a@1", "Added:b@2", "Synced", "Modified:a@6", "Added:c@10", "Deleted:b@11"])
      assert.deepStrictEqual(calls.watches, ["5", "6", "9"])
      assert.strictEqual(calls.lists, 1)
    }))

  it.effect("relists on 410 Gone and emits the differences, so nothing is lost", () =>
    Effect.gen(function*() {
      const { lw, calls } = scripted([
        { items: [obj("a", "1"), obj("b", "2")], resourceVersion: "5" },
        // while we were away: a changed, b went, c came
        { items: [obj("a", "20"), obj("c", "21")], resourceVersion: "22" }
      ], [
        { events: [{ type: "ADDED", object: obj("d", "6") }], ending: gone },
        { events: [], ending: "hang" }
      ])
      const fiber = yield* Effect.forkChild(collect(lw, 8))
      yield* TestClock.adjust(0) // no backoff: an expired resume point is relisted at once
      const seen = yield* Fiber.join(fiber)
      assert.deepStrictEqual(seen, [
        "Added:a@1", "Added:b@2", "Synced", "Added:d@6",
        "Modified:a@20", "Added:c@21", "Deleted:b@2", "Deleted:d@6"
      ])
      assert.deepStrictEqual(calls.watches, ["5", "22"])
      assert.strictEqual(calls.lists, 2)
    }))

  it.effect("backs off exponentially while the API server is down, and starts over after a healthy session", () =>
    Effect.gen(function*() {
      const down = new KubeError({ reason: "Unavailable", request: "GET", message: "connection refused" })
      const { lw, calls } = scripted([down, down, down, down, { items: [], resourceVersion: "1" }], [
        { events: [{ type: "ADDED", object: obj("a", "2") }], ending: cut },
        { events: [], ending: cut },
        { events: [], ending: "hang" }
      ])
      const seen: Array<string> = []
      const fiber = yield* Effect.forkChild(
        listWatch(lw, { backoff: Schedule.exponential("1 second") }).pipe(Stream.runForEach((c) => Effect.sync(() => seen.push(describeChange(c)))))
      )
      yield* TestClock.adjust(0)
      assert.strictEqual(calls.lists, 1)
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(calls.lists, 1)
      yield* TestClock.adjust("1 milli") // +1 s
      assert.strictEqual(calls.lists, 2)
      yield* TestClock.adjust("2 seconds") // +2 s
      assert.strictEqual(calls.lists, 3)
      yield* TestClock.adjust("3999 millis")
      assert.strictEqual(calls.lists, 3)
      yield* TestClock.adjust("1 milli") // +4 s
      assert.strictEqual(calls.lists, 4)
      yield* TestClock.adjust("8 seconds") // +8 s: the list works, the watch delivers one event, then is cut
      assert.strictEqual(calls.lists, 5)
      assert.deepStrictEqual(calls.watches, ["1", "2"]) // resumed at once: the cut session was healthy
      yield* TestClock.adjust("1 second") // the empty, cut session was not: back off from the start (1 s)
      assert.deepStrictEqual(calls.watches, ["1", "2", "2"])
      assert.deepStrictEqual(seen, ["Synced", "Added:a@2"])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("a watch that ends at once without events is not reconnected in a hot loop", () =>
    Effect.gen(function*() {
      const { lw, calls } = scripted([{ items: [], resourceVersion: "1" }], Array.from({ length: 50 }, () => ({ events: [], ending: "end" as const })))
      const fiber = yield* Effect.forkChild(listWatch(lw, { backoff: Schedule.spaced("1 second") }).pipe(Stream.runDrain))
      yield* TestClock.adjust("10500 millis")
      assert.strictEqual(calls.watches.length, 11)
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("410 right after a fresh list is not relisted in a hot loop", () =>
    Effect.gen(function*() {
      const { lw, calls } = scripted([{ items: [], resourceVersion: "1" }], Array.from({ length: 10 }, () => ({ events: [], ending: gone })))
      const fiber = yield* Effect.forkChild(listWatch(lw, { backoff: Schedule.spaced("1 second") }).pipe(Stream.runDrain))
      yield* TestClock.adjust(0)
      assert.strictEqual(calls.lists, 1)
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(calls.lists, 1)
      yield* TestClock.adjust("1 milli")
      assert.strictEqual(calls.lists, 2)
      yield* Fiber.interrupt(fiber)
    }))
})
