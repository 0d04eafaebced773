/**
 * The in-memory API server driven over HTTP by @kubernetes/client-node: typed CRUD, conflicts, status writes,
 * watches (resume, 410, bookmarks, timeouts), the informer, CRDs with CustomObjectsApi, faults and the state file.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as k8s from "@kubernetes/client-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import { type ApiServer, InMemoryApiServer, startApiServer } from "../../src/testing/InMemoryApiServer.ts"

const clientFor = (server: Pick<ApiServer, "kubeconfigPath">) => {
  const kc = new k8s.KubeConfig()
  kc.loadFromFile(server.kubeconfigPath)
  return {
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    ext: kc.makeApiClient(k8s.ApiextensionsV1Api),
    custom: kc.makeApiClient(k8s.CustomObjectsApi)
  }
}

const mergePatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch)

/** The HTTP status of a rejected client-node call, and the Status reason in its body. */
const failure = async (p: Promise<unknown>): Promise<{ code: number; reason: string }> => {
  try {
    await p
  } catch (e) {
    if (e instanceof k8s.ApiException) {
      const body: unknown = typeof e.body === "string" ? JSON.parse(e.body) : e.body
      const reason = typeof body === "object" && body !== null && "reason" in body ? String(body.reason) : ""
      return { code: e.code, reason }
    }
    throw e
  }
  throw new Error("expected the call to fail")
}

/** Collects raw watch events until `until` says stop or the stream ends. */
const watchEvents = async (
  kc: k8s.KubeConfig,
  path: string,
  query: Record<string, string | number | boolean | undefined>,
  trigger: () => Promise<void>,
  until: (events: ReadonlyArray<{ type: string; object: Record<string, unknown> }>) => boolean
) => {
  const events: Array<{ type: string; object: Record<string, unknown> }> = []
  let controller: AbortController | undefined
  const finished = new Promise<unknown>((resolve) => {
    void new k8s.Watch(kc)
      .watch(
        path,
        query,
        (type, object: Record<string, unknown>) => {
          events.push({ type, object })
          if (until(events)) resolve("until")
        },
        (err: unknown) => resolve(err ?? "done")
      )
      .then((c) => {
        controller = c
      })
  })
  await new Promise((r) => setTimeout(r, 50))
  await trigger()
  const how = await Promise.race([finished, new Promise((r) => setTimeout(() => r("timeout"), 5000))])
  controller?.abort()
  return { events, how }
}

const crd = (scope: "Namespaced" | "Cluster", plural: string, kind: string, group = "example.com"): k8s.V1CustomResourceDefinition => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: `${plural}.${group}` },
  spec: {
    group,
    scope,
    names: { plural, singular: kind.toLowerCase(), kind },
    versions: [
      {
        name: "v1",
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: { openAPIV3Schema: { type: "object", properties: { spec: { type: "object", properties: { size: { type: "integer", _default: 3 } } } } } }
      }
    ]
  }
})

const nameOfObj = (o: Record<string, unknown>) => (o["metadata"] as { name?: string } | undefined)?.name

describe("InMemoryApiServer with @kubernetes/client-node", () => {
  let server: ApiServer
  let c: ReturnType<typeof clientFor>
  beforeAll(async () => {
    server = await startApiServer({ bookmarkIntervalMs: 100 })
    c = clientFor(server)
  })
  afterAll(() => server.stop())

  it("creates, lists, patches and replaces Services, with 409s and 404s", async () => {
    const svc = await c.core.createNamespacedService({
      namespace: "default",
      body: { metadata: { name: "web", labels: { app: "web" } }, spec: { type: "LoadBalancer", ports: [{ port: 80 }] } }
    })
    assert.match(svc.spec?.clusterIP ?? "", /^10\.96\./)
    assert.strictEqual(svc.spec?.externalTrafficPolicy, "Cluster")
    assert.deepStrictEqual(
      await failure(c.core.createNamespacedService({ namespace: "default", body: { metadata: { name: "web" }, spec: { ports: [{ port: 80 }] } } })),
      { code: 409, reason: "AlreadyExists" }
    )
    const list = await c.core.listNamespacedService({ namespace: "default", labelSelector: "app in (web,db)" })
    assert.deepStrictEqual(list.items.map((s) => s.metadata?.name), ["web"])
    assert.isTrue(Number(list.metadata?.resourceVersion) > 0)

    const withStatus = await c.core.replaceNamespacedServiceStatus({
      name: "web",
      namespace: "default",
      body: { ...svc, status: { loadBalancer: { ingress: [{ ip: "192.0.2.10" }] } } }
    })
    assert.deepStrictEqual(withStatus.status?.loadBalancer?.ingress, [{ ip: "192.0.2.10" }])
    assert.deepStrictEqual(
      await failure(c.core.replaceNamespacedServiceStatus({ name: "web", namespace: "default", body: { ...svc, status: { loadBalancer: {} } } })),
      { code: 409, reason: "Conflict" },
      "stale resourceVersion"
    )
    const patched = await c.core.patchNamespacedService({ name: "web", namespace: "default", body: { metadata: { annotations: { a: "b" } } } }, mergePatch)
    assert.strictEqual(patched.metadata?.annotations?.["a"], "b")
    assert.deepStrictEqual(patched.status?.loadBalancer?.ingress, [{ ip: "192.0.2.10" }], "status kept")
    const jsonPatched = await c.core.patchNamespacedServiceStatus({
      name: "web",
      namespace: "default",
      body: [{ op: "replace", path: "/status/loadBalancer/ingress/0/ip", value: "192.0.2.11" }]
    })
    assert.strictEqual(jsonPatched.status?.loadBalancer?.ingress?.[0]?.ip, "192.0.2.11")
    assert.deepStrictEqual(await failure(c.core.readNamespacedService({ name: "nope", namespace: "default" })), { code: 404, reason: "NotFound" })
    const deleted = await c.core.deleteNamespacedService({ name: "web", namespace: "default" })
    assert.strictEqual(deleted.metadata?.name, "web", "Services return the deleted object")
    await c.core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "cm" } } })
    const status = await c.core.deleteNamespacedConfigMap({ name: "cm", namespace: "default" })
    assert.strictEqual(status.status, "Success", "other built-ins return a Status")
    for (const [name, tier] of [["x1", "a"], ["x2", "a"], ["x3", "b"]] as const) {
      await c.core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name, labels: { tier } } } })
    }
    await c.core.deleteCollectionNamespacedConfigMap({ namespace: "default", labelSelector: "tier=a" })
    const left = await c.core.listNamespacedConfigMap({ namespace: "default", labelSelector: "tier" })
    assert.deepStrictEqual(left.items.map((x) => x.metadata?.name), ["x3"])
    await c.core.deleteNamespacedConfigMap({ name: "x3", namespace: "default" })
  })

  it("watches: live events, resume from a resourceVersion, 410 after compaction, bookmarks, timeouts", async () => {
    const start = (await c.core.listNamespacedConfigMap({ namespace: "default" })).metadata?.resourceVersion ?? ""
    const live = await watchEvents(
      c.kc,
      "/api/v1/namespaces/default/configmaps",
      { resourceVersion: start },
      async () => {
        await c.core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "w1" }, data: { a: "1" } } })
        await c.core.patchNamespacedConfigMap({ name: "w1", namespace: "default", body: { data: { a: "2" } } }, mergePatch)
        await c.core.deleteNamespacedConfigMap({ name: "w1", namespace: "default" })
      },
      (evs) => evs.length >= 3
    )
    assert.deepStrictEqual(live.events.map((e) => `${e.type}:${nameOfObj(e.object)}`), ["ADDED:w1", "MODIFIED:w1", "DELETED:w1"])

    const replay = await watchEvents(c.kc, "/api/v1/namespaces/default/configmaps", { resourceVersion: start }, async () => {}, (evs) => evs.length >= 3)
    assert.deepStrictEqual(replay.events.map((e) => e.type), ["ADDED", "MODIFIED", "DELETED"], "replayed from history")

    server.faults.compactHistory()
    const expired = await watchEvents(c.kc, "/api/v1/namespaces/default/configmaps", { resourceVersion: start }, async () => {}, (evs) => evs.length >= 1)
    assert.strictEqual(expired.events[0]?.type, "ERROR")
    assert.strictEqual(expired.events[0]?.object["code"], 410)
    assert.strictEqual(expired.events[0]?.object["reason"], "Expired")

    const bookmarks = await watchEvents(c.kc, "/api/v1/configmaps", { allowWatchBookmarks: true, resourceVersion: "0" }, async () => {}, (evs) => evs.some((e) => e.type === "BOOKMARK"))
    const bookmark = bookmarks.events.find((e) => e.type === "BOOKMARK")
    assert.strictEqual(String((bookmark?.object["metadata"] as { resourceVersion?: string } | undefined)?.resourceVersion), String(server.objects.resourceVersion()))

    const timed = await watchEvents(c.kc, "/api/v1/configmaps", { timeoutSeconds: 1 }, async () => {}, () => false)
    assert.strictEqual(timed.how, "done", "the server ends the stream after timeoutSeconds")
  })

  it("an informer sees ADDED, MODIFIED and DELETED, and relists after a 410", async () => {
    const informer = k8s.makeInformer(c.kc, "/api/v1/namespaces/default/pods", () => c.core.listNamespacedPod({ namespace: "default" }))
    const seen: Array<string> = []
    const errors: Array<unknown> = []
    informer.on("add", (p) => seen.push(`add:${p.metadata?.name}`))
    informer.on("update", (p) => seen.push(`update:${p.metadata?.name}`))
    informer.on("delete", (p) => seen.push(`delete:${p.metadata?.name}`))
    informer.on("error", (e) => errors.push(e))
    const waitFor = async (what: string) => {
      for (let i = 0; i < 200 && !seen.includes(what); i++) await new Promise((r) => setTimeout(r, 25))
      assert.include(seen, what)
    }
    await informer.start()
    try {
      await c.core.createNamespacedPod({ namespace: "default", body: { metadata: { name: "p1" }, spec: { containers: [{ name: "c", image: "x" }] } } })
      await waitFor("add:p1")
      await c.core.patchNamespacedPod({ name: "p1", namespace: "default", body: { metadata: { labels: { x: "y" } } } }, mergePatch)
      await waitFor("update:p1")
      // A gracefully ended watch is resumed from the last resourceVersion. Hold that resume, change and compact
      // behind the informer's back: it then gets 410 Gone, relists and sees the change.
      await server.faults.pause("hang")
      assert.strictEqual(server.faults.dropWatches({ graceful: true }), 1)
      server.objects.upsert({ apiVersion: "v1", kind: "Pod", metadata: { name: "p2", namespace: "default" }, spec: { containers: [{ name: "c", image: "x" }] } })
      server.faults.compactHistory()
      server.clearRequests()
      await new Promise((r) => setTimeout(r, 50))
      await server.faults.resume()
      await waitFor("add:p2")
      assert.deepStrictEqual(server.requests().map((r) => r.verb).slice(0, 2), ["watch", "list"], "410 → relist")
      await c.core.deleteNamespacedPod({ name: "p1", namespace: "default" })
      await waitFor("delete:p1")
      assert.deepStrictEqual(errors, [])
      assert.deepStrictEqual(informer.list().map((p) => p.metadata?.name), ["p2"])
    } finally {
      await informer.stop()
    }
  })

  it("serves a CRD's resources to CustomObjectsApi, namespaced and cluster-scoped, with status", async () => {
    const created = await c.ext.createCustomResourceDefinition({ body: crd("Namespaced", "widgets", "Widget") })
    assert.deepStrictEqual(created.status?.conditions?.map((x) => `${x.type}=${x.status}`), ["NamesAccepted=True", "Established=True"])
    await c.ext.createCustomResourceDefinition({ body: crd("Cluster", "gadgets", "Gadget") })

    const w = (await c.custom.createNamespacedCustomObject({
      group: "example.com",
      version: "v1",
      namespace: "default",
      plural: "widgets",
      body: { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" }, spec: {}, status: { ignored: true } }
    })) as { spec: { size: number }; status?: unknown }
    assert.deepStrictEqual(w.spec, { size: 3 }, "schema default applied")
    assert.isUndefined(w.status, "status is ignored on create")
    const st = (await c.custom.patchNamespacedCustomObjectStatus(
      { group: "example.com", version: "v1", namespace: "default", plural: "widgets", name: "w", body: { status: { ready: true } } },
      mergePatch
    )) as { status: unknown; metadata: { generation: number } }
    assert.deepStrictEqual(st.status, { ready: true })
    assert.strictEqual(st.metadata.generation, 1)
    const list = (await c.custom.listNamespacedCustomObject({ group: "example.com", version: "v1", namespace: "default", plural: "widgets" })) as {
      kind: string
      items: ReadonlyArray<unknown>
    }
    assert.deepStrictEqual([list.kind, list.items.length], ["WidgetList", 1])
    await c.custom.createClusterCustomObject({ group: "example.com", version: "v1", plural: "gadgets", body: { apiVersion: "example.com/v1", kind: "Gadget", metadata: { name: "g" } } })
    const g = (await c.custom.getClusterCustomObject({ group: "example.com", version: "v1", plural: "gadgets", name: "g" })) as { metadata: { namespace?: string } }
    assert.isUndefined(g.metadata.namespace)
    assert.deepStrictEqual(
      await failure(c.custom.patchNamespacedCustomObject({ group: "example.com", version: "v1", namespace: "default", plural: "widgets", name: "w", body: {} }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch))),
      { code: 415, reason: "UnsupportedMediaType" }
    )
    await c.ext.deleteCustomResourceDefinition({ name: "widgets.example.com" })
    assert.deepStrictEqual(
      await failure(c.custom.listNamespacedCustomObject({ group: "example.com", version: "v1", namespace: "default", plural: "widgets" })),
      { code: 404, reason: "NotFound" }
    )
  })

  it("logs every resource request as (verb, group, resource, subresource, namespace)", async () => {
    server.clearRequests()
    await c.core.listNamespacedConfigMap({ namespace: "kube-system" })
    await c.core.createNamespacedConfigMap({ namespace: "kube-system", body: { metadata: { name: "log" } } })
    await c.core.patchNamespacedConfigMap({ name: "log", namespace: "kube-system", body: { data: { a: "b" } } }, mergePatch)
    await c.core.readNode({ name: "absent" }).catch(() => undefined)
    await c.custom.listClusterCustomObject({ group: "example.com", version: "v1", plural: "gadgets" })
    // As Kubernetes' RequestInfo: a list narrowed to one name carries that name (RBAC resourceNames apply).
    await c.core.listNamespacedConfigMap({ namespace: "kube-system", fieldSelector: "metadata.name=log" })
    assert.deepStrictEqual(
      server.requests().map((r) => [r.verb, r.group, r.resource, r.subresource, r.namespace, r.name]),
      [
        ["list", "", "configmaps", "", "kube-system", ""],
        ["create", "", "configmaps", "", "kube-system", ""],
        ["patch", "", "configmaps", "", "kube-system", "log"],
        ["get", "", "nodes", "", "", "absent"],
        ["list", "example.com", "gadgets", "", "", ""],
        ["list", "", "configmaps", "", "kube-system", "log"]
      ]
    )
    assert.deepStrictEqual([...new Set(server.requests().map((r) => r.token))], ["inmemory-token"], "client-node sends the kubeconfig token")
    const speaker = clientFor({ kubeconfigPath: await server.kubeconfigWithToken("speaker-token") })
    await speaker.core.listNode()
    assert.strictEqual(server.requests().at(-1)?.token, "speaker-token")
  })

  it("pause: 'refuse' closes the port, 'hang' holds requests; resume restores both", async () => {
    await server.faults.pause("refuse")
    const refused = await c.core.listNamespace().then(
      () => "answered",
      (e: unknown) => String(e)
    )
    assert.match(refused, /ECONNREFUSED|fetch failed|connect/i)
    await server.faults.resume()
    assert.isAbove((await c.core.listNamespace()).items.length, 3)

    const frozen: Array<string> = []
    const watching = new k8s.Watch(c.kc).watch("/api/v1/namespaces/default/configmaps", { resourceVersion: String(server.objects.resourceVersion()) }, (type) => frozen.push(type), () => {})
    await new Promise((r) => setTimeout(r, 50))
    await server.faults.pause("hang")
    server.objects.upsert({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "during-pause", namespace: "default" } })
    let answered = false
    const pending = c.core.listNamespace().then((l) => {
      answered = true
      return l
    })
    await new Promise((r) => setTimeout(r, 200))
    assert.isFalse(answered)
    assert.deepStrictEqual(frozen, [], "open watches are frozen too")
    await server.faults.resume()
    assert.isAbove((await pending).items.length, 3)
    for (let i = 0; i < 100 && frozen.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
    assert.deepStrictEqual(frozen, ["ADDED"], "held events arrive after resume")
    ;(await watching).abort()
  })

  it("an abruptly dropped watch reaches the informer as an error", async () => {
    const informer = k8s.makeInformer(c.kc, "/api/v1/nodes", () => c.core.listNode())
    const errors: Array<unknown> = []
    informer.on("error", (e) => errors.push(e))
    await informer.start()
    try {
      await new Promise((r) => setTimeout(r, 50))
      assert.strictEqual(server.faults.dropWatches(), 1)
      for (let i = 0; i < 100 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 20))
      assert.strictEqual(errors.length, 1)
    } finally {
      await informer.stop()
    }
  })

  it("dropWatches cuts open watch connections", async () => {
    const dropped = await watchEvents(c.kc, "/api/v1/configmaps", {}, async () => {
      await new Promise((r) => setTimeout(r, 50))
      assert.strictEqual(server.faults.dropWatches(), 1)
    }, () => false)
    assert.notStrictEqual(dropped.how, "timeout")
  })
})

describe("InMemoryApiServer state file and Effect layer", () => {
  it("refuses a malformed state file with a reason", async () => {
    const dir = await mkdtemp(join(tmpdir(), "apiserver-state-"))
    try {
      const stateFile = join(dir, "state.json")
      await writeFile(stateFile, JSON.stringify({ objects: "nope" }))
      const error = await startApiServer({ stateFile }).then(
        async (s) => {
          await s.stop()
          return "started"
        },
        (e: unknown) => String(e)
      )
      assert.include(error, "expected {resourceVersion: number")
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it("reloads objects and the resourceVersion from the state file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "apiserver-state-"))
    try {
      const stateFile = join(dir, "state.json")
      const first = await startApiServer({ stateFile })
      await clientFor(first).core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "kept" }, data: { a: "1" } } })
      const rv = first.objects.resourceVersion()
      await first.stop()
      const second = await startApiServer({ stateFile })
      try {
        const cm = await clientFor(second).core.readNamespacedConfigMap({ name: "kept", namespace: "default" })
        assert.deepStrictEqual(cm.data, { a: "1" })
        assert.strictEqual(second.objects.resourceVersion(), rv)
        assert.strictEqual(second.objects.list("v1", "Namespace").length, 4, "initial namespaces not duplicated")
      } finally {
        await second.stop()
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it.live("the layer serves over HTTP and exposes store helpers", () =>
    Effect.gen(function* () {
      const api = yield* InMemoryApiServer
      yield* api.upsert({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "seeded", namespace: "default" },
        spec: { type: "LoadBalancer", ports: [{ port: 443 }] },
        status: { loadBalancer: { ingress: [{ ip: "198.51.100.7" }] } }
      })
      const svc = yield* Effect.promise(() => clientFor(api).core.readNamespacedService({ name: "seeded", namespace: "default" }))
      assert.strictEqual(svc.status?.loadBalancer?.ingress?.[0]?.ip, "198.51.100.7")
      const applied = yield* api.applyManifest(
        "apiVersion: metallb.io/v1\nkind: IPAddressPool\nmetadata: {name: p}\nspec: {addresses: [192.0.2.0/28]}\n---\n" +
          JSON.stringify(crd("Namespaced", "ipaddresspools", "IPAddressPool", "metallb.io"))
      )
      assert.deepStrictEqual(applied.map((o) => `${String(o["kind"])}/${String((o["metadata"] as { namespace?: string }).namespace)}`), [
        "CustomResourceDefinition/undefined",
        "IPAddressPool/default"
      ])
      const rejected = yield* api.upsert({ apiVersion: "v1", kind: "Service", metadata: { name: "Bad_Name", namespace: "default" } }).pipe(Effect.flip)
      assert.strictEqual(rejected.code, 422)
      const log = yield* api.requestLog
      assert.deepStrictEqual(log.map((r) => r.verb), ["get"])
    }).pipe(Effect.provide(InMemoryApiServer.layer()))
  )
})
