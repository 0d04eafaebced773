/**
 * `metallb-ts/net`: IPv4/IPv6 addresses, CIDRs and MACs as plain values with pure arithmetic. No I/O, no services;
 * every other layer builds on these.
 *
 * @since 0.1.0
 */

/** CIDRs and address ranges: parse, format, contain, overlap, summarise a range into CIDRs. */
export * as Cidr from "./Cidr.ts"
/** IP addresses as `{ family, value: bigint }`: parse (MetalLB's rules), format (RFC 5952), compare, add. */
export * as Ip from "./Ip.ts"
/** 6-byte MAC addresses: parse and format. */
export * as Mac from "./Mac.ts"
