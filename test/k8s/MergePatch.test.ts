import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { apply, diff, isEmpty } from "../../src/k8s/MergePatch.ts"

// JSON without nulls (a merge patch cannot set null) and without undefined.
const { value: json } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.boolean(),
    fc.integer(),
    fc.string({ maxLength: 4 }),
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom("a", "b", "c", "spec", "status"), tie("value"), { maxKeys: 4 })
  )
}))
const object = fc.dictionary(fc.constantFrom("a", "b", "c", "metadata", "spec", "status"), json, { maxKeys: 5 })

describe("MergePatch", () => {
  it("diff(a, b) applied to a gives b (RFC 7386)", () => {
    fc.assert(fc.property(object, object, (a, b) => {
      assert.deepStrictEqual(apply(a, diff(a, b)), b)
    }), { numRuns: 2000 })
  })

  it("is empty exactly when nothing changed, and carries only what changed", () => {
    fc.assert(fc.property(object, (a) => assert.isTrue(isEmpty(diff(a, a)))))
    const a = { metadata: { name: "web", labels: { x: "1" } }, spec: { ports: [80] }, status: { ip: "192.0.2.1" } }
    const b = { metadata: { name: "web", labels: { y: "2" } }, spec: { ports: [80, 443] } }
    assert.deepStrictEqual(diff(a, b), { metadata: { labels: { x: null, y: "2" } }, spec: { ports: [80, 443] }, status: null })
  })
})
