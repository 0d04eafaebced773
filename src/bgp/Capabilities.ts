/**
 * Capabilities advertisement (RFC 5492): the TLVs inside an OPEN's Capabilities optional parameter.
 * Known: Multiprotocol (RFC 4760), Route Refresh (RFC 2918), Extended Message (RFC 8654), Graceful Restart
 * (RFC 4724), 4-octet AS (RFC 6793). Everything else is kept as raw bytes.
 *
 * @since 0.1.0
 */
import { ByteWriter, u16, u32, u8 } from "./Bytes.ts"
import type { Capability, GracefulRestartFamily } from "./Message.ts"
import { CapabilityCode } from "./Message.ts"
import { BgpDecodeError, decodeError, ErrorCode, OpenSubcode } from "./Notification.ts"

const malformed = (reason: string): BgpDecodeError =>
  decodeError(ErrorCode.OpenMessage, OpenSubcode.Unspecific, new Uint8Array(0), reason)

const decodeOne = (code: number, buf: Uint8Array, at: number, length: number): Capability | BgpDecodeError => {
  switch (code) {
    case CapabilityCode.Multiprotocol:
      if (length !== 4) return malformed(`Multiprotocol capability has length ${length}, expected 4`)
      return { _tag: "Multiprotocol", afi: u16(buf, at), safi: u8(buf, at + 3) }
    case CapabilityCode.RouteRefresh:
      if (length !== 0) return malformed(`Route Refresh capability has length ${length}, expected 0`)
      return { _tag: "RouteRefresh" }
    case CapabilityCode.ExtendedMessage:
      if (length !== 0) return malformed(`Extended Message capability has length ${length}, expected 0`)
      return { _tag: "ExtendedMessage" }
    case CapabilityCode.FourOctetAs:
      if (length !== 4) return malformed(`4-octet AS capability has length ${length}, expected 4`)
      return { _tag: "FourOctetAs", asn: u32(buf, at) }
    case CapabilityCode.GracefulRestart: {
      if (length < 2 || (length - 2) % 4 !== 0) {
        return malformed(`Graceful Restart capability has length ${length}, expected 2 + 4n`)
      }
      const header = u16(buf, at)
      const families: Array<GracefulRestartFamily> = []
      for (let p = at + 2; p < at + length; p += 4) {
        families.push({ afi: u16(buf, p), safi: u8(buf, p + 2), flags: u8(buf, p + 3) })
      }
      return { _tag: "GracefulRestart", flags: header >> 12, restartTime: header & 0x0fff, families }
    }
    default:
      return { _tag: "UnknownCapability", code, value: buf.slice(at, at + length) }
  }
}

/** Decodes the capability TLVs in `buf[start, end)` into `out`; returns an error for a malformed one. */
export const decodeCapabilities = (
  buf: Uint8Array,
  start: number,
  end: number,
  out: Array<Capability>
): BgpDecodeError | undefined => {
  let p = start
  while (p < end) {
    if (p + 2 > end) return malformed(`capability header at offset ${p - start} is truncated`)
    const code = u8(buf, p)
    const length = u8(buf, p + 1)
    if (p + 2 + length > end) {
      return malformed(`capability ${code} claims ${length} octets but only ${end - p - 2} remain`)
    }
    const decoded = decodeOne(code, buf, p + 2, length)
    if (decoded instanceof BgpDecodeError) return decoded
    out.push(decoded)
    p += 2 + length
  }
  return undefined
}

/** Writes one capability TLV (code, length, value). */
export const encodeCapability = (w: ByteWriter, capability: Capability): void => {
  switch (capability._tag) {
    case "Multiprotocol":
      w.u8(CapabilityCode.Multiprotocol)
      w.u8(4)
      w.u16(capability.afi)
      w.u8(0)
      w.u8(capability.safi)
      return
    case "RouteRefresh":
      w.u8(CapabilityCode.RouteRefresh)
      w.u8(0)
      return
    case "ExtendedMessage":
      w.u8(CapabilityCode.ExtendedMessage)
      w.u8(0)
      return
    case "FourOctetAs":
      w.u8(CapabilityCode.FourOctetAs)
      w.u8(4)
      w.u32(capability.asn)
      return
    case "GracefulRestart":
      w.u8(CapabilityCode.GracefulRestart)
      w.u8(2 + 4 * capability.families.length)
      w.u16(((capability.flags & 0xf) << 12) | (capability.restartTime & 0x0fff))
      for (const family of capability.families) {
        w.u16(family.afi)
        w.u8(family.safi)
        w.u8(family.flags)
      }
      return
    case "UnknownCapability":
      w.u8(capability.code)
      w.u8(capability.value.length)
      w.bytes(capability.value)
      return
  }
}

/** One capability as TLV bytes, e.g. for the data of an Unsupported Capability NOTIFICATION (RFC 5492 §5). */
export const capabilityBytes = (capability: Capability): Uint8Array => {
  const w = new ByteWriter(16)
  encodeCapability(w, capability)
  return w.finish()
}
