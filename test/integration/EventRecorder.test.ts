// EventRecorder against the in-memory API server: repeats become count bumps, not new Events.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Predicate } from "effect"
import { defaultCorrelatorConfig, EventRecorder, Reason, referenceTo, ReportingComponent } from "../../src/k8s/EventRecorder.ts"
import { KubeClient } from "../../src/k8s/KubeClient.ts"
import { Services } from "../../src/k8s/Resource.ts"
import { startApiServer } from "../../src/testing/apiserver/Server.ts"

/** `o[a][b]`, or undefined. */
const field = (o: unknown, a: string, b: string): unknown => {
  const inner: unknown = Predicate.isObject(o) && a in o ? Reflect.get(o, a) : undefined
  return Predicate.isObject(inner) && b in inner ? Reflect.get(inner, b) : undefined
}

describe("EventRecorder against the in-memory API server", () => {
  it.live("500 repeats make one Event with count 500; an expired Event is written again", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(Effect.promise(() => startApiServer()), (s) => Effect.promise(() => s.stop()))
      const client = KubeClient.layerServer(server.url)
      const recorder = EventRecorder.layer({ name: ReportingComponent.controller }, { ...defaultCorrelatorConfig, minWriteIntervalMs: 200 })
      yield* Effect.gen(function*() {
        const kube = yield* KubeClient
        const events = yield* EventRecorder
        const svc = yield* kube.create(Services, {
          metadata: { name: "web", namespace: "default" },
          spec: { type: "LoadBalancer", ports: [{ port: 80 }] }
        })
        const ref = referenceTo(Services, svc)
        server.clearRequests()
        for (let i = 0; i < 500; i++) yield* events.recordEvent(ref, "Warning", Reason.AllocationFailed, "no available IPs")
        yield* Effect.sleep("500 millis") // the held-back count is flushed
        const stored = server.objects.list("v1", "Event", "default")
        assert.strictEqual(stored.length, 1)
        const [event] = stored
        assert.strictEqual(event?.["count"], 500)
        assert.strictEqual(event?.["reason"], "AllocationFailed")
        assert.strictEqual(event?.["reportingComponent"], "metallb-controller")
        assert.deepStrictEqual(field(event, "involvedObject", "kind"), "Service")
        const writes = server.requests().filter((r) => r.resource === "events" && r.verb !== "get" && r.verb !== "list")
        assert.isAtMost(writes.length, 5)

        // The API server expires Events (1 h by default): the next bump creates it again.
        server.objects.delete("v1", "Event", "default", String(field(event, "metadata", "name")))
        yield* events.recordEvent(ref, "Warning", Reason.AllocationFailed, "no available IPs")
        yield* Effect.sleep("500 millis")
        const again = server.objects.list("v1", "Event", "default")
        assert.strictEqual(again.length, 1)
        assert.strictEqual(again[0]?.["count"], 501)
      }).pipe(Effect.provide(Layer.provideMerge(recorder, client)))
    })))
})
