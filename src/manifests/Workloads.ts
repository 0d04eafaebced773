/**
 * The Namespace and the two workloads: the controller Deployment and the speaker DaemonSet, with MetalLB's names,
 * labels, ports and mounts (reference §10.1), hardened security contexts, and the speaker's one capability.
 *
 * Why the speaker has NET_RAW and nothing else, and why it runs as UID 0: docs/install.md "Capabilities".
 *
 * @since 0.1.0
 */
import { defaultExcluded } from "../layer2/Interfaces.ts"
import {
  type Component,
  componentLabels,
  ExcludeL2ConfigMapName,
  ExcludeL2Dir,
  HealthPort,
  Image,
  type Manifest,
  MemberlistKeyPath,
  MemberlistSecretName,
  MetricsPort,
  Namespace,
  ServiceAccountName,
  WebhookCertDir,
  WebhookPort,
  WebhookSecretName,
  WebhookServiceName
} from "./Names.ts"

/**
 * `privileged` Pod Security level, as MetalLB's manifests set: the speaker needs hostNetwork and NET_RAW, which
 * the `baseline` level forbids.
 */
export const namespaceObject: Manifest = {
  apiVersion: "v1",
  kind: "Namespace",
  metadata: {
    labels: {
      "pod-security.kubernetes.io/audit": "privileged",
      "pod-security.kubernetes.io/enforce": "privileged",
      "pod-security.kubernetes.io/warn": "privileged"
    },
    name: Namespace
  }
}

const fieldEnv = (name: string, fieldPath: string): Manifest => ({ name, valueFrom: { fieldRef: { fieldPath } } })

const probe = (path: string): Manifest => ({
  failureThreshold: 3,
  httpGet: { path, port: "health" },
  initialDelaySeconds: 10,
  periodSeconds: 10,
  successThreshold: 1,
  timeoutSeconds: 1
})

const probes = (): Manifest => ({ livenessProbe: probe("/healthz"), readinessProbe: probe("/readyz") })

const podMetadata = (component: Component): Manifest => ({
  annotations: { "prometheus.io/port": String(MetricsPort), "prometheus.io/scrape": "true" },
  labels: { ...componentLabels(component) }
})

/** Flags both programs take (reference §10.1); the command word comes first. */
const commonArgs = (component: Component): ReadonlyArray<string> => [
  component,
  `--port=${MetricsPort}`,
  `--health-probe-port=${HealthPort}`,
  "--log-level=info"
]

const commonEnv: ReadonlyArray<Manifest> = [
  fieldEnv("METALLB_NAMESPACE", "metadata.namespace"),
  fieldEnv("METALLB_POD_NAME", "metadata.name")
]

/**
 * One replica, as MetalLB (its allocator state lives in memory and is rebuilt from Service statuses). For HA,
 * run 2-3 replicas with `--leader-elect`: one leads (Lease in the namespace), the others wait; the webhook is
 * served by every ready replica.
 */
export const controllerDeployment: Manifest = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { labels: { ...componentLabels("controller") }, name: "controller", namespace: Namespace },
  spec: {
    replicas: 1,
    revisionHistoryLimit: 3,
    selector: { matchLabels: { ...componentLabels("controller") } },
    template: {
      metadata: podMetadata("controller"),
      spec: {
        containers: [{
          args: [
            ...commonArgs("controller"),
            `--cert-service-name=${WebhookServiceName}`,
            `--webhook-secret=${WebhookSecretName}`
          ],
          env: [...commonEnv, { name: "METALLB_ML_SECRET_NAME", value: MemberlistSecretName }, { name: "METALLB_DEPLOYMENT", value: "controller" }],
          image: Image,
          name: "controller",
          ports: [
            { containerPort: MetricsPort, name: "monitoring" },
            { containerPort: WebhookPort, name: "webhook-server", protocol: "TCP" },
            { containerPort: HealthPort, name: "health" }
          ],
          ...probes(),
          securityContext: {
            allowPrivilegeEscalation: false,
            capabilities: { drop: ["ALL"] },
            readOnlyRootFilesystem: true
          },
          volumeMounts: [{ mountPath: WebhookCertDir, name: "cert", readOnly: true }]
        }],
        nodeSelector: { "kubernetes.io/os": "linux" },
        securityContext: {
          fsGroup: 65534,
          runAsGroup: 65534,
          runAsNonRoot: true,
          runAsUser: 65534,
          seccompProfile: { type: "RuntimeDefault" }
        },
        serviceAccountName: ServiceAccountName.controller,
        // Long enough to release the leader Lease and close watches; the allocator has nothing to flush.
        terminationGracePeriodSeconds: 5,
        volumes: [{ name: "cert", secret: { defaultMode: 420, secretName: WebhookSecretName } }]
      }
    }
  }
}

/** The interfaces layer 2 never announces on (same default as MetalLB; the speaker has the same list built in). */
export const excludeL2ConfigMap: Manifest = {
  apiVersion: "v1",
  data: { "excludel2.yaml": `announcedInterfacesToExclude: ${JSON.stringify(defaultExcluded)}\n` },
  kind: "ConfigMap",
  metadata: { labels: { ...componentLabels("speaker") }, name: ExcludeL2ConfigMapName, namespace: Namespace }
}

export const speakerDaemonSet: Manifest = {
  apiVersion: "apps/v1",
  kind: "DaemonSet",
  metadata: { labels: { ...componentLabels("speaker") }, name: "speaker", namespace: Namespace },
  spec: {
    selector: { matchLabels: { ...componentLabels("speaker") } },
    // One node at a time: its IPs move to the other nodes while it restarts.
    updateStrategy: { rollingUpdate: { maxUnavailable: 1 }, type: "RollingUpdate" },
    template: {
      metadata: podMetadata("speaker"),
      spec: {
        containers: [{
          args: [...commonArgs("speaker")],
          env: [
            fieldEnv("METALLB_NODE_NAME", "spec.nodeName"),
            ...commonEnv,
            fieldEnv("METALLB_HOST", "status.hostIP"),
            { name: "METALLB_ML_SECRET_KEY_PATH", value: MemberlistKeyPath }
          ],
          image: Image,
          name: "speaker",
          ports: [
            { containerPort: MetricsPort, name: "monitoring" },
            { containerPort: HealthPort, name: "health" }
          ],
          ...probes(),
          securityContext: {
            allowPrivilegeEscalation: false,
            capabilities: { add: ["NET_RAW"], drop: ["ALL"] },
            readOnlyRootFilesystem: true,
            // UID 0 so that NET_RAW is effective: Kubernetes cannot grant ambient capabilities to a non-root user,
            // and file capabilities would need allowPrivilegeEscalation (docs/install.md "Capabilities").
            runAsNonRoot: false,
            runAsUser: 0
          },
          volumeMounts: [
            { mountPath: MemberlistKeyPath, name: "memberlist", readOnly: true },
            { mountPath: ExcludeL2Dir, name: "metallb-excludel2", readOnly: true }
          ]
        }],
        hostNetwork: true,
        nodeSelector: { "kubernetes.io/os": "linux" },
        securityContext: { seccompProfile: { type: "RuntimeDefault" } },
        serviceAccountName: ServiceAccountName.speaker,
        // The graceful handover: withdraw BGP routes (UPDATE + NOTIFICATION Cease), leave layer 2 so the next
        // owner sends gratuitous ARP/NA at once, release the liveness Lease. 10 s leaves room on a loaded node.
        terminationGracePeriodSeconds: 10,
        tolerations: [
          { effect: "NoSchedule", key: "node-role.kubernetes.io/master", operator: "Exists" },
          { effect: "NoSchedule", key: "node-role.kubernetes.io/control-plane", operator: "Exists" }
        ],
        volumes: [
          // Optional: the controller creates it; until then heartbeats go unsigned rather than the speaker waiting.
          { name: "memberlist", secret: { defaultMode: 420, optional: true, secretName: MemberlistSecretName } },
          { configMap: { defaultMode: 256, name: ExcludeL2ConfigMapName }, name: "metallb-excludel2" }
        ]
      }
    }
  }
}
