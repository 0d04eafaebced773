/**
 * Builders for allocator tests: Service JSON in the shape the API server returns, and pools.
 */
import { Result } from "effect"
import * as Cidr from "../../src/net/Cidr.ts"
import * as Ip from "../../src/net/Ip.ts"
import * as Core from "../../src/allocator/Core.ts"
import type { LabelSelector, Pool } from "../../src/allocator/Pool.ts"
import * as ServiceIntent from "../../src/allocator/ServiceIntent.ts"

export interface ServiceOptions {
  readonly namespace?: string
  readonly type?: string
  readonly labels?: Record<string, string>
  readonly annotations?: Record<string, string>
  /** ClusterIPs; default one IPv4. */
  readonly clusterIPs?: ReadonlyArray<string>
  readonly policy?: "SingleStack" | "PreferDualStack" | "RequireDualStack"
  readonly ipFamilies?: ReadonlyArray<string>
  readonly ports?: ReadonlyArray<readonly [string, number]>
  readonly local?: Record<string, string>
  readonly loadBalancerIP?: string
  readonly loadBalancerClass?: string
  readonly ingress?: ReadonlyArray<string>
}

export const V4_CLUSTER = ["10.96.0.10"]
export const V6_CLUSTER = ["fd00::10"]
export const DUAL_CLUSTER = ["10.96.0.10", "fd00::10"]

export const serviceJson = (name: string, o: ServiceOptions = {}): Record<string, unknown> => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: {
    name,
    namespace: o.namespace ?? "default",
    ...(o.labels === undefined ? {} : { labels: o.labels }),
    ...(o.annotations === undefined ? {} : { annotations: o.annotations })
  },
  spec: {
    type: o.type ?? "LoadBalancer",
    clusterIP: (o.clusterIPs ?? V4_CLUSTER)[0],
    clusterIPs: o.clusterIPs ?? V4_CLUSTER,
    ipFamilyPolicy: o.policy ?? "SingleStack",
    ...(o.ipFamilies === undefined ? {} : { ipFamilies: o.ipFamilies }),
    ports: (o.ports ?? [["TCP", 80]]).map(([protocol, port]) => ({ protocol, port, targetPort: port })),
    externalTrafficPolicy: o.local === undefined ? "Cluster" : "Local",
    ...(o.local === undefined ? {} : { selector: o.local }),
    ...(o.loadBalancerIP === undefined ? {} : { loadBalancerIP: o.loadBalancerIP }),
    ...(o.loadBalancerClass === undefined ? {} : { loadBalancerClass: o.loadBalancerClass })
  },
  status: { loadBalancer: o.ingress === undefined ? {} : { ingress: o.ingress.map((ip) => ({ ip })) } }
})

export const intent = (name: string, o: ServiceOptions = {}): ServiceIntent.ServiceIntent =>
  Result.getOrThrow(ServiceIntent.fromService(serviceJson(name, o)))

export interface PoolOptions {
  readonly autoAssign?: boolean
  readonly avoidBuggyIPs?: boolean
  readonly priority?: number
  readonly namespaces?: ReadonlyArray<string>
  readonly selectors?: ReadonlyArray<LabelSelector>
  /** Give the pool a serviceAllocation even when it restricts nothing. */
  readonly allocateTo?: boolean
}

export const cidr = (text: string): Cidr.Cidr => Result.getOrThrow(Cidr.parse(text))

export const pool = (name: string, addresses: ReadonlyArray<string>, o: PoolOptions = {}): Pool => {
  const hasAllocation = o.allocateTo === true || o.priority !== undefined || o.namespaces !== undefined ||
    o.selectors !== undefined
  const namespaces = new Set(o.namespaces ?? [])
  const selectors = o.selectors ?? []
  return {
    name,
    cidrs: addresses.flatMap((a) => Result.getOrThrow(Cidr.parsePoolEntry(a))),
    autoAssign: o.autoAssign ?? true,
    avoidBuggyIPs: o.avoidBuggyIPs ?? false,
    ...(hasAllocation
      ? {
        serviceAllocation: {
          priority: o.priority ?? 0,
          namespaces,
          serviceSelectors: selectors,
          matchesEverything: namespaces.size === 0 && selectors.length === 0
        }
      }
      : {})
  }
}

export const ip = (text: string): Ip.IpAddress => {
  const parsed = Ip.parse(text)
  if (parsed === undefined) throw new Error(`bad test IP ${text}`)
  return parsed
}

export const withPools = (...pools: ReadonlyArray<Pool>): Core.AllocatorState => {
  const state = Core.empty()
  Core.setPools(state, pools)
  return state
}

/** IPs of a convergence or assignment as text. */
export const texts = (ips: ReadonlyArray<Ip.IpAddress>): Array<string> => ips.map(Ip.format)

/** The Service JSON after the controller wrote the convergence result to its status. */
export const withStatus = (
  s: ServiceIntent.ServiceIntent,
  ips: ReadonlyArray<Ip.IpAddress>
): ServiceIntent.ServiceIntent => ServiceIntent.withIngress(s, texts(ips))
