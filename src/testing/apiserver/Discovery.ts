/**
 * API discovery in both forms kubectl understands: aggregated (`apidiscovery.k8s.io` v2 and v2beta1, chosen from
 * the Accept header) and legacy (APIVersions, APIGroupList, APIResourceList per group-version).
 */
import type { JsonObject } from "./Json.ts"
import { type Registry, type ResourceType, groupVersion } from "./Registry.ts"

const verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
const subresourceVerbs = ["get", "patch", "update"]

/** The aggregated discovery version the client asked for first, if any. */
export const aggregatedVersion = (accept: string): "v2" | "v2beta1" | undefined => {
  for (const part of accept.split(",")) {
    if (!part.includes("as=APIGroupDiscoveryList")) continue
    if (/v=v2beta1(;|$)/.test(part.replaceAll(" ", ""))) return "v2beta1"
    if (/v=v2(;|$)/.test(part.replaceAll(" ", ""))) return "v2"
  }
  return undefined
}

export const aggregatedContentType = (version: "v2" | "v2beta1"): string =>
  `application/json;g=apidiscovery.k8s.io;v=${version};as=APIGroupDiscoveryList`

const aggregatedResource = (t: ResourceType, version: string): JsonObject => {
  const responseKind = { group: t.group, version, kind: t.kind }
  return {
    resource: t.plural,
    responseKind,
    scope: t.namespaced ? "Namespaced" : "Cluster",
    singularResource: t.singular,
    verbs,
    ...(t.shortNames.length > 0 ? { shortNames: t.shortNames } : {}),
    ...(t.categories.length > 0 ? { categories: t.categories } : {}),
    ...(t.statusSubresource ? { subresources: [{ subresource: "status", responseKind, verbs: subresourceVerbs }] } : {})
  }
}

/** `/api` (core only) or `/apis` (every other group) as an APIGroupDiscoveryList. */
export const aggregated = (registry: Registry, core: boolean, version: "v2" | "v2beta1"): JsonObject => ({
  kind: "APIGroupDiscoveryList",
  apiVersion: `apidiscovery.k8s.io/${version}`,
  metadata: {},
  items: registry
    .groups()
    .filter((g) => (g.group === "") === core)
    .map((g) => ({
      metadata: { name: g.group },
      versions: g.versions.map((v) => ({
        version: v,
        freshness: "Current",
        resources: registry
          .all()
          .filter((t) => t.group === g.group && t.versions.includes(v))
          .map((t) => aggregatedResource(t, v))
      }))
    }))
})

export const legacyCoreVersions = (serverAddress: string): JsonObject => ({
  kind: "APIVersions",
  versions: ["v1"],
  serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }]
})

const groupEntry = (group: string, versions: ReadonlyArray<string>): JsonObject => ({
  name: group,
  versions: versions.map((v) => ({ groupVersion: groupVersion(group, v), version: v })),
  preferredVersion: { groupVersion: groupVersion(group, versions[0] ?? ""), version: versions[0] ?? "" }
})

export const legacyGroupList = (registry: Registry): JsonObject => ({
  kind: "APIGroupList",
  apiVersion: "v1",
  groups: registry
    .groups()
    .filter((g) => g.group !== "")
    .map((g) => groupEntry(g.group, g.versions))
})

/** `/apis/<group>`: one APIGroup, or undefined when the group is not served. */
export const legacyGroup = (registry: Registry, group: string): JsonObject | undefined => {
  const g = registry.groups().find((x) => x.group === group && group !== "")
  return g === undefined ? undefined : { kind: "APIGroup", apiVersion: "v1", ...groupEntry(g.group, g.versions) }
}

/** `/api/v1` or `/apis/<g>/<v>`: an APIResourceList, or undefined when that group-version is not served. */
export const legacyResourceList = (registry: Registry, group: string, version: string): JsonObject | undefined => {
  const types = registry.all().filter((t) => t.group === group && t.versions.includes(version))
  if (types.length === 0) return undefined
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: groupVersion(group, version),
    resources: types.flatMap((t) => [
      {
        name: t.plural,
        singularName: t.singular,
        namespaced: t.namespaced,
        kind: t.kind,
        verbs,
        ...(t.shortNames.length > 0 ? { shortNames: t.shortNames } : {}),
        ...(t.categories.length > 0 ? { categories: t.categories } : {})
      },
      ...(t.statusSubresource
        ? [{ name: `${t.plural}/status`, singularName: "", namespaced: t.namespaced, kind: t.kind, verbs: subresourceVerbs }]
        : [])
    ])
  }
}
