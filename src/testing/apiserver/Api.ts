/**
 * The REST semantics of the in-memory API server, apart from HTTP: get, list, create, update, patch, delete and
 * deletecollection on the main resource or its `status` subresource, with Kubernetes' metadata rules
 * (uid, creationTimestamp, generation, resourceVersion preconditions), per-kind defaulting and CRD registration.
 *
 * Errors are thrown as ApiError and turned into Status responses by the HTTP layer (Server.ts).
 */
import { randomUUID } from "node:crypto"
import { Result } from "effect"
import { parse as parseYaml } from "yaml"
import {
  type Allocations,
  type Mutable,
  applySchemaDefaults,
  defaultConfigMapLike,
  defaultCrd,
  defaultDaemonSet,
  defaultDeployment,
  defaultNamespace,
  defaultService,
  validateName
} from "./Defaults.ts"
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  invalid,
  notFound,
  successStatus,
  unsupportedMediaType
} from "./Errors.ts"
import { type Json, type JsonObject, arr, getPath, isObject, jsonEqual, obj, omit, str } from "./Json.ts"
import { present, toStorage } from "./Conversion.ts"
import { applyPatch, jsonPatch, mergePatch, strategicMerge } from "./Patch.ts"
import { type Registry, type ResourceType, crdType, groupVersion } from "./Registry.ts"
import {
  type FieldSelector,
  type LabelSelector,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector
} from "./Selectors.ts"
import { type Store, metadataOf, nameOf, namespaceOf } from "./Store.ts"

/** What a request addresses: a resource type in a version, a namespace ("" when cluster-wide), maybe a name. */
export interface Target {
  readonly type: ResourceType
  readonly version: string
  readonly namespace: string
  readonly name: string
  readonly subresource: "" | "status"
}

export interface Selectors {
  readonly label: LabelSelector
  readonly field: FieldSelector
}

export const everything: Selectors = { label: [], field: [] }

export type PatchType = "merge" | "json" | "strategic" | "apply"

export const patchTypes: Readonly<Record<string, PatchType>> = {
  "application/merge-patch+json": "merge",
  "application/json-patch+json": "json",
  "application/strategic-merge-patch+json": "strategic",
  "application/apply-patch+yaml": "apply",
  "application/apply-patch+cbor": "apply"
}

/** Parses the `labelSelector` / `fieldSelector` query parameters, 400 on a malformed one. */
export const parseSelectors = (label: string | null, field: string | null): Selectors => {
  const l = parseLabelSelector(label ?? "")
  if (Result.isFailure(l)) throw badRequest(`unable to parse requirement: ${l.failure}`)
  const f = parseFieldSelector(field ?? "")
  if (Result.isFailure(f)) throw badRequest(f.failure)
  return { label: l.success, field: f.success }
}

const labelsOf = (o: JsonObject): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(obj(metadataOf(o)["labels"]))) if (typeof v === "string") out[k] = v
  return out
}

/** Field selectors resolve any dotted path to a scalar; absent fields compare as "". */
const fieldOf = (o: JsonObject) => (field: string): string => {
  const v = getPath(o, field.split("."))
  return typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : ""
}

export const matches = (o: JsonObject, selectors: Selectors): boolean =>
  matchesLabels(selectors.label, labelsOf(o)) && matchesFields(selectors.field, fieldOf(o))

/** Seconds-precision RFC 3339, as Kubernetes serialises metav1.Time. */
export const timestamp = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, "Z")

const generateSuffix = (): string => {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789"
  let s = ""
  for (let i = 0; i < 5; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)]
  return s
}

/** Everything but metadata and status: a change there bumps metadata.generation. */
const specPart = (o: JsonObject): JsonObject => omit(o, "metadata", "status", "apiVersion", "kind")

export interface ApiOptions {
  readonly now: () => Date
}

export class Api {
  readonly store: Store
  readonly registry: Registry
  private readonly now: () => Date

  constructor(store: Store, registry: Registry, options: ApiOptions) {
    this.store = store
    this.registry = registry
    this.now = options.now
  }

  /** Re-reads the CRDs into the registry (after a CRD write or a state-file load). */
  refreshRegistry(): void {
    this.registry.rebuild(this.store.list(crdType.group, crdType.plural))
  }

  /** The object as served in the requested version (see Conversion.ts). */
  present(o: JsonObject, type: ResourceType, version: string): JsonObject {
    return present(o, type, version)
  }

  get(t: Target): JsonObject {
    return this.present(this.mustGet(t), t.type, t.version)
  }

  list(t: Target, selectors: Selectors): { readonly items: ReadonlyArray<JsonObject>; readonly resourceVersion: string } {
    const items = this.store
      .list(t.type.stored.group, t.type.stored.plural, t.type.namespaced && t.namespace !== "" ? t.namespace : undefined)
      .map((o) => this.present(o, t.type, t.version))
      .filter((o) => matches(o, selectors))
    return { items, resourceVersion: String(this.store.resourceVersion) }
  }

  create(t: Target, body: Json, dryRun: boolean): JsonObject {
    if (t.subresource !== "") throw new ApiError(405, "MethodNotAllowed", "create is not supported on subresources")
    const input = toStorage(this.checkBody(t, body), t.type)
    const metadata: Mutable = { ...metadataOf(input) }
    let name = str(metadata["name"]) ?? ""
    const generateName = str(metadata["generateName"])
    if (name === "" && generateName !== undefined && generateName !== "") {
      do name = `${generateName}${generateSuffix()}`
      while (this.store.get(t.type.stored.group, t.type.stored.plural, t.namespace, name) !== undefined)
    }
    if (name === "") {
      throw invalid(t.type.kind, t.type.group, "", [
        { reason: "FieldValueRequired", field: "metadata.name", message: "Required value: name or generateName is required" }
      ])
    }
    if (t.type.namespaced) this.requireNamespace(t.namespace)
    if (this.store.get(t.type.stored.group, t.type.stored.plural, t.namespace, name) !== undefined) {
      throw alreadyExists({ resource: t.type.plural, group: t.type.group, name })
    }
    delete metadata["resourceVersion"]
    delete metadata["deletionTimestamp"]
    metadata["name"] = name
    metadata["uid"] = randomUUID()
    metadata["creationTimestamp"] = timestamp(this.now())
    metadata["generation"] = 1
    if (t.type.namespaced) metadata["namespace"] = t.namespace
    else delete metadata["namespace"]
    const draft: Mutable = { ...input, metadata }
    // Kinds with a status subresource take status only through it (Nodes excepted: kubelets create them whole).
    if (t.type.statusSubresource && t.type.kind !== "Node") delete draft["status"]
    const object = this.finish(t, draft, undefined)
    return this.write(t, object, dryRun)
  }

  /** PUT on the object or its status: 409 on a stale resourceVersion, 404 when missing. */
  update(t: Target, body: Json, dryRun: boolean): JsonObject {
    const current = this.mustGet(t)
    const input = this.checkBody(t, body)
    const rv = str(metadataOf(input)["resourceVersion"]) ?? ""
    if (rv !== "" && rv !== str(metadataOf(current)["resourceVersion"])) {
      throw conflict({ resource: t.type.plural, group: t.type.group, name: t.name })
    }
    return this.replace(t, current, input, dryRun)
  }

  /** PATCH; returns whether server-side apply created the object. */
  patch(t: Target, type: PatchType, raw: string, dryRun: boolean): { readonly object: JsonObject; readonly created: boolean } {
    if (type === "strategic" && t.type.custom !== undefined) {
      throw unsupportedMediaType(["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"])
    }
    const patch = parseBody(raw, type === "apply")
    const existing = this.store.get(t.type.stored.group, t.type.stored.plural, t.namespace, t.name)
    if (existing === undefined) {
      if (type === "apply" && t.subresource === "") {
        const created = this.create(t, applyPatch(undefined, this.checkBody(t, patch)), dryRun)
        return { object: created, created: true }
      }
      throw notFound({ resource: t.type.plural, group: t.type.group, name: t.name })
    }
    const current = this.present(existing, t.type, t.version)
    let patched: Json
    switch (type) {
      case "merge":
        patched = mergePatch(current, patch)
        break
      case "strategic":
        patched = strategicMerge(current, patch)
        break
      case "apply":
        patched = applyPatch(current, this.checkBody(t, patch))
        break
      case "json": {
        const r = jsonPatch(current, patch)
        if (Result.isFailure(r)) throw new ApiError(422, "Invalid", `the server rejected our request due to an error in our request: ${r.failure}`)
        patched = r.success
      }
    }
    if (!isObject(patched)) throw badRequest("the patch did not produce an object")
    const rv = str(metadataOf(patched)["resourceVersion"]) ?? ""
    if (rv !== "" && rv !== str(metadataOf(existing)["resourceVersion"])) {
      throw conflict({ resource: t.type.plural, group: t.type.group, name: t.name })
    }
    return { object: this.replace(t, existing, patched, dryRun), created: false }
  }

  delete(t: Target, options: Json, dryRun: boolean): JsonObject {
    const current = this.mustGet(t)
    const pre = obj(obj(options)["preconditions"])
    const uid = str(metadataOf(current)["uid"]) ?? ""
    const preUid = str(pre["uid"])
    const preRv = str(pre["resourceVersion"])
    if ((preUid !== undefined && preUid !== uid) || (preRv !== undefined && preRv !== str(metadataOf(current)["resourceVersion"]))) {
      throw conflict({ resource: t.type.plural, group: t.type.group, name: t.name })
    }
    if (dryRun) return this.present(current, t.type, t.version)
    const gone = this.remove(t.type, t.namespace, t.name) ?? current
    // Like genericregistry.Store's ReturnDeletedObject: Services, Pods and custom resources return the deleted
    // object, the other kinds a Success Status.
    return t.type.custom !== undefined || (t.type.group === "" && (t.type.plural === "services" || t.type.plural === "pods"))
      ? this.present(gone, t.type, t.version)
      : successStatus({ resource: t.type.plural, group: t.type.group, name: t.name, uid })
  }

  deleteCollection(t: Target, selectors: Selectors, dryRun: boolean): JsonObject {
    const { items, resourceVersion } = this.list(t, selectors)
    if (!dryRun) for (const o of items) this.remove(t.type, namespaceOf(o), nameOf(o))
    return { apiVersion: groupVersion(t.type.group, t.version), kind: t.type.listKind, metadata: { resourceVersion }, items }
  }

  /** Deletes an object and whatever it owns in this server: a Namespace's contents, a CRD's custom resources. */
  remove(type: ResourceType, namespace: string, name: string): JsonObject | undefined {
    const gone = this.store.remove(type.stored.group, type.stored.plural, namespace, name)
    if (gone === undefined) return undefined
    if (type.group === "" && type.plural === "namespaces") {
      for (const rt of this.registry.all()) {
        const { group, plural } = rt.stored
        if (!rt.namespaced) continue
        for (const o of this.store.list(group, plural, name)) this.store.remove(group, plural, name, nameOf(o))
      }
    }
    if (type === crdType) {
      const spec = obj(gone["spec"])
      const group = str(spec["group"]) ?? ""
      const plural = str(obj(spec["names"])["plural"]) ?? ""
      for (const o of this.store.list(group, plural)) this.store.remove(group, plural, namespaceOf(o), nameOf(o))
      this.refreshRegistry()
    }
    return gone
  }

  private mustGet(t: Target): JsonObject {
    const o = this.store.get(t.type.stored.group, t.type.stored.plural, t.type.namespaced ? t.namespace : "", t.name)
    if (o === undefined) throw notFound({ resource: t.type.plural, group: t.type.group, name: t.name })
    return o
  }

  private requireNamespace(namespace: string): void {
    if (this.store.get("", "namespaces", "", namespace) === undefined) {
      throw notFound({ resource: "namespaces", group: "", name: namespace })
    }
  }

  /** Checks the body is an object of this kind/version in this namespace, and fills apiVersion/kind when absent. */
  private checkBody(t: Target, body: Json): JsonObject {
    if (!isObject(body)) throw badRequest("the request body must be a JSON object")
    const apiVersion = str(body["apiVersion"]) ?? groupVersion(t.type.group, t.version)
    const kind = str(body["kind"]) ?? t.type.kind
    if (kind !== t.type.kind || (apiVersion !== groupVersion(t.type.group, t.version) && !this.servesApiVersion(t.type, apiVersion))) {
      throw badRequest(`the API version in the data (${apiVersion}) and kind (${kind}) do not match the expected ${groupVersion(t.type.group, t.version)} ${t.type.kind}`)
    }
    const metadata = metadataOf(body)
    const ns = str(metadata["namespace"])
    if (t.type.namespaced && ns !== undefined && ns !== "" && ns !== t.namespace) {
      throw badRequest("the namespace of the provided object does not match the namespace sent on the request")
    }
    const name = str(metadata["name"])
    if (t.name !== "" && name !== undefined && name !== "" && name !== t.name) {
      throw badRequest("the name of the object does not match the name on the URL")
    }
    return { ...body, apiVersion, kind }
  }

  private servesApiVersion(type: ResourceType, apiVersion: string): boolean {
    return type.versions.some((v) => groupVersion(type.group, v) === apiVersion)
  }

  /** The shared tail of update and patch: keep identity, honour the status subresource, bump generation. */
  private replace(t: Target, current: JsonObject, body: JsonObject, dryRun: boolean): JsonObject {
    const input = toStorage(body, t.type)
    const cur = metadataOf(current)
    let draft: Mutable
    if (t.subresource === "status") {
      draft = { ...current, status: input["status"] ?? null }
      if (draft["status"] === null) delete draft["status"]
    } else {
      const metadata: Mutable = { ...metadataOf(input) }
      for (const k of ["uid", "creationTimestamp", "generation", "namespace", "name", "deletionTimestamp"]) {
        if (cur[k] === undefined) delete metadata[k]
        else metadata[k] = cur[k] ?? null
      }
      draft = { ...input, metadata }
      if (t.type.statusSubresource) {
        if (current["status"] === undefined) delete draft["status"]
        else draft["status"] = current["status"]
      }
    }
    const finished = this.finish(t, draft, current)
    const meta: Mutable = { ...metadataOf(finished) }
    const generation = typeof cur["generation"] === "number" ? cur["generation"] : 1
    meta["generation"] = jsonEqual(specPart(finished), specPart(current)) ? generation : generation + 1
    meta["resourceVersion"] = cur["resourceVersion"] ?? null
    const next: JsonObject = { ...finished, metadata: meta }
    // No real change: no new resourceVersion and no watch event, as etcd-backed servers behave.
    if (jsonEqual(omit(next, "apiVersion"), omit(current, "apiVersion"))) return this.present(current, t.type, t.version)
    return this.write(t, next, dryRun)
  }

  /** Per-kind defaulting and validation on every write. */
  private finish(t: Target, draft: Mutable, previous: JsonObject | undefined): JsonObject {
    const name = str(metadataOf(draft)["name"]) ?? ""
    const causes = [...validateName(t.type.kind, name)]
    const schema = t.type.custom?.schemas[t.version]
    if (schema !== undefined) {
      const defaulted = applySchemaDefaults(draft, schema)
      if (isObject(defaulted)) draft = { ...defaulted }
    }
    switch (`${t.type.group}/${t.type.kind}`) {
      case "/Service":
        causes.push(...defaultService(draft, previous, this.serviceAllocations(t.namespace, name)))
        break
      case "/Namespace":
        defaultNamespace(draft, name)
        break
      case "/Secret":
        draft["type"] ??= "Opaque"
        causes.push(...defaultConfigMapLike(t.type.kind, draft))
        break
      case "/ConfigMap":
        causes.push(...defaultConfigMapLike(t.type.kind, draft))
        break
      case "/Pod":
        // Pods take status only through the subresource; a new one is Pending until something says otherwise.
        draft["status"] ??= { phase: "Pending" }
        break
      case "apps/Deployment":
        defaultDeployment(draft)
        break
      case "apps/DaemonSet":
        defaultDaemonSet(draft)
        break
      case "apiextensions.k8s.io/CustomResourceDefinition":
        causes.push(...this.checkCrd(draft, name))
        defaultCrd(draft, timestamp(this.now()))
        break
    }
    if (causes.length > 0) throw invalid(t.type.kind, t.type.group, name, causes)
    return draft
  }

  private checkCrd(crd: JsonObject, name: string) {
    const spec = obj(crd["spec"])
    const plural = str(obj(spec["names"])["plural"]) ?? ""
    const group = str(spec["group"]) ?? ""
    const causes: Array<{ reason: string; field: string; message: string }> = []
    if (name !== `${plural}.${group}`) {
      causes.push({ reason: "FieldValueInvalid", field: "metadata.name", message: `Invalid value: "${name}": must be spec.names.plural+"."+spec.group` })
    }
    if (str(obj(spec["names"])["kind"]) === undefined) {
      causes.push({ reason: "FieldValueRequired", field: "spec.names.kind", message: "Required value" })
    }
    const versions = arr(spec["versions"]).filter(isObject)
    if (versions.filter((v) => v["storage"] === true).length !== 1) {
      causes.push({ reason: "FieldValueInvalid", field: "spec.versions", message: "Invalid value: must have exactly one version marked as storage version" })
    }
    return causes
  }

  private serviceAllocations(namespace: string, name: string): Allocations {
    const clusterIPs = new Set<string>()
    const nodePorts = new Set<number>()
    for (const svc of this.store.list("", "services")) {
      if (namespaceOf(svc) === namespace && nameOf(svc) === name) continue
      const spec = obj(svc["spec"])
      for (const ip of arr(spec["clusterIPs"])) if (typeof ip === "string") clusterIPs.add(ip)
      for (const p of arr(spec["ports"])) {
        const np = obj(p)["nodePort"]
        if (typeof np === "number") nodePorts.add(np)
      }
    }
    return { clusterIPs, nodePorts }
  }

  private write(t: Target, object: JsonObject, dryRun: boolean): JsonObject {
    if (dryRun) return this.present(object, t.type, t.version)
    const stored = this.store.put(t.type.stored.group, t.type.stored.plural, object)
    if (t.type === crdType) this.refreshRegistry()
    return this.present(stored, t.type, t.version)
  }
}

/** Request bodies: JSON, or YAML for server-side apply from clients that send real YAML. */
export const parseBody = (raw: string, allowYaml: boolean): Json => {
  try {
    return JSON.parse(raw) as Json
  } catch (jsonError) {
    if (allowYaml) {
      try {
        return parseYaml(raw) as Json
      } catch {
        // fall through to the JSON error
      }
    }
    throw badRequest(`the request body is not valid JSON: ${jsonError instanceof Error ? jsonError.message : String(jsonError)}`)
  }
}
