import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { Api, type Target, everything, parseSelectors } from "../../../src/testing/apiserver/Api.ts"
import { ApiError } from "../../../src/testing/apiserver/Errors.ts"
import type { JsonObject } from "../../../src/testing/apiserver/Json.ts"
import { Registry, type ResourceType } from "../../../src/testing/apiserver/Registry.ts"
import { Store, nameOf, namespaceOf } from "../../../src/testing/apiserver/Store.ts"
import { visibleEvent } from "../../../src/testing/apiserver/Watch.ts"

const makeApi = (historyLimit = 10_000) => {
  const api = new Api(new Store(historyLimit), new Registry(), { now: () => new Date("2026-01-01T00:00:00Z") })
  for (const name of ["default", "other"]) api.create(target("", "v1", "namespaces", "", ""), { metadata: { name } }, false)
  return api
}

const registry = new Registry()
const typeOf = (group: string, version: string, plural: string): ResourceType => {
  const t = registry.byResource(group, version, plural)
  if (t === undefined) throw new Error(`no ${plural}`)
  return t
}
const target = (group: string, version: string, plural: string, namespace: string, name: string, subresource: "" | "status" = ""): Target => ({
  type: typeOf(group, version, plural),
  version,
  namespace,
  name,
  subresource
})
const svc = (ns: string, name = "") => target("", "v1", "services", ns, name)
const cm = (ns: string, name = "") => target("", "v1", "configmaps", ns, name)

const apiError = (f: () => unknown): ApiError => {
  try {
    f()
  } catch (e) {
    if (e instanceof ApiError) return e
    throw e
  }
  throw new Error("expected an ApiError")
}

const meta = (o: JsonObject) => o["metadata"] as Record<string, unknown>
const spec = (o: JsonObject) => o["spec"] as JsonObject

describe("Api semantics", () => {
  it("sets identity metadata, rejects duplicates and stale updates", () => {
    const api = makeApi()
    const created = api.create(cm("default"), { metadata: { name: "a" }, data: { k: "v" } }, false)
    assert.strictEqual(meta(created)["generation"], 1)
    assert.match(String(meta(created)["uid"]), /^[0-9a-f-]{36}$/)
    assert.match(String(meta(created)["creationTimestamp"]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    const dup = apiError(() => api.create(cm("default"), { metadata: { name: "a" } }, false))
    assert.deepStrictEqual([dup.code, dup.reason, dup.message], [409, "AlreadyExists", 'configmaps "a" already exists'])
    const updated = api.update(cm("default", "a"), { ...created, data: { k: "w" } }, false)
    assert.strictEqual(meta(updated)["generation"], 2)
    const stale = apiError(() => api.update(cm("default", "a"), { ...created, data: { k: "x" } }, false))
    assert.deepStrictEqual([stale.code, stale.reason], [409, "Conflict"])
    const missingNs = apiError(() => api.create(cm("nope"), { metadata: { name: "a" } }, false))
    assert.deepStrictEqual([missingNs.code, missingNs.message], [404, 'namespaces "nope" not found'])
    const generated = api.create(cm("default"), { metadata: { generateName: "gen-" } }, false)
    assert.match(nameOf(generated), /^gen-[a-z0-9]{5}$/)
    const invalidKey = apiError(() => api.create(cm("default"), { metadata: { name: "b" }, data: { "a b": "x" } }, false))
    assert.deepStrictEqual([invalidKey.code, invalidKey.reason], [422, "Invalid"])
    assert.match(invalidKey.message, /^ConfigMap "b" is invalid: data\[a b\]/)
  })

  it("dryRun=All validates and defaults without storing", () => {
    const api = makeApi()
    const rv = api.store.resourceVersion
    const dry = api.create(svc("default"), { metadata: { name: "dry" }, spec: { ports: [{ port: 80 }] } }, true)
    assert.strictEqual((dry["spec"] as JsonObject)["type"], "ClusterIP")
    assert.isUndefined(api.store.get("", "services", "default", "dry"))
    api.create(cm("default"), { metadata: { name: "c" }, data: { a: "1" } }, false)
    api.patch(cm("default", "c"), "merge", JSON.stringify({ data: { a: "2" } }), true)
    api.delete(cm("default", "c"), {}, true)
    assert.deepStrictEqual(api.store.get("", "configmaps", "default", "c")?.["data"], { a: "1" })
    assert.strictEqual(api.store.resourceVersion, rv + 1, "only the real create moved the resourceVersion")
    const stale = apiError(() => api.delete(cm("default", "c"), { preconditions: { resourceVersion: "1" } }, false))
    assert.strictEqual(stale.code, 409)
  })

  it("keeps status and spec apart for kinds with a status subresource", () => {
    const api = makeApi()
    const s = api.create(svc("default"), { metadata: { name: "web" }, spec: { type: "LoadBalancer", ports: [{ port: 80 }] }, status: { loadBalancer: { ingress: [{ ip: "192.0.2.1" }] } } }, false)
    assert.deepStrictEqual(s["status"], { loadBalancer: {} }, "status ignored on create")
    const withStatus = api.update(svc("default", "web", ), s, false)
    assert.strictEqual(meta(withStatus)["resourceVersion"], meta(s)["resourceVersion"], "no-op update keeps the resourceVersion")
    const st = api.patch({ ...svc("default", "web"), subresource: "status" }, "merge", JSON.stringify({ spec: { type: "ClusterIP" }, status: { loadBalancer: { ingress: [{ ip: "192.0.2.1" }] } } }), false).object
    assert.deepStrictEqual(st["status"], { loadBalancer: { ingress: [{ ip: "192.0.2.1" }] } })
    assert.strictEqual((st["spec"] as JsonObject)["type"], "LoadBalancer", "status write ignores spec")
    assert.strictEqual(meta(st)["generation"], 1, "status change keeps generation")
    const main = api.patch(svc("default", "web"), "merge", JSON.stringify({ spec: { ports: [{ port: 81 }] }, status: { loadBalancer: {} } }), false).object
    assert.deepStrictEqual(main["status"], st["status"], "main write ignores status")
    assert.strictEqual(meta(main)["generation"], 2)
  })

  it("defaults Services: cluster IPs, dual-stack, node ports, policies", () => {
    const api = makeApi()
    const a = spec(api.create(svc("default"), { metadata: { name: "a" }, spec: { ports: [{ port: 80 }] } }, false))
    assert.deepStrictEqual([a["type"], a["clusterIP"], a["clusterIPs"], a["ipFamilies"], a["ipFamilyPolicy"]], ["ClusterIP", "10.96.0.10", ["10.96.0.10"], ["IPv4"], "SingleStack"])
    assert.strictEqual(a["externalTrafficPolicy"], undefined)
    const b = spec(api.create(svc("default"), { metadata: { name: "b" }, spec: { type: "LoadBalancer", ipFamilyPolicy: "PreferDualStack", ports: [{ port: 53, protocol: "UDP" }] } }, false))
    assert.deepStrictEqual([b["clusterIPs"], b["ipFamilies"], b["externalTrafficPolicy"], b["allocateLoadBalancerNodePorts"]], [["10.96.0.11", "fd00:10:96::a"], ["IPv4", "IPv6"], "Cluster", true])
    assert.deepStrictEqual(b["ports"], [{ port: 53, protocol: "UDP", targetPort: 53, nodePort: 30000 }])
    const c = spec(api.create(svc("default"), { metadata: { name: "c" }, spec: { ipFamilies: ["IPv6"], ports: [{ port: 1 }] } }, false))
    assert.deepStrictEqual(c["clusterIPs"], ["fd00:10:96::b"])
    const taken = apiError(() => api.create(svc("default"), { metadata: { name: "d" }, spec: { clusterIP: "10.96.0.10", ports: [{ port: 1 }] } }, false))
    assert.strictEqual(taken.code, 422)
    const badPort = apiError(() => api.create(svc("default"), { metadata: { name: "e" }, spec: { ports: [{ port: 70000 }] } }, false))
    assert.match(badPort.message, /spec\.ports\[0\]\.port/)
    const replaced = spec(api.update(svc("default", "a"), { metadata: { name: "a" }, spec: { ports: [{ port: 80 }] } }, false))
    assert.strictEqual(replaced["clusterIP"], "10.96.0.10", "cluster IP survives a replace that omits it")
  })

  it("serves CRDs once created, in every served version, and removes them with their objects", () => {
    const api = makeApi()
    const crdTarget = target("apiextensions.k8s.io", "v1", "customresourcedefinitions", "", "")
    api.create(crdTarget, {
      metadata: { name: "bgppeers.metallb.io" },
      spec: {
        group: "metallb.io",
        scope: "Namespaced",
        names: { kind: "BGPPeer", plural: "bgppeers", singular: "bgppeer" },
        versions: [
          { name: "v1beta1", served: true, storage: false, schema: { openAPIV3Schema: { type: "object" } } },
          { name: "v1beta2", served: true, storage: true, subresources: { status: {} }, schema: { openAPIV3Schema: { type: "object", properties: { spec: { type: "object", properties: { holdTime: { type: "string", default: "90s" } } } } } } }
        ]
      }
    }, false)
    const t = api.registry.byResource("metallb.io", "v1beta2", "bgppeers")
    assert.isDefined(t)
    assert.deepStrictEqual(t?.versions, ["v1beta2", "v1beta1"])
    if (t === undefined) return
    const peer = api.create({ type: t, version: "v1beta2", namespace: "default", name: "", subresource: "" }, { metadata: { name: "p" }, spec: {} }, false)
    assert.deepStrictEqual(peer["spec"], { holdTime: "90s" })
    const old = api.get({ type: t, version: "v1beta1", namespace: "default", name: "p", subresource: "" })
    assert.strictEqual(old["apiVersion"], "metallb.io/v1beta1")
    const smp = apiError(() => api.patch({ type: t, version: "v1beta2", namespace: "default", name: "p", subresource: "" }, "strategic", "{}", false))
    assert.strictEqual(smp.code, 415)
    api.delete({ ...crdTarget, name: "bgppeers.metallb.io" }, {}, false)
    assert.isUndefined(api.registry.byResource("metallb.io", "v1beta2", "bgppeers"))
    assert.deepStrictEqual(api.store.list("metallb.io", "bgppeers"), [])
  })

  it("serves events.k8s.io Events as core Events and back", () => {
    const api = makeApi()
    const created = api.create(target("events.k8s.io", "v1", "events", "default", ""), {
      metadata: { name: "e1" },
      regarding: { kind: "Service", name: "web", namespace: "default" },
      note: "Assigned IP",
      reason: "IPAllocated",
      type: "Normal",
      reportingController: "metallb-controller",
      reportingInstance: "c-1",
      action: "Allocate",
      eventTime: "2026-01-01T00:00:00.000000Z"
    }, false)
    assert.deepStrictEqual([created["apiVersion"], created["note"], created["involvedObject"]], ["events.k8s.io/v1", "Assigned IP", undefined])
    const core = api.list(target("", "v1", "events", "default", ""), parseSelectors(null, "involvedObject.kind=Service,involvedObject.name=web")).items
    assert.deepStrictEqual(core.map((e) => [e["apiVersion"], e["message"], e["reportingComponent"], (e["involvedObject"] as JsonObject)["name"]]), [
      ["v1", "Assigned IP", "metallb-controller", "web"]
    ])
    const viaNew = api.list(target("events.k8s.io", "v1", "events", "default", ""), parseSelectors(null, "regarding.name=web")).items
    assert.strictEqual(viaNew.length, 1)
    const patched = api.patch(target("events.k8s.io", "v1", "events", "default", "e1"), "merge", JSON.stringify({ note: "again" }), false).object
    assert.strictEqual(patched["note"], "again")
    assert.strictEqual(api.get(target("", "v1", "events", "default", "e1"))["message"], "again")
  })

  it("deleting a namespace deletes its contents; selectors filter lists", () => {
    const api = makeApi()
    api.create(cm("other"), { metadata: { name: "x", labels: { app: "a" } } }, false)
    api.create(cm("other"), { metadata: { name: "y", labels: { app: "b" } } }, false)
    assert.deepStrictEqual(api.list(cm(""), parseSelectors("app in (a)", null)).items.map(nameOf), ["x"])
    assert.deepStrictEqual(api.list(cm(""), parseSelectors(null, "metadata.name!=x")).items.map(nameOf), ["y"])
    api.delete(target("", "v1", "namespaces", "", "other"), {}, false)
    assert.deepStrictEqual(api.list(cm(""), everything).items, [])
  })
})

// -------------------------------------------------------------------------------------------------------------
// Property: the event stream and the store never disagree.

type Op =
  | { readonly op: "create"; readonly ns: string; readonly name: string; readonly label: string }
  | { readonly op: "update"; readonly ns: string; readonly name: string; readonly label: string; readonly data: string }
  | { readonly op: "delete"; readonly ns: string; readonly name: string }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant("create" as const), ns: fc.constantFrom("default", "other"), name: fc.constantFrom("a", "b", "c"), label: fc.constantFrom("x", "y") }),
  fc.record({ op: fc.constant("update" as const), ns: fc.constantFrom("default", "other"), name: fc.constantFrom("a", "b", "c"), label: fc.constantFrom("x", "y"), data: fc.string({ maxLength: 3 }) }),
  fc.record({ op: fc.constant("delete" as const), ns: fc.constantFrom("default", "other"), name: fc.constantFrom("a", "b", "c") })
)

const run = (api: Api, op: Op): void => {
  try {
    if (op.op === "create") api.create(cm(op.ns), { metadata: { name: op.name, labels: { l: op.label } } }, false)
    else if (op.op === "update") {
      api.update(cm(op.ns, op.name), { metadata: { name: op.name, labels: { l: op.label } }, data: { d: op.data } }, false)
    } else api.delete(cm(op.ns, op.name), {}, false)
  } catch (e) {
    if (!(e instanceof ApiError) || (e.code !== 404 && e.code !== 409)) throw e
  }
}

const keyed = (objects: Iterable<JsonObject>) =>
  new Map([...objects].map((o) => [`${namespaceOf(o)}/${nameOf(o)}`, JSON.stringify(o)]))

describe("store and watch replay (property)", () => {
  it("replaying the events after any resourceVersion onto the list at that version gives the current list", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), fc.nat(), fc.constantFrom("", "l=x"), fc.constantFrom("", "other"), (ops, cut, label, ns) => {
        const api = makeApi()
        const w = { type: typeOf("", "v1", "configmaps"), version: "v1", namespace: ns, selectors: parseSelectors(label, null) }
        const t = { ...cm(ns) }
        const listAt: Array<{ rv: number; items: Map<string, string> }> = []
        const snapshot = () => listAt.push({ rv: api.store.resourceVersion, items: keyed(api.list(t, w.selectors).items) })
        snapshot()
        for (const op of ops) {
          run(api, op)
          snapshot()
        }
        const start = listAt[cut % listAt.length]
        if (start === undefined) return
        const events = api.store.eventsSince(start.rv)
        assert.isDefined(events)
        const state = new Map(start.items)
        let lastRv = start.rv
        for (const e of events ?? []) {
          assert.isAbove(e.resourceVersion, lastRv, "resourceVersions strictly increase")
          lastRv = e.resourceVersion
          assert.strictEqual(String((e.object["metadata"] as JsonObject)["resourceVersion"]), String(e.resourceVersion))
          const v = visibleEvent(e, w)
          if (v === undefined) continue
          const k = `${namespaceOf(v.object)}/${nameOf(v.object)}`
          if (v.type === "ADDED") assert.isFalse(state.has(k), `ADDED ${k} while present`)
          else assert.isTrue(state.has(k), `${v.type} ${k} while absent`)
          if (v.type === "DELETED") state.delete(k)
          else state.set(k, JSON.stringify(v.object))
        }
        assert.deepStrictEqual(state, keyed(api.list(t, w.selectors).items))
      }),
      { numRuns: 200 }
    )
  })

  it("a resume point older than the history window is refused", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 5 }), (ops, limit) => {
        const api = makeApi(limit)
        for (const op of ops) run(api, op)
        const oldest = api.store.oldestResumableVersion
        assert.isUndefined(oldest > 0 ? api.store.eventsSince(oldest - 1) : undefined)
        assert.isDefined(api.store.eventsSince(oldest))
        assert.isAtMost(api.store.eventsSince(oldest)?.length ?? 0, limit)
      })
    )
  })
})
