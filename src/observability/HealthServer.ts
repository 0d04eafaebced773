/**
 * The HTTP endpoint of both programs: `/metrics` (Prometheus text), `/healthz` (the process serves requests) and
 * `/readyz` (the program's own readiness check: e.g. the controller has done its first full pass).
 *
 * Plain `node:http` keeps the footprint small; the server is a scoped resource closed on shutdown, idle keep-alive
 * sockets included.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import type * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { http } from "../platform/NodeHttp.ts"
import * as Metrics from "./Metrics.ts"

export class HealthServerError extends Schema.TaggedError<HealthServerError>()("HealthServerError", {
  message: Schema.String
}) {}

export interface HealthServerOptions {
  readonly host: string
  /** 0 picks a free port (tests). */
  readonly port: number
  /** Readiness: `undefined` when ready, else the reason shown by `/readyz`. */
  readonly ready?: Effect.Effect<string | undefined>
}

export class HealthServer extends Context.Service<HealthServer, {
  readonly port: number
  readonly url: string
}>()("metallb/observability/HealthServer") {
  static readonly layer = (options: HealthServerOptions): Layer.Layer<HealthServer, HealthServerError> =>
    Layer.effect(HealthServer, make(options))
}

const make = Effect.fnUntraced(function*(options: HealthServerOptions) {
  const context = yield* Effect.context<never>()
  const run = <A>(effect: Effect.Effect<A>): Promise<A> => Effect.runPromiseWith(context)(effect)
  const ready = options.ready ?? Effect.succeed(undefined)

  const handler = (req: Http.IncomingMessage, res: Http.ServerResponse): void => {
    const path = (req.url ?? "/").split("?")[0]
    const reply = (status: number, body: string, type = "text/plain; charset=utf-8") => {
      res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) })
      res.end(body)
    }
    if (req.method !== "GET" && req.method !== "HEAD") return reply(405, "method not allowed\n")
    switch (path) {
      case "/metrics":
        run(Metrics.exposition).then(
          (text) => reply(200, text, "text/plain; version=0.0.4; charset=utf-8"),
          (e: unknown) => reply(500, `${String(e)}\n`)
        )
        return
      case "/healthz":
      case "/livez":
        return reply(200, "ok\n")
      case "/readyz":
        run(ready).then(
          (reason) => (reason === undefined ? reply(200, "ok\n") : reply(503, `not ready: ${reason}\n`)),
          (e: unknown) => reply(500, `${String(e)}\n`)
        )
        return
      default:
        return reply(404, "not found\n")
    }
  }

  const server = yield* Effect.acquireRelease(
    Effect.callback<Http.Server, HealthServerError>((resume) => {
      const s = http.createServer(handler)
      s.once("error", (e) =>
        resume(Effect.fail(new HealthServerError({ message: `cannot listen on ${options.host}:${options.port}: ${e.message}` }))))
      s.listen(options.port, options.host, () => resume(Effect.succeed(s)))
    }),
    (s) =>
      Effect.callback<void>((resume) => {
        s.close(() => resume(Effect.void))
        s.closeAllConnections()
      })
  )
  const port = (server.address() as AddressInfo).port
  const host = options.host.includes(":") ? `[${options.host}]` : options.host
  return HealthServer.of({ port, url: `http://${host}:${port}` })
})
