/**
 * Link-layer and IP addresses as the codecs see them: plain bytes (`Uint8Array` of 6, 4 or 16), with text
 * conversions that delegate to the project-wide value types of `src/net` (one parser, one RFC 5952 formatter).
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import * as Ip from "../net/Ip.ts"
import * as NetMac from "../net/Mac.ts"

/** 6 bytes. */
export type Mac = Uint8Array
/** 4 bytes. */
export type Ipv4 = Uint8Array
/** 16 bytes. */
export type Ipv6 = Uint8Array

export const BROADCAST_MAC: Mac = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
export const ZERO_MAC: Mac = new Uint8Array(6)
/** ff02::1, all nodes. */
export const ALL_NODES: Ipv6 = Uint8Array.of(0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)
export const UNSPECIFIED_IPV6: Ipv6 = new Uint8Array(16)

export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export const formatMac = (mac: Mac): string => NetMac.format(mac)

export const parseMac = (text: string): Result.Result<Mac, string> => {
  const mac = NetMac.parse(text)
  return mac === undefined ? Result.fail(`"${text}" is not a MAC address (six hex bytes separated by ':')`) : Result.succeed(mac)
}

export const formatIpv4 = (ip: Ipv4): string => Array.from(ip).join(".")

export const parseIpv4 = (text: string): Result.Result<Ipv4, string> => {
  const ip = Ip.parse(text)
  return ip?.family === 4 ? Result.succeed(Ip.toBytes(ip)) : Result.fail(`"${text}" is not an IPv4 address (four decimal bytes)`)
}

/** RFC 5952 text (the one formatter of the project, in src/net/Ip.ts), straight from the bytes. */
export const formatIpv6 = (ip: Ipv6): string => {
  const groups: Array<number> = []
  for (let i = 0; i < 16; i += 2) groups.push(((ip[i] ?? 0) << 8) | (ip[i + 1] ?? 0))
  return Ip.formatV6Groups(groups)
}

export const parseIpv6 = (text: string): Result.Result<Ipv6, string> => {
  const ip = Ip.parse(text)
  return ip?.family === 6 ? Result.succeed(Ip.toBytes(ip)) : Result.fail(`"${text}" is not an IPv6 address`)
}

/** The solicited-node multicast address ff02::1:ffXX:XXXX of `ip` (RFC 4291 §2.7.1): where its NSs are sent. */
export const solicitedNodeAddress = (ip: Ipv6): Ipv6 =>
  Uint8Array.of(0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, ip[13] ?? 0, ip[14] ?? 0, ip[15] ?? 0)

/** The Ethernet MAC of an IPv6 multicast address: 33:33 and its last 32 bits (RFC 2464 §7). */
export const multicastMac = (group: Ipv6): Mac =>
  Uint8Array.of(0x33, 0x33, group[12] ?? 0, group[13] ?? 0, group[14] ?? 0, group[15] ?? 0)

/** 33:33:ff:XX:XX:XX, the MAC a NIC must accept to hear the NSs for `ip`. */
export const solicitedNodeMac = (ip: Ipv6): Mac => multicastMac(solicitedNodeAddress(ip))

export const isMulticastMac = (mac: Mac): boolean => ((mac[0] ?? 0) & 1) === 1
export const isMulticastIpv6 = (ip: Ipv6): boolean => ip[0] === 0xff
export const isUnspecifiedIpv6 = (ip: Ipv6): boolean => equalBytes(ip, UNSPECIFIED_IPV6)
