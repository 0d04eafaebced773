// The RBAC of manifests/metallb.yaml against real calls, from the request log of the in-memory API server: the
// controller's webhook (certificate rotation, caBundle injection, the reads of every admission check) needs nothing
// the controller's Roles do not grant; a client with the speaker's token makes a speaker's calls and one it must
// not, which is the one denial. test/lab/rbac.test.ts does the same for the whole programs.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Logger, Result } from "effect"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { KubeClient, mergePatch } from "../../src/k8s/KubeClient.ts"
import { custom, EndpointSlices, Leases, Nodes, Services } from "../../src/k8s/Resource.ts"
import { parseObjects } from "../../src/manifests/Bundle.ts"
import { Namespace } from "../../src/manifests/Names.ts"
import { grantsOf } from "../../src/manifests/Rbac.ts"
import { bindingsFor, check, formatCall } from "../../src/manifests/RbacCheck.ts"
import { startApiServer } from "../../src/testing/apiserver/Server.ts"
import type { ListName } from "../../src/webhook/Admission.ts"
import { listResources, readList } from "../../src/webhook/ClusterAccess.ts"
import { defaultFlags, webhookLayer } from "../../src/webhook/WebhookFlags.ts"

const manifest = readFileSync(join(import.meta.dirname, "../../manifests/metallb.yaml"), "utf8")
const ServiceL2Statuses = custom("metallb.io", "v1beta1", "servicel2statuses", "ServiceL2Status")

describe("manifests RBAC against the request log", () => {
  it.live("a speaker's calls are allowed, a status write to a Service is not", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(Effect.promise(() => startApiServer()), (s) => Effect.promise(() => s.stop()))
      server.objects.applyManifest(manifest)
      server.objects.upsert({ apiVersion: "v1", kind: "Service", metadata: { name: "web", namespace: "default" }, spec: { type: "LoadBalancer", ports: [{ port: 80 }] } })
      server.clearRequests()
      yield* Effect.gen(function*() {
        const kube = yield* KubeClient
        yield* kube.list(Services)
        yield* kube.list(Nodes)
        yield* kube.list(EndpointSlices)
        const lease = yield* kube.create(Leases, { metadata: { name: "speaker-n1", namespace: Namespace }, spec: { holderIdentity: "n1", leaseDurationSeconds: 15 } })
        yield* kube.replace(Leases, lease)
        yield* kube.create(ServiceL2Statuses, { metadata: { name: "l2-web", namespace: Namespace } })
        // Not the speaker's business: only the controller writes Service status.
        yield* kube.patchStatus(Services, "web", "default", mergePatch({ status: { loadBalancer: { ingress: [{ ip: "192.0.2.10" }] } } }))
      }).pipe(Effect.provide(KubeClient.layerServer(server.url, "speaker-token")))

      const calls = server.requests().filter((r) => r.token === "speaker-token")
      assert.isAtLeast(calls.length, 7)
      const objects = Result.getOrThrow(parseObjects(manifest, "metallb.yaml"))
      const fromManifest = check(bindingsFor(objects, { namespace: Namespace, name: "speaker" }), calls)
      assert.deepStrictEqual(fromManifest.denied.map(formatCall), ["patch services/status web in default"])
      // The machine-readable list says the same as the manifest.
      assert.deepStrictEqual(check(grantsOf("speaker"), calls).denied, fromManifest.denied)
      // And the controller's rules allow that write.
      assert.deepStrictEqual(check(grantsOf("controller"), calls.filter((c) => c.resource === "services")).denied, [])
    })))

  it.live("the controller's webhook: rotation, caBundle injection and the admission reads are all granted", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(Effect.promise(() => startApiServer()), (s) => Effect.promise(() => s.stop()))
      server.objects.applyManifest(manifest)
      const certDir = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "manifests-rbac-"))),
        (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
      )
      server.clearRequests()
      yield* Effect.gen(function*() {
        const client = yield* KubeClient
        yield* Layer.build(webhookLayer({ ...defaultFlags, certDir }, { namespace: Namespace, client, port: 0, host: "127.0.0.1" }))
        for (const list of Object.keys(listResources) as Array<ListName>) yield* readList(client, Namespace)(list)
      }).pipe(Effect.provide(KubeClient.layerServer(server.url, "controller-token")), Effect.provide(Logger.layer([])))

      const calls = server.requests().filter((r) => r.token === "controller-token")
      // The manifest ships the Secret empty: the rotator fills it (update), it does not create it.
      const verbs = new Set(calls.map((c) => `${c.verb} ${c.resource}`))
      for (const expected of ["update secrets", "patch validatingwebhookconfigurations", "patch customresourcedefinitions", "list nodes", "list ipaddresspools"]) {
        assert.isTrue(verbs.has(expected), `${expected} in ${[...verbs].join(", ")}`)
      }
      const objects = Result.getOrThrow(parseObjects(manifest, "metallb.yaml"))
      const report = check(bindingsFor(objects, { namespace: Namespace, name: "controller" }), calls)
      assert.deepStrictEqual(report.denied.map(formatCall), [])
    })))
})
