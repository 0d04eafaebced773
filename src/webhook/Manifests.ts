/**
 * How the API server finds the webhook: the paths MetalLB serves, the `ValidatingWebhookConfiguration`
 * (`metallb-webhook-configuration`: one webhook per kind, `failurePolicy: Fail`, `sideEffects: None`,
 * `timeoutSeconds: 10`, AdmissionReview v1), the `conversion:` stanza of the BGPPeer CRD, and the `caBundle`
 * injection (as an updated object and as a JSON Patch). Pure: objects in, objects out.
 *
 * @since 0.1.0
 */
import { DefaultServiceName } from "./Certificates.ts"

export const ValidatingWebhookConfigurationName = "metallb-webhook-configuration"
export const BGPPeerCrdName = "bgppeers.metallb.io"
export const ConvertPath = "/convert"
/** The port the controller serves on; the Service maps 443 to it. */
export const DefaultPort = 9443
/** `"\n"` base64: the API server rejects an empty caBundle, and the rotator replaces this placeholder. */
export const PlaceholderCaBundle = "Cg=="

export type Operation = "CREATE" | "UPDATE" | "DELETE"

/** One validating webhook: the kind it checks, its path, version, resource and operations (MetalLB's). */
export interface Route {
  readonly kind: "IPAddressPool" | "BGPAdvertisement" | "L2Advertisement" | "Community" | "BGPPeer" | "BFDProfile"
  readonly name: string
  readonly path: string
  readonly version: "v1beta1" | "v1beta2"
  readonly resource: string
  readonly operations: ReadonlyArray<Operation>
}

const route = (kind: Route["kind"], version: Route["version"], resource: string, operations: ReadonlyArray<Operation>, name = `${kind.toLowerCase()}validationwebhook.metallb.io`): Route => ({
  kind,
  name,
  path: `/validate-metallb-io-${version}-${kind.toLowerCase()}`,
  version,
  resource,
  operations
})

export const routes: ReadonlyArray<Route> = [
  route("IPAddressPool", "v1beta1", "ipaddresspools", ["CREATE", "UPDATE"]),
  route("BGPAdvertisement", "v1beta1", "bgpadvertisements", ["CREATE", "UPDATE"]),
  route("L2Advertisement", "v1beta1", "l2advertisements", ["CREATE", "UPDATE"]),
  route("Community", "v1beta1", "communities", ["CREATE", "UPDATE"]),
  route("BGPPeer", "v1beta2", "bgppeers", ["CREATE", "UPDATE"], "bgppeersvalidationwebhook.metallb.io"),
  route("BFDProfile", "v1beta1", "bfdprofiles", ["CREATE", "DELETE"])
]

export interface ServiceRef {
  /** The MetalLB namespace, where the Service is. */
  readonly namespace: string
  readonly serviceName?: string
  /** The CA, PEM; the placeholder when absent (the rotator fills it in). */
  readonly caPem?: string
}

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }
export type JsonObject = { readonly [key: string]: Json }

const caBundle = (caPem: string | undefined): string =>
  caPem === undefined ? PlaceholderCaBundle : Buffer.from(caPem, "utf8").toString("base64")

const clientConfig = (ref: ServiceRef, path: string): JsonObject => ({
  caBundle: caBundle(ref.caPem),
  service: { name: ref.serviceName ?? DefaultServiceName, namespace: ref.namespace, path }
})

/** The ValidatingWebhookConfiguration object, for the manifests and for the controller to check against. */
export const validatingWebhookConfiguration = (ref: ServiceRef): JsonObject => ({
  apiVersion: "admissionregistration.k8s.io/v1",
  kind: "ValidatingWebhookConfiguration",
  metadata: { name: ValidatingWebhookConfigurationName },
  webhooks: routes.map((r): JsonObject => ({
    admissionReviewVersions: ["v1"],
    clientConfig: clientConfig(ref, r.path),
    failurePolicy: "Fail",
    matchPolicy: "Equivalent",
    name: r.name,
    rules: [{ apiGroups: ["metallb.io"], apiVersions: [r.version], operations: [...r.operations], resources: [r.resource] }],
    sideEffects: "None",
    timeoutSeconds: 10
  }))
})

/**
 * The Service the API server dials: port 443 to the controller's `webhook-server` port 9443 (MetalLB's
 * `metallb-webhook-service`, selecting the controller Pods by MetalLB's manifest labels).
 */
export const webhookService = (ref: ServiceRef, selector: Readonly<Record<string, string>> = { app: "metallb", component: "controller" }): JsonObject => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: ref.serviceName ?? DefaultServiceName, namespace: ref.namespace },
  spec: { ports: [{ port: 443, targetPort: DefaultPort }], selector: { ...selector } }
})

/** The `spec.conversion` of the BGPPeer CRD: served by the webhook's `/convert`. */
export const conversionStanza = (ref: ServiceRef): JsonObject => ({
  strategy: "Webhook",
  webhook: { clientConfig: clientConfig(ref, ConvertPath), conversionReviewVersions: ["v1"] }
})

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v)

/** A generated CRD (CrdGen.crdObject) with the conversion webhook added; other CRDs are returned unchanged. */
export const withConversionWebhook = (crd: JsonObject, ref: ServiceRef): JsonObject => {
  const meta = crd["metadata"]
  const spec = crd["spec"]
  if (!isObject(meta) || meta["name"] !== BGPPeerCrdName || !isObject(spec)) return crd
  return { ...crd, spec: { ...spec, conversion: conversionStanza(ref) } }
}

/** One RFC 6902 operation. */
export type JsonPatchOp =
  | { readonly op: "add"; readonly path: string; readonly value: Json }
  | { readonly op: "test"; readonly path: string; readonly value: Json }

/**
 * The JSON Patch that sets `caBundle` on a live object: every webhook of the ValidatingWebhookConfiguration (each
 * guarded by a `test` of its name, so a concurrent reorder fails instead of patching the wrong entry), or the
 * conversion of the BGPPeer CRD. Empty when everything already carries this CA: no write, no churn.
 */
export const caBundleJsonPatch = (object: unknown, caPem: string): ReadonlyArray<JsonPatchOp> => {
  const value = caBundle(caPem)
  if (!isObject(object)) return []
  if (object["kind"] === "ValidatingWebhookConfiguration") {
    const webhooks = Array.isArray(object["webhooks"]) ? (object["webhooks"] as ReadonlyArray<Json>) : []
    return webhooks.flatMap((w, i): Array<JsonPatchOp> => {
      if (!isObject(w) || !isObject(w["clientConfig"]) || w["clientConfig"]["caBundle"] === value) return []
      return [
        { op: "test", path: `/webhooks/${i}/name`, value: w["name"] ?? null },
        { op: "add", path: `/webhooks/${i}/clientConfig/caBundle`, value }
      ]
    })
  }
  if (object["kind"] === "CustomResourceDefinition") {
    const spec = object["spec"]
    const conversion = isObject(spec) ? spec["conversion"] : undefined
    const webhook = isObject(conversion) && conversion["strategy"] === "Webhook" ? conversion["webhook"] : undefined
    if (!isObject(webhook) || !isObject(webhook["clientConfig"]) || webhook["clientConfig"]["caBundle"] === value) return []
    return [{ op: "add", path: "/spec/conversion/webhook/clientConfig/caBundle", value }]
  }
  return []
}

const setAt = (node: Json, keys: ReadonlyArray<string>, value: Json): Json => {
  const [key, ...rest] = keys
  if (key === undefined) return value
  if (Array.isArray(node)) {
    const i = Number(key)
    return node.map((item: Json, j) => (j === i ? setAt(item, rest, value) : item))
  }
  const obj = isObject(node) ? node : {}
  return { ...obj, [key]: setAt(obj[key] ?? null, rest, value) }
}

const getAt = (node: Json | undefined, keys: ReadonlyArray<string>): Json | undefined =>
  keys.reduce<Json | undefined>((n, k) => (Array.isArray(n) ? (n as ReadonlyArray<Json>)[Number(k)] : isObject(n) ? n[k] : undefined), node)

const pointer = (path: string): ReadonlyArray<string> => path.split("/").slice(1).map((k) => k.replace(/~1/g, "/").replace(/~0/g, "~"))

/**
 * Applies such a patch locally (get-modify-update clients, tests): the object with the patch applied, or undefined
 * when a `test` fails.
 */
export const applyJsonPatch = (object: JsonObject, ops: ReadonlyArray<JsonPatchOp>): JsonObject | undefined => {
  let out: Json = object
  for (const op of ops) {
    const keys = pointer(op.path)
    if (op.op === "test") {
      if (JSON.stringify(getAt(out, keys)) !== JSON.stringify(op.value)) return undefined
    } else out = setAt(out, keys, op.value)
  }
  return isObject(out) ? out : undefined
}
