import { describe, expect, it } from "vitest"
import {
  asPathAttributes,
  attributesToPropagate,
  formatCommunity,
  formatLargeCommunity,
  parseCommunity,
  parseLargeCommunity
} from "../../src/bgp/Attributes.ts"

describe("attribute helpers", () => {
  it("sets Partial on unknown transitive attributes passed on and drops unknown non-transitive ones", () => {
    const value = Uint8Array.of(1)
    expect(
      attributesToPropagate([
        { _tag: "Origin", value: 0 },
        { _tag: "UnknownAttribute", flags: 0xc0, typeCode: 99, value },
        { _tag: "UnknownAttribute", flags: 0x80, typeCode: 100, value }
      ])
    ).toEqual([{ _tag: "Origin", value: 0 }, { _tag: "UnknownAttribute", flags: 0xe0, typeCode: 99, value }])
  })

  it("adds AS4_PATH for a 2-octet peer only when an AS number needs 4 octets", () => {
    expect(asPathAttributes([], false)).toEqual([{ _tag: "AsPath", segments: [] }])
    expect(asPathAttributes([64512], false)).toEqual([{ _tag: "AsPath", segments: [{ type: 2, asns: [64512] }] }])
    expect(asPathAttributes([4200000000], false).map((a) => a._tag)).toEqual(["AsPath", "As4Path"])
    expect(asPathAttributes([4200000000], true).map((a) => a._tag)).toEqual(["AsPath"])
  })

  it("reads and writes communities as text", () => {
    expect(parseCommunity("65000:100")).toBe(0xfde80064)
    expect(parseCommunity("no-export")).toBe(0xffffff01)
    expect(parseCommunity("65536:1")).toBeUndefined()
    expect(formatCommunity(0xfde80064)).toBe("65000:100")
    expect(parseLargeCommunity("4200000000:1:2")).toEqual({ globalAdmin: 4200000000, localData1: 1, localData2: 2 })
    expect(parseLargeCommunity("4294967296:1:2")).toBeUndefined()
    expect(formatLargeCommunity({ globalAdmin: 4200000000, localData1: 1, localData2: 2 })).toBe("4200000000:1:2")
  })
})
