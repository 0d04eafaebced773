// The webhook wired to the KubeClient against the in-memory API server: certificates rotated into the Secret and
// injected into the ValidatingWebhookConfiguration and the BGPPeer CRD, admission reading existing objects from the
// API server, and the --disable-cert-rotation path.
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Logger } from "effect"
import * as Fs from "node:fs"
import * as Https from "node:https"
import * as Os from "node:os"
import * as Path from "node:path"
import { crdInfos, crdObject } from "../../src/config/CrdGen.ts"
import { KubeClient } from "../../src/k8s/KubeClient.ts"
import type { JsonObject as ApiJson } from "../../src/testing/apiserver/Json.ts"
import { type ApiServer, startApiServer } from "../../src/testing/apiserver/Server.ts"
import * as Certificates from "../../src/webhook/Certificates.ts"
import { validatingWebhookConfiguration, withConversionWebhook } from "../../src/webhook/Manifests.ts"
import { decodeFlags, defaultFlags, webhookLayer } from "../../src/webhook/WebhookFlags.ts"
import { WebhookServer } from "../../src/webhook/WebhookServer.ts"
import { pool } from "../config/fixtures.ts"

const namespace = "metallb-system"
const serverName = "metallb-webhook-service.metallb-system.svc"
type JsonObject = Record<string, unknown>
const json = (o: object): ApiJson => o as ApiJson

const seed = (s: ApiServer) => {
  s.objects.upsert({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } })
  for (const info of crdInfos) s.objects.upsert(json(withConversionWebhook(crdObject(info), { namespace })))
  s.objects.upsert(json(validatingWebhookConfiguration({ namespace })))
  s.objects.upsert(json(pool("existing", { addresses: ["192.0.2.0/24"] })))
}

const post = (port: number, ca: string, path: string, body: unknown) =>
  Effect.promise(() =>
    new Promise<{ status: number; body: { response: { allowed: boolean; status?: { message: string } } } }>((resolve, reject) => {
      const text = JSON.stringify(body)
      const req = Https.request(
        { host: "127.0.0.1", port, path, method: "POST", ca, servername: serverName, agent: false, headers: { "content-type": "application/json" } },
        (res) => {
          const chunks: Array<Buffer> = []
          res.on("data", (c: Buffer) => chunks.push(c))
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) }))
        }
      )
      req.on("error", reject)
      req.end(text)
    })
  )

const review = (object: JsonObject) => ({
  apiVersion: "admission.k8s.io/v1",
  kind: "AdmissionReview",
  request: { uid: "u1", kind: { group: "metallb.io", version: "v1beta1", kind: "IPAddressPool" }, namespace, operation: "CREATE", object }
})

const caOf = (s: ApiServer): string => {
  const secret = s.objects.get("v1", "Secret", namespace, "metallb-webhook-cert") as { data?: Certificates.SecretData } | undefined
  const bundle = Certificates.fromSecretData(secret?.data)
  assert.isDefined(bundle, "the Secret holds the certificates")
  return bundle?.ca.cert ?? ""
}

const caBundles = (s: ApiServer): ReadonlyArray<string> => {
  const vwc = s.objects.get("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "", "metallb-webhook-configuration") as
    | { webhooks: Array<{ clientConfig: { caBundle: string } }> }
    | undefined
  const crd = s.objects.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "bgppeers.metallb.io") as
    | { spec: { conversion: { webhook: { clientConfig: { caBundle: string } } } } }
    | undefined
  return [...(vwc?.webhooks ?? []).map((w) => w.clientConfig.caBundle), crd?.spec.conversion.webhook.clientConfig.caBundle ?? "none"]
}

/** Builds the webhook for `flags` against a seeded server, runs `f`, tears everything down. */
const run = <A>(s: ApiServer, flags: JsonObject, f: (server: WebhookServer["Service"]) => Effect.Effect<A>) =>
  Effect.scoped(Effect.gen(function*() {
    const decoded = decodeFlags(flags as Record<string, string | boolean>)
    assert.isTrue(decoded._tag === "Success", JSON.stringify(decoded))
    const client = yield* KubeClient
    const layer = webhookLayer(decoded._tag === "Success" ? decoded.success : defaultFlags, { namespace, client, port: 0, host: "127.0.0.1" })
    const ctx = yield* Layer.build(layer)
    return yield* f(Context.get(ctx, WebhookServer))
  })).pipe(Effect.provide(KubeClient.layerServer(s.url)), Effect.provide(Logger.layer([])))

const withApiServer = <A, E>(f: (s: ApiServer) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.gen(function*() {
    const s = yield* Effect.acquireRelease(Effect.promise(() => startApiServer({})), (x) => Effect.promise(() => x.stop()))
    seed(s)
    return yield* f(s)
  }))

describe("Webhook on the KubeClient", () => {
  it.live("rotation: creates the Secret, injects the CA everywhere, validates against the API server's objects; a restart keeps the CA", () =>
    withApiServer((s) =>
      Effect.gen(function*() {
        const certDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "metallb-webhook-"))
        const first = yield* run(s, { "cert-dir": certDir }, (server) =>
          Effect.gen(function*() {
            const ca = caOf(s)
            const expected = Buffer.from(ca).toString("base64")
            assert.deepStrictEqual(caBundles(s), Array.from({ length: 7 }, () => expected))
            assert.isTrue(Fs.existsSync(Path.join(certDir, "tls.crt")))
            const denied = yield* post(server.port, ca, "/validate-metallb-io-v1beta1-ipaddresspool", review(pool("new", { addresses: ["192.0.2.128/25"] })))
            assert.strictEqual(denied.status, 200)
            assert.isFalse(denied.body.response.allowed)
            assert.include(denied.body.response.status?.message ?? "", `overlaps with already defined CIDR "192.0.2.0/24"`)
            const allowed = yield* post(server.port, ca, "/validate-metallb-io-v1beta1-ipaddresspool", review(pool("new", { addresses: ["198.51.100.0/24"] })))
            assert.isTrue(allowed.body.response.allowed)
            return ca
          }))
        const second = yield* run(s, { "cert-dir": certDir }, () => Effect.succeed(caOf(s)))
        assert.strictEqual(second, first)
        Fs.rmSync(certDir, { recursive: true, force: true })
      })
    ))

  it.live("fills the empty Secret that MetalLB's manifests ship (replace at its resourceVersion)", () =>
    withApiServer((s) =>
      Effect.gen(function*() {
        s.objects.upsert({ apiVersion: "v1", kind: "Secret", metadata: { name: "metallb-webhook-cert", namespace }, data: { "tls.crt": "Zm9v" } })
        const certDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "metallb-webhook-"))
        const ca = yield* run(s, { "cert-dir": certDir }, (server) =>
          Effect.gen(function*() {
            const ca = caOf(s)
            const reply = yield* post(server.port, ca, "/validate-metallb-io-v1beta1-ipaddresspool", review(pool("new", { addresses: ["203.0.113.0/24"] })))
            assert.isTrue(reply.body.response.allowed)
            return ca
          }))
        assert.include(ca, "BEGIN CERTIFICATE")
        Fs.rmSync(certDir, { recursive: true, force: true })
      })
    ))

  it.live("--disable-cert-rotation serves the pair in --cert-dir and touches no Secret", () =>
    withApiServer((s) =>
      Effect.gen(function*() {
        const certDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "metallb-webhook-"))
        const bundle = yield* Certificates.generate({ dnsNames: Certificates.dnsNames("metallb-webhook-service", namespace), now: new Date() })
        yield* Certificates.writeCertDir(certDir, bundle.serving)
        yield* run(s, { "cert-dir": certDir, "disable-cert-rotation": true, "tls-min-version": "VersionTLS12" }, (server) =>
          Effect.gen(function*() {
            const reply = yield* post(server.port, bundle.ca.cert, "/validate-metallb-io-v1beta1-ipaddresspool", review(pool("new", { addresses: ["203.0.113.0/24"] })))
            assert.isTrue(reply.body.response.allowed)
          }))
        assert.isUndefined(s.objects.get("v1", "Secret", namespace, "metallb-webhook-cert"))
        Fs.rmSync(certDir, { recursive: true, force: true })
      }).pipe(Effect.orDie)
    ))
})
