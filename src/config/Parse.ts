/**
 * `parseConfig`: the `metallb.io` objects plus the cluster facts the rules need (Nodes, Namespaces, Secrets) →
 * one validated {@link Config}, or every error at once, each located at an object (kind, name) and a field path,
 * in MetalLB's words (reference/metallb-behavior.md §2, §7). Pure: the same input gives the same result.
 *
 * Differences from MetalLB, on purpose (docs/configuration.md):
 * - all errors are reported, not only the first;
 * - objects are processed in name order, so results never depend on list order;
 * - metallb-ts's own BGP speaker accepts IPv6, large communities, BFD, graceful restart, dynamicASN, localASN,
 *   keepaliveTime and connectTime; it rejects `vrf`, unnumbered `interface` peers and BFD echo mode;
 * - two peers with the same address and port that share a node are rejected (MetalLB only does so in FRR modes).
 *
 * @since 0.1.0
 */
import { Result, Schema } from "effect"
import * as Cidr from "../net/Cidr.ts"
import * as Ip from "../net/Ip.ts"
import * as Community from "./Community.ts"
import type * as Config from "./Config.ts"
import { ConfigError, type ConfigWarning } from "./ConfigError.ts"
import type { BFDProfile } from "./crds/BFDProfile.ts"
import type { BGPAdvertisement } from "./crds/BGPAdvertisement.ts"
import { DefaultAggregationLength, DefaultAggregationLengthV6, DefaultLocalPref } from "./crds/BGPAdvertisement.ts"
import { type BGPPeer, DefaultPeerPort, v1beta1ToV1beta2 } from "./crds/BGPPeer.ts"
import type { Community as CommunityResource } from "./crds/Community.ts"
import { DefaultAutoAssign, DefaultAvoidBuggyIPs, type IPAddressPool } from "./crds/IPAddressPool.ts"
import type { L2Advertisement } from "./crds/L2Advertisement.ts"
import * as Duration from "./Duration.ts"
import * as LabelSelector from "./LabelSelector.ts"
import * as Resources from "./Resources.ts"

export const DefaultNamespace = "metallb-system"

/** The raw objects of each kind (as listed from the API server or read from files) and the cluster facts. */
export interface ConfigInput {
  readonly ipAddressPools?: ReadonlyArray<unknown>
  readonly l2Advertisements?: ReadonlyArray<unknown>
  readonly bgpAdvertisements?: ReadonlyArray<unknown>
  /** v1beta2 objects; v1beta1 ones (by apiVersion) are converted. */
  readonly bgpPeers?: ReadonlyArray<unknown>
  readonly bfdProfiles?: ReadonlyArray<unknown>
  readonly communities?: ReadonlyArray<unknown>
  /** Node objects: `metadata.name` and `metadata.labels` are read. */
  readonly nodes?: ReadonlyArray<unknown>
  /** Namespace objects: `metadata.name` and `metadata.labels` are read. */
  readonly namespaces?: ReadonlyArray<unknown>
  /** Secret objects (`data` base64 as the API returns it, or `stringData`), for BGP passwords. */
  readonly secrets?: ReadonlyArray<unknown>
}

export interface ParseOptions {
  /** The namespace MetalLB runs in; objects elsewhere are rejected. Default `metallb-system`. */
  readonly namespace?: string
  /**
   * A speaker's own node. When set, BGPPeers and BGPAdvertisements whose nodeSelectors do not select this node are
   * left out before validation (as MetalLB ≥ 0.16 speakers do), so a bad peer meant for node A makes only node A's
   * configuration invalid. The controller parses without it.
   */
  readonly node?: string
}

export interface Parsed {
  readonly config: Config.Config
  readonly warnings: ReadonlyArray<ConfigWarning>
}

export interface Rejected {
  readonly errors: ReadonlyArray<ConfigError>
  readonly warnings: ReadonlyArray<ConfigWarning>
  /** Every error is transient: the configuration is stale until the missing objects exist, not wrong. */
  readonly transientOnly: boolean
}

// ---------------------------------------------------------------------------------------------------------------
// Cluster facts: the few fields of core objects the rules read.

const Labels = Schema.optionalKey(Schema.Record(Schema.String, Schema.String))

export const NodeFact = Schema.Struct({ metadata: Schema.Struct({ name: Schema.String, labels: Labels }) })
export const NamespaceFact = NodeFact
export const SecretFact = Schema.Struct({
  metadata: Schema.Struct({ name: Schema.String, namespace: Schema.optionalKey(Schema.String) }),
  type: Schema.optionalKey(Schema.String),
  data: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  stringData: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
})
type Labelled = typeof NodeFact.Type
type SecretFact = typeof SecretFact.Type

const decodeNode = Resources.decoder(NodeFact)
const decodeSecret = Resources.decoder(SecretFact)

// ---------------------------------------------------------------------------------------------------------------

type Path = ReadonlyArray<string | number>

const q = (s: string): string => JSON.stringify(s)

/** Collects errors and warnings while the parse goes on, so that every problem is reported. */
class Report {
  readonly errors: Array<ConfigError> = []
  readonly warnings: Array<ConfigWarning> = []
  error(kind: string, name: string, path: Path, reason: string, transient = false): void {
    this.errors.push(new ConfigError({ kind, name, path: [...path], reason, transient }))
  }
  warn(kind: string, name: string, path: Path, message: string): void {
    this.warnings.push({ kind, name, path, message })
  }
  /** Runs `f` and says whether it added no error. */
  clean(f: () => void): boolean {
    const before = this.errors.length
    f()
    return this.errors.length === before
  }
}

interface Named {
  readonly metadata: { readonly name: string; readonly namespace?: string }
}

const nameOf = (raw: unknown, index: number): string => {
  if (typeof raw === "object" && raw !== null) {
    const meta = (raw as { metadata?: unknown }).metadata
    if (typeof meta === "object" && meta !== null) {
      const name = (meta as { name?: unknown }).name
      if (typeof name === "string" && name !== "") return name
    }
  }
  return `#${index}`
}

/**
 * Decodes every object of a kind, reports schema issues and objects outside the MetalLB namespace, and returns the
 * valid ones sorted by name with duplicate names reported.
 */
const decodeKind = <T extends Named>(
  report: Report,
  kind: string,
  raws: ReadonlyArray<unknown> | undefined,
  decode: (raw: unknown) => Result.Result<T, ReadonlyArray<Resources.Issue>>,
  namespace: string | undefined,
  duplicate: (name: string) => string
): Array<T> => {
  const out: Array<T> = []
  ;(raws ?? []).forEach((raw, i) => {
    const decoded = decode(raw)
    if (Result.isFailure(decoded)) {
      for (const issue of decoded.failure) report.error(kind, nameOf(raw, i), issue.path, issue.message)
      return
    }
    const obj = decoded.success
    const ns = obj.metadata.namespace
    if (namespace !== undefined && ns !== undefined && ns !== namespace) {
      report.error(kind, obj.metadata.name, ["metadata", "namespace"], `resource must be created in ${namespace} namespace`)
      return
    }
    out.push(obj)
  })
  out.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0))
  return out.filter((obj, i) => {
    const prev = out[i - 1]
    if (prev !== undefined && prev.metadata.name === obj.metadata.name) {
      report.error(kind, obj.metadata.name, ["metadata", "name"], duplicate(obj.metadata.name))
      return false
    }
    return true
  })
}

const duplicates = (values: ReadonlyArray<string>): Array<[number, string]> =>
  values.flatMap((v, i): Array<[number, string]> => (values.indexOf(v) !== i ? [[i, v]] : []))

/** Rejects repeated entries of a string list: "duplicate definition of <field> %q". */
const checkUnique = (
  report: Report,
  kind: string,
  name: string,
  path: Path,
  values: ReadonlyArray<string> | undefined,
  what: string
): void => {
  for (const [i, v] of duplicates(values ?? [])) report.error(kind, name, [...path, i], `duplicate definition of ${what} ${q(v)}`)
}

/** Parses a selector list: validity of each, no two with the same string form. */
const parseSelectors = (
  report: Report,
  kind: string,
  name: string,
  path: Path,
  selectors: ReadonlyArray<LabelSelector.LabelSelector> | undefined,
  field: string
): Array<LabelSelector.Selector> => {
  const out: Array<LabelSelector.Selector> = []
  const seen = new Set<string>()
  ;(selectors ?? []).forEach((raw, i) => {
    const parsed = LabelSelector.parse(raw)
    if (Result.isFailure(parsed)) {
      for (const issue of parsed.failure) report.error(kind, name, [...path, i, ...issue.path], issue.reason)
      return
    }
    const text = LabelSelector.format(parsed.success)
    if (seen.has(text)) report.error(kind, name, [...path, i], `duplicate definition of ${field} ${q(text)}`)
    seen.add(text)
    out.push(parsed.success)
  })
  return out
}

const bySelectorString = (a: LabelSelector.Selector, b: LabelSelector.Selector): number => {
  const x = LabelSelector.format(a)
  const y = LabelSelector.format(b)
  return x < y ? -1 : x > y ? 1 : 0
}

/** Names of the labelled objects matching any selector; no selector = all of them. Sorted. */
const selectNames = (
  objects: ReadonlyArray<Labelled>,
  selectors: ReadonlyArray<LabelSelector.Selector>
): Array<string> =>
  objects
    .filter((o) => selectors.length === 0 || LabelSelector.matchesAny(selectors, o.metadata.labels ?? {}))
    .map((o) => o.metadata.name)
    .toSorted()

const sameStrings = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i])

// ---------------------------------------------------------------------------------------------------------------

interface Facts {
  readonly nodes: ReadonlyArray<Labelled>
  readonly namespaces: ReadonlyArray<Labelled>
  readonly secrets: ReadonlyArray<SecretFact>
  readonly namespace: string
}

const parseBfdProfile = (report: Report, p: BFDProfile): Config.BfdProfile | undefined => {
  const kind = "BFDProfile"
  const s = p.spec
  const ok = report.clean(() => {
    if (s.echoMode === true) {
      report.error(
        kind,
        p.metadata.name,
        ["spec", "echoMode"],
        "echoMode is not supported by metallb-ts: its BFD implementation has no echo function; leave echoMode unset or false"
      )
    }
  })
  if (!ok) return undefined
  return {
    name: p.metadata.name,
    receiveInterval: s.receiveInterval,
    transmitInterval: s.transmitInterval,
    detectMultiplier: s.detectMultiplier,
    echoInterval: s.echoInterval,
    passiveMode: s.passiveMode ?? false,
    minimumTtl: s.minimumTtl
  }
}

const parseCommunities = (report: Report, objects: ReadonlyArray<CommunityResource>): Map<string, Community.Community> => {
  const aliases = new Map<string, Community.Community>()
  for (const obj of objects) {
    ;(obj.spec.communities ?? []).forEach((alias, i) => {
      const aliasName = alias.name ?? ""
      const parsed = Community.parse(alias.value ?? "")
      if (Result.isFailure(parsed)) {
        report.error("Community", obj.metadata.name, ["spec", "communities", i, "value"], parsed.failure.message)
        return
      }
      if (aliases.has(aliasName)) {
        report.error("Community", obj.metadata.name, ["spec", "communities", i, "name"], `duplicate definition of community ${q(aliasName)}`)
        return
      }
      aliases.set(aliasName, parsed.success)
    })
  }
  return aliases
}

interface TimerResult {
  readonly holdTimeMs: number | undefined
  readonly keepaliveTimeMs: number | undefined
}

/** MetalLB's `parseTimers`, on exact nanoseconds. */
const parseTimers = (hold: string | undefined, keepalive: string | undefined): Result.Result<TimerResult, [string, string]> => {
  if (hold === undefined && keepalive === undefined) return Result.succeed({ holdTimeMs: undefined, keepaliveTimeMs: undefined })
  // Both strings were checked by the Schema; a failure here would be a bug, reported rather than thrown.
  const h = hold === undefined ? undefined : Duration.parse(hold)
  const k = keepalive === undefined ? undefined : Duration.parse(keepalive)
  if (h !== undefined && Result.isFailure(h)) return Result.fail(["holdTime", h.failure])
  if (k !== undefined && Result.isFailure(k)) return Result.fail(["keepaliveTime", k.failure])
  const holdNs = h !== undefined ? h.success : (k?.success ?? 0n) * 3n
  const keepaliveNs = k !== undefined ? k.success : holdNs / 3n
  const rounded = (holdNs / Duration.nanosPerSecond) * Duration.nanosPerSecond
  if (rounded !== 0n && rounded < 3n * Duration.nanosPerSecond) {
    return Result.fail(["holdTime", `invalid BGPPeer timers: invalid hold time ${q(hold ?? Duration.format(holdNs))}: must be 0 or >=3s`])
  }
  if (keepaliveNs > holdNs) {
    return Result.fail([
      "keepaliveTime",
      `invalid BGPPeer timers: invalid keepaliveTime ${q(keepalive ?? Duration.format(keepaliveNs))}, must be lower than holdTime ${q(hold ?? Duration.format(holdNs))}`
    ])
  }
  return Result.succeed({ holdTimeMs: Duration.toMillis(holdNs), keepaliveTimeMs: Duration.toMillis(keepaliveNs) })
}

const decodeBase64 = (text: string): string => Buffer.from(text, "base64").toString("utf8")

const hasNewline = (s: string): boolean => /[\n\r]/.test(s)

const parsePeer = (
  report: Report,
  p: BGPPeer,
  facts: Facts,
  bfdProfiles: ReadonlySet<string>
): Config.Peer | undefined => {
  const kind = "BGPPeer"
  const name = p.metadata.name
  const ns = p.metadata.namespace ?? facts.namespace
  const s = p.spec
  const err = (path: Path, reason: string, transient = false) => report.error(kind, name, ["spec", ...path], reason, transient)
  let address: Ip.IpAddress | undefined
  let sourceAddress: Ip.IpAddress | undefined
  let routerID: Ip.IpAddress | undefined
  let timers: TimerResult = { holdTimeMs: undefined, keepaliveTimeMs: undefined }
  let connectTimeMs: number | undefined
  let nodeSelectors: Array<LabelSelector.Selector> = []
  let password = s.password ?? ""
  const peerASN = s.peerASN ?? 0
  const ok = report.clean(() => {
    if (s.myASN === 0) err(["myASN"], "missing local ASN")
    if (peerASN === 0 && s.dynamicASN === undefined) err(["peerASN"], "missing peer ASN and dynamicASN")
    if (peerASN !== 0 && s.dynamicASN !== undefined) err(["dynamicASN"], "both peer ASN and dynamicASN specified")
    const ibgp = (peerASN !== 0 && peerASN === s.myASN) || s.dynamicASN === "internal"
    if (ibgp && s.ebgpMultiHop === true) err(["ebgpMultiHop"], "invalid ebgp-multihop parameter set for an ibgp peer")
    const hasAddress = s.peerAddress !== undefined && s.peerAddress !== ""
    const hasInterface = s.interface !== undefined && s.interface !== ""
    if (!hasAddress && !hasInterface) err(["peerAddress"], "peer has no Address or Interface specified")
    if (hasAddress && hasInterface) err(["interface"], "peer has both Address and Interface specified")
    if (hasInterface) {
      err(["interface"], "interface (unnumbered BGP peering) is not supported by metallb-ts: set peerAddress instead")
    }
    if (s.vrf !== undefined && s.vrf !== "") {
      err(["vrf"], "vrf is not supported by metallb-ts: BGP sessions always run in the default VRF")
    }
    const t = parseTimers(s.holdTime, s.keepaliveTime)
    if (Result.isFailure(t)) err([t.failure[0]], t.failure[1])
    else timers = t.success
    if (s.connectTime !== undefined) {
      const c = Duration.parse(s.connectTime)
      if (Result.isFailure(c)) err(["connectTime"], c.failure)
      else {
        const seconds = c.success / Duration.nanosPerSecond
        if (seconds < 1n || seconds > 65535n) err(["connectTime"], "connect time should be between 1 seconds to 65535")
        else if (c.success % Duration.nanosPerSecond !== 0n) {
          err(["connectTime"], "connect time should contain a whole number of seconds")
        } else connectTimeMs = Duration.toMillis(c.success)
      }
    }
    if (hasAddress) {
      address = Ip.parse(s.peerAddress ?? "")
      if (address === undefined) err(["peerAddress"], `invalid BGPPeer address ${q(s.peerAddress ?? "")}`)
    }
    if (s.routerID !== undefined && s.routerID !== "") {
      routerID = Ip.parse(s.routerID)
      if (routerID === undefined) err(["routerID"], `invalid router ID ${q(s.routerID)}`)
    }
    if (s.sourceAddress !== undefined && s.sourceAddress !== "") {
      sourceAddress = Ip.parse(s.sourceAddress)
      if (sourceAddress === undefined) err(["sourceAddress"], `invalid source IP ${q(s.sourceAddress)}`)
    }
    nodeSelectors = parseSelectors(report, kind, name, ["spec", "nodeSelectors"], s.nodeSelectors, "nodeSelectors")
    const secretName = s.passwordSecret?.name ?? ""
    if (password !== "" && secretName !== "") {
      err(["passwordSecret"], `can not have both password and secret ref set in peer config ${q(ns)}/${q(name)}`)
    }
    if (hasNewline(password)) err(["password"], `password for peer ${q(ns)}/${q(name)} contains invalid characters`)
    if (password === "" && secretName !== "") {
      // MetalLB reads the Secret by name in its own namespace, whatever passwordSecret.namespace says.
      const secret = facts.secrets.find((x) => x.metadata.name === secretName && (x.metadata.namespace ?? facts.namespace) === facts.namespace)
      const where = `${q(facts.namespace)}/${q(secretName)}`
      if (secret === undefined) {
        err(["passwordSecret", "name"], `secret ref not found for peer config ${q(ns)}/${q(name)}`, true)
      } else if (secret.type !== "kubernetes.io/basic-auth") {
        err(
          ["passwordSecret", "name"],
          `secret type mismatch on ${where}, type "kubernetes.io/basic-auth" is expected`
        )
      } else {
        const fromData = secret.data?.["password"]
        const value = secret.stringData?.["password"] ?? (fromData === undefined ? undefined : decodeBase64(fromData))
        if (value === undefined) err(["passwordSecret", "name"], `password not specified in the secret ${where}`)
        else if (hasNewline(value)) {
          err(["passwordSecret", "name"], `password secret for peer ${q(ns)}/${q(name)} contains invalid characters`)
        } else password = value
      }
    }
    if (s.bfdProfile !== undefined && s.bfdProfile !== "" && !bfdProfiles.has(s.bfdProfile)) {
      err(["bfdProfile"], `peer ${name} referencing non existing bfd profile ${s.bfdProfile}`, true)
    }
  })
  if (s.disableMP === true) {
    report.warn(kind, name, ["spec", "disableMP"], "disable mp is deprecated and has no effect, use dualStackAddressFamily instead")
  }
  if (!ok || address === undefined) return undefined
  const selectors = nodeSelectors.length === 0 ? [LabelSelector.everything] : nodeSelectors
  return {
    name,
    myASN: s.myASN,
    peerASN,
    dynamicASN: s.dynamicASN,
    localASN: s.localASN,
    address,
    sourceAddress,
    port: s.peerPort ?? DefaultPeerPort,
    holdTimeMs: timers.holdTimeMs,
    keepaliveTimeMs: timers.keepaliveTimeMs,
    connectTimeMs,
    routerID,
    nodeSelectors: selectors.toSorted(bySelectorString),
    nodes: selectNames(facts.nodes, selectors),
    password,
    passwordSecret: s.passwordSecret?.name !== undefined && s.passwordSecret.name !== ""
      ? { name: s.passwordSecret.name, namespace: s.passwordSecret.namespace ?? facts.namespace }
      : undefined,
    bfdProfile: s.bfdProfile === "" ? undefined : s.bfdProfile,
    enableGracefulRestart: s.enableGracefulRestart ?? false,
    ebgpMultiHop: s.ebgpMultiHop ?? false,
    dualStackAddressFamily: s.dualStackAddressFamily ?? false
  }
}

/** Two peers with one address and port on a common node would be two sessions to one router from one speaker. */
const checkPeerConflicts = (report: Report, peers: ReadonlyArray<Config.Peer>, nodesKnown: boolean): Array<Config.Peer> =>
  peers.filter((peer, i) => {
    const clash = peers.slice(0, i).find((other) =>
      Ip.equals(other.address, peer.address) && other.port === peer.port &&
      (!nodesKnown || other.nodes.some((n) => peer.nodes.includes(n)))
    )
    if (clash === undefined) return true
    report.error("BGPPeer", peer.name, ["spec", "peerAddress"], `peer ${Ip.format(peer.address)} already exists`)
    return false
  })

interface PoolDraft {
  readonly resource: IPAddressPool
  readonly pool: Omit<Config.Pool, "l2Advertisements" | "bgpAdvertisements">
  readonly l2: Array<Config.L2Advertisement>
  readonly bgp: Array<Config.BgpAdvertisement>
}

const parsePools = (report: Report, pools: ReadonlyArray<IPAddressPool>, facts: Facts): Array<PoolDraft> => {
  const kind = "IPAddressPool"
  const all: Array<{ readonly pool: string; readonly cidr: Cidr.Cidr }> = []
  const out: Array<PoolDraft> = []
  for (const p of pools) {
    const name = p.metadata.name
    const s = p.spec
    const addresses: Array<Config.PoolAddresses> = []
    let serviceAllocation: Config.ServiceAllocation | undefined
    const ok = report.clean(() => {
      if (s.addresses.length === 0) report.error(kind, name, ["spec", "addresses"], "pool has no prefixes defined")
      s.addresses.forEach((entry, i) => {
        const parsed = Cidr.parsePoolEntry(entry)
        if (Result.isFailure(parsed)) {
          report.error(kind, name, ["spec", "addresses", i], `${parsed.failure} in pool ${q(name)}`)
          return
        }
        for (const cidr of parsed.success) {
          const clash = all.find((x) => Cidr.overlaps(x.cidr, cidr))
          if (clash !== undefined) {
            report.error(
              kind,
              name,
              ["spec", "addresses", i],
              `CIDR ${q(Cidr.format(cidr))} in pool ${q(name)} overlaps with already defined CIDR ${q(Cidr.format(clash.cidr))}`
            )
          } else all.push({ pool: name, cidr })
        }
        addresses.push({ entry, cidrs: parsed.success })
      })
      const sa = s.serviceAllocation
      if (sa !== undefined) {
        const base = ["spec", "serviceAllocation"]
        for (const [i] of duplicates(sa.namespaces ?? [])) {
          report.error(kind, name, [...base, "namespaces", i], "duplicate definition in namespaces field")
        }
        const nsSelectors = parseSelectors(report, kind, name, [...base, "namespaceSelectors"], sa.namespaceSelectors, "namespaceSelectors")
        const svcSelectors = parseSelectors(report, kind, name, [...base, "serviceSelectors"], sa.serviceSelectors, "serviceSelectors")
        const namespaces = new Set(sa.namespaces ?? [])
        if (nsSelectors.length > 0) for (const n of selectNames(facts.namespaces, nsSelectors)) namespaces.add(n)
        const onlyPriority = (sa.namespaces ?? []).length === 0 && nsSelectors.length === 0 && svcSelectors.length === 0
        serviceAllocation = {
          priority: sa.priority ?? 0,
          namespaces: [...namespaces].toSorted(),
          serviceSelectors: onlyPriority ? [LabelSelector.everything] : svcSelectors.toSorted(bySelectorString)
        }
      }
    })
    if (!ok) continue
    out.push({
      resource: p,
      pool: {
        name,
        labels: p.metadata.labels ?? {},
        addresses,
        cidrs: addresses.flatMap((a) => a.cidrs),
        autoAssign: s.autoAssign ?? DefaultAutoAssign,
        avoidBuggyIPs: s.avoidBuggyIPs ?? DefaultAvoidBuggyIPs,
        serviceAllocation
      },
      l2: [],
      bgp: []
    })
  }
  return out
}

/** The part L2 and BGP advertisements share: which pools, which nodes, which services. */
interface AdvertisementSpec {
  readonly ipAddressPools?: ReadonlyArray<string>
  readonly ipAddressPoolSelectors?: ReadonlyArray<LabelSelector.LabelSelector>
  readonly nodeSelectors?: ReadonlyArray<LabelSelector.LabelSelector>
  readonly serviceSelectors?: ReadonlyArray<LabelSelector.LabelSelector>
}

interface AdvertisementScope {
  readonly poolSelectors: ReadonlyArray<LabelSelector.Selector>
  /** Nodes allowed to announce, sorted. */
  readonly nodes: Array<string>
  /** Sorted by string form. */
  readonly serviceSelectors: Array<LabelSelector.Selector>
}

const parseScope = (report: Report, kind: string, name: string, s: AdvertisementSpec, facts: Facts): AdvertisementScope => {
  checkUnique(report, kind, name, ["spec", "ipAddressPools"], s.ipAddressPools, "ipAddressPools")
  const poolSelectors = parseSelectors(report, kind, name, ["spec", "ipAddressPoolSelectors"], s.ipAddressPoolSelectors, "ipAddressPoolSelectors")
  const nodeSelectors = parseSelectors(report, kind, name, ["spec", "nodeSelectors"], s.nodeSelectors, "nodeSelectors")
  const serviceSelectors = parseSelectors(report, kind, name, ["spec", "serviceSelectors"], s.serviceSelectors, "serviceSelectors")
  return { poolSelectors, nodes: selectNames(facts.nodes, nodeSelectors), serviceSelectors: serviceSelectors.toSorted(bySelectorString) }
}

/** The pools an advertisement applies to: named ∪ selected; neither given = every pool. Unknown names warned. */
const selectPools = (
  report: Report,
  kind: string,
  name: string,
  drafts: ReadonlyArray<PoolDraft>,
  s: AdvertisementSpec,
  scope: AdvertisementScope
): Array<PoolDraft> => {
  const names = s.ipAddressPools ?? []
  if (names.length === 0 && (s.ipAddressPoolSelectors ?? []).length === 0) return [...drafts]
  names.forEach((n, i) => {
    if (!drafts.some((d) => d.pool.name === n)) {
      report.warn(kind, name, ["spec", "ipAddressPools", i], `no IPAddressPool named ${q(n)}: ignored`)
    }
  })
  return drafts.filter((d) =>
    names.includes(d.pool.name) ||
    (scope.poolSelectors.length > 0 && LabelSelector.matchesAny(scope.poolSelectors, d.pool.labels))
  )
}

const sameL2 = (a: Config.L2Advertisement, b: Config.L2Advertisement): boolean =>
  a.preferredNodes.length === 0 && b.preferredNodes.length === 0 &&
  a.allInterfaces === b.allInterfaces &&
  sameStrings(a.nodes, b.nodes) &&
  sameStrings([...new Set(a.interfaces)].toSorted(), [...new Set(b.interfaces)].toSorted()) &&
  sameStrings(a.serviceSelectors.map(LabelSelector.format), b.serviceSelectors.map(LabelSelector.format))

const attachL2 = (report: Report, ads: ReadonlyArray<L2Advertisement>, drafts: ReadonlyArray<PoolDraft>, facts: Facts): void => {
  const kind = "L2Advertisement"
  for (const a of ads) {
    const name = a.metadata.name
    const s = a.spec
    let ad: Config.L2Advertisement | undefined
    let scope: AdvertisementScope | undefined
    const ok = report.clean(() => {
      scope = parseScope(report, kind, name, s, facts)
      const nodes = scope.nodes
      const weights = new Map<string, number>()
      ;(s.preferredNodeSelectors ?? []).forEach((pref, i) => {
        const parsed = LabelSelector.parse(pref.preference)
        if (Result.isFailure(parsed)) {
          for (const issue of parsed.failure) {
            report.error(kind, name, ["spec", "preferredNodeSelectors", i, "preference", ...issue.path], issue.reason)
          }
          return
        }
        for (const node of facts.nodes) {
          if (nodes.includes(node.metadata.name) && LabelSelector.matches(parsed.success, node.metadata.labels ?? {})) {
            weights.set(node.metadata.name, (weights.get(node.metadata.name) ?? 0) + pref.weight)
          }
        }
      })
      const interfaces = s.interfaces ?? []
      ad = {
        name,
        nodes,
        interfaces,
        allInterfaces: interfaces.length === 0,
        serviceSelectors: scope.serviceSelectors,
        preferredNodes: [...weights].map(([node, weight]) => ({ node, weight })).toSorted((x, y) => (x.node < y.node ? -1 : 1))
      }
    })
    if (!ok || ad === undefined || scope === undefined) continue
    const adv = ad
    for (const d of selectPools(report, kind, name, drafts, s, scope)) {
      if (!d.l2.some((existing) => sameL2(existing, adv))) d.l2.push(adv)
    }
  }
}

const families = (pool: PoolDraft["pool"]): { readonly v4: boolean; readonly v6: boolean } => ({
  v4: pool.cidrs.some((c) => c.family === 4),
  v6: pool.cidrs.some((c) => c.family === 6)
})

/** MetalLB's `isAggrLengthDifferent`: the ads produce different prefixes for every family the pool has. */
const aggregationDiffers = (a: Config.BgpAdvertisement, b: Config.BgpAdvertisement, pool: PoolDraft["pool"]): boolean => {
  const { v4, v6 } = families(pool)
  if (!v4 && !v6) return true
  const d4 = a.aggregationLength !== b.aggregationLength
  const d6 = a.aggregationLengthV6 !== b.aggregationLengthV6
  if (d4 && !v6) return true
  if (d6 && !v4) return true
  return d4 && d6
}

/** MetalLB's `BGPAdvertisementsHaveCompatibleLocalPref`. */
export const compatibleLocalPref = (
  a: Config.BgpAdvertisement,
  b: Config.BgpAdvertisement,
  pool: Config.Pool | PoolDraft["pool"]
): boolean => {
  if (a.localPref === b.localPref) return true
  if (aggregationDiffers(a, b, pool)) return true
  if (a.peers.length > 0 && b.peers.length > 0 && !a.peers.some((p) => b.peers.includes(p))) return true
  return !a.nodes.some((n) => b.nodes.includes(n))
}

const attachBgp = (
  report: Report,
  ads: ReadonlyArray<BGPAdvertisement>,
  drafts: ReadonlyArray<PoolDraft>,
  facts: Facts,
  aliases: ReadonlyMap<string, Community.Community>,
  peerNames: ReadonlySet<string>
): void => {
  const kind = "BGPAdvertisement"
  for (const a of ads) {
    const name = a.metadata.name
    const s = a.spec
    let ad: Config.BgpAdvertisement | undefined
    let scope: AdvertisementScope | undefined
    const ok = report.clean(() => {
      scope = parseScope(report, kind, name, s, facts)
      const serviceSelectors = scope.serviceSelectors
      checkUnique(report, kind, name, ["spec", "communities"], s.communities, "community")
      checkUnique(report, kind, name, ["spec", "peers"], s.peers, "peers")
      const aggregationLength = s.aggregationLength ?? DefaultAggregationLength
      const aggregationLengthV6 = s.aggregationLengthV6 ?? DefaultAggregationLengthV6
      if (serviceSelectors.length > 0 && aggregationLength !== DefaultAggregationLength) {
        report.error(kind, name, ["spec", "aggregationLength"], `serviceSelectors and aggregationLength are mutually exclusive, both cannot be set in ${name}`)
      }
      if (serviceSelectors.length > 0 && aggregationLengthV6 !== DefaultAggregationLengthV6) {
        report.error(kind, name, ["spec", "aggregationLengthV6"], `serviceSelectors and aggregationLengthV6 are mutually exclusive, both cannot be set in ${name}`)
      }
      if (aggregationLength > 32) report.error(kind, name, ["spec", "aggregationLength"], `invalid aggregation length ${aggregationLength} for IPv4`)
      if (aggregationLengthV6 > 128 || aggregationLengthV6 < 0) {
        report.error(kind, name, ["spec", "aggregationLengthV6"], `invalid aggregation length ${aggregationLengthV6} for IPv6`)
      }
      const communities: Array<Community.Community> = []
      ;(s.communities ?? []).forEach((text, i) => {
        const alias = aliases.get(text)
        if (alias !== undefined) {
          communities.push(alias)
          return
        }
        const parsed = Community.parse(text)
        if (Result.isSuccess(parsed)) communities.push(parsed.success)
        else if (parsed.failure.kind === "value") report.error(kind, name, ["spec", "communities", i], parsed.failure.message)
        else {
          report.error(
            kind,
            name,
            ["spec", "communities", i],
            `invalid community ${q(text)} in BGP advertisement: not a community value and no Community alias of that name exists`,
            true
          )
        }
      })
      ;(s.peers ?? []).forEach((peer, i) => {
        if (!peerNames.has(peer)) report.warn(kind, name, ["spec", "peers", i], `no BGPPeer named ${q(peer)}: ignored`)
      })
      const unique = communities
        .toSorted(Community.compare)
        .filter((c, i, all) => i === 0 || !Community.equals(c, all[i - 1] ?? c))
      ad = {
        name,
        aggregationLength,
        aggregationLengthV6,
        localPref: s.localPref ?? DefaultLocalPref,
        communities: unique,
        peers: s.peers ?? [],
        nodes: scope.nodes,
        serviceSelectors
      }
    })
    // Pool compatibility is checked even when the advertisement has other errors, so that all surface at once.
    if (ad === undefined || scope === undefined) continue
    const adv = ad
    const targets = selectPools(report, kind, name, drafts, s, scope)
    for (const d of targets) {
      const fits = report.clean(() => {
        for (const entry of d.pool.addresses) {
          const lowest = Math.min(...entry.cidrs.map((c) => c.prefix))
          const v6 = entry.cidrs[0]?.family === 6
          const length = v6 ? adv.aggregationLengthV6 : adv.aggregationLength
          if (entry.cidrs.length > 0 && length < lowest) {
            report.error(
              kind,
              name,
              ["spec", v6 ? "aggregationLengthV6" : "aggregationLength"],
              `invalid aggregation length ${length}: prefix ${lowest} in this pool is more specific than the aggregation length for addresses ${entry.entry}`
            )
          }
        }
        if (adv.serviceSelectors.length > 0) return
        for (const other of d.bgp) {
          if (other.serviceSelectors.length > 0) continue
          if (!compatibleLocalPref(adv, other, d.pool)) {
            report.error(
              kind,
              name,
              ["spec", "localPref"],
              `invalid local preference ${adv.localPref}: local preference ${other.localPref} was already set for the same type of BGP update. Check existing BGP advertisements with common pools and aggregation lengths`
            )
          }
        }
      })
      if (ok && fits) d.bgp.push(adv)
    }
  }
}

/** MetalLB's `validateConfig`: BFD echo cannot work for IPv6 pools announced to a peer using such a profile. */
const checkBfdEcho = (
  report: Report,
  drafts: ReadonlyArray<PoolDraft>,
  peers: ReadonlyArray<Config.Peer>,
  echoProfiles: ReadonlySet<string>
): void => {
  if (echoProfiles.size === 0) return
  for (const d of drafts) {
    if (!families(d.pool).v6) continue
    for (const ad of d.bgp) {
      const targets = ad.peers.length === 0 ? peers : peers.filter((p) => ad.peers.includes(p.name))
      for (const peer of targets) {
        if (peer.bfdProfile !== undefined && echoProfiles.has(peer.bfdProfile)) {
          report.error(
            "BGPAdvertisement",
            ad.name,
            ["spec", "peers"],
            `pool ${d.pool.name} has bgpadvertisement ${ad.name} which references peer ${peer.name} which has bfd echo enabled, which is not possible`
          )
        }
      }
    }
  }
}

/** Whether an object's nodeSelectors select the node; unparsable selectors keep the object so its errors show. */
const targetsNode = (selectors: ReadonlyArray<LabelSelector.LabelSelector> | undefined, labels: Readonly<Record<string, string>>): boolean => {
  if (selectors === undefined || selectors.length === 0) return true
  return selectors.some((raw) => {
    const parsed = LabelSelector.parse(raw)
    return Result.isFailure(parsed) || LabelSelector.matches(parsed.success, labels)
  })
}

const kindOrder = ["Node", "Namespace", "Secret", "BFDProfile", "Community", "BGPPeer", "IPAddressPool", "L2Advertisement", "BGPAdvertisement"]

/** Reports in a fixed order (kind, then object name; an object's own findings in the order found), whatever the input order. */
const byObject = (a: { readonly kind: string; readonly name: string }, b: { readonly kind: string; readonly name: string }): number =>
  kindOrder.indexOf(a.kind) - kindOrder.indexOf(b.kind) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)

const dup = (what: string) => (name: string): string => `duplicate definition of ${what} ${q(name)}`

const decodePeer = (raw: unknown): Result.Result<BGPPeer, ReadonlyArray<Resources.Issue>> => {
  const isV1beta1 = typeof raw === "object" && raw !== null && (raw as { apiVersion?: unknown }).apiVersion === "metallb.io/v1beta1"
  return isV1beta1 ? Result.map(Resources.decodeBGPPeerV1beta1(raw), v1beta1ToV1beta2) : Resources.decodeBGPPeer(raw)
}

/**
 * Parses and validates the whole configuration. Never throws: every problem, in every object, comes back in
 * `Rejected.errors`.
 */
export const parseConfig = (input: ConfigInput, options: ParseOptions = {}): Result.Result<Parsed, Rejected> => {
  const report = new Report()
  const namespace = options.namespace ?? DefaultNamespace
  const facts: Facts = {
    nodes: decodeKind(report, "Node", input.nodes, decodeNode, undefined, dup("node")),
    namespaces: decodeKind(report, "Namespace", input.namespaces, decodeNode, undefined, dup("namespace")),
    secrets: decodeKind(report, "Secret", input.secrets, decodeSecret, undefined, () => "duplicate Secret")
      .filter((x) => (x.metadata.namespace ?? namespace) === namespace),
    namespace
  }
  const bfdResources = decodeKind(report, "BFDProfile", input.bfdProfiles, Resources.decodeBFDProfile, namespace, (n) => `found duplicate bfd profile name ${n}`)
  const communityResources = decodeKind(report, "Community", input.communities, Resources.decodeCommunity, namespace, dup("Community"))
  const nodeLabels = options.node === undefined
    ? undefined
    : facts.nodes.find((n) => n.metadata.name === options.node)?.metadata.labels ?? {}
  const forThisNode = <T extends { readonly spec: { readonly nodeSelectors?: ReadonlyArray<LabelSelector.LabelSelector> } }>(
    objects: Array<T>
  ): Array<T> => (nodeLabels === undefined ? objects : objects.filter((o) => targetsNode(o.spec.nodeSelectors, nodeLabels)))
  const peerResources = forThisNode(decodeKind(report, "BGPPeer", input.bgpPeers, decodePeer, namespace, dup("peer")))
  const poolResources = decodeKind(report, "IPAddressPool", input.ipAddressPools, Resources.decodeIPAddressPool, namespace, dup("pool"))
  const l2Resources = decodeKind(report, "L2Advertisement", input.l2Advertisements, Resources.decodeL2Advertisement, namespace, dup("l2advertisement"))
  const bgpResources = forThisNode(
    decodeKind(report, "BGPAdvertisement", input.bgpAdvertisements, Resources.decodeBGPAdvertisement, namespace, dup("bgpadvertisements"))
  )

  const bfdProfiles = bfdResources.flatMap((p) => parseBfdProfile(report, p) ?? [])
  const echoProfiles = new Set(bfdResources.filter((p) => p.spec.echoMode === true).map((p) => p.metadata.name))
  const aliases = parseCommunities(report, communityResources)
  const profileNames = new Set(bfdResources.map((p) => p.metadata.name))
  const parsedPeers = peerResources.flatMap((p) => parsePeer(report, p, facts, profileNames) ?? [])
  const peers = checkPeerConflicts(report, parsedPeers, facts.nodes.length > 0)
  const drafts = parsePools(report, poolResources, facts)
  attachL2(report, l2Resources, drafts, facts)
  attachBgp(report, bgpResources, drafts, facts, aliases, new Set(peerResources.map((p) => p.metadata.name)))
  checkBfdEcho(report, drafts, peers, echoProfiles)

  if (report.errors.length > 0) {
    return Result.fail({
      errors: report.errors.toSorted(byObject),
      warnings: report.warnings.toSorted(byObject),
      transientOnly: report.errors.every((e) => e.transient)
    })
  }
  return Result.succeed({
    config: {
      pools: drafts.map((d) => ({ ...d.pool, l2Advertisements: d.l2, bgpAdvertisements: d.bgp })),
      peers,
      bfdProfiles
    },
    warnings: report.warnings.toSorted(byObject)
  })
}
