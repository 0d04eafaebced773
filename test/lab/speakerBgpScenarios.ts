// The scenarios the speaker BGP labs run against each router (BIRD 2, GoBGP 3): three nodes running the real
// `metallb speaker`, configured only through the API server, and what the router must then hold. A router lab
// supplies its configuration and a `RouterView` (its RIB and sessions, read through routerRib.ts).
import { assert } from "@effect/vitest"
import { Effect, type Scope } from "effect"
import type { JsonObject } from "../../src/testing/apiserver/Json.ts"
import type * as Netns from "../../src/testing/Netns.ts"
import { eventually, notYet, throughout } from "./bgpLab.ts"
import * as Objects from "./bgpObjects.ts"
import * as Rib from "./routerRib.ts"
import * as SpeakerLab from "./speakerLab.ts"

export const nodes = { n1: 11, n2: 12, n3: 13 } as const
export type NodeName = keyof typeof nodes
export const names = Object.keys(nodes) as ReadonlyArray<NodeName>
export const v4 = (n: NodeName): string => `192.0.2.${nodes[n]}`
export const v6 = (n: NodeName): string => `2001:db8:0:1::${nodes[n]}`
const hopOf = (prefix: string) => (prefix.includes(":") ? v6 : v4)

/** What a scenario reads from the router. */
export interface RouterView {
  readonly name: string
  readonly paths: (prefix: string) => Effect.Effect<ReadonlyArray<Rib.RibPath>, Netns.LabError>
  /** Session state by neighbour address (`Established`, ...). */
  readonly sessions: Effect.Effect<ReadonlyMap<string, string>, Netns.LabError>
}

export type Lab = SpeakerLab.SpeakerLab<NodeName> & { readonly others: Record<"rtr", Netns.Host> }

export interface Running<R> {
  readonly l: Lab
  readonly router: R
  readonly speakers: Record<NodeName, Netns.LabProcess>
  /** What the speakers think of their configuration, for timeout messages. */
  readonly context: () => string
}

/** The lab with the router at .1, `objects` in the API server, then the three speakers (started together). */
export const setup = <R>(
  startRouter: (l: Lab) => Effect.Effect<R, Netns.LabError>,
  objects: ReadonlyArray<JsonObject>,
  speakerArgs: ReadonlyArray<string> = []
): Effect.Effect<Running<R>, Netns.LabError, Scope.Scope> =>
  Effect.gen(function*() {
    const l = yield* SpeakerLab.make(nodes, { rtr: 1 })
    const router = yield* startRouter(l)
    yield* l.upsert(...objects)
    const [n1, n2, n3] = yield* Effect.forEach(names, (n) => l.startSpeaker(n, speakerArgs), { concurrency: "unbounded" })
    if (n1 === undefined || n2 === undefined || n3 === undefined) return yield* Effect.die("three speakers expected")
    return { l, router, speakers: { n1, n2, n3 }, context: () => Objects.configStates(l) }
  })

/** ServiceBGPStatus objects: per Service name, per node, the peers. */
const statusesByService = (l: Lab): ReadonlyMap<string, ReadonlyMap<string, ReadonlyArray<string>>> => {
  const out = new Map<string, Map<string, ReadonlyArray<string>>>()
  for (const o of l.list("ServiceBGPStatus")) {
    const labels = (o["metadata"] as { labels?: Record<string, string> } | undefined)?.labels ?? {}
    const service = labels["metallb.io/service-name"] ?? "?"
    const peers = (o["status"] as { peers?: ReadonlyArray<string> } | undefined)?.peers ?? []
    out.set(service, (out.get(service) ?? new Map()).set(labels["metallb.io/node"] ?? "?", peers))
  }
  return out
}

const describeStatuses = (m: ReadonlyMap<string, ReadonlyMap<string, ReadonlyArray<string>>>) =>
  [...m].map(([service, byNode]) => `${service}: ${[...byNode].map(([n, peers]) => `${n}[${peers.join(",")}]`).join(" ")}`).join("; ") ||
  "no ServiceBGPStatus"

const assertEstablished = (sessions: ReadonlyMap<string, string>, who: ReadonlyArray<string>, router: string) => {
  for (const address of who) assert.strictEqual(sessions.get(address), "Established", `${router}: session with ${address}`)
}

// ---------------------------------------------------------------------------------------------------------------
// eBGP: nodes in AS 64500, the router in AS 64512 at 192.0.2.1 / 2001:db8:0:1::1.

export const ebgp = {
  /** Plain /32 and /128 with a standard and a large community. */
  web: { service: "web", prefix: "203.0.113.10/32" },
  web6: { service: "web6", prefix: "2001:db8:ffff::10/128" },
  /** Aggregated to /28 and /120, with a community given by its Community alias. */
  agg: "203.0.113.32/28",
  agg6: "2001:db8:ffff:1::/120",
  objects: (): ReadonlyArray<JsonObject> => [
    SpeakerLab.pool("wan", ["203.0.113.0/28", "2001:db8:ffff::/120"]),
    SpeakerLab.pool("agg", ["203.0.113.32/27", "2001:db8:ffff:1::/64"]),
    Objects.community("aliases", { "edge": "64500:300" }),
    Objects.bgpAdvertisement("wan", { pools: ["wan"], communities: ["64500:100", "large:64500:1:2"] }),
    Objects.bgpAdvertisement("agg", { pools: ["agg"], communities: ["edge"], aggregationLength: 28, aggregationLengthV6: 120 }),
    Objects.bgpPeer("router", { myASN: 64500, peerASN: 64512, peerAddress: "192.0.2.1" }),
    Objects.bgpPeer("router6", { myASN: 64500, peerASN: 64512, peerAddress: "2001:db8:0:1::1" }),
    ...Objects.serviceWithEndpoint("web", "203.0.113.10"),
    ...Objects.serviceWithEndpoint("web6", "2001:db8:ffff::10"),
    ...Objects.serviceWithEndpoint("agg", "203.0.113.40"),
    ...Objects.serviceWithEndpoint("agg6", "2001:db8:ffff:1::10")
  ]
} as const

/**
 * ECMP: every prefix from all three speakers with the advertisement's attributes, over IPv4 and IPv6 sessions;
 * `converged` runs router-specific checks then; deleting web and web6 withdraws exactly those.
 */
export const runEbgp = <R>(
  r: Running<R>,
  view: RouterView,
  converged: Effect.Effect<void, Netns.LabError> = Effect.void
): Effect.Effect<void, Netns.LabError> =>
  Effect.gen(function*() {
    for (const prefix of [ebgp.web.prefix, ebgp.web6.prefix]) {
      const paths = yield* Rib.waitForPaths(`${prefix} from three speakers`, view.paths(prefix), names.map(hopOf(prefix)), r.context)
      for (const p of paths) {
        assert.deepStrictEqual(p.asPath, [64500], `${prefix} AS_PATH`)
        assert.strictEqual(p.origin, "IGP", `${prefix} ORIGIN`)
        assert.deepStrictEqual(p.communities, ["64500:100"], `${prefix} COMMUNITIES`)
        assert.deepStrictEqual(p.largeCommunities, ["64500:1:2"], `${prefix} LARGE_COMMUNITY`)
      }
    }
    for (const prefix of [ebgp.agg, ebgp.agg6]) {
      const paths = yield* Rib.waitForPaths(`aggregate ${prefix}`, view.paths(prefix), names.map(hopOf(prefix)), r.context)
      for (const p of paths) {
        assert.deepStrictEqual(p.communities, ["64500:300"], `${prefix} carries the Community alias' value`)
        assert.deepStrictEqual(p.largeCommunities, [], `${prefix} LARGE_COMMUNITY`)
      }
    }
    assertEstablished(yield* view.sessions, [...names.map(v4), ...names.map(v6)], view.name)
    yield* converged
    // Each node reports what it announces: a ServiceBGPStatus per Service and node, naming the peer of its family.
    const services = [[ebgp.web.service, "router"], [ebgp.web6.service, "router6"], ["agg", "router"], ["agg6", "router6"]] as const
    yield* eventually("a ServiceBGPStatus per Service and node", Effect.suspend(() => {
      const seen = statusesByService(r.l)
      const ok = services.every(([service, peer]) =>
        names.every((n) => seen.get(service)?.get(n)?.includes(peer) === true))
      return ok ? Effect.succeed(seen) : notYet(describeStatuses(seen))
    }), "30 seconds")

    yield* Effect.sync(() => {
      r.l.server.objects.delete("v1", "Service", "default", ebgp.web.service)
      r.l.server.objects.delete("v1", "Service", "default", ebgp.web6.service)
    })
    for (const prefix of [ebgp.web.prefix, ebgp.web6.prefix]) {
      yield* Rib.waitForPaths(`${prefix} withdrawn`, view.paths(prefix), [], r.context, "30 seconds")
    }
    // Only the deleted Services went: the aggregates stay, from every node, and so do their statuses.
    for (const prefix of [ebgp.agg, ebgp.agg6]) assert.strictEqual((yield* view.paths(prefix)).length, 3, `${prefix} stays`)
    yield* eventually("the statuses of the deleted Services removed", Effect.suspend(() => {
      const seen = statusesByService(r.l)
      return [...seen.keys()].toSorted().join() === "agg,agg6" ? Effect.succeed(seen) : notYet(describeStatuses(seen))
    }), "30 seconds")
    yield* Effect.logInfo(`${view.name}: eBGP scenario passed`)
  })

// ---------------------------------------------------------------------------------------------------------------
// iBGP with MD5: everybody in AS 64512; n1 and n2 have the right key (from a Secret), n3 a wrong one (inline).

export const MD5_KEY = "s3cret"
export const goodNodes: ReadonlyArray<NodeName> = ["n1", "n2"]

const md5Peers = (suffix: string, address: string) => [
  Objects.bgpPeer(`good${suffix}`, { myASN: 64512, peerASN: 64512, peerAddress: address, passwordSecret: "bgp-auth", nodes: goodNodes }),
  Objects.bgpPeer(`bad${suffix}`, { myASN: 64512, peerASN: 64512, peerAddress: address, password: "wrong", nodes: ["n3"] })
]

export const ibgpMd5 = {
  web: "203.0.113.10/32",
  web6: "2001:db8:ffff::10/128",
  objects: (): ReadonlyArray<JsonObject> => [
    Objects.passwordSecret("bgp-auth", MD5_KEY),
    SpeakerLab.pool("lan", ["203.0.113.0/28", "2001:db8:ffff::/120"]),
    Objects.bgpAdvertisement("lan", { pools: ["lan"], localPref: 250, communities: ["64512:7"] }),
    ...md5Peers("", "192.0.2.1"),
    ...md5Peers("6", "2001:db8:0:1::1"),
    ...Objects.serviceWithEndpoint("web", "203.0.113.10"),
    ...Objects.serviceWithEndpoint("web6", "2001:db8:ffff::10")
  ]
} as const

/**
 * The nodes with the right key announce with LOCAL_PREF and an empty AS_PATH over IPv4 and IPv6; n3 dials with the
 * wrong key (the router's kernel counts TcpExtTCPMD5Failure) and never gets a session.
 */
export const runIbgpMd5 = <R>(r: Running<R>, view: RouterView): Effect.Effect<void, Netns.LabError> =>
  Effect.gen(function*() {
    for (const prefix of [ibgpMd5.web, ibgpMd5.web6]) {
      const paths = yield* Rib.waitForPaths(`${prefix} from the nodes with the right key`, view.paths(prefix), goodNodes.map(hopOf(prefix)), r.context)
      for (const p of paths) {
        assert.strictEqual(p.localPref, 250, `${prefix} LOCAL_PREF`)
        assert.deepStrictEqual(p.asPath, [], `${prefix} AS_PATH`)
        assert.strictEqual(p.origin, "IGP", `${prefix} ORIGIN`)
        assert.deepStrictEqual(p.communities, ["64512:7"], `${prefix} COMMUNITIES`)
      }
    }
    assertEstablished(yield* view.sessions, [...goodNodes.map(v4), ...goodNodes.map(v6)], view.name)
    yield* Rib.waitForMd5Failures(r.l.others.rtr.ns)
    const n3Established = Effect.map(view.sessions, (s) => s.get(v4("n3")) === "Established" || s.get(v6("n3")) === "Established")
    yield* throughout("n3 never gets a session", Effect.map(n3Established, (up) => !up), "3 seconds")
    assert.isFalse(yield* n3Established, "n3 (wrong key) must not be Established")
    for (const prefix of [ibgpMd5.web, ibgpMd5.web6]) {
      const hops = (yield* view.paths(prefix)).map((p) => p.nexthop)
      assert.notInclude(hops, hopOf(prefix)("n3"), `${prefix}: no path from n3`)
    }
    yield* Effect.logInfo(`${view.name}: iBGP + MD5 scenario passed`)
  })

