// KubeClient, list+watch and the Informer through @kubernetes/client-node over HTTP against the in-memory API server.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Queue, type Scope, Stream } from "effect"
import { KubeClient, jsonPatch, mergePatch } from "../../src/k8s/KubeClient.ts"
import * as Informer from "../../src/k8s/Informer.ts"
import { ConfigMaps, Namespaces, Services } from "../../src/k8s/Resource.ts"
import { type Change, fromClient, listWatch } from "../../src/k8s/Watch.ts"
import { type ApiServer, startApiServer } from "../../src/testing/apiserver/Server.ts"

const server = Effect.acquireRelease(
  Effect.promise(() => startApiServer({ bookmarkIntervalMs: 100 })),
  (s) => Effect.promise(() => s.stop())
)

/** Runs `body` with a fresh server and a KubeClient pointed at it. */
const withServer = <A, E>(body: (s: ApiServer) => Effect.Effect<A, E, KubeClient | Scope.Scope>) =>
  Effect.scoped(Effect.gen(function*() {
    const s = yield* server
    return yield* body(s).pipe(Effect.provide(KubeClient.layerServer(s.url)))
  }))

const service = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: "default", labels },
  spec: { type: "LoadBalancer", ports: [{ port: 80, protocol: "TCP" }] }
})

const rawService = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: "default", ...extra },
  spec: { type: "LoadBalancer", ports: [{ port: 80, protocol: "TCP" }] }
})

const cm = (data: Record<string, string>) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "default" }, data })

/** Another writer changes the Service between our read and our write. */
const sneakIn = (s: ApiServer, value: string) => {
  const current = s.objects.get("v1", "Service", "default", "lb") ?? {}
  s.objects.upsert({ ...current, metadata: { ...(current["metadata"] as object), annotations: { sneaky: value } } })
}

const describeChange = (c: Change<{ metadata: { name: string } }>) => c._tag === "Synced" ? "Synced" : `${c._tag}:${c.object.metadata.name}`

/** Takes from `q` until `done` holds for what was taken, within a real-time limit. */
const takeUntil = <A>(q: Queue.Dequeue<A>, done: (seen: ReadonlyArray<A>) => boolean) =>
  Effect.gen(function*() {
    const seen: Array<A> = []
    while (!done(seen)) seen.push(yield* Queue.take(q))
    return seen
  }).pipe(Effect.timeout("10 seconds"))

describe("KubeClient against the in-memory API server", () => {
  it.live("creates, reads, lists by label, patches (merge and JSON), replaces, deletes", () =>
    withServer(() =>
      Effect.gen(function*() {
        const kube = yield* KubeClient
        const a = yield* kube.create(Services, service("a", { app: "web" }))
        yield* kube.create(Services, service("b", { app: "db" }))
        assert.isString(a.metadata.resourceVersion)
        assert.strictEqual((yield* kube.get(Services, "a", "default")).metadata.name, "a")

        const web = yield* kube.list(Services, { namespace: "default", labelSelector: "app=web" })
        assert.deepStrictEqual(web.items.map((s) => s.metadata.name), ["a"])
        assert.isTrue(web.resourceVersion !== "")

        const merged = yield* kube.patch(Services, "a", "default", mergePatch({ metadata: { annotations: { x: "1" } } }))
        assert.strictEqual(merged.metadata.annotations?.["x"], "1")
        const patched = yield* kube.patch(Services, "a", "default", jsonPatch([{ op: "replace", path: "/metadata/annotations/x", value: "2" }]))
        assert.strictEqual(patched.metadata.annotations?.["x"], "2")

        const stale = yield* Effect.flip(kube.replace(Services, { ...a, metadata: { ...a.metadata, labels: { app: "stale" } } }))
        assert.strictEqual(stale.reason, "Conflict")

        const missing = yield* Effect.flip(kube.get(Services, "nope", "default"))
        assert.strictEqual(missing.reason, "NotFound")
        const dup = yield* Effect.flip(kube.create(Services, service("b")))
        assert.strictEqual(dup.reason, "Conflict")
        assert.strictEqual(dup.statusReason, "AlreadyExists")

        yield* kube.delete(Services, "a", "default")
        yield* kube.delete(Services, "a", "default") // already gone: fine
        assert.strictEqual((yield* Effect.flip(kube.get(Services, "a", "default"))).reason, "NotFound")
      })))

  it.live("createOrPatch creates, then merges into the existing object", () =>
    withServer(() =>
      Effect.gen(function*() {
        const kube = yield* KubeClient
        yield* kube.createOrPatch(ConfigMaps, cm({ a: "1" }))
        const second = yield* kube.createOrPatch(ConfigMaps, cm({ b: "2" }))
        assert.deepStrictEqual(second.data, { a: "1", b: "2" })
      })))

  it.live("updateStatus re-reads and re-applies its update on 409, so concurrent writers all land", () =>
    withServer((s) =>
      Effect.gen(function*() {
        const kube = yield* KubeClient
        yield* kube.create(Services, rawService("lb"))
        const ips = Array.from({ length: 8 }, (_, i) => `192.0.2.${i + 1}`)
        yield* Effect.forEach(ips, (ip) =>
          kube.updateStatus(Services, "lb", "default", (svc) => ({
            ...svc,
            status: { loadBalancer: { ingress: [...(svc.status?.loadBalancer?.ingress ?? []), { ip }] } }
          })), { concurrency: "unbounded" })
        const final = yield* kube.get(Services, "lb", "default")
        assert.deepStrictEqual((final.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).toSorted(), [...ips].toSorted())

        // A writer that sneaks in between our read and our write: the update function runs again on its result.
        let calls = 0
        const result = yield* kube.updateStatus(Services, "lb", "default", (svc) => {
          calls++
          if (calls === 1) sneakIn(s, "yes")
          return { ...svc, status: { loadBalancer: { ingress: [{ ip: "198.51.100.1" }] } } }
        })
        assert.strictEqual(calls, 2)
        assert.strictEqual(result.metadata.annotations?.["sneaky"], "yes")
        assert.deepStrictEqual(result.status?.loadBalancer?.ingress, [{ ip: "198.51.100.1" }])

        // The same through a merge patch with the read resourceVersion as precondition.
        let patchCalls = 0
        const patched = yield* kube.updateStatus(Services, "lb", "default", (svc) => {
          patchCalls++
          if (patchCalls === 1) sneakIn(s, "again")
          return { ...svc, status: { loadBalancer: { ingress: [{ ip: "203.0.113.9" }] } } }
        }, { via: "merge-patch" })
        assert.strictEqual(patchCalls, 2)
        assert.strictEqual(patched.metadata.annotations?.["sneaky"], "again")
        assert.deepStrictEqual(patched.status?.loadBalancer?.ingress, [{ ip: "203.0.113.9" }])
        const unchanged = yield* kube.updateStatus(Services, "lb", "default", (svc) => ({ ...svc }), { via: "merge-patch" })
        assert.strictEqual(unchanged.metadata.resourceVersion, patched.metadata.resourceVersion)
      })))

  it.live("list+watch streams ADDED, MODIFIED and DELETED", () =>
    withServer(() =>
      Effect.gen(function*() {
        const kube = yield* KubeClient
        yield* kube.create(Services, service("before"))
        const q = yield* Queue.unbounded<string>()
        yield* listWatch(fromClient(kube, Services, { namespace: "default" })).pipe(
          Stream.runForEach((c) => Queue.offer(q, describeChange(c))),
          Effect.forkScoped
        )
        assert.deepStrictEqual(yield* takeUntil(q, (s) => s.length === 2), ["Added:before", "Synced"])
        yield* kube.create(Services, service("a"))
        yield* kube.patch(Services, "a", "default", mergePatch({ metadata: { labels: { v: "2" } } }))
        yield* kube.delete(Services, "a", "default")
        assert.deepStrictEqual(yield* takeUntil(q, (s) => s.length === 3), ["Added:a", "Modified:a", "Deleted:a"])
      })))

  it.live("a watch cut mid-stream resumes from the last resourceVersion and loses nothing", () =>
    withServer((s) =>
      Effect.gen(function*() {
        const kube = yield* KubeClient
        const q = yield* Queue.unbounded<string>()
        yield* listWatch(fromClient(kube, Services, { namespace: "default" })).pipe(
          Stream.runForEach((c) => Queue.offer(q, describeChange(c))),
          Effect.forkScoped
        )
        assert.deepStrictEqual(yield* takeUntil(q, (seen) => seen.length === 1), ["Synced"])
        yield* kube.create(Services, service("a"))
        assert.deepStrictEqual(yield* takeUntil(q, (seen) => seen.length === 1), ["Added:a"])
        s.clearRequests()
        assert.isAtLeast(s.faults.dropWatches(), 1)
        // Changes while the watch is down, made in the same tick as the cut, before any reconnect.
        s.objects.upsert(rawService("b"))
        s.objects.upsert(rawService("a", { labels: { changed: "yes" } }))
        s.objects.delete("v1", "Service", "default", "b")
        assert.deepStrictEqual(yield* takeUntil(q, (seen) => seen.length === 3), ["Added:b", "Modified:a", "Deleted:b"])
        // It resumed: no relist was needed.
        assert.isFalse(s.requests().some((r) => r.verb === "list"))
      })))

  it.live("410 Gone relists and delivers every change as a difference", () =>
    withServer((s) =>
      Effect.gen(function*() {
        const kube = yield* KubeClient
        yield* kube.create(Services, service("a"))
        yield* kube.create(Services, service("b"))
        const informer = yield* Informer.forResource(Services, { namespace: "default" })
        yield* informer.synced
        const q = yield* Queue.unbounded<string>()
        yield* informer.changes.pipe(Stream.runForEach((c) => Queue.offer(q, describeChange(c))), Effect.forkScoped)
        assert.deepStrictEqual((yield* takeUntil(q, (seen) => seen.length === 3)).toSorted(), ["Added:a", "Added:b", "Synced"])

        s.clearRequests()
        s.faults.dropWatches()
        s.objects.upsert(rawService("c"))
        s.objects.upsert(rawService("a", { labels: { changed: "yes" } }))
        s.objects.delete("v1", "Service", "default", "b")
        s.faults.compactHistory() // the watch cannot resume from where it was: 410
        const seen = yield* takeUntil(q, (xs) => xs.includes("Synced"))
        assert.deepStrictEqual([...seen].toSorted(), ["Added:c", "Deleted:b", "Modified:a", "Synced"])
        assert.isTrue(s.requests().some((r) => r.verb === "list"), "relisted")
        const names = [...(yield* informer.snapshot).keys()].toSorted()
        assert.deepStrictEqual(names, ["default/a", "default/c"])
        assert.strictEqual((yield* informer.get("a", "default"))?.metadata.labels?.["changed"], "yes")
        // and it keeps watching afterwards
        yield* kube.create(Services, service("d"))
        assert.deepStrictEqual(yield* takeUntil(q, (xs) => xs.length === 1), ["Added:d"])
      })))

  it.live("the informer honours label selectors and reports synced", () =>
    withServer(() =>
      Effect.gen(function*() {
        const kube = yield* KubeClient
        yield* kube.create(Services, service("web", { app: "web" }))
        yield* kube.create(Services, service("db", { app: "db" }))
        const informer = yield* Informer.forResource(Services, { labelSelector: "app=web" })
        yield* informer.synced
        assert.isTrue(yield* informer.hasSynced)
        assert.deepStrictEqual((yield* informer.list).map((o) => o.metadata.name), ["web"])
      })))

  it.live("a watch reconnects after the API server was unreachable", () =>
    withServer((s) =>
      Effect.gen(function*() {
        const kube = yield* KubeClient
        const q = yield* Queue.unbounded<string>()
        const fiber = yield* listWatch(fromClient(kube, Services, { namespace: "default" })).pipe(
          Stream.runForEach((c) => Queue.offer(q, describeChange(c))),
          Effect.forkScoped
        )
        assert.deepStrictEqual(yield* takeUntil(q, (seen) => seen.length === 1), ["Synced"])
        yield* Effect.promise(() => s.faults.pause("refuse"))
        s.faults.dropWatches()
        s.objects.upsert(rawService("while-down"))
        yield* Effect.sleep("700 millis") // a few refused attempts, backing off
        yield* Effect.promise(() => s.faults.resume())
        assert.deepStrictEqual(yield* takeUntil(q, (seen) => seen.length === 1), ["Added:while-down"])
        yield* Fiber.interrupt(fiber)
      })))

  it.live("loads the server's kubeconfig file; in-cluster outside a pod fails with a clear error", () =>
    Effect.scoped(Effect.gen(function*() {
      const s = yield* server
      const names = yield* Effect.flatMap(KubeClient, (k) => k.list(Namespaces)).pipe(
        Effect.provide(KubeClient.layerKubeconfig(s.kubeconfigPath)),
        Effect.map((l) => l.items.map((n) => n.metadata.name))
      )
      assert.include(names, "default")
      const missing = yield* Effect.flip(Effect.provide(KubeClient, KubeClient.layerKubeconfig("/nonexistent/kubeconfig")))
      assert.strictEqual(missing.reason, "Other")
      assert.include(missing.request, "/nonexistent/kubeconfig")
      if (process.env["KUBERNETES_SERVICE_HOST"] === undefined) {
        const outside = yield* Effect.flip(Effect.provide(KubeClient, KubeClient.layerInCluster))
        assert.include(outside.message, "KUBERNETES_SERVICE_HOST")
      }
    })))

  it.live("closing a watch aborts it at once, even while the server holds the request unanswered", () =>
    withServer((s) =>
      Effect.gen(function*() {
        const kube = yield* KubeClient
        yield* Effect.promise(() => s.faults.pause("hang"))
        const fiber = yield* kube.watch(Services).pipe(Stream.runDrain, Effect.forkChild)
        yield* Effect.sleep("200 millis")
        yield* Fiber.interrupt(fiber).pipe(Effect.timeout("1 second"))
        yield* Effect.promise(() => s.faults.resume())
      })))

  it.live("bookmarks move the resume point, so a watch on a quiet kind resumes even after compaction", () =>
    withServer((s) =>
      Effect.gen(function*() {
        const kube = yield* KubeClient
        const q = yield* Queue.unbounded<string>()
        yield* listWatch(fromClient(kube, Services, { namespace: "default" })).pipe(
          Stream.runForEach((c) => Queue.offer(q, describeChange(c))),
          Effect.forkScoped
        )
        assert.deepStrictEqual(yield* takeUntil(q, (seen) => seen.length === 1), ["Synced"])
        // Other kinds move the global resourceVersion; only bookmarks tell the Service watch about it.
        for (const name of ["x", "y", "z"]) yield* kube.create(ConfigMaps, { ...cm({}), metadata: { name, namespace: "default" } })
        yield* Effect.sleep("400 millis") // bookmarks every 100 ms
        s.clearRequests()
        s.faults.compactHistory()
        s.faults.dropWatches()
        s.objects.upsert(rawService("after"))
        assert.deepStrictEqual(yield* takeUntil(q, (seen) => seen.length === 1), ["Added:after"])
        assert.isFalse(s.requests().some((r) => r.verb === "list"), "resumed from the bookmark without a relist")
      })))
})
