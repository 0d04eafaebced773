// The controller under API server faults (the in-memory server's fault hooks): watches cut mid-stream, a resume
// point compacted away (410 Gone → relist), the server refusing connections for a while. Nothing may be lost:
// every Service ends with an IP, no IP twice, and deletions made while the controller was blind free their IPs.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { ApiServer } from "../../src/testing/apiserver/Server.ts"
import { apiServer, eventually, ingress, pool, remove, service, startController, upsert, waitIngress, waitReady } from "./controllerKit.ts"

const T = 60_000

const allAssigned = (server: ApiServer, names: ReadonlyArray<string>) =>
  eventually(`all of ${names.length} services assigned`, () => {
    const ips = names.map((n) => ingress(server, n))
    if (ips.some((i) => i.length !== 1)) return undefined
    return ips.map((i) => i[0] ?? "")
  }, 15_000)

describe("controller at moderate scale", () => {
  it.live("a bulk deletion hands every freed IP to a waiting Service (batched reprocessing)", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* apiServer()
      yield* upsert(server, pool("p", ["192.0.2.0/26"]))
      const c = yield* startController(server)
      yield* waitReady(c)
      const holders = Array.from({ length: 64 }, (_, i) => `holder-${i}`)
      const waiters = Array.from({ length: 64 }, (_, i) => `waiter-${i}`)
      yield* upsert(server, ...holders.map((n) => service(n)))
      const held = yield* allAssigned(server, holders)
      yield* upsert(server, ...waiters.map((n) => service(n)))
      yield* Effect.sleep("300 millis")
      assert.isTrue(waiters.every((n) => ingress(server, n).length === 0), "the pool is full")
      for (const n of holders) server.objects.delete("v1", "Service", "default", n)
      const got = yield* allAssigned(server, waiters)
      assert.deepStrictEqual(got.toSorted(), held.toSorted(), "exactly the freed IPs")
      yield* c.stop
    })), T)
})

describe("controller under API server faults", () => {
  it.live("watches cut mid-stream (sockets destroyed) lose nothing", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* apiServer()
      yield* upsert(server, pool("p", ["192.0.2.0/24"]))
      const c = yield* startController(server)
      yield* waitReady(c)
      const names: Array<string> = []
      let cuts = 0
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 10; i++) {
          const name = `svc-${round}-${i}`
          names.push(name)
          yield* upsert(server, service(name))
        }
        // Cut every watch while those events are in flight; then give the watches time to come back.
        cuts += server.faults.dropWatches()
        yield* Effect.sleep("400 millis")
      }
      assert.isAtLeast(cuts, 5)
      const ips = yield* allAssigned(server, names)
      assert.strictEqual(new Set(ips).size, names.length, "no IP twice")
      yield* c.stop
    })), T)

  it.live("a blind spot ending in 410 Gone: changes made meanwhile (creations, deletions) are all seen after the relist", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* apiServer()
      yield* upsert(server, pool("small", ["192.0.2.0/30"]))
      const c = yield* startController(server)
      yield* waitReady(c)
      yield* upsert(server, service("keep"))
      yield* waitIngress(server, "keep", ["192.0.2.0"])
      yield* upsert(server, service("doomed"))
      yield* waitIngress(server, "doomed", ["192.0.2.1"])
      yield* upsert(server, service("fill-a"), service("fill-b"))
      yield* eventually("pool full", () => (ingress(server, "fill-a").length + ingress(server, "fill-b").length === 2 ? true : undefined))

      // The controller goes blind: connections refused. Meanwhile a Service is deleted, another created, and the
      // history it would resume from is forgotten.
      yield* Effect.promise(() => server.faults.pause("refuse"))
      yield* remove(server, "v1", "Service", "default", "doomed")
      yield* upsert(server, service("newcomer"))
      server.faults.compactHistory()
      yield* Effect.sleep("300 millis")
      yield* Effect.promise(() => server.faults.resume())

      // After reconnecting (410 → relist) the deletion frees 192.0.2.1 for the newcomer.
      yield* waitIngress(server, "newcomer", ["192.0.2.1"], "default", 15_000)
      assert.deepStrictEqual(ingress(server, "keep"), ["192.0.2.0"])
      yield* c.stop
    })), T)

  it.live("a graceful watch end after compaction (410 on resume) relists and keeps serving", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* apiServer()
      yield* upsert(server, pool("p", ["192.0.2.0/28"]))
      const c = yield* startController(server)
      yield* waitReady(c)
      yield* upsert(server, service("a"))
      yield* waitIngress(server, "a", ["192.0.2.0"])
      server.faults.compactHistory()
      server.faults.dropWatches({ graceful: true })
      yield* upsert(server, service("b"))
      yield* waitIngress(server, "b", ["192.0.2.1"], "default", 15_000)
      yield* c.stop
    })), T)
})
