/**
 * Per service IP, which node answers for it on each announcing interface (docs/design/l2-liveness.md §2):
 *
 *   candidates(ip, I) = nodes eligible per Kubernetes ∩ candidates of the liveness view on I
 *   owner(ip, I)      = the first of candidates(ip, I) in MetalLB's ranking (OwnerRanking)
 *
 * The Kubernetes side (applicable L2Advertisements and their node selectors, NetworkUnavailable, the exclude label,
 * ready endpoints for `externalTrafficPolicy: Local`) arrives already resolved as each service's eligible nodes.
 * Services sharing an IP are merged first, so an IP always has one owner: its ranking key is the smallest key among
 * the services announcing it (a service's key is its first ingress IP, so both IPs of a dual-stack service land
 * on one node), its candidates the union of their eligible nodes (the highest weight wins) and its interfaces the
 * union of the interfaces their advertisements allow on this node.
 *
 * Pure: every speaker with the same inputs computes the same owners.
 *
 * @since 0.1.0
 */
import type { L2Announcement } from "../layer2/Layer2Speaker.ts"
import * as OwnerRanking from "./OwnerRanking.ts"

export interface ServiceInput {
  /** `namespace/name`, for status and logs. */
  readonly service: string
  /** Ingress IPs in status order, canonical text; the first is the ranking key. */
  readonly ips: ReadonlyArray<string>
  /** Nodes Kubernetes allows to announce it, with their preferred-node weight. */
  readonly eligible: ReadonlyArray<OwnerRanking.Candidate>
  /** Interfaces the advertisements allow on this node ("all" when one of them names none). */
  readonly interfaces: "all" | ReadonlySet<string>
}

export interface ElectionInput {
  readonly self: string
  readonly services: ReadonlyArray<ServiceInput>
  /** Per announcing interface, the liveness candidates there (self included when it counts). */
  readonly alive: ReadonlyMap<string, ReadonlySet<string>>
}

export interface IpOwnership {
  readonly ip: string
  readonly services: ReadonlyArray<string>
  /** The owner on each announcing interface (`undefined`: no live eligible node there). */
  readonly owners: ReadonlyMap<string, string | undefined>
}

export interface ElectionResult {
  /** What this node answers for, and where: the input of Layer2Speaker.set. */
  readonly announcements: ReadonlyArray<L2Announcement>
  readonly ips: ReadonlyArray<IpOwnership>
}

interface Merged {
  key: string
  services: Array<string>
  eligible: Map<string, number>
  interfaces: "all" | Set<string>
}

const merge = (services: ReadonlyArray<ServiceInput>): Map<string, Merged> => {
  const byIp = new Map<string, Merged>()
  for (const s of services.toSorted((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0))) {
    const key = s.ips[0]
    if (key === undefined) continue
    for (const ip of new Set(s.ips)) {
      let m = byIp.get(ip)
      if (m === undefined) {
        m = { key, services: [], eligible: new Map(), interfaces: new Set() }
        byIp.set(ip, m)
      }
      if (key < m.key) m.key = key
      m.services.push(s.service)
      for (const c of s.eligible) m.eligible.set(c.node, Math.max(c.weight, m.eligible.get(c.node) ?? -Infinity))
      if (s.interfaces === "all" || m.interfaces === "all") m.interfaces = "all"
      else for (const i of s.interfaces) m.interfaces.add(i)
    }
  }
  return byIp
}

/** The owner of every IP on every interface, and what `self` announces. */
export const elect = (input: ElectionInput): ElectionResult => {
  const merged = merge(input.services)
  const announcements: Array<L2Announcement> = []
  const ips: Array<IpOwnership> = []
  for (const ip of [...merged.keys()].toSorted()) {
    const m = merged.get(ip)
    if (m === undefined) continue
    const owners = new Map<string, string | undefined>()
    const mine = new Set<string>()
    for (const [iface, alive] of input.alive) {
      const candidates = [...m.eligible].filter(([node]) => alive.has(node)).map(([node, weight]) => ({ node, weight }))
      const owner = OwnerRanking.owner(m.key, candidates)
      owners.set(iface, owner)
      if (owner === input.self && (m.interfaces === "all" || m.interfaces.has(iface))) mine.add(iface)
    }
    ips.push({ ip, services: m.services, owners })
    if (mine.size > 0) announcements.push({ ip, interfaces: mine })
  }
  return { announcements, ips }
}
