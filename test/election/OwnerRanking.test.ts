import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { createHash } from "node:crypto"
import * as OwnerRanking from "../../src/election/OwnerRanking.ts"

const nodeName = fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/)
const candidates = fc.uniqueArray(
  fc.record({ node: nodeName, weight: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 300 })) }),
  { selector: (c) => c.node, minLength: 1, maxLength: 12 }
)
const ip = fc.oneof(fc.ipV4(), fc.constantFrom("2001:db8::1", "2001:db8:0:1::200", "192.0.2.200"))

describe("OwnerRanking", () => {
  it("matches MetalLB's definition on a known case", () => {
    // sha256("node3#192.0.2.200") etc., computed independently.
    const nodes = ["node3", "node4", "node5"]
    const expected = nodes.toSorted((a, b) =>
      Buffer.compare(createHash("sha256").update(`${a}#192.0.2.200`).digest(),
        createHash("sha256").update(`${b}#192.0.2.200`).digest()))
    const ranked = OwnerRanking.rank("192.0.2.200", nodes.map((node) => ({ node, weight: 0 }))).map((c) => c.node)
    assert.deepStrictEqual(ranked, expected)
  })

  it("is independent of the input order (every speaker agrees)", () => {
    fc.assert(fc.property(ip, candidates, fc.infiniteStream(fc.nat()), (address, cs, seeds) => {
      const shuffled = [...cs]
      const it = seeds[Symbol.iterator]()
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = (it.next().value ?? 0) % (i + 1)
        const tmp = shuffled[i]
        const other = shuffled[j]
        if (tmp === undefined || other === undefined) continue
        shuffled[i] = other
        shuffled[j] = tmp
      }
      assert.deepStrictEqual(OwnerRanking.rank(address, shuffled), OwnerRanking.rank(address, cs))
    }))
  })

  it("puts a higher preference weight first", () => {
    fc.assert(fc.property(ip, candidates, (address, cs) => {
      const ranked = OwnerRanking.rank(address, cs)
      for (let i = 1; i < ranked.length; i++) {
        assert.isTrue((ranked[i - 1]?.weight ?? 0) >= (ranked[i]?.weight ?? 0))
      }
    }))
  })

  it("removing a node that is not the owner never moves the IP", () => {
    fc.assert(fc.property(ip, candidates, fc.nat(), (address, cs, pick) => {
      const owner = OwnerRanking.owner(address, cs)
      const others = cs.filter((c) => c.node !== owner)
      if (others.length === 0) return
      const removed = others[pick % others.length]?.node
      const after = OwnerRanking.owner(address, cs.filter((c) => c.node !== removed))
      assert.strictEqual(after, owner)
    }))
  })

  it("has no owner without candidates", () => {
    assert.isUndefined(OwnerRanking.owner("192.0.2.1", []))
  })
})
