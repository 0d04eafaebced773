// StatusWriter against the in-memory API server over HTTP: the node's statuses follow what it announces, and a status
// deleted by someone else (a node that still thought it owned the IP) is written again.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { KubeClient } from "../../src/k8s/KubeClient.ts"
import * as StatusWriter from "../../src/speaker/StatusWriter.ts"
import { crdFiles } from "../../src/config/CrdGen.ts"
import type { JsonObject } from "../../src/testing/apiserver/Json.ts"
import { startApiServer } from "../../src/testing/apiserver/Server.ts"

const NS = "metallb-system"
const metadata = (o: JsonObject | undefined) => (o?.["metadata"] ?? {}) as { name?: string; labels?: Record<string, string> }

describe("StatusWriter against the in-memory API server", () => {
  it.live("re-creates a status another node deleted before this node's informer saw it", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(Effect.promise(() => startApiServer()), (s) => Effect.promise(() => s.stop()))
      for (const crd of crdFiles()) server.objects.applyManifest(crd.content)
      server.objects.upsert({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } })
      const statuses = () => server.objects.list("metallb.io/v1beta1", "ServiceL2Status", NS)
      yield* Effect.gen(function*() {
        const writer = yield* StatusWriter.make({ namespace: NS, node: "n3" })
        const desired = { l2: new Map([["default/web", []]]), bgp: new Map() }
        yield* writer.sync(desired)
        // The previous owner removes it at once, as it did in the lab when two owners overlapped.
        const [first] = statuses()
        assert.isDefined(first)
        server.objects.delete("metallb.io/v1beta1", "ServiceL2Status", NS, String(metadata(first).name))
        yield* Effect.sleep("300 millis")
        yield* writer.sync(desired)
        const after = statuses()
        assert.strictEqual(after.length, 1)
        assert.strictEqual(metadata(after[0]).labels?.[StatusWriter.NodeLabel], "n3")
        assert.deepInclude(after[0]?.["status"] as object, { node: "n3", serviceName: "web", serviceNamespace: "default" })
        // Withdrawn: gone.
        yield* writer.sync({ l2: new Map(), bgp: new Map() })
        assert.strictEqual(statuses().length, 0)
      }).pipe(Effect.provide(KubeClient.layerServer(server.url)))
    })))
})
