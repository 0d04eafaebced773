import { assert, describe, it } from "@effect/vitest"
import { comparePinned, isCompatible, selectorMatches } from "../../src/allocator/Pool.ts"
import { pool } from "./fixtures.ts"

describe("Pool", () => {
  it("matches label selectors with metav1 semantics", () => {
    const labels = { app: "web", tier: "fe" }
    const cases: Array<[Parameters<typeof selectorMatches>[0], boolean]> = [
      [{}, true],
      [{ matchLabels: { app: "web" } }, true],
      [{ matchLabels: { app: "web", tier: "be" } }, false],
      [{ matchExpressions: [{ key: "app", operator: "In", values: ["web", "api"] }] }, true],
      [{ matchExpressions: [{ key: "app", operator: "NotIn", values: ["web"] }] }, false],
      [{ matchExpressions: [{ key: "zone", operator: "NotIn", values: ["a"] }] }, true],
      [{ matchExpressions: [{ key: "tier", operator: "Exists" }] }, true],
      [{ matchExpressions: [{ key: "tier", operator: "DoesNotExist" }] }, false],
      [{ matchLabels: { app: "web" }, matchExpressions: [{ key: "zone", operator: "Exists" }] }, false]
    ]
    for (const [selector, expected] of cases) assert.strictEqual(selectorMatches(selector, labels), expected, JSON.stringify(selector))
  })

  it("requires both the namespace and the label restriction", () => {
    const both = pool("p", ["192.0.2.0/24"], { namespaces: ["a"], selectors: [{ matchLabels: { app: "web" } }] })
    assert.isTrue(isCompatible(both, { namespace: "a", labels: { app: "web" } }))
    assert.isFalse(isCompatible(both, { namespace: "b", labels: { app: "web" } }))
    assert.isFalse(isCompatible(both, { namespace: "a", labels: {} }))
    assert.isTrue(isCompatible(pool("q", ["192.0.2.0/24"]), { namespace: "x", labels: {} }))
  })

  it("orders pinned pools by positive priority, then priority 0, ties by name", () => {
    const pools = [
      pool("z0", [], { priority: 0, allocateTo: true }),
      pool("b20", [], { priority: 20 }),
      pool("a20", [], { priority: 20 }),
      pool("c10", [], { priority: 10 }),
      pool("a0", [], { allocateTo: true })
    ]
    assert.deepStrictEqual(pools.toSorted(comparePinned).map((p) => p.name), ["c10", "a20", "b20", "a0", "z0"])
  })
})
