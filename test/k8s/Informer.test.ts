import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Queue, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import type { WatchEvent } from "../../src/k8s/KubeClient.ts"
import * as Informer from "../../src/k8s/Informer.ts"
import type { KubeObject } from "../../src/k8s/Resource.ts"
import type { Change, ListWatcher } from "../../src/k8s/Watch.ts"

const obj = (name: string, rv: string): KubeObject => ({ metadata: { name, namespace: "ns", resourceVersion: rv } })
const show = (c: Change<KubeObject>) => c._tag === "Synced" ? "Synced" : `${c._tag}:${c.object.metadata.name}`

  const heavy = (name: string, rv: string): KubeObject => ({
    metadata: {
      name,
      namespace: "ns",
      resourceVersion: rv,
      labels: { app: name },
      annotations: { [Informer.lastAppliedAnnotation]: "{\"kind\":\"Service\"}", "metallb.io/address-pool": "pool" },
      managedFields: [{ manager: "kubectl-client-side-apply", operation: "Update", fieldsV1: { "f:spec": {} } }]
    }
  })
  const light = (name: string, rv: string): KubeObject => ({
    metadata: { name, namespace: "ns", resourceVersion: rv, labels: { app: name }, annotations: { "metallb.io/address-pool": "pool" } }
  })

describe("Informer", () => {
  it.effect("caches the list, signals synced, applies watch events, and replays the cache to late subscribers", () =>
    Effect.gen(function*() {
      const events = yield* Queue.unbounded<WatchEvent<KubeObject>>()
      const lw: ListWatcher<KubeObject> = {
        list: Effect.succeed({ items: [obj("a", "1")], resourceVersion: "1" }),
        watch: () => Stream.fromQueue(events)
      }
      const informer = yield* Informer.make(lw)
      yield* TestClock.adjust(0)
      yield* informer.synced
      assert.isTrue(yield* informer.hasSynced)
      assert.strictEqual((yield* informer.get("a", "ns"))?.metadata.resourceVersion, "1")

      const seen: Array<string> = []
      const consumer = yield* Effect.forkChild(informer.changes.pipe(Stream.runForEach((c) => Effect.sync(() => seen.push(show(c))))))
      yield* TestClock.adjust(0)
      assert.deepStrictEqual(seen, ["Added:a", "Synced"])

      yield* Queue.offer(events, { type: "ADDED", object: obj("b", "2") })
      yield* Queue.offer(events, { type: "MODIFIED", object: obj("a", "3") })
      yield* Queue.offer(events, { type: "DELETED", object: obj("b", "4") })
      yield* TestClock.adjust(0)
      assert.deepStrictEqual(seen, ["Added:a", "Synced", "Added:b", "Modified:a", "Deleted:b"])
      assert.deepStrictEqual([...(yield* informer.snapshot).keys()], ["ns/a"])
      assert.strictEqual((yield* informer.get("a", "ns"))?.metadata.resourceVersion, "3")
      assert.isUndefined(yield* informer.get("b", "ns"))
      yield* Fiber.interrupt(consumer)
    }))

  it.effect("caches objects without managedFields and the last-applied annotation, from the list and from the watch", () =>
    Effect.gen(function*() {
      const events = yield* Queue.unbounded<WatchEvent<KubeObject>>()
      const informer = yield* Informer.make<KubeObject>({
        list: Effect.succeed({ items: [heavy("a", "1")], resourceVersion: "1" }),
        watch: () => Stream.fromQueue(events)
      })
      yield* TestClock.adjust(0)
      yield* informer.synced
      assert.deepStrictEqual(yield* informer.get("a", "ns"), light("a", "1"))
      yield* Queue.offer(events, { type: "ADDED", object: heavy("b", "2") })
      yield* TestClock.adjust(0)
      assert.deepStrictEqual(yield* informer.list, [light("a", "1"), light("b", "2")])
    }))

  it.effect("keeps objects as they come with an identity transform", () =>
    Effect.gen(function*() {
      const object: KubeObject = { metadata: { name: "a", namespace: "ns", resourceVersion: "1", managedFields: [] } }
      const informer = yield* Informer.make<KubeObject>(
        { list: Effect.succeed({ items: [object], resourceVersion: "1" }), watch: () => Stream.never },
        { transform: (o) => o }
      )
      yield* TestClock.adjust(0)
      yield* informer.synced
      assert.strictEqual(yield* informer.get("a", "ns"), object)
    }))
})

describe("stripUnread", () => {
  const text = fc.string({ maxLength: 8 })
  const annotations = fc.option(fc.dictionary(fc.oneof(text, fc.constant(Informer.lastAppliedAnnotation)), text), { nil: undefined })
  const metadata = fc.record(
    {
      name: text,
      namespace: text,
      resourceVersion: text,
      labels: fc.dictionary(text, text),
      annotations,
      managedFields: fc.array(fc.record({ manager: text }), { maxLength: 2 }),
      uid: text
    },
    { requiredKeys: ["name"] }
  )
  const object = fc.record({ kind: fc.constant("Service"), metadata, spec: fc.record({ type: text }) })

  it("drops exactly managedFields and the last-applied annotation, and returns the object itself when neither is there", () => {
    fc.assert(fc.property(object, (o) => {
      const out = Informer.stripUnread(o as KubeObject)
      const { managedFields, annotations: before, ...restBefore } = o.metadata
      const { annotations: after, ...restAfter } = out.metadata
      assert.notProperty(out.metadata, "managedFields")
      assert.deepStrictEqual(restAfter, restBefore)
      assert.deepStrictEqual((out as typeof o).spec, o.spec)
      const expected = before === undefined ? undefined : Object.fromEntries(Object.entries(before).filter(([k]) => k !== Informer.lastAppliedAnnotation))
      assert.deepStrictEqual(after, expected)
      const untouched = managedFields === undefined && (before === undefined || !Object.hasOwn(before, Informer.lastAppliedAnnotation))
      assert.strictEqual(out === (o as KubeObject), untouched)
    }))
  })
})
