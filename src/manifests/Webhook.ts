/**
 * The admission side of the install, in MetalLB's names: the Service in front of the controller's webhook
 * listener, the (empty) certificate Secret the controller fills, the `ValidatingWebhookConfiguration` and the
 * conversion stanza of the BGPPeer CRD. The objects themselves come from the webhook's own module
 * (src/webhook/Manifests.ts), which the certificate rotator checks against, so the two cannot disagree.
 *
 * @since 0.1.0
 */
import * as WebhookManifests from "../webhook/Manifests.ts"
import { AppLabel, componentLabels, type Manifest, Namespace, WebhookSecretName } from "./Names.ts"

const ref: WebhookManifests.ServiceRef = { namespace: Namespace }

export const webhookService: Manifest = WebhookManifests.webhookService(ref, componentLabels("controller"))

/** Created empty so the controller Pod's volume mounts at once; the controller writes the certificates into it. */
export const webhookSecret: Manifest = {
  apiVersion: "v1",
  kind: "Secret",
  metadata: { labels: { ...AppLabel }, name: WebhookSecretName, namespace: Namespace }
}

export const validatingWebhookConfiguration: Manifest = WebhookManifests.validatingWebhookConfiguration(ref)

export const BGPPeerCrdName = WebhookManifests.BGPPeerCrdName

/** A CRD as in metallb.yaml: the BGPPeer one with its conversion webhook, the others unchanged. */
export const withConversion = (crd: WebhookManifests.JsonObject): Manifest => WebhookManifests.withConversionWebhook(crd, ref)

/** The same change as a kustomize patch of the generated BGPPeer CRD. */
export const conversionPatch: Manifest = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: BGPPeerCrdName },
  spec: { conversion: WebhookManifests.conversionStanza(ref) }
}
