/**
 * `metallb-ts/layer2`: layer 2 mode. Pure codecs (Ethernet, ARP, IPv6, NDP) and the services that answer ARP and
 * Neighbor Solicitations for owned IPs over AF_PACKET sockets (the native addon) and ICMPv6 (raw-socket). The
 * services need `CAP_NET_RAW` and real interfaces; the codecs need nothing.
 *
 * @since 0.1.0
 */

/** MACs, IPv4/IPv6 byte addresses and solicited-node helpers used by the codecs. */
export * as Address from "./Address.ts"
/** ARP packets and frames: decode, encode, reply, gratuitous. */
export * as Arp from "./Arp.ts"
/** Ethernet II frames with an optional 802.1Q tag. */
export * as Ethernet from "./Ethernet.ts"
/** IPv6 headers and the ICMPv6 pseudo-header checksum. */
export * as Ipv6 from "./Ipv6.ts"
/** Neighbor Solicitation/Advertisement: decode, encode, solicited and unsolicited advertisements. */
export * as Ndp from "./Ndp.ts"
/** The error every codec returns for a frame it cannot decode, naming the protocol and field. */
export * as MalformedFrame from "./MalformedFrame.ts"
/** The `ArpResponder` service: answers ARP requests for owned IPs. */
export * as ArpResponder from "./ArpResponder.ts"
/** The `NdpResponder` service: answers Neighbor Solicitations and joins solicited-node groups. */
export * as NdpResponder from "./NdpResponder.ts"
/** Gratuitous ARP / unsolicited NA bursts on taking over an IP. */
export * as Announcer from "./Announcer.ts"
/** The `Layer2Speaker` service: owned IPs in, responders and announcements out. */
export * as Layer2Speaker from "./Layer2Speaker.ts"
/** AF_PACKET sockets with a kernel BPF filter, as a scoped Effect resource. */
export * as PacketSocket from "./PacketSocket.ts"
/** Per-interface counters of the responders. */
export * as ResponderStats from "./ResponderStats.ts"
/** Which interfaces exist and are usable for layer 2 answers. */
export * as Interfaces from "./Interfaces.ts"
