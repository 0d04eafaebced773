// The Lease-backed SpeakerDirectory against the in-memory API server: two speakers see each other through their
// Leases; one leaving deletes its Lease and drops out of the other's directory.
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { SpeakerDirectory } from "../../src/election/SpeakerDirectory.ts"
import { KubeClient } from "../../src/k8s/KubeClient.ts"
import * as Logging from "../../src/observability/Logging.ts"
import * as LeaseDirectory from "../../src/speaker/LeaseDirectory.ts"
import type { ApiServer } from "../../src/testing/apiserver/Server.ts"
import { apiServer, eventually, NS } from "./controllerKit.ts"

const start = (server: ApiServer, node: string) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.build(
      LeaseDirectory.layer({ namespace: NS, node, interfaces: new Set(["eth0"]), renew: "100 millis", duration: "2 seconds" }).pipe(
        Layer.provide(KubeClient.layerServer(server.url, node)),
        Layer.provide(Logging.layer("speaker", "none"))
      )
    ).pipe(Scope.provide(scope), Effect.orDie)
    return { directory: Context.get(context, SpeakerDirectory), stop: Scope.close(scope, Exit.void) }
  })

describe("LeaseDirectory against the in-memory API server", () => {
  it.live("speakers see each other; a leaving one is gone at once", () =>
    Effect.gen(function*() {
      const server = yield* apiServer()
      const a = yield* start(server, "node-a")
      const b = yield* start(server, "node-b")
      const names = (d: typeof a) => Effect.runSync(Effect.map(d.directory.snapshot, (s) => [...s.speakers.keys()].toSorted().join(",")))
      yield* eventually("a sees b", () => (names(a) === "node-a,node-b" ? true : undefined))
      yield* eventually("b sees a", () => (names(b) === "node-a,node-b" ? true : undefined))
      const lease = server.objects.get("coordination.k8s.io/v1", "Lease", NS, "metallb-speaker-node-a")
      const metadata = lease?.["metadata"] as { annotations?: Record<string, string> } | undefined
      assert.strictEqual(metadata?.annotations?.[LeaseDirectory.InterfacesAnnotation], "eth0")
      assert.isAtLeast(Effect.runSync(a.directory.writes), 1)
      yield* b.stop
      assert.isUndefined(server.objects.get("coordination.k8s.io/v1", "Lease", NS, "metallb-speaker-node-b"))
      yield* eventually("b gone from a's directory", () => (names(a) === "node-a" ? true : undefined))
      yield* a.stop
    }).pipe(Effect.scoped), { timeout: 20_000 })
})
