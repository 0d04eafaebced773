// Types only: client-node is loaded (by ClientNodeTransport, at its first request) only for kubeconfigs that need
// it, since importing it costs ~60 MiB RSS (docs/design/footprint.md).
import type * as k8s from "@kubernetes/client-node"
import { Context, Duration, Effect, Layer, Option, Predicate, Queue, Result, Schedule, Schema, Stream } from "effect"
import * as ClientNodeTransport from "./ClientNodeTransport.ts"
import * as KubeCredentials from "./KubeCredentials.ts"
import { fromResponse, fromTransport, isRetryable, KubeError } from "./KubeError.ts"
import * as KubeTransport from "./KubeTransport.ts"
import * as MergePatch from "./MergePatch.ts"
import {
  collectionPath,
  isKubeObject,
  type KubeObject,
  type ListOptions,
  objectPath,
  type Resource,
  stripUnread
} from "./Resource.ts"

/** RFC 6902 operation. */
export interface JsonPatchOp {
  readonly op: "add" | "remove" | "replace" | "move" | "copy" | "test"
  readonly path: string
  readonly value?: unknown
  readonly from?: string
}

/** A merge patch (RFC 7386, `application/merge-patch+json`) or a JSON patch (RFC 6902). */
export type Patch =
  | { readonly _tag: "Merge"; readonly body: object }
  | { readonly _tag: "Json"; readonly ops: ReadonlyArray<JsonPatchOp> }

export const mergePatch = (body: object): Patch => ({ _tag: "Merge", body })
export const jsonPatch = (ops: ReadonlyArray<JsonPatchOp>): Patch => ({ _tag: "Json", ops })

export interface ObjectList<T> {
  readonly items: ReadonlyArray<T>
  /** the collection's resourceVersion: start a watch from here */
  readonly resourceVersion: string
}

/** One watch notification. `ERROR` events end the stream with a `KubeError` instead (410 → `Gone`). */
export type WatchEvent<T> =
  | { readonly type: "ADDED" | "MODIFIED" | "DELETED"; readonly object: T }
  | { readonly type: "BOOKMARK"; readonly resourceVersion: string }

export interface WatchOptions extends ListOptions {
  readonly resourceVersion?: string | undefined
  /** ask the server to end the watch after this long (the caller resumes); default 5 min */
  readonly timeoutSeconds?: number | undefined
}

/** A pure update: return the same reference to mean "nothing to write". */
export type Update<T> = (current: T) => T

export interface UpdateOptions {
  /**
   * `replace` (default) PUTs the whole object; `merge-patch` sends only what `f` changed, with the read
   * resourceVersion as precondition. Both fail with 409 on a concurrent write, and both then re-read and re-apply.
   */
  readonly via?: "replace" | "merge-patch" | undefined
}

export type PatchOperation = <T extends KubeObject>(
  r: Resource<T>,
  name: string,
  namespace: string | undefined,
  patch: Patch
) => Effect.Effect<T, KubeError>

export type UpdateOperation = <T extends KubeObject>(
  r: Resource<T>,
  name: string,
  namespace: string | undefined,
  f: Update<T>,
  options?: UpdateOptions
) => Effect.Effect<T, KubeError>

export interface KubeClientShape {
  readonly get: <T extends KubeObject>(r: Resource<T>, name: string, namespace?: string) => Effect.Effect<T, KubeError>
  /** every page, with the resourceVersion of the collection */
  readonly list: <T extends KubeObject>(r: Resource<T>, options?: ListOptions) => Effect.Effect<ObjectList<T>, KubeError>
  readonly create: <T extends KubeObject>(r: Resource<T>, object: T) => Effect.Effect<T, KubeError>
  /** PUT; fails with `Conflict` when `metadata.resourceVersion` is stale */
  readonly replace: <T extends KubeObject>(r: Resource<T>, object: T) => Effect.Effect<T, KubeError>
  readonly replaceStatus: <T extends KubeObject>(r: Resource<T>, object: T) => Effect.Effect<T, KubeError>
  readonly patch: PatchOperation
  readonly patchStatus: PatchOperation
  /** read, apply `f`, write; on 409 re-read and re-apply `f` (bounded) */
  readonly update: UpdateOperation
  /** `update` through the status subresource */
  readonly updateStatus: UpdateOperation
  /** succeeds when the object is already gone */
  readonly delete: <T extends KubeObject>(r: Resource<T>, name: string, namespace?: string) => Effect.Effect<void, KubeError>
  /** create; if it exists, merge-patch it with `object` (metadata.resourceVersion dropped) */
  readonly createOrPatch: <T extends KubeObject>(r: Resource<T>, object: T) => Effect.Effect<T, KubeError>
  /** one watch connection; ends when the server closes it. `Watch.ts` builds list+watch with resume on top. */
  readonly watch: <T extends KubeObject>(r: Resource<T>, options?: WatchOptions) => Stream.Stream<WatchEvent<T>, KubeError>
}

/** Transient-failure retry: exponential from 100 ms, capped at 5 s, jittered, 6 retries, only `Unavailable`. */
export const apiRetry = Schedule.min([Schedule.exponential("100 millis"), Schedule.spaced("5 seconds")]).pipe(
  Schedule.jittered,
  Schedule.upTo({ times: 6 })
)

/** Attempts of a conflict-retrying update before the 409 is returned to the caller. */
export const conflictAttempts = 8

const requestTimeout = Duration.seconds(30)
// Lists come in pages of 100 (client-go asks for 500): a page of real Services with managedFields is ~0.4 MB of
// JSON, and the controller with 10,000 of them settled ~25 MiB lower than with 500 (docs/design/footprint.md).
const pageSize = 100

type Method = KubeTransport.Method

const query = (params: Readonly<Record<string, string | number | boolean | undefined>>): string => {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined) search.set(key, String(value))
  }
  const s = search.toString()
  return s === "" ? "" : `?${s}`
}

const withoutResourceVersion = <T extends KubeObject>(object: T): T => {
  const { resourceVersion: _, ...metadata } = object.metadata
  return { ...object, metadata }
}

const ListEnvelope = (u: unknown): { items: ReadonlyArray<unknown>; resourceVersion: string; continue: string } | undefined => {
  if (!Predicate.isObject(u) || !("items" in u) || !Array.isArray(u.items)) return undefined
  const metadata = "metadata" in u && Predicate.isObject(u.metadata) ? u.metadata : {}
  const rv = "resourceVersion" in metadata && Predicate.isString(metadata.resourceVersion) ? metadata.resourceVersion : ""
  const cont = "continue" in metadata && Predicate.isString(metadata.continue) ? metadata.continue : ""
  return { items: u.items, resourceVersion: rv, continue: cont }
}

const expectObject = <T extends KubeObject>(label: string) => (u: unknown): Effect.Effect<T, KubeError> =>
  isKubeObject(u)
    ? Effect.succeed(u as T)
    : Effect.fail(new KubeError({ reason: "Other", request: label, message: "response is not a Kubernetes object (metadata.name missing)" }))

const noAnswer = (label: string) => () => Effect.fail(fromTransport(label, `no answer within ${Duration.format(requestTimeout)}`))

const nsOf = (object: KubeObject) => object.metadata.namespace

/** The client on top of a loaded client-node `KubeConfig`: requests are signed and sent by client-node. */
export const make = (config: k8s.KubeConfig): KubeClientShape => makeWith(ClientNodeTransport.make(config))

/** The client over any transport. */
export const makeWith = (transport: KubeTransport.KubeTransport): KubeClientShape => {
  const open = (method: Method, path: string, signal: AbortSignal, body?: unknown, contentType?: string) =>
    transport.open(method, path, signal, body === undefined ? undefined : JSON.stringify(body), contentType)

  const send = (method: Method, path: string, body?: unknown, contentType?: string) => {
    const label = `${method} ${path}`
    return Effect.tryPromise({
      try: async (signal) => {
        const response = await open(method, path, signal, body, contentType)
        return { status: response.status, text: await response.text() }
      },
      catch: (cause) => fromTransport(label, cause)
    }).pipe(
      Effect.timeoutOrElse({ duration: requestTimeout, orElse: noAnswer(label) }),
      Effect.flatMap(({ status, text }) => {
        if (status < 200 || status >= 300) return Effect.fail(fromResponse(label, status, text))
        if (method === "DELETE" || text === "") return Effect.succeed<unknown>(undefined)
        return Effect.try({
          try: (): unknown => JSON.parse(text),
          catch: (cause) => new KubeError({ reason: "Other", request: label, status, message: "response is not JSON", cause })
        })
      }),
      Effect.retry({ schedule: apiRetry, while: isRetryable })
    )
  }

  const get = <T extends KubeObject>(r: Resource<T>, name: string, namespace?: string) => {
    const path = objectPath(r, name, namespace)
    return send("GET", path).pipe(Effect.flatMap(expectObject<T>(`GET ${path}`)))
  }

  const list = <T extends KubeObject>(r: Resource<T>, options: ListOptions = {}) =>
    Effect.gen(function*() {
      const items: Array<T> = []
      let resourceVersion = ""
      let token: string | undefined
      do {
        const path = collectionPath(r, options.namespace) +
          query({
            labelSelector: options.labelSelector,
            fieldSelector: options.fieldSelector,
            limit: pageSize,
            continue: token
          })
        const body = yield* send("GET", path)
        const page = ListEnvelope(body)
        if (page === undefined) {
          return yield* new KubeError({ reason: "Other", request: `GET ${path}`, message: "response is not a list" })
        }
        for (const item of page.items) {
          if (!isKubeObject(item)) {
            return yield* new KubeError({ reason: "Other", request: `GET ${path}`, message: "list item without metadata.name" })
          }
          // Stripped page by page: a list of 10,000 real Services does not hold all their managedFields at once.
          items.push(stripUnread(item as T))
        }
        // The first page's resourceVersion is the snapshot the continuation pages belong to.
        if (token === undefined) resourceVersion = page.resourceVersion
        token = page.continue === "" ? undefined : page.continue
      } while (token !== undefined)
      return { items, resourceVersion }
    })

  const write = <T extends KubeObject>(method: "POST" | "PUT", path: string, object: T) =>
    send(method, path, object).pipe(Effect.flatMap(expectObject<T>(`${method} ${path}`)))

  const create = <T extends KubeObject>(r: Resource<T>, object: T) =>
    write("POST", collectionPath(r, nsOf(object)), object)

  const replace = <T extends KubeObject>(r: Resource<T>, object: T) =>
    write("PUT", objectPath(r, object.metadata.name, nsOf(object)), object)

  const replaceStatus = <T extends KubeObject>(r: Resource<T>, object: T) =>
    write("PUT", objectPath(r, object.metadata.name, nsOf(object), "status"), object)

  const patchAt = <T extends KubeObject>(path: string, patch: Patch) =>
    (patch._tag === "Merge"
      ? send("PATCH", path, patch.body, "application/merge-patch+json")
      : send("PATCH", path, patch.ops, "application/json-patch+json")).pipe(
        Effect.flatMap(expectObject<T>(`PATCH ${path}`))
      )

  const patch = <T extends KubeObject>(r: Resource<T>, name: string, namespace: string | undefined, p: Patch) =>
    patchAt<T>(objectPath(r, name, namespace), p)

  const patchStatus = <T extends KubeObject>(r: Resource<T>, name: string, namespace: string | undefined, p: Patch) =>
    patchAt<T>(objectPath(r, name, namespace, "status"), p)

  // Re-read and re-apply on 409: the update function is pure, so applying it to the fresh object is always right.
  const conflictRetry = <T extends KubeObject>(
    r: Resource<T>,
    name: string,
    namespace: string | undefined,
    f: Update<T>,
    subresource: "status" | undefined,
    options: UpdateOptions
  ) =>
    Effect.gen(function*() {
      const current = yield* get(r, name, namespace)
      const next = f(current)
      if (next === current) return current
      const resourceVersion = current.metadata.resourceVersion
      if (options.via === "merge-patch") {
        const changes = MergePatch.diff(current, next)
        if (MergePatch.isEmpty(changes)) return current
        const metadata = { ...(Predicate.isObject(changes["metadata"]) ? changes["metadata"] : {}), resourceVersion }
        return yield* patchAt<T>(objectPath(r, name, namespace, subresource), mergePatch({ ...changes, metadata }))
      }
      const object = { ...next, metadata: { ...next.metadata, resourceVersion } }
      return yield* write("PUT", objectPath(r, name, namespace, subresource), object)
    }).pipe(
      Effect.retry({
        schedule: Schedule.exponential("20 millis").pipe(Schedule.jittered, Schedule.upTo({ times: conflictAttempts - 1 })),
        while: (e) => e.reason === "Conflict"
      })
    )

  const update = <T extends KubeObject>(r: Resource<T>, name: string, namespace: string | undefined, f: Update<T>, options: UpdateOptions = {}) =>
    conflictRetry(r, name, namespace, f, undefined, options)

  const updateStatus = <T extends KubeObject>(r: Resource<T>, name: string, namespace: string | undefined, f: Update<T>, options: UpdateOptions = {}) =>
    conflictRetry(r, name, namespace, f, "status", options)

  const del = <T extends KubeObject>(r: Resource<T>, name: string, namespace?: string) =>
    send("DELETE", objectPath(r, name, namespace)).pipe(
      Effect.asVoid,
      Effect.catchIf((e) => e.reason === "NotFound", () => Effect.void)
    )

  const createOrPatch = <T extends KubeObject>(r: Resource<T>, object: T) =>
    create(r, object).pipe(
      Effect.catchIf(
        (e) => e.reason === "Conflict",
        () => patch<T>(r, object.metadata.name, nsOf(object), mergePatch(withoutResourceVersion(object)))
      )
    )

  // A watch is one long GET streaming newline-delimited JSON. Read here rather than through client-node's Watch
  // class so that closing the stream aborts the request at any point, connecting included, and a non-200 answer
  // keeps its Status body (410 → Gone).
  const watch = <T extends KubeObject>(r: Resource<T>, options: WatchOptions = {}): Stream.Stream<WatchEvent<T>, KubeError> => {
    const timeoutSeconds = options.timeoutSeconds ?? 300
    const path = collectionPath(r, options.namespace) + query({
      watch: true,
      allowWatchBookmarks: true,
      timeoutSeconds,
      resourceVersion: options.resourceVersion === "" ? undefined : options.resourceVersion,
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector
    })
    const label = `WATCH ${path}`
    // Silence longer than the server's own timeout means a dead connection nobody closed.
    const idle = Duration.seconds(timeoutSeconds + 30)
    return Stream.callback<WatchEvent<T>, KubeError>((queue) =>
      Effect.gen(function*() {
        const controller = new AbortController()
        yield* Effect.addFinalizer(() => Effect.sync(() => controller.abort()))
        const response = yield* Effect.tryPromise({
          try: () => open("GET", path, controller.signal),
          catch: (cause) => fromTransport(label, cause)
        }).pipe(Effect.timeoutOrElse({ duration: requestTimeout, orElse: noAnswer(label) }))
        if (response.status !== 200) {
          const text = yield* Effect.promise(() => response.text().catch(() => ""))
          return yield* fromResponse(label, response.status, text)
        }
        const body = response.stream()
        if (body === null) return yield* Queue.end(queue)
        const reader = body.getReader()
        const decoder = new TextDecoder()
        let buffered = ""
        while (true) {
          const chunk = yield* Effect.tryPromise({
            try: () => reader.read(),
            catch: (cause) => fromTransport(label, cause)
          }).pipe(Effect.timeoutOrElse({ duration: idle, orElse: () => Effect.fail(fromTransport(label, "watch went silent")) }))
          if (chunk.done) break
          buffered += decoder.decode(chunk.value, { stream: true })
          let newline = buffered.indexOf("\n")
          while (newline >= 0) {
            const line = buffered.slice(0, newline).trim()
            buffered = buffered.slice(newline + 1)
            newline = buffered.indexOf("\n")
            if (line === "") continue
            const event = parseWatchLine<T>(label, line)
            if (event instanceof KubeError) return yield* event
            if (event !== undefined) yield* Queue.offer(queue, event)
          }
        }
        yield* Queue.end(queue)
      })
    )
  }

  return { get, list, create, replace, replaceStatus, patch, patchStatus, update, updateStatus, delete: del, createOrPatch, watch }
}

const WatchLine = Schema.Struct({ type: Schema.String, object: Schema.Unknown })
const decodeWatchLine = Schema.decodeUnknownOption(Schema.fromJsonString(WatchLine))

const parseWatchLine = <T extends KubeObject>(label: string, line: string): WatchEvent<T> | KubeError | undefined => {
  const decoded = decodeWatchLine(line)
  return Option.isSome(decoded)
    ? decodeWatchEvent<T>(label, decoded.value.type, decoded.value.object)
    : new KubeError({ reason: "Other", request: label, message: `undecodable watch line: ${line.slice(0, 120)}` })
}

/** One line of a watch: objects are checked, `ERROR` becomes a `KubeError`, unknown types are skipped. */
export const decodeWatchEvent = <T extends KubeObject>(
  label: string,
  type: string,
  object: unknown
): WatchEvent<T> | KubeError | undefined => {
  switch (type) {
    case "ADDED":
    case "MODIFIED":
    case "DELETED":
      return isKubeObject(object)
        ? { type, object: object as T }
        : new KubeError({ reason: "Other", request: label, message: `${type} event without an object` })
    case "BOOKMARK": {
      const metadata = Predicate.isObject(object) && "metadata" in object && Predicate.isObject(object.metadata)
        ? object.metadata
        : undefined
      const rv = metadata !== undefined && "resourceVersion" in metadata && Predicate.isString(metadata.resourceVersion)
        ? metadata.resourceVersion
        : undefined
      return rv === undefined ? undefined : { type: "BOOKMARK", resourceVersion: rv }
    }
    case "ERROR": {
      const code = Predicate.isObject(object) && "code" in object && Predicate.isNumber(object.code) ? object.code : 500
      return fromResponse(label, code, JSON.stringify(object ?? {}))
    }
    default:
      return undefined
  }
}

const loadError = (request: string) => (cause: unknown) =>
  new KubeError({ reason: "Other", request, message: cause instanceof Error ? cause.message : String(cause), cause })

/**
 * A scoped client over a transport: idle connections are closed when the layer's scope ends. Takes the tag because
 * the class's static layers are built while the class is being defined.
 */
const layerTransport = (tag: typeof KubeClient, request: string, acquire: () => Promise<KubeTransport.KubeTransport>) =>
  Layer.effect(
    tag,
    Effect.acquireRelease(
      Effect.tryPromise({ try: acquire, catch: loadError(request) }),
      (t) => Effect.sync(() => t.close())
    ).pipe(Effect.map((t) => tag.of(makeWith(t))))
  )

const orThrow = <A, E>(r: Result.Result<A, E>, message: (e: E) => string): A => {
  if (Result.isFailure(r)) throw new Error(message(r.failure))
  return r.success
}

const inClusterTransport = () =>
  KubeTransport.make(orThrow(KubeCredentials.inCluster(), (why) => why))

const clientNodeFromFile = async (file: string | undefined) => ClientNodeTransport.make(await ClientNodeTransport.fromFile(file))

/** The lean transport for a kubeconfig file, or client-node's when the file uses what only client-node implements. */
const kubeconfigTransport = async (path: string | undefined): Promise<KubeTransport.KubeTransport> => {
  const located = KubeCredentials.defaultKubeconfigPath()
  const file = path ?? (Result.isSuccess(located) ? located.success : undefined)
  if (path === undefined && Result.isFailure(located)) return clientNodeFromFile(undefined)
  if (file === undefined) {
    return KubeTransport.make(orThrow(KubeCredentials.inCluster(), (why) => `no kubeconfig ($KUBECONFIG, ~/.kube/config) and not in a pod: ${why}`))
  }
  const loaded = orThrow(await KubeCredentials.fromKubeconfigFile(file), (why) => `${file}: ${why}`)
  return "_tag" in loaded ? clientNodeFromFile(file) : KubeTransport.make(loaded)
}

/** The Kubernetes API as an Effect service: typed CRUD, status, patches, conflict-retrying updates, watches. */
export class KubeClient extends Context.Service<KubeClient, KubeClientShape>()("mlb/k8s/KubeClient") {
  /** from a loaded client-node KubeConfig (every auth method client-node knows) */
  static readonly layerConfig = (config: k8s.KubeConfig) => Layer.succeed(KubeClient, KubeClient.of(make(config)))

  /**
   * from a kubeconfig file; without a path: $KUBECONFIG, ~/.kube/config, then in-cluster (client-node's order).
   * Token, client-certificate and CA kubeconfigs go through the lean transport; exec / auth-provider plugins,
   * proxies and merged $KUBECONFIG lists load client-node.
   */
  static readonly layerKubeconfig = (path?: string) =>
    layerTransport(KubeClient, `load kubeconfig ${path ?? "(default)"}`, () => kubeconfigTransport(path))

  /** the pod's service account (KUBERNETES_SERVICE_HOST/PORT, token and CA under /var/run/secrets) */
  static readonly layerInCluster = layerTransport(KubeClient, "load in-cluster config", async () => inClusterTransport())

  /** a bare server URL with a bearer token, e.g. the in-memory API server of tests */
  static readonly layerServer = (server: string, token = "test-token") =>
    layerTransport(KubeClient, `connect ${server}`, async () =>
      KubeTransport.make({ server: server.replace(/\/+$/, ""), token, insecureSkipTLSVerify: true }))
}
