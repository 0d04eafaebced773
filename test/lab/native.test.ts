// The native addon against a real kernel: a veth pair in a namespace of our own. The socket code runs in a child
// Node process started with `ip netns exec` (fixtures/native-probe.ts): a packet socket lives in the network
// namespace of the process that opens it and Node has no setns(), so this is the only way in.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { fileURLToPath } from "node:url"
import * as Netns from "../../src/testing/Netns.ts"
import { labGate } from "./prerequisites.ts"

const probe = fileURLToPath(new URL("fixtures/native-probe.ts", import.meta.url))

/** A namespace with veth0 <-> veth1, the probe run in it for `scenario`, its JSON answer. */
const runProbe = <A>(scenario: string): Effect.Effect<A, Netns.LabError> =>
  Effect.scoped(Effect.gen(function*() {
    const lab = yield* Netns.make()
    const ns = yield* lab.addNamespace("nat")
    yield* lab.link({ ns, iface: "veth0" }, { ns, iface: "veth1" })
    const result = yield* lab.exec(ns, [process.execPath, probe, scenario, "veth0", "veth1"])
    const last = result.stdout.trim().split("\n").at(-1) ?? ""
    return JSON.parse(last) as A
  }))

const gate = labGate(["ip"])

describe.skipIf(gate.skip)("native addon in a namespace", () => {
  it("has its prerequisites", () => {
    assert.isUndefined(gate.problem, gate.problem)
  })

  it.live("answers ARP for its table inside the reader, flags the frame, and keeps receiving after link down/up", () =>
    Effect.gen(function*() {
      const out = yield* runProbe<{
        phase1: { client: Array<string>; server: Array<{ hex: string; type: number }> }
        phase2: number
        phase3: { client: number; server: number }
        expectedReply: string
        request: string
        answered: number
        broadcast: number
      }>("arpOffload")
      // Exactly one reply, for the owned target, identical to the one the JS responder builds.
      assert.deepStrictEqual(out.phase1.client.filter((h) => h !== out.request && !h.startsWith("ffffffffffff")), [out.expectedReply])
      assert.strictEqual(out.phase1.server.length, 3)
      assert.deepStrictEqual(out.phase1.server.map((f) => f.type), [out.broadcast | out.answered, out.broadcast, out.broadcast])
      // Table emptied: no answer.
      assert.strictEqual(out.phase2, out.phase1.client.length)
      // After the link bounced: delivered and answered again.
      assert.strictEqual(out.phase3.server, 5)
      assert.strictEqual(out.phase3.client, out.phase2 + 1)
    }))

  it.live("answers ARP from threads of the reader while the event loop is blocked, follows the table, joins on stop", () =>
    Effect.gen(function*() {
      interface Snapshot { threads: number; answeredByThreads: number; tasks: number; fds: number }
      const out = yield* runProbe<{
        base: { tasks: number; fds: number }
        started: Snapshot
        owned: { answered: number; replies: number }
        changed: { old: number; added: number; replies: number }
        emptied: Snapshot
        restarted: number
        stopped: Snapshot
        server: Array<number>
        answered: number
        broadcast: number
      }>("arpThread")
      // A table starts one thread per CPU, each with a socket of its own, and one eventfd to stop them.
      assert.isAtLeast(out.started.threads, 1)
      assert.strictEqual(out.started.tasks, out.base.tasks + out.started.threads)
      assert.strictEqual(out.started.fds, out.base.fds + out.started.threads + 1)
      // Answered while the main thread spun, and exactly once on the wire.
      assert.strictEqual(out.owned.answered, 1)
      assert.strictEqual(out.owned.replies, 1)
      // The table moved to another address: the old one is no longer answered, the new one is.
      assert.deepStrictEqual(out.changed, { old: 1, added: 2, replies: 2 })
      // JS saw every request; the answered ones flagged.
      const { answered: A, broadcast: B } = out
      assert.deepStrictEqual(out.server, [B | A, B, B | A])
      // An empty table stops the thread and releases its fds; a new table starts one again; stop joins it.
      assert.deepStrictEqual([out.emptied.threads, out.emptied.tasks, out.emptied.fds], [0, out.base.tasks, out.base.fds])
      assert.strictEqual(out.restarted, out.started.threads)
      assert.deepStrictEqual([out.stopped.threads, out.stopped.tasks, out.stopped.fds], [0, out.base.tasks, out.base.fds])
    }))

  it.live("sends a frame on one end of a veth pair and receives it on the other; a rejecting filter hides it", () =>
    Effect.gen(function*() {
      const out = yield* runProbe<{
        sent: string
        written: number
        plain: Array<{ hex: string; type: number }>
        filtered: Array<unknown>
        PACKET_HOST: number
      }>("roundtrip")
      assert.strictEqual(out.written, out.sent.length / 2)
      assert.deepStrictEqual(out.plain, [{ hex: out.sent, type: out.PACKET_HOST }])
      assert.deepStrictEqual(out.filtered, [])
    }))

  it.live("receives through libuv without blocking the event loop", () =>
    Effect.gen(function*() {
      const out = yield* runProbe<{ ticks: number; maxDelayMs: number; received: number }>("eventloop")
      assert.strictEqual(out.received, 1)
      // 10 ms timer over ~550 ms: a blocked loop would show a handful of ticks and a delay of the whole wait.
      assert.isAtLeast(out.ticks, 40)
      assert.isBelow(out.maxDelayMs, 100)
    }))

  it.live("opens and closes 100 sockets and readers without leaking file descriptors", () =>
    Effect.gen(function*() {
      const out = yield* runProbe<{ before: number; after: number; maxOpen: number; tasksBefore: number; tasksAfter: number }>("fds")
      assert.strictEqual(out.after, out.before)
      assert.strictEqual(out.tasksAfter, out.tasksBefore) // every ARP thread joined
      assert.strictEqual(out.maxOpen, out.before + 1) // the loop really held one socket open at a time
    }))

  it.live("names a missing interface ENODEV", () =>
    Effect.gen(function*() {
      const out = yield* runProbe<{ tag: string; code: string; message: string }>("enodev")
      assert.strictEqual(out.tag, "NativeError")
      assert.strictEqual(out.code, "ENODEV")
      assert.include(out.message, "nope0")
    }))

  it.live("the kernel runs the layer2 BPF programs: ARP requests only, Neighbor Solicitations only", () =>
    Effect.gen(function*() {
      const out = yield* runProbe<{ arp: Array<string>; ns: Array<string> }>("bpf")
      assert.deepStrictEqual(out.arp, ["arpRequest"])
      assert.deepStrictEqual(out.ns, ["neighborSolicitation"])
    }))

  it.live("a VLAN-tagged ARP request reaches the ARP filter with its tag already stripped by the kernel", () =>
    Effect.gen(function*() {
      const out = yield* runProbe<{ untagged: string; received: Array<{ hex: string; type: number }>; PACKET_OTHERHOST: number }>("vlan")
      assert.deepStrictEqual(out.received, [{ hex: out.untagged, type: out.PACKET_OTHERHOST }])
    }))
})
