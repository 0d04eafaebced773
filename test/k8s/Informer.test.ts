import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Queue, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { WatchEvent } from "../../src/k8s/KubeClient.ts"
import * as Informer from "../../src/k8s/Informer.ts"
import type { KubeObject } from "../../src/k8s/Resource.ts"
import type { Change, ListWatcher } from "../../src/k8s/Watch.ts"

const obj = (name: string, rv: string): KubeObject => ({ metadata: { name, namespace: "ns", resourceVersion: rv } })
const show = (c: Change<KubeObject>) => c._tag === "Synced" ? "Synced" : `${c._tag}:${c.object.metadata.name}`

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
})
