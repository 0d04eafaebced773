import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import * as Community from "../../src/config/Community.ts"

describe("Community", () => {
  it.each([
    ["65535:65282", { _tag: "Standard", value: 0xffffff02 }],
    ["0:0", { _tag: "Standard", value: 0 }],
    ["large:4294967295:0:1", { _tag: "Large", globalAdministrator: 4294967295, localData1: 0, localData2: 1 }]
  ] as const)("parses %s", (text, expected) => {
    const r = Community.parse(text)
    assert.isTrue(Result.isSuccess(r))
    if (Result.isSuccess(r)) assert.deepStrictEqual(r.success, expected)
  })

  it.each([
    ["99999999:1", "value", `invalid community value: invalid section "99999999" of community "99999999:1"`],
    ["1:-1", "value", `invalid community value: invalid section "-1" of community "1:-1"`],
    ["large:1:2:4294967296", "value", `invalid community value: invalid section "4294967296" of community "large:1:2:4294967296"`],
    [
      "lar:123:9999:123",
      "value",
      `invalid community value: invalid marker for large community, expected community to be of format large:<uint32>:<uint32>:<uint32> but got "lar:123:9999:123" instead`
    ],
    ["no-export", "format", "invalid community format: no-export"],
    ["1:2:3", "format", "invalid community format: 1:2:3"]
  ] as const)("rejects %s", (text, kind, message) => {
    const r = Community.parse(text)
    assert.isTrue(Result.isFailure(r))
    if (Result.isFailure(r)) assert.deepStrictEqual(r.failure, { kind, message })
  })

  it("parses what it formats and orders standard as <value>:0:0", () => {
    const standard = fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }))
      .map(([a, b]): Community.Community => ({ _tag: "Standard", value: a * 0x10000 + b }))
    const large = fc.tuple(fc.nat(), fc.nat(), fc.nat()).map(([a, b, c]): Community.Community => ({
      _tag: "Large",
      globalAdministrator: a,
      localData1: b,
      localData2: c
    }))
    fc.assert(fc.property(fc.oneof(standard, large), fc.oneof(standard, large), (c, d) => {
      const back = Community.parse(Community.format(c))
      assert.isTrue(Result.isSuccess(back) && Community.equals(back.success, c))
      assert.strictEqual(Math.sign(Community.compare(c, d)), -Math.sign(Community.compare(d, c)))
    }))
  })
})
