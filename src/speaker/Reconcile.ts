/**
 * The speaker's reconcile core (DESIGN.md §3, "compute desired state, diff, apply"): from the cluster as this node
 * sees it (config, Services, EndpointSlices, Nodes) and who is alive on each announcing interface, what this node
 * announces — the layer 2 IPs it owns (L2Desired → L2Election), the BGP sessions and routes per peer (BgpDesired) —
 * and, per Service, what it should say about it (statuses, events, metrics). Pure: the Speaker applies the result
 * and diffs it against the previous one, so an unchanged cluster causes no writes and no events.
 *
 * @since 0.1.0
 */
import type { BfdConfig } from "../bgp/BfdFsm.ts"
import type { PeerConfig } from "../bgp/BgpSession.ts"
import type { PeerRoutes, Route } from "../bgp/BgpSpeaker.ts"
import * as Prefix from "../bgp/Prefix.ts"
import type * as Config from "../config/Config.ts"
import * as L2Election from "../election/L2Election.ts"
import type { L2Announcement } from "../layer2/Layer2Speaker.ts"
import * as Ip from "../net/Ip.ts"
import * as BgpDesired from "./BgpDesired.ts"
import { type EndpointView, handlesClass, type NodeView, type ServiceView } from "./ClusterModel.ts"
import * as L2Desired from "./L2Desired.ts"

export interface Inputs {
  readonly config: Config.Config
  readonly services: ReadonlyArray<ServiceView>
  readonly endpoints: ReadonlyMap<string, ReadonlyArray<EndpointView>>
  readonly nodes: ReadonlyMap<string, NodeView>
  readonly thisNode: string
  /** `--lb-class`: only Services of this class (undefined: only Services without one). */
  readonly loadBalancerClass: string | undefined
  readonly ignoreExcludeLB: boolean
  /** Per announcing interface, the nodes liveness counts as alive there (Liveness.candidates). */
  readonly alive: ReadonlyMap<string, ReadonlySet<string>>
}

export type Protocol = "layer2" | "bgp"

/** One Service this node announces with one protocol. */
export interface ServiceAnnouncement {
  readonly service: string
  readonly protocol: Protocol
  readonly ips: ReadonlyArray<string>
  readonly pool: string
  /** layer 2: the interfaces the advertisements restrict it to (undefined: all). */
  readonly interfaces?: ReadonlyArray<string> | undefined
  /** bgp: the BGPPeer names it goes to (ServiceBGPStatus `status.peers`). */
  readonly peers?: ReadonlyArray<string> | undefined
}

/** A Service this node won for layer 2 but cannot announce: none of the allowed interfaces exists here. */
export interface AnnounceFailure {
  readonly service: string
  readonly ip: string
}

export interface Desired {
  /** The input of Layer2Speaker.set. */
  readonly l2: ReadonlyArray<L2Announcement>
  /** The input of BgpSpeaker.set. */
  readonly bgp: ReadonlyArray<PeerRoutes>
  /** Keyed by `protocol service`. */
  readonly announced: ReadonlyMap<string, ServiceAnnouncement>
  readonly failed: ReadonlyArray<AnnounceFailure>
  /** Per IP, the owner on each interface (for logs and debugging). */
  readonly owners: ReadonlyArray<L2Election.IpOwnership>
}

export const announcementKey = (a: { readonly protocol: Protocol; readonly service: string }): string =>
  `${a.protocol} ${a.service}`

const secondsOf = (ms: number | undefined) => (ms === undefined ? undefined : Math.round(ms / 1000))

/** A configured BGPPeer as the session layer takes it. */
export const peerConfig = (peer: Config.Peer): PeerConfig => {
  const hold = secondsOf(peer.holdTimeMs)
  const keepalive = secondsOf(peer.keepaliveTimeMs)
  const connect = secondsOf(peer.connectTimeMs)
  return {
    address: Ip.format(peer.address),
    ...(peer.port === 179 ? {} : { port: peer.port }),
    localAsn: peer.localASN ?? peer.myASN,
    peerAsn: peer.dynamicASN ?? peer.peerASN,
    ...(peer.routerID === undefined ? {} : { routerId: Ip.format(peer.routerID) }),
    ...(peer.sourceAddress === undefined ? {} : { sourceAddress: Ip.format(peer.sourceAddress) }),
    ...(peer.password === "" ? {} : { password: peer.password }),
    ...(hold === undefined ? {} : { holdTime: hold }),
    ...(keepalive === undefined ? {} : { keepaliveTime: keepalive }),
    ...(connect === undefined ? {} : { connectTime: connect }),
    ...(peer.ebgpMultiHop ? { ebgpMultiHop: true } : {}),
    // MetalLB's FRR modes announce a 120 s restart time.
    ...(peer.enableGracefulRestart ? { gracefulRestart: { restartTime: 120 } } : {})
  }
}

/** A BFDProfile as the BFD layer takes it (milliseconds → microseconds, RFC 5880 defaults). */
export const bfdConfig = (profile: Config.BfdProfile): BfdConfig => ({
  desiredMinTx: (profile.transmitInterval ?? 300) * 1000,
  requiredMinRx: (profile.receiveInterval ?? 300) * 1000,
  detectMult: profile.detectMultiplier ?? 3,
  passive: profile.passiveMode
})

/** A planned route as the BGP speaker takes it; undefined for a prefix it cannot parse (never from BgpDesired). */
export const bgpRoute = (route: BgpDesired.BgpRoute): Route | undefined => {
  const prefix = Prefix.parse(route.prefix)
  if (prefix._tag === "Failure") return undefined
  return {
    prefix: prefix.success,
    communities: route.communities.flatMap((c) => (c._tag === "Standard" ? [c.value] : [])),
    largeCommunities: route.communities.flatMap((c) =>
      c._tag === "Large" ? [{ globalAdmin: c.globalAdministrator, localData1: c.localData1, localData2: c.localData2 }] : []
    ),
    // 0 is "unset" in a BGPAdvertisement; the session sends its default on iBGP.
    localPref: route.localPref === 0 ? undefined : route.localPref,
    nextHop: undefined
  }
}

const bgpPeers = (config: Config.Config, plan: BgpDesired.BgpPlan): ReadonlyArray<PeerRoutes> =>
  config.peers.flatMap((peer) => {
    const routes = plan.routes.get(peer.name)
    if (routes === undefined) return []
    const profile = peer.bfdProfile === undefined ? undefined : config.bfdProfiles.find((p) => p.name === peer.bfdProfile)
    return [{
      peer: peerConfig(peer),
      ...(profile === undefined ? {} : { bfd: bfdConfig(profile) }),
      routes: routes.flatMap((r) => bgpRoute(r) ?? [])
    }]
  })

/** What this node announces, and how it reports it. Pure. */
export const desired = (inputs: Inputs): Desired => {
  const services = inputs.services.filter((s) => handlesClass(s, inputs.loadBalancerClass))
  const byKey = new Map(services.map((s) => [s.key, s]))
  const announced = new Map<string, ServiceAnnouncement>()
  const add = (a: ServiceAnnouncement) => announced.set(announcementKey(a), a)

  // Layer 2: Kubernetes-eligible candidates per IP, then the owner among the live ones on each interface.
  const l2Plan = L2Desired.plan({
    config: inputs.config,
    services,
    endpoints: inputs.endpoints,
    nodes: inputs.nodes,
    thisNode: inputs.thisNode,
    ignoreExcludeLB: inputs.ignoreExcludeLB
  })
  const election = L2Election.elect({
    self: inputs.thisNode,
    alive: inputs.alive,
    services: l2Plan.ips.flatMap((p) =>
      p.services.map((service) => ({
        service,
        ips: byKey.get(service)?.ingressIPs ?? p.ips,
        eligible: p.candidates,
        interfaces: p.interfaces
      })))
  })
  const mine = new Set(election.announcements.map((a) => a.ip))
  const failed: Array<AnnounceFailure> = []
  for (const p of l2Plan.ips) {
    for (const service of p.services) {
      const ips = byKey.get(service)?.ingressIPs ?? p.ips
      if (ips.some((ip) => mine.has(ip))) {
        add({
          service,
          protocol: "layer2",
          ips,
          pool: p.pool,
          interfaces: p.interfaces === "all" ? undefined : [...p.interfaces].toSorted()
        })
        continue
      }
      // Elected somewhere but allowed on none of this node's interfaces: MetalLB's announceFailed.
      const won = election.ips.some((o) => ips.includes(o.ip) && [...o.owners.values()].includes(inputs.thisNode))
      const nowhere = p.interfaces !== "all" && ![...p.interfaces].some((i) => inputs.alive.has(i))
      if (won && nowhere) failed.push({ service, ip: ips[0] ?? p.ip })
    }
  }

  // BGP: routes per peer selecting this node; a Service is announced when it goes to at least one peer.
  const bgpPlan = BgpDesired.plan({
    config: inputs.config,
    services,
    endpoints: inputs.endpoints,
    node: inputs.nodes.get(inputs.thisNode),
    thisNode: inputs.thisNode,
    ignoreExcludeLB: inputs.ignoreExcludeLB
  })
  for (const [service, peers] of bgpPlan.servicePeers) {
    const view = byKey.get(service)
    if (view === undefined) continue
    add({
      service,
      protocol: "bgp",
      ips: view.ingressIPs,
      pool: L2Desired.poolOf(inputs.config, view.ingressIPs[0] ?? "")?.name ?? "",
      peers
    })
  }

  return { l2: election.announcements, bgp: bgpPeers(inputs.config, bgpPlan), announced, failed, owners: election.ips }
}

/** What changed between two reconciles: the announcements to report as new, and those withdrawn. */
export interface Changes {
  readonly added: ReadonlyArray<ServiceAnnouncement>
  readonly withdrawn: ReadonlyArray<ServiceAnnouncement>
  /** Still announced, with other IPs, interfaces or peers. */
  readonly changed: ReadonlyArray<ServiceAnnouncement>
}

const sameList = (a: ReadonlyArray<string> | undefined, b: ReadonlyArray<string> | undefined) =>
  a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]))

export const sameAnnouncement = (a: ServiceAnnouncement, b: ServiceAnnouncement): boolean =>
  a.pool === b.pool && sameList(a.ips, b.ips) && sameList(a.interfaces, b.interfaces) && sameList(a.peers, b.peers)

export const diff = (
  before: ReadonlyMap<string, ServiceAnnouncement>,
  after: ReadonlyMap<string, ServiceAnnouncement>
): Changes => ({
  added: [...after].flatMap(([k, a]) => (before.has(k) ? [] : [a])),
  withdrawn: [...before].flatMap(([k, a]) => (after.has(k) ? [] : [a])),
  changed: [...after].flatMap(([k, a]) => {
    const b = before.get(k)
    return b !== undefined && !sameAnnouncement(a, b) ? [a] : []
  })
})
