// MetalLB's e2e "IP Assignment" catalog (reference metallb-behavior.md §8.1) against the controller running
// in-process, talking HTTP to the in-memory API server. Each case names the e2e spec it follows.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { JsonObject } from "../../src/testing/apiserver/Json.ts"
import type { ApiServer } from "../../src/testing/apiserver/Server.ts"
import {
  annotationOf,
  apiServer,
  edit,
  eventsOf,
  ingress,
  NS,
  pool,
  remove,
  service,
  startController,
  stays,
  upsert,
  waitAnyIngress,
  waitIngress,
  waitReady
} from "./controllerKit.ts"

const T = 30_000
const FromPool = "metallb.io/ip-allocated-from-pool"

/** Runs `body` with a server and a started, ready controller. */
const withController = <A>(body: (server: ApiServer) => Effect.Effect<A>, setup: ReadonlyArray<JsonObject> = []) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* apiServer()
    yield* upsert(server, ...setup)
    const c = yield* startController(server)
    yield* waitReady(c)
    return yield* body(server)
  }))

const namespace = (name: string, labels: Record<string, string> = {}): JsonObject => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: { name, labels }
})

const setSpec = (server: ApiServer, name: string, spec: JsonObject, ns = "default") =>
  edit(server, "v1", "Service", ns, name, (o) => ({ ...o, spec: { ...(o["spec"] as JsonObject), ...spec } }))

const editPool = (server: ApiServer, name: string, spec: JsonObject) =>
  edit(server, "metallb.io/v1beta1", "IPAddressPool", NS, name, (o) => ({ ...o, spec: { ...(o["spec"] as JsonObject), ...spec } }))

const shared = (name: string, port: number) =>
  service(name, {
    annotations: { "metallb.io/allow-shared-ip": "key", "metallb.io/loadBalancerIPs": "192.0.2.30" },
    spec: { selector: { app: "shared" }, ports: [{ port, protocol: "TCP" }] }
  })

describe("IP Assignment (e2e §8.1)", () => {
  it.live("removes the IP from a service turned into ClusterIP and gives it to a pending one", () =>
    withController((server) =>
      Effect.gen(function*() {
        yield* upsert(server, service("first"))
        yield* waitIngress(server, "first", ["192.0.2.10"])
        yield* upsert(server, service("second"))
        yield* stays("second pending", () => ingress(server, "second").length === 0, 500)
        assert.isTrue(eventsOf(server, "second").some((e) => e.startsWith("AllocationFailed: Failed to allocate IP for \"default/second\": no available IPs")))
        yield* setSpec(server, "first", { type: "ClusterIP" })
        yield* waitIngress(server, "second", ["192.0.2.10"])
        yield* waitIngress(server, "first", [])
        assert.isUndefined(annotationOf(server, "first", FromPool))
      }), [pool("single", ["192.0.2.10/32"])]), T)

  it.live("gives the IP of a deleted service to a pending one", () =>
    withController((server) =>
      Effect.gen(function*() {
        yield* upsert(server, service("first"))
        yield* waitIngress(server, "first", ["192.0.2.10"])
        yield* upsert(server, service("second"))
        yield* stays("second pending", () => ingress(server, "second").length === 0, 500)
        yield* remove(server, "v1", "Service", "default", "first")
        yield* waitIngress(server, "second", ["192.0.2.10"])
      }), [pool("single", ["192.0.2.10/32"])]), T)

  it.live("keeps the same external IPs over 5 controller restarts; pending services never steal", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* apiServer()
      yield* upsert(server, pool("two", ["192.0.2.20-192.0.2.21"]))
      let c = yield* startController(server)
      yield* waitReady(c)
      // Names sort the pending ones first: a restart must still restore the holders before allocating.
      yield* upsert(server, service("z-one"))
      yield* waitAnyIngress(server, "z-one")
      yield* upsert(server, service("z-two"))
      yield* waitAnyIngress(server, "z-two")
      yield* upsert(server, service("a-three"), service("a-four"))
      const held = { one: ingress(server, "z-one"), two: ingress(server, "z-two") }
      yield* stays("pending stay pending", () => ingress(server, "a-three").length === 0 && ingress(server, "a-four").length === 0, 300)
      for (let i = 0; i < 5; i++) {
        yield* c.stop
        c = yield* startController(server)
        yield* waitReady(c)
        yield* stays(`restart ${i + 1}: IPs unchanged`, () =>
          JSON.stringify(ingress(server, "z-one")) === JSON.stringify(held.one) &&
          JSON.stringify(ingress(server, "z-two")) === JSON.stringify(held.two) &&
          ingress(server, "a-three").length === 0 && ingress(server, "a-four").length === 0, 200)
      }
      yield* c.stop
    })), T)

  it.live("reconsiders services sharing an IP when traffic policy and selectors change", () =>
    withController((server) =>
      Effect.gen(function*() {
        yield* upsert(server, shared("svc1", 80), shared("svc2", 81))
        yield* waitIngress(server, "svc1", ["192.0.2.30"])
        yield* waitIngress(server, "svc2", ["192.0.2.30"])
        // Local vs Cluster: different backend keys, no sharing; svc1 keeps the IP.
        yield* setSpec(server, "svc2", { externalTrafficPolicy: "Local" })
        yield* waitIngress(server, "svc2", [])
        assert.deepStrictEqual(ingress(server, "svc1"), ["192.0.2.30"])
        // Both Local with the same selector: both again.
        yield* setSpec(server, "svc1", { externalTrafficPolicy: "Local" })
        yield* waitIngress(server, "svc2", ["192.0.2.30"])
        assert.deepStrictEqual(ingress(server, "svc1"), ["192.0.2.30"])
        // Selectors diverge: the one that changed loses it; realigned: back.
        yield* setSpec(server, "svc2", { selector: { app: "other" } })
        yield* waitIngress(server, "svc2", [])
        assert.deepStrictEqual(ingress(server, "svc1"), ["192.0.2.30"])
        yield* setSpec(server, "svc2", { selector: { app: "shared" } })
        yield* waitIngress(server, "svc2", ["192.0.2.30"])
      }), [pool("sharing", ["192.0.2.30-192.0.2.31"])]), T)

  it.live("removing all pools empties the service's ingress", () =>
    withController((server) =>
      Effect.gen(function*() {
        yield* upsert(server, service("web"))
        yield* waitIngress(server, "web", ["192.0.2.40"])
        yield* remove(server, "metallb.io/v1beta1", "IPAddressPool", NS, "p1")
        yield* remove(server, "metallb.io/v1beta1", "IPAddressPool", NS, "p2")
        yield* waitIngress(server, "web", [])
        assert.isUndefined(annotationOf(server, "web", FromPool))
      }), [pool("p1", ["192.0.2.40/32"]), pool("p2", ["192.0.2.41/32"], { autoAssign: false })]), T)

  it.live("reallocates a service after its (pinned) pool is deleted", () =>
    withController((server) =>
      Effect.gen(function*() {
        yield* upsert(server, service("web", { namespace: "test" }))
        yield* waitIngress(server, "web", ["198.51.100.1"], "test")
        assert.strictEqual(annotationOf(server, "web", FromPool, "test"), "pinned")
        yield* remove(server, "metallb.io/v1beta1", "IPAddressPool", NS, "pinned")
        yield* waitIngress(server, "web", ["192.0.2.50"], "test")
        assert.strictEqual(annotationOf(server, "web", FromPool, "test"), "ordinary")
        assert.isTrue(eventsOf(server, "web", "test").some((e) => e.startsWith("ClearAssignment:") || e.startsWith("IPAllocated: Assigned IP [\"192.0.2.50\"]")))
      }), [
        namespace("test"),
        pool("ordinary", ["192.0.2.50/32"]),
        pool("pinned", ["198.51.100.1/32"], { serviceAllocation: { priority: 20, namespaces: ["test"] } })
      ]), T)
})

/** Creates services one by one in `ns` and returns the pool each got. */
const poolsInOrder = (server: ApiServer, ns: string, count: number, labels: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const got: Array<string | undefined> = []
    for (let i = 0; i < count; i++) {
      yield* upsert(server, service(`svc${i}`, { namespace: ns, labels }))
      yield* waitAnyIngress(server, `svc${i}`, ns)
      got.push(annotationOf(server, `svc${i}`, FromPool, ns))
    }
    return got
  })

describe("Validate service allocation in address pools (e2e §8.1)", () => {
  it.live("with namespace: priority 10, then 20, then the namespace pool without priority", () =>
    withController((server) =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* poolsInOrder(server, "test", 3), ["p10", "p20", "p0"])
      }), [
        namespace("test"),
        pool("p0", ["192.0.2.60/32"], { serviceAllocation: { namespaces: ["test"] } }),
        pool("p20", ["192.0.2.61/32"], { serviceAllocation: { priority: 20, namespaces: ["test"] } }),
        pool("p10", ["192.0.2.62/32"], { serviceAllocation: { priority: 10, namespaces: ["test"] } })
      ]), T)

  it.live("with only priority: the lower number first", () =>
    withController((server) =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* poolsInOrder(server, "default", 2), ["first", "second"])
      }), [
        pool("second", ["192.0.2.70/32"], { serviceAllocation: { priority: 20 } }),
        pool("first", ["192.0.2.71/32"], { serviceAllocation: { priority: 10 } })
      ]), T)

  it.live("with namespace and namespace labels: selector pool (10) beats list pool (20) beats no-priority pool", () =>
    withController((server) =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* poolsInOrder(server, "test", 3), ["by-label", "by-list", "plain"])
      }), [
        namespace("test", { team: "a" }),
        pool("plain", ["192.0.2.80/32"], { serviceAllocation: { namespaces: ["test"] } }),
        pool("by-list", ["192.0.2.81/32"], { serviceAllocation: { priority: 20, namespaces: ["test"] } }),
        pool("by-label", ["192.0.2.82/32"], {
          serviceAllocation: { priority: 10, namespaceSelectors: [{ matchLabels: { team: "a" } }] }
        })
      ]), T)

  it.live("with service label: service-selector pools by priority, then the namespace pool", () =>
    withController((server) =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* poolsInOrder(server, "test", 3, { tier: "web" }), ["sel10", "sel20", "ns"])
      }), [
        namespace("test"),
        pool("ns", ["192.0.2.90/32"], { serviceAllocation: { namespaces: ["test"] } }),
        pool("sel20", ["192.0.2.91/32"], { serviceAllocation: { priority: 20, serviceSelectors: [{ matchLabels: { tier: "web" } }] } }),
        pool("sel10", ["192.0.2.92/32"], { serviceAllocation: { priority: 10, serviceSelectors: [{ matchLabels: { tier: "web" } }] } })
      ]), T)

  it.live("with namespace and service label: mixed selector kinds ordered purely by priority", () =>
    withController((server) =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* poolsInOrder(server, "test", 3, { tier: "web" }), ["a5", "b15", "c25"])
      }), [
        namespace("test"),
        pool("c25", ["192.0.2.100/32"], { serviceAllocation: { priority: 25, serviceSelectors: [{ matchLabels: { tier: "web" } }] } }),
        pool("b15", ["192.0.2.101/32"], { serviceAllocation: { priority: 15, namespaces: ["test"] } }),
        pool("a5", ["192.0.2.102/32"], {
          serviceAllocation: { priority: 5, namespaces: ["test"], serviceSelectors: [{ matchLabels: { tier: "web" } }] }
        })
      ]), T)

  it.live("with namespace with labels: relabelling a namespace makes its new services use the higher-priority pool", () =>
    withController((server) =>
      Effect.gen(function*() {
        yield* upsert(server, service("before", { namespace: "second" }))
        yield* waitAnyIngress(server, "before", "second")
        assert.strictEqual(annotationOf(server, "before", FromPool, "second"), "low")
        yield* upsert(server, namespace("second", { team: "a" }))
        // The namespace's labels reach the pools through the configuration; give it a moment to be re-read.
        yield* Effect.sleep("400 millis")
        yield* upsert(server, service("after", { namespace: "second" }))
        yield* waitAnyIngress(server, "after", "second")
        assert.strictEqual(annotationOf(server, "after", FromPool, "second"), "high")
      }), [
        namespace("first", { team: "a" }),
        namespace("second"),
        pool("high", ["192.0.2.110/31"], { serviceAllocation: { priority: 10, namespaceSelectors: [{ matchLabels: { team: "a" } }] } }),
        pool("low", ["192.0.2.120/31"], { serviceAllocation: { priority: 20, namespaces: ["first", "second"] } })
      ]), T)
})

const dual = (name: string, spec: JsonObject = {}) =>
  service(name, { spec: { ipFamilyPolicy: "PreferDualStack", ...spec } })

describe("PREFER DUALSTACK (e2e §8.1)", () => {
  it.live("selects the dual-stack pool if available", () =>
    withController((server) =>
      Effect.gen(function*() {
        yield* upsert(server, dual("web"))
        yield* waitIngress(server, "web", ["192.0.2.130", "2001:db8::"])
        assert.strictEqual(annotationOf(server, "web", FromPool), "dual")
      }), [pool("v4", ["198.51.100.0/30"]), pool("dual", ["192.0.2.130/31", "2001:db8::/127"])]), T)

  it.live("prefers the primary family IPv4 among single-stack pools by default", () =>
    withController((server) =>
      Effect.gen(function*() {
        yield* upsert(server, dual("web"))
        yield* waitIngress(server, "web", ["192.0.2.140"])
      }), [pool("v4", ["192.0.2.140/31"]), pool("v6", ["2001:db8::10/127"])]), T)

  it.live("prefers IPv6 among single-stack pools when ipFamilies lists IPv6 first", () =>
    withController((server) =>
      Effect.gen(function*() {
        yield* upsert(server, dual("web", { ipFamilies: ["IPv6", "IPv4"] }))
        yield* waitIngress(server, "web", ["2001:db8::10"])
      }), [pool("v4", ["192.0.2.140/31"]), pool("v6", ["2001:db8::10/127"])]), T)

  it.live("adds the second IP when the assigned single-stack pool becomes dual-stack", () =>
    withController((server) =>
      Effect.gen(function*() {
        yield* upsert(server, dual("web"))
        yield* waitIngress(server, "web", ["192.0.2.150"])
        yield* editPool(server, "grow", { addresses: ["192.0.2.150/31", "2001:db8::20/127"] })
        yield* waitIngress(server, "web", ["192.0.2.150", "2001:db8::20"])
      }), [pool("grow", ["192.0.2.150/31"])]), T)

  it.live("a single-stack pool: RequireDualStack loses the IP, PreferDualStack gets one again", () =>
    withController((server) =>
      Effect.gen(function*() {
        yield* upsert(server, dual("web"))
        yield* waitIngress(server, "web", ["192.0.2.160"])
        yield* setSpec(server, "web", { ipFamilyPolicy: "RequireDualStack" })
        yield* waitIngress(server, "web", [])
        yield* setSpec(server, "web", { ipFamilyPolicy: "PreferDualStack" })
        yield* waitIngress(server, "web", ["192.0.2.160"])
      }), [pool("v4", ["192.0.2.160/31"])]), T)

  it.live("a service on a single-stack pool does not jump to a dual-stack pool that appears", () =>
    withController((server) =>
      Effect.gen(function*() {
        yield* upsert(server, dual("web"))
        yield* waitIngress(server, "web", ["192.0.2.170"])
        yield* upsert(server, pool("dual", ["198.51.100.8/31", "2001:db8::30/127"]))
        yield* stays("IP unchanged", () => JSON.stringify(ingress(server, "web")) === JSON.stringify(["192.0.2.170"]), 1_000)
      }), [pool("v4", ["192.0.2.170/31"])]), T)

  it.live("when its dual-stack pool becomes single-stack, the service moves to another dual-stack pool", () =>
    withController((server) =>
      Effect.gen(function*() {
        yield* upsert(server, dual("web"))
        yield* waitIngress(server, "web", ["192.0.2.180", "2001:db8::40"])
        yield* editPool(server, "a", { addresses: ["192.0.2.180/31"] })
        yield* waitIngress(server, "web", ["198.51.100.20", "2001:db8::50"])
        assert.strictEqual(annotationOf(server, "web", FromPool), "b")
      }), [pool("a", ["192.0.2.180/31", "2001:db8::40/127"]), pool("b", ["198.51.100.20/31", "2001:db8::50/127"])]), T)
})

const poolStatus = (server: ApiServer, name: string) =>
  server.objects.get("metallb.io/v1beta1", "IPAddressPool", NS, name)?.["status"] as Record<string, number> | undefined

const waitPoolStatus = (server: ApiServer, name: string, want: Record<string, number>) =>
  Effect.gen(function*() {
    const deadline = Date.now() + 5_000
    while (JSON.stringify(poolStatus(server, name)) !== JSON.stringify(want)) {
      if (Date.now() > deadline) assert.deepStrictEqual(poolStatus(server, name), want)
      yield* Effect.sleep("20 millis")
    }
  })

const counts = (a4: number, a6: number, v4: number, v6: number) => ({
  assignedIPv4: a4,
  assignedIPv6: a6,
  availableIPv4: v4,
  availableIPv6: v6
})

describe("Pool Status DUALSTACK (e2e §8.1)", () => {
  it.live("counts follow allocations and pool growth; manual edits are reverted", () =>
    withController((server) =>
      Effect.gen(function*() {
        yield* waitPoolStatus(server, "status", counts(0, 0, 4, 4))
        yield* upsert(server, dual("web"))
        yield* waitAnyIngress(server, "web")
        yield* waitPoolStatus(server, "status", counts(1, 1, 3, 3))
        yield* editPool(server, "status", { addresses: ["192.0.2.192/29", "2001:db8::60/125"] })
        yield* waitPoolStatus(server, "status", counts(1, 1, 7, 7))
        yield* remove(server, "v1", "Service", "default", "web")
        yield* waitPoolStatus(server, "status", counts(0, 0, 8, 8))
        // A manual edit of the status is put back.
        server.objects.upsert({
          ...server.objects.get("metallb.io/v1beta1", "IPAddressPool", NS, "status"),
          status: counts(5, 5, 5, 5)
        })
        yield* waitPoolStatus(server, "status", counts(0, 0, 8, 8))
      }), [pool("status", ["192.0.2.192/30", "2001:db8::60/126"])]), T)
})
