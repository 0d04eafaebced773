/**
 * Just enough OpenAPI for `kubectl apply` with its default `--validate=strict`:
 * - `/openapi/v2`: 200 with an empty body, which is a valid empty protobuf Document (kubectl 1.27/1.28 need it
 *   to parse; its Content-Type must be application/octet-stream);
 * - `/openapi/v3` and its per-group-version documents: a PATCH operation with the `fieldValidation` parameter for
 *   every kind, so kubectl 1.29+ leaves validation to the server. No schemas are published (no `kubectl explain`).
 */
import type { JsonObject } from "./Json.ts"
import { type Registry, groupVersion } from "./Registry.ts"

const gvPath = (group: string, version: string): string => (group === "" ? "api/v1" : `apis/${group}/${version}`)

export const openApiV3Root = (registry: Registry): JsonObject => {
  const paths: Record<string, JsonObject> = {}
  for (const g of registry.groups()) {
    for (const v of g.versions) {
      const p = gvPath(g.group, v)
      paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${registry.revision}` }
    }
  }
  return { paths }
}

/** The document for `api/v1` or `apis/<g>/<v>`, or undefined when not served. */
export const openApiV3GroupVersion = (registry: Registry, group: string, version: string): JsonObject | undefined => {
  const types = registry.all().filter((t) => t.group === group && t.versions.includes(version))
  if (types.length === 0) return undefined
  const paths: Record<string, JsonObject> = {}
  const prefix = group === "" ? "/api/v1" : `/apis/${group}/${version}`
  for (const t of types) {
    const path = t.namespaced ? `${prefix}/namespaces/{namespace}/${t.plural}/{name}` : `${prefix}/${t.plural}/{name}`
    paths[path] = {
      patch: {
        parameters: [{ name: "fieldValidation", in: "query", schema: { type: "string", uniqueItems: true } }],
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": { group, version, kind: t.kind }
      }
    }
  }
  return {
    openapi: "3.0.0",
    info: { title: "metallb-ts in-memory API server", version: groupVersion(group, version) },
    paths,
    components: { schemas: {} }
  }
}
