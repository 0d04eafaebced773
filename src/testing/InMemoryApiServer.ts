/**
 * The in-memory Kubernetes API server as an Effect service: `InMemoryApiServer.layer({ port?, stateFile? })`
 * starts it on 127.0.0.1 for the layer's lifetime and stops it (saving the state file) when the scope closes.
 *
 * Non-Effect users call `startApiServer()` from "./apiserver/Server.ts" directly.
 */
import { Context, Effect, Layer, Schema } from "effect"
import type { JsonObject } from "./apiserver/Json.ts"
import {
  type ApiServer,
  type ApiServerOptions,
  type PauseMode,
  type RequestRecord,
  startApiServer
} from "./apiserver/Server.ts"
import { ApiError } from "./apiserver/Errors.ts"

export type { ApiServer, ApiServerOptions, PauseMode, RequestRecord } from "./apiserver/Server.ts"
export { startApiServer } from "./apiserver/Server.ts"

/** Starting the server failed (port taken, unreadable state file, …). */
export class ApiServerStartError extends Schema.TaggedError<ApiServerStartError>()("ApiServerStartError", {
  message: Schema.String
}) {}

/** A direct store operation was rejected, with the Status the HTTP API would have returned. */
export class ApiServerRejected extends Schema.TaggedError<ApiServerRejected>()("ApiServerRejected", {
  code: Schema.Number,
  reason: Schema.String,
  message: Schema.String
}) {}

const attempt = <A>(f: () => A): Effect.Effect<A, ApiServerRejected> =>
  Effect.try({
    try: f,
    catch: (e) =>
      e instanceof ApiError
        ? new ApiServerRejected({ code: e.code, reason: e.reason, message: e.message })
        : new ApiServerRejected({ code: 500, reason: "InternalError", message: String(e) })
  })

export interface InMemoryApiServerShape {
  readonly url: string
  readonly kubeconfigPath: string
  readonly kubeconfig: string
  /** The underlying Promise-based handle. */
  readonly server: ApiServer
  readonly get: (apiVersion: string, kind: string, namespace: string, name: string) => Effect.Effect<JsonObject | undefined, ApiServerRejected>
  readonly list: (apiVersion: string, kind: string, namespace?: string) => Effect.Effect<ReadonlyArray<JsonObject>, ApiServerRejected>
  readonly upsert: (object: JsonObject) => Effect.Effect<JsonObject, ApiServerRejected>
  readonly remove: (apiVersion: string, kind: string, namespace: string, name: string) => Effect.Effect<boolean, ApiServerRejected>
  /** Upserts every document of a YAML/JSON manifest (CRDs first). */
  readonly applyManifest: (text: string, defaultNamespace?: string) => Effect.Effect<ReadonlyArray<JsonObject>, ApiServerRejected>
  /** Writes another kubeconfig with its own bearer token; returns its path. */
  readonly kubeconfigWithToken: (token: string) => Effect.Effect<string>
  readonly faults: {
    readonly dropWatches: (options?: { readonly graceful?: boolean }) => Effect.Effect<number>
    readonly compactHistory: Effect.Effect<void>
    readonly pause: (mode?: PauseMode) => Effect.Effect<void>
    readonly resume: Effect.Effect<void>
  }
  readonly requestLog: Effect.Effect<ReadonlyArray<RequestRecord>>
  readonly clearRequestLog: Effect.Effect<void>
}

/** An in-memory Kubernetes API server on 127.0.0.1 for the layer's lifetime (see docs/testing.md). */
export class InMemoryApiServer extends Context.Service<InMemoryApiServer, InMemoryApiServerShape>()(
  "mlb/testing/InMemoryApiServer"
) {
  /** starts the server (a free port unless `options.port`) and stops it when the scope closes */
  static readonly layer = (options: ApiServerOptions = {}): Layer.Layer<InMemoryApiServer, ApiServerStartError> =>
    Layer.effect(
      InMemoryApiServer,
      Effect.gen(function* () {
        const server = yield* Effect.acquireRelease(
          Effect.tryPromise({
            try: () => startApiServer(options),
            catch: (e) => new ApiServerStartError({ message: `in-memory API server did not start: ${String(e)}` })
          }),
          (s) => Effect.promise(() => s.stop())
        )
        const o = server.objects
        return InMemoryApiServer.of({
          url: server.url,
          kubeconfigPath: server.kubeconfigPath,
          kubeconfig: server.kubeconfig,
          server,
          get: (apiVersion, kind, namespace, name) => attempt(() => o.get(apiVersion, kind, namespace, name)),
          list: (apiVersion, kind, namespace) => attempt(() => o.list(apiVersion, kind, namespace)),
          upsert: (object) => attempt(() => o.upsert(object)),
          remove: (apiVersion, kind, namespace, name) => attempt(() => o.delete(apiVersion, kind, namespace, name)),
          applyManifest: (text, defaultNamespace) => attempt(() => o.applyManifest(text, defaultNamespace)),
          kubeconfigWithToken: (token) => Effect.promise(() => server.kubeconfigWithToken(token)),
          faults: {
            dropWatches: (opts) => Effect.sync(() => server.faults.dropWatches(opts)),
            compactHistory: Effect.sync(() => server.faults.compactHistory()),
            pause: (mode) => Effect.promise(() => server.faults.pause(mode)),
            resume: Effect.promise(() => server.faults.resume())
          },
          requestLog: Effect.sync(() => server.requests()),
          clearRequestLog: Effect.sync(() => server.clearRequests())
        })
      })
    )
}
