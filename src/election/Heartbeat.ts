/**
 * The layer 2 liveness heartbeat (docs/design/l2-liveness.md §1): a small Ethernet frame, local experimental
 * ethertype 0x88B5, sent to a fixed locally administered multicast MAC on every announcing interface.
 *
 * Payload (network byte order):
 *
 *   0  magic "MLBH" (4)   4 version = 1 (1)   5 flags (1)   6 name length N (1)   7 node name (N, UTF-8)
 *   7+N boot id (16)      23+N sequence (4)   27+N HMAC-SHA256 truncated to 16 bytes (only with FLAG_AUTH)
 *
 * The HMAC covers the payload from the magic to the sequence and the sender's MAC, so a frame cannot be replayed
 * from another port. Padding after the payload (Ethernet minimum size) is ignored. Arrival time, never a timestamp
 * in the frame, is what liveness uses.
 *
 * @since 0.1.0
 */
import { createHmac, timingSafeEqual } from "node:crypto"
import { Result } from "effect"
import type { Mac } from "../layer2/Address.ts"
import { copy, put32, u32 } from "../layer2/Bytes.ts"
import * as Ethernet from "../layer2/Ethernet.ts"
import { malformed, type MalformedFrame } from "../layer2/MalformedFrame.ts"

export const ETHERTYPE = 0x88b5
/** 03:4d:4c:42:48:31: multicast (bit 0) and locally administered (bit 1) of "MLBH1". */
export const MULTICAST_MAC: Mac = Uint8Array.of(0x03, 0x4d, 0x4c, 0x42, 0x48, 0x31)
export const MAGIC = 0x4d4c4248
export const VERSION = 1

/** The sender is shutting down: drop it at once. */
export const FLAG_LEAVING = 0x01
/** The sender considers itself a candidate on this interface (it has learnt who is alive and is not isolated). */
export const FLAG_READY = 0x02
/** An HMAC follows the sequence number. */
export const FLAG_AUTH = 0x80

export const BOOT_ID_LENGTH = 16
export const MAC_LENGTH = 16
const FIXED = 7 + BOOT_ID_LENGTH + 4

export interface Heartbeat {
  readonly node: string
  /** Random per process start: a restarted speaker is a new incarnation, whatever its sequence says. */
  readonly bootId: Uint8Array
  readonly sequence: number
  readonly leaving: boolean
  readonly ready: boolean
}

/** A decoded heartbeat, with what authentication needs. */
export interface ReceivedHeartbeat extends Heartbeat {
  readonly source: Mac
  /** The authenticated bytes and the HMAC the frame carries (absent when unauthenticated). */
  readonly signed: Uint8Array
  readonly hmac: Uint8Array | undefined
}

const digest = (key: Uint8Array, signed: Uint8Array, source: Mac): Uint8Array =>
  createHmac("sha256", key).update(signed).update(source).digest().subarray(0, MAC_LENGTH)

/** Why `node` cannot be sent in a heartbeat, or `undefined` when it can (checked once, when liveness starts). */
export const invalidNodeName = (node: string): string | undefined => {
  const length = Buffer.byteLength(node, "utf8")
  return length === 0 || length > 255 ? `node name must be 1–255 bytes of UTF-8, got ${length}` : undefined
}

/**
 * The whole Ethernet frame for `heartbeat` from `source`, signed when `key` is given. The node name must pass
 * {@link invalidNodeName} and the boot id be 16 bytes (the Liveness service checks both at start).
 */
export const encodeFrame = (heartbeat: Heartbeat, source: Mac, key?: Uint8Array): Uint8Array => {
  const name = Buffer.from(heartbeat.node, "utf8").subarray(0, 255)
  const signedLength = FIXED + name.length
  const payload = new Uint8Array(Math.max(46, signedLength + (key === undefined ? 0 : MAC_LENGTH)))
  put32(payload, 0, MAGIC)
  payload[4] = VERSION
  payload[5] = (heartbeat.leaving ? FLAG_LEAVING : 0) | (heartbeat.ready ? FLAG_READY : 0) | (key === undefined ? 0 : FLAG_AUTH)
  payload[6] = name.length
  payload.set(name, 7)
  payload.set(heartbeat.bootId.subarray(0, BOOT_ID_LENGTH), 7 + name.length)
  put32(payload, 7 + name.length + BOOT_ID_LENGTH, heartbeat.sequence >>> 0)
  if (key !== undefined) payload.set(digest(key, payload.subarray(0, signedLength), source), signedLength)
  return Ethernet.encode({ destination: MULTICAST_MAC, source, ethertype: ETHERTYPE, payload })
}

/** Decodes a received frame; says which field is wrong when it is not a heartbeat. */
export const decodeFrame = (bytes: Uint8Array): Result.Result<ReceivedHeartbeat, MalformedFrame> => {
  const frame = Ethernet.decode(bytes)
  if (Result.isFailure(frame)) return Result.fail(frame.failure)
  const { ethertype, payload, source } = frame.success
  if (ethertype !== ETHERTYPE) return Result.fail(malformed("heartbeat", "ethertype", `0x${ethertype.toString(16)}`))
  if (payload.length < FIXED + 1) return Result.fail(malformed("heartbeat", "length", `${payload.length} bytes is too short`))
  if (u32(payload, 0) !== MAGIC) return Result.fail(malformed("heartbeat", "magic", "not MLBH"))
  if (payload[4] !== VERSION) return Result.fail(malformed("heartbeat", "version", `${payload[4]} is not ${VERSION}`))
  const flags = payload[5] ?? 0
  const nameLength = payload[6] ?? 0
  if (nameLength === 0) return Result.fail(malformed("heartbeat", "node", "empty node name"))
  const signedLength = FIXED + nameLength
  const auth = (flags & FLAG_AUTH) !== 0
  if (payload.length < signedLength + (auth ? MAC_LENGTH : 0)) {
    return Result.fail(malformed("heartbeat", "length", `${payload.length} bytes, the fields need ${signedLength + (auth ? MAC_LENGTH : 0)}`))
  }
  let node: string
  try {
    node = new TextDecoder("utf-8", { fatal: true }).decode(payload.subarray(7, 7 + nameLength))
  } catch {
    return Result.fail(malformed("heartbeat", "node", "not UTF-8"))
  }
  return Result.succeed({
    node,
    bootId: copy(payload, 7 + nameLength, 7 + nameLength + BOOT_ID_LENGTH),
    sequence: u32(payload, 7 + nameLength + BOOT_ID_LENGTH),
    leaving: (flags & FLAG_LEAVING) !== 0,
    ready: (flags & FLAG_READY) !== 0,
    source,
    signed: copy(payload, 0, signedLength),
    hmac: auth ? copy(payload, signedLength, signedLength + MAC_LENGTH) : undefined
  })
}

/**
 * Whether a receiver holding `key` accepts `heartbeat`. With a key, only frames carrying the right HMAC count.
 * Without one, every frame counts, signed or not: a receiver cannot check what it has no key for, and refusing
 * signed frames would split the cluster while a new Secret rolls out node by node.
 */
export const authentic = (heartbeat: ReceivedHeartbeat, key: Uint8Array | undefined): boolean => {
  if (key === undefined) return true
  if (heartbeat.hmac === undefined) return false
  return timingSafeEqual(digest(key, heartbeat.signed, heartbeat.source), heartbeat.hmac)
}
