/**
 * The names, labels and ports of an installation: MetalLB's, so that metallb-ts replaces a MetalLB install object
 * for object (same namespace, ServiceAccounts, Roles, Deployment, DaemonSet, webhook) and operators' selectors,
 * dashboards and scrape configs keep working.
 *
 * @since 0.1.0
 */
import { readFileSync } from "node:fs"

/** A Kubernetes object as plain JSON. */
export type Manifest = { readonly [key: string]: unknown }

export const Namespace = "metallb-system"

/** `app: metallb` on everything, `component: controller|speaker` on the workloads (reference §10.4). */
export const AppLabel = { app: "metallb" } as const
export const componentLabels = (component: Component) => ({ app: "metallb", component }) as const

export type Component = "controller" | "speaker"
export const components: ReadonlyArray<Component> = ["controller", "speaker"]

/** ServiceAccounts, Deployment and DaemonSet are named after their component, as in MetalLB. */
export const ServiceAccountName: Readonly<Record<Component, string>> = { controller: "controller", speaker: "speaker" }

/** `--port`: Prometheus text over plain HTTP (MetalLB ≤ 0.14's port and name, so scrape configs keep working). */
export const MetricsPort = 7472
/** `--health-probe-port`: `/healthz` and `/readyz`. */
export const HealthPort = 17472

export {
  DefaultCertDir as WebhookCertDir,
  DefaultSecretName as WebhookSecretName,
  DefaultServiceName as WebhookServiceName
} from "../webhook/Certificates.ts"
export { BGPPeerCrdName, DefaultPort as WebhookPort, ValidatingWebhookConfigurationName } from "../webhook/Manifests.ts"
export { DefaultLeaseName as ControllerLeaseName } from "../election/LeaderElection.ts"
export { LegacyConfigMapName } from "../config/ConfigSourceCore.ts"

/**
 * The memberlist Secret (key `secretkey`), mounted into the speakers (optional): with it they sign their layer 2
 * heartbeats. Unlike MetalLB's controller, metallb-ts's does not create it: the operator does, so no Role grants it.
 */
export const MemberlistSecretName = "memberlist"
export const MemberlistKeyPath = "/etc/ml_secret_key"
/** `announcedInterfacesToExclude`, mounted at /etc/metallb/excludel2.yaml as in MetalLB. */
export const ExcludeL2ConfigMapName = "metallb-excludel2"
export const ExcludeL2Dir = "/etc/metallb"

/** The package version (image tag of the manifests). */
export const version: string = (() => {
  const pkg: unknown = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"))
  const v = typeof pkg === "object" && pkg !== null && "version" in pkg ? pkg.version : undefined
  return typeof v === "string" ? v : "0.0.0"
})()

/** The image the manifests run: built by the Dockerfile or `nix build .#image`, both tagged with the version. */
export const Image = `metallb-ts:${version}`
