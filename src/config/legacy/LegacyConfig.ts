/**
 * The legacy `metallb-system/config` ConfigMap of MetalLB 0.7–0.12 (key `config`, a YAML document), parsed the way
 * MetalLB 0.12 did: strictly (an unknown key is an error naming the key), then validated as a whole. Unlike MetalLB,
 * which stopped at the first problem, every problem is reported, each with the path of the offending key and, when
 * the source text is known, its line and column.
 *
 * @since 0.1.0
 */
import { Exit, Result, Schema, SchemaIssue, SchemaTransformation } from "effect"
import { LineCounter, parseDocument } from "yaml"
import * as Cidr from "../../net/Cidr.ts"
import * as Ip from "../../net/Ip.ts"
import { formatPath, issuesOf, type Path } from "../Resources.ts"
import { offsetOf } from "../YamlSource.ts"
import * as Duration from "../Duration.ts"

// ---------------------------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------------------------

/** go-yaml v2 decodes any scalar into a string field (`password: 12345`, `hold-time: 120`): so do we. */
const Text = Schema.Union([Schema.String, Schema.Finite, Schema.Boolean]).pipe(
  Schema.decodeTo(
    Schema.String,
    SchemaTransformation.transform<string, string | number | boolean>({ decode: (v) => String(v), encode: (s) => s })
  )
)

/** An optional key; an explicit YAML `null` (`peers:` with nothing after it) means absent, as in Go. */
const opt = <S extends Schema.Top>(schema: S) => Schema.optionalKey(Schema.NullOr(schema))

const Int = Schema.Int

export const SelectorRequirement = Schema.Struct({
  key: opt(Text),
  operator: opt(Text),
  values: opt(Schema.Array(Text))
})

export const NodeSelector = Schema.Struct({
  "match-labels": opt(Schema.Record(Schema.String, Text)),
  "match-expressions": opt(Schema.Array(SelectorRequirement))
})

export const Peer = Schema.Struct({
  "my-asn": opt(Int),
  "peer-asn": opt(Int),
  "peer-address": opt(Text),
  "peer-port": opt(Int),
  "source-address": opt(Text),
  "hold-time": opt(Text),
  "keepalive-time": opt(Text),
  "router-id": opt(Text),
  "node-selectors": opt(Schema.Array(NodeSelector)),
  password: opt(Text),
  "bfd-profile": opt(Text),
  "ebgp-multihop": opt(Schema.Boolean)
})
export type Peer = typeof Peer.Type

export const BgpAdvertisement = Schema.Struct({
  "aggregation-length": opt(Int),
  "aggregation-length-v6": opt(Int),
  localpref: opt(Int),
  communities: opt(Schema.Array(Text))
})
export type BgpAdvertisement = typeof BgpAdvertisement.Type

export const AddressPool = Schema.Struct({
  name: opt(Text),
  protocol: opt(Text),
  addresses: opt(Schema.Array(Text)),
  "avoid-buggy-ips": opt(Schema.Boolean),
  "auto-assign": opt(Schema.Boolean),
  "bgp-advertisements": opt(Schema.Array(BgpAdvertisement))
})
export type AddressPool = typeof AddressPool.Type

export const BfdProfile = Schema.Struct({
  name: opt(Text),
  "receive-interval": opt(Int),
  "transmit-interval": opt(Int),
  "detect-multiplier": opt(Int),
  "echo-interval": opt(Int),
  "echo-mode": opt(Schema.Boolean),
  "passive-mode": opt(Schema.Boolean),
  "minimum-ttl": opt(Int)
})
export type BfdProfile = typeof BfdProfile.Type

/** The document under the ConfigMap's `config` key. */
export const LegacyConfig = Schema.Struct({
  peers: opt(Schema.Array(Peer)),
  "bgp-communities": opt(Schema.Record(Schema.String, Text)),
  "address-pools": opt(Schema.Array(AddressPool)),
  "bfd-profiles": opt(Schema.Array(BfdProfile))
})
export type LegacyConfig = typeof LegacyConfig.Type

// ---------------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------------

export type { Path }
export { formatPath }

/** One problem: where (key path inside the config document, and the source position when known) and why. */
export interface Issue {
  readonly path: Path
  readonly message: string
  readonly line?: number
  readonly column?: number
}

/** `line 7, column 5: address-pools[0].protocol: unknown protocol "l2"` */
export const formatIssue = (issue: Issue): string => {
  const where = issue.line === undefined ? "" : `line ${issue.line}, column ${issue.column ?? 1}: `
  const path = issue.path.length === 0 ? "" : `${formatPath(issue.path)}: `
  return `${where}${path}${issue.message}`
}

/** Schema messages rewritten in the words an operator expects from a strict config parser. */
const schemaIssues = (issue: SchemaIssue.Issue): Array<Issue> =>
  issuesOf(issue).map(({ path, message: raw }) => {
    const last = path[path.length - 1]
    if (raw === "Expected no excess property") {
      return { path, message: `unknown key ${JSON.stringify(last)}` }
    }
    if (raw === "Missing key") return { path, message: "missing required key" }
    const message = raw
      .replace(/^Expected /, "expected ")
      .replace(/^expected object\b/, "expected a mapping")
      .replace(/^expected array\b/, "expected a list")
    return { path, message }
  })

// ---------------------------------------------------------------------------------------------------------------
// Validation (MetalLB 0.12 `internal/config.Parse`, collecting every problem)
// ---------------------------------------------------------------------------------------------------------------

const UINT32_MAX = 4294967295
const PROTOCOLS = ["layer2", "bgp"] as const

const checkUint = (issues: Array<Issue>, path: Path, value: number | null | undefined, max: number): void => {
  if (value !== undefined && value !== null && (value < 0 || value > max)) {
    issues.push({ path, message: `value ${value} is out of range (0-${max})` })
  }
}

const checkRange = (
  issues: Array<Issue>,
  path: Path,
  value: number | null | undefined,
  what: string,
  min: number,
  max: number
): void => {
  if (value !== undefined && value !== null && (value < min || value > max)) {
    issues.push({ path, message: `invalid ${what} ${value}: must be between ${min} and ${max}` })
  }
}

/** Kubernetes qualified-name rules for label keys (`prefix/name`), in the apimachinery wording. */
const labelNameRe = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/
const dnsSubdomainRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const labelKeyProblem = (key: string): string | undefined => {
  const slash = key.lastIndexOf("/")
  const name = slash < 0 ? key : key.slice(slash + 1)
  const prefix = slash < 0 ? undefined : key.slice(0, slash)
  if (prefix !== undefined && (prefix.length > 253 || !dnsSubdomainRe.test(prefix))) {
    return `invalid label key ${JSON.stringify(key)}: prefix part must be a lowercase RFC 1123 subdomain`
  }
  if (name.length === 0 || name.length > 63 || !labelNameRe.test(name)) {
    return `invalid label key ${JSON.stringify(key)}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters)`
  }
  return undefined
}
const labelValueProblem = (value: string): string | undefined =>
  value === "" || (value.length <= 63 && labelNameRe.test(value))
    ? undefined
    : `invalid label value ${JSON.stringify(value)}: must be 63 characters or less, begin and end with an alphanumeric character, and contain only alphanumerics, '-', '_' or '.'`

const validateNodeSelectors = (
  issues: Array<Issue>,
  path: Path,
  selectors: ReadonlyArray<typeof NodeSelector.Type>
): void => {
  selectors.forEach((sel, s) => {
    for (const [key, value] of Object.entries(sel["match-labels"] ?? {})) {
      const p = [...path, s, "match-labels", key]
      const problem = labelKeyProblem(key) ?? labelValueProblem(value)
      if (problem !== undefined) issues.push({ path: p, message: problem })
    }
    ;(sel["match-expressions"] ?? []).forEach((req, r) => {
      const p = [...path, s, "match-expressions", r]
      const key = req.key ?? ""
      const keyProblem = labelKeyProblem(key)
      if (keyProblem !== undefined) issues.push({ path: [...p, "key"], message: keyProblem })
      const values = req.values ?? []
      switch (req.operator) {
        case "In":
        case "NotIn":
          if (values.length === 0) {
            issues.push({ path: [...p, "values"], message: "for 'in', 'notin' operators, values set can't be empty" })
          }
          values.forEach((v, i) => {
            const problem = labelValueProblem(v)
            if (problem !== undefined) issues.push({ path: [...p, "values", i], message: problem })
          })
          break
        case "Exists":
        case "DoesNotExist":
          if (values.length > 0) {
            issues.push({
              path: [...p, "values"],
              message: "values set must be empty for exists and does not exist"
            })
          }
          break
        default:
          issues.push({
            path: [...p, "operator"],
            message: `${JSON.stringify(req.operator ?? "")} is not a valid label selector operator (In, NotIn, Exists, DoesNotExist)`
          })
      }
    })
  })
}

const isUint16 = (s: string): boolean => /^[0-9]+$/.test(s) && Number(s) <= 65535

/** A legacy standard community `A:B` (two 16-bit decimals); MetalLB 0.12's parser. */
export const communityProblem = (value: string): string | undefined => {
  const fs = value.split(":")
  if (fs.length !== 2) return `invalid community string ${JSON.stringify(value)}`
  const [a = "", b = ""] = fs
  if (!isUint16(a)) return `invalid first section of community ${JSON.stringify(a)}: must be a number between 0 and 65535`
  if (!isUint16(b)) return `invalid second section of community ${JSON.stringify(b)}: must be a number between 0 and 65535`
  return undefined
}

interface Timers {
  readonly holdSeconds: number
}

const validatePeerTimers = (issues: Array<Issue>, path: Path, peer: Peer): Timers => {
  let holdSeconds = 90
  const hold = peer["hold-time"]
  if (hold !== undefined && hold !== null && hold !== "") {
    const parsed = Duration.parse(hold)
    if (Result.isFailure(parsed)) {
      issues.push({ path: [...path, "hold-time"], message: `invalid hold time ${JSON.stringify(hold)}: ${parsed.failure}` })
    } else {
      holdSeconds = Duration.toWholeSeconds(parsed.success)
      if (holdSeconds !== 0 && holdSeconds < 3) {
        issues.push({ path: [...path, "hold-time"], message: `invalid hold time ${JSON.stringify(hold)}: must be 0 or >=3s` })
      }
    }
  }
  const ka = peer["keepalive-time"]
  if (ka !== undefined && ka !== null && ka !== "") {
    const parsed = Duration.parse(ka)
    if (Result.isFailure(parsed)) {
      issues.push({ path: [...path, "keepalive-time"], message: `invalid keepalive time ${JSON.stringify(ka)}: ${parsed.failure}` })
    } else {
      const kaSeconds = Duration.toWholeSeconds(parsed.success)
      if (kaSeconds < 0) {
        issues.push({ path: [...path, "keepalive-time"], message: `invalid keepalive time ${JSON.stringify(ka)}: must not be negative` })
      } else if (kaSeconds > holdSeconds) {
        issues.push({
          path: [...path, "keepalive-time"],
          message: `invalid keepalive time ${JSON.stringify(ka)}: must not be greater than the hold time (${Duration.format(BigInt(holdSeconds) * Duration.nanosPerSecond)})`
        })
      }
    }
  }
  return { holdSeconds }
}

const validatePeers = (issues: Array<Issue>, cfg: LegacyConfig, profiles: ReadonlySet<string>): void => {
  // Each valid peer as MetalLB normalises it (defaults applied): two equal ones are duplicates.
  const seen = new Set<string>()
  ;(cfg.peers ?? []).forEach((peer, i) => {
    const path: Path = ["peers", i]
    const before = issues.length
    const myAsn = peer["my-asn"] ?? 0
    const peerAsn = peer["peer-asn"] ?? 0
    if (myAsn === 0) issues.push({ path: [...path, "my-asn"], message: "missing local ASN" })
    else checkUint(issues, [...path, "my-asn"], myAsn, UINT32_MAX)
    if (peerAsn === 0) issues.push({ path: [...path, "peer-asn"], message: "missing peer ASN" })
    else checkUint(issues, [...path, "peer-asn"], peerAsn, UINT32_MAX)
    const address = peer["peer-address"] ?? ""
    if (Ip.parse(address) === undefined) {
      issues.push({ path: [...path, "peer-address"], message: `invalid peer IP ${JSON.stringify(address)}` })
    }
    checkUint(issues, [...path, "peer-port"], peer["peer-port"], 65535)
    const timers = validatePeerTimers(issues, path, peer)
    const routerId = peer["router-id"] ?? ""
    if (routerId !== "" && Ip.parse(routerId) === undefined) {
      issues.push({ path: [...path, "router-id"], message: `invalid router ID ${JSON.stringify(routerId)}` })
    }
    const source = peer["source-address"] ?? ""
    if (source !== "" && Ip.parse(source) === undefined) {
      issues.push({ path: [...path, "source-address"], message: `invalid source IP ${JSON.stringify(source)}` })
    }
    validateNodeSelectors(issues, [...path, "node-selectors"], peer["node-selectors"] ?? [])
    const bfd = peer["bfd-profile"] ?? ""
    if (bfd !== "" && !profiles.has(bfd)) {
      issues.push({
        path: [...path, "bfd-profile"],
        message: `peer ${address} referencing non existing bfd profile ${bfd}`
      })
    }
    if (peer["ebgp-multihop"] === true && myAsn === peerAsn) {
      issues.push({ path: [...path, "ebgp-multihop"], message: "invalid ebgp-multihop parameter set for an ibgp peer" })
    }
    if (issues.length > before) return
    // MetalLB compares the parsed peers (defaults applied) with reflect.DeepEqual.
    const key = JSON.stringify([
      myAsn,
      peerAsn,
      Ip.format(Ip.parse(address) ?? Ip.make(4, 0n)),
      peer["peer-port"] || 179,
      timers.holdSeconds,
      peer["keepalive-time"] ?? "",
      routerId,
      source,
      peer["node-selectors"] ?? [],
      peer.password ?? "",
      bfd,
      peer["ebgp-multihop"] ?? false
    ])
    if (seen.has(key)) issues.push({ path, message: `peer #${i + 1} already exists` })
    seen.add(key)
  })
}

const validateBfdProfiles = (issues: Array<Issue>, cfg: LegacyConfig): Set<string> => {
  const names = new Set<string>()
  ;(cfg["bfd-profiles"] ?? []).forEach((p, i) => {
    const path: Path = ["bfd-profiles", i]
    const name = p.name ?? ""
    if (name === "") issues.push({ path: [...path, "name"], message: "missing bfd profile name" })
    else if (names.has(name)) issues.push({ path: [...path, "name"], message: `found duplicate bfd profile name ${name}` })
    names.add(name)
    checkRange(issues, [...path, "receive-interval"], p["receive-interval"], "receive interval", 10, 60000)
    checkRange(issues, [...path, "transmit-interval"], p["transmit-interval"], "transmit interval", 10, 60000)
    checkRange(issues, [...path, "echo-interval"], p["echo-interval"], "echo interval", 10, 60000)
    checkRange(issues, [...path, "detect-multiplier"], p["detect-multiplier"], "detect multiplier", 2, 255)
    checkRange(issues, [...path, "minimum-ttl"], p["minimum-ttl"], "minimum ttl", 1, 254)
  })
  return names
}

const validateCommunities = (issues: Array<Issue>, cfg: LegacyConfig): Set<string> => {
  const aliases = new Set<string>()
  for (const [name, value] of Object.entries(cfg["bgp-communities"] ?? {})) {
    const problem = communityProblem(value)
    if (problem !== undefined) {
      issues.push({ path: ["bgp-communities", name], message: `parsing community ${JSON.stringify(name)}: ${problem}` })
    }
    aliases.add(name)
  }
  return aliases
}

/** One `addresses` entry as written, and the CIDRs it stands for. */
interface PoolEntry {
  readonly text: string
  readonly cidrs: ReadonlyArray<Cidr.Cidr>
}

const validateAdvertisement = (
  issues: Array<Issue>,
  path: Path,
  ad: BgpAdvertisement,
  entries: ReadonlyArray<PoolEntry>,
  aliases: ReadonlySet<string>
): void => {
  const lengths = [
    ["aggregation-length", 4, 32, "IPv4"],
    ["aggregation-length-v6", 6, 128, "IPv6"]
  ] as const
  for (const [key, family, max, name] of lengths) {
    const length = ad[key]
    if (length === undefined || length === null) continue
    if (length < 0 || length > max) {
      issues.push({ path: [...path, key], message: `invalid aggregation length ${length} for ${name}` })
      continue
    }
    // Per address entry, as MetalLB: a range counts by the widest of the CIDRs it summarises to.
    for (const entry of entries) {
      const prefixes = entry.cidrs.filter((c) => c.family === family).map((c) => c.prefix)
      const lowest = Math.min(...prefixes)
      if (prefixes.length > 0 && length < lowest) {
        issues.push({
          path: [...path, key],
          message: `invalid aggregation length ${length}: prefix ${lowest} in this pool is more specific than the aggregation length for addresses ${entry.text}`
        })
      }
    }
  }
  checkUint(issues, [...path, "localpref"], ad.localpref, UINT32_MAX)
  ;(ad.communities ?? []).forEach((c, k) => {
    if (aliases.has(c)) return
    const problem = communityProblem(c)
    if (problem !== undefined) {
      issues.push({
        path: [...path, "communities", k],
        message: `invalid community ${JSON.stringify(c)} in BGP advertisement: ${problem}`
      })
    }
  })
}

const validatePools = (issues: Array<Issue>, cfg: LegacyConfig, aliases: ReadonlySet<string>): void => {
  const names = new Set<string>()
  const all: Array<{ readonly cidr: Cidr.Cidr; readonly pool: string }> = []
  ;(cfg["address-pools"] ?? []).forEach((pool, i) => {
    const path: Path = ["address-pools", i]
    const name = pool.name ?? ""
    if (name === "") issues.push({ path: [...path, "name"], message: "missing pool name" })
    else if (names.has(name)) issues.push({ path: [...path, "name"], message: `duplicate definition of pool ${JSON.stringify(name)}` })
    names.add(name)
    const protocol = pool.protocol ?? ""
    if (protocol === "") issues.push({ path: [...path, "protocol"], message: "address pool is missing the protocol field" })
    else if (!(PROTOCOLS as ReadonlyArray<string>).includes(protocol)) {
      issues.push({ path: [...path, "protocol"], message: `unknown protocol ${JSON.stringify(protocol)} (expected layer2 or bgp)` })
    }
    const addresses = pool.addresses ?? []
    if (addresses.length === 0) issues.push({ path: [...path, "addresses"], message: "pool has no prefixes defined" })
    const cidrs: Array<Cidr.Cidr> = []
    const entries: Array<PoolEntry> = []
    addresses.forEach((entry, a) => {
      const parsed = Cidr.parsePoolEntry(entry)
      if (Result.isFailure(parsed)) {
        issues.push({ path: [...path, "addresses", a], message: `invalid CIDR ${JSON.stringify(entry)} in pool ${JSON.stringify(name)}: ${parsed.failure}` })
        return
      }
      for (const cidr of parsed.success) {
        const clash = [...all, ...cidrs.map((c) => ({ cidr: c, pool: name }))].find((other) => Cidr.overlaps(other.cidr, cidr))
        if (clash !== undefined) {
          issues.push({
            path: [...path, "addresses", a],
            message: `CIDR ${JSON.stringify(Cidr.format(cidr))} in pool ${JSON.stringify(name)} overlaps with already defined CIDR ${JSON.stringify(Cidr.format(clash.cidr))}`
          })
        }
        cidrs.push(cidr)
      }
      entries.push({ text: entry, cidrs: parsed.success })
    })
    all.push(...cidrs.map((cidr) => ({ cidr, pool: name })))
    const ads = pool["bgp-advertisements"] ?? []
    if (protocol === "layer2" && ads.length > 0) {
      issues.push({
        path: [...path, "bgp-advertisements"],
        message: "cannot have bgp-advertisements configuration element in a layer2 address pool"
      })
    }
    ads.forEach((ad, k) => validateAdvertisement(issues, [...path, "bgp-advertisements", k], ad, entries, aliases))
  })
}

/** Every semantic problem of a structurally valid legacy config (empty when it is valid). */
export const validate = (cfg: LegacyConfig): Array<Issue> => {
  const issues: Array<Issue> = []
  const profiles = validateBfdProfiles(issues, cfg)
  validatePeers(issues, cfg, profiles)
  const aliases = validateCommunities(issues, cfg)
  validatePools(issues, cfg, aliases)
  return issues
}

/**
 * Strict structural decoding only: types and keys, no semantic rule. configmaptocrs itself reads its input this
 * loosely; the commands always use {@link decode}.
 */
export const decodeStructure = (input: unknown): Result.Result<LegacyConfig, Array<Issue>> => {
  // An empty `config: ""` document is an empty configuration, as in MetalLB.
  const exit = Schema.decodeUnknownExit(LegacyConfig)(input ?? {}, { errors: "all", onExcessProperty: "error" })
  if (Exit.isSuccess(exit)) return Result.succeed(exit.value)
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")
  return Result.fail(
    error !== undefined && Schema.isSchemaError(error.error)
      ? schemaIssues(error.error.issue)
      : [{ path: [], message: "the configuration must be a YAML mapping" }]
  )
}

/**
 * Strict structural decoding plus {@link validate}: the config, or every problem found. When the only structural
 * problems are unknown keys, the rules still run on the rest, so one pass reports a misspelt key and, say, an
 * unknown protocol elsewhere.
 */
export const decode = (input: unknown): Result.Result<LegacyConfig, Array<Issue>> => {
  const strict = decodeStructure(input)
  if (Result.isSuccess(strict)) {
    const issues = validate(strict.success)
    return issues.length === 0 ? strict : Result.fail(issues)
  }
  const loose = Schema.decodeUnknownExit(LegacyConfig)(input ?? {}, { errors: "all" })
  return Result.fail(Exit.isSuccess(loose) ? [...strict.failure, ...validate(loose.value)] : strict.failure)
}

// ---------------------------------------------------------------------------------------------------------------
// Source text: YAML parsing with positions
// ---------------------------------------------------------------------------------------------------------------

/**
 * Where the config text sits in an enclosing file (a ConfigMap's `data.config` block): line and column offsets;
 * `null` when the text cannot be mapped back (a quoted string), and problems then carry no position.
 */
export interface TextOrigin {
  readonly lineOffset: number
  readonly columnOffset: number
}

/**
 * Parses and validates the text of the `config` key. Problems carry line/column in the text, shifted by `origin`
 * when the text was cut out of a larger file.
 */
export const parseText = (
  text: string,
  origin: TextOrigin | null = { lineOffset: 0, columnOffset: 0 }
): Result.Result<LegacyConfig, Array<Issue>> => {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false })
  const position = (offset: number | undefined) => {
    if (offset === undefined || origin === null) return {}
    const pos = lineCounter.linePos(offset)
    return { line: pos.line + origin.lineOffset, column: pos.col + origin.columnOffset }
  }
  if (doc.errors.length > 0) {
    return Result.fail(
      doc.errors.map((e) => ({ path: [], message: `could not parse config: ${e.message.split("\n")[0] ?? e.code}`, ...position(e.pos[0]) }))
    )
  }
  let value: unknown
  try {
    value = doc.toJS({ maxAliasCount: 100 })
  } catch (cause) {
    // An alias to no anchor, or an alias bomb: the yaml library throws while building the value.
    return Result.fail([{ path: [], message: `could not parse config: ${cause instanceof Error ? cause.message : String(cause)}`, ...position(0) }])
  }
  return Result.mapError(decode(value), (issues) =>
    issues.map((issue) => ({ ...issue, ...position(offsetOf(doc, issue.path)) }))
  )
}

export const LEGACY_NAMESPACE = "metallb-system"
export const LEGACY_NAME = "config"

/** True for a ConfigMap object that carries a legacy MetalLB configuration (`data.config`). */
export const isLegacyConfigMap = (obj: unknown): obj is { readonly data: { readonly config: string } } => {
  if (typeof obj !== "object" || obj === null) return false
  const o = obj as { kind?: unknown; apiVersion?: unknown; data?: unknown }
  return o.kind === "ConfigMap" && typeof o.data === "object" && o.data !== null && "config" in o.data
}
