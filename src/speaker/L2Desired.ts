/**
 * Layer 2, the Kubernetes half of the election (MetalLB's `ShouldAnnounce` for layer 2, reference §1.6 steps 1–7):
 * which nodes may announce each service IP, with their preference weights, and on which interfaces this node would
 * answer. Liveness (who is alive on the segment right now) and the final ranking are applied on top by the election.
 *
 * Services sharing an IP are planned together so that the IP always has one owner: their candidate set is the
 * intersection of theirs (every sharer is served by the owner), or, when that is empty, the union.
 *
 * @since 0.1.0
 */
import type * as Config from "../config/Config.ts"
import * as LabelSelector from "../config/LabelSelector.ts"
import * as Cidr from "../net/Cidr.ts"
import * as Ip from "../net/Ip.ts"
import { type EndpointView, type NodeView, nodeCanAnnounce, type ServiceView } from "./ClusterModel.ts"

export type SkipReason =
  | "notLoadBalancer"
  | "noIP"
  | "notInPool"
  | "noEndpoints"
  | "noMatchingAdvertisement"
  | "sharedIPWithServiceSelector"
  | "noCandidates"

export interface Candidate {
  readonly node: string
  readonly weight: number
}

/** One service IP to elect an owner for. */
export interface L2IpPlan {
  /** Canonical text; the ranking key (the first ingress IP of its services). */
  readonly ip: string
  /** Every IP announced with it (both families of a dual-stack service). */
  readonly ips: ReadonlyArray<string>
  readonly services: ReadonlyArray<string>
  readonly pool: string
  /** Kubernetes-eligible nodes, sorted by name. */
  readonly candidates: ReadonlyArray<Candidate>
  /** Interfaces this node would answer on, if it wins; an empty set = none of the named interfaces applies here. */
  readonly interfaces: "all" | ReadonlySet<string>
}

export interface L2Plan {
  readonly ips: ReadonlyArray<L2IpPlan>
  /** Services not announced by anyone, and why (for logs and status). */
  readonly skipped: ReadonlyArray<{ readonly service: string; readonly reason: SkipReason }>
}

export interface L2Inputs {
  readonly config: Config.Config
  readonly services: ReadonlyArray<ServiceView>
  /** Endpoints per service key. */
  readonly endpoints: ReadonlyMap<string, ReadonlyArray<EndpointView>>
  readonly nodes: ReadonlyMap<string, NodeView>
  readonly thisNode: string
  readonly ignoreExcludeLB: boolean
}

export const poolOf = (config: Config.Config, ip: string): Config.Pool | undefined => {
  const parsed = Ip.parse(ip)
  if (parsed === undefined) return undefined
  return config.pools.find((pool) =>
    pool.cidrs.some((c) => Cidr.contains(c, parsed)) &&
    // avoidBuggyIPs: .0 and .255 are not part of the pool.
    !(pool.avoidBuggyIPs && parsed.family === 4 && ((parsed.value & 0xffn) === 0n || (parsed.value & 0xffn) === 255n))
  )
}

const appliesTo = (selectors: ReadonlyArray<LabelSelector.Selector>, service: ServiceView) =>
  selectors.length === 0 || LabelSelector.matchesAny(selectors, service.labels)

interface ServicePlan {
  readonly service: ServiceView
  readonly pool: Config.Pool
  readonly candidates: ReadonlyArray<Candidate>
  readonly interfaces: "all" | ReadonlySet<string>
}

const planService = (inputs: L2Inputs, service: ServiceView): ServicePlan | SkipReason => {
  if (!service.isLoadBalancer) return "notLoadBalancer"
  const first = service.ingressIPs[0]
  if (first === undefined) return "noIP"
  const pool = poolOf(inputs.config, first)
  if (pool === undefined || service.ingressIPs.some((ip) => poolOf(inputs.config, ip) !== pool)) return "notInPool"
  const endpoints = inputs.endpoints.get(service.key) ?? []
  if (!endpoints.some((e) => e.serving)) return "noEndpoints"
  const ads = pool.l2Advertisements.filter((ad) => appliesTo(ad.serviceSelectors, service))
  if (ads.length === 0) return "noMatchingAdvertisement"
  if (service.sharingKey !== undefined && ads.some((ad) => ad.serviceSelectors.length > 0)) {
    return "sharedIPWithServiceSelector"
  }
  const eligible = new Set<string>()
  for (const ad of ads) {
    for (const node of ad.nodes) {
      if (nodeCanAnnounce(inputs.nodes.get(node), inputs.ignoreExcludeLB)) eligible.add(node)
    }
  }
  if (service.externalTrafficPolicy === "Local") {
    const local = new Set(endpoints.filter((e) => e.serving && e.node !== undefined).map((e) => e.node))
    for (const node of eligible) if (!local.has(node)) eligible.delete(node)
  }
  const weights = new Map<string, number>()
  for (const ad of ads) {
    for (const p of ad.preferredNodes) weights.set(p.node, (weights.get(p.node) ?? 0) + p.weight)
  }
  const candidates = [...eligible].toSorted().map((node) => ({ node, weight: weights.get(node) ?? 0 }))
  // Interfaces on this node: the union over the applicable ads that select it; any ad without a list = all.
  const mine = ads.filter((ad) => ad.nodes.includes(inputs.thisNode))
  const interfaces: "all" | ReadonlySet<string> = mine.some((ad) => ad.allInterfaces)
    ? "all"
    : new Set(mine.flatMap((ad) => ad.interfaces))
  return { service, pool, candidates, interfaces }
}

const mergeCandidates = (plans: ReadonlyArray<ServicePlan>): ReadonlyArray<Candidate> => {
  const sets = plans.map((p) => new Map(p.candidates.map((c) => [c.node, c.weight])))
  const first = sets[0] ?? new Map<string, number>()
  const common = [...first.keys()].filter((node) => sets.every((s) => s.has(node)))
  const chosen = common.length > 0 ? common : [...new Set(sets.flatMap((s) => [...s.keys()]))]
  return chosen.toSorted().map((node) => ({ node, weight: Math.max(...sets.map((s) => s.get(node) ?? 0)) }))
}

const mergeInterfaces = (plans: ReadonlyArray<ServicePlan>): "all" | ReadonlySet<string> =>
  plans.some((p) => p.interfaces === "all")
    ? "all"
    : new Set(plans.flatMap((p) => (p.interfaces === "all" ? [] : [...p.interfaces])))

/** The layer 2 plan for the whole cluster as this node sees it. Pure. */
export const plan = (inputs: L2Inputs): L2Plan => {
  const skipped: Array<{ service: string; reason: SkipReason }> = []
  const byIp = new Map<string, Array<ServicePlan>>()
  for (const service of inputs.services) {
    const p = planService(inputs, service)
    if (typeof p === "string") {
      if (p !== "notLoadBalancer") skipped.push({ service: service.key, reason: p })
      continue
    }
    const key = service.ingressIPs[0] ?? ""
    byIp.set(key, [...(byIp.get(key) ?? []), p])
  }
  const ips: Array<L2IpPlan> = []
  for (const [ip, plans] of [...byIp.entries()].toSorted(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const candidates = mergeCandidates(plans)
    const services = plans.map((p) => p.service.key).toSorted()
    if (candidates.length === 0) {
      for (const service of services) skipped.push({ service, reason: "noCandidates" })
      continue
    }
    ips.push({
      ip,
      ips: [...new Set(plans.flatMap((p) => p.service.ingressIPs))],
      services,
      pool: plans[0]?.pool.name ?? "",
      candidates,
      interfaces: mergeInterfaces(plans)
    })
  }
  return { ips, skipped }
}
