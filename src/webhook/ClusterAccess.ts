/**
 * The webhook's two ways into the cluster, on the KubeClient: reading the existing objects a check needs (straight
 * from the API server, as MetalLB's `GetAPIReader`, so a decision never rests on a stale cache), and the
 * certificate store of the rotator (the Secret, and the caBundle of the ValidatingWebhookConfiguration and the
 * BGPPeer CRD, patched only when they differ).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { KubeClientShape } from "../k8s/KubeClient.ts"
import { jsonPatch } from "../k8s/KubeClient.ts"
import type { KubeError } from "../k8s/KubeError.ts"
import { custom, type KubeObject, Nodes, type Resource, Secrets } from "../k8s/Resource.ts"
import type { ListName } from "./Admission.ts"
import {
  CertificateConflict,
  CertificateError,
  type CertStore,
  DefaultSecretName,
  type SecretData,
  type StoredSecret
} from "./Certificates.ts"
import { BGPPeerCrdName, caBundleJsonPatch, ValidatingWebhookConfigurationName } from "./Manifests.ts"

const metallb = (version: string, plural: string, kind: string) => custom("metallb.io", version, plural, kind)

/** The Resource behind each list a check may read; BGPPeers in the storage version. */
export const listResources: { readonly [K in ListName]: { readonly resource: Resource<KubeObject>; readonly namespaced: boolean } } = {
  ipAddressPools: { resource: metallb("v1beta1", "ipaddresspools", "IPAddressPool"), namespaced: true },
  bgpAdvertisements: { resource: metallb("v1beta1", "bgpadvertisements", "BGPAdvertisement"), namespaced: true },
  l2Advertisements: { resource: metallb("v1beta1", "l2advertisements", "L2Advertisement"), namespaced: true },
  bgpPeers: { resource: metallb("v1beta2", "bgppeers", "BGPPeer"), namespaced: true },
  communities: { resource: metallb("v1beta1", "communities", "Community"), namespaced: true },
  nodes: { resource: Nodes as Resource<KubeObject>, namespaced: false }
}

/** `readList` for the WebhookServer: the MetalLB namespace's objects, Nodes cluster-wide. */
export const readList = (client: KubeClientShape, namespace: string) => (list: ListName): Effect.Effect<ReadonlyArray<unknown>, KubeError> => {
  const { resource, namespaced } = listResources[list]
  return Effect.map(client.list(resource, namespaced ? { namespace } : {}), (l) => l.items)
}

const ValidatingWebhookConfigurations = custom(
  "admissionregistration.k8s.io",
  "v1",
  "validatingwebhookconfigurations",
  "ValidatingWebhookConfiguration",
  false
)
const CustomResourceDefinitions = custom("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false)

export interface CertStoreOptions {
  readonly namespace: string
  /** `--webhook-secret`. */
  readonly secretName?: string
}

const certError = (what: string) => (e: KubeError) => new CertificateError({ message: `${what}: ${e.message}` })

/** The rotator's CertStore on the KubeClient. */
export const certStore = (client: KubeClientShape, options: CertStoreOptions): CertStore => {
  const name = options.secretName ?? DefaultSecretName
  const where = `Secret ${options.namespace}/${name}`

  const inject = (resource: Resource<KubeObject>, objectName: string, caPem: string) =>
    client.get(resource, objectName).pipe(
      Effect.flatMap((object) => {
        const ops = caBundleJsonPatch(object, caPem)
        return ops.length === 0 ? Effect.void : Effect.asVoid(client.patch(resource, objectName, undefined, jsonPatch(ops)))
      }),
      Effect.catchIf(
        (e) => e.reason === "NotFound",
        () => Effect.logWarning(`${resource.kind} ${objectName} not found: its caBundle will be set once it exists`)
      ),
      Effect.mapError(certError(`cannot inject the CA into ${resource.kind} ${objectName}`))
    )

  const secret = (data: SecretData, version: string | undefined) => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: options.namespace, ...(version !== undefined ? { resourceVersion: version } : {}) },
    data: { ...data }
  })
  const conflictOr = (what: string) => (e: KubeError) =>
    e.reason === "Conflict"
      ? new CertificateConflict({ message: `${where} was written concurrently: ${e.message}` })
      : new CertificateError({ message: `cannot ${what} ${where}: ${e.message}` })

  return {
    read: client.get(Secrets, name, options.namespace).pipe(
      Effect.map((s): StoredSecret => ({ data: (s as { data?: SecretData }).data ?? {}, version: s.metadata.resourceVersion ?? "" })),
      Effect.catchIf((e) => e.reason === "NotFound", () => Effect.succeed(undefined)),
      Effect.mapError(certError(`cannot read ${where}`))
    ),
    write: (data, version) =>
      (version === undefined ? client.create(Secrets, secret(data, version)) : client.replace(Secrets, secret(data, version))).pipe(
        Effect.asVoid,
        Effect.mapError(conflictOr(version === undefined ? "create" : "update"))
      ),
    injectCaBundle: (caPem) =>
      Effect.andThen(
        inject(ValidatingWebhookConfigurations, ValidatingWebhookConfigurationName, caPem),
        inject(CustomResourceDefinitions, BGPPeerCrdName, caPem)
      )
  }
}
