/**
 * What each program may do, as data: the rules of the ClusterRoles and Roles in the manifests are rendered from
 * this list, and `RbacCheck` compares the API calls a program made (the in-memory API server's request log)
 * against it. Least privilege: every verb the code uses, nothing more — test/lab/rbac.test.ts runs the real
 * controller and speakers through a scenario and fails on a call these rules refuse or a verb no call used.
 * Informers list and watch (never get); single objects are named (`resourceNames`) where the name is fixed;
 * namespaced CRs (status objects, ConfigurationStates) are granted in the MetalLB namespace only. Compared with
 * MetalLB's `config/rbac/role.yaml` (reference §10.2): no PodSecurityPolicies, no core Endpoints, no memberlist
 * Secret or Deployment access (the controller does not manage that Secret), CRD access only to inject the BGPPeer
 * conversion caBundle, and Leases (controller leader election, speaker liveness).
 *
 * @since 0.1.0
 */
import { AppLabel, BGPPeerCrdName, type Component, ControllerLeaseName, LegacyConfigMapName, type Manifest, Namespace, ServiceAccountName, ValidatingWebhookConfigurationName, WebhookSecretName } from "./Names.ts"

export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete" | "deletecollection"

/** One PolicyRule. `resources` may name a subresource (`services/status`); `"*"` works as in Kubernetes. */
export interface Rule {
  readonly apiGroups: ReadonlyArray<string>
  readonly resources: ReadonlyArray<string>
  readonly verbs: ReadonlyArray<Verb | "*">
  /** Empty or absent: any name. */
  readonly resourceNames?: ReadonlyArray<string>
  /** Why the program needs it: the last column of the RBAC tables in docs/install.md (not in the object). */
  readonly why: string
}

/** A Role (namespace set) or ClusterRole (namespace undefined) bound to one component's ServiceAccount. */
export interface Grant {
  readonly component: Component
  readonly kind: "ClusterRole" | "Role"
  readonly name: string
  /** The Role's namespace; undefined for a ClusterRole bound by a ClusterRoleBinding. */
  readonly namespace: string | undefined
  readonly rules: ReadonlyArray<Rule>
}

const read: ReadonlyArray<Verb> = ["list", "watch"]

/** The configuration CRs both programs read (informers: list and watch, never a single get). */
const configResources = ["ipaddresspools", "l2advertisements", "bgpadvertisements", "bgppeers", "bfdprofiles", "communities"]

const rule = (apiGroups: ReadonlyArray<string>, resources: ReadonlyArray<string>, verbs: ReadonlyArray<Verb>, why: string, resourceNames?: ReadonlyArray<string>): Rule =>
  resourceNames === undefined ? { apiGroups, resources, verbs, why } : { apiGroups, resources, verbs, resourceNames, why }

/** The legacy ConfigMap, watched by name (`fieldSelector=metadata.name=config`, which RBAC matches as a name). */
const legacyConfigMap = rule([""], ["configmaps"], read, "the legacy `config` ConfigMap (MetalLB 0.7–0.12 format)", [LegacyConfigMapName])

/**
 * A ConfigurationState: watched by name, created when missing (a create carries no name, so it cannot be narrowed),
 * then only its status is written.
 */
const configurationStates = (names: ReadonlyArray<string> | undefined) => [
  rule(["metallb.io"], ["configurationstates"], ["create"], "creates its ConfigurationState when missing"),
  rule(["metallb.io"], ["configurationstates"], read, `its own ConfigurationState (${names === undefined ? "`speaker-<node>`: no fixed name" : names.map((n) => `\`${n}\``).join(", ")})`, names),
  rule(["metallb.io"], ["configurationstates/status"], ["patch"], "`result` and `errorSummary` of its ConfigurationState", names)
]

export const grants: ReadonlyArray<Grant> = [
  {
    component: "controller",
    kind: "ClusterRole",
    name: "metallb-system:controller",
    namespace: undefined,
    rules: [
      rule([""], ["services"], ["list", "watch", "patch"], "LoadBalancer Services to allocate for; the `metallb.io/ip-allocated-from-pool` annotation"),
      rule([""], ["services/status"], ["patch"], "writes `status.loadBalancer.ingress`"),
      rule([""], ["namespaces"], read, "`serviceAllocation.namespaceSelectors` of the pools"),
      rule([""], ["nodes"], ["list"], "the webhook validates node selectors against the nodes"),
      rule([""], ["events"], ["create", "patch"], "`IPAllocated`, `AllocationFailed`, … Events on Services (patch: the count of a repeated Event)"),
      rule(["admissionregistration.k8s.io"], ["validatingwebhookconfigurations"], ["get", "patch"], "injects the webhook CA (`caBundle`)", [ValidatingWebhookConfigurationName]),
      rule(["apiextensions.k8s.io"], ["customresourcedefinitions"], ["get", "patch"], "injects the CA of the BGPPeer conversion webhook", [BGPPeerCrdName])
    ]
  },
  {
    component: "controller",
    kind: "Role",
    name: "controller",
    namespace: Namespace,
    rules: [
      rule([""], ["secrets"], ["get", "update"], "the webhook certificate Secret (`--webhook-secret`)", [WebhookSecretName]),
      rule([""], ["secrets"], ["create"], "creates the webhook certificate Secret if it is missing"),
      legacyConfigMap,
      rule([""], ["pods"], ["get"], "its own Pod, owner of its ConfigurationState"),
      rule(["metallb.io"], configResources, read, "the configuration; the webhook reads the existing objects"),
      rule(["metallb.io"], ["ipaddresspools/status"], ["patch"], "assigned/available counters of the pools"),
      ...configurationStates(["controller"]),
      rule(["coordination.k8s.io"], ["leases"], ["get", "update"], "leader election (`--leader-elect`)", [ControllerLeaseName]),
      rule(["coordination.k8s.io"], ["leases"], ["create"], "creates the leader Lease if it is missing")
    ]
  },
  {
    component: "speaker",
    kind: "ClusterRole",
    name: "metallb-system:speaker",
    namespace: undefined,
    rules: [
      rule([""], ["services", "nodes", "namespaces"], read, "Services to announce, node labels for selectors, namespace labels for pools"),
      rule(["discovery.k8s.io"], ["endpointslices"], read, "`externalTrafficPolicy: Local` needs ready endpoints on this node"),
      rule([""], ["events"], ["create", "patch"], "`nodeAssigned`, `announceFailed` Events on Services (patch: the count of a repeated Event)")
    ]
  },
  {
    component: "speaker",
    kind: "Role",
    name: "pod-lister",
    namespace: Namespace,
    rules: [
      rule([""], ["pods"], ["get"], "its own Pod, owner of its status objects"),
      rule([""], ["secrets"], read, "BGP password Secrets (`passwordSecret` of the BGPPeers)"),
      legacyConfigMap,
      rule(["metallb.io"], configResources, read, "the configuration"),
      rule(["metallb.io"], ["servicel2statuses", "servicebgpstatuses"], ["list", "watch", "create", "delete"], "ServiceL2Status / ServiceBGPStatus of what it announces"),
      rule(["metallb.io"], ["servicel2statuses/status", "servicebgpstatuses/status"], ["patch"], "their status"),
      ...configurationStates(undefined),
      rule(["coordination.k8s.io"], ["leases"], ["get", "list", "watch", "create", "update", "delete"], "one layer 2 liveness Lease per speaker (deleted when it leaves); reads the others'")
    ]
  }
]

const policyRule = (r: Rule): Manifest => ({
  apiGroups: [...r.apiGroups],
  ...(r.resourceNames === undefined || r.resourceNames.length === 0 ? {} : { resourceNames: [...r.resourceNames] }),
  resources: [...r.resources],
  verbs: [...r.verbs]
})

const metadata = (name: string, namespace: string | undefined): Manifest =>
  namespace === undefined ? { labels: { ...AppLabel }, name } : { labels: { ...AppLabel }, name, namespace }

/** The (Cluster)Role object of a grant. */
export const roleObject = (g: Grant): Manifest => ({
  apiVersion: "rbac.authorization.k8s.io/v1",
  kind: g.kind,
  metadata: metadata(g.name, g.namespace),
  rules: g.rules.map(policyRule)
})

/** The (Cluster)RoleBinding of a grant: same name as the role, subject the component's ServiceAccount. */
export const bindingObject = (g: Grant): Manifest => ({
  apiVersion: "rbac.authorization.k8s.io/v1",
  kind: g.kind === "Role" ? "RoleBinding" : "ClusterRoleBinding",
  metadata: metadata(g.name, g.namespace),
  roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: g.kind, name: g.name },
  subjects: [{ kind: "ServiceAccount", name: ServiceAccountName[g.component], namespace: Namespace }]
})

export const serviceAccountObject = (component: Component): Manifest => ({
  apiVersion: "v1",
  kind: "ServiceAccount",
  metadata: { labels: { ...AppLabel }, name: ServiceAccountName[component], namespace: Namespace }
})

export const grantsOf = (component: Component): ReadonlyArray<Grant> => grants.filter((g) => g.component === component)

const apiCell = (r: Rule): string => {
  const group = r.apiGroups.filter((g) => g !== "").map((g) => ` (${g})`).join("")
  const names = r.resourceNames === undefined ? "" : ` ${r.resourceNames.map((n) => `\`${n}\``).join(", ")}`
  return `${r.resources.map((x) => `\`${x}\``).join(", ")}${names}${group}`
}

/** The RBAC tables of docs/install.md: one per Role and ClusterRole, a row per rule. */
export const rbacMarkdown = (): string =>
  grants.map((g) => [
    `**${g.component}**, ${g.kind} \`${g.name}\`${g.namespace === undefined ? "" : ` in \`${g.namespace}\``}:`,
    "",
    "| API | verbs | why |",
    "|---|---|---|",
    ...g.rules.map((r) => `| ${apiCell(r)} | ${r.verbs.join(", ")} | ${r.why} |`)
  ].join("\n")).join("\n\n") + "\n"
