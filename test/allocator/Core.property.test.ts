/**
 * Model-based property test of the allocation core. A tiny controller drives it the way the real one will: every
 * Service add/update converges it and writes the result to its status; deletes release; pool edits replace the
 * pools; after each event the controller reprocesses every Service (ordered like MetalLB) until nothing changes.
 * After every step the invariants below must hold, including "a restart rebuilds exactly the same assignments".
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Cidr from "../../src/net/Cidr.ts"
import * as Ip from "../../src/net/Ip.ts"
import * as Core from "../../src/allocator/Core.ts"
import { isCompatible, type Pool } from "../../src/allocator/Pool.ts"
import { type ServiceIntent, withIngress } from "../../src/allocator/ServiceIntent.ts"
import { DUAL_CLUSTER, intent, pool, V4_CLUSTER, V6_CLUSTER, texts } from "./fixtures.ts"

// Small, non-overlapping address blocks, with .0 and .255 present for avoidBuggyIPs.
const BLOCKS = [
  "192.0.2.0/30", "192.0.2.4/30", "198.51.100.254/31", "203.0.113.0/31", "203.0.113.255/32",
  "2001:db8::/126", "2001:db8::10/127", "2001:db8:1::/127"
]
const POOLS = ["p0", "p1", "p2", "p3"]
const KEYS = ["ns0/a", "ns0/b", "ns0/c", "ns0/d", "ns1/a", "ns1/b", "ns1/c", "ns1/d"]
const REQUESTABLE = ["192.0.2.1", "192.0.2.4", "198.51.100.255", "203.0.113.0", "2001:db8::1", "2001:db8::10", "192.0.2.200"]

type Stack = "v4" | "v6" | "prefer" | "prefer6" | "require" | "require1"

interface ServiceSpec {
  readonly key: string
  readonly type: string
  readonly stack: Stack
  readonly labels: Record<string, string> | undefined
  readonly sharing: string | undefined
  readonly local: Record<string, string> | undefined
  readonly ports: ReadonlyArray<readonly [string, number]>
  readonly request: ReadonlyArray<string> | undefined
  readonly pool: string | undefined
}

interface PoolSpec {
  readonly owners: ReadonlyArray<number>
  readonly options: ReadonlyArray<{
    readonly autoAssign: boolean
    readonly avoidBuggyIPs: boolean
    readonly allocation: "none" | "namespace" | "selector" | "priority"
    readonly priority: number
  }>
}

type Command =
  | { readonly _tag: "Upsert"; readonly spec: ServiceSpec }
  | { readonly _tag: "Delete"; readonly key: string }
  | { readonly _tag: "Pools"; readonly spec: PoolSpec }

const labelArb = fc.constantFrom(undefined, { app: "a" }, { app: "b" })

/** `undefined` except once in `oneIn` draws. */
const sometimes = <A>(arb: fc.Arbitrary<A>, oneIn: number): fc.Arbitrary<A | undefined> =>
  fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb })

const serviceArb: fc.Arbitrary<ServiceSpec> = fc.record({
  key: fc.constantFrom(...KEYS),
  type: fc.constantFrom("LoadBalancer", "LoadBalancer", "LoadBalancer", "LoadBalancer", "ClusterIP"),
  stack: fc.constantFrom<Stack>("v4", "v4", "v4", "v6", "prefer", "prefer6", "require", "require1"),
  labels: labelArb,
  // Sharing needs equal keys, equal backends and disjoint ports: bias towards them so IPs do get shared.
  sharing: fc.constantFrom(undefined, "k1", "k1", "k1", "k2"),
  local: fc.constantFrom(undefined, undefined, undefined, { app: "a" }, { app: "b" }),
  ports: fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom([["TCP", 80]] as const, [["TCP", 443]] as const, [["UDP", 53]] as const) },
    { weight: 1, arbitrary: fc.subarray([["TCP", 80], ["TCP", 443], ["UDP", 53]] as const, { minLength: 1 }) }
  ),
  request: sometimes(
    fc.oneof(
      fc.constantFrom(...REQUESTABLE).map((ip) => [ip]),
      fc.constantFrom(["192.0.2.1", "2001:db8::1"], ["2001:db8::10", "192.0.2.4"], ["192.0.2.1", "192.0.2.2"])
    ),
    5
  ),
  pool: sometimes(fc.constantFrom(...POOLS, "nope"), 6)
})

const poolsArb: fc.Arbitrary<PoolSpec> = fc.record({
  owners: fc.array(fc.integer({ min: 0, max: POOLS.length }), { minLength: BLOCKS.length, maxLength: BLOCKS.length }),
  options: fc.array(
    fc.record({
      autoAssign: fc.constantFrom(true, true, true, false),
      avoidBuggyIPs: fc.boolean(),
      allocation: fc.constantFrom("none", "none", "namespace", "selector", "priority"),
      priority: fc.constantFrom(0, 10, 20)
    }),
    { minLength: POOLS.length, maxLength: POOLS.length }
  )
})

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: serviceArb.map((spec) => ({ _tag: "Upsert" as const, spec })) },
  { weight: 2, arbitrary: fc.constantFrom(...KEYS).map((key) => ({ _tag: "Delete" as const, key })) },
  { weight: 1, arbitrary: poolsArb.map((spec) => ({ _tag: "Pools" as const, spec })) }
)

const buildPools = (spec: PoolSpec): Array<Pool> =>
  POOLS.flatMap((name, i) => {
    const blocks = BLOCKS.filter((_, b) => spec.owners[b] === i)
    const o = spec.options[i]
    if (blocks.length === 0 || o === undefined) return []
    const allocation = o.allocation === "namespace"
      ? { namespaces: ["ns0"], priority: o.priority }
      : o.allocation === "selector"
      ? { selectors: [{ matchLabels: { app: "a" } }], priority: o.priority }
      : o.allocation === "priority"
      ? { priority: o.priority === 0 ? 5 : o.priority }
      : {}
    return [pool(name, blocks, { autoAssign: o.autoAssign, avoidBuggyIPs: o.avoidBuggyIPs, ...allocation })]
  })

const toIntent = (spec: ServiceSpec, ingress: ReadonlyArray<string>): ServiceIntent => {
  const [namespace = "", name = ""] = spec.key.split("/")
  const clusterIPs = spec.stack === "v4" || spec.stack === "require1"
    ? V4_CLUSTER
    : spec.stack === "v6"
    ? V6_CLUSTER
    : DUAL_CLUSTER
  const policy = spec.stack === "prefer" || spec.stack === "prefer6"
    ? "PreferDualStack"
    : spec.stack === "require" || spec.stack === "require1"
    ? "RequireDualStack"
    : "SingleStack"
  const annotations: Record<string, string> = {}
  if (spec.sharing !== undefined) annotations["metallb.io/allow-shared-ip"] = spec.sharing
  if (spec.request !== undefined) annotations["metallb.io/loadBalancerIPs"] = spec.request.join(",")
  if (spec.pool !== undefined) annotations["metallb.io/address-pool"] = spec.pool
  return intent(name, {
    namespace,
    type: spec.type,
    clusterIPs,
    policy,
    ...(spec.stack === "prefer6" ? { ipFamilies: ["IPv6", "IPv4"] } : {}),
    ...(spec.labels === undefined ? {} : { labels: spec.labels }),
    ...(spec.local === undefined ? {} : { local: spec.local }),
    annotations,
    ports: spec.ports,
    ingress
  })
}

/** The controller under test: services with their written status, and the allocator state. */
class Model {
  readonly state = Core.empty()
  pools: Array<Pool> = []
  readonly services = new Map<string, ServiceIntent>()
  steps = 0

  readonly seen: Map<string, number>

  constructor(seen: Map<string, number>) {
    this.seen = seen
  }

  note(what: string): void {
    this.seen.set(what, (this.seen.get(what) ?? 0) + 1)
  }

  write(s: ServiceIntent, c: Core.Convergence): boolean {
    for (const e of c.events) this.note(e.reason)
    if (c.ips.length === 2) this.note("dual-stack pair")
    if (c.ips.length > 0 && s.requested._tag === "Ok") this.note("request honoured")
    const ingress = texts(c.ips)
    const changed = ingress.join() !== s.ingress.join()
    this.services.set(s.key, withIngress(s, ingress))
    return changed
  }

  apply(command: Command): void {
    this.steps++
    if (command._tag === "Upsert") {
      const previous = this.services.get(command.spec.key)
      const s = toIntent(command.spec, previous?.ingress ?? [])
      this.write(s, Core.converge(this.state, s))
    } else if (command._tag === "Delete") {
      this.services.delete(command.key)
      Core.release(this.state, command.key)
    } else {
      this.pools = buildPools(command.spec)
      const change = Core.setPools(this.state, this.pools)
      if (change.dropped.length > 0) this.note("allocation dropped by pools")
      if (change.moved.length > 0) this.note("allocation moved by pools")
    }
    this.reprocessAll()
  }

  /** MetalLB's reprocess-all, repeated until a pass changes nothing. */
  reprocessAll(): void {
    for (let pass = 0; pass < 10; pass++) {
      const ordered = [...this.services.values()].toSorted((a, b) =>
        b.ingress.length - a.ingress.length || (a.key < b.key ? -1 : 1)
      )
      let changed = false
      for (const s of ordered) changed = this.write(s, Core.converge(this.state, s)) || changed
      if (!changed) return
    }
    assert.fail("reprocess-all did not settle in 10 passes")
  }
}

const keysOf = (ports: ReadonlyArray<{ protocol: string; port: number }>) => ports.map((p) => `${p.protocol}/${p.port}`)

const show = (o: Core.Outcome<Core.Assignment>) => (o._tag === "Ok" ? [o.value.pool, ...texts(o.value.ips)] : o.reason)

const checkInvariants = (model: Model): void => {
  const { state, pools, services } = model
  const assignments = Core.assignments(state)
  const byIp = new Map<string, Array<ServiceIntent>>()
  for (const [key, a] of assignments) {
    const s = services.get(key)
    assert.isDefined(s, `allocation for unknown service ${key}`)
    if (s === undefined) continue
    // The status written is the assignment.
    assert.deepStrictEqual(s.ingress, texts(a.ips), key)
    // Every IP lies in the assignment's pool, which exists and allows the Service.
    const p = pools.find((x) => x.name === a.pool)
    assert.isDefined(p, `${key} holds IPs of missing pool ${a.pool}`)
    if (p !== undefined) assert.isTrue(isCompatible(p, s), `${key} not allowed in ${a.pool}`)
    for (const ip of a.ips) {
      assert.strictEqual(Core.poolForIp(state, ip), a.pool, `${key} ${Ip.format(ip)}`)
      const list = byIp.get(Ip.format(ip)) ?? []
      list.push(s)
      byIp.set(Ip.format(ip), list)
    }
  }
  // No IP held twice unless every holder shares compatibly.
  for (const [ip, holders] of byIp) {
    if (pools.find((p) => p.name === Core.poolForIp(state, Ip.parse(ip) ?? Ip.make(4, 0n)))?.avoidBuggyIPs) {
      model.note("IP in an avoidBuggyIPs pool")
    }
    // The allocator's own list of holders (sharing and port checks read it) is exactly those Services.
    const parsed = Ip.parse(ip)
    assert.deepStrictEqual(
      parsed === undefined ? [] : Core.holdersOf(state, parsed),
      holders.map((h) => h.key).toSorted(),
      `holders of ${ip}`
    )
    if (holders.length < 2) continue
    model.note("shared IP")
    if (holders.length > 2) model.note("IP shared three ways")
    const [first] = holders
    const seen = new Set<string>()
    for (const h of holders) {
      assert.notStrictEqual(h.sharingKey, "", `${ip} shared by ${h.key} without a sharing key`)
      assert.strictEqual(h.sharingKey, first?.sharingKey, ip)
      assert.strictEqual(h.backendKey, first?.backendKey, ip)
      for (const port of keysOf(h.ports)) {
        assert.isFalse(seen.has(port), `${ip} port ${port} used twice`)
        seen.add(port)
      }
    }
  }
  // Counters equal a recount.
  for (const st of Core.stats(state)) {
    const p = pools.find((x) => x.name === st.pool)
    assert.isDefined(p)
    if (p === undefined) continue
    for (const family of [4, 6] as const) {
      let total = 0n
      for (const c of p.cidrs.filter((x) => x.family === family)) {
        for (let v = Cidr.first(c); v <= Cidr.last(c); v++) {
          const low = v & 255n
          if (!(p.avoidBuggyIPs && family === 4 && (low === 0n || low === 255n))) total++
        }
      }
      const inUse = [...byIp.keys()].filter((ip) => {
        const parsed = Ip.parse(ip)
        return parsed !== undefined && parsed.family === family && Core.poolForIp(state, parsed) === p.name
      }).length
      const fs = family === 4 ? st.ipv4 : st.ipv6
      assert.strictEqual(fs.total, total, `${p.name} ipv${family} total`)
      assert.strictEqual(fs.inUse, inUse, `${p.name} ipv${family} inUse`)
      assert.strictEqual(fs.available, total - BigInt(inUse))
    }
  }
  // A restarted controller rebuilds exactly the same assignments from the statuses.
  const fresh = Core.empty()
  Core.setPools(fresh, pools)
  const rebuilt = Core.rebuild(fresh, [...services.values()])
  assert.deepStrictEqual(Core.assignments(fresh), assignments)
  for (const s of services.values()) assert.deepStrictEqual(texts(rebuilt.get(s.key)?.ips ?? []), s.ingress, s.key)
  // The live state decides like one rebuilt from scratch: its indexes (free space, sharing) have not drifted.
  for (const probe of PROBES) {
    const live = Core.allocate(state, probe)
    const rebuiltOutcome = Core.allocate(fresh, probe)
    Core.release(state, probe.key)
    Core.release(fresh, probe.key)
    assert.deepStrictEqual(show(live), show(rebuiltOutcome), probe.key)
  }
}

const PROBES: ReadonlyArray<ServiceIntent> = [
  intent("v4", { namespace: "probe" }),
  intent("k1-tcp80", { namespace: "probe", annotations: { "metallb.io/allow-shared-ip": "k1" } }),
  intent("k1-udp53", { namespace: "probe", ports: [["UDP", 53]], annotations: { "metallb.io/allow-shared-ip": "k1" } }),
  intent("k2-local", { namespace: "ns0", local: { app: "a" }, ports: [["TCP", 443]],
    annotations: { "metallb.io/allow-shared-ip": "k2" } }),
  intent("dual", { namespace: "ns0", labels: { app: "a" }, clusterIPs: DUAL_CLUSTER, policy: "PreferDualStack",
    annotations: { "metallb.io/allow-shared-ip": "k1" }, ports: [["UDP", 53]] }),
  intent("v6", { namespace: "ns1", clusterIPs: V6_CLUSTER })
]

describe("allocator core (model-based)", () => {
  it("keeps its invariants over random Service and pool histories (≥ 10,000 steps)", () => {
    let steps = 0
    const seen = new Map<string, number>()
    fc.assert(
      fc.property(poolsArb, fc.array(commandArb, { minLength: 25, maxLength: 60, size: "max" }), (initial, commands) => {
        const model = new Model(seen)
        model.apply({ _tag: "Pools", spec: initial })
        for (const command of commands) {
          model.apply(command)
          checkInvariants(model)
        }
        steps += model.steps
      }),
      { seed: 20261126, numRuns: 240 }
    )
    assert.isAtLeast(steps, 10_000)
    // The histories must actually reach the interesting situations, or the invariants prove little.
    for (const situation of [
      "shared IP", "dual-stack pair", "request honoured", "IP in an avoidBuggyIPs pool", "allocation dropped by pools",
      "allocation moved by pools", "ClearAssignment", "AllocationFailed", "AdditionalAssignFailed", "IPAllocated",
      "not enough clusterips", "LoadBalancerFailed", "IP shared three ways"
    ]) {
      assert.isAtLeast(seen.get(situation) ?? 0, situation === "shared IP" ? 500 : 1, situation)
    }
  })
})
