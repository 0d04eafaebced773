/**
 * BGP, what this node announces to each peer (MetalLB's speaker `bgp_controller.go`, reference §5.0): for every
 * service IP whose pool has BGPAdvertisements that select this node and apply to the service, one route per
 * (IP, advertisement) — the IP masked to the aggregation length, with the advertisement's communities and localPref —
 * sent to the advertisement's peers (all peers when it names none). Duplicate prefixes (aggregation, shared IPs)
 * are merged: communities united, the first localPref kept.
 *
 * Pure: the BGP speaker layer diffs the result against what each session has advertised.
 *
 * @since 0.1.0
 */
import * as Community from "../config/Community.ts"
import type * as Config from "../config/Config.ts"
import * as LabelSelector from "../config/LabelSelector.ts"
import { compatibleLocalPref } from "../config/Parse.ts"
import * as Cidr from "../net/Cidr.ts"
import * as Ip from "../net/Ip.ts"
import { type EndpointView, type NodeView, nodeCanAnnounce, type ServiceView } from "./ClusterModel.ts"
import { poolOf } from "./L2Desired.ts"

export type BgpSkipReason =
  | "notLoadBalancer"
  | "noIP"
  | "notInPool"
  | "noAdvertisement"
  | "conflictingAdvertisements"
  | "nodeExcluded"
  | "noEndpoints"
  | "noLocalEndpoints"

export interface BgpRoute {
  /** `203.0.113.10/32`, `2001:db8:ffff::10/128`, or an aggregate. */
  readonly prefix: string
  /** Sorted numerically, standard before large like MetalLB (a standard `a:b` compares as `(a<<16|b):0:0`). */
  readonly communities: ReadonlyArray<Community.Community>
  readonly localPref: number
}

export interface BgpPlan {
  /** Routes per BGPPeer name (only peers that select this node). Sorted by prefix. */
  readonly routes: ReadonlyMap<string, ReadonlyArray<BgpRoute>>
  /** Per announced service, the peer names it goes to from this node (ServiceBGPStatus `status.peers`). */
  readonly servicePeers: ReadonlyMap<string, ReadonlyArray<string>>
  readonly skipped: ReadonlyArray<{ readonly service: string; readonly reason: BgpSkipReason }>
}

export interface BgpInputs {
  readonly config: Config.Config
  readonly services: ReadonlyArray<ServiceView>
  readonly endpoints: ReadonlyMap<string, ReadonlyArray<EndpointView>>
  readonly node: NodeView | undefined
  readonly thisNode: string
  readonly ignoreExcludeLB: boolean
}

const appliesTo = (selectors: ReadonlyArray<LabelSelector.Selector>, service: ServiceView) =>
  selectors.length === 0 || LabelSelector.matchesAny(selectors, service.labels)

const prefixOf = (ip: string, ad: Config.BgpAdvertisement): string | undefined => {
  const parsed = Ip.parse(ip)
  if (parsed === undefined) return undefined
  return Cidr.format(Cidr.make(parsed, parsed.family === 4 ? ad.aggregationLength : ad.aggregationLengthV6))
}

const mergeCommunities = (a: ReadonlyArray<Community.Community>, b: ReadonlyArray<Community.Community>) => {
  const out = [...a]
  for (const c of b) if (!out.some((x) => Community.equals(x, c))) out.push(c)
  return out.toSorted(Community.compare)
}

/** The BGP plan of this node. Pure. */
export const plan = (inputs: BgpInputs): BgpPlan => {
  const skipped: Array<{ service: string; reason: BgpSkipReason }> = []
  const peers = inputs.config.peers.filter((p) => p.nodes.includes(inputs.thisNode))
  const routes = new Map<string, Map<string, BgpRoute>>(peers.map((p) => [p.name, new Map()]))
  const servicePeers = new Map<string, ReadonlyArray<string>>()
  const canAnnounce = nodeCanAnnounce(inputs.node, inputs.ignoreExcludeLB)

  for (const service of inputs.services) {
    const skip = (reason: BgpSkipReason) => void skipped.push({ service: service.key, reason })
    if (!service.isLoadBalancer) continue
    const first = service.ingressIPs[0]
    if (first === undefined) {
      skip("noIP")
      continue
    }
    const pool = poolOf(inputs.config, first)
    if (pool === undefined || service.ingressIPs.some((ip) => poolOf(inputs.config, ip) !== pool)) {
      skip("notInPool")
      continue
    }
    const ads = pool.bgpAdvertisements.filter((ad) =>
      ad.nodes.includes(inputs.thisNode) && appliesTo(ad.serviceSelectors, service))
    if (ads.length === 0) {
      skip("noAdvertisement")
      continue
    }
    if (ads.some((a, i) => ads.slice(i + 1).some((b) => !compatibleLocalPref(a, b, pool)))) {
      skip("conflictingAdvertisements")
      continue
    }
    if (!canAnnounce) {
      skip("nodeExcluded")
      continue
    }
    const endpoints = inputs.endpoints.get(service.key) ?? []
    const serving = endpoints.filter((e) => e.serving && e.hasAddress)
    if (service.externalTrafficPolicy === "Local" && !serving.some((e) => e.node === inputs.thisNode)) {
      skip("noLocalEndpoints")
      continue
    }
    if (serving.length === 0) {
      skip("noEndpoints")
      continue
    }
    const to = new Set<string>()
    for (const ad of ads) {
      const targets = peers.filter((p) => ad.peers.length === 0 || ad.peers.includes(p.name))
      for (const ip of service.ingressIPs) {
        const prefix = prefixOf(ip, ad)
        if (prefix === undefined) continue
        for (const peer of targets) {
          to.add(peer.name)
          const table = routes.get(peer.name)
          if (table === undefined) continue
          const existing = table.get(prefix)
          table.set(prefix, existing === undefined
            ? { prefix, communities: [...ad.communities].toSorted(Community.compare), localPref: ad.localPref }
            : { ...existing, communities: mergeCommunities(existing.communities, ad.communities) })
        }
      }
    }
    if (to.size > 0) servicePeers.set(service.key, [...to].toSorted())
  }
  return {
    routes: new Map([...routes].map(([peer, table]) =>
      [peer, [...table.values()].toSorted((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0))])),
    servicePeers,
    skipped
  }
}
