// Controller HA with --leader-elect: two replicas on one Lease; the standby writes nothing (request log, by bearer
// token) and reports not ready; when the leader stops, the standby takes over and keeps every IP.
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber } from "effect"
import type { ApiServer } from "../../src/testing/apiserver/Server.ts"
import {
  apiServer,
  ingress,
  pool,
  type RunningController,
  service,
  startController,
  upsert,
  waitAnyIngress,
  waitIngress,
  waitReady
} from "./controllerKit.ts"

// Generous lease and renew deadline: on a loaded machine a late renewal must not hand the lease over by itself.
const timing = { leaseDuration: "4 seconds", renewDeadline: "3 seconds", retryPeriod: "200 millis" } as const

const writesBy = (server: ApiServer, token: string) =>
  server.requests().filter((r) => r.token === token && ["create", "update", "patch", "delete"].includes(r.verb) && r.resource !== "leases")

/** Starts a replica without waiting for leadership (start returns only once it leads). */
const replica = (server: ApiServer, podName: string) =>
  startController(server, { leaderElect: true, podName, electionTiming: timing }).pipe(Effect.forkScoped)

describe("controller HA (--leader-elect)", () => {
  it.live("one replica works, the standby never writes; after the leader stops the standby keeps every IP", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* apiServer()
      yield* upsert(server, pool("p", ["192.0.2.0/28"]), service("a"), service("b"))
      const first = yield* replica(server, "controller-1")
      yield* waitIngress(server, "a", ["192.0.2.0"])
      const second = yield* replica(server, "controller-2")
      yield* Effect.sleep("800 millis")
      // controller-1 leads (it was first); controller-2 is still waiting inside start().
      assert.isUndefined(second.pollUnsafe(), "standby still waiting for the lease")
      const leader: RunningController = yield* Fiber.join(first)
      yield* upsert(server, service("c"))
      const c = yield* waitAnyIngress(server, "c")
      const before = { a: ingress(server, "a"), b: ingress(server, "b"), c }
      assert.deepStrictEqual(writesBy(server, "controller-2"), [], "the standby wrote")
      assert.isAbove(writesBy(server, "controller-1").length, 0)

      yield* leader.stop
      const successor = yield* Fiber.join(second)
      yield* upsert(server, service("d"))
      yield* waitAnyIngress(server, "d")
      assert.deepStrictEqual({ a: ingress(server, "a"), b: ingress(server, "b"), c: ingress(server, "c") }, before)
      yield* waitReady(successor)
      assert.isAbove(writesBy(server, "controller-2").length, 0)
      yield* successor.stop
    })), 30_000)
})

describe("controller HA: losing the lease", () => {
  it.live("a leader whose lease is taken over stops with LeadershipLost (its Pod restarts as a standby)", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* apiServer()
      yield* upsert(server, pool("p", ["192.0.2.0/28"]))
      const leader = yield* startController(server, { leaderElect: true, podName: "controller-1", electionTiming: timing })
      const lease = server.objects.get("coordination.k8s.io/v1", "Lease", "metallb-system", "metallb-controller")
      assert.strictEqual((lease?.["spec"] as Record<string, unknown> | undefined)?.["holderIdentity"], "controller-1")
      // Someone else writes the lease (an operator, or a replica that saw it expire during a partition).
      server.objects.upsert({
        ...lease,
        spec: {
          ...(lease?.["spec"] as Record<string, unknown>),
          holderIdentity: "intruder",
          renewTime: new Date().toISOString().replace("Z", "000Z"), // MicroTime
          leaseDurationSeconds: 30
        }
      })
      const exit = yield* leader.running.lost.pipe(Effect.timeout("5 seconds"), Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(Exit.isFailure(exit) ? Cause.squash(exit.cause) : ""), "leader election lost (controller-1)")
      yield* leader.stop
    })), 30_000)
})
