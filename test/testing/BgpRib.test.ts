/** Best-path and multipath selection of the sandbox router's table: properties over random path sets. */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { comparePaths, type RibPath, select } from "../../src/testing/BgpRib.ts"

const path: fc.Arbitrary<RibPath> = fc.record({
  peer: fc.integer({ min: 1, max: 250 }).map((n) => `192.0.2.${n}`),
  localPref: fc.option(fc.constantFrom(100, 200), { nil: undefined }),
  asPathLength: fc.integer({ min: 0, max: 3 }),
  origin: fc.constantFrom("igp" as const, "egp" as const, "incomplete" as const),
  med: fc.option(fc.constantFrom(0, 10), { nil: undefined }),
  internal: fc.boolean()
}).map((p) => ({
  ...p,
  prefix: "203.0.113.10/32",
  peerAs: p.internal ? 64512 : 64500,
  peerRouterId: p.peer,
  nextHop: p.peer,
  asPath: Array.from({ length: p.asPathLength }, () => 64500),
  communities: [],
  largeCommunities: [],
  stale: false
}))

const uniquePeers = fc.uniqueArray(path, { selector: (p) => p.peer, minLength: 1, maxLength: 8 })

describe("BgpRib.select", () => {
  it("does not depend on the order paths arrived in", () => {
    fc.assert(fc.property(uniquePeers, fc.func(fc.integer()), (paths, key) => {
      const shuffled = paths.toSorted((a, b) => key(a.peer) - key(b.peer))
      assert.deepStrictEqual(select(shuffled), select(paths))
    }))
  })

  it("puts one best path first, no path beats it, and the best path is a multipath", () => {
    fc.assert(fc.property(uniquePeers, (paths) => {
      const selected = select(paths)
      assert.strictEqual(selected.filter((p) => p.best).length, 1)
      const [best] = selected
      assert.isTrue(best?.best === true && best.multipath)
      for (const p of paths) assert.isAtLeast(comparePaths(p, paths.find((q) => q.peer === best?.peer) ?? p), 0)
    }))
  })

  it("multipaths share local-pref, AS path length, origin and MED with the best path", () => {
    fc.assert(fc.property(uniquePeers, (paths) => {
      const [best, ...rest] = select(paths)
      for (const p of rest) {
        const same = (p.localPref ?? 100) === (best?.localPref ?? 100) && p.asPathLength === best?.asPathLength &&
          p.origin === best.origin && (p.med ?? 0) === (best.med ?? 0)
        assert.strictEqual(p.multipath, same)
      }
    }))
  })
})
