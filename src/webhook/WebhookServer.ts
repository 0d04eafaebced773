/**
 * The webhook's HTTPS endpoint, served by the controller on port 9443: MetalLB's validation paths
 * (`/validate-metallb-io-v1beta1-ipaddresspool`, …, `/validate-metallb-io-v1beta2-bgppeer`) and the BGPPeer
 * conversion (`/convert`). Decisions are the pure Admission and Conversion functions; this file adds transport:
 * TLS (1.3 minimum unless configured otherwise; HTTP/1.1 only, as MetalLB without `--webhook-http2`), a body size
 * limit, timeouts, JSON errors, logging, and certificate replacement without a restart (`setCredentials`).
 *
 * The existing objects a check needs are read through the injected `readList`, so the server runs against the
 * KubeClient in the controller and against plain in-memory lists in tests.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Metric, Result, Schema } from "effect"
import type * as Http from "node:http"
import * as Https from "node:https"
import type { AddressInfo } from "node:net"
import * as Metrics from "../observability/Metrics.ts"
import * as Admission from "./Admission.ts"
import { type CertificateError, CertRotator, type Credentials, readCertDir } from "./Certificates.ts"
import * as Conversion from "./Conversion.ts"
import { ConvertPath, DefaultPort, type Route, routes } from "./Manifests.ts"

export class WebhookServerError extends Schema.TaggedError<WebhookServerError>()("WebhookServerError", {
  message: Schema.String
}) {}

export type TlsMinVersion = "TLSv1.2" | "TLSv1.3"

export interface WebhookServerOptions {
  /** Default all interfaces. */
  readonly host?: string
  /** Default 9443; 0 picks a free port (tests). */
  readonly port?: number
  /** The MetalLB namespace. */
  readonly namespace: string
  readonly credentials: Credentials
  /** `--tls-min-version`; default TLS 1.3. */
  readonly tlsMinVersion?: TlsMinVersion
  /** Reads the current objects of one list (in the MetalLB namespace; Nodes cluster-wide). */
  readonly readList: (list: Admission.ListName) => Effect.Effect<ReadonlyArray<unknown>, Error>
  /** Largest accepted request body. Default 8 MiB: an AdmissionReview carries the object and the old object. */
  readonly maxBodyBytes?: number
  /** Time to decide one request, reads included: below the API server's 10 s so that the reason is ours. */
  readonly decisionTimeoutMs?: number
  /** Time for a client to send a whole request. */
  readonly requestTimeoutMs?: number
}

export const DefaultMaxBodyBytes = 8 * 1024 * 1024
export const DefaultDecisionTimeoutMs = 8_000
export const DefaultRequestTimeoutMs = 15_000

export class WebhookServer extends Context.Service<WebhookServer, {
  readonly port: number
  readonly url: string
  /** Serves a new certificate from the next TLS handshake on (rotation). */
  readonly setCredentials: (credentials: Credentials) => Effect.Effect<void, WebhookServerError>
}>()("metallb/webhook/WebhookServer") {
  /** A server with fixed starting credentials; call `setCredentials` to replace them. */
  static readonly layer = (options: WebhookServerOptions): Layer.Layer<WebhookServer, WebhookServerError> =>
    Layer.effect(WebhookServer, make(options))

  /**
   * The controller's default: certificates from the {@link CertRotator} (checked first, then re-checked on its
   * schedule, each new pair served without a restart).
   */
  static readonly layerWithRotation = (
    options: Omit<WebhookServerOptions, "credentials">
  ): Layer.Layer<WebhookServer, WebhookServerError | CertificateError, CertRotator> =>
    Layer.effect(
      WebhookServer,
      Effect.gen(function*() {
        const rotator = yield* CertRotator
        const credentials = yield* rotator.ensure
        const server = yield* make({ ...options, credentials })
        yield* Effect.forkScoped(
          rotator.run((c) => server.setCredentials(c).pipe(Effect.catch((e) => Effect.logError(e.message))), credentials)
        )
        return server
      })
    )

  /**
   * `--disable-cert-rotation`: the pair mounted in `--cert-dir` (cert-manager, a Secret volume), re-read every
   * `pollIntervalMs` so that a renewed certificate is served without a restart.
   */
  static readonly layerFromCertDir = (
    options: Omit<WebhookServerOptions, "credentials">,
    certDir: string,
    pollIntervalMs = 60_000
  ): Layer.Layer<WebhookServer, WebhookServerError | CertificateError> =>
    Layer.effect(
      WebhookServer,
      Effect.gen(function*() {
        let current = yield* readCertDir(certDir)
        const server = yield* make({ ...options, credentials: current })
        const poll = readCertDir(certDir).pipe(
          Effect.flatMap((c) =>
            c.cert === current.cert && c.key === current.key
              ? Effect.void
              : server.setCredentials(c).pipe(Effect.tap(() => Effect.sync(() => {
                current = c
              })))
          ),
          Effect.catch((e) => Effect.logError(e.message))
        )
        yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep(pollIntervalMs), poll)))
        return server
      })
    )
}

/** controller-runtime's webhook metrics, which MetalLB's controller exposes: requests by path and HTTP code. */
export const requestsTotal = Metric.counter("controller_runtime_webhook_requests_total", {
  description: "Total number of admission requests by HTTP status code."
})
export const requestsInFlight = Metric.gauge("controller_runtime_webhook_requests_in_flight", {
  description: "Current number of admission requests being served."
})

const routeByPath: ReadonlyMap<string, Route> = new Map(routes.map((r) => [r.path, r]))

const listError = (list: Admission.ListName, e: Error): string => `failed to get existing ${list} objects: ${e.message}`

/** Decides one AdmissionReview body for a route: always an AdmissionReview, denials included. */
export const decide = (
  route: Route,
  body: unknown,
  readList: WebhookServerOptions["readList"],
  namespace: string
): Effect.Effect<Admission.AdmissionReview> =>
  Effect.gen(function*() {
    const decoded = Admission.decodeRequest(body)
    if (Result.isFailure(decoded)) {
      const request = typeof body === "object" && body !== null ? (body as { request?: { uid?: unknown } }).request : undefined
      return Admission.toReview(Admission.fail(typeof request?.uid === "string" ? request.uid : "", 400, decoded.failure))
    }
    const request = decoded.success
    if (request.kind.kind !== route.kind) {
      return Admission.toReview(Admission.fail(request.uid, 400, `${route.path} validates ${route.kind}, got ${request.kind.kind}`))
    }
    const lists = Admission.listsNeeded(request)
    const read = yield* Effect.forEach(
      lists,
      (list) => Effect.map(Effect.mapError(readList(list), (e) => listError(list, e)), (items) => [list, items] as const),
      { concurrency: "unbounded" }
    ).pipe(Effect.result)
    if (Result.isFailure(read)) return Admission.toReview(Admission.fail(request.uid, 500, read.failure))
    const response = Admission.admit(request, Object.fromEntries(read.success), { namespace })
    const name = (request.name ?? "") || String((request.object as { metadata?: { name?: unknown } } | null)?.metadata?.name ?? "")
    const log = Effect.annotateLogs({
      webhook: route.kind,
      action: request.operation.toLowerCase(),
      name,
      namespace: request.namespace ?? ""
    })
    if (response.allowed) yield* log(Effect.logDebug("admission allowed"))
    else yield* log(Effect.logInfo("admission denied").pipe(Effect.annotateLogs({ error: response.status?.message ?? "" })))
    return Admission.toReview(response)
  })

class TooLarge {
  readonly _tag = "TooLarge"
}

const readBody = (req: Http.IncomingMessage, limit: number): Promise<Buffer | TooLarge> =>
  new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? "0")
    if (declared > limit) {
      resolve(new TooLarge())
      return
    }
    const chunks: Array<Buffer> = []
    let size = 0
    req.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        resolve(new TooLarge())
        req.removeAllListeners("data")
        req.resume()
        return
      }
      chunks.push(chunk)
    })
    req.on("end", () => resolve(Buffer.concat(chunks)))
    req.on("error", reject)
  })

const reply = (res: Http.ServerResponse, status: number, body: unknown): void => {
  if (res.headersSent) return
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
  res.end(text)
}

const error = (res: Http.ServerResponse, status: number, message: string) => reply(res, status, { error: message })

const make = Effect.fnUntraced(function*(options: WebhookServerOptions) {
  const context = yield* Effect.context<never>()
  const run = <A>(effect: Effect.Effect<A>): Promise<A> => Effect.runPromiseWith(context)(effect)
  const minVersion = options.tlsMinVersion ?? "TLSv1.3"
  const maxBody = options.maxBodyBytes ?? DefaultMaxBodyBytes
  const decisionTimeout = options.decisionTimeoutMs ?? DefaultDecisionTimeoutMs

  const handle = async (req: Http.IncomingMessage, res: Http.ServerResponse): Promise<void> => {
    const path = (req.url ?? "/").split("?")[0] ?? "/"
    const route = routeByPath.get(path)
    if (route === undefined && path !== ConvertPath) return error(res, 404, `no webhook at ${path}`)
    if (req.method !== "POST") {
      res.setHeader("allow", "POST")
      return error(res, 405, `${req.method ?? ""} not allowed: POST an AdmissionReview or ConversionReview`)
    }
    const type = req.headers["content-type"] ?? ""
    if (!type.startsWith("application/json")) return error(res, 415, `content-type ${type || "(none)"}: expected application/json`)
    const raw = await readBody(req, maxBody)
    if (raw instanceof TooLarge) {
      res.setHeader("connection", "close")
      return error(res, 413, `request body larger than ${maxBody} bytes`)
    }
    let body: unknown
    try {
      body = JSON.parse(raw.toString("utf8"))
    } catch (e) {
      return error(res, 400, `request body is not JSON: ${e instanceof Error ? e.message : String(e)}`)
    }
    if (route === undefined) return reply(res, 200, Conversion.review(body))
    const uid = (body as { request?: { uid?: unknown } } | null)?.request?.uid
    const review = await run(
      decide(route, body, options.readList, options.namespace).pipe(
        Effect.timeoutOrElse({
          duration: decisionTimeout,
          orElse: () =>
            Effect.succeed(Admission.toReview(
              Admission.fail(typeof uid === "string" ? uid : "", 500, `no decision within ${decisionTimeout} ms: reading the existing objects timed out`)
            ))
        })
      )
    )
    return reply(res, 200, review)
  }

  const server = yield* Effect.acquireRelease(
    Effect.callback<Https.Server, WebhookServerError>((resume) => {
      let s: Https.Server
      try {
        s = Https.createServer({ cert: options.credentials.cert, key: options.credentials.key, minVersion }, (req, res) => {
          const webhook = (req.url ?? "/").split("?")[0] ?? "/"
          const known = webhook === ConvertPath || routeByPath.has(webhook)
          if (known) void run(Metric.modify(Metric.withAttributes(requestsInFlight, { webhook }), 1))
          res.once("close", () => {
            if (!known) return
            void run(Effect.andThen(
              Metric.modify(Metric.withAttributes(requestsInFlight, { webhook }), -1),
              Metrics.update(requestsTotal, { webhook, code: String(res.statusCode) }, 1)
            ))
          })
          handle(req, res).catch((e: unknown) => error(res, 500, `internal error: ${String(e)}`))
        })
      } catch (e) {
        resume(Effect.fail(new WebhookServerError({ message: `invalid webhook certificate: ${String(e)}` })))
        return
      }
      s.requestTimeout = options.requestTimeoutMs ?? DefaultRequestTimeoutMs
      s.headersTimeout = Math.min(s.requestTimeout, 10_000)
      s.once("error", (e) =>
        resume(Effect.fail(new WebhookServerError({ message: `cannot listen on ${options.host ?? "*"}:${options.port ?? DefaultPort}: ${e.message}` }))))
      s.listen(options.port ?? DefaultPort, options.host, () => resume(Effect.succeed(s)))
    }),
    (s) =>
      Effect.callback<void>((resume) => {
        s.close(() => resume(Effect.void))
        s.closeAllConnections()
      })
  )
  const port = (server.address() as AddressInfo).port
  const host = options.host === undefined ? "localhost" : options.host.includes(":") ? `[${options.host}]` : options.host
  return WebhookServer.of({
    port,
    url: `https://${host}:${port}`,
    setCredentials: (credentials) =>
      Effect.try({
        try: () => server.setSecureContext({ cert: credentials.cert, key: credentials.key, minVersion }),
        catch: (e) => new WebhookServerError({ message: `cannot use the new webhook certificate: ${String(e)}` })
      })
  })
})
