// src/layer2/PacketSocket.ts on a real veth pair (fixtures/packet-socket-probe.ts runs in the namespace, see
// native.test.ts for why a child process): Stream delivery, malformed frames dropped and counted, one receiver
// at a time.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { fileURLToPath } from "node:url"
import * as Native from "../../src/native/Native.ts"
import * as Netns from "../../src/testing/Netns.ts"
import { labGate } from "./prerequisites.ts"

const probe = fileURLToPath(new URL("fixtures/packet-socket-probe.ts", import.meta.url))
const gate = labGate(["ip"])

describe.skipIf(gate.skip)("layer2 PacketSocket on a veth pair", () => {
  it("has its prerequisites", () => {
    assert.isUndefined(gate.problem, gate.problem)
  })

  it.live("streams decoded frames, drops and counts a malformed one, allows one receiver at a time", () =>
    Effect.scoped(Effect.gen(function*() {
      const lab = yield* Netns.make()
      const ns = yield* lab.addNamespace("ps")
      yield* lab.link({ ns, iface: "veth0" }, { ns, iface: "veth1" })
      const result = yield* lab.exec(ns, [process.execPath, probe, "veth0", "veth1"])
      const out = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "") as {
        operations: Array<number>
        packetTypes: Array<number>
        busy: string
        again: string
        malformed: Array<[string, string]>
        stats: { received: number; malformed: number; overflowed: number; sent: number; sendErrors: number }
        sent: number
      }
      assert.deepStrictEqual(out.operations, [1, 2])
      assert.deepStrictEqual(out.packetTypes, [Native.constants.PACKET_BROADCAST, Native.constants.PACKET_BROADCAST])
      assert.strictEqual(out.busy, "EBUSY")
      assert.strictEqual(out.again, "ok")
      assert.deepStrictEqual(out.malformed, [["hardwareType", "6, only Ethernet (1) is supported"]])
      assert.deepStrictEqual(out.stats, { received: 3, malformed: 1, overflowed: 0, sent: 0, sendErrors: 0 })
      assert.strictEqual(out.sent, 3)
    })))
})
