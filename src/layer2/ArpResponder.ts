/**
 * The IPv4 half of layer 2 mode: one AF_PACKET socket per selected interface (kernel-filtered to ARP requests)
 * answering "who has IP?" with the interface's MAC — only when this node owns that IP right now and the
 * L2Advertisement allows this interface. It never answers for anything else. Answers are sent synchronously from
 * the receive callback: no fiber hop between a request and its reply.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Result, type Scope } from "effect"
import * as Address from "./Address.ts"
import * as Arp from "./Arp.ts"
import * as Bpf from "./Bpf.ts"
import { ETHERTYPE_ARP } from "./Ethernet.ts"
import { PacketSockets, type PacketSocketError } from "./PacketSocket.ts"
import { ResponderStats } from "./ResponderStats.ts"
import * as Native from "../native/Native.ts"

/** What the responders ask of the layer 2 speaker's current state. */
export interface Ownership {
  /** Does this node answer for `ip` (canonical text) on `iface` right now? */
  readonly answers: (iface: string, ip: string) => boolean
  /** Every IP answered on `iface` now (the table pushed to the native reader). */
  readonly owned: (iface: string) => ReadonlyArray<string>
}

/** A running responder on one interface. */
export interface InterfaceResponder {
  readonly interface: string
  readonly mac: Uint8Array
  /** Sends one gratuitous burst for `ip` on this interface; resolves to the number of frames sent. */
  readonly gratuitous: (ip: string) => Effect.Effect<number, PacketSocketError>
}

/** The ARP responder on one interface. */
export interface ArpInterfaceResponder extends InterfaceResponder {
  /** Re-reads the owned IPs after a change (the native reader answers for them without a hop into JavaScript). */
  readonly refresh: () => void
}

/** Answers ARP requests for the IPs this node owns, one AF_PACKET socket per interface (needs CAP_NET_RAW). */
export class ArpResponder extends Context.Service<ArpResponder, {
  /** Starts answering on `iface` for the life of the scope. */
  readonly start: (iface: string, ownership: Ownership) => Effect.Effect<ArpInterfaceResponder, PacketSocketError, Scope.Scope>
}>()("metallb/layer2/ArpResponder") {
  /** needs `PacketSockets.layer` and `ResponderStats.layer` */
  static readonly layer: Layer.Layer<ArpResponder, never, PacketSockets | ResponderStats> = Layer.effect(
    ArpResponder,
    Effect.gen(function*() {
      const sockets = yield* PacketSockets
      const stats = yield* ResponderStats
      const start = Effect.fnUntraced(function*(iface: string, ownership: Ownership) {
        const socket = yield* sockets.open({
          interface: iface,
          ethertype: ETHERTYPE_ARP,
          filter: Bpf.arpRequests,
          decode: Arp.decodeFrame,
          onMalformed: () => stats.count("malformed", iface)
        })
        const mac = socket.interface.mac
        const answered = Native.constants.PACKET_ANSWERED
        yield* socket.receive((request, flaggedType) => {
          const packetType = flaggedType & ~answered
          // Frames to other hosts (a promiscuous NIC) are not ours to answer.
          if (packetType === Native.constants.PACKET_OTHERHOST) return
          if (request.arp.operation !== Arp.OP_REQUEST) return
          const target = Address.formatIpv4(request.arp.targetIp)
          // A gratuitous request (sender = target) announces, it does not ask.
          if (Address.equalBytes(request.arp.senderIp, request.arp.targetIp)) return
          if (!ownership.answers(iface, target)) return
          stats.answered({
            protocol: "ARP",
            iface,
            ip: target,
            senderIP: Address.formatIpv4(request.arp.senderIp),
            senderMAC: Address.formatMac(request.arp.senderMac),
            responseMAC: Address.formatMac(mac),
            // Answered natively already, by the reader's per-CPU ARP threads (the common case); otherwise
            // (ownership just changed, or a socket without the offload) here.
            sent: (flaggedType & answered) !== 0 ? Result.succeed(0) : socket.sendNow(Arp.reply(request, mac))
          })
        })
        const gratuitous = (ip: string) =>
          Effect.gen(function*() {
            const bytes = Address.parseIpv4(ip)
            if (Result.isFailure(bytes)) return 0
            yield* socket.send(Arp.gratuitous(Arp.OP_REQUEST, mac, bytes.success))
            yield* socket.send(Arp.gratuitous(Arp.OP_REPLY, mac, bytes.success))
            stats.count("gratuitous", ip, 2)
            return 2
          })
        const refresh = () =>
          socket.answerArp(ownership.owned(iface).flatMap((ip) => {
            const bytes = Address.parseIpv4(ip)
            return Result.isSuccess(bytes) ? [bytes.success] : []
          }))
        refresh()
        return { interface: iface, mac, gratuitous, refresh }
      })
      return ArpResponder.of({ start })
    })
  )
}
