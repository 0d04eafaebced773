/**
 * What the sandbox puts into its API server, as data: the nodes, the MetalLB configuration adapted to the sandbox's
 * addresses (from manifests/examples/bgp.yaml: a pool, a Community, a BGPAdvertisement, one BGPPeer per node with its
 * own source address), and a ready EndpointSlice for the walkthrough's nginx Service (no pods run in the sandbox, and
 * the speakers announce only Services with ready endpoints). Pure: the sandbox applies it, tests read it.
 *
 * @since 0.1.0
 */
import { stringify } from "yaml"

export const namespace = "metallb-system"
export const routerAsn = 64512
export const nodeAsn = 64500
export const routerId = "192.0.2.1"
export const bgpPool = { name: "sandbox-bgp", range: "203.0.113.10-203.0.113.50" } as const
export const community = "64500:100"

export interface SandboxNode {
  readonly name: string
  /** The address the node's BGP session starts from (127.0.0.3 … on loopback). */
  readonly address: string
  /** An address for the nginx endpoint on this node (documentation range: nothing real runs there). */
  readonly podIP: string
}

export const nodes: ReadonlyArray<SandboxNode> = [3, 4, 5].map((n) => ({
  name: `node${n}`,
  address: `127.0.0.${n}`,
  podIP: `198.51.100.${n}`
}))

export interface RouterEndpoint {
  readonly address: string
  readonly port: number
}

type Json = Record<string, unknown>

const nodeObject = (node: SandboxNode): Json => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name: node.name, labels: { "kubernetes.io/hostname": node.name, "kubernetes.io/os": "linux" } },
  status: {
    addresses: [{ type: "InternalIP", address: node.address }, { type: "Hostname", address: node.name }],
    conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "sandbox node" }]
  }
})

/** The BGP configuration: one peer per node so each session leaves from its own address (FRR tells peers apart by it). */
export const bgpConfig = (router: RouterEndpoint): ReadonlyArray<Json> => [
  {
    apiVersion: "metallb.io/v1beta1",
    kind: "IPAddressPool",
    metadata: { name: bgpPool.name, namespace },
    spec: { addresses: [bgpPool.range] }
  },
  {
    apiVersion: "metallb.io/v1beta1",
    kind: "Community",
    metadata: { name: "communities", namespace },
    spec: { communities: [{ name: "cluster-services", value: community }] }
  },
  {
    apiVersion: "metallb.io/v1beta1",
    kind: "BGPAdvertisement",
    metadata: { name: bgpPool.name, namespace },
    spec: { ipAddressPools: [bgpPool.name], communities: ["cluster-services"] }
  },
  ...nodes.map((node): Json => ({
    apiVersion: "metallb.io/v1beta2",
    kind: "BGPPeer",
    metadata: { name: `router-${node.name}`, namespace },
    spec: {
      myASN: nodeAsn,
      peerASN: routerAsn,
      peerAddress: router.address,
      peerPort: router.port,
      sourceAddress: node.address,
      // Short timers so a stopped speaker is noticed within seconds.
      holdTime: "9s",
      keepaliveTime: "3s",
      nodeSelectors: [{ matchLabels: { "kubernetes.io/hostname": node.name } }]
    }
  }))
]

/** A ready endpoint of the nginx Service on every node: what kube-proxy and the speakers would see with pods running. */
export const nginxEndpoints: Json = {
  apiVersion: "discovery.k8s.io/v1",
  kind: "EndpointSlice",
  metadata: { name: "nginx-sandbox", namespace: "default", labels: { "kubernetes.io/service-name": "nginx" } },
  addressType: "IPv4",
  endpoints: nodes.map((node) => ({
    addresses: [node.podIP],
    conditions: { ready: true, serving: true, terminating: false },
    nodeName: node.name
  })),
  ports: [{ name: "http", port: 80, protocol: "TCP" }]
}

export const nodeObjects: ReadonlyArray<Json> = nodes.map(nodeObject)

/** Objects as one multi-document YAML (what `objects.applyManifest` takes, and what `--print-config` shows). */
export const toYaml = (objects: ReadonlyArray<Json>): string => objects.map((o) => stringify(o)).join("---\n")
