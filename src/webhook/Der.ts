/**
 * A minimal DER (ASN.1 Distinguished Encoding Rules) encoder: the handful of types an X.509 v3 certificate needs
 * (X.690 §8, §10). Node's `crypto` generates keys, exports SubjectPublicKeyInfo and signs, but cannot build a
 * certificate; these few encoders fill that gap without a dependency. Encoding only: certificates are read back
 * with `crypto.X509Certificate`.
 *
 * @since 0.1.0
 */

export type Der = Uint8Array

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** The definite length octets: short form below 128, else 0x80|n followed by n big-endian octets (X.690 §8.1.3). */
export const encodeLength = (length: number): Uint8Array => {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`invalid DER length ${length}`)
  if (length < 0x80) return Uint8Array.of(length)
  const octets: Array<number> = []
  for (let n = length; n > 0; n = Math.floor(n / 256)) octets.unshift(n % 256)
  return Uint8Array.of(0x80 | octets.length, ...octets)
}

/** One tag-length-value. `tag` is the whole identifier octet (class, constructed bit, number < 31). */
export const tlv = (tag: number, content: Uint8Array): Der => concat([Uint8Array.of(tag), encodeLength(content.length), content])

export const sequence = (...items: ReadonlyArray<Der>): Der => tlv(0x30, concat(items))
export const set = (...items: ReadonlyArray<Der>): Der => tlv(0x31, concat(items))
export const nullValue: Der = Uint8Array.of(0x05, 0x00)
export const boolean = (value: boolean): Der => tlv(0x01, Uint8Array.of(value ? 0xff : 0x00))
export const octetString = (bytes: Uint8Array): Der => tlv(0x04, bytes)
export const utf8String = (text: string): Der => tlv(0x0c, new TextEncoder().encode(text))
/** An IA5String (ASCII): the type of a dNSName. */
export const ia5String = (text: string): Der => tlv(0x16, new TextEncoder().encode(text))

/** A BIT STRING of whole octets (no unused bits), as signatures and keys are. */
export const bitString = (bytes: Uint8Array): Der => tlv(0x03, concat([Uint8Array.of(0), bytes]))

/**
 * A BIT STRING of named bits (KeyUsage): bit 0 is the most significant bit of the first octet; trailing zero bits
 * are dropped and counted as unused (X.690 §11.2.2).
 */
export const namedBits = (bits: ReadonlyArray<number>): Der => {
  if (bits.length === 0) return tlv(0x03, Uint8Array.of(0))
  const highest = Math.max(...bits)
  const octets = new Uint8Array(Math.floor(highest / 8) + 1)
  for (const b of bits) octets[Math.floor(b / 8)] = (octets[Math.floor(b / 8)] ?? 0) | (0x80 >> (b % 8))
  return tlv(0x03, concat([Uint8Array.of(7 - (highest % 8)), octets]))
}

/**
 * An INTEGER from its unsigned big-endian magnitude (serial numbers) or a small non-negative number: leading zero
 * octets removed, one 0x00 added when the top bit is set so that the value stays positive.
 */
export const integer = (value: Uint8Array | number): Der => {
  let bytes: Uint8Array
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`invalid DER integer ${value}`)
    const octets: Array<number> = []
    for (let n = value; n > 0; n = Math.floor(n / 256)) octets.unshift(n % 256)
    bytes = Uint8Array.from(octets)
  } else bytes = value
  let start = 0
  while (start < bytes.length - 1 && bytes[start] === 0) start++
  const trimmed = bytes.length === 0 ? Uint8Array.of(0) : bytes.subarray(start)
  return tlv(0x02, (trimmed[0] ?? 0) & 0x80 ? concat([Uint8Array.of(0), trimmed]) : trimmed)
}

/** An OBJECT IDENTIFIER in dotted form: the first two arcs as 40·a+b, every arc base-128 (X.690 §8.19). */
export const oid = (dotted: string): Der => {
  const arcs = dotted.split(".").map((a) => {
    if (!/^(0|[1-9][0-9]*)$/.test(a)) throw new RangeError(`invalid OID ${dotted}`)
    return BigInt(a)
  })
  const [first, second, ...rest] = arcs
  if (first === undefined || second === undefined || first > 2n || (first < 2n && second > 39n)) {
    throw new RangeError(`invalid OID ${dotted}`)
  }
  const out: Array<number> = []
  for (const arc of [first * 40n + second, ...rest]) {
    const groups: Array<number> = [Number(arc & 0x7fn)]
    for (let n = arc >> 7n; n > 0n; n >>= 7n) groups.unshift(Number(n & 0x7fn) | 0x80)
    out.push(...groups)
  }
  return tlv(0x06, Uint8Array.from(out))
}

const pad = (n: number, width: number): string => String(n).padStart(width, "0")

/**
 * A certificate validity time: UTCTime (YYMMDDHHMMSSZ) for 1950–2049 and GeneralizedTime (YYYYMMDDHHMMSSZ) from
 * 2050 on, as RFC 5280 §4.1.2.5 requires; seconds precision, always UTC.
 */
export const time = (date: Date): Der => {
  const y = date.getUTCFullYear()
  const rest = `${pad(date.getUTCMonth() + 1, 2)}${pad(date.getUTCDate(), 2)}${pad(date.getUTCHours(), 2)}` +
    `${pad(date.getUTCMinutes(), 2)}${pad(date.getUTCSeconds(), 2)}Z`
  if (y >= 1950 && y < 2050) return tlv(0x17, new TextEncoder().encode(`${pad(y % 100, 2)}${rest}`))
  return tlv(0x18, new TextEncoder().encode(`${pad(y, 4)}${rest}`))
}

/** `[n] EXPLICIT`: a constructed context-specific wrapper around one encoded value. */
export const explicit = (n: number, inner: Der): Der => tlv(0xa0 | n, inner)

/** `[n] IMPLICIT` of a primitive type: the context-specific tag replaces the type's own (GeneralName choices). */
export const implicit = (n: number, content: Uint8Array): Der => tlv(0x80 | n, content)

/** PEM armour (RFC 7468): base64 in 64-column lines. */
export const pem = (label: string, der: Uint8Array): string => {
  const b64 = Buffer.from(der).toString("base64")
  const lines = b64.match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`
}
