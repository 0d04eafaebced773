/**
 * fast-check arbitraries for every BGP message kind, for property tests here and in code that consumes the
 * codec. Generated values are valid: `decodeMessage(encodeMessage(m, o), o)` gives `m` back for the same options.
 * {@link mutate} damages encoded messages for robustness tests and the fuzz program.
 *
 * @since 0.1.0
 */
import * as fc from "fast-check"
import { encodeMessage } from "./Codec.ts"
import type { CodecOptions } from "./Codec.ts"
import type {
  AsPathSegment,
  BgpMessage,
  Capability,
  KeepaliveMessage,
  LargeCommunity,
  NotificationMessage,
  OpenMessage,
  PathAttribute,
  RouteRefreshMessage,
  UpdateMessage
} from "./Message.ts"
import * as Prefix from "./Prefix.ts"

const u8 = fc.integer({ min: 0, max: 0xff })
const u16 = fc.integer({ min: 0, max: 0xffff })
const u32 = fc.integer({ min: 0, max: 0xffffffff })

export const prefixV4: fc.Arbitrary<Prefix.Prefix> = fc
  .tuple(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 }))
  .map(([bytes, length]) => Prefix.make(4, bytes, length))

export const prefixV6: fc.Arbitrary<Prefix.Prefix> = fc
  .tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 128 }))
  .map(([bytes, length]) => Prefix.make(6, bytes, length))

export const prefix: fc.Arbitrary<Prefix.Prefix> = fc.oneof(prefixV4, prefixV6)

/** A unicast IPv4 address (no 0/8, loopback, multicast or reserved), valid as a NEXT_HOP. */
export const unicastIpv4: fc.Arbitrary<Uint8Array> = fc
  .tuple(fc.integer({ min: 1, max: 223 }).filter((first) => first !== 127), u8, u8, u8)
  .map(([a, b, c, d]) => Uint8Array.of(a, b, c, d))

const knownCapabilityCodes = new Set([1, 2, 6, 64, 65])

export const capability: fc.Arbitrary<Capability> = fc.oneof(
  fc.record({ _tag: fc.constant("Multiprotocol" as const), afi: u16, safi: u8 }),
  fc.constant({ _tag: "RouteRefresh" as const }),
  fc.constant({ _tag: "ExtendedMessage" as const }),
  fc.record({
    _tag: fc.constant("GracefulRestart" as const),
    flags: fc.integer({ min: 0, max: 15 }),
    restartTime: fc.integer({ min: 0, max: 4095 }),
    families: fc.array(fc.record({ afi: u16, safi: u8, flags: u8 }), { maxLength: 4 })
  }),
  fc.record({ _tag: fc.constant("FourOctetAs" as const), asn: u32 }),
  fc.record({
    _tag: fc.constant("UnknownCapability" as const),
    code: u8.filter((code) => !knownCapabilityCodes.has(code)),
    value: fc.uint8Array({ maxLength: 40 })
  })
)

export const open: fc.Arbitrary<OpenMessage> = fc.record({
  _tag: fc.constant("Open" as const),
  myAs: u16,
  holdTime: u16,
  bgpIdentifier: u32,
  capabilities: fc.array(capability, { maxLength: 10 })
})

const segments = (asnSize: 2 | 4, maxType: 2 | 4): fc.Arbitrary<Array<AsPathSegment>> =>
  fc.array(
    fc.record({
      type: fc.integer({ min: 1, max: maxType }),
      asns: fc.array(asnSize === 4 ? u32 : u16, { minLength: 1, maxLength: 12 })
    }),
    { maxLength: 4 }
  )

const largeCommunity: fc.Arbitrary<LargeCommunity> = fc.record({ globalAdmin: u32, localData1: u32, localData2: u32 })

const knownAttributeCodes = new Set([1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 17, 18, 32])

const unknownAttribute: fc.Arbitrary<PathAttribute> = fc.record({
  _tag: fc.constant("UnknownAttribute" as const),
  // Optional always (an unknown well-known attribute is an error); Transitive and Partial free.
  flags: fc.tuple(fc.boolean(), fc.boolean()).map(([t, p]) => 0x80 | (t ? 0x40 : 0) | (p ? 0x20 : 0)),
  typeCode: u8.filter((code) => !knownAttributeCodes.has(code)),
  // Up to 300 octets so the Extended Length form is exercised.
  value: fc.uint8Array({ maxLength: 300 })
})

const mpReach: fc.Arbitrary<PathAttribute> = fc.oneof(
  fc.record({
    _tag: fc.constant("MpReachNlri" as const),
    afi: fc.constant(1 as const),
    safi: fc.constant(1 as const),
    nextHop: fc.oneof(unicastIpv4, fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ minLength: 32, maxLength: 32 })),
    nlri: fc.array(prefixV4, { maxLength: 20 })
  }),
  fc.record({
    _tag: fc.constant("MpReachNlri" as const),
    afi: fc.constant(2 as const),
    safi: fc.constant(1 as const),
    nextHop: fc.oneof(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ minLength: 32, maxLength: 32 })),
    nlri: fc.array(prefixV6, { maxLength: 20 })
  })
)

const mpUnreach: fc.Arbitrary<PathAttribute> = fc.oneof(
  fc.record({
    _tag: fc.constant("MpUnreachNlri" as const),
    afi: fc.constant(1 as const),
    safi: fc.constant(1 as const),
    withdrawn: fc.array(prefixV4, { maxLength: 20 })
  }),
  fc.record({
    _tag: fc.constant("MpUnreachNlri" as const),
    afi: fc.constant(2 as const),
    safi: fc.constant(1 as const),
    withdrawn: fc.array(prefixV6, { maxLength: 20 })
  })
)

/**
 * A well-formed UPDATE for the given options: when it carries reachability it has ORIGIN and AS_PATH (and
 * NEXT_HOP with classic NLRI), each attribute at most once, AS numbers sized to `fourOctetAs`.
 */
export const update = (options: Pick<CodecOptions, "fourOctetAs">): fc.Arbitrary<UpdateMessage> => {
  const asnSize = options.fourOctetAs ? 4 : 2
  const asn = options.fourOctetAs ? u32 : u16
  return fc
    .record({
      withdrawn: fc.array(prefixV4, { maxLength: 20 }),
      nlri: fc.array(prefixV4, { maxLength: 20 }),
      mandatory: fc.boolean(),
      origin: fc.integer({ min: 0, max: 2 }),
      asPath: segments(asnSize, 4),
      nextHop: unicastIpv4,
      optional: fc.record(
        {
          med: u32,
          localPref: u32,
          atomicAggregate: fc.constant(true),
          aggregator: fc.record({ asn, address: fc.uint8Array({ minLength: 4, maxLength: 4 }) }),
          communities: fc.array(u32, { minLength: 1, maxLength: 20 }),
          largeCommunities: fc.array(largeCommunity, { minLength: 1, maxLength: 10 }),
          // AS4_PATH carries no confederation segments (RFC 6793 §3).
          as4Path: segments(4, 2),
          as4Aggregator: fc.record({ asn: u32, address: fc.uint8Array({ minLength: 4, maxLength: 4 }) }),
          mpReach,
          mpUnreach
        },
        { requiredKeys: [] }
      ),
      unknown: fc.uniqueArray(unknownAttribute, {
        maxLength: 3,
        selector: (attribute) => (attribute._tag === "UnknownAttribute" ? attribute.typeCode : -1)
      })
    })
    .map(({ withdrawn, nlri, mandatory, origin, asPath, nextHop, optional, unknown }): UpdateMessage => {
      const attributes: Array<PathAttribute> = []
      if (optional.mpReach !== undefined) attributes.push(optional.mpReach)
      if (optional.mpUnreach !== undefined) attributes.push(optional.mpUnreach)
      const reach = nlri.length > 0 || optional.mpReach !== undefined
      if (reach || mandatory) {
        attributes.push({ _tag: "Origin", value: origin }, { _tag: "AsPath", segments: asPath })
      }
      if (nlri.length > 0 || mandatory) attributes.push({ _tag: "NextHop", address: nextHop })
      if (optional.med !== undefined) attributes.push({ _tag: "MultiExitDisc", value: optional.med })
      if (optional.localPref !== undefined) attributes.push({ _tag: "LocalPref", value: optional.localPref })
      if (optional.atomicAggregate !== undefined) attributes.push({ _tag: "AtomicAggregate" })
      if (optional.aggregator !== undefined) attributes.push({ _tag: "Aggregator", ...optional.aggregator })
      if (optional.communities !== undefined) attributes.push({ _tag: "Communities", values: optional.communities })
      if (optional.largeCommunities !== undefined) {
        attributes.push({ _tag: "LargeCommunities", values: optional.largeCommunities })
      }
      if (optional.as4Path !== undefined) attributes.push({ _tag: "As4Path", segments: optional.as4Path })
      if (optional.as4Aggregator !== undefined) attributes.push({ _tag: "As4Aggregator", ...optional.as4Aggregator })
      attributes.push(...unknown)
      return { _tag: "Update", withdrawn, attributes, nlri }
    })
}

export const notification: fc.Arbitrary<NotificationMessage> = fc.record({
  _tag: fc.constant("Notification" as const),
  code: u8,
  subcode: u8,
  data: fc.uint8Array({ maxLength: 64 })
})

export const keepalive: fc.Arbitrary<KeepaliveMessage> = fc.constant({ _tag: "Keepalive" as const })

export const routeRefresh: fc.Arbitrary<RouteRefreshMessage> = fc.record({
  _tag: fc.constant("RouteRefresh" as const),
  afi: u16,
  subtype: u8,
  safi: u8
})

/** Any message kind, valid for `options`. */
export const message = (options: Pick<CodecOptions, "fourOctetAs">): fc.Arbitrary<BgpMessage> =>
  fc.oneof(open, update(options), notification, keepalive, routeRefresh)

/** Codec options a session could settle on. */
export const codecOptions: fc.Arbitrary<CodecOptions> = fc.record({
  fourOctetAs: fc.boolean(),
  extendedMessages: fc.boolean()
})

/** Encoded valid messages together with the options they were encoded for. */
export const encoded: fc.Arbitrary<{ readonly bytes: Uint8Array; readonly options: CodecOptions }> = codecOptions.chain(
  (options) => message(options).map((m) => ({ bytes: encodeMessage(m, options), options }))
)

/** Encoded valid UPDATEs, the richest kind, with the options they were encoded for. */
export const encodedUpdate: fc.Arbitrary<{ readonly bytes: Uint8Array; readonly options: CodecOptions }> = codecOptions
  .chain((options) => update(options).map((m) => ({ bytes: encodeMessage(m, options), options })))

// ---------------------------------------------------------------------------------------------------------------
// Mutation

/** A small seeded PRNG (mulberry32): uniform numbers in [0, 1). */
export const prng = (seed: number): (() => number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const interesting = [0x00, 0x01, 0x02, 0x03, 0x04, 0x0f, 0x10, 0x20, 0x40, 0x7f, 0x80, 0xc0, 0xe0, 0xfe, 0xff]

/**
 * Damages an encoded message with 1–4 random edits (bit flips, interesting bytes and 16-bit lengths, truncation,
 * insertion, deletion, duplication), mostly in the body. Half the time the header length is then set to the new size, so the damage
 * reaches the body parsers instead of stopping at the length check.
 */
export const mutate = (input: Uint8Array, random: () => number): Uint8Array => {
  let bytes = input.slice()
  const int = (n: number) => Math.floor(random() * n)
  const edits = 1 + int(4)
  for (let e = 0; e < edits; e++) {
    if (bytes.length === 0) bytes = new Uint8Array(1)
    // Mostly past the header: damage there reaches the body parsers, where the interesting errors live.
    const at = bytes.length > 19 && random() < 0.85 ? 19 + int(bytes.length - 19) : int(bytes.length)
    switch (int(8)) {
      case 0:
        bytes[at] = (bytes[at] ?? 0) ^ (1 << int(8))
        break
      case 1:
        bytes[at] = interesting[int(interesting.length)] ?? 0
        break
      case 2:
        bytes[at] = int(256)
        break
      case 3: {
        // A 16-bit field (a length, most likely) set to a boundary value.
        const value = [0, 1, 0xff, 0x100, 0xffff, bytes.length - at, bytes.length - at - 1, bytes.length - at + 1][int(8)] ?? 0
        bytes[at] = (value >> 8) & 0xff
        if (at + 1 < bytes.length) bytes[at + 1] = value & 0xff
        break
      }
      case 4:
        bytes = bytes.slice(0, at)
        break
      case 5: {
        const insert = new Uint8Array(1 + int(8)).map(() => int(256))
        const next = new Uint8Array(bytes.length + insert.length)
        next.set(bytes.subarray(0, at))
        next.set(insert, at)
        next.set(bytes.subarray(at), at + insert.length)
        bytes = next
        break
      }
      case 6: {
        const end = Math.min(bytes.length, at + 1 + int(16))
        const next = new Uint8Array(bytes.length - (end - at))
        next.set(bytes.subarray(0, at))
        next.set(bytes.subarray(end), at)
        bytes = next
        break
      }
      default: {
        const end = Math.min(bytes.length, at + 1 + int(32))
        const slice = bytes.slice(at, end)
        const next = new Uint8Array(bytes.length + slice.length)
        next.set(bytes.subarray(0, end))
        next.set(slice, end)
        next.set(bytes.subarray(end), end + slice.length)
        bytes = next
      }
    }
  }
  if (random() < 0.5 && bytes.length >= 19 && bytes.length <= 0xffff) {
    bytes[16] = bytes.length >> 8
    bytes[17] = bytes.length & 0xff
  }
  return bytes
}

/** Encoded valid messages after {@link mutate}: most are invalid, all must decode without throwing. */
export const mutated: fc.Arbitrary<{ readonly bytes: Uint8Array; readonly options: CodecOptions }> = fc
  .tuple(encoded, fc.integer())
  .map(([{ bytes, options }, seed]) => ({ bytes: mutate(bytes, prng(seed)), options }))
