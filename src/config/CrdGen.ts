/**
 * CustomResourceDefinitions generated from the same Schemas the configuration decodes with, so the API server and
 * metallb-ts can never disagree about a field. Pure: Schemas → CRD objects → YAML text.
 *
 * The Schema's JSON Schema (draft 2020-12, from `Schema.toJsonSchemaDocument`) is turned into a Kubernetes
 * *structural* OpenAPI v3 schema: `allOf` refinements folded into their node, open `additionalProperties: true`
 * dropped, JavaScript safe-integer bounds dropped, object keys sorted (as controller-gen writes them), and the
 * standard `apiVersion` / `kind` / `metadata` stanzas. Defaults, ranges, enums, formats, descriptions and
 * `x-kubernetes-*` extensions (CEL rules, list and map types) come from the Schemas' annotations.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { stringify } from "yaml"
import * as BFDProfile from "./crds/BFDProfile.ts"
import * as BGPAdvertisement from "./crds/BGPAdvertisement.ts"
import * as BGPPeer from "./crds/BGPPeer.ts"
import { type CrdInfo, type CrdVersion, Group } from "./crds/Common.ts"
import * as Community from "./crds/Community.ts"
import * as ConfigurationState from "./crds/ConfigurationState.ts"
import * as IPAddressPool from "./crds/IPAddressPool.ts"
import * as L2Advertisement from "./crds/L2Advertisement.ts"
import * as ServiceStatus from "./crds/ServiceStatus.ts"

/** Every `metallb.io` CRD, in a fixed order. */
export const crdInfos: ReadonlyArray<CrdInfo> = [
  BFDProfile.crd,
  BGPAdvertisement.crd,
  BGPPeer.crd,
  Community.crd,
  ConfigurationState.crd,
  IPAddressPool.crd,
  L2Advertisement.crd,
  ServiceStatus.bgpCrd,
  ServiceStatus.l2Crd
]

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }
type JsonObject = { readonly [key: string]: Json }

const isObject = (v: Json | undefined): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v)

/** Keys that hold a map of names → schemas (sorted), as opposed to keywords (also sorted, but never recursed as names). */
const schemaMaps = new Set(["properties"])
const schemaValues = new Set(["items", "additionalProperties"])

const mergeInto = (target: Record<string, Json>, extra: JsonObject): void => {
  for (const [k, v] of Object.entries(extra)) {
    const current = target[k]
    if (k === "minimum" && typeof v === "number" && typeof current === "number") target[k] = Math.max(current, v)
    else if (k === "maximum" && typeof v === "number" && typeof current === "number") target[k] = Math.min(current, v)
    else if (k === "x-kubernetes-validations" && Array.isArray(current) && Array.isArray(v)) target[k] = [...current, ...v]
    else target[k] = v
  }
}

/** One JSON Schema node → its structural OpenAPI v3 form. */
const normalise = (node: JsonObject): JsonObject => {
  const flat: Record<string, Json> = {}
  for (const [k, v] of Object.entries(node)) {
    if (k === "allOf" || k === "$schema" || k === "$defs") continue
    flat[k] = v
  }
  for (const member of (node["allOf"] as ReadonlyArray<JsonObject> | undefined) ?? []) mergeInto(flat, normalise(member))
  if (flat["additionalProperties"] === true) delete flat["additionalProperties"]
  // Effect renders an empty Struct as "anything but null"; for Kubernetes it is an object without properties.
  if (flat["type"] === undefined && isObject(flat["not"]) && flat["not"]["type"] === "null") {
    delete flat["not"]
    flat["type"] = "object"
  }
  if (flat["minimum"] === -Number.MAX_SAFE_INTEGER) delete flat["minimum"]
  if (flat["maximum"] === Number.MAX_SAFE_INTEGER) delete flat["maximum"]
  if (flat["type"] === "integer" && flat["format"] === "int32") {
    if (flat["minimum"] === -2147483648) delete flat["minimum"]
    if (flat["maximum"] === 2147483647) delete flat["maximum"]
  }
  const props = flat["properties"]
  if (isObject(props) && Object.keys(props).length === 0) delete flat["properties"]
  const out: Record<string, Json> = {}
  for (const k of Object.keys(flat).toSorted()) {
    const v = flat[k]
    if (v === undefined) continue
    if (schemaMaps.has(k) && isObject(v)) {
      out[k] = Object.fromEntries(Object.keys(v).toSorted().flatMap((name) => {
        const child = v[name]
        return isObject(child) ? [[name, normalise(child)]] : []
      }))
    } else if (schemaValues.has(k) && isObject(v)) out[k] = normalise(v)
    else if (k === "required" && Array.isArray(v)) out[k] = [...(v as ReadonlyArray<string>)].toSorted()
    else out[k] = v
  }
  return out
}

const standardProperties: JsonObject = {
  apiVersion: {
    description:
      "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
    type: "string"
  },
  kind: {
    description:
      "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    type: "string"
  },
  metadata: { type: "object" }
}

/** The openAPIV3Schema of one version: the Schema's JSON Schema made structural. */
export const openApiSchema = (version: CrdVersion): JsonObject => {
  const doc = Schema.toJsonSchemaDocument(version.schema, {
    includeAnnotationKey: (key) => key.startsWith("x-kubernetes-")
  })
  const root = normalise(doc.schema as JsonObject)
  const props = isObject(root["properties"]) ? root["properties"] : {}
  const { required: _required, ...rest } = root
  const properties: Record<string, Json> = { ...props, ...standardProperties }
  return normalise({
    ...rest,
    properties,
    ...(version.required !== undefined && version.required.length > 0 ? { required: [...version.required] } : {})
  })
}

/** The CustomResourceDefinition object of one kind. */
export const crdObject = (info: CrdInfo): JsonObject => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: `${info.plural}.${Group}` },
  spec: {
    group: Group,
    names: { kind: info.kind, listKind: `${info.kind}List`, plural: info.plural, singular: info.singular },
    scope: "Namespaced",
    versions: info.versions.map((v): JsonObject => ({
      ...(v.printerColumns.length > 0
        ? {
          additionalPrinterColumns: v.printerColumns.map((c): JsonObject => ({
            jsonPath: c.jsonPath,
            name: c.name,
            ...(c.priority !== undefined ? { priority: c.priority } : {}),
            type: c.type,
            ...(c.description !== undefined ? { description: c.description } : {})
          }))
        }
        : {}),
      ...(v.deprecated === true ? { deprecated: true } : {}),
      ...(v.deprecationWarning !== undefined ? { deprecationWarning: v.deprecationWarning } : {}),
      name: v.name,
      schema: { openAPIV3Schema: openApiSchema(v) },
      served: v.served,
      storage: v.storage,
      subresources: { status: {} }
    }))
  }
})

export const header = "# Generated by `npm run gen` from the Schemas in src/config/crds. Do not edit.\n"

/** The YAML text of one CRD, as written to manifests/crds. */
export const crdYaml = (info: CrdInfo): string => `${header}---\n${stringify(crdObject(info), { lineWidth: 0 })}`

/** The file name MetalLB uses for the CRD of a kind: `metallb.io_<plural>.yaml`. */
export const fileName = (info: CrdInfo): string => `${Group}_${info.plural}.yaml`

/** Every CRD file: name and content. */
export const crdFiles = (): ReadonlyArray<{ readonly name: string; readonly content: string }> =>
  crdInfos.map((info) => ({ name: fileName(info), content: crdYaml(info) }))
