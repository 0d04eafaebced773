/**
 * The one internal configuration every component works from, produced by `parseConfig` (Parse.ts) from the
 * `metallb.io` objects and the cluster facts. Everything here is resolved and validated: CIDRs parsed, selectors
 * parsed, node and namespace selectors evaluated, community aliases and Secret passwords looked up, defaults
 * applied, timers normalised. Lists are in a deterministic order (objects by name), so two parses of the same
 * cluster state are structurally equal, and `equals` / `hash` tell a reconciler "config unchanged".
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import type * as Cidr from "../net/Cidr.ts"
import type * as Ip from "../net/Ip.ts"
import type * as Community from "./Community.ts"
import type * as LabelSelector from "./LabelSelector.ts"

export interface Config {
  /** Sorted by name. */
  readonly pools: ReadonlyArray<Pool>
  /** Sorted by name. */
  readonly peers: ReadonlyArray<Peer>
  /** Sorted by name. */
  readonly bfdProfiles: ReadonlyArray<BfdProfile>
}

export interface PoolAddresses {
  /** The entry as written in `spec.addresses` (a CIDR or a range). */
  readonly entry: string
  /** The CIDRs it stands for (a range summarised into the minimal list). */
  readonly cidrs: ReadonlyArray<Cidr.Cidr>
}

export interface Pool {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  /** In `spec.addresses` order. */
  readonly addresses: ReadonlyArray<PoolAddresses>
  /** All CIDRs of the pool, in `spec.addresses` order; non-overlapping across every pool. */
  readonly cidrs: ReadonlyArray<Cidr.Cidr>
  readonly autoAssign: boolean
  readonly avoidBuggyIPs: boolean
  /** Absent when the pool has no `serviceAllocation`. */
  readonly serviceAllocation: ServiceAllocation | undefined
  readonly l2Advertisements: ReadonlyArray<L2Advertisement>
  readonly bgpAdvertisements: ReadonlyArray<BgpAdvertisement>
}

export interface ServiceAllocation {
  /** Lower is preferred; 0 (unset) is tried last among pools with a serviceAllocation. */
  readonly priority: number
  /** `namespaces` united with the namespaces `namespaceSelectors` select now; sorted. Empty = no restriction. */
  readonly namespaces: ReadonlyArray<string>
  /**
   * The service selectors (OR-ed). A serviceAllocation with neither namespaces, namespaceSelectors nor
   * serviceSelectors (only `priority`) holds one selector that matches everything, as in MetalLB.
   */
  readonly serviceSelectors: ReadonlyArray<LabelSelector.Selector>
}

export interface PreferredNode {
  readonly node: string
  /** The summed weights of the preferredNodeSelectors this (eligible) node matches. */
  readonly weight: number
}

export interface L2Advertisement {
  readonly name: string
  /** Nodes allowed to announce, sorted. */
  readonly nodes: ReadonlyArray<string>
  /** Interfaces to announce on; empty with `allInterfaces`. */
  readonly interfaces: ReadonlyArray<string>
  readonly allInterfaces: boolean
  /** Empty = every service. Sorted by string form. */
  readonly serviceSelectors: ReadonlyArray<LabelSelector.Selector>
  /** Eligible nodes with a positive preference weight, sorted by node. */
  readonly preferredNodes: ReadonlyArray<PreferredNode>
}

export interface BgpAdvertisement {
  readonly name: string
  readonly aggregationLength: number
  readonly aggregationLengthV6: number
  readonly localPref: number
  /** Resolved values (aliases looked up), unique, in MetalLB's order. */
  readonly communities: ReadonlyArray<Community.Community>
  /** Peer names to advertise to; empty = all peers. */
  readonly peers: ReadonlyArray<string>
  /** Nodes allowed to announce (be next hop), sorted. */
  readonly nodes: ReadonlyArray<string>
  /** Empty = every service. Sorted by string form. */
  readonly serviceSelectors: ReadonlyArray<LabelSelector.Selector>
}

export interface SecretRef {
  readonly name: string
  readonly namespace: string
}

export interface Peer {
  readonly name: string
  readonly myASN: number
  /** 0 when `dynamicASN` is set. */
  readonly peerASN: number
  readonly dynamicASN: "internal" | "external" | undefined
  /** The ASN announced instead of myASN (local-as); undefined = myASN. */
  readonly localASN: number | undefined
  readonly address: Ip.IpAddress
  readonly sourceAddress: Ip.IpAddress | undefined
  readonly port: number
  /**
   * Timers in milliseconds after MetalLB's rules: neither set → both undefined (the speaker's default, hold 90 s);
   * only hold → keepalive = hold / 3; only keepalive → hold = 3 × keepalive.
   */
  readonly holdTimeMs: number | undefined
  readonly keepaliveTimeMs: number | undefined
  /** Whole seconds, 1–65535, as milliseconds; undefined = the speaker's default. */
  readonly connectTimeMs: number | undefined
  /** undefined = derived from the node. */
  readonly routerID: Ip.IpAddress | undefined
  /** Empty list never happens: no selector means one that matches everything. */
  readonly nodeSelectors: ReadonlyArray<LabelSelector.Selector>
  /** The nodes (among those known) that peer, sorted. */
  readonly nodes: ReadonlyArray<string>
  /** The TCP-MD5 password, from `password` or the referenced Secret; "" = none. */
  readonly password: string
  readonly passwordSecret: SecretRef | undefined
  readonly bfdProfile: string | undefined
  readonly enableGracefulRestart: boolean
  readonly ebgpMultiHop: boolean
  readonly dualStackAddressFamily: boolean
}

export interface BfdProfile {
  readonly name: string
  /** Milliseconds; undefined = the BFD default (300). */
  readonly receiveInterval: number | undefined
  readonly transmitInterval: number | undefined
  /** undefined = the BFD default (3). */
  readonly detectMultiplier: number | undefined
  readonly echoInterval: number | undefined
  readonly passiveMode: boolean
  readonly minimumTtl: number | undefined
}

export const empty: Config = { pools: [], peers: [], bfdProfiles: [] }

/** A stable text form: object keys sorted, bigints as decimal strings, undefined fields dropped. */
export const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === "bigint") return v.toString()
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      const obj = v as Record<string, unknown>
      return Object.fromEntries(Object.keys(obj).toSorted().map((k) => [k, obj[k]]))
    }
    return v
  })

/** Structural equality: the same pools, advertisements, peers and profiles with the same resolved values. */
export const equals = (a: Config, b: Config): boolean => a === b || canonical(a) === canonical(b)

/** A SHA-256 of the canonical form: equal configs hash equal, so a reconciler can skip an unchanged config. */
export const hash = (config: Config): string => createHash("sha256").update(canonical(config)).digest("hex")

export const findPool = (config: Config, name: string): Pool | undefined => config.pools.find((p) => p.name === name)

export const findPeer = (config: Config, name: string): Peer | undefined => config.peers.find((p) => p.name === name)
