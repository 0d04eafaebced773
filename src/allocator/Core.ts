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
 * - per pool and family, a map from an address in use to its row, whose holders (sharing and port checks) are a
 *   list linked through the Services' rows; a map from Service key to its row;
 * - per family a sorted table of pool ranges (which pool owns an IP, by binary search).
 *
 * Records are rows of int32 columns and interned names (`Table.ts`), not objects: at 100k Services this is a
 * third of the memory, and nothing for the garbage collector to trace (docs/allocation.md, "Memory").
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
import { Interner, Rows } from "./Table.ts"
import {
  addressesFamily,
  goList,
  goQuote,
  goQuoteList,
  NoPorts,
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

/*
 * Storage. One row of int32 columns per Service and per address in use (see `Table.ts`); references are row
 * numbers, keys and port lists are interned. A Service's row lists its addresses (A = first in the status, B =
 * second); an address's row heads the list of its holders, linked through the holders' rows. A holder is named by
 * `serviceRow * 2 + position` (0 = A, 1 = B). Address values are never stored as objects: an address row keeps its
 * family space and its coordinate relative to the space's base, a number (a bigint only beyond 2^53).
 */
const SPool = 0
const SAddress = 1 // + position
const SPorts = 3
const SSharing = 4
const SBackend = 5
const SNext = 6 // + position: the next holder of that address
const ServiceColumns = 8

const ASpace = 0
const AHead = 1
const ASharing = 2
const ABackend = 3
const AddressColumns = 4

/** A coordinate relative to its space's base: a number when exact, else the bigint (one canonical form each). */
type Offset = number | bigint

interface FamilySpace {
  /** Index in `AllocatorState.spaces`. */
  readonly index: number
  readonly family: Ip.Family
  /** IPv4 with avoidBuggyIPs: work in coordinates without .0/.255. */
  readonly buggy: boolean
  /** Merged, ascending value ranges of the pool's CIDRs of this family. */
  readonly ranges: ReadonlyArray<readonly [bigint, bigint]>
  /** Coordinates are stored relative to this one, so that they fit a number. */
  readonly base: bigint
  /** `base` as a number (exact for IPv4, the only family that uses it). */
  readonly baseNumber: number
  free: FreeSet
  /** Addresses in use: offset → address row. */
  readonly used: Map<Offset, number>
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
  /** Index in `AllocatorState.entries`. */
  readonly index: number
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
  /** The pools by index (a Service row names its pool by index). */
  entries: Array<PoolEntry>
  /** Every family space of every pool, by index (an address row names its space by index). */
  spaces: Array<FamilySpace>
  /** `autoAssign` pools without serviceAllocation, by name: the fallback phase. */
  ordinary: Array<PoolEntry>
  /** Pools with serviceAllocation, in pinned order (priority, then name). */
  pinned: Array<PoolEntry>
  owners: { 4: Array<RangeOwner>; 6: Array<RangeOwner> }
  /** Service key → its row. */
  readonly rows: Map<string, number>
  readonly services: Rows
  /** Service row → key. */
  readonly keys: Array<string>
  readonly addresses: Rows
  /** Address row → its offset in its space. */
  readonly offsets: Array<Offset>
  /** Address row → signature of the ports in use on it, under which it is filed in `space.shared` ("" if not). */
  readonly signatures: Array<string>
  /** Sharing and backend keys. */
  readonly names: Interner<string, string>
  /** Port lists of Services, by identity (intents share equal lists, see `ServiceIntent.ts`). */
  readonly portLists: Interner<ReadonlyArray<Port>, ReadonlyArray<Port>>
  /**
   * While true (the restore phase of {@link rebuild}) commits and releases leave the free sets alone; they are
   * recomputed in one pass afterwards. Restoring only assigns known IPs, which never consults the free sets.
   */
  freeSetsStale: boolean
}

export const empty = (): AllocatorState => ({
  pools: new Map(),
  entries: [],
  spaces: [],
  ordinary: [],
  pinned: [],
  owners: { 4: [], 6: [] },
  rows: new Map(),
  services: new Rows(ServiceColumns),
  keys: [],
  addresses: new Rows(AddressColumns),
  offsets: [],
  signatures: [],
  names: new Interner("", ""),
  portLists: new Interner(NoPorts, NoPorts),
  freeSetsStale: false
})

// ---------------------------------------------------------------------------------------------------------------
// Addresses, coordinates, pools

/** MetalLB's cap for capacities that do not fit an int64 (a CIDR with ≥ 62 host bits). */
export const MaxInt64 = (1n << 63n) - 1n

/** Set key of an address: a number for IPv4, the bigint itself for IPv6 (a number never equals a bigint). */
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

const makeSpace = (pool: Pool, family: Ip.Family, index: number): FamilySpace | undefined => {
  const cidrs = pool.cidrs.filter((c) => c.family === family)
  if (cidrs.length === 0) return undefined
  const buggy = pool.avoidBuggyIPs && family === 4
  let total = 0n
  for (const c of cidrs) total += cidrCapacity(c, pool.avoidBuggyIPs)
  const ranges = mergeRanges(cidrs)
  const first = ranges[0]?.[0] ?? 0n
  const base = buggy ? (first >> 8n) * 254n + (first & 255n) - 1n : first
  return {
    index,
    family,
    buggy,
    ranges,
    base,
    baseNumber: Number(base),
    free: FreeSet.fromRanges(ranges.map(([a, b]) => coordRange(buggy, a, b))),
    used: new Map(),
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
  // Indexed: `for…of` over a frozen array (an intent's parsed status) allocates an iterator result per element.
  for (let i = 0; i < ips.length; i++) {
    const ip = ips[i]
    const entry = ip === undefined ? undefined : poolEntryFor(state, ip)
    if (entry === undefined || (found !== undefined && found !== entry)) return undefined
    found = entry
  }
  return found
}

/** The pool that owns `ip` under the current pools (`undefined`: none, or a skipped buggy IP). */
export const poolForIp = (state: AllocatorState, ip: Ip.IpAddress): string | undefined =>
  poolEntryFor(state, ip)?.pool.name

// ---------------------------------------------------------------------------------------------------------------
// Rows

const MaxExact = BigInt(Number.MAX_SAFE_INTEGER)

const offsetOf = (space: FamilySpace, coord: bigint): Offset => {
  const offset = coord - space.base
  return offset <= MaxExact && offset >= -MaxExact ? Number(offset) : offset
}

/** {@link offsetOf} of an address value; IPv4 in plain numbers (no bigint arithmetic on the hot path). */
const offsetOfValue = (space: FamilySpace, value: bigint): Offset => {
  if (space.family !== 4) return offsetOf(space, toCoord(space, value))
  const v = Number(value)
  const low = v % 256
  return (space.buggy ? (v - low) / 256 * 254 + low - 1 : v) - space.baseNumber
}

const coordOfRow = (state: AllocatorState, space: FamilySpace, row: number): bigint =>
  space.base + BigInt(state.offsets[row] ?? 0)

const spaceOfRow = (state: AllocatorState, row: number): FamilySpace | undefined =>
  state.spaces[state.addresses.get(row, ASpace)]

/** The address of an address row (a fresh object: rows keep no objects). */
const addressOfRow = (state: AllocatorState, row: number): Ip.IpAddress | undefined => {
  const space = spaceOfRow(state, row)
  return space === undefined ? undefined : Ip.make(space.family, fromCoord(space, coordOfRow(state, space, row)))
}

/** The address row of `ip`, or -1 when nobody holds it. */
const addressRowOf = (state: AllocatorState, ip: Ip.IpAddress): number => {
  const entry = poolEntryFor(state, ip)
  const space = entry === undefined ? undefined : spaceOf(entry, ip.family)
  if (space === undefined) return -1
  return space.used.get(offsetOfValue(space, ip.value)) ?? -1
}

/** The IPs of a Service row, in status order. */
const ipsOfRow = (state: AllocatorState, row: number): ReadonlyArray<Ip.IpAddress> => {
  const out: Array<Ip.IpAddress> = []
  for (let position = 0; position < 2; position++) {
    const address = state.services.get(row, SAddress + position)
    const ip = address < 0 ? undefined : addressOfRow(state, address)
    if (ip !== undefined) out.push(ip)
  }
  return Object.freeze(out)
}

const poolNameOfRow = (state: AllocatorState, row: number): string =>
  state.entries[state.services.get(row, SPool)]?.pool.name ?? ""

/** Service rows holding an address row. */
const holderRows = (state: AllocatorState, address: number): Array<number> => {
  const out: Array<number> = []
  for (let node = state.addresses.get(address, AHead); node >= 0; node = state.services.get(node >> 1, SNext + (node & 1))) {
    out.push(node >> 1)
  }
  return out
}

const holderKeys = (state: AllocatorState, address: number): Array<string> =>
  holderRows(state, address).map((row) => state.keys[row] ?? "")

const link = (state: AllocatorState, address: number, row: number, position: number): void => {
  state.services.set(row, SNext + position, state.addresses.get(address, AHead))
  state.addresses.set(address, AHead, row * 2 + position)
}

const unlink = (state: AllocatorState, address: number, row: number, position: number): void => {
  const node = row * 2 + position
  const next = state.services.get(row, SNext + position)
  let previous = -1
  for (let at = state.addresses.get(address, AHead); at >= 0; at = state.services.get(at >> 1, SNext + (at & 1))) {
    if (at === node) {
      if (previous < 0) state.addresses.set(address, AHead, next)
      else state.services.set(previous >> 1, SNext + (previous & 1), next)
      return
    }
    previous = at
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Sharing

const sharedKey = (sharingKey: string, backendKey: string): string => `${sharingKey}\u0000${backendKey}`

/** MetalLB's `sharingOK`. */
const sharingProblem = (
  state: AllocatorState,
  address: number,
  sharingKey: string,
  backendKey: string
): string | undefined => {
  const existingSharing = state.names.key(state.addresses.get(address, ASharing))
  const existingBackend = state.names.key(state.addresses.get(address, ABackend))
  if (existingSharing === "") return "existing service does not allow sharing"
  if (sharingKey === "") return "new service does not allow sharing"
  if (existingSharing !== sharingKey) {
    return `sharing key ${goQuote(sharingKey)} does not match existing sharing key ${goQuote(existingSharing)}`
  }
  if (existingBackend !== backendKey) {
    return `backend key ${goQuote(backendKey)} does not match existing sharing key ${goQuote(existingBackend)}`
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
  const address = addressRowOf(state, ip)
  if (address < 0) return undefined
  const problem = sharingProblem(state, address, claim.sharingKey, claim.backendKey)
  if (problem !== undefined) {
    const others = holderKeys(state, address).filter((h) => h !== claim.key).toSorted()
    if (others.length > 0) {
      return `can't change sharing key for ${goQuote(claim.key)}, address also in use by ${others.join(",")}: ${problem}`
    }
  }
  const holders = holderRows(state, address)
  for (const port of claim.ports) {
    for (const holder of holders) {
      if (state.keys[holder] === claim.key) continue
      const other = state.portLists.value(state.services.get(holder, SPorts))
      if (other.some((p) => p.port === port.port && p.protocol === port.protocol)) {
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

const sharedKeyOfRow = (state: AllocatorState, address: number): string =>
  sharedKey(state.names.key(state.addresses.get(address, ASharing)), state.names.key(state.addresses.get(address, ABackend)))

/** Files a shared-key address under its keys and the ports its holders use (its holders must be linked). */
const indexShared = (state: AllocatorState, address: number): void => {
  const space = spaceOfRow(state, address)
  if (state.addresses.get(address, ASharing) === 0 || space === undefined) return
  const ports = new Set<string>()
  for (const holder of holderRows(state, address)) {
    for (const port of state.portLists.value(state.services.get(holder, SPorts))) ports.add(portText(port))
  }
  const signature = [...ports].toSorted().join(",")
  state.signatures[address] = signature
  const key = sharedKeyOfRow(state, address)
  let groups = space.shared.get(key)
  if (groups === undefined) {
    groups = new Map()
    space.shared.set(key, groups)
  }
  const group = groups.get(signature)
  const coord = coordOfRow(state, space, address)
  if (group === undefined) groups.set(signature, { ports, coords: [coord] })
  else sortedInsert(group.coords, coord)
}

const unindexShared = (state: AllocatorState, address: number): void => {
  const space = spaceOfRow(state, address)
  if (state.addresses.get(address, ASharing) === 0 || space === undefined) return
  const signature = state.signatures[address] ?? ""
  const key = sharedKeyOfRow(state, address)
  const groups = space.shared.get(key)
  const group = groups?.get(signature)
  if (groups === undefined || group === undefined) return
  sortedRemove(group.coords, coordOfRow(state, space, address))
  if (group.coords.length === 0) groups.delete(signature)
  if (groups.size === 0) space.shared.delete(key)
}

// ---------------------------------------------------------------------------------------------------------------
// Committing and releasing

/** Drops `key`'s allocation (MetalLB `Unassign`); `false` when it had none. */
export const release = (state: AllocatorState, key: string): boolean => {
  const row = state.rows.get(key)
  if (row === undefined) return false
  state.rows.delete(key)
  for (let position = 0; position < 2; position++) {
    const address = state.services.get(row, SAddress + position)
    if (address < 0) continue
    unindexShared(state, address)
    unlink(state, address, row, position)
    if (state.addresses.get(address, AHead) >= 0) {
      indexShared(state, address)
      continue
    }
    const space = spaceOfRow(state, address)
    if (space !== undefined) {
      const offset = state.offsets[address] ?? 0
      space.used.delete(offset)
      if (!state.freeSetsStale) space.free.give(space.base + BigInt(offset))
    }
    state.names.release(state.addresses.get(address, ASharing))
    state.names.release(state.addresses.get(address, ABackend))
    state.signatures[address] = ""
    state.addresses.free(address)
  }
  state.portLists.release(state.services.get(row, SPorts))
  state.names.release(state.services.get(row, SSharing))
  state.names.release(state.services.get(row, SBackend))
  state.keys[row] = ""
  state.services.free(row)
  return true
}

/** What a Service holds, as {@link commit} records it. */
interface Allocation {
  readonly ips: ReadonlyArray<Ip.IpAddress>
  readonly ports: ReadonlyArray<Port>
  readonly sharingKey: string
  readonly backendKey: string
}

const identity = <A>(a: A): A => a

const setName = (state: AllocatorState, rows: Rows, row: number, column: number, name: string): void => {
  // Acquired before the old one is released, so that keeping the same name never drops it in between.
  const id = state.names.acquire(name, identity)
  state.names.release(rows.get(row, column))
  rows.set(row, column, id)
}

/** Records an allocation already validated against pools and sharing. */
const commit = (state: AllocatorState, key: string, entry: PoolEntry, allocation: Allocation): void => {
  release(state, key)
  const { services, addresses } = state
  const row = services.alloc(-1)
  state.rows.set(key, row)
  state.keys[row] = key
  services.set(row, SPool, entry.index)
  services.set(row, SPorts, state.portLists.acquire(allocation.ports, identity))
  services.set(row, SSharing, 0)
  services.set(row, SBackend, 0)
  setName(state, services, row, SSharing, allocation.sharingKey)
  setName(state, services, row, SBackend, allocation.backendKey)
  allocation.ips.forEach((ip, position) => {
    const space = spaceOf(entry, ip.family)
    if (space === undefined) return
    const offset = offsetOfValue(space, ip.value)
    let address = space.used.get(offset)
    if (address === undefined) {
      if (!state.freeSetsStale) space.free.take(toCoord(space, ip.value))
      address = addresses.alloc(-1)
      addresses.set(address, ASpace, space.index)
      addresses.set(address, ASharing, 0)
      addresses.set(address, ABackend, 0)
      state.offsets[address] = offset
      state.signatures[address] = ""
      space.used.set(offset, address)
    } else {
      unindexShared(state, address)
    }
    link(state, address, row, position)
    // Holders agree on the key, except a sole holder changing its own key in place (MetalLB allows that).
    setName(state, addresses, address, ASharing, allocation.sharingKey)
    setName(state, addresses, address, ABackend, allocation.backendKey)
    services.set(row, SAddress + position, address)
    indexShared(state, address)
  })
}

// ---------------------------------------------------------------------------------------------------------------
// Assign

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
  const problem = (a === undefined ? undefined : checkSharing(state, intent, a)) ??
    (b === undefined ? undefined : checkSharing(state, intent, b))
  if (problem !== undefined) return fail(problem)
  if (expectedPool !== undefined && entry.pool.name !== expectedPool) {
    return fail(
      `requested loadBalancer IP(s) ${goQuoteList(formatIps(ips))} is not compatible with requested address pool ${expectedPool}`
    )
  }
  // The state keeps rows, not this list: hand out the caller's list when it cannot change (an intent's parsed
  // status is frozen), else one frozen copy.
  const held = Object.isFrozen(ips) ? ips : Object.freeze(ips.slice())
  commit(state, intent.key, entry, {
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
  const claim: Claim = intent
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
  const row = state.rows.get(intent.key)
  return row === undefined ? undefined : assign(state, intent, ipsOfRow(state, row))
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
  const row = state.rows.get(intent.key)
  if (row !== undefined) {
    const existing = ipsOfRow(state, row)
    const held = addressesFamily(formatIps(existing))
    if (held._tag === "Invalid") return fail(held.message)
    if (intent.ipFamilyPolicy !== "PreferDualStack" && held.family !== family) {
      return fail(`IP for wrong family assigned alloc ${held.family} service family ${family}`)
    }
    return assign(state, intent, existing)
  }
  const entry = state.pools.get(poolName)
  if (entry === undefined) return fail(`unknown pool ${goQuote(poolName)}`)
  const ips = selectIps(candidateOf(entry, intent), family, intent)
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
  const extra = ipOfFamily(candidateOf(entry, intent), family)
  if (extra === undefined) return fail(`no available IPs in pool ${entry.pool.name} for ipv${family} IPFamily`)
  return assign(state, intent, [existing, extra])
}

// ---------------------------------------------------------------------------------------------------------------
// Queries

const assignmentOfRow = (state: AllocatorState, row: number): Assignment => ({
  pool: poolNameOfRow(state, row),
  ips: ipsOfRow(state, row)
})

export const assignmentOf = (state: AllocatorState, key: string): Assignment | undefined => {
  const row = state.rows.get(key)
  return row === undefined ? undefined : assignmentOfRow(state, row)
}

/** Every current assignment, by Service key ascending. */
export const assignments = (state: AllocatorState): Array<readonly [string, Assignment]> =>
  [...state.rows.entries()]
    .toSorted(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, row]) => [key, assignmentOfRow(state, row)] as const)

/** Services holding `ip`, sorted. */
export const holdersOf = (state: AllocatorState, ip: Ip.IpAddress): Array<string> => {
  const address = addressRowOf(state, ip)
  return address < 0 ? [] : holderKeys(state, address).toSorted()
}

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
    : { total: space.total, inUse: space.used.size, available: space.total - BigInt(space.used.size) }

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
  // What every Service holds under the old pools: the tables are rebuilt from it.
  const before = [...state.rows].map(([key, row]) => ({
    key,
    pool: poolNameOfRow(state, row),
    ips: ipsOfRow(state, row),
    ports: state.portLists.value(state.services.get(row, SPorts)),
    sharingKey: state.names.key(state.services.get(row, SSharing)),
    backendKey: state.names.key(state.services.get(row, SBackend))
  }))
  const byName = new Map<string, Pool>()
  for (const pool of pools.toSorted((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    byName.set(pool.name, pool)
  }
  const spaces: Array<FamilySpace> = []
  const addSpace = (pool: Pool, family: Ip.Family): FamilySpace | undefined => {
    const space = makeSpace(pool, family, spaces.length)
    if (space !== undefined) spaces.push(space)
    return space
  }
  const entries = [...byName.values()].map((pool, index): PoolEntry => ({
    index,
    pool,
    v4: addSpace(pool, 4),
    v6: addSpace(pool, 6)
  }))
  state.pools = new Map(entries.map((e) => [e.pool.name, e] as const))
  state.entries = entries
  state.spaces = spaces
  state.ordinary = entries.filter((e) => e.pool.autoAssign && e.pool.serviceAllocation === undefined)
  state.pinned = entries
    .filter((e) => e.pool.serviceAllocation !== undefined)
    .toSorted((a, b) => PoolModule.comparePinned(a.pool, b.pool))
  const ownersOf = (family: Ip.Family): Array<RangeOwner> =>
    entries
      .flatMap((entry) => {
        const space = spaceOf(entry, family)
        return space === undefined ? [] : space.ranges.map(([first, last]) => ({ first, last, entry }))
      })
      .toSorted(byFirst)
  state.owners = { 4: ownersOf(4), 6: ownersOf(6) }

  const dropped: Array<string> = []
  const moved: Array<string> = []
  clearTables(state)
  state.freeSetsStale = true
  for (const allocation of before) {
    const entry = poolEntryForAll(state, allocation.ips)
    if (entry === undefined) {
      dropped.push(allocation.key)
      continue
    }
    if (entry.pool.name !== allocation.pool) moved.push(allocation.key)
    commit(state, allocation.key, entry, allocation)
  }
  rebuildFreeSets(state)
  return { dropped: dropped.toSorted(), moved: moved.toSorted() }
}

/** Forgets every allocation (the free sets are left for {@link rebuildFreeSets}). */
const clearTables = (state: AllocatorState): void => {
  state.rows.clear()
  state.services.clear()
  state.addresses.clear()
  state.keys.length = 0
  state.offsets.length = 0
  state.signatures.length = 0
  state.names.clear()
  state.portLists.clear()
  for (const space of state.spaces) {
    space.used.clear()
    space.shared.clear()
  }
}

const compareBigint = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0)

/** The used coordinates of a space, ascending (sorted as numbers when every offset is one: the usual case). */
const usedCoords = (space: FamilySpace): Array<bigint> => {
  const numbers = new Float64Array(space.used.size)
  let i = 0
  for (const o of space.used.keys()) {
    if (typeof o !== "number") return [...space.used.keys()].map((x) => space.base + BigInt(x)).toSorted(compareBigint)
    numbers[i++] = o
  }
  // Typed-array sort is numeric.
  return Array.from(numbers.toSorted(), (n) => space.base + BigInt(n))
}

/** Recomputes every free set from the used addresses: O(n log n), used after bulk changes. */
const rebuildFreeSets = (state: AllocatorState): void => {
  for (const space of state.spaces) space.free = FreeSet.fromRanges(complement(space, usedCoords(space)))
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

/**
 * A PreferDualStack Service holding one IP gets the other family in step 7. MetalLB also tries this when the
 * ClusterIPs are single-stack, and the extra IP is then cleared again by the family check on the next pass; only
 * dual ClusterIPs can keep it, so only they try.
 */
const wantsSecondFamily = (intent: ServiceIntent, held: Assignment): boolean =>
  held.ips.length === 1 && intent.ipFamilyPolicy === "PreferDualStack" && intent.clusterFamily._tag === "Ok" &&
  intent.clusterFamily.family === "dual"

/** Convergence steps 7–9: complete a dual-stack pair, or allocate when the Service has nothing. */
const complete = (state: AllocatorState, intent: ServiceIntent, restored: Restored): Convergence => {
  if (restored.done !== undefined) return restored.done
  const events = restored.events
  let held = restored.held
  const only = held?.ips[0]
  if (held !== undefined && only !== undefined && wantsSecondFamily(intent, held)) {
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
  clearTables(state)
  const ordered = intents.toSorted((a, b) =>
    b.ingress.length - a.ingress.length || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
  )
  state.freeSetsStale = true
  // A Service that keeps its IPs and needs nothing more is final after restoring: keep its result rather than the
  // intermediate records (at 100k Services they would outlive the young generation only to die).
  const restored = ordered.map((intent): Restored | Convergence => {
    const r = restore(state, intent)
    if (r.done !== undefined) return r.done
    return r.held !== undefined && !wantsSecondFamily(intent, r.held) ?
      result(r.held.ips, r.held.pool, undefined, r.events) :
      r
  })
  rebuildFreeSets(state)
  const out = new Map<string, Convergence>()
  ordered.forEach((intent, i) => {
    const r = restored[i]
    if (r !== undefined) out.set(intent.key, "error" in r ? r : complete(state, intent, r))
  })
  return out
}
