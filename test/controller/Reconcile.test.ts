import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import type { Convergence, PoolStats } from "../../src/allocator/Core.ts"
import * as Reconcile from "../../src/controller/Reconcile.ts"
import * as Ip from "../../src/net/Ip.ts"

const meta = (resourceVersion?: string) => ({ name: "s", namespace: "default", ...(resourceVersion === undefined ? {} : { resourceVersion }) })

const ip = (text: string) => {
  const r = Ip.parse(text)
  if (r === undefined) throw new Error(text)
  return r
}

const convergence = (ips: ReadonlyArray<string>, pool?: string): Convergence => ({
  ips: ips.map(ip),
  pool,
  error: undefined,
  events: []
})

describe("Reconcile.isNewer", () => {
  it("compares numeric resourceVersions as numbers, takes anything else as newer", () => {
    assert.isTrue(Reconcile.isNewer({ metadata: meta("10") }, { metadata: meta("9") }))
    assert.isFalse(Reconcile.isNewer({ metadata: meta("9") }, { metadata: meta("10") }))
    assert.isFalse(Reconcile.isNewer({ metadata: meta("10") }, { metadata: meta("10") }))
    assert.isTrue(Reconcile.isNewer({ metadata: meta("a") }, { metadata: meta("10") }))
    assert.isTrue(Reconcile.isNewer({ metadata: meta("1") }, undefined))
    assert.isTrue(Reconcile.isSameVersion({ metadata: meta("7") }, { metadata: meta("7") }))
    assert.isFalse(Reconcile.isSameVersion({ metadata: meta() }, { metadata: meta() }))
  })
})

describe("Reconcile.passOrder", () => {
  it("property: more ingress IPs first, then by key; a permutation of the input", () => {
    const item = fc.record({ key: fc.string({ maxLength: 4 }), ingress: fc.array(fc.constant("x"), { maxLength: 2 }) })
    fc.assert(fc.property(fc.array(item, { maxLength: 30 }), (items) => {
      const ordered = Reconcile.passOrder(items)
      assert.strictEqual(ordered.length, items.length)
      for (let i = 1; i < ordered.length; i++) {
        const a = ordered[i - 1]
        const b = ordered[i]
        if (a === undefined || b === undefined) continue
        assert.isTrue(a.ingress.length > b.ingress.length || (a.ingress.length === b.ingress.length && a.key <= b.key))
      }
    }))
  })
})

const svc = (ingress: ReadonlyArray<string> | undefined, pool?: string): Reconcile.ServiceObject => ({
  metadata: { ...meta("1"), ...(pool === undefined ? {} : { annotations: { "metallb.io/ip-allocated-from-pool": pool } }) },
  status: { loadBalancer: ingress === undefined ? {} : { ingress: ingress.map((i) => ({ ip: i })) } }
})

describe("Reconcile.writesFor", () => {

  it("a new allocation: annotation and status", () => {
    const w = Reconcile.writesFor(svc(undefined), convergence(["192.0.2.1", "2001:db8::1"], "p"))
    assert.deepStrictEqual(w.metadata, { metadata: { annotations: { "metallb.io/ip-allocated-from-pool": "p" } } })
    assert.deepStrictEqual(w.status, { status: { loadBalancer: { ingress: [{ ip: "192.0.2.1" }, { ip: "2001:db8::1" }] } } })
  })

  it("nothing when the Service already says it", () => {
    const w = Reconcile.writesFor(svc(["192.0.2.1"], "p"), convergence(["192.0.2.1"], "p"))
    assert.isUndefined(w.metadata)
    assert.isUndefined(w.status)
    const cleared = Reconcile.writesFor(svc(undefined), convergence([]))
    assert.isUndefined(cleared.metadata)
    assert.isUndefined(cleared.status)
  })

  it("clearing removes the annotation and the ingress list", () => {
    const w = Reconcile.writesFor(svc(["192.0.2.1"], "p"), convergence([], "p"))
    assert.deepStrictEqual(w.metadata, { metadata: { annotations: { "metallb.io/ip-allocated-from-pool": null } } })
    assert.deepStrictEqual(w.status, { status: { loadBalancer: { ingress: null } } })
    // An empty list left by someone else is removed too.
    assert.deepStrictEqual(Reconcile.writesFor(svc([]), convergence([])).status, { status: { loadBalancer: { ingress: null } } })
  })

  it("order matters: the same IPs in another order are rewritten", () => {
    const w = Reconcile.writesFor(svc(["2001:db8::1", "192.0.2.1"], "p"), convergence(["192.0.2.1", "2001:db8::1"], "p"))
    assert.isDefined(w.status)
    assert.isUndefined(w.metadata)
  })
})

describe("Reconcile.poolStatus", () => {
  it("in use and available per family; huge IPv6 counts capped at 2^53 − 1", () => {
    const stats: PoolStats = {
      pool: "p",
      ipv4: { total: 4n, inUse: 1, available: 3n },
      ipv6: { total: 1n << 64n, inUse: 2, available: (1n << 64n) - 2n },
      total: 1n << 63n,
      inUse: 3
    }
    const s = Reconcile.poolStatus(stats)
    assert.deepStrictEqual(s, { assignedIPv4: 1, assignedIPv6: 2, availableIPv4: 3, availableIPv6: Number.MAX_SAFE_INTEGER })
    assert.isTrue(Reconcile.samePoolStatus(s, { ...s }))
    assert.isFalse(Reconcile.samePoolStatus(s, { ...s, assignedIPv4: 5 }))
    assert.isFalse(Reconcile.samePoolStatus(s, undefined))
  })
})
