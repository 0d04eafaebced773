// Configuration handling of the running controller: last good config on invalid input (ConfigurationState,
// stale metric), the legacy ConfigMap, a self-healing ConfigurationState, and --lb-class (e2e §8.4).
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { JsonObject } from "../../src/testing/apiserver/Json.ts"
import type { ApiServer } from "../../src/testing/apiserver/Server.ts"
import {
  annotationOf,
  apiServer,
  eventually,
  ingress,
  NS,
  pool,
  remove,
  service,
  startController,
  stays,
  upsert,
  waitIngress,
  waitReady
} from "./controllerKit.ts"

const T = 30_000

const stateOf = (server: ApiServer) => {
  const o = server.objects.get("metallb.io/v1beta1", "ConfigurationState", NS, "controller")
  return o === undefined ? undefined : { labels: (o["metadata"] as JsonObject)["labels"], status: o["status"] as JsonObject | undefined }
}

const metric = (text: string, name: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1))
}

const scrape = (url: string) => Effect.promise(() => fetch(`${url}/metrics`).then((r) => r.text()))

const legacyConfigMap = (config: string): JsonObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "config", namespace: NS },
  data: { config }
})

describe("controller configuration", () => {
  it.live("an invalid change keeps the last good config and says why; fixing it recovers", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* apiServer()
      yield* upsert(server, pool("good", ["192.0.2.0/30"]), service("first"))
      const c = yield* startController(server, { metricsPort: 0 })
      yield* waitReady(c)
      yield* waitIngress(server, "first", ["192.0.2.0"])
      yield* eventually("Valid state", () => (stateOf(server)?.status?.["result"] === "Valid" ? true : undefined))
      assert.deepStrictEqual(stateOf(server)?.labels, { "metallb.io/component-type": "controller" })
      const metricsBefore = yield* scrape(c.running.healthUrl)
      assert.strictEqual(metric(metricsBefore, "metallb_k8s_client_config_loaded_bool"), 1)
      assert.strictEqual(metric(metricsBefore, "metallb_k8s_client_config_stale_bool"), 0)

      // Overlapping pools: rejected as a whole.
      yield* upsert(server, pool("bad", ["192.0.2.2/31"]))
      const state = yield* eventually("Invalid state", () => {
        const s = stateOf(server)?.status
        return s?.["result"] === "Invalid" ? s : undefined
      })
      assert.include(String(state["errorSummary"]), "overlaps with already defined CIDR")
      const conditions = state["conditions"] as ReadonlyArray<JsonObject>
      assert.strictEqual(conditions[0]?.["type"], "poolReconcilerValid")
      assert.strictEqual(conditions[0]?.["status"], "False")
      assert.strictEqual(conditions[0]?.["reason"], "ConfigurationError")
      const stale = yield* Effect.gen(function*() {
        const deadline = Date.now() + 3_000
        while (Date.now() < deadline) {
          if (metric(yield* scrape(c.running.healthUrl), "metallb_k8s_client_config_stale_bool") === 1) return 1
          yield* Effect.sleep("50 millis")
        }
        return 0
      })
      assert.strictEqual(stale, 1)
      // The last good config still serves: the old IP stays, a new Service gets the next IP of "good".
      yield* upsert(server, service("second"))
      yield* waitIngress(server, "second", ["192.0.2.1"])
      assert.deepStrictEqual(ingress(server, "first"), ["192.0.2.0"])

      yield* remove(server, "metallb.io/v1beta1", "IPAddressPool", NS, "bad")
      yield* eventually("Valid again", () => (stateOf(server)?.status?.["result"] === "Valid" ? true : undefined))
      assert.strictEqual(metric(yield* scrape(c.running.healthUrl), "metallb_k8s_client_config_stale_bool"), 0)
      yield* c.stop
    })), T)

  it.live("the ConfigurationState is owned by the controller's Pod and recreated when deleted", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* apiServer()
      yield* upsert(server, pool("good", ["192.0.2.0/30"]), {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "controller-7d9f", namespace: NS },
        spec: { containers: [{ name: "controller", image: "metallb-ts" }] }
      })
      const uid = String((server.objects.get("v1", "Pod", NS, "controller-7d9f")?.["metadata"] as JsonObject)["uid"])
      const c = yield* startController(server, { podName: "controller-7d9f" })
      yield* eventually("Valid state", () => (stateOf(server)?.status?.["result"] === "Valid" ? true : undefined))
      const owners = (server.objects.get("metallb.io/v1beta1", "ConfigurationState", NS, "controller")?.["metadata"] as JsonObject)["ownerReferences"]
      assert.deepStrictEqual(owners, [{ apiVersion: "v1", kind: "Pod", name: "controller-7d9f", uid }])
      yield* remove(server, "metallb.io/v1beta1", "ConfigurationState", NS, "controller")
      yield* eventually("recreated Valid", () => (stateOf(server)?.status?.["result"] === "Valid" ? true : undefined))
      yield* c.stop
    })), T)

  it.live("the legacy ConfigMap \"config\" is converted and used while no metallb.io resource exists", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* apiServer()
      yield* upsert(
        server,
        legacyConfigMap("address-pools:\n- name: legacy-pool\n  protocol: layer2\n  addresses:\n  - 192.0.2.200-192.0.2.201\n"),
        service("web")
      )
      const c = yield* startController(server)
      yield* waitReady(c)
      yield* waitIngress(server, "web", ["192.0.2.200"])
      assert.strictEqual(annotationOf(server, "web", "metallb.io/ip-allocated-from-pool"), "legacy-pool")
      // Resources appear: they win, the ConfigMap is ignored; the Service moves to the new pool.
      yield* upsert(server, pool("crd-pool", ["198.51.100.0/31"]))
      yield* waitIngress(server, "web", ["198.51.100.0"])
      yield* c.stop
    })), T)

  it.live("an invalid legacy ConfigMap reports why and loads nothing", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* apiServer()
      yield* upsert(server, legacyConfigMap("address-pools:\n- name: p\n  protocol: l2\n  addresses: [192.0.2.0/30]\n"), service("web"))
      const c = yield* startController(server)
      const state = yield* eventually("Invalid state", () => {
        const s = stateOf(server)?.status
        return s?.["result"] === "Invalid" ? s : undefined
      })
      assert.include(String(state["errorSummary"]), "legacy ConfigMap \"config\"")
      assert.strictEqual(yield* c.running.notReady, "no configuration loaded yet")
      assert.deepStrictEqual(ingress(server, "web"), [])
      yield* c.stop
    })), T)
})

describe("A service with loadbalancer class (e2e §8.4)", () => {
  it.live("without --lb-class a Service with class foo never gets an IP; one without a class does", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* apiServer()
      yield* upsert(server, pool("p", ["192.0.2.0/30"]), service("foo", { spec: { loadBalancerClass: "foo" } }), service("plain"))
      const c = yield* startController(server)
      yield* waitReady(c)
      yield* waitIngress(server, "plain", ["192.0.2.0"])
      yield* stays("class foo pending", () => ingress(server, "foo").length === 0, 1_000)
      yield* c.stop
    })), T)

  it.live("with --lb-class foo only Services of class foo get IPs", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* apiServer()
      yield* upsert(server, pool("p", ["192.0.2.0/30"]), service("foo", { spec: { loadBalancerClass: "foo" } }), service("plain"))
      const c = yield* startController(server, { loadBalancerClass: "foo" })
      yield* waitReady(c)
      yield* waitIngress(server, "foo", ["192.0.2.0"])
      yield* stays("classless pending", () => ingress(server, "plain").length === 0, 1_000)
      yield* c.stop
    })), T)
})
