import { Result } from "effect"
import { describe, expect, it } from "vitest"
import type { OpenMessage } from "../../src/bgp/Message.ts"
import type { OpenExpectations } from "../../src/bgp/Negotiation.ts"
import { makeOpen, validateOpen } from "../../src/bgp/Negotiation.ts"
import { hex } from "./hex.ts"

const local = makeOpen({
  asn: 64512,
  holdTime: 90,
  bgpIdentifier: 0xc0000201,
  families: [{ afi: 1, safi: 1 }, { afi: 2, safi: 1 }],
  routeRefresh: true
})

const peer = (overrides: Partial<OpenMessage> = {}): OpenMessage => ({
  ...makeOpen({ asn: 4200000000, holdTime: 30, bgpIdentifier: 0xc6336401, families: [{ afi: 1, safi: 1 }], routeRefresh: true }),
  ...overrides
})

const failure = (open: OpenMessage, expectations: OpenExpectations) => {
  const result = validateOpen(open, expectations)
  if (Result.isSuccess(result)) throw new Error("expected a failure")
  return result.failure
}

describe("makeOpen", () => {
  it("puts AS_TRANS in My AS for a 4-octet AS and the real one in the capability", () => {
    expect(peer().myAs).toBe(23456)
    expect(peer().capabilities).toContainEqual({ _tag: "FourOctetAs", asn: 4200000000 })
    expect(local.myAs).toBe(64512)
  })

  it("announces graceful restart with restart time and per-family flags", () => {
    const open = makeOpen({
      asn: 64512,
      holdTime: 90,
      bgpIdentifier: 1,
      families: [{ afi: 2, safi: 1 }],
      gracefulRestart: { restartTime: 5000, restarting: true, forwardingPreserved: true }
    })
    expect(open.capabilities).toContainEqual({
      _tag: "GracefulRestart",
      flags: 0x8,
      restartTime: 4095,
      families: [{ afi: 2, safi: 1, flags: 0x80 }]
    })
  })
})

describe("validateOpen", () => {
  it("settles hold time, keepalive, 4-octet AS, route refresh and the common families", () => {
    const result = validateOpen(peer(), { local, peerAs: 4200000000 })
    expect(Result.isSuccess(result) && result.success).toEqual({
      peerAs: 4200000000,
      peerBgpIdentifier: 0xc6336401,
      holdTime: 30,
      keepaliveTime: 10,
      fourOctetAs: true,
      extendedMessages: false,
      routeRefresh: true,
      families: [{ afi: 1, safi: 1 }],
      codecOptions: { fourOctetAs: true, extendedMessages: false }
    })
  })

  it("implies IPv4 unicast for a peer without Multiprotocol capabilities", () => {
    const result = validateOpen(peer({ capabilities: [] }), { local, peerAs: 23456 })
    expect(Result.isSuccess(result) && result.success.families).toEqual([{ afi: 1, safi: 1 }])
    expect(Result.isSuccess(result) && result.success.fourOctetAs).toBe(false)
  })

  it("rejects the wrong peer AS with Bad Peer AS", () => {
    expect(failure(peer(), { local, peerAs: 64513 })).toMatchObject({ code: 2, subcode: 2 })
    expect(failure(peer({ myAs: 0, capabilities: [] }), { local })).toMatchObject({ code: 2, subcode: 2 })
  })

  it("rejects identifier 0, and an iBGP peer with our identifier, with Bad BGP Identifier", () => {
    expect(failure(peer({ bgpIdentifier: 0 }), { local })).toMatchObject({ code: 2, subcode: 3 })
    const twin = { ...local, bgpIdentifier: local.bgpIdentifier }
    expect(failure(twin, { local })).toMatchObject({ code: 2, subcode: 3 })
    expect(Result.isSuccess(validateOpen({ ...peer(), bgpIdentifier: local.bgpIdentifier }, { local }))).toBe(true)
  })

  it("rejects hold times 1 and 2, and below a configured minimum, with Unacceptable Hold Time", () => {
    expect(failure(peer({ holdTime: 2 }), { local })).toMatchObject({ code: 2, subcode: 6 })
    expect(failure(peer({ holdTime: 5 }), { local, minHoldTime: 9 })).toMatchObject({ code: 2, subcode: 6 })
    const zero = validateOpen(peer({ holdTime: 0 }), { local })
    expect(Result.isSuccess(zero) && [zero.success.holdTime, zero.success.keepaliveTime]).toEqual([0, 0])
  })

  it("rejects a missing required capability with Unsupported Capability, data = that capability", () => {
    const error = failure(peer(), { local, requiredCapabilities: [{ _tag: "Multiprotocol", afi: 2, safi: 1 }] })
    expect(error).toMatchObject({ code: 2, subcode: 7, data: hex("01 04 0002 00 01") })
  })
})
