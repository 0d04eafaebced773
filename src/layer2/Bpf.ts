/**
 * Classic BPF programs attached to the responders' AF_PACKET sockets, so the kernel drops everything but the
 * frames they answer before the process is woken.
 *
 * No 802.1Q branch: Linux moves a VLAN tag out of the frame into skb metadata (`skb_vlan_untag`) before any packet
 * socket or its filter sees it, so a tagged request reaches the filter untagged, with the inner ethertype at
 * offset 12 (and `sll_pkttype` PACKET_OTHERHOST when no VLAN device claims it). Testing for 0x8100 in the frame
 * would never match on Linux.
 *
 * @since 0.1.0
 */
import type { BpfInstruction } from "../native/Native.ts"
import { ETHERTYPE_ARP, ETHERTYPE_IPV6 } from "./Ethernet.ts"
import { NEXT_HEADER_ICMPV6 } from "./Ipv6.ts"
import { TYPE_NEIGHBOR_SOLICITATION } from "./Ndp.ts"

// Opcodes of <linux/filter.h>.
const LD_H_ABS = 0x28 // BPF_LD | BPF_H | BPF_ABS: A = 16-bit word at k
const LD_B_ABS = 0x30 // BPF_LD | BPF_B | BPF_ABS: A = byte at k
const JEQ_K = 0x15 // BPF_JMP | BPF_JEQ | BPF_K: pc += (A == k) ? jt : jf
const RET_K = 0x06 // BPF_RET | BPF_K: accept k bytes (0 = drop)
/** Bytes kept of an accepted frame: all of it (tcpdump's default snap length). */
const ACCEPT = 0x40000

const insn = (code: number, k: number, jt = 0, jf = 0): BpfInstruction => ({ code, jt, jf, k })

/**
 * Builds "field₁ = v₁ and … and fieldₙ = vₙ" from (load opcode, offset, value) checks: each failed comparison
 * jumps to the final drop.
 */
const allOf = (checks: ReadonlyArray<readonly [load: number, offset: number, value: number]>) => {
  const program: Array<BpfInstruction> = []
  checks.forEach(([load, offset, value], i) => {
    const remaining = checks.length - 1 - i
    program.push(insn(load, offset))
    // On mismatch skip the remaining load/compare pairs and the accept, landing on the drop.
    program.push(insn(JEQ_K, value, 0, remaining * 2 + 1))
  })
  program.push(insn(RET_K, ACCEPT), insn(RET_K, 0))
  return program
}

/** ARP requests only: ethertype 0x0806 and operation 1. */
export const arpRequests: ReadonlyArray<BpfInstruction> = allOf([
  [LD_H_ABS, 12, ETHERTYPE_ARP],
  [LD_H_ABS, 14 + 6, 1]
])

/** ICMPv6 Neighbor Solicitations only: ethertype 0x86dd, next header 58, ICMPv6 type 135. */
export const neighborSolicitations: ReadonlyArray<BpfInstruction> = allOf([
  [LD_H_ABS, 12, ETHERTYPE_IPV6],
  [LD_B_ABS, 14 + 6, NEXT_HEADER_ICMPV6],
  [LD_B_ABS, 14 + 40, TYPE_NEIGHBOR_SOLICITATION]
])
