/**
 * The per-peer RIB-out: the routes a peer should carry (computed elsewhere from the configuration), diffed against
 * what was advertised on the current connection and sent as packed UPDATEs (many NLRI per message, withdrawals
 * likewise). Each new Established connection gets the full RIB-out followed by End-of-RIB per family (RFC 4724),
 * which also ends a peer's graceful-restart helper mode after we restarted.
 *
 * Attributes follow MetalLB: ORIGIN IGP, AS_PATH empty on iBGP and our AS on eBGP, NEXT_HOP the session's local
 * address unless a route names one, LOCAL_PREF on iBGP only, COMMUNITIES and LARGE_COMMUNITY sorted.
 *
 * @since 0.1.0
 */
import { Context, Effect, Exit, Layer, Option, Result, Schema, Scope, Stream, SubscriptionRef } from "effect"
import * as Metrics from "../observability/Metrics.ts"
import { Bfd } from "./Bfd.ts"
import type * as BfdFsm from "./BfdFsm.ts"
import * as BgpSession from "./BgpSession.ts"
import * as Attributes from "./Attributes.ts"
import * as Codec from "./Codec.ts"
import { CeaseSubcode } from "./Notification.ts"
import type { LargeCommunity, PathAttribute, UpdateMessage } from "./Message.ts"
import { Afi, Origin, Safi } from "./Message.ts"
import * as Prefix from "./Prefix.ts"
import * as UpdatePacker from "./UpdatePacker.ts"

// ---------------------------------------------------------------------------------------------------------------
// Routes (pure)

/** One route to announce to a peer. */
export interface Route {
  readonly prefix: Prefix.Prefix
  /** RFC 1997 communities as 32-bit values. */
  readonly communities: ReadonlyArray<number>
  readonly largeCommunities: ReadonlyArray<LargeCommunity>
  /** Sent on iBGP only; 100 when unset (what FRR, MetalLB's default backend, sends). */
  readonly localPref: number | undefined
  /** Default: the session's local address. */
  readonly nextHop: string | undefined
}

export class RouteError extends Schema.TaggedError<RouteError>()("RouteError", {
  field: Schema.String,
  message: Schema.String
}) {}

/** Builds a route from text (`203.0.113.10/32`, `65000:100`, `64500:1:2`), naming the field that is wrong. */
export const parseRoute = (input: {
  readonly prefix: string
  readonly communities?: ReadonlyArray<string>
  readonly largeCommunities?: ReadonlyArray<string>
  readonly localPref?: number
  readonly nextHop?: string
}): Result.Result<Route, RouteError> => {
  const prefix = Prefix.parse(input.prefix)
  if (Result.isFailure(prefix)) return Result.fail(new RouteError({ field: "prefix", message: `"${input.prefix}": ${prefix.failure}` }))
  const communities: Array<number> = []
  for (const text of input.communities ?? []) {
    const value = Attributes.parseCommunity(text)
    if (value === undefined) return Result.fail(new RouteError({ field: "communities", message: `"${text}" is not a community (AA:NN)` }))
    communities.push(value)
  }
  const largeCommunities: Array<LargeCommunity> = []
  for (const text of input.largeCommunities ?? []) {
    const value = Attributes.parseLargeCommunity(text)
    if (value === undefined) {
      return Result.fail(new RouteError({ field: "largeCommunities", message: `"${text}" is not a large community (A:B:C)` }))
    }
    largeCommunities.push(value)
  }
  const lp = input.localPref
  if (lp !== undefined && (!Number.isInteger(lp) || lp < 0 || lp > 0xffffffff)) {
    return Result.fail(new RouteError({ field: "localPref", message: `${lp} is not a 32-bit unsigned integer` }))
  }
  if (input.nextHop !== undefined && Prefix.parseAddress(input.nextHop) === undefined) {
    return Result.fail(new RouteError({ field: "nextHop", message: `"${input.nextHop}" is not an IP address` }))
  }
  return Result.succeed({
    prefix: prefix.success,
    communities,
    largeCommunities,
    localPref: lp,
    nextHop: input.nextHop
  })
}

export const routeKey = (route: Route): string => Prefix.format(route.prefix)

const compareLarge = (a: LargeCommunity, b: LargeCommunity) =>
  a.globalAdmin - b.globalAdmin || a.localData1 - b.localData1 || a.localData2 - b.localData2

const attributeKeys = new WeakMap<Route, string>()

/**
 * Routes with the same attributes share a key, so they can share UPDATEs. Cached per route object: the RIB-out keeps
 * its route objects, so a full re-announce of thousands of routes does not recompute them.
 */
export const attributeKey = (route: Route): string => {
  const cached = attributeKeys.get(route)
  if (cached !== undefined) return cached
  const communities = route.communities.length === 0 ? "" : [...new Set(route.communities)].toSorted((a, b) => a - b).join(",")
  const large = route.largeCommunities.length === 0
    ? ""
    : route.largeCommunities.toSorted(compareLarge).map(Attributes.formatLargeCommunity).join(",")
  const key = `${communities}|${large}|${route.localPref ?? ""}|${route.nextHop ?? ""}`
  attributeKeys.set(route, key)
  return key
}

/**
 * Merges duplicate prefixes (aggregation, shared IPs) as MetalLB does: communities unioned, first localPref kept.
 */
export const mergeRoutes = (routes: ReadonlyArray<Route>): Map<string, Route> => {
  const out = new Map<string, Route>()
  for (const route of routes) {
    const key = routeKey(route)
    const seen = out.get(key)
    if (seen === undefined) {
      out.set(key, route)
      attributeKey(route) // computed now, while no session waits for it
      continue
    }
    const large = new Map([...seen.largeCommunities, ...route.largeCommunities].map((c) => [Attributes.formatLargeCommunity(c), c]))
    const merged: Route = {
      ...seen,
      communities: [...new Set([...seen.communities, ...route.communities])],
      largeCommunities: [...large.values()],
      localPref: seen.localPref ?? route.localPref,
      nextHop: seen.nextHop ?? route.nextHop
    }
    out.set(key, merged)
    attributeKey(merged)
  }
  return out
}

export interface Plan {
  /** Routes to (re-)announce: new ones and ones whose attributes changed (an implicit withdraw). */
  readonly announce: ReadonlyArray<Route>
  readonly withdraw: ReadonlyArray<Prefix.Prefix>
}

/** What to send to go from `advertised` to `desired`. */
export const plan = (advertised: ReadonlyMap<string, Route>, desired: ReadonlyMap<string, Route>): Plan => {
  const announce: Array<Route> = []
  const withdraw: Array<Prefix.Prefix> = []
  for (const [key, route] of desired) {
    const before = advertised.get(key)
    if (before === undefined || attributeKey(before) !== attributeKey(route)) announce.push(route)
  }
  for (const [key, route] of advertised) if (!desired.has(key)) withdraw.push(route.prefix)
  return { announce, withdraw }
}

/** What the UPDATEs depend on: the Established connection. */
export interface SessionFacts {
  readonly localAsn: number
  readonly internal: boolean
  readonly fourOctetAs: boolean
  readonly localAddress: string
  readonly families: ReadonlyArray<{ readonly afi: number; readonly safi: number }>
}

const familyOf = (prefix: Prefix.Prefix) => (prefix.family === 4 ? Afi.Ipv4 : Afi.Ipv6)

/**
 * Whether the session can carry the route: the peer negotiated its family, and an IPv4 route has an IPv4 next hop
 * (an IPv4 route over an IPv6 session needs one configured: RFC 8950 extended next hops are not negotiated).
 */
export const carries = (facts: SessionFacts, route: Route): boolean => {
  if (!facts.families.some((f) => f.afi === familyOf(route.prefix) && f.safi === Safi.Unicast)) return false
  if (route.prefix.family === 6) return true
  const hop = route.nextHop ?? facts.localAddress.replace(/^::ffff:(?=\d+\.)/, "")
  return Prefix.parseAddress(hop)?.family === 4
}

const mappedIpv6 = (ipv4: Uint8Array): Uint8Array => {
  const out = new Uint8Array(16)
  out[10] = 0xff
  out[11] = 0xff
  out.set(ipv4, 12)
  return out
}

/** Path attributes of a route on a session, without NEXT_HOP / MP_* (the packer adds those). */
export const pathAttributes = (facts: SessionFacts, route: Route): Array<PathAttribute> => {
  const attributes: Array<PathAttribute> = [
    { _tag: "Origin", value: Origin.Igp },
    ...Attributes.asPathAttributes(facts.internal ? [] : [facts.localAsn], facts.fourOctetAs)
  ]
  if (facts.internal) attributes.push({ _tag: "LocalPref", value: route.localPref ?? 100 })
  const communities = [...new Set(route.communities)].toSorted((a, b) => a - b)
  if (communities.length > 0) attributes.push({ _tag: "Communities", values: communities })
  if (route.largeCommunities.length > 0) {
    attributes.push({ _tag: "LargeCommunities", values: route.largeCommunities.toSorted(compareLarge) })
  }
  return attributes
}

/**
 * The UPDATEs for a plan: withdrawals first (packed), then announcements grouped by attributes (packed). IPv4 goes
 * in the classic fields on an IPv4 session and in MP_REACH/MP_UNREACH on an IPv6 one; IPv6 always in MP_*.
 * An IPv6 route over an IPv4 session gets the IPv4-mapped local address as next hop.
 */
export const buildUpdates = (facts: SessionFacts, p: Plan): Result.Result<Array<UpdateMessage>, UpdatePacker.BgpPackError> => {
  const local = Prefix.parseAddress(facts.localAddress.replace(/^::ffff:(?=\d+\.)/, ""))
  const ipv6Session = local?.family === 6
  const options: UpdatePacker.PackOptions = { fourOctetAs: facts.fourOctetAs, ipv4InMpReach: ipv6Session }
  const messages: Array<UpdateMessage> = UpdatePacker.packWithdrawals(p.withdraw, options)
  const groups = new Map<string, Array<Route>>()
  for (const route of p.announce) {
    const key = attributeKey(route)
    const group = groups.get(key)
    if (group === undefined) groups.set(key, [route])
    else group.push(route)
  }
  for (const routes of groups.values()) {
    const first = routes[0]
    if (first === undefined) continue
    const explicit = first.nextHop === undefined ? undefined : Prefix.parseAddress(first.nextHop)
    const hop = explicit ?? local
    const nextHopIpv4 = hop?.family === 4 ? hop.bytes : undefined
    const nextHopIpv6 = hop === undefined ? undefined : hop.family === 6 ? hop.bytes : mappedIpv6(hop.bytes)
    const packed = UpdatePacker.packAnnouncements(
      routes.map((r) => r.prefix),
      {
        attributes: pathAttributes(facts, first),
        ...(nextHopIpv4 === undefined ? {} : { nextHopIpv4 }),
        ...(nextHopIpv6 === undefined ? {} : { nextHopIpv6 })
      },
      options
    )
    if (Result.isFailure(packed)) return Result.fail(packed.failure)
    messages.push(...packed.success)
  }
  return Result.succeed(messages)
}

// ---------------------------------------------------------------------------------------------------------------
// The RIB-out of one session

export interface PeerRib {
  readonly session: BgpSession.Session
  /** Replaces the routes this peer should carry. */
  readonly setRoutes: (routes: ReadonlyArray<Route>) => Effect.Effect<void>
  /** Prefixes advertised on the current connection (0 while the session is down). */
  readonly advertised: SubscriptionRef.SubscriptionRef<number>
}

/**
 * Keeps a session's RIB-out in line with the desired routes. One fiber reacts to changes of either the desired
 * routes or the session status: a new Established connection (or a ROUTE-REFRESH) gets everything plus End-of-RIB,
 * otherwise only the difference is sent.
 */
export const attach = (session: BgpSession.Session): Effect.Effect<PeerRib, never, Scope.Scope> =>
  Effect.gen(function*() {
    const labels = { peer: session.peer }
    // Undefined until the first setRoutes: until then nothing is sent, not even End-of-RIB, which would make a
    // graceful-restart helper flush the routes it kept for us.
    const desired = yield* SubscriptionRef.make<ReadonlyMap<string, Route> | undefined>(undefined)
    const advertisedCount = yield* SubscriptionRef.make(0)
    let advertised = new Map<string, Route>()
    let synced: { connection: number; refresh: number } | undefined

    const sync = Effect.gen(function*() {
      const wanted = yield* SubscriptionRef.get(desired)
      const status = yield* SubscriptionRef.get(session.status)
      const want = wanted ?? new Map<string, Route>()
      yield* Metrics.update(Metrics.bgpPendingPrefixes, labels, want.size)
      const up = status.established
      if (up === undefined || wanted === undefined) {
        advertised = new Map()
        synced = undefined
        yield* SubscriptionRef.set(advertisedCount, 0)
        yield* Metrics.update(Metrics.bgpAnnouncedPrefixes, labels, 0)
        return
      }
      const facts: SessionFacts = {
        localAsn: session.config.localAsn,
        internal: up.internal,
        fourOctetAs: up.fourOctetAs,
        localAddress: up.localAddress,
        families: up.families
      }
      const full = synced === undefined || synced.connection !== up.connection || synced.refresh !== up.refreshRequests
      const base = full ? new Map<string, Route>() : advertised
      const target = new Map([...want].filter(([, route]) => carries(facts, route)))
      const updates = buildUpdates(facts, plan(base, target))
      if (Result.isFailure(updates)) {
        yield* Effect.logError(`cannot build UPDATEs: ${updates.failure.message}`).pipe(Effect.annotateLogs(labels))
        return
      }
      const eor = full ? up.families.map((f) => Codec.endOfRib(f.afi, f.safi)) : []
      const sent = yield* session.sendUpdates(up.connection, [...updates.success, ...eor])
      if (!sent) return // the connection went away meanwhile; the status change brings us back here
      advertised = target
      synced = { connection: up.connection, refresh: up.refreshRequests }
      yield* SubscriptionRef.set(advertisedCount, target.size)
      yield* Metrics.update(Metrics.bgpAnnouncedPrefixes, labels, target.size)
    })

    const changes = Stream.merge(
      Stream.map(SubscriptionRef.changes(desired), () => undefined),
      Stream.map(SubscriptionRef.changes(session.status), () => undefined)
    )
    yield* changes.pipe(Stream.runForEach(() => sync), Effect.forkScoped)
    yield* Effect.addFinalizer(() =>
      Effect.all([Metrics.remove(Metrics.bgpAnnouncedPrefixes, labels), Metrics.remove(Metrics.bgpPendingPrefixes, labels)])
    )

    return {
      session,
      setRoutes: (routes) => SubscriptionRef.set(desired, mergeRoutes(routes)),
      advertised: advertisedCount
    } satisfies PeerRib
  })

// ---------------------------------------------------------------------------------------------------------------
// The speaker: sessions for the configured peers and their RIB-outs

/** One configured peer and the routes it should carry. */
export interface PeerRoutes {
  readonly peer: BgpSession.PeerConfig
  /** A BFD profile for the peer: opens a BFD session (needs the Bfd service). */
  readonly bfd?: BfdFsm.BfdConfig
  readonly routes: ReadonlyArray<Route>
}

interface Running {
  readonly config: Omit<PeerRoutes, "routes">
  readonly scope: Scope.Closeable
  readonly rib: PeerRib
}

/** `address:port` (`[address]:port` for IPv6), as the `peer` metric label. */
export const peerKey = (peer: BgpSession.PeerConfig): string =>
  peer.address.includes(":") ? `[${peer.address}]:${peer.port ?? 179}` : `${peer.address}:${peer.port ?? 179}`

export class BgpSpeaker extends Context.Service<BgpSpeaker, {
  /**
   * Makes the sessions and routes match `peers`: new peers get a session, removed peers are closed (Cease), a peer
   * whose configuration changed is closed and opened again (as MetalLB does), routes are diffed per peer.
   */
  readonly set: (peers: ReadonlyArray<PeerRoutes>) => Effect.Effect<void, BgpSession.BgpSessionError>
  /** Sessions by `address:port`. */
  readonly peers: Effect.Effect<ReadonlyMap<string, PeerRib>>
}>()("metallb/bgp/BgpSpeaker") {
  static readonly layer: Layer.Layer<BgpSpeaker, never, BgpSession.BgpSession> = Layer.effect(
    BgpSpeaker,
    Effect.gen(function*() {
      const sessions = yield* BgpSession.BgpSession
      const bfd = yield* Effect.serviceOption(Bfd)
      const parent = yield* Effect.scope
      const running = new Map<string, Running>()

      const start = (entry: PeerRoutes) =>
        Effect.gen(function*() {
          const scope = yield* Scope.fork(parent)
          const opened = Effect.gen(function*() {
            const handle = entry.bfd === undefined || Option.isNone(bfd)
              ? undefined
              : yield* bfd.value.open({
                address: entry.peer.address,
                ...(entry.peer.sourceAddress === undefined ? {} : { localAddress: entry.peer.sourceAddress }),
                config: entry.bfd
              }).pipe(
                Effect.tapError((e) => Effect.logError(`BFD session not opened: ${e.message}`)),
                Effect.option,
                Effect.map(Option.getOrUndefined)
              )
            const session = yield* sessions.open(handle === undefined ? entry.peer : { ...entry.peer, bfd: handle })
            return yield* attach(session)
          }).pipe(Scope.provide(scope))
          const rib = yield* opened.pipe(Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause))))
          const { routes: _, ...config } = entry
          return { config, scope, rib } satisfies Running
        })

      const set = (peers: ReadonlyArray<PeerRoutes>) =>
        Effect.gen(function*() {
          const wanted = new Map(peers.map((p) => [peerKey(p.peer), p]))
          for (const [key, r] of running) {
            const next = wanted.get(key)
            const { routes: _, ...config } = next ?? { routes: [] }
            if (next === undefined || !sameConfig(config, r.config)) {
              running.delete(key)
              // RFC 4486: the peer learns why (and a GR helper does not keep our routes).
              yield* r.rib.session.stop(next === undefined ? CeaseSubcode.PeerDeconfigured : CeaseSubcode.OtherConfigurationChange)
              yield* Scope.close(r.scope, Exit.void)
            }
          }
          for (const [key, entry] of wanted) {
            let r = running.get(key)
            if (r === undefined) {
              r = yield* start(entry)
              running.set(key, r)
            }
            yield* r.rib.setRoutes(entry.routes)
          }
        })

      yield* Effect.addFinalizer(() =>
        Effect.forEach([...running.values()], (r) => Scope.close(r.scope, Exit.void), { concurrency: "unbounded", discard: true })
      )

      return BgpSpeaker.of({
        set,
        peers: Effect.sync(() => new Map([...running].map(([key, r]) => [key, r.rib])))
      })
    })
  )
}

/** Deep equality of peer configurations (MetalLB closes and reopens a session on any change). */
const sameConfig = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined)
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined)
  if (ka.length !== kb.length) return false
  return ka.every((k) => sameConfig((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
}
