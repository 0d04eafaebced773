/**
 * The controller's pure decisions: which object version is newer, in which order a full pass visits Services
 * (MetalLB §1.2: those showing IPs first, most IPs first), what to write to a Service for a convergence result
 * (§1.3, §3.2 step 9) and to an IPAddressPool's status.
 *
 * @since 0.1.0
 */
import type { Convergence, PoolStats } from "../allocator/Core.ts"
import { IPAllocatedFromPoolAnnotation } from "../allocator/ServiceIntent.ts"
import type { KubeObject } from "../k8s/Resource.ts"
import * as Ip from "../net/Ip.ts"

/** The parts of a Service the controller reads back. */
export interface ServiceObject extends KubeObject {
  readonly status?: { readonly loadBalancer?: { readonly ingress?: ReadonlyArray<{ readonly ip?: string }> } } | undefined
}

const numeric = /^\d+$/

/**
 * Whether `candidate` may replace `known` in the controller's view. resourceVersions are opaque to clients, but
 * every real API server (etcd revisions, the in-memory server) issues increasing integers; with those a watch
 * event older than the object our own write returned is ignored, so a pass never works from a status it has
 * already overwritten. Anything else is taken as newer.
 */
export const isNewer = (candidate: KubeObject, known: KubeObject | undefined): boolean => {
  const a = candidate.metadata.resourceVersion
  const b = known?.metadata.resourceVersion
  if (a === undefined || b === undefined || !numeric.test(a) || !numeric.test(b)) return true
  return BigInt(a) > BigInt(b)
}

/** Same resourceVersion: the event carries nothing the controller has not seen (its own write coming back). */
export const isSameVersion = (candidate: KubeObject, known: KubeObject | undefined): boolean =>
  known !== undefined && candidate.metadata.resourceVersion !== undefined &&
  candidate.metadata.resourceVersion === known.metadata.resourceVersion

/** The `ip` fields of `status.loadBalancer.ingress`, in order. */
export const ingressOf = (service: ServiceObject): ReadonlyArray<string> =>
  (service.status?.loadBalancer?.ingress ?? []).flatMap((i) => (typeof i.ip === "string" && i.ip !== "" ? [i.ip] : []))

/** MetalLB's reprocess-all order: more ingress IPs first, then by key, so nothing pending can take a shown IP. */
export const passOrder = <T extends { readonly key: string; readonly ingress: ReadonlyArray<string> }>(items: ReadonlyArray<T>): Array<T> =>
  items.toSorted((a, b) => b.ingress.length - a.ingress.length || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))

/** What to send to make a Service say what its convergence decided. */
export interface ServiceWrites {
  /** merge patch of the main resource (the `ip-allocated-from-pool` annotation), when it must change */
  readonly metadata: object | undefined
  /** merge patch of the status subresource, when `status.loadBalancer` must change */
  readonly status: object | undefined
  readonly ingress: ReadonlyArray<string>
}

const sameList = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => a.length === b.length && a.every((x, i) => x === b[i])

/** §3.2 step 9 and §1.3: `ingress` = one `{ip}` per IP; the annotation names the pool, removed with the IPs. */
export const writesFor = (service: ServiceObject, convergence: Convergence): ServiceWrites => {
  const ingress = convergence.ips.map(Ip.format)
  const pool = ingress.length > 0 ? convergence.pool : undefined
  const currentPool = service.metadata.annotations?.[IPAllocatedFromPoolAnnotation]
  const metadata = currentPool === pool
    ? undefined
    : { metadata: { annotations: { [IPAllocatedFromPoolAnnotation]: pool ?? null } } }
  const status = sameList(ingressOf(service), ingress) && (ingress.length > 0 || service.status?.loadBalancer?.ingress === undefined)
    ? undefined
    : { status: { loadBalancer: ingress.length > 0 ? { ingress: ingress.map((ip) => ({ ip })) } : { ingress: null } } }
  return { metadata, status, ingress }
}

/** `IPAddressPool.status` as MetalLB's pool status reconciler writes it. */
export interface PoolStatus {
  readonly assignedIPv4: number
  readonly assignedIPv6: number
  readonly availableIPv4: number
  readonly availableIPv6: number
}

/** int64 in the CRD, but JSON numbers: counts of huge IPv6 pools are capped at 2^53 − 1. */
const count = (n: bigint | number): number => {
  const v = typeof n === "bigint" ? n : BigInt(n)
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v)
}

export const poolStatus = (stats: PoolStats): PoolStatus => ({
  assignedIPv4: stats.ipv4.inUse,
  assignedIPv6: stats.ipv6.inUse,
  availableIPv4: count(stats.ipv4.available),
  availableIPv6: count(stats.ipv6.available)
})

export const samePoolStatus = (wanted: PoolStatus, written: unknown): boolean => {
  if (typeof written !== "object" || written === null) return false
  const w = written as Record<string, unknown>
  return w["assignedIPv4"] === wanted.assignedIPv4 && w["assignedIPv6"] === wanted.assignedIPv6 &&
    w["availableIPv4"] === wanted.availableIPv4 && w["availableIPv6"] === wanted.availableIPv6
}
