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

/** Loopback mode: sessions from 127.0.0.3/.4/.5. */
export const loopbackNodes: ReadonlyArray<SandboxNode> = [3, 4, 5].map((n) => ({
  name: `node${n}`,
  address: `127.0.0.${n}`,
  podIP: `198.51.100.${n}`
}))

/** Namespaces mode: the lab LAN's host numbers 13/14/15 (192.0.2.13 …, MAC 02:00:00:00:00:13 …). */
export const labNodes: ReadonlyArray<SandboxNode> = [3, 4, 5].map((n) => ({
  name: `node${n}`,
  address: `192.0.2.1${n}`,
  podIP: `198.51.100.${n}`
}))

/** Namespaces mode, layer 2: a pool on the LAN and a second Service that takes its IP from it. */
export const l2Pool = { name: "sandbox-l2", range: "192.0.2.200-192.0.2.210" } as const

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

/**
 * The BGP configuration. With `perNodeSource` there is one peer per node whose session leaves from the node's own
 * address (loopback mode: all speakers share one network stack); otherwise one peer for every node.
 */
export const bgpConfig = (router: RouterEndpoint, nodes: ReadonlyArray<SandboxNode>, perNodeSource: boolean): ReadonlyArray<Json> => [
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
  ...(perNodeSource ? nodes : [undefined]).map((node): Json => ({
    apiVersion: "metallb.io/v1beta2",
    kind: "BGPPeer",
    metadata: { name: node === undefined ? "router" : `router-${node.name}`, namespace },
    spec: {
      myASN: nodeAsn,
      peerASN: routerAsn,
      peerAddress: router.address,
      peerPort: router.port,
      // Short timers so a stopped speaker is noticed within seconds.
      holdTime: "9s",
      keepaliveTime: "3s",
      ...(node === undefined
        ? {}
        : { sourceAddress: node.address, nodeSelectors: [{ matchLabels: { "kubernetes.io/hostname": node.name } }] })
    }
  }))
]

/** The router's bgpd configuration (FRR) on the lab LAN: dynamic eBGP peers from 192.0.2.0/24, ECMP. */
export const frrConfig = `router bgp ${routerAsn}
 bgp router-id ${routerId}
 bgp log-neighbor-changes
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 bgp graceful-restart
 bgp bestpath as-path multipath-relax
 neighbor NODES peer-group
 neighbor NODES remote-as external
 neighbor NODES timers 3 9
 bgp listen range 192.0.2.0/24 peer-group NODES
 !
 address-family ipv4 unicast
  neighbor NODES activate
  maximum-paths 8
 exit-address-family
!`

/** Layer 2: a pool on the LAN, its L2Advertisement, and `nginx-l2`, a copy of the walkthrough's Service that takes its IP from that pool. */
export const l2Config = (nodes: ReadonlyArray<SandboxNode>): ReadonlyArray<Json> => [
  {
    apiVersion: "metallb.io/v1beta1",
    kind: "IPAddressPool",
    metadata: { name: l2Pool.name, namespace },
    // Only for Services that ask for it, so the walkthrough's nginx keeps its BGP address.
    spec: { addresses: [l2Pool.range], autoAssign: false }
  },
  {
    apiVersion: "metallb.io/v1beta1",
    kind: "L2Advertisement",
    metadata: { name: l2Pool.name, namespace },
    spec: { ipAddressPools: [l2Pool.name] }
  },
  {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "nginx-l2", namespace: "default", annotations: { "metallb.io/address-pool": l2Pool.name } },
    spec: { type: "LoadBalancer", selector: { app: "nginx" }, ports: [{ name: "http", port: 80, protocol: "TCP", targetPort: "http" }] }
  },
  endpointsFor("nginx-l2", nodes)
]

/** A ready endpoint of a Service on every node: what kube-proxy and the speakers would see with pods running. */
export const endpointsFor = (service: string, nodes: ReadonlyArray<SandboxNode>): Json => ({
  apiVersion: "discovery.k8s.io/v1",
  kind: "EndpointSlice",
  metadata: { name: `${service}-sandbox`, namespace: "default", labels: { "kubernetes.io/service-name": service } },
  addressType: "IPv4",
  endpoints: nodes.map((node) => ({
    addresses: [node.podIP],
    conditions: { ready: true, serving: true, terminating: false },
    nodeName: node.name
  })),
  ports: [{ name: "http", port: 80, protocol: "TCP" }]
})

export const nodeObjects = (nodes: ReadonlyArray<SandboxNode>): ReadonlyArray<Json> => nodes.map(nodeObject)

/** Objects as one multi-document YAML (what `objects.applyManifest` takes, and what `--print-config` shows). */
export const toYaml = (objects: ReadonlyArray<Json>): string => objects.map((o) => stringify(o)).join("---\n")
