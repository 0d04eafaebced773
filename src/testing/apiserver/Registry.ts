/**
 * The resource types the server serves: the built-in kinds plus whatever the stored CustomResourceDefinitions
 * declare. Discovery, OpenAPI, routing and Tables all read from here.
 */
import { type Json, type JsonObject, arr, isObject, obj, str } from "./Json.ts"

export interface PrinterColumn {
  readonly name: string
  readonly type: string
  readonly format: string
  readonly description: string
  readonly priority: number
  readonly jsonPath: string
}

export interface ResourceType {
  readonly group: string
  /** Served versions, preferred first (Kubernetes version order). */
  readonly versions: ReadonlyArray<string>
  readonly plural: string
  readonly singular: string
  readonly kind: string
  readonly listKind: string
  readonly namespaced: boolean
  readonly shortNames: ReadonlyArray<string>
  readonly categories: ReadonlyArray<string>
  readonly statusSubresource: boolean
  /** Where objects of this type live in the Store (events.k8s.io Events are stored as core Events). */
  readonly stored: { readonly group: string; readonly plural: string }
  /** Present for custom resources: printer columns and OpenAPI schema per version. */
  readonly custom?: {
    readonly printerColumns: Readonly<Record<string, ReadonlyArray<PrinterColumn>>>
    readonly schemas: Readonly<Record<string, Json>>
  }
}

export const groupVersion = (group: string, version: string): string => (group === "" ? version : `${group}/${version}`)

/** `services` for the core group, `ipaddresspools.metallb.io` otherwise: the form used in error messages. */
export const qualifiedResource = (rt: Pick<ResourceType, "group" | "plural">): string =>
  rt.group === "" ? rt.plural : `${rt.plural}.${rt.group}`

const builtin = (
  group: string,
  version: string,
  plural: string,
  kind: string,
  namespaced: boolean,
  options: {
    readonly shortNames?: ReadonlyArray<string>
    readonly categories?: ReadonlyArray<string>
    readonly status?: boolean
    readonly stored?: { readonly group: string; readonly plural: string }
  } = {}
): ResourceType => ({
  group,
  versions: [version],
  plural,
  singular: kind.toLowerCase(),
  kind,
  listKind: `${kind}List`,
  namespaced,
  shortNames: options.shortNames ?? [],
  categories: options.categories ?? [],
  statusSubresource: options.status ?? false,
  stored: options.stored ?? { group, plural }
})

/** Built-in kinds: what MetalLB, its manifests and kubectl's describers touch. */
export const builtinTypes: ReadonlyArray<ResourceType> = [
  builtin("", "v1", "namespaces", "Namespace", false, { shortNames: ["ns"], status: true }),
  builtin("", "v1", "services", "Service", true, { shortNames: ["svc"], categories: ["all"], status: true }),
  builtin("", "v1", "endpoints", "Endpoints", true, { shortNames: ["ep"] }),
  builtin("", "v1", "nodes", "Node", false, { shortNames: ["no"], status: true }),
  builtin("", "v1", "pods", "Pod", true, { shortNames: ["po"], categories: ["all"], status: true }),
  builtin("", "v1", "configmaps", "ConfigMap", true, { shortNames: ["cm"] }),
  builtin("", "v1", "secrets", "Secret", true),
  builtin("", "v1", "events", "Event", true, { shortNames: ["ev"] }),
  builtin("", "v1", "serviceaccounts", "ServiceAccount", true, { shortNames: ["sa"] }),
  builtin("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true),
  builtin("coordination.k8s.io", "v1", "leases", "Lease", true),
  builtin("events.k8s.io", "v1", "events", "Event", true, { shortNames: ["ev"], stored: { group: "", plural: "events" } }),
  builtin("apps", "v1", "deployments", "Deployment", true, { shortNames: ["deploy"], categories: ["all"], status: true }),
  builtin("apps", "v1", "daemonsets", "DaemonSet", true, { shortNames: ["ds"], categories: ["all"], status: true }),
  builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false),
  builtin("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false),
  builtin("rbac.authorization.k8s.io", "v1", "roles", "Role", true),
  builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true),
  builtin("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", false),
  builtin("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false, {
    shortNames: ["crd", "crds"],
    status: true
  })
]

export const crdType: ResourceType = builtinTypes.find((t) => t.plural === "customresourcedefinitions") as ResourceType

const parseVersion = (v: string) => {
  const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v)
  if (m === null) return undefined
  return { major: Number(m[1]), level: m[2] === undefined ? 2 : m[2] === "beta" ? 1 : 0, minor: Number(m[3] ?? 0) }
}

/**
 * Kubernetes version priority: GA before beta before alpha, higher numbers first, then non-matching names
 * alphabetically (k8s.io/apimachinery/pkg/version.CompareKubeAwareVersionStrings).
 */
export const compareVersions = (a: string, b: string): number => {
  const pa = parseVersion(a)
  const pb = parseVersion(b)
  if (pa === undefined && pb === undefined) return a.localeCompare(b)
  if (pa === undefined) return 1
  if (pb === undefined) return -1
  if (pa.level !== pb.level) return pb.level - pa.level
  if (pa.major !== pb.major) return pb.major - pa.major
  return pb.minor - pa.minor
}

const printerColumn = (c: JsonObject): PrinterColumn => ({
  name: str(c["name"]) ?? "",
  type: str(c["type"]) ?? "string",
  format: str(c["format"]) ?? "",
  description: str(c["description"]) ?? "",
  priority: typeof c["priority"] === "number" ? c["priority"] : 0,
  jsonPath: str(c["jsonPath"]) ?? ""
})

/** The resource type a CRD declares, or undefined when it serves no version. */
export const typeFromCrd = (crd: JsonObject): ResourceType | undefined => {
  const spec = obj(crd["spec"])
  const names = obj(spec["names"])
  const versions = arr(spec["versions"]).filter(isObject).filter((v) => v["served"] !== false)
  const group = str(spec["group"])
  const plural = str(names["plural"])
  const kind = str(names["kind"])
  if (versions.length === 0 || group === undefined || plural === undefined || kind === undefined) return undefined
  const printerColumns: Record<string, ReadonlyArray<PrinterColumn>> = {}
  const schemas: Record<string, Json> = {}
  let status = false
  for (const v of versions) {
    const name = str(v["name"]) ?? ""
    printerColumns[name] = arr(v["additionalPrinterColumns"]).filter(isObject).map(printerColumn)
    schemas[name] = obj(v["schema"])["openAPIV3Schema"] ?? {}
    if (isObject(obj(v["subresources"])["status"])) status = true
  }
  return {
    group,
    versions: versions.map((v) => str(v["name"]) ?? "").toSorted(compareVersions),
    plural,
    singular: str(names["singular"]) ?? kind.toLowerCase(),
    kind,
    listKind: str(names["listKind"]) ?? `${kind}List`,
    namespaced: spec["scope"] !== "Cluster",
    shortNames: arr(names["shortNames"]).flatMap((s) => (typeof s === "string" ? [s] : [])),
    categories: arr(names["categories"]).flatMap((s) => (typeof s === "string" ? [s] : [])),
    statusSubresource: status,
    stored: { group, plural },
    custom: { printerColumns, schemas }
  }
}

/** Resource types by group and plural; rebuilt whenever a CRD changes. */
export class Registry {
  private types: Map<string, ResourceType> = new Map()
  /** Bumped on every change; used as the OpenAPI v3 hash so kubectl refetches. */
  revision = 0

  constructor() {
    this.rebuild([])
  }

  rebuild(crds: ReadonlyArray<JsonObject>): void {
    const next = new Map<string, ResourceType>()
    for (const t of builtinTypes) next.set(`${t.group}/${t.plural}`, t)
    for (const crd of crds) {
      const t = typeFromCrd(crd)
      if (t !== undefined && !next.has(`${t.group}/${t.plural}`)) next.set(`${t.group}/${t.plural}`, t)
    }
    this.types = next
    this.revision++
  }

  all(): ReadonlyArray<ResourceType> {
    return [...this.types.values()]
  }

  byResource(group: string, version: string, plural: string): ResourceType | undefined {
    const t = this.types.get(`${group}/${plural}`)
    return t !== undefined && t.versions.includes(version) ? t : undefined
  }

  byKind(apiVersion: string, kind: string): ResourceType | undefined {
    const slash = apiVersion.indexOf("/")
    const group = slash < 0 ? "" : apiVersion.slice(0, slash)
    const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1)
    return this.all().find((t) => t.group === group && t.kind === kind && t.versions.includes(version))
  }

  /** Groups with their versions, preferred version first, core group first. */
  groups(): ReadonlyArray<{ readonly group: string; readonly versions: ReadonlyArray<string> }> {
    const byGroup = new Map<string, Set<string>>()
    for (const t of this.types.values()) {
      const set = byGroup.get(t.group) ?? new Set<string>()
      for (const v of t.versions) set.add(v)
      byGroup.set(t.group, set)
    }
    return [...byGroup.entries()]
      .toSorted(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b)))
      .map(([group, versions]) => ({ group, versions: [...versions].toSorted(compareVersions) }))
  }
}
