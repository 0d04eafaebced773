import * as fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import * as Arb from "../../src/bgp/Arbitraries.ts"
import { asPathAttributes } from "../../src/bgp/Attributes.ts"
import { decodeMessage, encodeMessage, reachability } from "../../src/bgp/Codec.ts"
import type { PathAttribute, UpdateMessage } from "../../src/bgp/Message.ts"
import * as Prefix from "../../src/bgp/Prefix.ts"
import type { PackOptions, RouteAttributes } from "../../src/bgp/UpdatePacker.ts"
import { packAnnouncements, packWithdrawals } from "../../src/bgp/UpdatePacker.ts"
import { hex } from "./hex.ts"

const attributes: ReadonlyArray<PathAttribute> = [
  { _tag: "Origin", value: 0 },
  ...asPathAttributes([64512], true),
  { _tag: "Communities", values: [0xfc000064] }
]
const route: RouteAttributes = {
  attributes,
  nextHopIpv4: hex("c000020a"),
  nextHopIpv6: hex("20010db8000000000000000000000001")
}
const options: PackOptions = { fourOctetAs: true }

const hosts = (count: number, family: 4 | 6): Array<Prefix.Prefix> =>
  Array.from({ length: count }, (_, i) => {
    const bytes = new Uint8Array(family === 4 ? 4 : 16)
    bytes[0] = family === 4 ? 10 : 0x20
    bytes[bytes.length - 3] = (i >> 16) & 0xff
    bytes[bytes.length - 2] = (i >> 8) & 0xff
    bytes[bytes.length - 1] = i & 0xff
    return Prefix.make(family, bytes, family === 4 ? 32 : 128)
  })

const pack = (prefixes: ReadonlyArray<Prefix.Prefix>, o: PackOptions = options): Array<UpdateMessage> => {
  const result = packAnnouncements(prefixes, route, o)
  if (Result.isFailure(result)) throw new Error(result.failure.message)
  return result.success
}

/** Encodes, checks the size and decodes back, returning what the peer would see. */
const wire = (messages: ReadonlyArray<UpdateMessage>, o: PackOptions = options) =>
  messages.map((message) => {
    const bytes = encodeMessage(message, o)
    expect(bytes.length).toBeLessThanOrEqual(o.extendedMessages === true ? 65535 : 4096)
    const decoded = decodeMessage(bytes, o)
    if (Result.isFailure(decoded) || decoded.success._tag !== "Update") throw new Error("packed UPDATE did not decode")
    expect(decoded.success.issues).toBeUndefined()
    return { bytes, update: decoded.success }
  })

const keys = (prefixes: ReadonlyArray<Prefix.Prefix>) => prefixes.map(Prefix.format).toSorted()

describe("packAnnouncements", () => {
  it("packs 10,000 IPv4 /32s into the minimum number of classic UPDATEs", () => {
    const prefixes = hosts(10_000, 4)
    const started = performance.now()
    const messages = pack(prefixes)
    const sent = wire(messages)
    const elapsed = performance.now() - started
    // 23 header+lengths, attributes: ORIGIN 4 + AS_PATH 9 + COMMUNITIES 7 + NEXT_HOP 7 = 27 → 4046 octets of NLRI.
    const perMessage = Math.floor((4096 - 23 - 27) / 5)
    expect(messages).toHaveLength(Math.ceil(10_000 / perMessage))
    expect(sent[0]?.bytes.length).toBe(4096 - ((4096 - 23 - 27) % 5))
    expect(keys(sent.flatMap(({ update }) => reachability(update).announced))).toEqual(keys(prefixes))
    expect(sent[0]?.update.attributes.map((a) => a._tag)).toEqual(["Origin", "AsPath", "NextHop", "Communities"])
    expect(elapsed).toBeLessThan(1000)
  })

  it("packs IPv6 /128s into MP_REACH_NLRI with the IPv6 next hop, MP_REACH_NLRI first", () => {
    const prefixes = hosts(1000, 6)
    const sent = wire(pack(prefixes))
    const capacity = 4096 - 23 - 20 - 4 - 5 - 16
    expect(sent).toHaveLength(Math.ceil(1000 / Math.floor(capacity / 17)))
    const first = sent[0]?.update.attributes[0]
    expect(first?._tag === "MpReachNlri" && first.nextHop).toEqual(route.nextHopIpv6)
    expect(keys(sent.flatMap(({ update }) => reachability(update).announced))).toEqual(keys(prefixes))
  })

  it("carries IPv4 in MP_REACH_NLRI when asked, and uses 65535-octet messages when extended", () => {
    const prefixes = hosts(10_000, 4)
    const mp = wire(pack(prefixes, { ...options, ipv4InMpReach: true }))
    expect(mp.every(({ update }) => update.nlri.length === 0 && update.attributes[0]?._tag === "MpReachNlri")).toBe(true)
    const extended = { ...options, extendedMessages: true }
    expect(wire(pack(prefixes, extended), extended)).toHaveLength(1)
  })

  it("fills every message until no remaining prefix fits, never exceeding the limit, losing nothing", () => {
    fc.assert(
      fc.property(fc.array(Arb.prefix, { maxLength: 3000 }), fc.boolean(), (prefixes, ipv4InMpReach) => {
        const o = { ...options, ipv4InMpReach }
        const sent = wire(pack(prefixes, o), o)
        expect(keys(sent.flatMap(({ update }) => reachability(update).announced))).toEqual(keys(prefixes))
        for (const family of [4, 6] as const) {
          const ofFamily = sent.filter(({ update }) => reachability(update).announced[0]?.family === family)
          ofFamily.forEach(({ bytes }, i) => {
            const later = ofFamily.slice(i + 1).flatMap(({ update }) => reachability(update).announced)
            if (later.length === 0) return
            const smallest = Math.min(...later.map(Prefix.encodedLength))
            // Room left in this message (4 = the extended MP_REACH header the packer reserves for).
            expect(4096 - bytes.length).toBeLessThan(smallest + (family === 6 || ipv4InMpReach ? 1 : 0))
          })
        }
      }),
      { numRuns: 40 }
    )
  })

  it("refuses attributes it adds itself and missing next hops", () => {
    const withNextHop = packAnnouncements(hosts(1, 4), { ...route, attributes: [{ _tag: "NextHop", address: hex("c0000201") }] }, options)
    expect(Result.isFailure(withNextHop) && withNextHop.failure.message).toMatch(/NextHop/)
    const noV6 = packAnnouncements(hosts(1, 6), { attributes }, options)
    expect(Result.isFailure(noV6) && noV6.failure.message).toMatch(/no IPv6 next hop/)
  })
})

describe("packWithdrawals", () => {
  it("packs IPv4 into Withdrawn Routes and IPv6 into MP_UNREACH_NLRI", () => {
    const v4 = hosts(5000, 4)
    const v6 = hosts(500, 6)
    const sent = wire(packWithdrawals([...v4, ...v6], options))
    expect(sent).toHaveLength(Math.ceil(5000 / Math.floor(4073 / 5)) + Math.ceil(500 / Math.floor((4096 - 30) / 17)))
    expect(keys(sent.flatMap(({ update }) => reachability(update).withdrawn))).toEqual(keys([...v4, ...v6]))
    expect(sent.every(({ update }) => reachability(update).announced.length === 0)).toBe(true)
  })
})
