import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import * as AllocatorPool from "../../src/allocator/Pool.ts"
import * as LabelSelector from "../../src/config/LabelSelector.ts"
import { parseConfig } from "../../src/config/Parse.ts"
import * as Pools from "../../src/controller/Pools.ts"

const config = (spec: Record<string, unknown>) => {
  const parsed = parseConfig({
    ipAddressPools: [{ apiVersion: "metallb.io/v1beta1", kind: "IPAddressPool", metadata: { name: "p", namespace: "metallb-system" }, spec }],
    namespaces: [{ metadata: { name: "a", labels: { team: "x" } } }, { metadata: { name: "b" } }]
  })
  if (Result.isFailure(parsed)) throw new Error(parsed.failure.errors.map((e) => e.message).join("; "))
  return Pools.fromConfig(parsed.success.config)
}

describe("Pools.fromConfig", () => {

  it("maps addresses, flags and a resolved serviceAllocation", () => {
    const [pool] = config({
      addresses: ["192.0.2.0/24"],
      autoAssign: false,
      avoidBuggyIPs: true,
      serviceAllocation: {
        priority: 5,
        namespaces: ["b"],
        namespaceSelectors: [{ matchLabels: { team: "x" } }],
        serviceSelectors: [{ matchLabels: { app: "web" } }, { matchExpressions: [{ key: "tier", operator: "NotIn", values: ["db"] }] }]
      }
    })
    assert.isDefined(pool)
    if (pool === undefined) return
    assert.strictEqual(pool.autoAssign, false)
    assert.strictEqual(pool.avoidBuggyIPs, true)
    assert.strictEqual(pool.cidrs.length, 1)
    assert.deepStrictEqual([...(pool.serviceAllocation?.namespaces ?? [])].toSorted(), ["a", "b"])
    assert.isFalse(pool.serviceAllocation?.matchesEverything)
    const compatible = (namespace: string, labels: Record<string, string>) => AllocatorPool.isCompatible(pool, { namespace, labels })
    assert.isTrue(compatible("a", { app: "web" }))
    assert.isTrue(compatible("b", { tier: "web" }))
    assert.isFalse(compatible("b", { tier: "db" }))
    assert.isFalse(compatible("c", { app: "web" }))
  })

  it("a serviceAllocation with only a priority matches everything (MetalLB's match-all selector)", () => {
    const [pool] = config({ addresses: ["192.0.2.0/24"], serviceAllocation: { priority: 3 } })
    assert.isTrue(pool?.serviceAllocation?.matchesEverything)
    assert.deepStrictEqual(pool?.serviceAllocation?.serviceSelectors, [])
    assert.isUndefined(config({ addresses: ["192.0.2.0/24"] })[0]?.serviceAllocation)
  })

  it("property: a parsed selector and its metav1 form select the same label sets", () => {
    const labels = fc.dictionary(fc.constantFrom("a", "b", "c"), fc.constantFrom("x", "y", ""), { maxKeys: 3 })
    const requirement = fc.record({
      key: fc.constantFrom("a", "b", "c"),
      operator: fc.constantFrom("In" as const, "NotIn" as const, "Exists" as const, "DoesNotExist" as const),
      values: fc.uniqueArray(fc.constantFrom("x", "y"), { minLength: 1, maxLength: 2 })
    }).map((r) => (r.operator === "Exists" || r.operator === "DoesNotExist" ? { key: r.key, operator: r.operator } : r))
    const selector = fc.record({ matchLabels: labels, matchExpressions: fc.array(requirement, { maxLength: 2 }) })
    fc.assert(fc.property(selector, labels, (s, l) => {
      const parsed = LabelSelector.parse(s)
      if (Result.isFailure(parsed)) return
      assert.strictEqual(AllocatorPool.selectorMatches(Pools.toLabelSelector(parsed.success), l), LabelSelector.matches(parsed.success, l))
    }))
  })
})
