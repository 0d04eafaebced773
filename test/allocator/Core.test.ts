import { assert, describe, it } from "@effect/vitest"
import * as Core from "../../src/allocator/Core.ts"
import { type ServiceIntent, withIngress } from "../../src/allocator/ServiceIntent.ts"
import { DUAL_CLUSTER, intent, ip, pool, texts, V6_CLUSTER, withPools, withStatus } from "./fixtures.ts"

const allocated = (state: Core.AllocatorState, s: ServiceIntent): Array<string> => {
  const r = Core.allocate(state, s)
  assert.strictEqual(r._tag, "Ok", r._tag === "Fail" ? r.reason : "")
  return r._tag === "Ok" ? texts(r.value.ips) : []
}

const reason = (r: Core.Outcome<unknown>): string => (r._tag === "Fail" ? r.reason : "ok")

const poolOf = (state: Core.AllocatorState, key: string): string | undefined => Core.assignmentOf(state, key)?.pool

/** Converges and returns the Service as the controller would write it back. */
const converged = (state: Core.AllocatorState, s: ServiceIntent): [ServiceIntent, Core.Convergence] => {
  const c = Core.converge(state, s)
  return [withStatus(s, c.ips), c]
}

const labelled = (n: string) => intent(n, { namespace: "test", labels: { app: "web" } })
const twoPools = () => withPools(pool("p", ["192.0.2.0/24"]), pool("q", ["198.51.100.0/24"], { avoidBuggyIPs: true }))
const req = (n: string, ips: string, extra: Record<string, string> = {}) =>
  intent(n, { annotations: { "metallb.io/loadBalancerIPs": ips, ...extra } })
const shared = (n: string, key: string | undefined, ports: Array<readonly [string, number]>, local?: Record<string, string>) =>
  intent(n, {
    annotations: { "metallb.io/loadBalancerIPs": "192.0.2.10", ...(key === undefined ? {} : { "metallb.io/allow-shared-ip": key }) },
    ports,
    ...(local === undefined ? {} : { local })
  })
const keyed = (n: string, port: number) =>
  intent(n, { ports: [["TCP", port]], annotations: { "metallb.io/allow-shared-ip": "k" } })
const svc = (n: string, port: number, local?: Record<string, string>) =>
  intent(n, {
    ports: [["TCP", port]],
    annotations: { "metallb.io/allow-shared-ip": "k" },
    ...(local === undefined ? {} : { local })
  })
const prefer = (ipFamilies?: Array<string>) =>
  intent("a", { clusterIPs: DUAL_CLUSTER, policy: "PreferDualStack", ...(ipFamilies ? { ipFamilies } : {}) })

describe("allocation order", () => {
  it("starts at the network address and takes the lowest free address", () => {
    const state = withPools(pool("p", ["192.0.2.0/30"]))
    assert.deepStrictEqual(allocated(state, intent("a")), ["192.0.2.0"])
    assert.deepStrictEqual(allocated(state, intent("b")), ["192.0.2.1"])
    assert.isTrue(Core.release(state, "default/a"))
    assert.deepStrictEqual(allocated(state, intent("c")), ["192.0.2.0"])
  })

  it("skips .0 and .255 with avoidBuggyIPs, across /24 boundaries", () => {
    const state = withPools(pool("p", ["192.0.2.0/23"], { avoidBuggyIPs: true }))
    assert.deepStrictEqual(allocated(state, intent("s0")), ["192.0.2.1"])
    for (let i = 1; i < 254; i++) allocated(state, intent(`s${i}`))
    assert.deepStrictEqual(allocated(state, intent("next")), ["192.0.3.1"])
    const [stats] = Core.stats(state)
    assert.strictEqual(stats?.ipv4.total, 508n)
    assert.strictEqual(stats?.ipv4.inUse, 255)
  })

  it("fails with \"no available IPs\" when full and recovers after a release", () => {
    const state = withPools(pool("p", ["192.0.2.8/32"]))
    allocated(state, intent("a"))
    assert.strictEqual(reason(Core.allocate(state, intent("b"))), "no available IPs")
    Core.release(state, "default/a")
    assert.deepStrictEqual(allocated(state, intent("b")), ["192.0.2.8"])
  })

  it("tries ordinary pools by name and never auto-assigns from autoAssign: false", () => {
    const state = withPools(
      pool("b", ["198.51.100.0/31"]),
      pool("a", ["192.0.2.0/31"]),
      pool("0-manual", ["203.0.113.0/24"], { autoAssign: false })
    )
    assert.deepStrictEqual(allocated(state, intent("s1")), ["192.0.2.0"])
    assert.deepStrictEqual(allocated(state, intent("s2")), ["192.0.2.1"])
    assert.deepStrictEqual(allocated(state, intent("s3")), ["198.51.100.0"])
    // autoAssign: false still serves explicit requests, by IP or by pool.
    assert.deepStrictEqual(
      allocated(state, intent("s4", { annotations: { "metallb.io/loadBalancerIPs": "203.0.113.7" } })),
      ["203.0.113.7"]
    )
    assert.deepStrictEqual(allocated(state, intent("s5", { annotations: { "metallb.io/address-pool": "0-manual" } })), [
      "203.0.113.0"
    ])
  })
})

describe("serviceAllocation (e2e \"Validate service allocation in address pools\")", () => {
  it("with namespace: priority 10, then 20, then the no-priority namespace pool, then ordinary pools", () => {
    const state = withPools(
      pool("ordinary", ["203.0.113.0/32"]),
      pool("ns-noprio", ["198.51.100.64/32"], { namespaces: ["test"] }),
      pool("ns-20", ["198.51.100.32/32"], { namespaces: ["test"], priority: 20 }),
      pool("ns-10", ["198.51.100.0/32"], { namespaces: ["test"], priority: 10 })
    )
    const order = ["a", "b", "c", "d"].map((n) => {
      allocated(state, intent(n, { namespace: "test" }))
      return poolOf(state, `test/${n}`)
    })
    assert.deepStrictEqual(order, ["ns-10", "ns-20", "ns-noprio", "ordinary"])
    // Another namespace never sees the pinned pools.
    assert.strictEqual(reason(Core.allocate(state, intent("e", { namespace: "other" }))), "no available IPs")
  })

  it("with only priority: lower number first, then ordinary pools", () => {
    const state = withPools(
      pool("ordinary", ["203.0.113.0/32"]),
      pool("prio-20", ["198.51.100.32/32"], { priority: 20 }),
      pool("prio-10", ["198.51.100.0/32"], { priority: 10 })
    )
    const order = ["a", "b", "c"].map((n) => {
      allocated(state, intent(n, { namespace: "anywhere" }))
      return poolOf(state, `anywhere/${n}`)
    })
    assert.deepStrictEqual(order, ["prio-10", "prio-20", "ordinary"])
  })

  it("with service labels: matching selector pools by priority, then namespace pools", () => {
    const state = withPools(
      pool("web-20", ["198.51.100.32/32"], { selectors: [{ matchLabels: { app: "web" } }], priority: 20 }),
      pool("web-10", ["198.51.100.0/32"], {
        selectors: [{ matchExpressions: [{ key: "app", operator: "In", values: ["web", "api"] }] }],
        priority: 10
      }),
      pool("ns", ["198.51.100.64/32"], { namespaces: ["test"] }),
      pool("ordinary", ["203.0.113.0/32"])
    )
    assert.deepStrictEqual(allocated(state, labelled("a")), ["198.51.100.0"])
    assert.deepStrictEqual(allocated(state, labelled("b")), ["198.51.100.32"])
    assert.deepStrictEqual(allocated(state, labelled("c")), ["198.51.100.64"])
    // Unlabelled: selector pools are incompatible; the namespace pool is taken, so the ordinary pool.
    assert.deepStrictEqual(allocated(state, intent("d", { namespace: "test" })), ["203.0.113.0"])
  })

  it("refuses explicit requests into a pool restricted to other namespaces", () => {
    const state = withPools(pool("ns", ["198.51.100.0/24"], { namespaces: ["team-a"] }))
    const s = intent("x", { namespace: "team-b", annotations: { "metallb.io/loadBalancerIPs": "198.51.100.9" } })
    assert.strictEqual(reason(Core.allocate(state, s)), "pool ns not compatible for ip assignment")
    const byPool = intent("y", { namespace: "team-b", annotations: { "metallb.io/address-pool": "ns" } })
    assert.strictEqual(reason(Core.allocate(state, byPool)), "pool ns not compatible for ip assignment")
  })

  it("keeps a namespaceSelector pool matching no namespace out of auto-assignment but open to requests (quirk 11)", () => {
    const unmatched = { ...pool("sel", ["198.51.100.0/24"]), serviceAllocation: {
      priority: 0, namespaces: new Set<string>(), serviceSelectors: [], matchesEverything: false
    } }
    const state = withPools(unmatched)
    assert.strictEqual(reason(Core.allocate(state, intent("a", { namespace: "any" }))), "no available IPs")
    assert.deepStrictEqual(
      allocated(state, intent("b", { namespace: "any", annotations: { "metallb.io/loadBalancerIPs": "198.51.100.3" } })),
      ["198.51.100.3"]
    )
  })

  it("moves a Service whose labels stop matching its pool (re-validation on converge)", () => {
    const state = withPools(
      pool("web", ["198.51.100.0/32"], { selectors: [{ matchLabels: { app: "web" } }] }),
      pool("ordinary", ["203.0.113.0/32"])
    )
    const [s, first] = converged(state, intent("a", { labels: { app: "web" } }))
    assert.deepStrictEqual(texts(first.ips), ["198.51.100.0"])
    const [, second] = converged(state, { ...s, labels: { app: "db" } })
    assert.deepStrictEqual(texts(second.ips), ["203.0.113.0"])
    assert.deepStrictEqual(second.events.map((e) => e.reason), ["ClearAssignment", "IPAllocated"])
    assert.include(second.events[0]?.message ?? "", "pool web not compatible for ip assignment")
  })
})

describe("requests and conflicts (§3.9)", () => {

  it("words every refusal like MetalLB", () => {
    const s = twoPools()
    assert.strictEqual(reason(Core.allocate(s, req("a", "203.0.113.1"))), `["203.0.113.1"] is not allowed in config`)
    assert.strictEqual(reason(Core.allocate(s, req("a", "198.51.100.255"))), `["198.51.100.255"] is not allowed in config`)
    assert.strictEqual(
      reason(Core.allocate(s, intent("a", { annotations: { "metallb.io/address-pool": "nope" } }))),
      `unknown pool "nope"`
    )
    assert.strictEqual(
      reason(Core.allocate(s, req("a", "192.0.2.4", { "metallb.io/address-pool": "q" }))),
      `requested loadBalancer IP(s) ["192.0.2.4"] is not compatible with requested address pool q`
    )
    assert.strictEqual(
      reason(Core.allocate(s, intent("a", { clusterIPs: DUAL_CLUSTER, policy: "RequireDualStack",
        annotations: { "metallb.io/loadBalancerIPs": "192.0.2.4" } }))),
      `requested loadBalancer IP(s) ["192.0.2.4"] does not match the ipFamily of the service`
    )
    assert.strictEqual(
      reason(Core.assign(s, intent("a"), [ip("192.0.2.1"), ip("192.0.2.2")])),
      `"192.0.2.1" "192.0.2.2" has the same family`
    )
    assert.isUndefined(Core.assignmentOf(s, "default/a"))
  })

  it("shares an IP only with the same key, same backend key and disjoint ports (§3.5)", () => {
    const s = twoPools()
    allocated(s, shared("a", "k", [["TCP", 80]]))
    assert.deepStrictEqual(allocated(s, shared("b", "k", [["TCP", 443], ["UDP", 80]])), ["192.0.2.10"])
    assert.deepStrictEqual(Core.holdersOf(s, ip("192.0.2.10")), ["default/a", "default/b"])
    assert.strictEqual(reason(Core.allocate(s, shared("c", "k", [["TCP", 80]]))), `port TCP/80 is already in use on "192.0.2.10"`)
    assert.strictEqual(
      reason(Core.allocate(s, shared("c", "other", [["TCP", 81]]))),
      `can't change sharing key for "default/c", address also in use by default/a,default/b: sharing key "other" does not match existing sharing key "k"`
    )
    assert.strictEqual(
      reason(Core.allocate(s, shared("c", undefined, [["TCP", 81]]))),
      `can't change sharing key for "default/c", address also in use by default/a,default/b: new service does not allow sharing`
    )
    assert.strictEqual(
      reason(Core.allocate(s, shared("c", "k", [["TCP", 81]], { app: "x" }))),
      `can't change sharing key for "default/c", address also in use by default/a,default/b: backend key "app=x" does not match existing sharing key ""`
    )
    // A shared IP is one address in the counters.
    assert.strictEqual(Core.stats(s)[0]?.ipv4.inUse, 1)
  })

  it("keeps every other holder of a shared IP when one in the middle leaves", () => {
    const s = twoPools()
    allocated(s, shared("a", "k", [["TCP", 80]]))
    allocated(s, shared("b", "k", [["TCP", 443]]))
    allocated(s, shared("c", "k", [["UDP", 53]]))
    assert.deepStrictEqual(Core.holdersOf(s, ip("192.0.2.10")), ["default/a", "default/b", "default/c"])
    assert.isTrue(Core.release(s, "default/b"))
    assert.deepStrictEqual(Core.holdersOf(s, ip("192.0.2.10")), ["default/a", "default/c"])
    assert.strictEqual(reason(Core.allocate(s, shared("d", "k", [["TCP", 80]]))), `port TCP/80 is already in use on "192.0.2.10"`)
    assert.deepStrictEqual(allocated(s, shared("d", "k", [["TCP", 443]])), ["192.0.2.10"])
    assert.isTrue(Core.release(s, "default/a"))
    assert.isTrue(Core.release(s, "default/c"))
    assert.isTrue(Core.release(s, "default/d"))
    assert.deepStrictEqual(Core.holdersOf(s, ip("192.0.2.10")), [])
    assert.strictEqual(Core.stats(s)[0]?.ipv4.inUse, 0)
  })

  it("refuses to join an IP whose holder does not share", () => {
    const s = twoPools()
    allocated(s, intent("a", { annotations: { "metallb.io/loadBalancerIPs": "192.0.2.10" } }))
    assert.strictEqual(
      reason(Core.allocate(s, intent("b", { annotations: {
        "metallb.io/loadBalancerIPs": "192.0.2.10",
        "metallb.io/allow-shared-ip": "k"
      } }))),
      `can't change sharing key for "default/b", address also in use by default/a: existing service does not allow sharing`
    )
  })

  it("lets the only holder change its sharing key in place", () => {
    const s = twoPools()
    allocated(s, intent("a", { annotations: { "metallb.io/loadBalancerIPs": "192.0.2.10", "metallb.io/allow-shared-ip": "x" } }))
    allocated(s, intent("a", { annotations: { "metallb.io/loadBalancerIPs": "192.0.2.10", "metallb.io/allow-shared-ip": "y" } }))
    assert.deepStrictEqual(
      allocated(s, intent("b", { ports: [["TCP", 81]], annotations: {
        "metallb.io/loadBalancerIPs": "192.0.2.10",
        "metallb.io/allow-shared-ip": "y"
      } })),
      ["192.0.2.10"]
    )
  })

  it("co-locates automatically on the first compatible used IP before a later free one", () => {
    const s = withPools(pool("p", ["192.0.2.0/29"]))
    allocated(s, intent("plain"))
    assert.deepStrictEqual(allocated(s, keyed("a", 80)), ["192.0.2.1"])
    assert.deepStrictEqual(allocated(s, keyed("b", 443)), ["192.0.2.1"])
    // Port clash: the next free address instead.
    assert.deepStrictEqual(allocated(s, keyed("c", 80)), ["192.0.2.2"])
  })

  it("reconsiders sharing when conditions change (e2e)", () => {
    const s = withPools(pool("p", ["192.0.2.10/32"]))
    let [a] = converged(s, svc("a", 80))
    let [b, cb] = converged(s, svc("b", 81))
    assert.deepStrictEqual(texts(cb.ips), ["192.0.2.10"])
    // b switches to Local: it cannot stay on a's IP, and there is no other.
    ;[b, cb] = converged(s, withIngress(svc("b", 81, { app: "x" }), b.ingress))
    assert.deepStrictEqual(cb.ips, [])
    assert.deepStrictEqual(cb.events.map((e) => e.reason), ["ClearAssignment", "AllocationFailed"])
    // a switches to Local with the same selector: a keeps the IP (sole holder), b can rejoin.
    ;[a] = converged(s, withIngress(svc("a", 80, { app: "x" }), a.ingress))
    assert.deepStrictEqual(a.ingress, ["192.0.2.10"])
    ;[b, cb] = converged(s, b)
    assert.deepStrictEqual(texts(cb.ips), ["192.0.2.10"])
    // Selectors diverge again: b loses it.
    ;[, cb] = converged(s, withIngress(svc("b", 81, { app: "y" }), b.ingress))
    assert.deepStrictEqual(cb.ips, [])
  })
})

describe("convergence (§3.2)", () => {
  it("clears non-LoadBalancer Services without error and frees the IP for a pending one", () => {
    const s = withPools(pool("p", ["192.0.2.1/32"]))
    const [a] = converged(s, intent("a"))
    const [, pending] = converged(s, intent("b"))
    assert.strictEqual(pending.error, "no available IPs")
    const [, asClusterIP] = converged(s, { ...a, type: "ClusterIP" })
    assert.deepStrictEqual(asClusterIP, { ips: [], pool: undefined, error: undefined, events: [] })
    const [, now] = converged(s, intent("b"))
    assert.deepStrictEqual(texts(now.ips), ["192.0.2.1"])
    assert.strictEqual(now.pool, "p")
  })

  it("clears everything when all pools are removed, and says which allocations were dropped", () => {
    const s = withPools(pool("p", ["192.0.2.0/24"]))
    const [a] = converged(s, intent("a"))
    assert.deepStrictEqual(Core.setPools(s, []), { dropped: ["default/a"], moved: [] })
    const [, c] = converged(s, a)
    assert.deepStrictEqual(c.ips, [])
    assert.strictEqual(c.error, "pools are empty")
  })

  it("reallocates after its pinned pool is deleted (e2e)", () => {
    const ordinary = pool("ordinary", ["203.0.113.0/24"])
    const s = withPools(ordinary, pool("ns-20", ["198.51.100.0/24"], { namespaces: ["test"], priority: 20 }))
    const [a, first] = converged(s, intent("a", { namespace: "test" }))
    assert.strictEqual(first.pool, "ns-20")
    Core.setPools(s, [ordinary])
    const [, second] = converged(s, a)
    assert.strictEqual(second.pool, "ordinary")
    assert.deepStrictEqual(texts(second.ips), ["203.0.113.0"])
  })

  it("moves an allocation to the pool that now owns its IPs", () => {
    const s = withPools(pool("old", ["192.0.2.0/24"]))
    const [a] = converged(s, intent("a"))
    assert.deepStrictEqual(Core.setPools(s, [pool("new", ["192.0.2.0/25"])]), { dropped: [], moved: ["default/a"] })
    const [, c] = converged(s, a)
    assert.strictEqual(c.pool, "new")
    assert.deepStrictEqual(c.ips, a.ingress.map(ip))
  })

  it("follows a changed address-pool annotation or requested IP", () => {
    const s = withPools(pool("a", ["192.0.2.0/24"]), pool("b", ["198.51.100.0/24"]))
    const [svc] = converged(s, intent("x"))
    const [moved, c] = converged(s, { ...svc, requestedPool: "b" })
    assert.strictEqual(c.pool, "b")
    const [, d] = converged(s, intent("x", {
      ingress: moved.ingress,
      annotations: { "metallb.io/loadBalancerIPs": "192.0.2.77" }
    }))
    assert.deepStrictEqual(texts(d.ips), ["192.0.2.77"])
  })

  it("keeps the IPs but reports an invalid request that appears later", () => {
    const s = withPools(pool("p", ["192.0.2.0/24"]))
    const [a] = converged(s, intent("a"))
    const [, c] = converged(s, intent("a", { ingress: a.ingress, loadBalancerIP: "192.0.2.1",
      annotations: { "metallb.io/loadBalancerIPs": "192.0.2.1" } }))
    assert.deepStrictEqual(c.ips, a.ingress.map(ip))
    assert.strictEqual(c.events[0]?.reason, "LoadBalancerFailed")
    assert.strictEqual(c.error, "service can not have both metallb.io/loadBalancerIPs and svc.Spec.LoadBalancerIP")
  })

  it("warns when RequireDualStack has one ClusterIP", () => {
    const s = withPools(pool("p", ["192.0.2.0/24", "2001:db8::/120"]))
    const c = Core.converge(s, intent("a", { policy: "RequireDualStack" }))
    assert.deepStrictEqual(c.events, [{
      type: "Warning",
      reason: "not enough clusterips",
      message: "Service requires dual stack but not enough clusterips [10.96.0.10]"
    }])
    assert.deepStrictEqual(c.ips, [])
  })
})

describe("dual-stack (§3.6, e2e PREFER DUALSTACK)", () => {
  const v4 = pool("v4", ["192.0.2.0/24"])
  const v6 = pool("v6", ["2001:db8:1::/120"])
  const dual = pool("dual", ["198.51.100.0/24", "2001:db8:2::/120"])

  it("gives RequireDualStack [IPv4, IPv6] from one pool, or nothing", () => {
    assert.deepStrictEqual(
      allocated(withPools(v4, v6, dual), intent("a", { clusterIPs: DUAL_CLUSTER, policy: "RequireDualStack" })),
      ["198.51.100.0", "2001:db8:2::"]
    )
    assert.strictEqual(
      reason(Core.allocate(withPools(v4, v6), intent("a", { clusterIPs: DUAL_CLUSTER, policy: "RequireDualStack" }))),
      "no available IPs"
    )
  })

  it("gives PreferDualStack a dual pool if any, else the primary family", () => {
    assert.deepStrictEqual(allocated(withPools(v4, v6, dual), prefer()), ["198.51.100.0", "2001:db8:2::"])
    assert.deepStrictEqual(allocated(withPools(v4, v6), prefer()), ["192.0.2.0"])
    assert.deepStrictEqual(allocated(withPools(v4, v6), prefer(["IPv6", "IPv4"])), ["2001:db8:1::"])
    assert.deepStrictEqual(allocated(withPools(v6), prefer()), ["2001:db8:1::"])
  })

  it("allocates single-stack IPv6 Services from IPv6 space", () => {
    assert.deepStrictEqual(allocated(withPools(v4, dual), intent("a", { clusterIPs: V6_CLUSTER })), ["2001:db8:2::"])
  })

  it("adds the missing family when the Service's own pool gains it, without moving to a new dual pool", () => {
    const s = withPools(v4)
    const [a, first] = converged(s, intent("a", { clusterIPs: DUAL_CLUSTER, policy: "PreferDualStack" }))
    assert.deepStrictEqual(texts(first.ips), ["192.0.2.0"])
    Core.setPools(s, [v4, { ...dual, name: "a-dual" }])
    const [, stay] = converged(s, a)
    assert.deepStrictEqual(texts(stay.ips), ["192.0.2.0"])
    assert.deepStrictEqual(stay.events.map((e) => e.reason), ["AdditionalAssignFailed"])
    Core.setPools(s, [pool("v4", ["192.0.2.0/24", "2001:db8:9::/120"])])
    const [, grown] = converged(s, a)
    assert.deepStrictEqual(texts(grown.ips), ["192.0.2.0", "2001:db8:9::"])
    assert.deepStrictEqual(grown.events, [{ type: "Normal", reason: "IPAllocated", message: `Assigned additional IP "2001:db8:9::"` }])
  })

  it("re-allocates from another dual pool when its dual pool becomes single-stack", () => {
    const other = pool("other-dual", ["203.0.113.0/24", "2001:db8:3::/120"])
    const s = withPools(dual, other)
    const [a, first] = converged(s, intent("a", { clusterIPs: DUAL_CLUSTER, policy: "PreferDualStack" }))
    assert.strictEqual(first.pool, "dual")
    Core.setPools(s, [pool("dual", ["198.51.100.0/24"]), other])
    const [, moved] = converged(s, a)
    assert.strictEqual(moved.pool, "other-dual")
    assert.deepStrictEqual(texts(moved.ips), ["203.0.113.0", "2001:db8:3::"])
  })

  it("drops the IP when PreferDualStack becomes RequireDualStack on a single-stack pool, and gets one back", () => {
    const s = withPools(v4)
    const [a] = converged(s, intent("a", { clusterIPs: DUAL_CLUSTER, policy: "PreferDualStack" }))
    const [b, required] = converged(s, { ...a, ipFamilyPolicy: "RequireDualStack" })
    assert.deepStrictEqual(required.ips, [])
    const [, back] = converged(s, { ...b, ipFamilyPolicy: "PreferDualStack" })
    assert.deepStrictEqual(texts(back.ips), ["192.0.2.0"])
  })

  it("keeps the requested order of dual-stack IPs", () => {
    const s = withPools(dual)
    assert.deepStrictEqual(
      allocated(s, intent("a", { clusterIPs: DUAL_CLUSTER, policy: "RequireDualStack",
        annotations: { "metallb.io/loadBalancerIPs": "2001:db8:2::5,198.51.100.5" } })),
      ["2001:db8:2::5", "198.51.100.5"]
    )
  })
})

describe("counters (Pool Status DUALSTACK)", () => {
  it("counts per family, a /64 as MaxInt64, and follows pool growth", () => {
    const s = withPools(pool("p", ["192.0.2.0/30", "2001:db8::/126"]), pool("big", ["2001:db8:1::/64"]))
    const p = () => Core.stats(s).find((x) => x.pool === "p")
    assert.deepStrictEqual([p()?.ipv4.available, p()?.ipv6.available], [4n, 4n])
    allocated(s, intent("a", { clusterIPs: DUAL_CLUSTER, policy: "RequireDualStack" }))
    assert.deepStrictEqual([p()?.ipv4.inUse, p()?.ipv4.available, p()?.ipv6.inUse, p()?.ipv6.available], [1, 3n, 1, 3n])
    Core.setPools(s, [pool("p", ["192.0.2.0/29", "2001:db8::/125"])])
    assert.deepStrictEqual([p()?.ipv4.available, p()?.ipv6.available], [7n, 7n])
    Core.release(s, "default/a")
    assert.deepStrictEqual([p()?.ipv4.available, p()?.ipv6.available], [8n, 8n])
    const big = Core.stats(withPools(pool("big", ["2001:db8:1::/64"]))).at(0)
    assert.strictEqual(big?.ipv6.total, Core.MaxInt64)
    assert.strictEqual(big?.total, Core.MaxInt64)
  })
})

const far = (n: string, port: number, where = "2001:db8:1:0:ffff:ffff:ffff:fffe") =>
  intent(n, {
    clusterIPs: V6_CLUSTER,
    ports: [["TCP", port]],
    annotations: { "metallb.io/loadBalancerIPs": where, "metallb.io/allow-shared-ip": "k" }
  })

describe("addresses far into a huge pool", () => {
  it("shares, releases and rebuilds IPs beyond 2^53 from the pool's start like any other", () => {
    const big = pool("big", ["2001:db8:1::/64"])
    const s = withPools(big)
    assert.deepStrictEqual(allocated(s, far("a", 80)), ["2001:db8:1:0:ffff:ffff:ffff:fffe"])
    assert.deepStrictEqual(allocated(s, far("b", 81)), ["2001:db8:1:0:ffff:ffff:ffff:fffe"])
    assert.deepStrictEqual(allocated(s, far("c", 80, "2001:db8:1:0:ffff:ffff:ffff:ffff")), ["2001:db8:1:0:ffff:ffff:ffff:ffff"])
    assert.strictEqual(reason(Core.allocate(s, far("d", 80))), `port TCP/80 is already in use on "2001:db8:1:0:ffff:ffff:ffff:fffe"`)
    assert.deepStrictEqual(Core.holdersOf(s, ip("2001:db8:1:0:ffff:ffff:ffff:fffe")), ["default/a", "default/b"])
    // Automatic allocation still starts at the pool's first address.
    assert.deepStrictEqual(allocated(s, intent("e", { clusterIPs: V6_CLUSTER })), ["2001:db8:1::"])
    assert.strictEqual(Core.stats(s)[0]?.ipv6.inUse, 3)
    assert.isTrue(Core.release(s, "default/a"))
    assert.deepStrictEqual(Core.holdersOf(s, ip("2001:db8:1:0:ffff:ffff:ffff:fffe")), ["default/b"])
    const fresh = withPools(big)
    const intents = ["b", "c", "e"].map((n) => {
      const a = Core.assignmentOf(s, `default/${n}`)
      const base = n === "e" ? intent(n, { clusterIPs: V6_CLUSTER }) : far(n, n === "b" ? 81 : 80, texts(a?.ips ?? []).join())
      return withStatus(base, a?.ips ?? [])
    })
    Core.rebuild(fresh, intents)
    assert.deepStrictEqual(Core.assignments(fresh), Core.assignments(s))
    assert.isTrue(Core.release(s, "default/b"))
    assert.isTrue(Core.release(s, "default/c"))
    assert.strictEqual(Core.stats(s)[0]?.ipv6.inUse, 1)
    assert.deepStrictEqual(allocated(s, far("f", 80)), ["2001:db8:1:0:ffff:ffff:ffff:fffe"])
  })
})

describe("rebuild (restart)", () => {
  it("keeps allocated IPs and does not let pending Services steal them (e2e restart)", () => {
    const s = withPools(pool("p", ["192.0.2.0/31"]))
    const services = ["d", "c", "b", "a"].map((n) => converged(s, intent(n))[0])
    const before = Core.assignments(s)
    assert.deepStrictEqual(before.map(([k]) => k), ["default/c", "default/d"])
    for (let i = 0; i < 5; i++) {
      const fresh = Core.empty()
      Core.setPools(fresh, [pool("p", ["192.0.2.0/31"])])
      const result = Core.rebuild(fresh, services)
      assert.deepStrictEqual(Core.assignments(fresh), before)
      assert.strictEqual(result.get("default/a")?.error, "no available IPs")
    }
  })

  it("restores everything before completing PreferDualStack pairs", () => {
    // b holds the only free v6 addresses, a (sorting first) has a single v4.
    const b = intent("b", { clusterIPs: V6_CLUSTER, annotations: { "metallb.io/loadBalancerIPs": "2001:db8::" } })
    const c = intent("c", { clusterIPs: V6_CLUSTER, annotations: { "metallb.io/loadBalancerIPs": "2001:db8::1" } })
    const a = intent("a", { clusterIPs: DUAL_CLUSTER, policy: "PreferDualStack", ingress: ["192.0.2.0"] })
    const fresh = withPools(pool("p", ["192.0.2.0/24", "2001:db8::/127"]))
    const result = Core.rebuild(fresh, [a, withStatus(b, [ip("2001:db8::")]), withStatus(c, [ip("2001:db8::1")])])
    assert.deepStrictEqual(texts(result.get("default/b")?.ips ?? []), ["2001:db8::"])
    assert.deepStrictEqual(texts(result.get("default/a")?.ips ?? []), ["192.0.2.0"])
    assert.strictEqual(result.get("default/a")?.events[0]?.reason, "AdditionalAssignFailed")
  })
})

describe("co-location", () => {
  it("pairs Services sharing one key on complementary ports, lowest IP first", () => {
    const s = withPools(pool("p", ["192.0.2.0/24"]))
    const got = Array.from({ length: 200 }, (_, i) => allocated(s, keyed(`s${i}`, 80 + (i % 2)))[0])
    assert.deepStrictEqual(got.slice(0, 4), ["192.0.2.0", "192.0.2.0", "192.0.2.1", "192.0.2.1"])
    assert.strictEqual(Core.stats(s)[0]?.ipv4.inUse, 100)
    // A third port joins the lowest IP, even though it is full for ports 80 and 81.
    assert.deepStrictEqual(allocated(s, keyed("third", 443)), ["192.0.2.0"])
  })

  it("inspects at most ColocationScanLimit port combinations, then takes a free address", () => {
    const s = withPools(pool("p", ["192.0.2.0/24"]))
    const n = Core.ColocationScanLimit
    const place = (name: string, ip: string, ports: Array<readonly [string, number]>) =>
      allocated(s, intent(name, { ports, annotations: {
        "metallb.io/allow-shared-ip": "k",
        "metallb.io/loadBalancerIPs": ip
      } }))
    // n IPs whose port combinations all include TCP/5000, then one (filed last) that does not.
    for (let i = 0; i < n; i++) place(`c${i}`, `192.0.2.${i}`, [["TCP", 5000], ["TCP", 1000 + i]])
    place("last", `192.0.2.${n}`, [["TCP", 7000]])
    assert.deepStrictEqual(allocated(s, keyed("wants-5000", 5000)), [`192.0.2.${n + 1}`])
    // With room among the inspected combinations, the lowest compatible IP wins.
    assert.deepStrictEqual(allocated(s, keyed("wants-6000", 6000)), ["192.0.2.0"])
  })
})
