// Two and three LeaderElection replicas on one Lease of the in-memory API server, over HTTP, on the real clock.
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Layer, Ref, Scope } from "effect"
import { LeaderElection, make } from "../../src/election/LeaderElection.ts"
import { LeaseStore } from "../../src/election/LeaseStore.ts"
import { KubeClient } from "../../src/k8s/KubeClient.ts"
import { Leases } from "../../src/k8s/Resource.ts"
import { startApiServer } from "../../src/testing/apiserver/Server.ts"
import { link, type LinkMode } from "../election/LeaseLink.ts"

const timing = { leaseDuration: "1 second", renewDeadline: "600 millis", retryPeriod: "200 millis" } as const

describe("LeaderElection against the in-memory API server", () => {
  it.live("exactly one leads; a release hands over at once; a dead leader's lease hands over after expiry", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(
        Effect.promise(() => startApiServer()),
        (s) => Effect.promise(() => s.stop())
      )
      const replica = Effect.fnUntraced(function*(identity: string) {
        const mode = yield* Ref.make<LinkMode>("ok")
        const scope = yield* Scope.make()
        const store = yield* LeaseStore.pipe(
          Effect.provide(LeaseStore.layerKube("default", "metallb-controller").pipe(Layer.provide(KubeClient.layerServer(server.url))))
        )
        const elector = yield* make({ identity, ...timing }).pipe(
          Effect.provideService(LeaseStore, link(store, mode)),
          Scope.provide(scope)
        )
        return { identity, elector, mode, scope }
      })
      type Replica = Effect.Success<ReturnType<typeof replica>>
      const leaders = (rs: ReadonlyArray<Replica>) =>
        Effect.map(Effect.forEach(rs, (r) => r.elector.isLeader), (ls) => rs.filter((_, i) => ls[i]))
      const untilLeader = (r: Replica) =>
        Effect.gen(function*() {
          const start = yield* Clock.currentTimeMillis
          yield* r.elector.awaitLeadership.pipe(Effect.timeout("5 seconds"))
          return (yield* Clock.currentTimeMillis) - start
        })

      const a = yield* replica("a")
      const b = yield* replica("b")
      yield* Effect.sleep("400 millis")
      for (let i = 0; i < 15; i++) {
        assert.strictEqual((yield* leaders([a, b])).length, 1, `sample ${i}`)
        yield* Effect.sleep("100 millis")
      }
      const [first] = yield* leaders([a, b])
      assert.isDefined(first)
      const leader = first === a ? a : b
      const follower = first === a ? b : a
      const lease = yield* Effect.provide(
        Effect.flatMap(KubeClient, (k) => k.get(Leases, "metallb-controller", "default")),
        KubeClient.layerServer(server.url)
      )
      assert.strictEqual(lease.spec?.holderIdentity, leader.identity)
      assert.strictEqual(lease.spec?.leaseDurationSeconds, 1)

      // Release: the holder is cleared and the follower takes over at its next retry, well before 1 s expiry.
      yield* Scope.close(leader.scope, Exit.void)
      const handover = yield* untilLeader(follower)
      assert.isBelow(handover, 700, `took over ${handover} ms after the release`)

      // A dead leader (cut off, no release): the newcomer waits for the lease to expire.
      const c = yield* replica("c")
      yield* Effect.sleep("500 millis")
      assert.deepStrictEqual((yield* leaders([follower, c])).map((r) => r.identity), [follower.identity])
      yield* Ref.set(follower.mode, "fail")
      yield* Scope.close(follower.scope, Exit.void)
      const takeover = yield* untilLeader(c)
      assert.isAtLeast(takeover, 750, `took over ${takeover} ms after the leader died`)
      assert.isBelow(takeover, 2_500)
      yield* Scope.close(c.scope, Exit.void)
    })), 20_000)

  it.live("LeaderElection.layerKube leads on its Lease and releases it when the layer closes", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(Effect.promise(() => startApiServer()), (s) => Effect.promise(() => s.stop()))
      const client = KubeClient.layerServer(server.url)
      const holder = () => {
        const spec = server.objects.get("coordination.k8s.io/v1", "Lease", "kube-system", "mlb")?.["spec"]
        return typeof spec === "object" && spec !== null && "holderIdentity" in spec ? spec.holderIdentity : undefined
      }
      const election = LeaderElection.layerKube({ identity: "solo", namespace: "kube-system", leaseName: "mlb", ...timing })
      yield* Effect.gen(function*() {
        const elector = yield* LeaderElection
        yield* elector.awaitLeadership.pipe(Effect.timeout("3 seconds"))
        assert.strictEqual(holder(), "solo")
      }).pipe(Effect.provide(election.pipe(Layer.provide(client))))
      assert.strictEqual(holder(), "")
    })))
})
