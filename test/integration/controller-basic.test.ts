// The controller end to end against the in-memory API server over HTTP: assignment, annotation, events, status.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  annotationOf,
  apiServer,
  eventsOf,
  pool,
  service,
  startController,
  upsert,
  waitReady,
  waitIngress
} from "./controllerKit.ts"

describe("controller: basic assignment", () => {
  it.live("assigns the first free IP, annotates the pool, records IPAllocated", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* apiServer()
      yield* upsert(server, pool("p1", ["192.0.2.0/30"]), service("web"))
      const c = yield* startController(server)
      yield* waitIngress(server, "web", ["192.0.2.0"])
      assert.strictEqual(annotationOf(server, "web", "metallb.io/ip-allocated-from-pool"), "p1")
      assert.include(eventsOf(server, "web"), `IPAllocated: Assigned IP ["192.0.2.0"]`)
      yield* waitReady(c)
      yield* c.stop
    })), 20_000)
})
