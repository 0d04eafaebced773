/**
 * The HTTP side of the in-memory API server (node:http, no framework): routing of the Kubernetes REST paths,
 * content negotiation (JSON, Tables, aggregated discovery), watches, the request log, fault injection and the
 * optional state file. `startApiServer` is the plain Promise entry point; InMemoryApiServer.ts wraps it for Effect.
 */
import { randomUUID } from "node:crypto"
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises"
import type { IncomingMessage, Server, ServerResponse } from "node:http"
import type { Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Result } from "effect"
import { parseAllDocuments, stringify as toYaml } from "yaml"
import { Api, type PatchType, type Target, everything, parseBody, parseSelectors, patchTypes } from "./Api.ts"
import {
  aggregated,
  aggregatedContentType,
  aggregatedVersion,
  legacyCoreVersions,
  legacyGroup,
  legacyGroupList,
  legacyResourceList
} from "./Discovery.ts"
import { ApiError, badRequest, methodNotAllowed, pathNotFound, unsupportedMediaType } from "./Errors.ts"
import { type Json, type JsonObject, isObject, str } from "./Json.ts"
import { openApiV3GroupVersion, openApiV3Root } from "./OpenApi.ts"
import { decodeKubernetesProtobuf } from "./Protobuf.ts"
import { Registry, type ResourceType, groupVersion } from "./Registry.ts"
import { parseFieldSelector } from "./Selectors.ts"
import { http } from "../../platform/NodeHttp.ts"
import { Store, type StoreSnapshot, nameOf, namespaceOf } from "./Store.ts"
import { type IncludeObject, toTable } from "./Table.ts"
import { serveWatch } from "./Watch.ts"

export interface ApiServerOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  readonly port?: number
  readonly host?: string
  /** JSON file to load on start and save to (debounced) on every change and on stop. */
  readonly stateFile?: string
  /** How many change events watches can resume from; older resourceVersions get 410 Gone. Default 1000. */
  readonly historyLimit?: number
  /** Interval of BOOKMARK events on watches that allow them. Default 60 s. */
  readonly bookmarkIntervalMs?: number
  /** Debounce of state-file writes. Default 200 ms. */
  readonly saveDebounceMs?: number
}

export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete" | "deletecollection"

/** One resource request, as an RBAC authorizer would see it. */
export interface RequestRecord {
  readonly verb: Verb
  readonly group: string
  readonly version: string
  readonly resource: string
  readonly subresource: string
  readonly namespace: string
  readonly name: string
  /**
   * The bearer token the client sent ("" if none), to tell components apart when checking RBAC. client-node sends
   * its token over http too; kubectl sends none over http.
   */
  readonly token: string
  readonly userAgent: string
}

export type PauseMode = "hang" | "refuse"

export interface Faults {
  /**
   * Cuts every open watch and returns how many there were. By default the socket is destroyed, as on a network
   * failure; `graceful: true` ends the streams cleanly instead, as a server-side watch timeout does.
   */
  readonly dropWatches: (options?: { readonly graceful?: boolean }) => number
  /** Forgets the event history: resuming any earlier resourceVersion now gets 410 Gone. */
  readonly compactHistory: () => void
  /** "hang": requests are held unanswered until resume; "refuse": the port is closed and connections refused. */
  readonly pause: (mode?: PauseMode) => Promise<void>
  readonly resume: () => Promise<void>
}

/** Direct access to the stored objects for test setup and assertions (no HTTP, not in the request log). */
export interface ObjectAccess {
  readonly get: (apiVersion: string, kind: string, namespace: string, name: string) => JsonObject | undefined
  readonly list: (apiVersion: string, kind: string, namespace?: string) => ReadonlyArray<JsonObject>
  /** Creates or replaces the object (no resourceVersion check); a given `status` is written too. */
  readonly upsert: (object: JsonObject) => JsonObject
  readonly delete: (apiVersion: string, kind: string, namespace: string, name: string) => boolean
  /**
   * Upserts every document of a (multi-document) YAML or JSON manifest, CustomResourceDefinitions first so that
   * custom resources in the same text resolve. Documents without a namespace go to `defaultNamespace`.
   */
  readonly applyManifest: (text: string, defaultNamespace?: string) => ReadonlyArray<JsonObject>
  /** Current global resourceVersion. */
  readonly resourceVersion: () => number
}

export interface ApiServer {
  readonly url: string
  readonly port: number
  readonly kubeconfigPath: string
  /** The kubeconfig text (YAML) pointing at this server. */
  readonly kubeconfig: string
  /** Writes another kubeconfig with its own bearer token (one per component, told apart in `requests()`). */
  readonly kubeconfigWithToken: (token: string) => Promise<string>
  readonly objects: ObjectAccess
  readonly faults: Faults
  /** Every resource request so far, in order. */
  readonly requests: () => ReadonlyArray<RequestRecord>
  readonly clearRequests: () => void
  /** Closes the server, ends watches, saves the state file and removes the kubeconfig. */
  readonly stop: () => Promise<void>
}

/**
 * The name a list or watch is narrowed to by `fieldSelector=metadata.name=X`: Kubernetes' RequestInfo sets it as the
 * request's name, so an RBAC rule with `resourceNames` allows such a list or watch (and only such a one).
 */
const selectedName = (fieldSelector: string | null): string => {
  const parsed = parseFieldSelector(fieldSelector ?? "")
  if (Result.isFailure(parsed)) return ""
  return parsed.success.find((r) => r.field === "metadata.name" && r.op === "=")?.value ?? ""
}

const initialNamespaces = ["default", "kube-system", "kube-public", "kube-node-lease"]

const sendJson = (res: ServerResponse, code: number, body: Json, contentType = "application/json") => {
  const text = JSON.stringify(body)
  res.writeHead(code, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(text) })
  res.end(text)
}

const readBody = (req: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => resolve(Buffer.concat(chunks)))
    req.on("error", reject)
  })

/**
 * The request body as JSON text. kubectl's generator commands (`create namespace|configmap|secret`) send protobuf
 * with no JSON fallback; those few kinds are decoded (Protobuf.ts), anything else in protobuf is a 415.
 */
const bodyText = (req: IncomingMessage, raw: Buffer): string => {
  if (!(req.headers["content-type"] ?? "").includes("application/vnd.kubernetes.protobuf")) return raw.toString("utf8")
  const decoded = decodeKubernetesProtobuf(raw)
  if (Result.isFailure(decoded)) {
    const error = unsupportedMediaType(["application/json", "application/yaml"])
    throw new ApiError(415, error.reason, `${error.message} (${decoded.failure})`)
  }
  return JSON.stringify(decoded.success)
}

const tableInclude = (accept: string, url: URL): IncludeObject | undefined => {
  if (!accept.split(",").some((p) => p.includes("as=Table"))) return undefined
  const inc = url.searchParams.get("includeObject")
  return inc === "None" || inc === "Object" ? inc : "Metadata"
}

/** Reads a state file written by `save`, with an error naming the file and what is wrong. */
const parseSnapshot = (file: string, text: string): StoreSnapshot => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (e) {
    throw new Error(`state file ${file} is not valid JSON: ${String(e)}`, { cause: e })
  }
  const ok =
    isObject(parsed) &&
    typeof parsed["resourceVersion"] === "number" &&
    Array.isArray(parsed["objects"]) &&
    parsed["objects"].every((o) => isObject(o) && typeof o["group"] === "string" && typeof o["plural"] === "string" && isObject(o["object"]))
  if (!ok) throw new Error(`state file ${file}: expected {resourceVersion: number, objects: [{group, plural, object}]}`)
  return parsed as unknown as StoreSnapshot
}

const isCrd = (o: JsonObject): boolean => o["kind"] === "CustomResourceDefinition"

interface Route {
  readonly group: string
  readonly version: string
  readonly type: ResourceType
  readonly namespace: string
  readonly name: string
  readonly subresource: string
}

/**
 * `limit` / `continue` of a list, as clients page through big collections (client-go and our KubeClient ask for
 * 500 at a time). The token names the first page's resourceVersion and the last object served; a continuation
 * serves the current objects after it (in the store's namespace/name order) at that resourceVersion. A real server
 * serves them from the first page's snapshot; a watch from that resourceVersion delivers what changed since either way.
 */
export const paginate = (
  all: ReadonlyArray<JsonObject>,
  resourceVersion: string,
  limit: string | null,
  token: string | null
): { readonly items: ReadonlyArray<JsonObject>; readonly resourceVersion: string; readonly next: string | undefined } => {
  let from = 0
  let rv = resourceVersion
  if (token !== null && token !== "") {
    const decoded = Result.try(() => JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as unknown)
    const t = Result.isSuccess(decoded) && isObject(decoded.success) ? decoded.success : undefined
    const [tokenRv, ns, name] = [str(t?.["rv"]), str(t?.["ns"]), str(t?.["name"])]
    if (tokenRv === undefined || ns === undefined || name === undefined) throw badRequest(`invalid continue token ${JSON.stringify(token)}`)
    rv = tokenRv
    const after = all.findIndex((o) => (namespaceOf(o).localeCompare(ns) || nameOf(o).localeCompare(name)) > 0)
    from = after < 0 ? all.length : after
  }
  const n = limit === null ? Number.NaN : Number(limit)
  const size = Number.isInteger(n) && n > 0 ? n : all.length
  const items = all.slice(from, from + size)
  const last = items.at(-1)
  const next = from + size < all.length && last !== undefined
    ? Buffer.from(JSON.stringify({ rv, ns: namespaceOf(last), name: nameOf(last) })).toString("base64url")
    : undefined
  return { items, resourceVersion: rv, next }
}

class Running {
  readonly api: Api
  readonly options: ApiServerOptions
  readonly log: Array<RequestRecord> = []
  readonly watches = new Set<ServerResponse>()
  readonly sockets = new Set<Socket>()
  readonly server: Server
  port = 0
  paused: PauseMode | undefined
  private resumeWaiters: Array<() => void> = []
  private saveTimer: NodeJS.Timeout | undefined
  private saving: Promise<void> = Promise.resolve()
  /** The first failed state-file write; reported by stop(). */
  private saveError: unknown

  constructor(options: ApiServerOptions) {
    this.options = options
    this.api = new Api(new Store(options.historyLimit ?? 1000), new Registry(), { now: () => new Date() })
    this.server = http.createServer((req, res) => void this.handle(req, res))
    this.server.on("connection", (s: Socket) => {
      this.sockets.add(s)
      s.on("close", () => this.sockets.delete(s))
    })
  }

  async load(): Promise<void> {
    const file = this.options.stateFile
    if (file !== undefined) {
      const text = await readFile(file, "utf8").catch((e: NodeJS.ErrnoException) => {
        if (e.code === "ENOENT") return undefined
        throw e
      })
      if (text !== undefined) {
        this.api.store.restore(parseSnapshot(file, text))
        this.api.refreshRegistry()
      }
    }
    const nsType = this.api.registry.byResource("", "v1", "namespaces")
    for (const name of initialNamespaces) {
      if (nsType !== undefined && this.api.store.get("", "namespaces", "", name) === undefined) {
        this.api.create({ type: nsType, version: "v1", namespace: "", name: "", subresource: "" }, { metadata: { name } }, false)
      }
    }
    if (file !== undefined) {
      this.api.store.subscribe(() => this.scheduleSave())
      this.scheduleSave()
    }
  }

  private scheduleSave(): void {
    if (this.saveTimer !== undefined) return
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined
      this.saving = this.saving.then(() => this.save())
    }, this.options.saveDebounceMs ?? 200)
    this.saveTimer.unref()
  }

  async flush(): Promise<void> {
    if (this.saveTimer !== undefined) {
      clearTimeout(this.saveTimer)
      this.saveTimer = undefined
      this.saving = this.saving.then(() => this.save())
    }
    await this.saving
    if (this.saveError !== undefined) throw new Error(`could not write the state file: ${String(this.saveError)}`)
  }

  private async save(): Promise<void> {
    const file = this.options.stateFile
    if (file === undefined) return
    const tmp = `${file}.tmp`
    try {
      await writeFile(tmp, JSON.stringify(this.api.store.snapshot()))
      await rename(tmp, file)
    } catch (e) {
      this.saveError ??= e
    }
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject)
      this.server.listen(port, this.options.host ?? "127.0.0.1", () => {
        this.server.off("error", reject)
        const address = this.server.address()
        if (address !== null && typeof address === "object") this.port = address.port
        resolve()
      })
    })
  }

  close(): Promise<void> {
    for (const w of this.watches) w.destroy()
    for (const s of this.sockets) s.destroy()
    return new Promise((resolve) => (this.server.listening ? this.server.close(() => resolve()) : resolve()))
  }

  async pause(mode: PauseMode): Promise<void> {
    if (this.paused !== undefined) return
    this.paused = mode
    if (mode === "refuse") await this.close()
    // A hung server also stops feeding its open watches: their writes are held until resume.
    else for (const w of this.watches) w.cork()
  }

  async resume(): Promise<void> {
    const mode = this.paused
    if (mode === undefined) return
    if (mode === "refuse") await this.listen(this.port)
    else for (const w of this.watches) w.uncork()
    this.paused = undefined
    const waiters = this.resumeWaiters
    this.resumeWaiters = []
    for (const w of waiters) w()
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.paused === "hang") await new Promise<void>((resolve) => this.resumeWaiters.push(resolve))
    const url = new URL(req.url ?? "/", "http://localhost")
    try {
      const raw = req.method === "GET" || req.method === "HEAD" ? Buffer.alloc(0) : await readBody(req)
      this.route(req, res, url, bodyText(req, raw))
    } catch (e) {
      const error = e instanceof ApiError ? e : new ApiError(500, "InternalError", `Internal error occurred: ${String(e)}`)
      if (!res.headersSent) sendJson(res, error.code, error.toStatus())
      else res.end()
    }
  }

  private route(req: IncomingMessage, res: ServerResponse, url: URL, body: string): void {
    const path = url.pathname.replace(/\/+$/, "")
    const accept = req.headers.accept ?? ""
    const registry = this.api.registry
    switch (path) {
      case "/version":
        return sendJson(res, 200, {
          major: "1",
          minor: "32",
          gitVersion: "v1.32.0-metallb-ts-inmemory",
          gitCommit: "0000000000000000000000000000000000000000",
          gitTreeState: "clean",
          buildDate: "2026-01-01T00:00:00Z",
          goVersion: "go1.23",
          compiler: "gc",
          platform: "linux/amd64"
        })
      case "/healthz":
      case "/readyz":
      case "/livez":
        res.writeHead(200, { "Content-Type": "text/plain" })
        return void res.end("ok")
      case "/api":
      case "/apis": {
        const v = aggregatedVersion(accept)
        if (v !== undefined) return sendJson(res, 200, aggregated(registry, path === "/api", v), aggregatedContentType(v))
        return sendJson(res, 200, path === "/api" ? legacyCoreVersions(`127.0.0.1:${this.port}`) : legacyGroupList(registry))
      }
      case "/openapi/v2":
        // An empty body is a valid, empty protobuf Document (see OpenApi.ts).
        res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": 0 })
        return void res.end()
      case "/openapi/v3":
        return sendJson(res, 200, openApiV3Root(registry))
    }
    if (path.startsWith("/openapi/v3/")) {
      const rest = path.slice("/openapi/v3/".length).split("/")
      const doc =
        rest[0] === "api" && rest[1] === "v1" && rest.length === 2
          ? openApiV3GroupVersion(registry, "", "v1")
          : rest[0] === "apis" && rest.length === 3
            ? openApiV3GroupVersion(registry, rest[1] ?? "", rest[2] ?? "")
            : undefined
      if (doc === undefined) throw pathNotFound()
      return sendJson(res, 200, doc)
    }
    const segments = path
      .split("/")
      .slice(1)
      .map((segment) => {
        try {
          return decodeURIComponent(segment)
        } catch {
          throw badRequest(`malformed path segment "${segment}"`)
        }
      })
    let group: string
    let version: string
    let rest: ReadonlyArray<string>
    if (segments[0] === "api" && segments[1] === "v1") {
      group = ""
      version = "v1"
      rest = segments.slice(2)
    } else if (segments[0] === "apis" && segments.length >= 2) {
      group = segments[1] ?? ""
      if (segments.length === 2) {
        const g = legacyGroup(registry, group)
        if (g === undefined) throw pathNotFound()
        return sendJson(res, 200, g)
      }
      version = segments[2] ?? ""
      rest = segments.slice(3)
    } else throw pathNotFound()
    if (rest.length === 0) {
      const list = legacyResourceList(registry, group, version)
      if (list === undefined) throw pathNotFound()
      return sendJson(res, 200, list)
    }
    const route = this.resolve(group, version, rest)
    this.serve(req, res, url, body, route)
  }

  /** Splits `[namespaces/{ns}/]{resource}[/{name}[/{subresource}]]`, minding that namespaces are objects too. */
  private resolve(group: string, version: string, rest: ReadonlyArray<string>): Route {
    const registry = this.api.registry
    let namespace = ""
    let parts = rest
    if (rest[0] === "namespaces" && rest.length >= 3) {
      const candidate = registry.byResource(group, version, rest[2] ?? "")
      if (candidate !== undefined) {
        namespace = rest[1] ?? ""
        parts = rest.slice(2)
      }
    }
    const [resource = "", name = "", subresource = "", ...extra] = parts
    const type = registry.byResource(group, version, resource)
    if (type === undefined || extra.length > 0) throw pathNotFound()
    if (namespace !== "" && !type.namespaced) throw pathNotFound()
    if (subresource !== "" && (subresource !== "status" || !type.statusSubresource)) throw pathNotFound()
    return { group, version, type, namespace, name, subresource }
  }

  private serve(req: IncomingMessage, res: ServerResponse, url: URL, body: string, r: Route): void {
    const q = url.searchParams
    const method = req.method ?? "GET"
    const isCollection = r.name === ""
    const watching = q.get("watch") === "1" || q.get("watch") === "true"
    const verb: Verb | undefined = isCollection
      ? method === "GET"
        ? watching
          ? "watch"
          : "list"
        : method === "POST"
          ? "create"
          : method === "DELETE"
            ? "deletecollection"
            : undefined
      : method === "GET"
        ? "get"
        : method === "PUT"
          ? "update"
          : method === "PATCH"
            ? "patch"
            : method === "DELETE"
              ? "delete"
              : undefined
    if (verb === undefined) throw methodNotAllowed()
    this.log.push({
      verb,
      group: r.group,
      version: r.version,
      resource: r.type.plural,
      subresource: r.subresource,
      namespace: r.namespace,
      name: verb === "list" || verb === "watch" ? selectedName(q.get("fieldSelector")) : r.name,
      token: /^Bearer (.+)$/i.exec(req.headers.authorization ?? "")?.[1] ?? "",
      userAgent: req.headers["user-agent"] ?? ""
    })
    if (verb === "create" && r.type.namespaced && r.namespace === "") throw pathNotFound()
    const target: Target = {
      type: r.type,
      version: r.version,
      namespace: r.type.namespaced ? r.namespace : "",
      name: r.name,
      subresource: r.subresource === "status" ? "status" : ""
    }
    const dryRun = q.getAll("dryRun").includes("All")
    const include = tableInclude(req.headers.accept ?? "", url)
    const now = new Date()
    const respond = (code: number, o: JsonObject) =>
      include !== undefined && o["kind"] === r.type.kind
        ? sendJson(res, code, toTable(r.type, r.version, [o], { resourceVersion: String(this.api.store.resourceVersion), include, now }))
        : sendJson(res, code, o)
    switch (verb) {
      case "get":
        return respond(200, this.api.get(target))
      case "list": {
        const listed = this.api.list(target, parseSelectors(q.get("labelSelector"), q.get("fieldSelector")))
        const { items, resourceVersion, next } = paginate(listed.items, listed.resourceVersion, q.get("limit"), q.get("continue"))
        if (include !== undefined) return sendJson(res, 200, toTable(r.type, r.version, items, { resourceVersion, include, now }))
        return sendJson(res, 200, {
          apiVersion: groupVersion(r.type.group, r.version),
          kind: r.type.listKind,
          metadata: { resourceVersion, ...(next === undefined ? {} : { continue: next, remainingItemCount: listed.items.length - items.length }) },
          items
        })
      }
      case "watch": {
        const timeout = Number(q.get("timeoutSeconds") ?? "")
        this.watches.add(res)
        res.on("close", () => this.watches.delete(res))
        serveWatch(
          this.api,
          res,
          {
            type: r.type,
            version: r.version,
            namespace: target.namespace,
            selectors: parseSelectors(q.get("labelSelector"), q.get("fieldSelector")),
            resourceVersion: q.get("resourceVersion") ?? undefined,
            allowBookmarks: q.get("allowWatchBookmarks") === "true" || q.get("allowWatchBookmarks") === "1",
            timeoutSeconds: Number.isFinite(timeout) && timeout > 0 ? timeout : undefined,
            table: include
          },
          { bookmarkIntervalMs: this.options.bookmarkIntervalMs ?? 60_000, now: () => new Date() }
        )
        return
      }
      case "create":
        return respond(201, this.api.create(target, parseBody(body, false), dryRun))
      case "update":
        return respond(200, this.api.update(target, parseBody(body, false), dryRun))
      case "patch": {
        const contentType = (req.headers["content-type"] ?? "").split(";")[0]?.trim() ?? ""
        const patchType: PatchType | undefined = patchTypes[contentType]
        if (patchType === undefined) throw unsupportedMediaType(Object.keys(patchTypes))
        const { object, created } = this.api.patch(target, patchType, body, dryRun)
        return respond(created ? 201 : 200, object)
      }
      case "delete":
        return sendJson(res, 200, this.api.delete(target, body.trim() === "" ? {} : parseBody(body, false), dryRun))
      case "deletecollection":
        return sendJson(res, 200, this.api.deleteCollection(target, parseSelectors(q.get("labelSelector"), q.get("fieldSelector")), dryRun))
    }
  }

  objects(): ObjectAccess {
    const api = this.api
    const target = (apiVersion: string, kind: string, namespace: string, name: string): Target => {
      const type = api.registry.byKind(apiVersion, kind)
      if (type === undefined) throw badRequest(`no resource is served for ${apiVersion} ${kind}`)
      const version = apiVersion.includes("/") ? apiVersion.slice(apiVersion.indexOf("/") + 1) : apiVersion
      return { type, version, namespace: type.namespaced ? namespace : "", name, subresource: "" }
    }
    const access: ObjectAccess = {
      get: (apiVersion, kind, namespace, name) => {
        const t = target(apiVersion, kind, namespace, name)
        const o = api.store.get(t.type.stored.group, t.type.stored.plural, t.namespace, name)
        return o === undefined ? undefined : api.present(o, t.type, t.version)
      },
      list: (apiVersion, kind, namespace) =>
        api.list(target(apiVersion, kind, namespace ?? "", ""), everything).items,
      upsert: (object) => {
        const t = target(str(object["apiVersion"]) ?? "", str(object["kind"]) ?? "", namespaceOf(object), nameOf(object))
        const metadata = isObject(object["metadata"]) ? object["metadata"] : {}
        const body: JsonObject = { ...object, metadata: { ...metadata, resourceVersion: "" } }
        const exists = api.store.get(t.type.stored.group, t.type.stored.plural, t.namespace, t.name) !== undefined
        const written = exists ? api.update(t, body, false) : api.create(t, body, false)
        if (object["status"] === undefined || !t.type.statusSubresource) return written
        return api.update({ ...t, name: nameOf(written), subresource: "status" }, { ...written, status: object["status"] }, false)
      },
      delete: (apiVersion, kind, namespace, name) => {
        const t = target(apiVersion, kind, namespace, name)
        return api.remove(t.type, t.namespace, name) !== undefined
      },
      applyManifest: (text, defaultNamespace = "default") => {
        const docs = parseAllDocuments(text).map((d) => d.toJSON() as Json).filter(isObject)
        return [...docs.filter(isCrd), ...docs.filter((o) => !isCrd(o))].map((o) => {
          const t = target(str(o["apiVersion"]) ?? "", str(o["kind"]) ?? "", "", "")
          const metadata = isObject(o["metadata"]) ? o["metadata"] : {}
          const namespaced = t.type.namespaced && str(metadata["namespace"]) === undefined
          return access.upsert(namespaced ? { ...o, metadata: { ...metadata, namespace: defaultNamespace } } : o)
        })
      },
      resourceVersion: () => api.store.resourceVersion
    }
    return access
  }
}

const kubeconfigYaml = (url: string, token = "inmemory-token"): string =>
  toYaml({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "inmemory", cluster: { server: url, "insecure-skip-tls-verify": true } }],
    users: [{ name: "inmemory", user: { token } }],
    contexts: [{ name: "inmemory", context: { cluster: "inmemory", user: "inmemory", namespace: "default" } }],
    "current-context": "inmemory"
  })

/** Starts an in-memory API server on 127.0.0.1 (a free port by default) and writes a kubeconfig for it. */
export const startApiServer = async (options: ApiServerOptions = {}): Promise<ApiServer> => {
  const running = new Running(options)
  await running.load()
  await running.listen(options.port ?? 0)
  const url = `http://127.0.0.1:${running.port}`
  const dir = await mkdtemp(join(tmpdir(), "metallb-ts-apiserver-"))
  const kubeconfigPath = join(dir, "kubeconfig")
  const kubeconfig = kubeconfigYaml(url)
  await writeFile(kubeconfigPath, kubeconfig)
  let stopped: Promise<void> | undefined
  return {
    url,
    port: running.port,
    kubeconfigPath,
    kubeconfig,
    kubeconfigWithToken: async (token) => {
      const path = join(dir, `kubeconfig-${randomUUID()}`)
      await writeFile(path, kubeconfigYaml(url, token))
      return path
    },
    objects: running.objects(),
    faults: {
      dropWatches: (opts) => {
        const n = running.watches.size
        for (const w of running.watches) {
          if (opts?.graceful === true) w.end()
          else w.destroy()
        }
        return n
      },
      compactHistory: () => running.api.store.compact(),
      pause: (mode = "hang") => running.pause(mode),
      resume: () => running.resume()
    },
    requests: () => [...running.log],
    clearRequests: () => {
      running.log.length = 0
    },
    stop: () => {
      stopped ??= (async () => {
        await running.resume()
        await running.close()
        await running.flush()
        await rm(dir, { recursive: true, force: true })
      })()
      return stopped
    }
  }
}

