// ConfigSource as the speakers use it (component speaker-<node>, per-node parse), against the in-memory API server:
// MetalLB's e2e "ConfigurationState" cases (reference §8.7) — a peer problem for one node makes only that node's
// state Invalid (the controller's stays Valid), and creating the missing object recovers it.
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Scope, Stream, SubscriptionRef } from "effect"
import * as Core from "../../src/config/ConfigSourceCore.ts"
import { ConfigSource } from "../../src/config/ConfigSource.ts"
import { KubeClient } from "../../src/k8s/KubeClient.ts"
import * as Logging from "../../src/observability/Logging.ts"
import type { JsonObject } from "../../src/testing/apiserver/Json.ts"
import type { ApiServer } from "../../src/testing/apiserver/Server.ts"
import { apiServer, eventually, NS, pool, upsert } from "./controllerKit.ts"

const node = (name: string): JsonObject => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name, labels: { "kubernetes.io/hostname": name } }
})

const peerFor = (nodeName: string, bfdProfile: string): JsonObject => ({
  apiVersion: "metallb.io/v1beta2",
  kind: "BGPPeer",
  metadata: { name: "peer1", namespace: NS },
  spec: {
    myASN: 64512,
    peerASN: 64513,
    peerAddress: "192.0.2.254",
    bfdProfile,
    nodeSelectors: [{ matchLabels: { "kubernetes.io/hostname": nodeName } }]
  }
})

const source = (server: ApiServer, component: Core.Component) =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const layer = ConfigSource.layer({ namespace: NS, component, debounce: "20 millis" }).pipe(
      Layer.provide(Layer.mergeAll(KubeClient.layerServer(server.url), Logging.layer("test", "none")))
    )
    const context = yield* Layer.build(layer).pipe(Scope.provide(scope))
    return Context.get(context, ConfigSource)
  })

const stateOf = (server: ApiServer, name: string) => {
  const o = server.objects.get("metallb.io/v1beta1", "ConfigurationState", NS, name)
  return o === undefined
    ? undefined
    : { labels: (o["metadata"] as JsonObject)["labels"], status: (o["status"] ?? {}) as Record<string, unknown> }
}

const waitResult = (server: ApiServer, name: string, result: string) =>
  eventually(`${name} ${result}`, () => {
    const s = stateOf(server, name)
    return s?.status["result"] === result ? s : undefined
  })

describe("ConfigSource for speakers (per-node configuration, ConfigurationState e2e §8.7)", () => {
  it.live("a peer referencing a missing BFD profile makes only its node Invalid; creating the profile recovers", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* apiServer()
      yield* upsert(server, node("node-a"), node("node-b"), pool("p", ["192.0.2.0/28"]), peerFor("node-a", "fast"))
      const a = yield* source(server, Core.speaker("node-a"))
      const b = yield* source(server, Core.speaker("node-b"))
      yield* source(server, Core.controller)

      const invalid = yield* waitResult(server, "speaker-node-a", "Invalid")
      assert.deepStrictEqual(invalid.labels, { "metallb.io/component-type": "speaker", "metallb.io/node-name": "node-a" })
      assert.include(String(invalid.status["errorSummary"]), "peer peer1 referencing non existing bfd profile fast")
      const conditions = invalid.status["conditions"] as ReadonlyArray<JsonObject>
      assert.strictEqual(conditions[0]?.["type"], "configReconcilerValid")
      yield* waitResult(server, "speaker-node-b", "Valid")
      yield* waitResult(server, "controller", "Valid")
      const statusA = yield* SubscriptionRef.get(a.status)
      assert.isTrue(statusA.stale)
      assert.isFalse(statusA.loaded, "node-a never had a valid configuration")
      const statusB = yield* SubscriptionRef.get(b.status)
      assert.strictEqual(statusB.config?.peers.length, 0, "node-b's configuration leaves out the peer of node-a")

      yield* upsert(server, {
        apiVersion: "metallb.io/v1beta1",
        kind: "BFDProfile",
        metadata: { name: "fast", namespace: NS },
        spec: {}
      })
      yield* waitResult(server, "speaker-node-a", "Valid")
      const config = yield* a.loaded
      assert.deepStrictEqual(config.peers.map((p) => p.name), ["peer1"])
    })), 30_000)

  it.live("configs: the current config, then each new one; an invalid change is not emitted", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* apiServer()
      yield* upsert(server, pool("p", ["192.0.2.0/28"]))
      const s = yield* source(server, Core.controller)
      const first = yield* s.loaded
      assert.deepStrictEqual(first.pools.map((p) => p.name), ["p"])
      const seen: Array<ReadonlyArray<string>> = []
      yield* s.configs.pipe(
        Stream.runForEach((c) => Effect.sync(() => seen.push(c.pools.map((p) => p.name)))),
        Effect.forkScoped
      )
      yield* eventually("current config", () => (seen.length === 1 ? true : undefined))
      yield* upsert(server, pool("overlap", ["192.0.2.8/29"]))
      yield* waitResult(server, "controller", "Invalid")
      yield* upsert(server, pool("overlap", ["198.51.100.0/29"]))
      yield* eventually("second config", () => (seen.length === 2 ? true : undefined))
      assert.deepStrictEqual(seen, [["p"], ["overlap", "p"]])
    })), 30_000)

  it.live("a pool's status-only update is not a new configuration, a label change is (advertisements select by label)", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* apiServer()
      yield* upsert(server, node("node-a"), pool("p", ["192.0.2.0/28"]), {
        apiVersion: "metallb.io/v1beta1",
        kind: "L2Advertisement",
        metadata: { name: "l2", namespace: NS },
        spec: { ipAddressPoolSelectors: [{ matchLabels: { tier: "a" } }] }
      })
      const s = yield* source(server, Core.speaker("node-a"))
      const first = yield* s.loaded
      assert.strictEqual(first.pools[0]?.l2Advertisements.length, 0)
      const seen: Array<number> = []
      yield* s.configs.pipe(
        Stream.runForEach((c) => Effect.sync(() => seen.push(c.pools[0]?.l2Advertisements.length ?? -1))),
        Effect.forkScoped
      )
      yield* eventually("current config", () => (seen.length === 1 ? true : undefined))
      const current = server.objects.get("metallb.io/v1beta1", "IPAddressPool", NS, "p") ?? {}
      server.objects.upsert({ ...current, status: { assignedIPv4: 1, assignedIPv6: 0, availableIPv4: 15, availableIPv6: 0 } })
      yield* Effect.sleep("200 millis")
      assert.deepStrictEqual(seen, [0])
      const labelled = server.objects.get("metallb.io/v1beta1", "IPAddressPool", NS, "p") ?? {}
      server.objects.upsert({ ...labelled, metadata: { ...(labelled["metadata"] as JsonObject), labels: { tier: "a" } } })
      yield* eventually("relabelled config", () => (seen.length === 2 ? true : undefined))
      assert.deepStrictEqual(seen, [0, 1])
    })), 30_000)
})
