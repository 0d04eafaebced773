/**
 * The IPv6 half of layer 2 mode: Neighbor Solicitations for owned IPs are answered with a Neighbor Advertisement
 * (solicited, override, target link-layer address = the interface MAC, hop limit 255, IPv6 source = the target
 * itself so that both the kernel and tools like ndisc6 accept it).
 *
 * Solicitations for a service IP go to its solicited-node multicast group. The responder joins the group of every
 * owned IP on its interface through an ICMPv6 socket (raw-socket, `IPV6_ADD_MEMBERSHIP`): the kernel then sends the
 * MLD report that snooping switches need and programs the NIC's multicast filter. It joins the groups of IPs owned
 * before it started too (MetalLB does not: its issue #2685 family). Solicitations themselves are read from an
 * AF_PACKET socket filtered in the kernel to ICMPv6 type 135, which gives the whole frame (hop limit, MACs).
 * NUD probes (unicast, possibly without a source link-layer option) are answered too, to the frame's source MAC.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Result, Schema, type Scope } from "effect"
import { createRequire } from "node:module"
import * as Address from "./Address.ts"
import type { InterfaceResponder, Ownership } from "./ArpResponder.ts"
import * as Bpf from "./Bpf.ts"
import { ETHERTYPE_IPV6 } from "./Ethernet.ts"
import * as Ndp from "./Ndp.ts"
import { PacketSockets, type PacketSocketError } from "./PacketSocket.ts"
import { ResponderStats } from "./ResponderStats.ts"
import * as Native from "../native/Native.ts"

interface RawSocket {
  setOption(level: number, option: number, value: Buffer, length: number): void
  pauseRecv(): RawSocket
  close(): RawSocket
  on(event: "error", listener: (error: Error) => void): RawSocket
}
interface RawSocketModule {
  createSocket(options: { protocol: number; addressFamily: number }): RawSocket
  AddressFamily: { IPv6: number }
  Protocol: { ICMPv6: number }
}
const raw = createRequire(import.meta.url)("raw-socket") as RawSocketModule

// <netinet/in.h>, <netinet/icmp6.h> (Linux).
const IPPROTO_IPV6 = 41
const IPPROTO_ICMPV6 = 58
const IPV6_ADD_MEMBERSHIP = 20
const IPV6_DROP_MEMBERSHIP = 21
const ICMP6_FILTER = 1

/** Joining or leaving a solicited-node multicast group on `interface` failed. */
export class MembershipError extends Schema.TaggedError<MembershipError>()("MembershipError", {
  interface: Schema.String,
  group: Schema.String,
  message: Schema.String
}) {}

/** `struct ipv6_mreq`: group address, then the interface index in host byte order. */
const mreq = (group: Uint8Array, ifindex: number): Buffer => {
  const b = Buffer.alloc(20)
  b.set(group, 0)
  b.writeUInt32LE(ifindex, 16)
  return b
}

/** An ICMPv6 socket used only to hold multicast memberships; it receives nothing (ICMP6_FILTER blocks all). */
const membershipSocket = (iface: string) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        const socket = raw.createSocket({ protocol: raw.Protocol.ICMPv6, addressFamily: raw.AddressFamily.IPv6 })
        socket.on("error", () => undefined)
        socket.pauseRecv()
        socket.setOption(IPPROTO_ICMPV6, ICMP6_FILTER, Buffer.alloc(32, 0xff), 32)
        return socket
      },
      catch: (e) => new MembershipError({ interface: iface, group: "", message: `cannot open ICMPv6 socket: ${String(e)}` })
    }),
    (socket) => Effect.sync(() => void socket.close())
  )

const groupOf = (ip: string) => {
  const bytes = Address.parseIpv6(ip)
  return Result.isFailure(bytes) ? undefined : Address.solicitedNodeAddress(bytes.success)
}

/** An NDP responder also manages the multicast groups of the IPs it answers for. */
export interface NdpInterfaceResponder extends InterfaceResponder {
  /** Joins the solicited-node group of `ip` (refcounted: IPs can share a group). */
  readonly join: (ip: string) => Effect.Effect<void, MembershipError>
  readonly leave: (ip: string) => Effect.Effect<void, MembershipError>
}

/** Answers Neighbor Solicitations for the IPv6 addresses this node owns (needs CAP_NET_RAW). */
export class NdpResponder extends Context.Service<NdpResponder, {
  readonly start: (
    iface: string,
    ownership: Ownership
  ) => Effect.Effect<NdpInterfaceResponder, PacketSocketError | MembershipError, Scope.Scope>
}>()("metallb/layer2/NdpResponder") {
  /** needs `PacketSockets.layer` and `ResponderStats.layer` */
  static readonly layer: Layer.Layer<NdpResponder, never, PacketSockets | ResponderStats> = Layer.effect(
    NdpResponder,
    Effect.gen(function*() {
      const sockets = yield* PacketSockets
      const stats = yield* ResponderStats
      const start = Effect.fnUntraced(function*(iface: string, ownership: Ownership) {
        const socket = yield* sockets.open({
          interface: iface,
          ethertype: ETHERTYPE_IPV6,
          filter: Bpf.neighborSolicitations,
          decode: Ndp.decodeFrame,
          onMalformed: () => stats.count("malformed", iface)
        })
        const mac = socket.interface.mac
        const ifindex = socket.interface.index
        const membership = yield* membershipSocket(iface)
        const groups = new Map<string, number>()

        yield* socket.receive((frame, packetType) => {
          if (packetType === Native.constants.PACKET_OTHERHOST) return
          if (!Ndp.isSolicitation(frame)) return
          // RFC 4861 §7.1.1: a solicitation that crossed a router is invalid.
          if (frame.ipv6.hopLimit !== Ndp.HOP_LIMIT) return
          const target = Address.formatIpv6(frame.ndp.target)
          if (!ownership.answers(iface, target)) return
          stats.answered({
            protocol: "NDP",
            iface,
            ip: target,
            senderIP: Address.formatIpv6(frame.ipv6.source),
            senderMAC: Address.formatMac(frame.ethernet.source),
            responseMAC: Address.formatMac(mac),
            sent: socket.sendNow(Ndp.solicitedAdvertisement(frame, mac))
          })
        })

        const setMembership = (ip: string, join: boolean) =>
          Effect.suspend(() => {
            const group = groupOf(ip)
            if (group === undefined) return Effect.void
            const key = Address.formatIpv6(group)
            const count = groups.get(key) ?? 0
            const next = join ? count + 1 : Math.max(0, count - 1)
            if (next === 0) groups.delete(key)
            else groups.set(key, next)
            // Only the first join and the last leave touch the kernel.
            if ((join && count > 0) || (!join && next > 0) || (!join && count === 0)) return Effect.void
            return Effect.try({
              try: () =>
                membership.setOption(IPPROTO_IPV6, join ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP, mreq(group, ifindex), 20),
              catch: (e) => new MembershipError({ interface: iface, group: key, message: String(e) })
            })
          })
        const gratuitous = (ip: string) =>
          Effect.gen(function*() {
            const bytes = Address.parseIpv6(ip)
            if (Result.isFailure(bytes)) return 0
            yield* socket.send(Ndp.unsolicitedAdvertisement(mac, bytes.success))
            stats.count("gratuitous", ip, 1)
            return 1
          })
        return {
          interface: iface,
          mac,
          gratuitous,
          join: (ip: string) => setMembership(ip, true),
          leave: (ip: string) => setMembership(ip, false)
        }
      })
      return NdpResponder.of({ start })
    })
  )
}
