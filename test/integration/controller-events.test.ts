// Events the controller records on Services (reference metallb-behavior.md §10.3) and the refusals of §3.9, as
// `kubectl describe` would show them.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { ApiServer } from "../../src/testing/apiserver/Server.ts"
import {
  annotationOf,
  apiServer,
  eventually,
  eventsOf,
  ingress,
  pool,
  service,
  startController,
  upsert,
  waitIngress,
  waitReady
} from "./controllerKit.ts"

const T = 30_000

const withController = <A>(body: (server: ApiServer) => Effect.Effect<A>) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* apiServer()
    yield* upsert(
      server,
      pool("open", ["192.0.2.0/30"]),
      pool("manual", ["198.51.100.0/30"], { autoAssign: false }),
      pool("team", ["203.0.113.0/30"], { serviceAllocation: { namespaces: ["team"] } })
    )
    const c = yield* startController(server)
    yield* waitReady(c)
    return yield* body(server)
  }))

const eventMatching = (server: ApiServer, name: string, prefix: string) =>
  eventually(`event "${prefix}…" on ${name} (has ${JSON.stringify(eventsOf(server, name))})`, () =>
    eventsOf(server, name).find((e) => e.startsWith(prefix)))

describe("controller events and refusals", () => {
  it.live("the deprecated metallb.universe.tf/ annotations still work and raise deprecatedAnnotation", () =>
    withController((server) =>
      Effect.gen(function*() {
        yield* upsert(server, service("old", { annotations: { "metallb.universe.tf/address-pool": "manual" } }))
        yield* waitIngress(server, "old", ["198.51.100.0"])
        assert.strictEqual(annotationOf(server, "old", "metallb.io/ip-allocated-from-pool"), "manual")
        const warning = yield* eventMatching(server, "old", "deprecatedAnnotation:")
        assert.include(warning, "metallb.universe.tf/address-pool")
      })), T)

  it.live("a requested IP outside every pool: AllocationFailed \"… is not allowed in config\", no IP", () =>
    withController((server) =>
      Effect.gen(function*() {
        yield* upsert(server, service("outside", { annotations: { "metallb.io/loadBalancerIPs": "192.0.2.99" } }))
        const e = yield* eventMatching(server, "outside", "AllocationFailed:")
        assert.strictEqual(e, `AllocationFailed: Failed to allocate IP for "default/outside": ["192.0.2.99"] is not allowed in config`)
        assert.deepStrictEqual(ingress(server, "outside"), [])
      })), T)

  it.live("an unknown address-pool: AllocationFailed \"unknown pool\"", () =>
    withController((server) =>
      Effect.gen(function*() {
        yield* upsert(server, service("nopool", { annotations: { "metallb.io/address-pool": "missing" } }))
        const e = yield* eventMatching(server, "nopool", "AllocationFailed:")
        assert.include(e, "unknown pool")
      })), T)

  it.live("a requested IP in a pool reserved for another namespace stays pending with the pool's reason", () =>
    withController((server) =>
      Effect.gen(function*() {
        yield* upsert(server, service("elsewhere", { annotations: { "metallb.io/loadBalancerIPs": "203.0.113.1" } }))
        const e = yield* eventMatching(server, "elsewhere", "AllocationFailed:")
        assert.include(e, "not compatible for ip assignment")
        assert.deepStrictEqual(ingress(server, "elsewhere"), [])
      })), T)

  it.live("a requested IP held by a Service that does not share: AllocationFailed, the holder keeps it", () =>
    withController((server) =>
      Effect.gen(function*() {
        yield* upsert(server, service("holder", { annotations: { "metallb.io/loadBalancerIPs": "192.0.2.2" } }))
        yield* waitIngress(server, "holder", ["192.0.2.2"])
        yield* upsert(server, service("thief", { annotations: { "metallb.io/loadBalancerIPs": "192.0.2.2" } }))
        const e = yield* eventMatching(server, "thief", "AllocationFailed:")
        assert.include(e, "address also in use by default/holder: existing service does not allow sharing")
        assert.deepStrictEqual(ingress(server, "holder"), ["192.0.2.2"])
        assert.deepStrictEqual(ingress(server, "thief"), [])
      })), T)

  it.live("both spec.loadBalancerIP and the annotation: refused with MetalLB's message", () =>
    withController((server) =>
      Effect.gen(function*() {
        yield* upsert(server, service("both", {
          annotations: { "metallb.io/loadBalancerIPs": "192.0.2.1" },
          spec: { loadBalancerIP: "192.0.2.1" }
        }))
        const e = yield* eventMatching(server, "both", "AllocationFailed:")
        assert.include(e, "service can not have both metallb.io/loadBalancerIPs and svc.Spec.LoadBalancerIP")
      })), T)
})
