/**
 * The routing table of the sandbox router ({@link ./BgpRouter.ts}) as plain values: the paths received per prefix per
 * peer, best-path and multipath selection, and the router-like text views ("show bgp summary", "show bgp ipv4
 * unicast"). Pure: the router feeds it, tests and the sandbox read it.
 *
 * @since 0.1.0
 */
import { formatCommunity, formatLargeCommunity } from "../bgp/Attributes.ts"
import type { AsPathSegment, PathAttribute } from "../bgp/Message.ts"
import { AsPathSegmentType, Origin } from "../bgp/Message.ts"
import * as Prefix from "../bgp/Prefix.ts"

export type OriginName = "igp" | "egp" | "incomplete"

/** One path to a prefix as one peer announced it. */
export interface RibPath {
  readonly prefix: string
  /** The peer's address (the session's remote address). */
  readonly peer: string
  readonly peerAs: number
  readonly peerRouterId: string
  /** iBGP (the peer is in the router's AS). */
  readonly internal: boolean
  readonly nextHop: string
  /** AS numbers in order; an AS_SET counts as one hop for path length but is listed in full. */
  readonly asPath: ReadonlyArray<number>
  readonly asPathLength: number
  readonly origin: OriginName
  readonly med: number | undefined
  readonly localPref: number | undefined
  readonly communities: ReadonlyArray<string>
  readonly largeCommunities: ReadonlyArray<string>
  /** Kept for a peer that went away with graceful restart; dropped at its End-of-RIB or when the restart time ends. */
  readonly stale: boolean
}

export interface SelectedPath extends RibPath {
  readonly best: boolean
  /** Equal to the best path for ECMP (local-pref, AS path length, origin, MED); the best path is also multipath. */
  readonly multipath: boolean
}

export interface RibEntry {
  readonly prefix: string
  /** Best first, then the other multipaths, then the rest. */
  readonly paths: ReadonlyArray<SelectedPath>
}

export type SessionState = "Idle" | "Active" | "OpenSent" | "OpenConfirm" | "Established"

export interface RibSession {
  readonly peer: string
  readonly remotePort: number | undefined
  readonly localAddress: string | undefined
  readonly state: SessionState
  readonly peerAs: number | undefined
  readonly peerRouterId: string | undefined
  readonly holdTime: number | undefined
  /** Clock milliseconds of the last change into or out of Established. */
  readonly upDownSince: number
  readonly messagesReceived: number
  readonly messagesSent: number
  /** Prefixes this peer has paths for (stale included). */
  readonly prefixesReceived: number
  /** Families (`ipv4-unicast`, `ipv6-unicast`) whose End-of-RIB arrived in this session. */
  readonly endOfRib: ReadonlyArray<string>
  /** Why the session last went down, or why a connection was refused. */
  readonly lastError: string | undefined
}

export interface RouterSnapshot {
  readonly asn: number
  readonly routerId: string
  /** Clock milliseconds when the snapshot was taken (for Up/Down columns). */
  readonly now: number
  readonly sessions: ReadonlyArray<RibSession>
  readonly routes: ReadonlyArray<RibEntry>
}

// ---------------------------------------------------------------------------------------------------------------
// From attributes to a path

const originNames: Record<number, OriginName> = { [Origin.Igp]: "igp", [Origin.Egp]: "egp", [Origin.Incomplete]: "incomplete" }

const flatten = (segments: ReadonlyArray<AsPathSegment>): { asns: Array<number>; length: number } => {
  const asns: Array<number> = []
  let length = 0
  for (const segment of segments) {
    asns.push(...segment.asns)
    // RFC 4271 §9.1.2.2: an AS_SET counts 1; confederation segments do not count.
    if (segment.type === AsPathSegmentType.AsSequence) length += segment.asns.length
    else if (segment.type === AsPathSegmentType.AsSet) length += 1
  }
  return { asns, length }
}

/**
 * The attributes of a path, as the table keeps them. Without 4-octet AS on the session, AS4_PATH replaces the
 * AS_PATH when present (RFC 6793 §4.2.3, simplified: the sandbox's peers never mix old and new speakers).
 */
export const pathAttributes = (
  attributes: ReadonlyArray<PathAttribute>
): Omit<RibPath, "prefix" | "peer" | "peerAs" | "peerRouterId" | "internal" | "nextHop" | "stale"> => {
  let segments: ReadonlyArray<AsPathSegment> = []
  let as4: ReadonlyArray<AsPathSegment> | undefined
  let origin: OriginName = "incomplete"
  let med: number | undefined
  let localPref: number | undefined
  const communities: Array<string> = []
  const largeCommunities: Array<string> = []
  for (const attribute of attributes) {
    switch (attribute._tag) {
      case "AsPath":
        segments = attribute.segments
        break
      case "As4Path":
        as4 = attribute.segments
        break
      case "Origin":
        origin = originNames[attribute.value] ?? "incomplete"
        break
      case "MultiExitDisc":
        med = attribute.value
        break
      case "LocalPref":
        localPref = attribute.value
        break
      case "Communities":
        communities.push(...attribute.values.map(formatCommunity))
        break
      case "LargeCommunities":
        largeCommunities.push(...attribute.values.map(formatLargeCommunity))
        break
      default:
        break
    }
  }
  const { asns, length } = flatten(as4 ?? segments)
  return { asPath: asns, asPathLength: length, origin, med, localPref, communities, largeCommunities }
}

/** The next hop of a path: MP_REACH_NLRI's for its prefixes, else NEXT_HOP. */
export const nextHopOf = (attributes: ReadonlyArray<PathAttribute>, family: 4 | 6): string | undefined => {
  for (const attribute of attributes) {
    if (attribute._tag === "MpReachNlri" && (attribute.afi === 1 ? 4 : 6) === family) {
      const hop = attribute.nextHop
      return Prefix.formatAddress(hop.length === 4 ? hop : hop.subarray(0, 16))
    }
  }
  for (const attribute of attributes) {
    if (attribute._tag === "NextHop") return Prefix.formatAddress(attribute.address)
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------------------------
// Selection

const originRank: Record<OriginName, number> = { igp: 0, egp: 1, incomplete: 2 }

const ipKey = (address: string): Array<number> => {
  const parsed = Prefix.parseAddress(address)
  return parsed === undefined ? [] : [...parsed.bytes]
}

const compareBytes = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0)
    if (d !== 0) return d
  }
  return a.length - b.length
}

/** Byte order of two addresses (IPv4 before IPv6). */
export const compareAddresses = (a: string, b: string): number => compareBytes(ipKey(a), ipKey(b))

/** The attributes that must be equal for two paths to share the traffic (FRR with as-path multipath-relax). */
const ecmpKey = (path: RibPath): ReadonlyArray<number> => [
  -(path.localPref ?? 100),
  path.asPathLength,
  originRank[path.origin],
  path.med ?? 0
]

/**
 * RFC 4271 §9.1.2 order, simplified for a route server that never forwards: higher local-pref, shorter AS path,
 * lower origin, lower MED, eBGP over iBGP, lower router ID, lower peer address. Negative when `a` is better.
 */
export const comparePaths = (a: RibPath, b: RibPath): number => {
  const ka = ecmpKey(a)
  const kb = ecmpKey(b)
  const byAttributes = compareBytes(ka, kb)
  if (byAttributes !== 0) return byAttributes
  if (a.internal !== b.internal) return a.internal ? 1 : -1
  return compareBytes(ipKey(a.peerRouterId), ipKey(b.peerRouterId)) || compareBytes(ipKey(a.peer), ipKey(b.peer))
}

/** Marks the best path and the multipaths of one prefix; best first. Independent of the input order. */
export const select = (paths: ReadonlyArray<RibPath>): ReadonlyArray<SelectedPath> => {
  const sorted = paths.toSorted(comparePaths)
  const best = sorted[0]
  if (best === undefined) return []
  const bestKey = ecmpKey(best)
  return sorted.map((path, i) => ({
    ...path,
    best: i === 0,
    multipath: compareBytes(ecmpKey(path), bestKey) === 0
  }))
}

/** The address-ordered table of every prefix with at least one path. */
export const table = (byPrefix: ReadonlyMap<string, ReadonlyMap<string, RibPath>>): ReadonlyArray<RibEntry> => {
  const entries: Array<RibEntry> = []
  for (const [prefix, paths] of byPrefix) {
    if (paths.size > 0) entries.push({ prefix, paths: select([...paths.values()]) })
  }
  return entries.toSorted((a, b) => comparePrefixes(a.prefix, b.prefix))
}

const comparePrefixes = (a: string, b: string): number => {
  const [aa = "", al = "0"] = a.split("/")
  const [ba = "", bl = "0"] = b.split("/")
  const pa = Prefix.parseAddress(aa)
  const pb = Prefix.parseAddress(ba)
  const fa = pa?.family ?? 0
  const fb = pb?.family ?? 0
  if (fa !== fb) return fa - fb
  return compareBytes(ipKey(aa), ipKey(ba)) || Number(al) - Number(bl)
}

// ---------------------------------------------------------------------------------------------------------------
// Views

const upDown = (ms: number): string => {
  const total = Math.max(0, Math.floor(ms / 1000))
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  return [h, m, s].map((n) => String(n).padStart(2, "0")).join(":")
}

/** "show bgp summary": one line per neighbour, prefix count when Established, the state otherwise. */
export const renderSummary = (snapshot: RouterSnapshot): string => {
  const lines = [
    `BGP router identifier ${snapshot.routerId}, local AS number ${snapshot.asn}`,
    `Peers ${snapshot.sessions.length}, established ${snapshot.sessions.filter((s) => s.state === "Established").length}`,
    "",
    `${"Neighbor".padEnd(16)}V ${"AS".padStart(10)} ${"MsgRcvd".padStart(8)} ${"MsgSent".padStart(8)} ${"Up/Down".padStart(9)} State/PfxRcd`
  ]
  for (const s of snapshot.sessions) {
    const state = s.state === "Established" ? String(s.prefixesReceived) : s.state
    lines.push(
      `${s.peer.padEnd(16)}4 ${String(s.peerAs ?? "-").padStart(10)} ${String(s.messagesReceived).padStart(8)} ${
        String(s.messagesSent).padStart(8)
      } ${upDown(snapshot.now - s.upDownSince).padStart(9)} ${state}`
    )
  }
  return `${lines.join("\n")}\n`
}

const originCode: Record<OriginName, string> = { igp: "i", egp: "e", incomplete: "?" }

/** "show bgp ipv4 unicast" (or ipv6): every path, `*>` best, `*=` multipath, `S` stale, with the AS path and communities. */
export const renderRoutes = (snapshot: RouterSnapshot, family: 4 | 6 = 4): string => {
  const entries = snapshot.routes.filter((entry) => (entry.prefix.includes(":") ? 6 : 4) === family)
  const lines = [
    `BGP table, local router ID is ${snapshot.routerId}, local AS ${snapshot.asn}`,
    "Status codes: S stale, * valid, > best, = multipath",
    "",
    `    ${"Network".padEnd(20)} ${"Next Hop".padEnd(18)} ${"LocPrf".padStart(6)} ${"Peer".padEnd(16)} Path / Communities`
  ]
  for (const entry of entries) {
    entry.paths.forEach((path, i) => {
      const status = `${path.stale ? "S" : " "}*${path.best ? ">" : path.multipath ? "=" : " "}`
      const communities = [...path.communities, ...path.largeCommunities]
      const tail = `${[...path.asPath, originCode[path.origin]].join(" ")}${communities.length > 0 ? `  [${communities.join(" ")}]` : ""}`
      lines.push(
        `${status} ${(i === 0 ? entry.prefix : "").padEnd(20)} ${path.nextHop.padEnd(18)} ${
          String(path.localPref ?? "").padStart(6)
        } ${path.peer.padEnd(16)} ${tail}`
      )
    })
  }
  const paths = entries.reduce((n, entry) => n + entry.paths.length, 0)
  lines.push("", `Displayed ${entries.length} routes and ${paths} total paths`)
  return `${lines.join("\n")}\n`
}
