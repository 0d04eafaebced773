// `limit` / `continue` of the in-memory API server's lists (src/testing/apiserver/Server.ts `paginate`).
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { paginate } from "../../../src/testing/apiserver/Server.ts"
import type { JsonObject } from "../../../src/testing/apiserver/Json.ts"

const object = (namespace: string, name: string): JsonObject => ({ metadata: { namespace, name } })
const key = (o: JsonObject) => JSON.stringify(o["metadata"])
const sorted = (objects: ReadonlyArray<JsonObject>) =>
  objects.toSorted((a, b) => {
    const [ma, mb] = [a["metadata"] as Record<string, string>, b["metadata"] as Record<string, string>]
    return (ma["namespace"] ?? "").localeCompare(mb["namespace"] ?? "") || (ma["name"] ?? "").localeCompare(mb["name"] ?? "")
  })

/** Every page from the first, following `continue`. */
const pages = (all: ReadonlyArray<JsonObject>, limit: number) => {
  const out: Array<ReturnType<typeof paginate>> = []
  let token: string | null = null
  do {
    const page = paginate(all, "42", String(limit), token)
    out.push(page)
    token = page.next ?? null
  } while (token !== null && out.length <= all.length + 1)
  return out
}

describe("paginate", () => {
  it("without a limit returns everything and no continue token", () => {
    const all = sorted([object("a", "x"), object("b", "y")])
    assert.deepStrictEqual(paginate(all, "7", null, null), { items: all, resourceVersion: "7", next: undefined })
  })

  it("following continue serves every object once, in order, at the first page's resourceVersion", () => {
    const names = fc.uniqueArray(fc.tuple(fc.constantFrom("a", "b", "c"), fc.stringMatching(/^[a-z0-9]{1,6}$/)), { selector: ([n, m]) => `${n}/${m}`, maxLength: 40 })
    fc.assert(fc.property(names, fc.integer({ min: 1, max: 12 }), (pairs, limit) => {
      const all = sorted(pairs.map(([n, m]) => object(n, m)))
      const result = pages(all, limit)
      assert.deepStrictEqual(result.flatMap((p) => p.items).map(key), all.map(key))
      for (const p of result) {
        assert.strictEqual(p.resourceVersion, "42")
        assert.isAtMost(p.items.length, limit)
      }
      assert.isUndefined(result.at(-1)?.next)
      assert.strictEqual(result.length, Math.max(1, Math.ceil(all.length / limit)))
    }))
  })

  it("a continuation after the last object served was deleted starts at the next one", () => {
    const all = sorted([object("a", "1"), object("a", "2"), object("a", "3"), object("a", "4")])
    const first = paginate(all, "5", "2", null)
    const rest = paginate(all.filter((o) => key(o) !== key(object("a", "2"))), "9", "2", first.next ?? null)
    assert.deepStrictEqual(rest.items.map(key), [key(object("a", "3")), key(object("a", "4"))])
    assert.strictEqual(rest.resourceVersion, "5")
  })

  it("refuses a malformed continue token with a reason", () => {
    assert.throws(() => paginate([], "1", "10", "not-a-token"), /invalid continue token/)
  })
})
