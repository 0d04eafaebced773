import * as fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import * as Arb from "../../src/bgp/Arbitraries.ts"
import { decodeMessage, encodeMessage, endOfRib, isEndOfRib, notificationOf, reachability } from "../../src/bgp/Codec.ts"
import type { CodecOptions } from "../../src/bgp/Codec.ts"
import type { BgpMessage, UpdateMessage } from "../../src/bgp/Message.ts"
import type { BgpDecodeError } from "../../src/bgp/Notification.ts"
import { describe as describeCode, shutdownCommunication } from "../../src/bgp/Notification.ts"
import * as Prefix from "../../src/bgp/Prefix.ts"
import { frame, hex, MARKER, update } from "./hex.ts"

const p = (text: string): Prefix.Prefix => {
  const parsed = Prefix.parse(text)
  if (Result.isFailure(parsed)) throw new Error(parsed.failure)
  return parsed.success
}

const ok = (bytes: Uint8Array, options: CodecOptions = { fourOctetAs: true }): BgpMessage => {
  const decoded = decodeMessage(bytes, options)
  if (Result.isFailure(decoded)) throw new Error(`unexpected decode error: ${decoded.failure.message}`)
  return decoded.success
}

const fails = (bytes: Uint8Array, options: CodecOptions = { fourOctetAs: true }): BgpDecodeError => {
  const decoded = decodeMessage(bytes, options)
  if (Result.isSuccess(decoded)) throw new Error(`expected an error, decoded ${JSON.stringify(decoded.success)}`)
  return decoded.failure
}

const issuesOf = (bytes: Uint8Array, options: CodecOptions = { fourOctetAs: true }) => {
  const message = ok(bytes, options)
  if (message._tag !== "Update") throw new Error(`expected an UPDATE, got ${message._tag}`)
  return message
}

describe("known byte vectors", () => {
  // OPEN, My AS = AS_TRANS, hold 90, id 192.0.2.1; capabilities: MP IPv4/unicast, MP IPv6/unicast, Route Refresh,
  // 4-octet AS 4200000000, Graceful Restart (120 s, IPv4/unicast forwarding preserved), unknown code 70.
  const openBytes = hex(`${MARKER} 003d 01
    04 5ba0 005a c0000201 20
    02 1e
      01 04 0001 00 01
      01 04 0002 00 01
      02 00
      41 04 fa56ea00
      40 06 0078 0001 01 80
      46 00`)
  const openMessage: BgpMessage = {
    _tag: "Open",
    myAs: 23456,
    holdTime: 90,
    bgpIdentifier: 0xc0000201,
    capabilities: [
      { _tag: "Multiprotocol", afi: 1, safi: 1 },
      { _tag: "Multiprotocol", afi: 2, safi: 1 },
      { _tag: "RouteRefresh" },
      { _tag: "FourOctetAs", asn: 4200000000 },
      { _tag: "GracefulRestart", flags: 0, restartTime: 120, families: [{ afi: 1, safi: 1, flags: 0x80 }] },
      { _tag: "UnknownCapability", code: 70, value: new Uint8Array(0) }
    ]
  }

  it("decodes and encodes an OPEN with capabilities", () => {
    expect(ok(openBytes)).toEqual(openMessage)
    expect(encodeMessage(openMessage)).toEqual(openBytes)
  })

  it("decodes an OPEN whose capabilities come in separate parameters and in the RFC 9072 extended form", () => {
    const separate = frame(1, "04 fde9 00b4 c0000202 10  02 06 01040001 0001  02 06 41 04 0000fde9")
    expect(ok(separate)).toEqual({
      _tag: "Open",
      myAs: 65001,
      holdTime: 180,
      bgpIdentifier: 0xc0000202,
      capabilities: [{ _tag: "Multiprotocol", afi: 1, safi: 1 }, { _tag: "FourOctetAs", asn: 65001 }]
    })
    const extended = frame(1, "04 fde9 00b4 c0000202 ff ff 000b  02 0008 01040001 0001 0200")
    expect(ok(extended)).toMatchObject({
      capabilities: [{ _tag: "Multiprotocol", afi: 1, safi: 1 }, { _tag: "RouteRefresh" }]
    })
  })

  // UPDATE announcing 2001:db8::10/128 and 2001:db8:1::/48 via MP_REACH_NLRI, next hop 2001:db8::1; ORIGIN IGP,
  // AS_PATH 65001 (4-octet), COMMUNITIES 65001:100.
  const mpBytes = hex(`${MARKER} 005b 02 0000 0044
    80 0e 2d 0002 01 10 20010db8000000000000000000000001 00
      80 20010db8000000000000000000000010
      30 20010db80001
    40 01 01 00
    40 02 06 02 01 0000fde9
    c0 08 04 fde90064`)
  const mpMessage: UpdateMessage = {
    _tag: "Update",
    withdrawn: [],
    attributes: [
      {
        _tag: "MpReachNlri",
        afi: 2,
        safi: 1,
        nextHop: hex("20010db8000000000000000000000001"),
        nlri: [p("2001:db8::10/128"), p("2001:db8:1::/48")]
      },
      { _tag: "Origin", value: 0 },
      { _tag: "AsPath", segments: [{ type: 2, asns: [65001] }] },
      { _tag: "Communities", values: [0xfde90064] }
    ],
    nlri: []
  }

  it("decodes and encodes an UPDATE with MP_REACH_NLRI for IPv6", () => {
    expect(ok(mpBytes)).toEqual(mpMessage)
    expect(encodeMessage(mpMessage, { fourOctetAs: true })).toEqual(mpBytes)
    expect(reachability(mpMessage).announced.map(Prefix.format)).toEqual(["2001:db8::10/128", "2001:db8:1::/48"])
  })

  it("decodes a MetalLB-style IPv4 UPDATE (iBGP: empty AS_PATH, LOCAL_PREF, classic NLRI) with 2-octet AS", () => {
    const bytes = hex(`${MARKER} 0031 02 0000 0015
      40 01 01 00
      40 02 00
      40 03 04 c000020a
      40 05 04 00000064
      20 cb00710a`)
    const expected: UpdateMessage = {
      _tag: "Update",
      withdrawn: [],
      attributes: [
        { _tag: "Origin", value: 0 },
        { _tag: "AsPath", segments: [] },
        { _tag: "NextHop", address: hex("c000020a") },
        { _tag: "LocalPref", value: 100 }
      ],
      nlri: [p("203.0.113.10/32")]
    }
    expect(ok(bytes, { fourOctetAs: false })).toEqual(expected)
    expect(encodeMessage(expected, { fourOctetAs: false })).toEqual(bytes)
  })

  it("decodes and encodes a NOTIFICATION (Cease / Administrative Shutdown with a shutdown communication)", () => {
    const bytes = hex(`${MARKER} 0021 03 06 02 0b 6d61696e74656e616e6365`)
    const message: BgpMessage = { _tag: "Notification", code: 6, subcode: 2, data: shutdownCommunication("maintenance") }
    expect(ok(bytes)).toEqual(message)
    expect(encodeMessage(message)).toEqual(bytes)
  })

  it("decodes and encodes KEEPALIVE and ROUTE-REFRESH", () => {
    expect(encodeMessage({ _tag: "Keepalive" })).toEqual(hex(`${MARKER} 0013 04`))
    expect(ok(hex(`${MARKER} 0013 04`))).toEqual({ _tag: "Keepalive" })
    const refresh = hex(`${MARKER} 0017 05 0002 00 01`)
    expect(ok(refresh)).toEqual({ _tag: "RouteRefresh", afi: 2, subtype: 0, safi: 1 })
    expect(encodeMessage({ _tag: "RouteRefresh", afi: 2, subtype: 0, safi: 1 })).toEqual(refresh)
  })

  it("uses the Extended Length form for attributes over 255 octets, and accepts it on short ones", () => {
    const long: UpdateMessage = {
      _tag: "Update",
      withdrawn: [],
      attributes: [{ _tag: "Communities", values: Array.from({ length: 70 }, (_, i) => i) }],
      nlri: []
    }
    const bytes = encodeMessage(long, { fourOctetAs: true })
    expect(bytes.subarray(23, 27)).toEqual(hex("d0 08 0118"))
    expect(ok(bytes)).toEqual(long)
    const shortExtended = update("", "50 01 0001 02", "")
    expect(ok(shortExtended)).toEqual({ _tag: "Update", withdrawn: [], attributes: [{ _tag: "Origin", value: 2 }], nlri: [] })
  })
})

describe("messages captured from gobgpd 3.10.0 (AS 64512, peer with 4-octet AS)", () => {
  const captured = {
    open: `${MARKER} 0041 01 04 fc00 005a c0000201 24 02 22
      0200 49 04 02766d00 01 04 0001 0001 01 04 0002 0001 41 04 0000fc00 05 06 0001 0001 0002`,
    ipv4: `${MARKER} 003e 02 0000 0022 400101 02 400206 02 01 0000fc00 400304 c0000201 800404 0000000a
      c00804 fde80064 20 cb00710a`,
    ipv6: `${MARKER} 0063 02 0000 004c 400101 02 400206 02 01 0000fc00 c00804 fde80064
      800e26 0002 01 10 20010db8000000000000000000000001 00 80 20010db8ffff00000000000000000010
      c0200c 0000fc00 00000001 00000002`
  }

  it("decodes gobgpd's OPEN, keeping its FQDN and extended next hop capabilities raw, and re-encodes it exactly", () => {
    const bytes = hex(captured.open)
    const open = ok(bytes)
    expect(open).toEqual({
      _tag: "Open",
      myAs: 64512,
      holdTime: 90,
      bgpIdentifier: 0xc0000201,
      capabilities: [
        { _tag: "RouteRefresh" },
        { _tag: "UnknownCapability", code: 73, value: hex("02766d00") },
        { _tag: "Multiprotocol", afi: 1, safi: 1 },
        { _tag: "Multiprotocol", afi: 2, safi: 1 },
        { _tag: "FourOctetAs", asn: 64512 },
        { _tag: "UnknownCapability", code: 5, value: hex("000100010002") }
      ]
    })
    expect(encodeMessage(open)).toEqual(bytes)
  })

  it("decodes gobgpd's IPv4 and IPv6 UPDATEs and re-encodes them exactly", () => {
    const ipv4 = hex(captured.ipv4)
    expect(ok(ipv4)).toEqual({
      _tag: "Update",
      withdrawn: [],
      attributes: [
        { _tag: "Origin", value: 2 },
        { _tag: "AsPath", segments: [{ type: 2, asns: [64512] }] },
        { _tag: "NextHop", address: hex("c0000201") },
        { _tag: "MultiExitDisc", value: 10 },
        { _tag: "Communities", values: [0xfde80064] }
      ],
      nlri: [p("203.0.113.10/32")]
    })
    const ipv6 = hex(captured.ipv6)
    const update = ok(ipv6)
    expect(update).toEqual({
      _tag: "Update",
      withdrawn: [],
      attributes: [
        { _tag: "Origin", value: 2 },
        { _tag: "AsPath", segments: [{ type: 2, asns: [64512] }] },
        { _tag: "Communities", values: [0xfde80064] },
        {
          _tag: "MpReachNlri",
          afi: 2,
          safi: 1,
          nextHop: hex("20010db8000000000000000000000001"),
          nlri: [p("2001:db8:ffff::10/128")]
        },
        { _tag: "LargeCommunities", values: [{ globalAdmin: 64512, localData1: 1, localData2: 2 }] }
      ],
      nlri: []
    })
    expect(encodeMessage(ok(ipv4), { fourOctetAs: true })).toEqual(ipv4)
    expect(encodeMessage(update, { fourOctetAs: true })).toEqual(ipv6)
  })
})

describe("messages captured from FRR 8.4.4 bgpd (AS 64512, session over loopback)", () => {
  it("decodes FRR's OPEN: one capability per parameter, GR with R and N bits, ADD-PATH and LLGR kept raw", () => {
    const bytes = hex(`${MARKER} 007e 01 04 fc00 00b4 c0000201 61
      02 06 01 04 0001 0001
      02 06 01 04 0002 0001
      02 02 80 00
      02 02 02 00
      02 02 46 00
      02 06 41 04 0000fc00
      02 02 06 00
      02 0a 45 08 0001 01 01 0002 01 01
      02 0b 49 09 07 6c62682d727472 00
      02 0c 40 0a c078 0001 01 00 0002 01 00
      02 10 47 0e 0001 01 80 000000 0002 01 80 000000`)
    const open = ok(bytes)
    expect(open).toEqual({
      _tag: "Open",
      myAs: 64512,
      holdTime: 180,
      bgpIdentifier: 0xc0000201,
      capabilities: [
        { _tag: "Multiprotocol", afi: 1, safi: 1 },
        { _tag: "Multiprotocol", afi: 2, safi: 1 },
        { _tag: "UnknownCapability", code: 128, value: new Uint8Array(0) },
        { _tag: "RouteRefresh" },
        { _tag: "UnknownCapability", code: 70, value: new Uint8Array(0) },
        { _tag: "FourOctetAs", asn: 64512 },
        { _tag: "ExtendedMessage" },
        { _tag: "UnknownCapability", code: 69, value: hex("0001 01 01 0002 01 01") },
        { _tag: "UnknownCapability", code: 73, value: hex("07 6c62682d727472 00") },
        {
          _tag: "GracefulRestart",
          flags: 0xc,
          restartTime: 120,
          families: [{ afi: 1, safi: 1, flags: 0 }, { afi: 2, safi: 1, flags: 0 }]
        },
        { _tag: "UnknownCapability", code: 71, value: hex("0001 01 80 000000 0002 01 80 000000") }
      ]
    })
    // We group the capabilities into one parameter, so the bytes differ but the value survives.
    expect(ok(encodeMessage(open))).toEqual(open)
  })

  it("decodes FRR's UPDATEs with Extended Length AS_PATH and MP_REACH, and treats its loopback NEXT_HOP as withdraw", () => {
    const ipv4 = issuesOf(hex(`${MARKER} 0037 02 0000 001c 400101 00 50020006 02 01 0000fc00 400304 7f000001
      800404 00000000 18 cb0071`))
    // FRR and gobgpd both reject 127.0.0.1 as a NEXT_HOP too (gobgpd: "invalid nexthop address").
    expect(ipv4.issues).toEqual([expect.objectContaining({ action: "treat-as-withdraw", subcode: 8, data: hex("400304 7f000001") })])
    expect(ipv4.attributes).toEqual([
      { _tag: "Origin", value: 0 },
      { _tag: "AsPath", segments: [{ type: 2, asns: [64512] }] },
      { _tag: "MultiExitDisc", value: 0 }
    ])
    expect(reachability(ipv4)).toEqual({ announced: [], withdrawn: [p("203.0.113.0/24")] })
    const ipv6 = issuesOf(hex(`${MARKER} 004c 02 0000 0035
      900e001c 0002 01 10 00000000000000000000ffff7f000001 00 30 20010db8ffff
      400101 00 50020006 02 01 0000fc00 800404 00000000`))
    expect(ipv6.issues).toBeUndefined()
    expect(ipv6.attributes[0]).toEqual({
      _tag: "MpReachNlri",
      afi: 2,
      safi: 1,
      nextHop: hex("00000000000000000000ffff7f000001"),
      nlri: [p("2001:db8:ffff::/48")]
    })
  })
})

describe("End-of-RIB", () => {
  // Byte for byte what FRR 8.4.4 sent in the capture above.
  it("is an empty UPDATE for IPv4 unicast and an empty MP_UNREACH_NLRI for IPv6 unicast", () => {
    expect(encodeMessage(endOfRib(1, 1))).toEqual(hex(`${MARKER} 0017 02 0000 0000`))
    expect(encodeMessage(endOfRib(2, 1))).toEqual(hex(`${MARKER} 001d 02 0000 0006 800f03 0002 01`))
    expect(isEndOfRib(issuesOf(hex(`${MARKER} 0017 02 0000 0000`)))).toEqual({ afi: 1, safi: 1 })
    expect(isEndOfRib(issuesOf(hex(`${MARKER} 001d 02 0000 0006 800f03 0002 01`)))).toEqual({ afi: 2, safi: 1 })
  })

  it("recognises markers of families the codec does not parse, and nothing else", () => {
    expect(isEndOfRib(issuesOf(encodeMessage(endOfRib(1, 128))))).toEqual({ afi: 1, safi: 128 })
    expect(isEndOfRib(issuesOf(update("20 c0000201", "", "")))).toBeUndefined()
    expect(isEndOfRib(issuesOf(update("", "800f 0c 0002 01 40 20010db8 00000000", "")))).toBeUndefined()
  })
})

describe("Message Header errors", () => {
  it("maps a bad marker to Connection Not Synchronized", () => {
    const bytes = hex(`${MARKER} 0013 04`)
    bytes[3] = 0
    expect(fails(bytes)).toMatchObject({ code: 1, subcode: 1, data: new Uint8Array(0), action: "session-reset" })
  })

  it("maps bad lengths to Bad Message Length with the length as data", () => {
    expect(fails(hex(`${MARKER} 0012 04`))).toMatchObject({ code: 1, subcode: 2, data: hex("0012") })
    expect(fails(hex(`${MARKER} 0014 04 00`))).toMatchObject({ code: 1, subcode: 2, data: hex("0014") })
    expect(fails(frame(1, "04 fde9 00b4 c0000202"))).toMatchObject({ code: 1, subcode: 2, data: hex("001c") })
    expect(fails(frame(2, "0000"))).toMatchObject({ code: 1, subcode: 2, data: hex("0015") })
    expect(fails(frame(3, "06"))).toMatchObject({ code: 1, subcode: 2, data: hex("0014") })
    expect(fails(hex(`${MARKER} 0014 04`))).toMatchObject({ code: 1, subcode: 2 })
  })

  it("limits messages to 4096 octets unless extended messages are negotiated, OPEN always", () => {
    const big = encodeMessage({ _tag: "Notification", code: 6, subcode: 2, data: new Uint8Array(5000) })
    expect(fails(big)).toMatchObject({ code: 1, subcode: 2, data: hex("139d") })
    expect(ok(big, { fourOctetAs: true, extendedMessages: true })).toMatchObject({ _tag: "Notification" })
    const bigOpen = new Uint8Array(big)
    bigOpen[18] = 1
    expect(fails(bigOpen, { fourOctetAs: true, extendedMessages: true })).toMatchObject({ code: 1, subcode: 2 })
  })

  it("maps an unknown type to Bad Message Type with the type as data", () => {
    expect(fails(frame(9, ""))).toMatchObject({ code: 1, subcode: 3, data: hex("09") })
  })
})

describe("OPEN Message errors", () => {
  it("maps a version other than 4 to Unsupported Version Number with data = 4", () => {
    expect(fails(frame(1, "03 fde9 00b4 c0000202 00"))).toMatchObject({ code: 2, subcode: 1, data: hex("0004") })
  })

  it("maps an optional parameter other than Capabilities to Unsupported Optional Parameter", () => {
    expect(fails(frame(1, "04 fde9 00b4 c0000202 04 01 02 abcd"))).toMatchObject({ code: 2, subcode: 4 })
  })

  it("maps malformed parameters and capabilities to OPEN Message Error / Unspecific", () => {
    expect(fails(frame(1, "04 fde9 00b4 c0000202 05 02 03 010400"))).toMatchObject({ code: 2, subcode: 0 })
    expect(fails(frame(1, "04 fde9 00b4 c0000202 04 02 05 0104"))).toMatchObject({ code: 2, subcode: 0 })
    expect(fails(frame(1, "04 fde9 00b4 c0000202 09 02 07 41 04 0000fde9"))).toMatchObject({ code: 2, subcode: 0 })
    expect(fails(frame(1, "04 fde9 00b4 c0000202 05 02 03 40 01 00"))).toMatchObject({ code: 2, subcode: 0 })
  })
})

describe("UPDATE Message errors (RFC 4271 §6.3 codes, RFC 7606 actions)", () => {
  const origin = "40 01 01 00"
  const asPath = "40 02 06 02 01 0000fde9"
  const nextHop = "40 03 04 c0000201"
  const nlri = "18 c63364"

  it("accepts the baseline UPDATE the cases below damage", () => {
    expect(issuesOf(update("", `${origin} ${asPath} ${nextHop}`, nlri)).issues).toBeUndefined()
  })

  it("resets on a withdrawn-routes or total-attribute length that overruns (Malformed Attribute List)", () => {
    expect(fails(frame(2, "0009 0000"))).toMatchObject({ code: 3, subcode: 1, action: "session-reset" })
    expect(fails(frame(2, "0000 0009 400101"))).toMatchObject({ code: 3, subcode: 1 })
  })

  it("resets on an unrecognized well-known attribute with the attribute as data", () => {
    expect(fails(update("", "40 63 02 abcd", ""))).toMatchObject({ code: 3, subcode: 2, data: hex("40 63 02 abcd") })
  })

  it("treats a missing well-known attribute as withdraw, data = its type code", () => {
    const message = issuesOf(update("", `${asPath} ${nextHop}`, nlri))
    expect(message.issues).toMatchObject([{ action: "treat-as-withdraw", code: 3, subcode: 3, data: hex("01") }])
    expect(reachability(message)).toEqual({ announced: [], withdrawn: [p("198.51.100.0/24")] })
    const noNextHop = issuesOf(update("", `${origin} ${asPath}`, nlri))
    expect(noNextHop.issues).toMatchObject([{ subcode: 3, data: hex("03") }])
  })

  it("does not ask for NEXT_HOP when only MP_REACH_NLRI carries reachability", () => {
    const mp = "80 0e 1a 0002 01 10 20010db8000000000000000000000001 00 20 20010db8"
    expect(issuesOf(update("", `${mp} ${origin} ${asPath}`, "")).issues).toBeUndefined()
    expect(issuesOf(update("", `${mp} ${origin}`, "")).issues).toMatchObject([{ subcode: 3, data: hex("02") }])
  })

  it("treats wrong Optional/Transitive flags as withdraw (Attribute Flags Error, data = attribute)", () => {
    const message = issuesOf(update("", `c0 01 01 00 ${asPath} ${nextHop}`, nlri))
    expect(message.issues).toMatchObject([{ action: "treat-as-withdraw", subcode: 4, data: hex("c0 01 01 00") }])
  })

  it("treats a bad fixed length as withdraw (Attribute Length Error, data = attribute)", () => {
    const message = issuesOf(update("", `${origin} ${asPath} 40 03 05 c000020100`, nlri))
    // One issue only: the attribute was present, so it is not also reported missing.
    expect(message.issues).toEqual([
      expect.objectContaining({ action: "treat-as-withdraw", subcode: 5, data: hex("40 03 05 c000020100") })
    ])
  })

  it("treats an undefined ORIGIN as withdraw (Invalid ORIGIN Attribute)", () => {
    const message = issuesOf(update("", `40 01 01 03 ${asPath} ${nextHop}`, nlri))
    expect(message.issues).toEqual([
      expect.objectContaining({ action: "treat-as-withdraw", code: 3, subcode: 6, data: hex("40 01 01 03") })
    ])
  })

  it("treats a martian NEXT_HOP as withdraw (Invalid NEXT_HOP Attribute)", () => {
    const message = issuesOf(update("", `${origin} ${asPath} 40 03 04 7f000001`, nlri))
    expect(message.issues).toEqual([
      expect.objectContaining({ action: "treat-as-withdraw", subcode: 8, data: hex("40 03 04 7f000001") })
    ])
  })

  it("resets on a malformed MP_REACH_NLRI (Optional Attribute Error): its NLRI cannot be trusted", () => {
    const badNextHop = "80 0e 0a 0002 01 04 c0000201 00 00"
    expect(fails(update("", `${badNextHop} ${origin} ${asPath}`, ""))).toMatchObject({
      code: 3,
      subcode: 9,
      data: hex(badNextHop),
      action: "session-reset"
    })
    const badPrefix = "80 0e 1a 0002 01 10 20010db8000000000000000000000001 00 81 20010db8"
    expect(fails(update("", badPrefix, ""))).toMatchObject({ code: 3, subcode: 9 })
  })

  it("resets on an invalid prefix in NLRI or Withdrawn Routes (Invalid Network Field)", () => {
    expect(fails(update("", `${origin} ${asPath} ${nextHop}`, "21 c0000201 00"))).toMatchObject({ code: 3, subcode: 10 })
    expect(fails(update("18 c000", "", ""))).toMatchObject({ code: 3, subcode: 10, data: new Uint8Array(0) })
  })

  it("treats a malformed AS_PATH as withdraw (Malformed AS_PATH, no data)", () => {
    for (const bad of ["40 02 06 05 01 0000fde9", "40 02 02 02 00", "40 02 06 02 02 0000fde9"]) {
      const message = issuesOf(update("", `${origin} ${bad} ${nextHop}`, nlri))
      expect(message.issues).toEqual([
        expect.objectContaining({ action: "treat-as-withdraw", subcode: 11, data: new Uint8Array(0) })
      ])
    }
  })

  it("discards malformed ATOMIC_AGGREGATE, AGGREGATOR, AS4_PATH and AS4_AGGREGATOR, keeping the UPDATE", () => {
    const cases = ["40 06 01 00", "c0 07 05 0000fde9 00", "c0 11 03 02 01 00", "c0 11 06 03 01 0000fde9", "c0 12 04 0000fde9"]
    for (const bad of cases) {
      const message = issuesOf(update("", `${origin} ${asPath} ${nextHop} ${bad}`, nlri))
      expect(message.issues).toEqual([expect.objectContaining({ action: "attribute-discard" })])
      expect(message.attributes).toHaveLength(3)
      expect(reachability(message).announced).toEqual([p("198.51.100.0/24")])
    }
  })

  it("treats COMMUNITIES and LARGE_COMMUNITY of a bad length as withdraw", () => {
    for (const bad of ["c0 08 00", "c0 08 03 000102", "c0 20 0b 0000000100000002000000"]) {
      const message = issuesOf(update("", `${origin} ${asPath} ${nextHop} ${bad}`, nlri))
      expect(message.issues).toEqual([expect.objectContaining({ action: "treat-as-withdraw", subcode: 5 })])
    }
  })

  it("keeps the first of repeated attributes, but resets on a repeated MP_REACH_NLRI", () => {
    const message = issuesOf(update("", `${origin} 40 01 01 02 ${asPath} ${nextHop}`, nlri))
    expect(message.issues).toEqual([expect.objectContaining({ action: "attribute-discard", subcode: 1 })])
    expect(message.attributes[0]).toEqual({ _tag: "Origin", value: 0 })
    const mp = "80 0e 1a 0002 01 10 20010db8000000000000000000000001 00 20 20010db8"
    expect(fails(update("", `${mp} ${mp}`, ""))).toMatchObject({ code: 3, subcode: 1 })
  })

  it("treats an attribute overrunning the attribute field as withdraw and still reads the NLRI", () => {
    const message = issuesOf(update("", `${origin} ${asPath} 40 03 09 c0000201`, nlri))
    expect(message.issues).toEqual([expect.objectContaining({ action: "treat-as-withdraw", subcode: 5 })])
    expect(message.nlri).toEqual([p("198.51.100.0/24")])
    const stub = issuesOf(update("", `${origin} ${asPath} ${nextHop} 40`, nlri))
    expect(stub.issues).toEqual([expect.objectContaining({ action: "treat-as-withdraw", subcode: 1 })])
  })

  it("keeps unknown optional attributes byte for byte", () => {
    const message = issuesOf(update("", `${origin} ${asPath} ${nextHop} e0 63 03 010203 80 64 00`, nlri))
    expect(message.attributes.slice(3)).toEqual([
      { _tag: "UnknownAttribute", flags: 0xe0, typeCode: 99, value: hex("010203") },
      { _tag: "UnknownAttribute", flags: 0x80, typeCode: 100, value: new Uint8Array(0) }
    ])
  })

  it("reads AS_PATH and AGGREGATOR with 2-octet AS numbers when 4-octet AS is not negotiated", () => {
    const message = issuesOf(update("", `${origin} 40 02 04 02 01 fde9 ${nextHop} c0 07 06 fde9 c0000201`, nlri), {
      fourOctetAs: false
    })
    expect(message.attributes[1]).toEqual({ _tag: "AsPath", segments: [{ type: 2, asns: [65001] }] })
    expect(message.attributes[3]).toEqual({ _tag: "Aggregator", asn: 65001, address: hex("c0000201") })
    // The same bytes read as 4-octet AS are a malformed AS_PATH.
    const wrong = issuesOf(update("", `${origin} 40 02 04 02 01 fde9 ${nextHop}`, nlri), { fourOctetAs: true })
    expect(wrong.issues).toEqual([expect.objectContaining({ subcode: 11 })])
  })

  it("writes AS_TRANS for 4-octet AS numbers on a 2-octet session", () => {
    const bytes = encodeMessage(
      { _tag: "Update", withdrawn: [], attributes: [{ _tag: "AsPath", segments: [{ type: 2, asns: [4200000000] }] }], nlri: [] },
      { fourOctetAs: false }
    )
    expect(bytes.subarray(23)).toEqual(hex("40 02 04 02 01 5ba0"))
  })

  it("turns every recoverable problem into a session reset when revised error handling is off", () => {
    const bytes = update("", `40 01 01 03 ${asPath} ${nextHop}`, nlri)
    expect(fails(bytes, { fourOctetAs: true, revisedErrorHandling: false })).toMatchObject({
      code: 3,
      subcode: 6,
      data: hex("40 01 01 03")
    })
  })
})

describe("ROUTE-REFRESH errors", () => {
  it("maps a wrong length to ROUTE-REFRESH Message Error / Invalid Message Length with the message as data", () => {
    const bytes = frame(5, "0001 00 01 00")
    expect(fails(bytes)).toMatchObject({ code: 7, subcode: 1, data: bytes })
  })
})

describe("errors as NOTIFICATIONs", () => {
  it("names the code, subcode and reason, and converts to the NOTIFICATION to send", () => {
    const error = fails(update("", "40 01 01 03 40 02 00", ""), { fourOctetAs: true, revisedErrorHandling: false })
    expect(error.message).toBe("UPDATE Message Error / Invalid ORIGIN Attribute: ORIGIN 3")
    expect(notificationOf(error)).toEqual({ _tag: "Notification", code: 3, subcode: 6, data: hex("40 01 01 03") })
    expect(describeCode(6, 9)).toBe("Cease / Hard Reset")
    expect(describeCode(2, 0)).toBe("OPEN Message Error / Unspecific")
  })

  it("cuts a shutdown communication at 255 octets on a character boundary", () => {
    const data = shutdownCommunication("é".repeat(200))
    expect(data[0]).toBe(254)
    expect(new TextDecoder("utf-8", { fatal: true }).decode(data.subarray(1))).toBe("é".repeat(127))
  })
})

describe("decode ∘ encode", () => {
  it("is the identity for every generated message and option set", () => {
    fc.assert(
      fc.property(Arb.codecOptions.chain((options) => fc.tuple(fc.constant(options), Arb.message(options))), ([options, message]) => {
        const decoded = decodeMessage(encodeMessage(message, options), options)
        expect(Result.isSuccess(decoded) ? decoded.success : decoded.failure).toEqual(message)
      }),
      { numRuns: 2000 }
    )
  })

  it("encode ∘ decode is the identity on encoded bytes", () => {
    fc.assert(
      fc.property(Arb.encoded, ({ bytes, options }) => {
        const decoded = decodeMessage(bytes, options)
        if (Result.isFailure(decoded)) throw decoded.failure
        expect(encodeMessage(decoded.success, options)).toEqual(bytes)
      }),
      { numRuns: 500 }
    )
  })

  it("decode never throws on mutated messages", () => {
    fc.assert(
      fc.property(Arb.mutated, ({ bytes, options }) => {
        const decoded = decodeMessage(bytes, options)
        expect(Result.isSuccess(decoded) || decoded.failure._tag === "BgpDecodeError").toBe(true)
      }),
      { numRuns: 3000 }
    )
  })
})

