// The real `metallb speaker` program, layer 2: three node namespaces and a client on one LAN, the in-memory API
// server in the test process (speakerLab.ts). The client resolves the Service IP to the owner's MAC; ownership
// moves when the owner's speaker is stopped gracefully (SIGTERM: exit 0 at once) and when it is killed (SIGKILL).
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { acceptVips } from "../../src/testing/L2Node.ts"
import * as Netns from "../../src/testing/Netns.ts"
import { eventually } from "./bgpLab.ts"
import { labGate } from "./prerequisites.ts"
import * as SpeakerLab from "./speakerLab.ts"

const gate = labGate(["ip", "arping"])
const VIP = "192.0.2.200"
// Four nodes: after a graceful stop and a crash two remain and hear each other. (A lone survivor that hears nobody
// while the crashed node's Lease is still fresh counts itself isolated until that Lease expires, by design.)
const nodes = { n1: 11, n2: 12, n3: 13, n4: 14 } as const
type NodeName = keyof typeof nodes

const arpMac = (ns: string) =>
  Netns.nsExec(ns, ["arping", "-i", "eth0", "-c", "1", "-w", "1", VIP], { allowFailure: true }).pipe(
    Effect.map((r) => /from ([0-9a-f:]{17})/i.exec(r.stdout)?.[1]?.toLowerCase())
  )

describe.skipIf(gate.skip)("metallb speaker, layer 2, in namespaces", () => {
  it("has its prerequisites", () => {
    assert.isUndefined(gate.problem, gate.problem)
  })

  it.live("the client resolves the IP to the owner; ownership moves on SIGTERM and on SIGKILL", () =>
    Effect.scoped(Effect.gen(function*() {
      const l = yield* SpeakerLab.make(nodes, { cli: 100 })
      for (const n of Object.keys(nodes) as Array<NodeName>) yield* acceptVips(l.hosts[n].ns, [VIP])
      yield* l.upsert(
        SpeakerLab.pool("lan", ["192.0.2.200/29"]),
        { apiVersion: "metallb.io/v1beta1", kind: "L2Advertisement", metadata: { name: "l2", namespace: SpeakerLab.NS }, spec: {} },
        SpeakerLab.service("web", VIP),
        SpeakerLab.endpoints("web", ["n1", "n2", "n3"])
      )
      const procs = new Map<NodeName, Netns.LabProcess>()
      for (const n of Object.keys(nodes) as Array<NodeName>) procs.set(n, yield* l.startSpeaker(n))
      const byMac = (mac: string | undefined) => (Object.keys(nodes) as Array<NodeName>).find((n) => l.hosts[n].mac === mac)

      const statusOwner = () => {
        const list = l.list("ServiceL2Status")
        return list.length === 1 ? SpeakerLab.nodeLabel(list[0] ?? {}) as NodeName | undefined : undefined
      }
      const settle = (not?: NodeName) =>
        eventually("one owner, seen by the client", Effect.gen(function*() {
          const owner = statusOwner()
          if (owner === undefined || owner === not) return undefined
          const mac = yield* arpMac(l.others.cli.ns)
          return byMac(mac) === owner ? owner : undefined
        }), "20 seconds")

      const dump = Effect.sync(() => {
        for (const [n, p] of procs) console.log(`--- ${n}\n${p.stdout().slice(-4000)}\n${p.stderr().slice(-2000)}`)
        console.log(JSON.stringify(l.list("ServiceL2Status")))
      })
      const first = yield* settle().pipe(Effect.tapError(() => dump))
      const ping = yield* Netns.nsExec(l.others.cli.ns, ["ping", "-c", "1", "-W", "1", VIP], { allowFailure: true })
      assert.strictEqual(ping.code, 0, ping.stdout)
      assert.match(procs.get(first)?.stdout() ?? "", /"event":"serviceAnnounced"/)

      // Graceful stop: exit 0 at once; the node hands over with leaving heartbeats, the next in the ranking takes over.
      const started = Date.now()
      const code = yield* procs.get(first)?.stop("SIGTERM") ?? Effect.succeed(-1)
      const took = Date.now() - started
      assert.strictEqual(code, 0)
      assert.isBelow(took, 1500)
      assert.match(procs.get(first)?.stdout() ?? "", /"event":"shutdown"/)
      const second = yield* settle(first).pipe(Effect.tapError(() => dump))
      assert.notStrictEqual(second, first)

      // Crash: the others stop hearing its heartbeats and the next in the ranking takes over.
      yield* procs.get(second)?.stop("SIGKILL") ?? Effect.void
      const third = yield* settle(second).pipe(Effect.tapError(() => dump))
      assert.notInclude([first, second], third)
      // MetalLB's log keys, as JSON lines.
      const log = procs.get(third)?.stdout() ?? ""
      for (const event of ["startUpdate", "serviceAnnounced", "endUpdate"]) assert.match(log, new RegExp(`"event":"${event}"`))
      assert.match(log, /"event":"serviceAnnounced"[^\n]*"protocol":"layer2"[^\n]*"ips":"192\.0\.2\.200"/)
    })), 120_000)
})
