import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Address from "../../src/layer2/Address.ts"
import * as Arp from "../../src/layer2/Arp.ts"
import * as Bpf from "../../src/layer2/Bpf.ts"
import * as Ndp from "../../src/layer2/Ndp.ts"
import type { BpfInstruction } from "../../src/native/Native.ts"
import { arp, mac, mutated, ndp, unicastIpv6 } from "./arbitraries.ts"

/**
 * The subset of the kernel's classic BPF interpreter these programs use (absolute byte/half-word loads, JEQ,
 * RET): a load past the end of the frame drops it, as in the kernel. The lab test runs the same programs in the
 * kernel itself.
 */
const run = (program: ReadonlyArray<BpfInstruction>, frame: Uint8Array): number => {
  let a = 0
  for (let pc = 0; pc < program.length; pc++) {
    const { code, jf, jt, k } = program[pc] ?? { code: -1, jt: 0, jf: 0, k: 0 }
    switch (code) {
      case 0x28:
        if (k + 2 > frame.length) return 0
        a = ((frame[k] ?? 0) << 8) | (frame[k + 1] ?? 0)
        break
      case 0x30:
        if (k + 1 > frame.length) return 0
        a = frame[k] ?? 0
        break
      case 0x15:
        pc += a === k ? jt : jf
        break
      case 0x06:
        return k
      default:
        throw new Error(`opcode 0x${code.toString(16)} not interpreted`)
    }
  }
  throw new Error("fell off the end of the program")
}

const arpFrame = fc.tuple(arp, mac).map(([packet, destination]) => Arp.gratuitous(1, destination, packet.targetIp))
const ndpFrame = fc.tuple(ndp, mac, unicastIpv6, unicastIpv6).map(([message, source, from, to]) =>
  Ndp.frame({ destinationMac: Address.multicastMac(to), sourceMac: source, source: from, destination: to, message }))

describe("layer2 Bpf", () => {
  it("ARP filter accepts exactly ethertype 0x0806 with operation 1", () => {
    const input = fc.oneof(arpFrame, mutated(arpFrame), fc.uint8Array({ maxLength: 60 }))
    fc.assert(fc.property(input, (frame) => {
      const expected = frame.length >= 22 && frame[12] === 0x08 && frame[13] === 0x06 && frame[20] === 0 && frame[21] === 1
      assert.strictEqual(run(Bpf.arpRequests, frame) > 0, expected)
    }), { numRuns: 2000 })
    const reply = Arp.gratuitous(Arp.OP_REPLY, new Uint8Array(6), new Uint8Array(4))
    assert.strictEqual(run(Bpf.arpRequests, reply), 0)
  })

  it("NS filter accepts exactly IPv6 / next header 58 / ICMPv6 type 135", () => {
    const input = fc.oneof(ndpFrame, mutated(ndpFrame), mutated(arpFrame))
    fc.assert(fc.property(input, (frame) => {
      const expected = frame.length >= 55 && frame[12] === 0x86 && frame[13] === 0xdd && frame[20] === 58 && frame[54] === 135
      assert.strictEqual(run(Bpf.neighborSolicitations, frame) > 0, expected)
    }), { numRuns: 2000 })
  })
})
