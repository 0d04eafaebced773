/**
 * The admission side of the install: the Service in front of the controller's webhook listener, the (empty)
 * certificate Secret the controller fills, MetalLB's `ValidatingWebhookConfiguration` (names, paths, operations of
 * reference §7, `failurePolicy: Fail`) and the conversion stanza of the BGPPeer CRD.
 *
 * The webhook's own code (src/webhook) describes the same objects for its certificate rotator; both take MetalLB's
 * names and paths, and the rotator only fills in `caBundle`.
 *
 * @since 0.1.0
 */
import {
  AppLabel,
  componentLabels,
  type Manifest,
  Namespace,
  ValidatingWebhookConfigurationName,
  WebhookSecretName,
  WebhookServiceName
} from "./Names.ts"

/** `"\n"` in base64: a placeholder the controller replaces with its CA (the API server wants a non-empty value). */
export const PlaceholderCaBundle = "Cg=="

type Operation = "CREATE" | "UPDATE" | "DELETE"

interface Route {
  readonly name: string
  readonly version: "v1beta1" | "v1beta2"
  readonly kind: string
  readonly resource: string
  readonly operations: ReadonlyArray<Operation>
}

const route = (kind: string, version: Route["version"], operations: ReadonlyArray<Operation>, name?: string): Route => ({
  name: name ?? `${kind.toLowerCase()}validationwebhook.metallb.io`,
  version,
  kind,
  resource: `${kind.toLowerCase()}s`.replace(/ys$/, "ies"),
  operations
})

/** MetalLB's webhooks: one per kind; BGPPeer's name is plural, BFDProfile is checked on delete, not update. */
export const routes: ReadonlyArray<Route> = [
  route("IPAddressPool", "v1beta1", ["CREATE", "UPDATE"]),
  route("BGPAdvertisement", "v1beta1", ["CREATE", "UPDATE"]),
  route("L2Advertisement", "v1beta1", ["CREATE", "UPDATE"]),
  route("Community", "v1beta1", ["CREATE", "UPDATE"]),
  route("BGPPeer", "v1beta2", ["CREATE", "UPDATE"], "bgppeersvalidationwebhook.metallb.io"),
  route("BFDProfile", "v1beta1", ["CREATE", "DELETE"])
]

export const pathOf = (r: Route): string => `/validate-metallb-io-${r.version}-${r.kind.toLowerCase()}`

const clientConfig = (path: string): Manifest => ({
  caBundle: PlaceholderCaBundle,
  service: { name: WebhookServiceName, namespace: Namespace, path }
})

export const webhookService: Manifest = {
  apiVersion: "v1",
  kind: "Service",
  metadata: { labels: { ...AppLabel }, name: WebhookServiceName, namespace: Namespace },
  spec: {
    ports: [{ name: "webhook", port: 443, protocol: "TCP", targetPort: "webhook-server" }],
    selector: { ...componentLabels("controller") }
  }
}

/** Created empty so the controller Pod's volume mounts at once; the controller writes the certificates into it. */
export const webhookSecret: Manifest = {
  apiVersion: "v1",
  kind: "Secret",
  metadata: { labels: { ...AppLabel }, name: WebhookSecretName, namespace: Namespace }
}

export const validatingWebhookConfiguration: Manifest = {
  apiVersion: "admissionregistration.k8s.io/v1",
  kind: "ValidatingWebhookConfiguration",
  metadata: { labels: { ...AppLabel }, name: ValidatingWebhookConfigurationName },
  webhooks: routes.map((r): Manifest => ({
    admissionReviewVersions: ["v1"],
    clientConfig: clientConfig(pathOf(r)),
    failurePolicy: "Fail",
    matchPolicy: "Equivalent",
    name: r.name,
    rules: [{ apiGroups: ["metallb.io"], apiVersions: [r.version], operations: [...r.operations], resources: [r.resource] }],
    sideEffects: "None",
    timeoutSeconds: 10
  }))
}

export const BGPPeerCrdName = "bgppeers.metallb.io"

/** `spec.conversion` of the BGPPeer CRD: v1beta1 ↔ v1beta2 through the webhook's `/convert`. */
export const bgpPeerConversion: Manifest = {
  strategy: "Webhook",
  webhook: { clientConfig: clientConfig("/convert"), conversionReviewVersions: ["v1"] }
}
