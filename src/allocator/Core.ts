/**
 * The allocation core: which IPs a LoadBalancer Service gets, with MetalLB's semantics (reference
 * metallb-behavior.md §3) and deterministic choices where MetalLB is random (docs/allocation.md).
 *
 * The state is one mutable object with a single writer (the `Allocator` service serialises access). Every
 * operation is deterministic, does no I/O, and either fails without touching the state or commits completely.
 * Mutation in place is what keeps each operation ≈ O(log n) at 100k Services: a persistent copy per call would not.
 *
 * Indexes:
 * - per pool and family, a {@link FreeSet} of free addresses (lowest free one in O(log n));
 * - per pool and family, the used IPs of each (sharing key, backend key) pair grouped by the ports in use on
 *   them, so co-location finds the lowest compatible IP without looking at IPs one by one;
 * - a map from IP to the Services holding it (sharing and port checks);
 * - per family a sorted table of pool ranges (which pool owns an IP, by binary search).
 *
 * In a pool with `avoidBuggyIPs` the IPv4 free set works in "coordinates" that leave out every .0 and .255, so
 * the usable addresses of consecutive /24s are contiguous and skipping them costs nothing.
 *
 * @since 0.1.0
 */
import * as Cidr from "../net/Cidr.ts"
import * as Ip from "../net/Ip.ts"
import { FreeSet } from "./FreeSet.ts"
import * as PoolModule from "./Pool.ts"
import type { Pool } from "./Pool.ts"
import {
  addressesFamily,
  goList,
  goQuote,
  goQuoteList,
  portText,
  type Port,
  type ServiceFamily,
  type ServiceIntent
} from "./ServiceIntent.ts"

/** The IPs a Service holds and the pool they belong to. */
export interface Assignment {
  readonly pool: string
  /** In the order they go to `status.loadBalancer.ingress`. */
  readonly ips: ReadonlyArray<Ip.IpAddress>
}

/** A Kubernetes Event the controller should record on the Service (MetalLB's reasons and messages). */
export interface ServiceEvent {
  readonly type: "Normal" | "Warning"
  readonly reason: string
  readonly message: string
}

/**
 * The result of converging one Service: what its status should say now. `ips` empty means "no IP" (status and the
 * `ip-allocated-from-pool` annotation cleared); `error` is set when MetalLB's convergence fails (no retry: the
 * Service is revisited on the next reprocess-all), in which case `ips` may still hold the kept addresses.
 */
export interface Convergence {
  readonly ips: ReadonlyArray<Ip.IpAddress>
  readonly pool: string | undefined
  readonly error: string | undefined
  readonly events: ReadonlyArray<ServiceEvent>
}

interface Allocation {
  pool: string
  readonly ips: ReadonlyArray<Ip.IpAddress>
  readonly ports: ReadonlyArray<Port>
  readonly sharingKey: string
  readonly backendKey: string
}

interface IpUse {
  readonly ip: Ip.IpAddress
  readonly space: FamilySpace
  readonly holders: Array<string>
  sharingKey: string
  backendKey: string
  /** Signature of the ports in use on this IP, under which it is filed in `space.shared`. */
  signature: string
}

interface FamilySpace {
  readonly family: Ip.Family
  /** IPv4 with avoidBuggyIPs: work in coordinates without .0/.255. */
  readonly buggy: boolean
  /** Merged, ascending value ranges of the pool's CIDRs of this family. */
  readonly ranges: ReadonlyArray<readonly [bigint, bigint]>
  free: FreeSet
  inUse: number
  readonly total: bigint
  /**
   * Used IPs with a non-empty sharing key, for co-location: `sharing\0backend` → the set of ports in use on the
   * IP (as a signature) → that port set and the IPs' coordinates, ascending.
   */
  readonly shared: Map<string, Map<string, SharedGroup>>
}

interface SharedGroup {
  readonly ports: ReadonlySet<string>
  readonly coords: Array<bigint>
}

interface PoolEntry {
  readonly pool: Pool
  readonly v4: FamilySpace | undefined
  readonly v6: FamilySpace | undefined
}

interface RangeOwner {
  readonly first: bigint
  readonly last: bigint
  readonly entry: PoolEntry
}

/** The allocator's state. Create with {@link empty}; change only through this module's functions. */
export interface AllocatorState {
  pools: Map<string, PoolEntry>
  /** `autoAssign` pools without serviceAllocation, by name: the fallback phase. */
  ordinary: Array<PoolEntry>
  /** Pools with serviceAllocation, in pinned order (priority, then name). */
  pinned: Array<PoolEntry>
  owners: { 4: Array<RangeOwner>; 6: Array<RangeOwner> }
  readonly allocations: Map<string, Allocation>
  readonly ips: Map<number | bigint, IpUse>
  /**
   * While true (the restore phase of {@link rebuild}) commits and releases leave the free sets alone; they are
   * recomputed in one pass afterwards. Restoring only assigns known IPs, which never consults the free sets.
   */
  freeSetsStale: boolean
}

export const empty = (): AllocatorState => ({
  pools: new Map(),
  ordinary: [],
  pinned: [],
  owners: { 4: [], 6: [] },
  allocations: new Map(),
  ips: new Map(),
  freeSetsStale: false
})

// ---------------------------------------------------------------------------------------------------------------
// Addresses, coordinates, pools

/** MetalLB's cap for capacities that do not fit an int64 (a CIDR with ≥ 62 host bits). */
export const MaxInt64 = (1n << 63n) - 1n

/**
 * Map key of an address: a number for IPv4, the bigint itself for IPv6 (a Map hashes a bigint by value, ten times
 * faster than text). A number never equals a bigint as a Map key, so the families cannot collide.
 */
const ipKey = (ip: Ip.IpAddress): number | bigint => (ip.family === 4 ? Number(ip.value) : ip.value)

const isBuggy = (ip: Ip.IpAddress): boolean => {
  if (ip.family !== 4) return false
  const low = ip.value & 255n
  return low === 0n || low === 255n
}

const toCoord = (space: FamilySpace, value: bigint): bigint =>
  space.buggy ? (value >> 8n) * 254n + (value & 255n) - 1n : value

const fromCoord = (space: FamilySpace, coord: bigint): bigint =>
  space.buggy ? (coord / 254n) * 256n + (coord % 254n) + 1n : coord

/** Coordinate range of the usable addresses of `[first, last]`; empty (start > end) when it has none. */
const coordRange = (buggy: boolean, first: bigint, last: bigint): readonly [bigint, bigint] => {
  if (!buggy) return [first, last]
  const lowFirst = first & 255n
  const lowLast = last & 255n
  const a = lowFirst === 0n ? first + 1n : lowFirst === 255n ? first + 2n : first
  const b = lowLast === 255n ? last - 1n : lowLast === 0n ? last - 2n : last
  if (a > b) return [1n, 0n]
  return [(a >> 8n) * 254n + (a & 255n) - 1n, (b >> 8n) * 254n + (b & 255n) - 1n]
}

/** MetalLB's per-CIDR capacity: size minus the .0/.255 addresses when avoidBuggyIPs; ≥ 62 host bits = MaxInt64. */
const cidrCapacity = (cidr: Cidr.Cidr, avoidBuggyIPs: boolean): bigint => {
  if (Cidr.hostBits(cidr) >= 62) return MaxInt64
  const size = Cidr.size(cidr)
  if (!avoidBuggyIPs || cidr.family !== 4) return size
  if (cidr.prefix <= 24) return size - (1n << BigInt(24 - cidr.prefix)) * 2n
  const firstLow = Cidr.first(cidr) & 255n
  const lastLow = Cidr.last(cidr) & 255n
  return size - (firstLow === 0n ? 1n : 0n) - (lastLow === 255n ? 1n : 0n)
}

const mergeRanges = (cidrs: ReadonlyArray<Cidr.Cidr>): Array<readonly [bigint, bigint]> => {
  const sorted = cidrs.map((c) => [Cidr.first(c), Cidr.last(c)] as const).toSorted((a, b) => (a[0] < b[0] ? -1 : 1))
  const out: Array<[bigint, bigint]> = []
  for (const [first, last] of sorted) {
    const top = out[out.length - 1]
    if (top !== undefined && first <= top[1] + 1n) {
      if (last > top[1]) top[1] = last
    } else {
      out.push([first, last])
    }
  }
  return out
}

const makeSpace = (pool: Pool, family: Ip.Family): FamilySpace | undefined => {
  const cidrs = pool.cidrs.filter((c) => c.family === family)
  if (cidrs.length === 0) return undefined
  const buggy = pool.avoidBuggyIPs && family === 4
  let total = 0n
  for (const c of cidrs) total += cidrCapacity(c, pool.avoidBuggyIPs)
  const ranges = mergeRanges(cidrs)
  return {
    family,
    buggy,
    ranges,
    free: FreeSet.fromRanges(ranges.map(([a, b]) => coordRange(buggy, a, b))),
    inUse: 0,
    total: total > MaxInt64 || cidrs.some((c) => Cidr.hostBits(c) >= 62) ? MaxInt64 : total,
    shared: new Map()
  }
}

const byFirst = (a: RangeOwner, b: RangeOwner): number => (a.first < b.first ? -1 : 1)

const spaceOf = (entry: PoolEntry, family: Ip.Family): FamilySpace | undefined =>
  family === 4 ? entry.v4 : entry.v6

/** MetalLB's `poolFor` for one IP: the pool whose CIDRs contain it, unless it is a buggy IP there. */
const poolEntryFor = (state: AllocatorState, ip: Ip.IpAddress): PoolEntry | undefined => {
  const table = state.owners[ip.family]
  let lo = 0
  let hi = table.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const owner = table[mid]
    if (owner === undefined) break
    if (ip.value < owner.first) hi = mid - 1
    else if (ip.value > owner.last) lo = mid + 1
    else return owner.entry.pool.avoidBuggyIPs && isBuggy(ip) ? undefined : owner.entry
  }
  return undefined
}

/** The one pool holding all of `ips`, as MetalLB requires of an assignment. */
const poolEntryForAll = (state: AllocatorState, ips: ReadonlyArray<Ip.IpAddress>): PoolEntry | undefined => {
  let found: PoolEntry | undefined
  for (const ip of ips) {
    const entry = poolEntryFor(state, ip)
    if (entry === undefined || (found !== undefined && found !== entry)) return undefined
    found = entry
  }
  return found
}

/** The pool that owns `ip` under the current pools (`undefined`: none, or a skipped buggy IP). */
export const poolForIp = (state: AllocatorState, ip: Ip.IpAddress): string | undefined =>
  poolEntryFor(state, ip)?.pool.name

// ---------------------------------------------------------------------------------------------------------------
// Sharing

const sharedKey = (sharingKey: string, backendKey: string): string => `${sharingKey}\u0000${backendKey}`

/** MetalLB's `sharingOK`. */
const sharingProblem = (existing: IpUse, sharingKey: string, backendKey: string): string | undefined => {
  if (existing.sharingKey === "") return "existing service does not allow sharing"
  if (sharingKey === "") return "new service does not allow sharing"
  if (existing.sharingKey !== sharingKey) {
    return `sharing key ${goQuote(sharingKey)} does not match existing sharing key ${goQuote(existing.sharingKey)}`
  }
  if (existing.backendKey !== backendKey) {
    return `backend key ${goQuote(backendKey)} does not match existing sharing key ${goQuote(existing.backendKey)}`
  }
  return undefined
}

interface Claim {
  readonly key: string
  readonly ports: ReadonlyArray<Port>
  readonly sharingKey: string
  readonly backendKey: string
}

/**
 * MetalLB's `checkSharing`: may `claim` use `ip` next to its current holders? MetalLB reports a key mismatch as
 * "can't change sharing key …" and drops the underlying reason; it is appended here after a colon.
 */
const checkSharing = (state: AllocatorState, claim: Claim, ip: Ip.IpAddress): string | undefined => {
  const use = state.ips.get(ipKey(ip))
  if (use === undefined) return undefined
  const problem = sharingProblem(use, claim.sharingKey, claim.backendKey)
  if (problem !== undefined) {
    const others = use.holders.filter((h) => h !== claim.key).toSorted()
    if (others.length > 0) {
      return `can't change sharing key for ${goQuote(claim.key)}, address also in use by ${others.join(",")}: ${problem}`
    }
  }
  for (const port of claim.ports) {
    for (const holder of use.holders) {
      if (holder === claim.key) continue
      const other = state.allocations.get(holder)
      if (other !== undefined && other.ports.some((p) => p.port === port.port && p.protocol === port.protocol)) {
        return `port ${portText(port)} is already in use on ${goQuote(Ip.format(ip))}`
      }
    }
  }
  return undefined
}

/** Index of the first element ≥ `value` in an ascending list. */
const lowerBound = (list: ReadonlyArray<bigint>, value: bigint): number => {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((list[mid] ?? 0n) < value) lo = mid + 1
    else hi = mid
  }
  return lo
}

const sortedInsert = (list: Array<bigint>, value: bigint): void => {
  list.splice(lowerBound(list, value), 0, value)
}

const sortedRemove = (list: Array<bigint>, value: bigint): void => {
  const at = lowerBound(list, value)
  if (list[at] === value) list.splice(at, 1)
}

/** Files a shared-key IP under its keys and the ports its holders use (holders' allocations must be recorded). */
const indexShared = (state: AllocatorState, use: IpUse): void => {
  if (use.sharingKey === "") return
  const ports = new Set<string>()
  for (const holder of use.holders) {
    for (const port of state.allocations.get(holder)?.ports ?? []) ports.add(portText(port))
  }
  const signature = [...ports].toSorted().join(",")
  use.signature = signature
  const key = sharedKey(use.sharingKey, use.backendKey)
  let groups = use.space.shared.get(key)
  if (groups === undefined) {
    groups = new Map()
    use.space.shared.set(key, groups)
  }
  const group = groups.get(signature)
  const coord = toCoord(use.space, use.ip.value)
  if (group === undefined) groups.set(signature, { ports, coords: [coord] })
  else sortedInsert(group.coords, coord)
}

const unindexShared = (use: IpUse): void => {
  if (use.sharingKey === "") return
  const key = sharedKey(use.sharingKey, use.backendKey)
  const groups = use.space.shared.get(key)
  const group = groups?.get(use.signature)
  if (groups === undefined || group === undefined) return
  sortedRemove(group.coords, toCoord(use.space, use.ip.value))
  if (group.coords.length === 0) groups.delete(use.signature)
  if (groups.size === 0) use.space.shared.delete(key)
}

// ---------------------------------------------------------------------------------------------------------------
// Committing and releasing

/** Drops `key`'s allocation (MetalLB `Unassign`); `false` when it had none. */
export const release = (state: AllocatorState, key: string): boolean => {
  const allocation = state.allocations.get(key)
  if (allocation === undefined) return false
  state.allocations.delete(key)
  for (const ip of allocation.ips) {
    const k = ipKey(ip)
    const use = state.ips.get(k)
    if (use === undefined) continue
    unindexShared(use)
    const at = use.holders.indexOf(key)
    if (at >= 0) use.holders.splice(at, 1)
    if (use.holders.length === 0) {
      state.ips.delete(k)
      if (!state.freeSetsStale) use.space.free.give(toCoord(use.space, ip.value))
      use.space.inUse--
    } else {
      indexShared(state, use)
    }
  }
  return true
}

/** Records an allocation already validated against pools and sharing. */
const commit = (state: AllocatorState, key: string, entry: PoolEntry, allocation: Allocation): void => {
  release(state, key)
  state.allocations.set(key, allocation)
  for (const ip of allocation.ips) {
    const k = ipKey(ip)
    const use = state.ips.get(k)
    if (use === undefined) {
      const space = spaceOf(entry, ip.family)
      if (space === undefined) continue
      if (!state.freeSetsStale) space.free.take(toCoord(space, ip.value))
      space.inUse++
      const fresh: IpUse = {
        ip,
        space,
        holders: [key],
        sharingKey: allocation.sharingKey,
        backendKey: allocation.backendKey,
        signature: ""
      }
      state.ips.set(k, fresh)
      indexShared(state, fresh)
    } else {
      unindexShared(use)
      use.holders.push(key)
      // Holders agree on the key, except a sole holder changing its own key in place (MetalLB allows that).
      use.sharingKey = allocation.sharingKey
      use.backendKey = allocation.backendKey
      indexShared(state, use)
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Assign

const claimOf = (intent: ServiceIntent): Claim => ({
  key: intent.key,
  ports: intent.ports,
  sharingKey: intent.sharingKey,
  backendKey: intent.backendKey
})

const formatIps = (ips: ReadonlyArray<Ip.IpAddress>): Array<string> => ips.map(Ip.format)

const ok = <A>(value: A): { readonly _tag: "Ok"; readonly value: A } => ({ _tag: "Ok", value })
const fail = (reason: string): { readonly _tag: "Fail"; readonly reason: string } => ({ _tag: "Fail", reason })

/** Success with a value, or MetalLB's reason for failing. */
export type Outcome<A> = { readonly _tag: "Ok"; readonly value: A } | { readonly _tag: "Fail"; readonly reason: string }

/**
 * MetalLB's `Assign`: gives `intent` exactly `ips` (1, or 2 of different families, all in one pool the Service is
 * allowed to use, sharing rules respected), replacing any previous allocation. `autoAssign` does not matter.
 * With `expectedPool`, the IPs must also belong to that pool (the `address-pool` annotation).
 */
export const assign = (
  state: AllocatorState,
  intent: ServiceIntent,
  ips: ReadonlyArray<Ip.IpAddress>,
  expectedPool?: string
): Outcome<Assignment> => {
  const entry = poolEntryForAll(state, ips)
  if (entry === undefined || ips.length === 0) return fail(`${goQuoteList(formatIps(ips))} is not allowed in config`)
  if (!PoolModule.isCompatible(entry.pool, intent)) return fail(`pool ${entry.pool.name} not compatible for ip assignment`)
  if (ips.length > 2) return fail(`more than two addresses ${goQuoteList(formatIps(ips))}`)
  const [a, b] = ips
  if (a !== undefined && b !== undefined && a.family === b.family) {
    return fail(`${goQuote(Ip.format(a))} ${goQuote(Ip.format(b))} has the same family`)
  }
  const claim = claimOf(intent)
  for (const ip of ips) {
    const problem = checkSharing(state, claim, ip)
    if (problem !== undefined) return fail(problem)
  }
  if (expectedPool !== undefined && entry.pool.name !== expectedPool) {
    return fail(
      `requested loadBalancer IP(s) ${goQuoteList(formatIps(ips))} is not compatible with requested address pool ${expectedPool}`
    )
  }
  // One frozen copy, shared by the state and every Assignment / Convergence handed out.
  const held = Object.freeze(ips.slice())
  commit(state, intent.key, entry, {
    pool: entry.pool.name,
    ips: held,
    ports: intent.ports,
    sharingKey: intent.sharingKey,
    backendKey: intent.backendKey
  })
  return ok({ pool: entry.pool.name, ips: held })
}

// ---------------------------------------------------------------------------------------------------------------
// Allocate

/**
 * How many distinct port combinations in use on IPs with the claim's sharing and backend keys automatic allocation
 * inspects for co-location. Usually there are a handful (Services sharing an IP split a few ports between them);
 * if thousands of Services with one key each used other ports, looking at every combination would make each
 * allocation linear. MetalLB only "may" co-locate: past this many, a compatible IP may be missed and the Service
 * gets a free address (a requested IP still forces co-location).
 */
export const ColocationScanLimit = 64

/**
 * The lowest usable address of `space` for `claim`: the first free one, or an earlier used one that `claim` may
 * share (same keys, no port clash) — MetalLB scans in order and takes the first IP `checkSharing` accepts.
 */
const firstUsable = (space: FamilySpace, claim: Claim): Ip.IpAddress | undefined => {
  let best = space.free.first()
  if (claim.sharingKey !== "") {
    const mine = claim.ports.map(portText)
    let inspected = 0
    // The lowest IP of each port combination that does not clash with the claim's ports (keys match by filing).
    for (const group of space.shared.get(sharedKey(claim.sharingKey, claim.backendKey))?.values() ?? []) {
      if (inspected++ >= ColocationScanLimit) break
      const head = group.coords[0]
      if (head === undefined || (best !== undefined && head >= best)) continue
      if (!mine.some((p) => group.ports.has(p))) best = head
    }
  }
  return best === undefined ? undefined : Ip.make(space.family, fromCoord(space, best))
}

interface Candidate {
  readonly pool: string
  readonly v4: Ip.IpAddress | undefined
  readonly v6: Ip.IpAddress | undefined
}

const candidateOf = (entry: PoolEntry, claim: Claim): Candidate => ({
  pool: entry.pool.name,
  v4: entry.v4 === undefined ? undefined : firstUsable(entry.v4, claim),
  v6: entry.v6 === undefined ? undefined : firstUsable(entry.v6, claim)
})

const ipOfFamily = (candidate: Candidate, family: Ip.Family): Ip.IpAddress | undefined =>
  family === 4 ? candidate.v4 : candidate.v6

/** MetalLB's `selectIPsForFamilyAndPolicy`. */
const selectIps = (candidate: Candidate, family: ServiceFamily, intent: ServiceIntent): Outcome<Array<Ip.IpAddress>> => {
  const none = fail(`no available IPs in pool ${candidate.pool} for ${family} IPFamily`)
  const { v4, v6 } = candidate
  if (family === "ipv4") return v4 === undefined ? none : ok([v4])
  if (family === "ipv6") return v6 === undefined ? none : ok([v6])
  if (v4 !== undefined && v6 !== undefined && intent.ipFamilyPolicy !== "SingleStack") return ok([v4, v6])
  if (intent.ipFamilyPolicy === "PreferDualStack") {
    if (v4 !== undefined) return ok([v4])
    if (v6 !== undefined) return ok([v6])
  }
  return none
}

/** MetalLB's `findBestPoolForService`. */
const findBestPool = (
  entries: ReadonlyArray<PoolEntry>,
  intent: ServiceIntent,
  family: ServiceFamily
): Candidate | undefined => {
  const claim = claimOf(intent)
  const primary = intent.primaryFamily
  const secondary: Ip.Family = primary === 4 ? 6 : 4
  const prefer = intent.ipFamilyPolicy === "PreferDualStack" && family === "dual"
  let primaryCandidate: Candidate | undefined
  let secondaryCandidate: Candidate | undefined
  for (const entry of entries) {
    const candidate = candidateOf(entry, claim)
    if (family !== "dual" && ipOfFamily(candidate, family === "ipv4" ? 4 : 6) !== undefined) return candidate
    const p = ipOfFamily(candidate, primary)
    const s = ipOfFamily(candidate, secondary)
    if (p !== undefined && s !== undefined) return candidate
    if (!prefer) continue
    if (p !== undefined && primaryCandidate === undefined) primaryCandidate = candidate
    if (s !== undefined && secondaryCandidate === undefined) secondaryCandidate = candidate
  }
  return primaryCandidate ?? secondaryCandidate
}

const allocateFromEntries = (
  state: AllocatorState,
  entries: ReadonlyArray<PoolEntry>,
  intent: ServiceIntent,
  family: ServiceFamily
): Outcome<Assignment> => {
  const candidate = findBestPool(entries, intent, family)
  if (candidate === undefined) return fail("no available IPs")
  const ips = selectIps(candidate, family, intent)
  if (ips._tag === "Fail") return fail("no available IPs")
  const assigned = assign(state, intent, ips.value)
  return assigned._tag === "Ok" ? assigned : fail("no available IPs")
}

const reassignExisting = (state: AllocatorState, intent: ServiceIntent): Outcome<Assignment> | undefined => {
  const existing = state.allocations.get(intent.key)
  return existing === undefined ? undefined : assign(state, intent, existing.ips)
}

/**
 * Automatic allocation (MetalLB `Allocate`): pinned pools first — pools whose serviceAllocation names the
 * Service's namespace, selects by labels, or restricts nothing — that are `autoAssign` and compatible, by
 * priority; then every `autoAssign` pool without serviceAllocation, by name.
 */
const allocateAuto = (state: AllocatorState, intent: ServiceIntent, family: ServiceFamily): Outcome<Assignment> => {
  const again = reassignExisting(state, intent)
  if (again !== undefined) return again
  const pinned = state.pinned.filter(
    (e) =>
      e.pool.autoAssign &&
      PoolModule.isPinnedCandidate(e.pool, intent.namespace) &&
      PoolModule.isCompatible(e.pool, intent)
  )
  if (pinned.length > 0) {
    const result = allocateFromEntries(state, pinned, intent, family)
    if (result._tag === "Ok") return result
  }
  return allocateFromEntries(state, state.ordinary, intent, family)
}

/** MetalLB's `AllocateFromPool` (the `address-pool` annotation): first free IPs of that pool, autoAssign ignored. */
const allocateFromPool = (
  state: AllocatorState,
  intent: ServiceIntent,
  family: ServiceFamily,
  poolName: string
): Outcome<Assignment> => {
  const existing = state.allocations.get(intent.key)
  if (existing !== undefined) {
    const held = addressesFamily(formatIps(existing.ips))
    if (held._tag === "Invalid") return fail(held.message)
    if (intent.ipFamilyPolicy !== "PreferDualStack" && held.family !== family) {
      return fail(`IP for wrong family assigned alloc ${held.family} service family ${family}`)
    }
    return assign(state, intent, existing.ips)
  }
  const entry = state.pools.get(poolName)
  if (entry === undefined) return fail(`unknown pool ${goQuote(poolName)}`)
  const ips = selectIps(candidateOf(entry, claimOf(intent)), family, intent)
  if (ips._tag === "Fail") return ips
  return assign(state, intent, ips.value)
}

/**
 * Allocates IPs for a Service that has none (MetalLB's `allocateIPs`): the requested IPs exactly if any, else the
 * first free IPs of the requested pool, else automatic allocation. A Service that already holds an allocation gets
 * the same IPs again. Fails with MetalLB's reason.
 */
export const allocate = (state: AllocatorState, intent: ServiceIntent): Outcome<Assignment> => {
  if (intent.clusterIPs.length === 0) {
    return fail(`invalid ClusterIPs [${goList(intent.clusterIPs)}] [], can't determine family`)
  }
  if (intent.clusterFamily._tag === "Invalid") return fail(intent.clusterFamily.message)
  const family = intent.clusterFamily.family
  const requested = intent.requested
  if (requested._tag === "Invalid") return fail(requested.message)
  if (requested._tag === "Ok") {
    if (requested.family !== family) {
      return fail(
        `requested loadBalancer IP(s) ${goQuoteList(formatIps(requested.ips))} does not match the ipFamily of the service`
      )
    }
    return assign(state, intent, requested.ips, intent.requestedPool)
  }
  if (intent.requestedPool !== undefined) return allocateFromPool(state, intent, family, intent.requestedPool)
  return allocateAuto(state, intent, family)
}

/** MetalLB's `AllocateFromPoolForAdditionalFamily`: a PreferDualStack Service with one IP gets the other family. */
const allocateAdditional = (
  state: AllocatorState,
  intent: ServiceIntent,
  existing: Ip.IpAddress,
  poolName: string
): Outcome<Assignment> => {
  const entry = state.pools.get(poolName)
  if (entry === undefined) return fail(`unknown pool ${goQuote(poolName)}`)
  const family: Ip.Family = existing.family === 4 ? 6 : 4
  const extra = ipOfFamily(candidateOf(entry, claimOf(intent)), family)
  if (extra === undefined) return fail(`no available IPs in pool ${entry.pool.name} for ipv${family} IPFamily`)
  return assign(state, intent, [existing, extra])
}

// ---------------------------------------------------------------------------------------------------------------
// Queries

export const assignmentOf = (state: AllocatorState, key: string): Assignment | undefined => {
  const allocation = state.allocations.get(key)
  return allocation === undefined ? undefined : { pool: allocation.pool, ips: allocation.ips }
}

/** Every current assignment, by Service key ascending. */
export const assignments = (state: AllocatorState): Array<readonly [string, Assignment]> =>
  [...state.allocations.entries()]
    .toSorted(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, a]) => [key, { pool: a.pool, ips: a.ips }] as const)

/** Services holding `ip`, sorted. */
export const holdersOf = (state: AllocatorState, ip: Ip.IpAddress): Array<string> =>
  (state.ips.get(ipKey(ip))?.holders ?? []).toSorted()

export interface FamilyStats {
  /** Usable addresses (MetalLB's count; MaxInt64 when a CIDR has ≥ 62 host bits). */
  readonly total: bigint
  /** Distinct addresses in use (a shared IP counts once). */
  readonly inUse: number
  readonly available: bigint
}

/** The figures behind `metallb_allocator_*` and `IPAddressPool.status`. */
export interface PoolStats {
  readonly pool: string
  readonly ipv4: FamilyStats
  readonly ipv6: FamilyStats
  readonly total: bigint
  readonly inUse: number
}

const familyStats = (space: FamilySpace | undefined): FamilyStats =>
  space === undefined
    ? { total: 0n, inUse: 0, available: 0n }
    : { total: space.total, inUse: space.inUse, available: space.total - BigInt(space.inUse) }

/** Counters per pool, by name. */
export const stats = (state: AllocatorState): Array<PoolStats> =>
  [...state.pools.values()]
    .toSorted((a, b) => (a.pool.name < b.pool.name ? -1 : 1))
    .map((entry) => {
      const ipv4 = familyStats(entry.v4)
      const ipv6 = familyStats(entry.v6)
      const total = ipv4.total + ipv6.total
      return {
        pool: entry.pool.name,
        ipv4,
        ipv6,
        total: total > MaxInt64 ? MaxInt64 : total,
        inUse: ipv4.inUse + ipv6.inUse
      }
    })

// ---------------------------------------------------------------------------------------------------------------
// Pools

/** What {@link setPools} did to existing allocations. */
export interface PoolChange {
  /** Services whose IPs are in no pool any more: their allocation is gone. */
  readonly dropped: ReadonlyArray<string>
  /** Services whose IPs now belong to a differently named pool: kept, pool renamed. */
  readonly moved: ReadonlyArray<string>
}

/**
 * Replaces the pools (MetalLB `SetPools`). Allocations whose IPs fall outside every pool are dropped; those whose
 * IPs now belong to another pool are moved there. Everything else — including assignments a pool's new
 * serviceAllocation would no longer allow — stays until the Service is converged again. Indexes are rebuilt:
 * O(n log n) for n used addresses.
 */
export const setPools = (state: AllocatorState, pools: ReadonlyArray<Pool>): PoolChange => {
  const entries = new Map<string, PoolEntry>()
  for (const pool of pools.toSorted((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    entries.set(pool.name, { pool, v4: makeSpace(pool, 4), v6: makeSpace(pool, 6) })
  }
  state.pools = entries
  state.ordinary = [...entries.values()].filter((e) => e.pool.autoAssign && e.pool.serviceAllocation === undefined)
  state.pinned = [...entries.values()]
    .filter((e) => e.pool.serviceAllocation !== undefined)
    .toSorted((a, b) => PoolModule.comparePinned(a.pool, b.pool))
  const ownersOf = (family: Ip.Family): Array<RangeOwner> =>
    [...entries.values()]
      .flatMap((entry) => {
        const space = spaceOf(entry, family)
        return space === undefined ? [] : space.ranges.map(([first, last]) => ({ first, last, entry }))
      })
      .toSorted(byFirst)
  state.owners = { 4: ownersOf(4), 6: ownersOf(6) }

  const dropped: Array<string> = []
  const moved: Array<string> = []
  const kept: Array<readonly [string, Allocation, PoolEntry]> = []
  for (const [key, allocation] of state.allocations) {
    const entry = poolEntryForAll(state, allocation.ips)
    if (entry === undefined) {
      dropped.push(key)
      continue
    }
    if (entry.pool.name !== allocation.pool) {
      moved.push(key)
      allocation.pool = entry.pool.name
    }
    kept.push([key, allocation, entry])
  }
  state.allocations.clear()
  state.ips.clear()
  restoreIndexes(state, kept)
  return { dropped: dropped.toSorted(), moved: moved.toSorted() }
}

/** Re-inserts validated allocations and rebuilds every free set from the complement of the used addresses. */
const restoreIndexes = (state: AllocatorState, kept: ReadonlyArray<readonly [string, Allocation, PoolEntry]>): void => {
  for (const [key, allocation, entry] of kept) {
    state.allocations.set(key, allocation)
    for (const ip of allocation.ips) {
      const k = ipKey(ip)
      const existing = state.ips.get(k)
      if (existing !== undefined) {
        existing.holders.push(key)
        continue
      }
      const space = spaceOf(entry, ip.family)
      if (space === undefined) continue
      state.ips.set(k, {
        ip,
        space,
        holders: [key],
        sharingKey: allocation.sharingKey,
        backendKey: allocation.backendKey,
        signature: ""
      })
    }
  }
  // Filed once every holder is known: the port signature covers them all.
  for (const use of state.ips.values()) indexShared(state, use)
  rebuildFreeSets(state)
}

/** Recomputes every free set and in-use count from `state.ips`: O(n log n), used after bulk changes. */
const rebuildFreeSets = (state: AllocatorState): void => {
  const used = new Map<FamilySpace, Array<bigint>>()
  for (const use of state.ips.values()) {
    const list = used.get(use.space)
    const coord = toCoord(use.space, use.ip.value)
    if (list === undefined) used.set(use.space, [coord])
    else list.push(coord)
  }
  for (const entry of state.pools.values()) {
    for (const space of [entry.v4, entry.v6]) {
      if (space === undefined) continue
      const coords = (used.get(space) ?? []).toSorted((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      space.inUse = coords.length
      space.free = FreeSet.fromRanges(complement(space, coords))
    }
  }
  state.freeSetsStale = false
}

function* complement(space: FamilySpace, usedSorted: ReadonlyArray<bigint>): Generator<readonly [bigint, bigint]> {
  let i = 0
  for (const [first, last] of space.ranges) {
    const [lo, hi] = coordRange(space.buggy, first, last)
    let start = lo
    while (i < usedSorted.length && (usedSorted[i] ?? 0n) <= hi) {
      const u = usedSorted[i] ?? 0n
      if (u >= start) {
        if (u > start) yield [start, u - 1n]
        start = u + 1n
      }
      i++
    }
    if (start <= hi) yield [start, hi]
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Convergence (§3.2)

interface Restored {
  readonly done: Convergence | undefined
  /** What the Service still holds after steps 1–6. */
  readonly held: Assignment | undefined
  readonly events: Array<ServiceEvent>
}

// Most convergences raise no event and many end without IPs: share the empties (100k Services add up).
const NoIps: ReadonlyArray<Ip.IpAddress> = Object.freeze([])
const NoEvents: ReadonlyArray<ServiceEvent> = Object.freeze([])

const result = (
  ips: ReadonlyArray<Ip.IpAddress>,
  pool: string | undefined,
  error: string | undefined,
  events: ReadonlyArray<ServiceEvent>
): Convergence => ({ ips, pool, error, events: events.length === 0 ? NoEvents : events })

const cleared = (error: string | undefined, events: ReadonlyArray<ServiceEvent>): Convergence =>
  result(NoIps, undefined, error, events)

/** MetalLB's `serviceFamilyChanged`. */
const familyChanged = (lb: ServiceFamily | undefined, cluster: ServiceFamily, intent: ServiceIntent): boolean => {
  if (lb === undefined) return true
  if (lb === cluster) return false
  return !(cluster === "dual" && intent.ipFamilyPolicy === "PreferDualStack")
}

const sameIpSet = (a: ReadonlyArray<Ip.IpAddress>, b: ReadonlyArray<Ip.IpAddress>): boolean => {
  if (a.length !== b.length) return false
  const keys = new Set(a.map(ipKey))
  return b.every((ip) => keys.has(ipKey(ip)))
}

/**
 * Convergence steps 1–6: decide whether the Service keeps its current IPs (re-registering them, which validates
 * pools and sharing) or loses them. Allocates nothing new.
 */
const restore = (state: AllocatorState, intent: ServiceIntent): Restored => {
  const events: Array<ServiceEvent> = []
  const done = (error: string | undefined): Restored => {
    release(state, intent.key)
    return { done: cleared(error, events), held: undefined, events }
  }
  const lose = (): Restored => {
    release(state, intent.key)
    return { done: undefined, held: undefined, events }
  }
  if (intent.type !== "LoadBalancer") return done(undefined)
  if (state.pools.size === 0) return done("pools are empty")
  if (intent.clusterIPs.length === 0) return done("No ClusterIPs")
  if (intent.ipFamilyPolicy === "RequireDualStack" && intent.clusterIPs.length < 2) {
    events.push({
      type: "Warning",
      reason: "not enough clusterips",
      message: `Service requires dual stack but not enough clusterips ${goList(intent.clusterIPs)}`
    })
    return done("requires dual stack but clusterips are not dual stack")
  }
  const current = intent.current
  if (current._tag === "None") return lose()
  if (current._tag === "Invalid") {
    events.push({
      type: "Warning",
      reason: "nolbIPsIPFamily",
      message: `Failed to retrieve LBIPs IPFamily for ${goQuoteList(intent.ingress)}: ${current.message}`
    })
  }
  if (intent.clusterFamily._tag === "Invalid") {
    events.push({
      type: "Warning",
      reason: "noclusterIPsIPFamily",
      message: `Failed to retrieve ClusterIPs IPFamily for ${goQuoteList(intent.clusterIPs)}: ${intent.clusterFamily.message}`
    })
    return done(intent.clusterFamily.message)
  }
  if (current._tag === "Invalid" || familyChanged(current.family, intent.clusterFamily.family, intent)) return lose()
  const reassigned = assign(state, intent, current.ips)
  if (reassigned._tag === "Fail") {
    events.push({
      type: "Normal",
      reason: "ClearAssignment",
      message: `current IP for ${goQuote(intent.key)} not allowed by config, will attempt for new IP assignment: ${reassigned.reason}`
    })
    return lose()
  }
  const held = reassigned.value
  if (intent.requestedPool !== undefined && held.pool !== intent.requestedPool) return lose()
  if (intent.requested._tag === "Invalid") {
    events.push({
      type: "Warning",
      reason: "LoadBalancerFailed",
      message: `invalid requested loadbalancer IPs: ${intent.requested.message}`
    })
    return { done: result(held.ips, held.pool, intent.requested.message, events), held, events }
  }
  if (intent.requested._tag === "Ok" && !sameIpSet(held.ips, intent.requested.ips)) return lose()
  return { done: undefined, held, events }
}

/** Convergence steps 7–9: complete a dual-stack pair, or allocate when the Service has nothing. */
const complete = (state: AllocatorState, intent: ServiceIntent, restored: Restored): Convergence => {
  if (restored.done !== undefined) return restored.done
  const events = restored.events
  let held = restored.held
  const only = held?.ips.length === 1 ? held.ips[0] : undefined
  // MetalLB also tries this when the ClusterIPs are single-stack, and the extra IP is then cleared again by the
  // family check on the next pass; only dual ClusterIPs can keep it, so only they try.
  if (held !== undefined && only !== undefined && intent.ipFamilyPolicy === "PreferDualStack" &&
    intent.clusterFamily._tag === "Ok" && intent.clusterFamily.family === "dual") {
    const extra = allocateAdditional(state, intent, only, held.pool)
    if (extra._tag === "Fail") {
      events.push({
        type: "Normal",
        reason: "AdditionalAssignFailed",
        message: `cannot assign additional IP in PreferDualStack: ${extra.reason}`
      })
    } else {
      held = extra.value
      events.push({
        type: "Normal",
        reason: "IPAllocated",
        message: `Assigned additional IP ${goQuote(Ip.format(held.ips[1] ?? only))}`
      })
    }
  }
  if (held !== undefined) return result(held.ips, held.pool, undefined, events)
  const allocated = allocate(state, intent)
  if (allocated._tag === "Fail") {
    events.push({
      type: "Warning",
      reason: "AllocationFailed",
      message: `Failed to allocate IP for ${goQuote(intent.key)}: ${allocated.reason}`
    })
    return cleared(allocated.reason, events)
  }
  events.push({
    type: "Normal",
    reason: "IPAllocated",
    message: `Assigned IP ${goQuoteList(formatIps(allocated.value.ips))}`
  })
  return result(allocated.value.ips, allocated.value.pool, undefined, events)
}

/**
 * Converges one Service (MetalLB `convergeBalancer`, §3.2): keeps valid current IPs, completes a PreferDualStack
 * pair from the same pool, or allocates. The caller writes `ips` to the status and `pool` to the
 * `ip-allocated-from-pool` annotation, and records the events.
 */
export const converge = (state: AllocatorState, intent: ServiceIntent): Convergence =>
  complete(state, intent, restore(state, intent))

/**
 * Rebuilds the state from the cluster (a controller start, or MetalLB's reprocess-all): forgets every allocation,
 * then re-registers the current IPs of all Services — those with more ingress IPs first, ties by key — and only
 * then allocates for the Services that still need IPs, in the same order. Restoring everything before allocating
 * anything is what keeps a pending Service from taking an IP another Service already shows in its status (MetalLB
 * interleaves the two per Service; see docs/allocation.md).
 */
export const rebuild = (
  state: AllocatorState,
  intents: ReadonlyArray<ServiceIntent>
): Map<string, Convergence> => {
  state.allocations.clear()
  state.ips.clear()
  for (const entry of state.pools.values()) {
    for (const space of [entry.v4, entry.v6]) space?.shared.clear()
  }
  const ordered = intents.toSorted((a, b) =>
    b.ingress.length - a.ingress.length || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
  )
  state.freeSetsStale = true
  const restored = ordered.map((intent) => restore(state, intent))
  rebuildFreeSets(state)
  const out = new Map<string, Convergence>()
  ordered.forEach((intent, i) => {
    const r = restored[i]
    if (r !== undefined) out.set(intent.key, complete(state, intent, r))
  })
  return out
}
