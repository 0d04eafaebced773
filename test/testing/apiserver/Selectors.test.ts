import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import {
  type Requirement,
  formatLabelSelector,
  fromLabelSelector,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector
} from "../../../src/testing/apiserver/Selectors.ts"

const parse = (s: string) => Result.getOrThrow(parseLabelSelector(s))
const m = (sel: string, labels: Record<string, string>) => matchesLabels(parse(sel), labels)

const negate = (r: Requirement): Requirement => ({
  ...r,
  op: ({ "=": "!=", "!=": "=", in: "notin", notin: "in", exists: "!", "!": "exists", gt: "gt", lt: "lt" } as const)[r.op]
})

describe("label selectors", () => {
  it("parses every operator", () => {
    assert.deepStrictEqual(parse("a=1, b==2,c!=3,d in (x, y),e notin (z),f,!g,h>5,i<7"), [
      { key: "a", op: "=", values: ["1"] },
      { key: "b", op: "=", values: ["2"] },
      { key: "c", op: "!=", values: ["3"] },
      { key: "d", op: "in", values: ["x", "y"] },
      { key: "e", op: "notin", values: ["z"] },
      { key: "f", op: "exists", values: [] },
      { key: "g", op: "!", values: [] },
      { key: "h", op: "gt", values: ["5"] },
      { key: "i", op: "lt", values: ["7"] }
    ])
    assert.deepStrictEqual(parse("kubernetes.io/service-name=web"), [{ key: "kubernetes.io/service-name", op: "=", values: ["web"] }])
    assert.deepStrictEqual(parse(""), [])
  })

  it("matches like apimachinery", () => {
    assert.isTrue(m("app=web", { app: "web", x: "1" }))
    assert.isFalse(m("app=web", { app: "db" }))
    assert.isTrue(m("app!=web", {}))
    assert.isTrue(m("env in (a,b)", { env: "b" }))
    assert.isFalse(m("env in (a,b)", {}))
    assert.isTrue(m("env notin (a,b)", {}))
    assert.isFalse(m("env notin (a,b)", { env: "a" }))
    assert.isTrue(m("env", { env: "" }))
    assert.isTrue(m("!env", { other: "x" }))
    assert.isTrue(m("n>5,n<10", { n: "7" }))
    assert.isFalse(m("n>5", { n: "x" }))
    assert.isTrue(m("", { any: "thing" }))
  })

  it("rejects malformed selectors with a reason", () => {
    for (const bad of ["a in (x", "a=b c", "=x", "a>x", "bad key=1", "a=-x-"]) {
      const r = parseLabelSelector(bad)
      assert.isTrue(Result.isFailure(r), bad)
    }
  })

  it("converts metav1.LabelSelector objects", () => {
    const sel = Result.getOrThrow(
      fromLabelSelector({ matchLabels: { a: "1" }, matchExpressions: [{ key: "b", operator: "NotIn", values: ["x"] }, { key: "c", operator: "Exists" }] })
    )
    assert.isTrue(matchesLabels(sel, { a: "1", c: "" }))
    assert.isFalse(matchesLabels(sel, { a: "1", b: "x", c: "" }))
    assert.deepStrictEqual(fromLabelSelector({ matchExpressions: [{ key: "b", operator: "In" }] }), Result.fail("matchExpressions[0].values: must be specified when operator is In"))
    assert.isTrue(Result.isFailure(fromLabelSelector({ matchExpressions: [{ key: "b", operator: "Maybe" }] })))
  })

  const key = fc.stringMatching(/^[a-z]([a-z0-9.-]{0,6}[a-z0-9])?(\/[a-z]([a-z0-9_-]{0,5}[a-z0-9])?)?$/)
  const value = fc.stringMatching(/^[a-z0-9]([a-z0-9._-]{0,5}[a-z0-9])?$/)
  const requirement: fc.Arbitrary<Requirement> = fc.oneof(
    fc.record({ key, op: fc.constantFrom("=" as const, "!=" as const), values: fc.tuple(value) }),
    fc.record({ key, op: fc.constantFrom("in" as const, "notin" as const), values: fc.array(value, { minLength: 1, maxLength: 3 }) }),
    fc.record({ key, op: fc.constantFrom("exists" as const, "!" as const), values: fc.constant([]) })
  )

  it("format then parse is the identity (property)", () => {
    fc.assert(
      fc.property(fc.array(requirement, { maxLength: 5 }), (sel) => {
        assert.deepStrictEqual(Result.getOrThrow(parseLabelSelector(formatLabelSelector(sel))), sel)
      })
    )
  })

  it("a requirement and its negation never both match (property)", () => {
    fc.assert(
      fc.property(requirement, fc.dictionary(key, value, { maxKeys: 4 }), (r, labels) => {
        assert.notStrictEqual(matchesLabels([r], labels), matchesLabels([negate(r)], labels))
      })
    )
  })
})

describe("field selectors", () => {
  it("parses terms in any order with escapes", () => {
    const sel = Result.getOrThrow(parseFieldSelector("involvedObject.name=web,involvedObject.kind==Service,metadata.name!=a\\,b"))
    assert.deepStrictEqual(sel, [
      { field: "involvedObject.name", op: "=", value: "web" },
      { field: "involvedObject.kind", op: "=", value: "Service" },
      { field: "metadata.name", op: "!=", value: "a,b" }
    ])
    const fields: Record<string, string> = { "involvedObject.name": "web", "involvedObject.kind": "Service", "metadata.name": "x" }
    assert.isTrue(matchesFields(sel, (f) => fields[f] ?? ""))
    assert.isFalse(matchesFields(sel, (f) => (f === "metadata.name" ? "a,b" : (fields[f] ?? ""))))
    assert.isTrue(Result.isFailure(parseFieldSelector("nonsense")))
  })
})
