import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { FreeSet } from "../../src/allocator/FreeSet.ts"

/** The set as disjoint, non-adjacent ranges, from a plain set of values. */
const rangesOf = (values: ReadonlySet<bigint>): Array<readonly [bigint, bigint]> => {
  const sorted = [...values].toSorted((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const out: Array<[bigint, bigint]> = []
  for (const v of sorted) {
    const top = out[out.length - 1]
    if (top !== undefined && top[1] + 1n === v) top[1] = v
    else out.push([v, v])
  }
  return out
}

describe("FreeSet", () => {
  it("behaves like a set of values kept as merged ranges", () => {
    const op = fc.tuple(fc.constantFrom("take", "give"), fc.bigInt({ min: 0n, max: 63n }))
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const set = FreeSet.fromRanges([[0n, 31n], [40n, 63n]])
        const model = new Set<bigint>()
        for (let v = 0n; v <= 63n; v++) if (v < 32n || v >= 40n) model.add(v)
        for (const [kind, value] of ops) {
          if (kind === "take") assert.strictEqual(set.take(value), model.delete(value))
          else {
            const added = !model.has(value)
            model.add(value)
            assert.strictEqual(set.give(value), added)
          }
          assert.strictEqual(set.has(value), model.has(value))
          const expected = rangesOf(model)
          assert.deepStrictEqual(set.toArray(), expected)
          assert.strictEqual(set.rangeCount, expected.length)
          assert.strictEqual(set.first(), expected[0]?.[0])
        }
      }),
      { seed: 7, numRuns: 300 }
    )
  })

  it("merges adjacent input ranges and handles IPv6-sized values", () => {
    const big = 1n << 127n
    const set = FreeSet.fromRanges([[0n, 3n], [4n, 9n], [big, big + 5n]])
    assert.deepStrictEqual(set.toArray(), [[0n, 9n], [big, big + 5n]])
    assert.isTrue(set.take(big + 2n))
    assert.deepStrictEqual(set.toArray(), [[0n, 9n], [big, big + 1n], [big + 3n, big + 5n]])
  })

  it("handles 100k fragments (a degenerate tree would overflow the recursion)", () => {
    const set = FreeSet.fromRanges([[0n, 1_000_000n]])
    for (let v = 0n; v < 200_000n; v += 2n) set.take(v)
    assert.strictEqual(set.rangeCount, 100_000)
    assert.strictEqual(set.first(), 1n)
    for (let v = 0n; v < 200_000n; v += 2n) set.give(v)
    assert.deepStrictEqual(set.toArray(), [[0n, 1_000_000n]])
  })
})
