import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Logger, Schedule } from "effect"
import * as Fs from "node:fs"
import * as Https from "node:https"
import * as Os from "node:os"
import * as Path from "node:path"
import type * as Tls from "node:tls"
import * as Metrics from "../../src/observability/Metrics.ts"
import type { ListName } from "../../src/webhook/Admission.ts"
import * as Certificates from "../../src/webhook/Certificates.ts"
import { routes } from "../../src/webhook/Manifests.ts"
import { WebhookServer, type WebhookServerOptions } from "../../src/webhook/WebhookServer.ts"
import { bfd, bgpAd, community, l2, node, peer, peerSpec, peerV1beta1, pool } from "../config/fixtures.ts"

const namespace = "metallb-system"
const serverName = "metallb-webhook-service.metallb-system.svc"
const names = Certificates.dnsNames("metallb-webhook-service", namespace)
const now = new Date()
const bundle = Effect.runSync(Certificates.generate({ dnsNames: names, now }))

interface Reply {
  readonly status: number
  readonly body: unknown
}

interface PostOptions {
  readonly ca?: string
  readonly servername?: string
  readonly maxVersion?: Tls.SecureVersion
  readonly method?: string
  readonly contentType?: string
}

const post = (port: number, path: string, payload: unknown, o: PostOptions = {}) =>
  Effect.tryPromise(() =>
    new Promise<Reply>((resolve, reject) => {
      const text = typeof payload === "string" ? payload : JSON.stringify(payload)
      const req = Https.request(
        {
          host: "127.0.0.1",
          port,
          path,
          method: o.method ?? "POST",
          ca: o.ca ?? bundle.ca.cert,
          servername: o.servername ?? serverName,
          ...(o.maxVersion !== undefined ? { maxVersion: o.maxVersion } : {}),
          agent: false,
          headers: { "content-type": o.contentType ?? "application/json", "content-length": Buffer.byteLength(text) }
        },
        (res) => {
          const chunks: Array<Buffer> = []
          res.on("data", (c: Buffer) => chunks.push(c))
          res.on("end", () => {
            const raw = Buffer.concat(chunks).toString("utf8")
            resolve({ status: res.statusCode ?? 0, body: raw === "" ? undefined : JSON.parse(raw) })
          })
        }
      )
      req.on("error", reject)
      req.end(text)
    })
  )

/** The error of a request that must fail (TLS), as a string. */
const postError = (port: number, o: PostOptions) =>
  post(port, "/convert", {}, o).pipe(Effect.flip, Effect.map((e) => String(e.cause ?? e)))

type Obj = { readonly apiVersion: string; readonly kind: string; readonly metadata: { readonly name: string } }

let uidCounter = 0
const admissionReview = (operation: string, object: Obj) => {
  const [group, version] = object.apiVersion.split("/")
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: `uid-${++uidCounter}`,
      kind: { group, version, kind: object.kind },
      namespace,
      name: object.metadata.name,
      operation,
      ...(operation === "DELETE" ? { oldObject: object } : { object })
    }
  }
}

const pathOf = (kind: string): string => {
  const route = routes.find((r) => r.kind === kind)
  if (route === undefined) throw new Error(`no route for ${kind}`)
  return route.path
}

interface ReviewResponse {
  readonly uid: string
  readonly allowed: boolean
  readonly status?: { readonly code: number; readonly message: string }
  readonly warnings?: ReadonlyArray<string>
}

const expectError = (reply: Reply, status: number, fragment: string) => {
  assert.strictEqual(reply.status, status)
  assert.include((reply.body as { error: string }).error, fragment)
}

const responseOf = (reply: Reply): ReviewResponse => {
  assert.strictEqual(reply.status, 200)
  const review = reply.body as { apiVersion: string; kind: string; response: ReviewResponse }
  assert.strictEqual(review.apiVersion, "admission.k8s.io/v1")
  assert.strictEqual(review.kind, "AdmissionReview")
  return review.response
}

const cluster: Readonly<Record<ListName, ReadonlyArray<unknown>>> = {
  ipAddressPools: [pool("pool1", { addresses: ["192.0.2.0/24"] }), pool("small", { addresses: ["1.1.1.0/28"] })],
  bgpAdvertisements: [],
  l2Advertisements: [],
  bgpPeers: [peer("peer1", peerSpec({ bfdProfile: "fast" }))],
  communities: [community("c1", { communities: [{ name: "gold", value: "64500:1" }] })],
  nodes: [node("n1")]
}

const serverLayer = (extra: Partial<WebhookServerOptions> = {}) =>
  WebhookServer.layer({
    host: "127.0.0.1",
    port: 0,
    namespace,
    credentials: bundle.serving,
    readList: (list) => Effect.succeed(cluster[list]),
    ...extra
  })

const withServer = <A, E>(f: (server: WebhookServer["Service"]) => Effect.Effect<A, E>, extra?: Partial<WebhookServerOptions>) =>
  Effect.scoped(Effect.flatMap(Layer.build(serverLayer(extra)), (ctx) => f(Context.get(ctx, WebhookServer)))).pipe(
    Effect.provide(Logger.layer([]))
  )

describe("WebhookServer over TLS", () => {
  it.live("validates each kind: valid objects allowed, invalid ones denied with MetalLB's message", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const cases: ReadonlyArray<readonly [string, Obj, string | undefined]> = [
          ["CREATE", pool("pool2", { addresses: ["198.51.100.0/24"] }), undefined],
          ["CREATE", pool("pool2", { addresses: ["192.0.2.64/26"] }), "overlaps with already defined CIDR"],
          ["CREATE", bgpAd("adv", { ipAddressPools: ["pool1"], aggregationLength: 24 }), undefined],
          ["CREATE", bgpAd("adv", { ipAddressPools: ["small"], aggregationLength: 26 }), "invalid aggregation length 26"],
          ["UPDATE", l2("l2", { ipAddressPools: ["pool1"] }), undefined],
          ["UPDATE", l2("l2", { ipAddressPools: ["pool1", "pool1"] }), "duplicate definition of ipAddressPools"],
          ["CREATE", community("c2", { communities: [{ name: "silver", value: "64500:2" }] }), undefined],
          ["CREATE", community("c2", { communities: [{ name: "gold", value: "64500:2" }] }), "duplicate definition of community"],
          ["CREATE", peer("peer2", peerSpec({ peerAddress: "192.0.2.2" })), undefined],
          ["CREATE", peer("peer2", peerSpec({ peerAddress: "192.0.2.300" })), "invalid BGPPeer address"],
          ["CREATE", peerV1beta1("peer3", peerSpec({ peerAddress: "192.0.2.3" })), undefined],
          ["CREATE", bfd("slow", {}), undefined],
          ["CREATE", bfd("slow", {}, { namespace: "default" }), "resource must be created in metallb-system namespace"],
          ["DELETE", bfd("fast", {}), "failed to delete BFDProfile fast, used by BGPPeer peer1"],
          ["DELETE", bfd("unused", {}), undefined]
        ]
        for (const [op, object, error] of cases) {
          const review = admissionReview(op, object)
          const response = responseOf(yield* post(server.port, pathOf(object.kind), review))
          assert.strictEqual(response.uid, review.request.uid)
          if (error === undefined) assert.isTrue(response.allowed, `${op} ${object.kind}: ${response.status?.message ?? ""}`)
          else {
            assert.isFalse(response.allowed, `${op} ${object.kind} should be denied`)
            assert.strictEqual(response.status?.code, 403)
            assert.include(response.status?.message ?? "", error)
          }
        }
        const warned = responseOf(yield* post(server.port, pathOf("BGPPeer"), admissionReview("CREATE", peer("p", peerSpec({ disableMP: true })))))
        assert.isTrue(warned.allowed)
        assert.include(warned.warnings?.[0] ?? "", "disable mp is deprecated")
      })
    ))

  it.live("converts BGPPeers both ways on /convert", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const v1beta1 = peerV1beta1("p", peerSpec({ holdTime: "90s" }), { uid: "abc", resourceVersion: "7" })
        const reply = yield* post(server.port, "/convert", {
          apiVersion: "apiextensions.k8s.io/v1",
          kind: "ConversionReview",
          request: { uid: "conv-1", desiredAPIVersion: "metallb.io/v1beta2", objects: [v1beta1] }
        })
        assert.strictEqual(reply.status, 200)
        const response = (reply.body as { response: { uid: string; result: { status: string }; convertedObjects: Array<Obj & { spec: unknown }> } }).response
        assert.strictEqual(response.uid, "conv-1")
        assert.strictEqual(response.result.status, "Success")
        assert.deepStrictEqual(response.convertedObjects, [{ ...v1beta1, apiVersion: "metallb.io/v1beta2" }])
        // controller-runtime's request metrics, by path and code (counted when the response closes).
        const counted = /controller_runtime_webhook_requests_total\{webhook="\/convert",code="200"\} [1-9]/
        const text = yield* Metrics.exposition.pipe(
          Effect.repeat({ until: (t) => counted.test(t), schedule: Schedule.spaced(20), times: 50 })
        )
        assert.match(text, counted)
        assert.match(text, /controller_runtime_webhook_requests_in_flight\{webhook="\/convert"\} 0/)
      })
    ))

  it.live("serves the certificate for the Service name, TLS 1.3 only by default", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const wrongName = yield* postError(server.port, { servername: "other.metallb-system.svc" })
        assert.include(wrongName, "ERR_TLS_CERT_ALTNAME_INVALID")
        const foreign = Effect.runSync(Certificates.generate({ dnsNames: names, now }))
        assert.include(yield* postError(server.port, { ca: foreign.ca.cert }), "unable to verify the first certificate")
        assert.include(yield* postError(server.port, { maxVersion: "TLSv1.2" }), "alert protocol version")
        // The .cluster.local name works too.
        const ok = yield* post(server.port, "/convert", {}, { servername: `${serverName}.cluster.local` })
        assert.strictEqual(ok.status, 200)
      })
    ))

  it.live("accepts TLS 1.2 when configured", () =>
    withServer(
      (server) =>
        Effect.gen(function*() {
          const reply = yield* post(server.port, "/convert", {}, { maxVersion: "TLSv1.2" })
          assert.strictEqual(reply.status, 200)
        }),
      { tlsMinVersion: "TLSv1.2" }
    ))

  it.live("replaces its certificate without a restart", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const next = Effect.runSync(Certificates.generate({ dnsNames: names, now }))
        yield* server.setCredentials(next.serving)
        assert.strictEqual((yield* post(server.port, "/convert", {}, { ca: next.ca.cert })).status, 200)
        assert.include(yield* postError(server.port, { ca: bundle.ca.cert }), "unable to verify the first certificate")
        const broken = yield* server.setCredentials({ cert: "nope", key: "nope" }).pipe(Effect.flip)
        assert.include(broken.message, "cannot use the new webhook certificate")
      })
    ))

  it.live("answers transport errors as JSON: 404, 405, 415, 400, 413", () =>
    withServer(
      (server) =>
        Effect.gen(function*() {
          expectError(yield* post(server.port, "/nope", {}), 404, "no webhook at /nope")
          expectError(yield* post(server.port, "/convert", {}, { method: "PUT" }), 405, "not allowed")
          expectError(yield* post(server.port, "/convert", "x", { contentType: "text/plain" }), 415, "expected application/json")
          expectError(yield* post(server.port, "/convert", "{not json"), 400, "not JSON")
          expectError(yield* post(server.port, "/convert", "x".repeat(2048)), 413, "larger than 1024 bytes")
          const malformed = responseOf(yield* post(server.port, pathOf("IPAddressPool"), { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: { uid: "u1" } }))
          assert.strictEqual(malformed.uid, "u1")
          assert.strictEqual(malformed.status?.code, 400)
          const wrongPath = responseOf(yield* post(server.port, pathOf("BGPPeer"), admissionReview("CREATE", pool("p", { addresses: ["203.0.113.0/24"] }))))
          assert.strictEqual(wrongPath.status?.code, 400)
          assert.include(wrongPath.status?.message ?? "", "validates BGPPeer, got IPAddressPool")
        }),
      { maxBodyBytes: 1024 }
    ))

  it.live("a failing or hanging read of the existing objects denies with the reason", () =>
    Effect.gen(function*() {
      yield* withServer(
        (server) =>
          Effect.gen(function*() {
            const r = responseOf(yield* post(server.port, pathOf("Community"), admissionReview("CREATE", community("c", { communities: [] }))))
            assert.isFalse(r.allowed)
            assert.strictEqual(r.status?.code, 500)
            assert.strictEqual(r.status?.message, "failed to get existing communities objects: connection refused")
          }),
        { readList: () => Effect.fail(new Error("connection refused")) }
      )
      yield* withServer(
        (server) =>
          Effect.gen(function*() {
            const r = responseOf(yield* post(server.port, pathOf("Community"), admissionReview("CREATE", community("c", { communities: [] }))))
            assert.strictEqual(r.status?.code, 500)
            assert.include(r.status?.message ?? "", "no decision within 200 ms")
          }),
        { readList: () => Effect.never, decisionTimeoutMs: 200 }
      )
    }))

  it.live("--disable-cert-rotation: serves the pair in the cert dir and picks up a renewed one", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "metallb-webhook-"))
      yield* Certificates.writeCertDir(dir, bundle.serving)
      const options = { host: "127.0.0.1", port: 0, namespace, readList: (list: ListName) => Effect.succeed(cluster[list]) }
      const layer = WebhookServer.layerFromCertDir(options, dir, 50)
      yield* Effect.scoped(Effect.gen(function*() {
        const server = Context.get(yield* Layer.build(layer), WebhookServer)
        assert.strictEqual((yield* post(server.port, "/convert", {})).status, 200)
        const next = Effect.runSync(Certificates.generate({ dnsNames: names, now }))
        yield* Certificates.writeCertDir(dir, next.serving)
        yield* Effect.sleep(300)
        assert.strictEqual((yield* post(server.port, "/convert", {}, { ca: next.ca.cert })).status, 200)
      }))
      Fs.rmSync(dir, { recursive: true, force: true })
    }).pipe(Effect.provide(Logger.layer([]))))

  it.live("fails to start with a clear error when the port is taken", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const error = yield* Effect.scoped(Layer.build(serverLayer({ port: server.port }))).pipe(Effect.flip)
        assert.include(error.message, `cannot listen on 127.0.0.1:${server.port}`)
      })
    ))
})
