// The real `metallb speaker` program, layer 2: node namespaces and a client on one LAN, the in-memory API server in
// the test process (speakerLab.ts). The client resolves the Service IP to the owner's MAC (IPv4 and IPv6); ownership
// moves when the owner's speaker is stopped gracefully (SIGTERM: exit 0 at once), killed (SIGKILL), loses its link,
// becomes NetworkUnavailable, gets the exclude label or is no longer selected; it stays put, losing no packet, while the API server hangs.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { acceptVips } from "../../src/testing/L2Node.ts"
import * as Netns from "../../src/testing/Netns.ts"
import { eventually, notYet } from "./bgpLab.ts"
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

/**
 * The owner `settle` finds, once it has stayed the same for longer than a node takes to (re)join as a candidate
 * (deadAfter + rejoinAfter of the default profile, 2.8 s): speakers that start, or links that come back, can still
 * take an IP over until then.
 */
const stableOwner = <A>(settle: Effect.Effect<A, Netns.LabError>) =>
  Effect.gen(function*() {
    let owner = yield* settle
    for (let i = 0; i < 6; i++) {
      yield* Effect.sleep("3500 millis")
      const again = yield* settle
      if (again === owner) return owner
      owner = again
    }
    return yield* new Netns.LabError({ command: "stable owner", reason: `still moving, last ${String(owner)}` })
  })

/** On failure, the speakers' logs and the statuses: what a CI log needs to explain it. */
const dumpOnFailure = (l: { readonly list: (kind: "ServiceL2Status") => ReadonlyArray<unknown> }, procs: ReadonlyMap<string, Netns.LabProcess>) =>
  Effect.sync(() => {
    for (const [n, p] of procs) console.log(`--- ${n}\n${p.stdout().slice(-6000)}\n${p.stderr().slice(-2000)}`)
    console.log(JSON.stringify(l.list("ServiceL2Status")))
  })

describe.skipIf(gate.skip)("metallb speaker, layer 2, in namespaces", () => {
  it("has its prerequisites", () => {
    assert.isUndefined(gate.problem, gate.problem)
  })

  it.live("the client resolves the IP to the owner; ownership moves on SIGTERM and on SIGKILL", () =>
    Effect.scoped(Effect.gen(function*() {
      const l = yield* SpeakerLab.make(nodes, { cli: 100 })
      const procs = new Map<NodeName, Netns.LabProcess>()
      yield* Effect.gen(function*() {
        for (const n of Object.keys(nodes) as Array<NodeName>) yield* acceptVips(l.hosts[n].ns, [VIP])
        yield* l.upsert(
          SpeakerLab.pool("lan", ["192.0.2.200/29"]),
          { apiVersion: "metallb.io/v1beta1", kind: "L2Advertisement", metadata: { name: "l2", namespace: SpeakerLab.NS }, spec: {} },
          SpeakerLab.service("web", VIP),
          SpeakerLab.endpoints("web", ["n1", "n2", "n3"])
        )
        for (const n of Object.keys(nodes) as Array<NodeName>) procs.set(n, yield* l.startSpeaker(n))
        const byMac = (mac: string | undefined) => (Object.keys(nodes) as Array<NodeName>).find((n) => l.hosts[n].mac === mac)

        const owners = () => JSON.stringify(l.list("ServiceL2Status").map((o) => SpeakerLab.nodeLabel(o)))
        const statusOwner = () => {
          const list = l.list("ServiceL2Status")
          return list.length === 1 ? SpeakerLab.nodeLabel(list[0] ?? {}) as NodeName | undefined : undefined
        }
        const settle = (not?: NodeName) =>
          eventually("one owner, seen by the client", Effect.gen(function*() {
            const owner = statusOwner()
            if (owner === undefined || owner === not) return yield* notYet(`status owners ${owners()}`)
            const mac = yield* arpMac(l.others.cli.ns)
            return byMac(mac) === owner ? owner : yield* notYet(`status owner ${owner}, client resolves to ${byMac(mac) ?? mac ?? "nothing"}`)
          }), "20 seconds")

        const first = yield* stableOwner(settle())
        const ping = yield* Netns.nsExec(l.others.cli.ns, ["ping", "-c", "1", "-W", "1", VIP], { allowFailure: true })
        assert.strictEqual(ping.code, 0, ping.stdout)

        // On the wire: only the owner answers for the Service IP, nobody answers for an unallocated one.
        const UNALLOCATED = "192.0.2.205"
        const capture = yield* l.lab.capture(l.others.cli.ns, "eth0", "arp", "arp-owner")
        yield* arpMac(l.others.cli.ns)
        const silent = yield* Netns.nsExec(l.others.cli.ns, ["arping", "-i", "eth0", "-c", "2", "-w", "2", UNALLOCATED], { allowFailure: true })
        assert.notStrictEqual(silent.code, 0, silent.stdout)
        yield* capture.stop
        const packets = yield* capture.read()
        // Answers to the client's requests are unicast to it (gratuitous replies are broadcast).
        const answers = packets.filter((line) => line.includes(`> ${l.others.cli.mac}`) && /Reply /.test(line))
        assert.isAbove(answers.length, 0, packets.join("\n"))
        for (const answer of answers) assert.include(answer, `Reply ${VIP} is-at ${l.hosts[first].mac}`, packets.join("\n"))
        assert.isFalse(packets.some((line) => line.includes(`Reply ${UNALLOCATED}`)), packets.join("\n"))
        assert.match(procs.get(first)?.stdout() ?? "", /"event":"serviceAnnounced"/)

        // Graceful stop: exit 0 at once; the node hands over with leaving heartbeats, the next in the ranking takes over.
        const started = Date.now()
        const code = yield* procs.get(first)?.stop("SIGTERM") ?? Effect.succeed(-1)
        const took = Date.now() - started
        assert.strictEqual(code, 0)
        assert.isBelow(took, 1500)
        assert.match(procs.get(first)?.stdout() ?? "", /"event":"shutdown"/)
        const second = yield* settle(first)
        assert.notStrictEqual(second, first)

        // Crash: the others stop hearing its heartbeats and the next in the ranking takes over.
        yield* procs.get(second)?.stop("SIGKILL") ?? Effect.void
        const third = yield* settle(second)
        assert.notInclude([first, second], third)
        // MetalLB's log keys, as JSON lines.
        const log = procs.get(third)?.stdout() ?? ""
        for (const event of ["startUpdate", "serviceAnnounced", "endUpdate"]) assert.match(log, new RegExp(`"event":"${event}"`))
        assert.match(log, /"event":"serviceAnnounced"[^\n]*"protocol":"layer2"[^\n]*"ips":"192\.0\.2\.200"/)
      }).pipe(Effect.onError(() => dumpOnFailure(l, procs)))
    })), 120_000)

  it.live("ownership follows link down, NetworkUnavailable, the exclude label and nodeSelectors; IPv6; no loss while the API server hangs 30 s", () =>
    Effect.scoped(Effect.gen(function*() {
      const VIP6 = "2001:db8:0:1::200"
      const l = yield* SpeakerLab.make(nodes, { cli: 100 })
      const procs = new Map<NodeName, Netns.LabProcess>()
      yield* Effect.gen(function*() {
        const names = Object.keys(nodes) as Array<NodeName>
        for (const n of names) yield* acceptVips(l.hosts[n].ns, [VIP, VIP6])
        yield* l.upsert(
          SpeakerLab.pool("lan", ["192.0.2.200/29", "2001:db8:0:1::200/125"]),
          { apiVersion: "metallb.io/v1beta1", kind: "L2Advertisement", metadata: { name: "l2", namespace: SpeakerLab.NS }, spec: {} },
          SpeakerLab.service("web", VIP),
          SpeakerLab.endpoints("web", ["n1", "n2", "n3", "n4"]),
          SpeakerLab.service("web6", VIP6),
          SpeakerLab.endpoints("web6", ["n1", "n2", "n3", "n4"])
        )
        for (const n of names) procs.set(n, yield* l.startSpeaker(n))
        const byMac = (mac: string | undefined) => names.find((n) => l.hosts[n].mac === mac)
        const statuses = (service: string) =>
          l.list("ServiceL2Status").filter((o) => (o["status"] as { serviceName?: string } | undefined)?.serviceName === service)
        const owners = (service: string) => JSON.stringify(statuses(service).map((o) => SpeakerLab.nodeLabel(o)))
        const ownerOf = (service: string) => {
          const list = statuses(service)
          return list.length === 1 ? SpeakerLab.nodeLabel(list[0] ?? {}) as NodeName | undefined : undefined
        }
        const settle = (excluded: ReadonlyArray<NodeName>) =>
          eventually("one owner, seen by the client", Effect.gen(function*() {
            const owner = ownerOf("web")
            if (owner === undefined || excluded.includes(owner)) return yield* notYet(`excluding ${excluded.join(",")}: status owners ${owners("web")}`)
            const mac = yield* arpMac(l.others.cli.ns)
            return byMac(mac) === owner ? owner : yield* notYet(`status owner ${owner}, client resolves to ${byMac(mac) ?? mac ?? "nothing"}`)
          }), "20 seconds")

        // IPv6: the kernel's own neighbour resolution reaches the owner of the v6 Service through our NA.
        const v6 = yield* eventually("IPv6 owner resolved by the client", Effect.gen(function*() {
          const owner = ownerOf("web6")
          if (owner === undefined) return undefined
          const ping = yield* Netns.nsExec(l.others.cli.ns, ["ping", "-6", "-c", "1", "-W", "1", VIP6], { allowFailure: true })
          if (ping.code !== 0) return undefined
          const neigh = yield* Netns.nsExec(l.others.cli.ns, ["ip", "-6", "-j", "neigh", "show", VIP6], { allowFailure: true })
          const entry = (JSON.parse(neigh.stdout || "[]") as ReadonlyArray<{ lladdr?: string }>)[0]
          return byMac(entry?.lladdr?.toLowerCase()) === owner ? owner : undefined
        }), "20 seconds")
        assert.include(names, v6)

        // The owner's announcing interface goes down: another node takes over.
        const a = yield* stableOwner(settle([]))
        yield* Netns.nsExec(l.hosts[a].ns, ["ip", "link", "set", "eth0", "down"])
        const b = yield* stableOwner(settle([a]))
        yield* Netns.nsExec(l.hosts[a].ns, ["ip", "link", "set", "eth0", "up"])

        // NetworkUnavailable on the owner's Node: it is no candidate any more.
        const node = (name: NodeName, labels: Record<string, string>, unavailable: boolean) => ({
          apiVersion: "v1",
          kind: "Node",
          metadata: { name, labels: { "kubernetes.io/hostname": name, ...labels } },
          status: { conditions: [{ type: "NetworkUnavailable", status: unavailable ? "True" : "False", reason: "Test", message: "" }] }
        })
        yield* l.upsert(node(b, {}, true))
        const c = yield* stableOwner(settle([b]))
        // The exclude-from-external-load-balancers label does the same.
        yield* l.upsert(node(c, { "node.kubernetes.io/exclude-from-external-load-balancers": "" }, false))
        const d = yield* stableOwner(settle([b, c]))

        // The API server hangs for 30 s: the owner stays, and the client loses no packet.
        yield* Effect.promise(() => l.server.faults.pause("hang"))
        const ping = yield* Netns.nsExec(l.others.cli.ns, ["ping", "-i", "0.1", "-c", "300", "-W", "1", VIP], { allowFailure: true })
        yield* Effect.promise(() => l.server.faults.resume())
        const counts = /(\d+) packets transmitted, (\d+) received/.exec(ping.stdout)
        assert.isNotNull(counts, ping.stdout)
        assert.strictEqual(counts?.[2], counts?.[1], ping.stdout.split("\n").slice(-3).join(" "))
        assert.strictEqual(byMac(yield* arpMac(l.others.cli.ns)), d)

        // An L2Advertisement nodeSelector that leaves the owner out moves the IP too.
        yield* l.upsert({
          apiVersion: "metallb.io/v1beta1",
          kind: "L2Advertisement",
          metadata: { name: "l2", namespace: SpeakerLab.NS },
          spec: { nodeSelectors: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "NotIn", values: [d] }] }] }
        })
        const e = yield* settle([b, c, d])
        assert.notStrictEqual(e, d)
      }).pipe(Effect.onError(() => dumpOnFailure(l, procs)))
    })), 240_000)
})
