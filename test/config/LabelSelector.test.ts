import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import * as LabelSelector from "../../src/config/LabelSelector.ts"

const parse = (sel: LabelSelector.LabelSelector): LabelSelector.Selector => {
  const r = LabelSelector.parse(sel)
  if (Result.isFailure(r)) throw new Error(r.failure.map((i) => i.reason).join("; "))
  return r.success
}

describe("LabelSelector", () => {
  it("matches like Kubernetes", () => {
    const sel = parse({
      matchLabels: { app: "web" },
      matchExpressions: [
        { key: "tier", operator: "In", values: ["front", "edge"] },
        { key: "env", operator: "NotIn", values: ["dev"] },
        { key: "owner", operator: "Exists" },
        { key: "legacy", operator: "DoesNotExist" }
      ]
    })
    assert.isTrue(LabelSelector.matches(sel, { app: "web", tier: "edge", owner: "x" }))
    assert.isTrue(LabelSelector.matches(sel, { app: "web", tier: "edge", owner: "x", env: "prod" }))
    assert.isFalse(LabelSelector.matches(sel, { app: "web", tier: "edge", owner: "x", env: "dev" }))
    assert.isFalse(LabelSelector.matches(sel, { app: "web", tier: "back", owner: "x" }))
    assert.isFalse(LabelSelector.matches(sel, { app: "web", tier: "edge" }))
    assert.isFalse(LabelSelector.matches(sel, { app: "web", tier: "edge", owner: "x", legacy: "" }))
    assert.isFalse(LabelSelector.matches(sel, { tier: "edge", owner: "x" }))
  })

  it("the empty selector matches everything; a list is OR-ed", () => {
    const all = parse({})
    assert.isTrue(LabelSelector.isEverything(all))
    assert.isTrue(LabelSelector.matches(all, {}))
    const list = [parse({ matchLabels: { a: "1" } }), parse({ matchLabels: { b: "2" } })]
    assert.isTrue(LabelSelector.matchesAny(list, { b: "2" }))
    assert.isFalse(LabelSelector.matchesAny(list, { a: "2" }))
    assert.isFalse(LabelSelector.matchesAny([], { a: "1" }))
  })

  it("formats in the Kubernetes string form, sorted, so equal selectors compare equal", () => {
    const a = parse({
      matchExpressions: [{ key: "z", operator: "DoesNotExist" }, { key: "b", operator: "In", values: ["y", "x"] }],
      matchLabels: { a: "1" }
    })
    assert.strictEqual(LabelSelector.format(a), "a=1,b in (x,y),!z")
    const b = parse({
      matchLabels: { a: "1" },
      matchExpressions: [{ key: "b", operator: "In", values: ["x", "y"] }, { key: "z", operator: "DoesNotExist" }]
    })
    assert.strictEqual(LabelSelector.format(b), LabelSelector.format(a))
    assert.strictEqual(LabelSelector.format(parse({ matchExpressions: [{ key: "k", operator: "NotIn", values: ["v"] }, { key: "e", operator: "Exists" }] })), "e,k notin (v)")
  })

  it.each([
    [{ matchExpressions: [{ key: "k", operator: "In" as const }] }, "for 'In', 'NotIn' operators, values set can't be empty"],
    [{ matchExpressions: [{ key: "k", operator: "NotIn" as const, values: [] }] }, "for 'In', 'NotIn' operators, values set can't be empty"],
    [{ matchExpressions: [{ key: "k", operator: "DoesNotExist" as const, values: ["x"] }] }, "values set must be empty for 'Exists' and 'DoesNotExist' operators"],
    [{ matchLabels: { "a/b/c": "x" } }, `invalid label key "a/b/c": prefix part must be a lowercase DNS subdomain`],
    [{ matchLabels: { k: "-x" } }, `invalid label value "-x": must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`],
    [{ matchLabels: { ["k".repeat(64)]: "x" } }, `invalid label key "${"k".repeat(64)}": name part must be no more than 63 characters`]
  ])("rejects %j", (sel, reason) => {
    const r = LabelSelector.parse(sel)
    assert.isTrue(Result.isFailure(r))
    if (Result.isFailure(r)) assert.deepStrictEqual(r.failure.map((i) => i.reason), [reason])
  })

  it("accepts prefixed keys and empty values", () => {
    const sel = parse({ matchLabels: { "kubernetes.io/hostname": "", "example.com/a_b.c-d": "v" } })
    assert.isTrue(LabelSelector.matches(sel, { "kubernetes.io/hostname": "", "example.com/a_b.c-d": "v" }))
  })

  it("NotIn and DoesNotExist hold for absent keys; In and Exists do not", () => {
    const key = fc.constantFrom("a", "b", "c")
    const labels = fc.dictionary(key, fc.constantFrom("1", "2"))
    fc.assert(fc.property(key, labels, (k, ls) => {
      const has = Object.hasOwn(ls, k)
      assert.strictEqual(LabelSelector.matches(parse({ matchExpressions: [{ key: k, operator: "Exists" }] }), ls), has)
      assert.strictEqual(LabelSelector.matches(parse({ matchExpressions: [{ key: k, operator: "DoesNotExist" }] }), ls), !has)
      const inOne = parse({ matchExpressions: [{ key: k, operator: "In", values: ["1"] }] })
      const notInOne = parse({ matchExpressions: [{ key: k, operator: "NotIn", values: ["1"] }] })
      assert.strictEqual(LabelSelector.matches(inOne, ls), !LabelSelector.matches(notInOne, ls))
    }))
  })
})
