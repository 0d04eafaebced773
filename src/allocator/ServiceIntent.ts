/**
 * Everything allocation needs from a Kubernetes `Service`, extracted purely from its JSON (a `V1Service`-shaped
 * plain object). Problems with individual fields are values inside the intent, worded like MetalLB's controller,
 * because MetalLB reports them at different steps of convergence (some clear the IP, some only raise an event).
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import * as Ip from "../net/Ip.ts"

export type ServiceFamily = "ipv4" | "ipv6" | "dual"
export type IpFamilyPolicy = "SingleStack" | "PreferDualStack" | "RequireDualStack"

/** One `spec.ports[]` entry as the sharing rules see it. */
export interface Port {
  readonly protocol: string
  readonly port: number
}

/** A list of addresses and its family, or MetalLB's reason why it has none (`ipfamily.ForAddresses`). */
export type Addresses =
  | { readonly _tag: "Ok"; readonly ips: ReadonlyArray<Ip.IpAddress>; readonly family: ServiceFamily }
  | { readonly _tag: "Invalid"; readonly message: string }

/** Only the family of a list of addresses (the ClusterIPs: their values never matter to allocation). */
export type FamilyOf =
  | { readonly _tag: "Ok"; readonly family: ServiceFamily }
  | { readonly _tag: "Invalid"; readonly message: string }

/** The user's request for specific IPs. */
export type Requested = { readonly _tag: "None" } | Addresses

export interface ServiceIntent {
  /** `namespace/name`, the allocator's key. */
  readonly key: string
  readonly namespace: string
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  /** `spec.type` ("ClusterIP" when absent, as the API server defaults it). */
  readonly type: string
  readonly loadBalancerClass: string | undefined
  /** `spec.clusterIPs`, or `[spec.clusterIP]` as fallback; empty when the Service has none. */
  readonly clusterIPs: ReadonlyArray<string>
  /** Family of the ClusterIPs (meaningful when `clusterIPs` is non-empty). */
  readonly clusterFamily: FamilyOf
  readonly ipFamilyPolicy: IpFamilyPolicy
  /** `spec.ipFamilies[0]`; IPv4 when unset. Decides which family PreferDualStack falls back to. */
  readonly primaryFamily: Ip.Family
  /** `metallb.io/loadBalancerIPs` (or the deprecated form) or `spec.loadBalancerIP`. */
  readonly requested: Requested
  /** `metallb.io/address-pool`; `undefined` when absent or empty. */
  readonly requestedPool: string | undefined
  /** `metallb.io/allow-shared-ip`; "" = no sharing. */
  readonly sharingKey: string
  /** ETP Local: the pod selector as a sorted label-selector string; ETP Cluster: "". */
  readonly backendKey: string
  readonly ports: ReadonlyArray<Port>
  /**
   * The non-empty `ip` fields of `status.loadBalancer.ingress`, in order, as written. Change it only through
   * {@link withIngress}, which keeps `current` in step.
   */
  readonly ingress: ReadonlyArray<string>
  /** `ingress` parsed: "None" when empty, else its addresses and family or MetalLB's reason they have none. */
  readonly current: Requested
  /** Annotation keys with the deprecated `metallb.universe.tf/` prefix, sorted. */
  readonly deprecatedAnnotations: ReadonlyArray<string>
}

export const AnnotationPrefix = "metallb.io/"
export const DeprecatedAnnotationPrefix = "metallb.universe.tf/"
export const LoadBalancerIPsAnnotation = `${AnnotationPrefix}loadBalancerIPs`
export const AddressPoolAnnotation = `${AnnotationPrefix}address-pool`
export const AllowSharedIPAnnotation = `${AnnotationPrefix}allow-shared-ip`
export const IPAllocatedFromPoolAnnotation = `${AnnotationPrefix}ip-allocated-from-pool`

// Go's %q and %v renderings, so messages read exactly like MetalLB's.
export const goQuote = (text: string): string => JSON.stringify(text)
export const goQuoteList = (items: ReadonlyArray<string>): string => `[${items.map(goQuote).join(" ")}]`
export const goList = (items: ReadonlyArray<string>): string => `[${items.join(" ")}]`

export const familyName = (family: Ip.Family): ServiceFamily => (family === 4 ? "ipv4" : "ipv6")

/** `ipfamily.ForAddresses`: 1 address → its family, 2 of different families → dual, anything else an error. */
export const addressesFamily = (texts: ReadonlyArray<string>): Addresses => {
  const parsed = texts.map((t) => Ip.parse(t))
  if (texts.length === 1 || texts.length === 2) {
    const valid = parsed.filter((ip) => ip !== undefined)
    if (valid.length !== texts.length) {
      return { _tag: "Invalid", message: `IPFamilyForAddresses: Invalid address ${goQuoteList(texts)}` }
    }
    const [a, b] = valid
    if (a === undefined) return { _tag: "Invalid", message: `IPFamilyForAddresses: Invalid address ${goQuoteList(texts)}` }
    // Frozen: the allocator hands such a list out as is in its results instead of copying it.
    if (b === undefined) return { _tag: "Ok", ips: Object.freeze([a]), family: familyName(a.family) }
    if (a.family === b.family) {
      return { _tag: "Invalid", message: `IPFamilyForAddresses: same address family ${goQuoteList(texts)}` }
    }
    return { _tag: "Ok", ips: Object.freeze([a, b]), family: "dual" }
  }
  return {
    _tag: "Invalid",
    message: `IPFamilyForAddresses: invalid ips length ${texts.length} ${goQuoteList(texts)}`
  }
}

const Families: Readonly<Record<ServiceFamily, FamilyOf>> = Object.freeze({
  ipv4: Object.freeze({ _tag: "Ok", family: "ipv4" }),
  ipv6: Object.freeze({ _tag: "Ok", family: "ipv6" }),
  dual: Object.freeze({ _tag: "Ok", family: "dual" })
})

/** {@link addressesFamily} without the addresses: one shared value per family. */
export const familyOf = (texts: ReadonlyArray<string>): FamilyOf => {
  const found = addressesFamily(texts)
  return found._tag === "Ok" ? Families[found.family] : found
}

type Json = Readonly<Record<string, unknown>>

const record = (value: unknown): Json | undefined =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : undefined

const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined)

const list = (value: unknown): ReadonlyArray<unknown> => (Array.isArray(value) ? value : [])

// Shared empties: a controller holds one intent per Service, and most have no labels, requests or ingress.
const NoLabels: Readonly<Record<string, string>> = Object.freeze({})
const NoStrings: ReadonlyArray<string> = Object.freeze([])
const NoRequest: Requested = Object.freeze({ _tag: "None" })
/** The port list of a Service without ports. */
export const NoPorts: ReadonlyArray<Port> = Object.freeze([])

/** Arrays built by `push` keep spare capacity (V8 grows them to 17 slots); keep an exact copy instead. */
const exact = <A>(items: Array<A>): ReadonlyArray<A> => (items.length === 0 ? NoStrings as ReadonlyArray<A> : items.slice())

const stringMap = (value: unknown): Readonly<Record<string, string>> => {
  const source = record(value)
  if (source === undefined) return NoLabels
  let out: Record<string, string> | undefined
  for (const k in source) {
    const v = source[k]
    if (typeof v !== "string" || !Object.hasOwn(source, k)) continue
    out ??= {}
    out[k] = v
  }
  return out ?? NoLabels
}

/**
 * Equal port lists are one frozen list: most Services of a cluster use one of a few (80, 443, 80+443), and a
 * controller holds an intent per Service. The table is bounded (emptied when full), so odd lists cannot grow it.
 */
const portLists = new Map<string, ReadonlyArray<Port>>()
const PortListsLimit = 4096

const portsOf = (items: ReadonlyArray<unknown>): ReadonlyArray<Port> => {
  const ports: Array<Port> = []
  let name = ""
  for (const item of items) {
    const port = record(item)
    const number = port?.["port"]
    if (typeof number !== "number") continue
    const protocol = text(port?.["protocol"]) ?? "TCP"
    ports.push(Object.freeze({ protocol, port: number }))
    // Length-prefixed protocol: the name is injective whatever the protocol text holds.
    name += `${protocol.length}:${protocol}/${number},`
  }
  if (ports.length === 0) return NoPorts
  const known = portLists.get(name)
  if (known !== undefined) return known
  const frozen = Object.freeze(ports)
  if (portLists.size >= PortListsLimit) portLists.clear()
  portLists.set(name, frozen)
  return frozen
}

/** An annotation under both prefixes (built once: concatenating per lookup costs more than the lookup). */
const annotationKeys = (suffix: string): readonly [string, string] =>
  [AnnotationPrefix + suffix, DeprecatedAnnotationPrefix + suffix]
const LoadBalancerIPsKeys = annotationKeys("loadBalancerIPs")
const AddressPoolKeys = annotationKeys("address-pool")
const AllowSharedIPKeys = annotationKeys("allow-shared-ip")

/** MetalLB's `valueForAnnotation`: the new key wins whenever it is present, even empty. */
const annotation = (
  annotations: Readonly<Record<string, string>>,
  [current, deprecated]: readonly [string, string]
): string | undefined => (Object.hasOwn(annotations, current) ? annotations[current] : annotations[deprecated])

/** `labels.Set(selector).String()`: `k=v` pairs sorted by key, comma-joined. */
export const renderSelector = (selector: Readonly<Record<string, string>>): string =>
  Object.keys(selector)
    .toSorted()
    .map((k) => `${k}=${selector[k] ?? ""}`)
    .join(",")

/** MetalLB's `getDesiredLbIPs`. */
const requestedIps = (annotationValue: string, specIp: string): Requested => {
  if (annotationValue === "" && specIp === "") return NoRequest
  if (annotationValue !== "" && specIp !== "") {
    return {
      _tag: "Invalid",
      message: `service can not have both ${LoadBalancerIPsAnnotation} and svc.Spec.LoadBalancerIP`
    }
  }
  if (annotationValue !== "") {
    const parts = annotationValue.split(",").map((p) => p.trim())
    if (parts.some((p) => Ip.parse(p) === undefined)) {
      return { _tag: "Invalid", message: `invalid ${LoadBalancerIPsAnnotation}: ${goQuote(annotationValue)}` }
    }
    return addressesFamily(parts)
  }
  const ip = Ip.parse(specIp)
  if (ip === undefined) return { _tag: "Invalid", message: `invalid spec.loadBalancerIP ${goQuote(specIp)}` }
  return { _tag: "Ok", ips: [ip], family: familyName(ip.family) }
}

const policyOf = (value: unknown): IpFamilyPolicy =>
  value === "PreferDualStack" || value === "RequireDualStack" ? value : "SingleStack"

/**
 * Extracts the intent of a Service object. Fails only when the object has no usable `metadata.name` /
 * `metadata.namespace`; every other problem is carried as a value.
 */
export const fromService = (service: unknown): Result.Result<ServiceIntent, string> => {
  const root = record(service)
  if (root === undefined) return Result.fail("service: expected an object")
  const metadata = record(root["metadata"])
  const name = text(metadata?.["name"])
  const namespace = text(metadata?.["namespace"])
  if (name === undefined || name === "") return Result.fail("service metadata.name: missing")
  if (namespace === undefined || namespace === "") return Result.fail("service metadata.namespace: missing")
  const annotations = stringMap(metadata?.["annotations"])
  const spec = record(root["spec"]) ?? {}
  const status = record(record(root["status"])?.["loadBalancer"]) ?? {}

  const clusterIPList = exact(list(spec["clusterIPs"]).filter((v) => typeof v === "string"))
  const clusterIP = text(spec["clusterIP"]) ?? ""
  const clusterIPs = clusterIPList.length > 0 ? clusterIPList : clusterIP === "" ? NoStrings : [clusterIP]
  const families = list(spec["ipFamilies"])

  const ports = portsOf(list(spec["ports"]))

  const ingress: Array<string> = []
  for (const entry of list(status["ingress"])) {
    const ip = text(record(entry)?.["ip"])
    if (ip !== undefined && ip !== "") ingress.push(ip)
  }
  const deprecated = Object.keys(annotations).filter((k) => k.startsWith(DeprecatedAnnotationPrefix))

  const backendKey = spec["externalTrafficPolicy"] === "Local" ? renderSelector(stringMap(spec["selector"])) : ""
  const requestedPool = annotation(annotations, AddressPoolKeys)

  return Result.succeed({
    // join() builds a flat string: a template literal would be a rope that every first Map lookup must flatten.
    key: [namespace, name].join("/"),
    namespace,
    name,
    labels: stringMap(metadata?.["labels"]),
    type: text(spec["type"]) ?? "ClusterIP",
    loadBalancerClass: text(spec["loadBalancerClass"]),
    clusterIPs,
    clusterFamily: familyOf(clusterIPs),
    ipFamilyPolicy: policyOf(spec["ipFamilyPolicy"]),
    primaryFamily: families[0] === "IPv6" ? 6 : 4,
    requested: requestedIps(annotation(annotations, LoadBalancerIPsKeys) ?? "", text(spec["loadBalancerIP"]) ?? ""),
    requestedPool: requestedPool === undefined || requestedPool === "" ? undefined : requestedPool,
    sharingKey: annotation(annotations, AllowSharedIPKeys) ?? "",
    backendKey,
    ports,
    ingress: exact(ingress),
    current: currentOf(ingress),
    deprecatedAnnotations: exact(deprecated.toSorted())
  })
}

const currentOf = (ingress: ReadonlyArray<string>): Requested =>
  ingress.length === 0 ? NoRequest : addressesFamily(ingress)

/** The intent with another `status.loadBalancer.ingress` (what the controller just wrote, or a test's status). */
export const withIngress = (intent: ServiceIntent, ingress: ReadonlyArray<string>): ServiceIntent => ({
  ...intent,
  ingress: exact([...ingress]),
  current: currentOf(ingress)
})

/**
 * `--lb-class` filtering (§3.7): without a configured class only Services without `spec.loadBalancerClass` are
 * ours; with one, only Services naming exactly that class.
 */
export const isHandledBy = (intent: ServiceIntent, loadBalancerClass: string | undefined): boolean =>
  loadBalancerClass === undefined || loadBalancerClass === ""
    ? intent.loadBalancerClass === undefined
    : intent.loadBalancerClass === loadBalancerClass

/** MetalLB's `Port.String()`: `TCP/80`. */
export const portText = (port: Port): string => `${port.protocol}/${port.port}`
