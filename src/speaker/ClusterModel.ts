/**
 * What the speaker needs to know of Services, EndpointSlices and Nodes, extracted from their Kubernetes JSON once at
 * the watch boundary, so the desired-state functions (L2Desired, BgpDesired) stay pure and small.
 *
 * @since 0.1.0
 */
import * as Ip from "../net/Ip.ts"

export interface ServiceView {
  /** `namespace/name`. */
  readonly key: string
  readonly namespace: string
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly isLoadBalancer: boolean
  readonly loadBalancerClass: string | undefined
  readonly externalTrafficPolicy: "Cluster" | "Local"
  /** Canonical text of `status.loadBalancer.ingress[].ip`, in order. */
  readonly ingressIPs: ReadonlyArray<string>
  /** `metallb.io/allow-shared-ip` (or the deprecated prefix); undefined when absent or empty. */
  readonly sharingKey: string | undefined
}

export interface EndpointView {
  readonly node: string | undefined
  /** MetalLB's "can serve": `ready` unset or true, or `serving` true. */
  readonly serving: boolean
  readonly hasAddress: boolean
}

export interface NodeView {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly networkUnavailable: boolean
}

export const ExcludeFromLoadBalancersLabel = "node.kubernetes.io/exclude-from-external-load-balancers"

type Json = Record<string, unknown>
const obj = (v: unknown): Json => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : {})
const arr = (v: unknown): ReadonlyArray<unknown> => (Array.isArray(v) ? v : [])
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined)
const labelsOf = (v: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries(obj(v)).filter((e): e is [string, string] => typeof e[1] === "string"))

export const serviceView = (service: unknown): ServiceView => {
  const metadata = obj(obj(service).metadata)
  const spec = obj(obj(service).spec)
  const annotations = labelsOf(metadata.annotations)
  const namespace = str(metadata.namespace) ?? "default"
  const name = str(metadata.name) ?? ""
  const ingressIPs: Array<string> = []
  for (const entry of arr(obj(obj(obj(service).status).loadBalancer).ingress)) {
    const ip = Ip.parse(str(obj(entry).ip) ?? "")
    if (ip !== undefined) ingressIPs.push(Ip.format(ip))
  }
  const sharingKey = annotations["metallb.io/allow-shared-ip"] ?? annotations["metallb.universe.tf/allow-shared-ip"]
  return {
    key: `${namespace}/${name}`,
    namespace,
    name,
    labels: labelsOf(metadata.labels),
    isLoadBalancer: spec.type === "LoadBalancer",
    loadBalancerClass: str(spec.loadBalancerClass),
    externalTrafficPolicy: spec.externalTrafficPolicy === "Local" ? "Local" : "Cluster",
    ingressIPs,
    sharingKey: sharingKey === undefined || sharingKey === "" ? undefined : sharingKey
  }
}

/** The endpoints of one EndpointSlice (the service is the label `kubernetes.io/service-name`). */
export const endpointViews = (slice: unknown): ReadonlyArray<EndpointView> =>
  arr(obj(slice).endpoints).map((e) => {
    const endpoint = obj(e)
    const conditions = obj(endpoint.conditions)
    const ready = conditions.ready
    return {
      node: str(endpoint.nodeName),
      serving: ready === undefined || ready === null || ready === true || conditions.serving === true,
      hasAddress: arr(endpoint.addresses).length > 0
    }
  })

/** `namespace/name` of the Service an EndpointSlice belongs to, or undefined. */
export const sliceServiceKey = (slice: unknown): string | undefined => {
  const metadata = obj(obj(slice).metadata)
  const service = labelsOf(metadata.labels)["kubernetes.io/service-name"]
  return service === undefined ? undefined : `${str(metadata.namespace) ?? "default"}/${service}`
}

export const nodeView = (node: unknown): NodeView => {
  const metadata = obj(obj(node).metadata)
  const conditions = arr(obj(obj(node).status).conditions)
  return {
    name: str(metadata.name) ?? "",
    labels: labelsOf(metadata.labels),
    networkUnavailable: conditions.some((c) => obj(c).type === "NetworkUnavailable" && obj(c).status === "True")
  }
}

/** Whether `node` may announce at all: not NetworkUnavailable, not excluded (unless `--ignore-exclude-lb`). */
export const nodeCanAnnounce = (node: NodeView | undefined, ignoreExcludeLB: boolean): boolean =>
  node !== undefined && !node.networkUnavailable && (ignoreExcludeLB || !(ExcludeFromLoadBalancersLabel in node.labels))

/** MetalLB's load-balancer-class filter: no flag → only services without a class; flag → only that class. */
export const handlesClass = (service: ServiceView, loadBalancerClass: string | undefined): boolean =>
  service.loadBalancerClass === loadBalancerClass
