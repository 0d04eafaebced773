/**
 * The speaker's StatusWriter against the in-memory API server: a status another node deleted (as a node that owned
 * the IP for a moment does, reference §1.3) is written again on the next sync, also when this writer never saw it
 * in its informer (found by the end-to-end lab: the owner's ServiceL2Status stayed missing for good).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { KubeClient } from "../../src/k8s/KubeClient.ts"
import * as StatusWriter from "../../src/speaker/StatusWriter.ts"
import { apiServer, eventually, NS } from "./controllerKit.ts"

describe("StatusWriter", () => {
  it.live("writes a ServiceL2Status again after someone else deleted it", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* apiServer()
      const statuses = () => server.objects.list("metallb.io/v1beta1", "ServiceL2Status", NS)
      const writer = yield* StatusWriter.make({ namespace: NS, node: "n1" }).pipe(
        Effect.provide(Layer.orDie(KubeClient.layerServer(server.url, "speaker")))
      )
      const desired = { l2: new Map([["default/web", []]]), bgp: new Map() }
      yield* writer.sync(desired)
      const [first] = statuses()
      assert.strictEqual((first?.["status"] as { node?: string } | undefined)?.node, "n1")
      const firstName = String((first?.["metadata"] as { name?: string } | undefined)?.name)

      // Deleted at once, before a sync could see it in the informer (another node claimed the IP for a moment).
      server.objects.delete("metallb.io/v1beta1", "ServiceL2Status", NS, firstName)
      yield* Effect.sleep("200 millis")
      yield* writer.sync(desired)
      const again = yield* eventually("the status written again", () => (statuses().length === 1 ? statuses()[0] : undefined))
      assert.strictEqual((again["status"] as { node?: string } | undefined)?.node, "n1")
      assert.notStrictEqual((again["metadata"] as { name?: string }).name, firstName)
    })))
})
