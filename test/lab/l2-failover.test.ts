// Layer 2 failover in network namespaces: three nodes run src/testing/L2Node.ts (Liveness + L2Election +
// Layer2Speaker) via fixtures/l2-node.ts, a client on the same bridge observes with arping, ping, ndisc6,
// `ip neigh` and tcpdump. VIPs sit on every node's `lo` with arp_ignore=1, so only the elected speaker answers.
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { fileURLToPath } from "node:url"
import * as L2Lab from "../../src/testing/L2Lab.ts"
import type { Spec } from "../../src/testing/L2Node.ts"
import * as Netns from "../../src/testing/Netns.ts"
import { labGate } from "./prerequisites.ts"

const program = fileURLToPath(new URL("fixtures/l2-node.ts", import.meta.url))
const gate = labGate(["ip", "tcpdump", "arping", "ndisc6", "ping"])
const VIP4 = "192.0.2.200"
const VIP6 = "2001:db8:0:1::200"
const SHARED = "192.0.2.201"
const UNALLOCATED = "192.0.2.250"

const baseSpec: Omit<Spec, "nodes"> = {
  interface: "eth0",
  timing: "fast",
  services: [
    { name: "ns/dual", ips: [VIP4, VIP6] },
    { name: "ns/web", ips: [SHARED] },
    { name: "ns/dns", ips: [SHARED] }
  ]
}

const withCluster = <A>(body: (l: L2Lab.L2Lab) => Effect.Effect<A, Netns.LabError>, spec = baseSpec) =>
  Effect.scoped(Effect.gen(function*() {
    const l = yield* L2Lab.make({ program, spec, vips: [VIP4, VIP6, SHARED] })
    for (const n of L2Lab.nodeNames) yield* l.start(n)
    return yield* body(l)
  }))

const neighbour = (host: Netns.Host, ip: string) =>
  Effect.map(
    Netns.nsExec(host.ns, ["ip", "-j", ip.includes(":") ? "-6" : "-4", "neigh", "show", ip, "dev", "eth0"]),
    (r) => (JSON.parse(r.stdout || "[]") as ReadonlyArray<{ lladdr?: string; state?: ReadonlyArray<string> }>)[0]
  )

const timeout = 120_000

describe.skipIf(gate.skip)("layer 2 failover (three nodes, fast profile)", () => {
  it("has its prerequisites", () => {
    assert.isUndefined(gate.problem, gate.problem)
  })

  it.live("one owner answers ARP and NDP for the VIP; non-owners and unallocated IPs get no reply", () =>
    withCluster((l) =>
      Effect.gen(function*() {
        const owner = yield* l.settled(VIP4, { all: true })
        const { cli } = l.hosts
        const capture = yield* l.lab.capture(cli.ns, "eth0", "arp or (icmp6 and (ip6[40]==135 or ip6[40]==136))", "ownership")
        const ping = yield* Netns.nsExec(cli.ns, ["ping", "-c", "1", "-W", "1", VIP4], { allowFailure: true })
        assert.strictEqual(ping.code, 0, ping.stdout)
        assert.strictEqual((yield* neighbour(cli, VIP4))?.lladdr, l.hosts[owner].mac)
        const ping6 = yield* Netns.nsExec(cli.ns, ["ping", "-6", "-c", "1", "-W", "1", VIP6], { allowFailure: true })
        assert.strictEqual(ping6.code, 0, ping6.stdout)
        // Both IPs of a dual-stack service land on one node.
        assert.strictEqual((yield* neighbour(cli, VIP6))?.lladdr, l.hosts[owner].mac)
        const miss = yield* Netns.nsExec(cli.ns, ["arping", "-i", "eth0", "-c", "2", "-w", "1", UNALLOCATED], { allowFailure: true })
        assert.strictEqual(miss.code, 1, miss.stdout)
        yield* Netns.nsExec(cli.ns, ["arping", "-i", "eth0", "-c", "5", "-W", "0.05", VIP4], { allowFailure: true })
        yield* Effect.sleep("300 millis")
        yield* capture.stop
        const lines = yield* capture.read()
        const replies = lines.filter((l) => l.includes(`Reply ${VIP4} is-at`))
        assert.isNotEmpty(replies)
        for (const r of replies) assert.include(r, `is-at ${l.hosts[owner].mac}`)
        assert.isFalse(lines.some((line) => line.includes(`Reply ${UNALLOCATED}`)), lines.join("\n"))
        const nas = lines.filter((line) => line.includes("neighbor advertisement") && line.includes(`tgt is ${VIP6}`))
        assert.isNotEmpty(nas, lines.join("\n"))
        for (const na of nas) assert.include(na, `${l.hosts[owner].mac} >`)
      })), timeout)

  it.live("two services sharing an IP have one owner, and every node agrees on it", () =>
    withCluster((l) =>
      Effect.gen(function*() {
        const owner = yield* l.settled(SHARED, { all: true })
        assert.strictEqual(l.agreedOwner(SHARED), owner)
        const r = yield* Netns.nsExec(l.hosts.cli.ns, ["arping", "-i", "eth0", "-c", "3", "-W", "0.05", SHARED], { allowFailure: true })
        const macs = new Set([...r.stdout.matchAll(/from ([0-9a-f:]{17})/g)].map((m) => m[1]))
        assert.deepStrictEqual([...macs], [l.hosts[owner].mac])
      })), timeout)

  const moves = (name: string, fault: (l: L2Lab.L2Lab, owner: L2Lab.NodeName) => Effect.Effect<void, Netns.LabError>) =>
    it.live(`ownership moves ${name}`, () =>
      withCluster((l) =>
        Effect.gen(function*() {
          const { cli } = l.hosts
          const owner = yield* l.settled(VIP4, { all: true })
          yield* Netns.nsExec(cli.ns, ["ping", "-c", "1", "-W", "1", VIP4])
          yield* Netns.nsExec(cli.ns, ["ping", "-6", "-c", "1", "-W", "1", VIP6])
          yield* fault(l, owner)
          const next = yield* l.settled(VIP4, { timeout: Duration.seconds(10), not: owner })
          assert.notStrictEqual(next, owner)
          // The new owner's gratuitous ARP / unsolicited NA moved the client's existing entries.
          const deadline = Date.now() + 3000
          while (Date.now() < deadline && (yield* neighbour(cli, VIP6))?.lladdr !== l.hosts[next].mac) yield* Effect.sleep("50 millis")
          assert.strictEqual((yield* neighbour(cli, VIP4))?.lladdr, l.hosts[next].mac)
          assert.strictEqual((yield* neighbour(cli, VIP6))?.lladdr, l.hosts[next].mac)
          const ping = yield* Netns.nsExec(cli.ns, ["ping", "-c", "1", "-W", "1", VIP4], { allowFailure: true })
          assert.strictEqual(ping.code, 0)
        })), timeout)

  moves("when the owner's speaker is killed (SIGKILL)", (l, owner) => l.stop(owner, "SIGKILL"))
  moves("on a graceful stop (SIGTERM: leaving frames, the next owner bursts)", (l, owner) =>
    Effect.gen(function*() {
      const capture = yield* l.lab.capture(l.hosts.cli.ns, "eth0", "ether proto 0x88b5", "leaving")
      yield* l.stop(owner, "SIGTERM")
      // The program exits after its leaving frames: its peers have dropped it already, long before deadAfter.
      yield* Effect.sleep("20 millis")
      const next = l.agreedOwner(VIP4)
      assert.isString(next)
      assert.notStrictEqual(next, owner)
      yield* Effect.sleep("100 millis")
      yield* capture.stop
      // Heartbeat flags byte (Ethernet 14 + magic 4 + version 1): the last frames from the owner say `leaving`.
      const frames = yield* capture.read("-x", "ether", "src", l.hosts[owner].mac)
      const flags = frames.filter((line) => /^\s+0x0000:/.test(line)).map((line) => line.split(/\s+/)[4]?.slice(2, 4))
      assert.deepStrictEqual(flags.slice(-3), ["01", "01", "01"], frames.join("\n"))
    }))
  moves("when the owner's interface goes down (and it rejoins when the link is back)", (l, owner) =>
    Effect.gen(function*() {
      yield* Netns.nsExec(l.hosts[owner].ns, ["ip", "link", "set", "eth0", "down"])
      yield* l.settled(VIP4, { timeout: Duration.seconds(10), not: owner })
      yield* Netns.nsExec(l.hosts[owner].ns, ["ip", "link", "set", "eth0", "up"])
      yield* l.settled(VIP4, { all: true, timeout: Duration.seconds(10) }).pipe(
        Effect.tapError(() => Effect.sync(() => console.log(l.process(owner)?.stdout(), l.process(owner)?.stderr())))
      )
      yield* Netns.nsExec(l.hosts[owner].ns, ["ip", "link", "set", "eth0", "down"])
    }))
  moves("when the spec removes the owner (NetworkUnavailable / exclude label / selectors)", (l, owner) =>
    l.updateSpec((s) => ({ ...s, nodes: s.nodes.filter((n) => n !== owner) })))
  moves("when the owner hears no peers (receive path broken: a heartbeat key on it alone, so it drops its peers' unsigned frames while they still hear it)", (l, owner) =>
    Effect.gen(function*() {
      yield* l.updateSpec((s) => ({ ...s, keys: { [owner]: "not-the-shared-key" } }))
      // Isolation after 2 × deadAfter: it says it is not ready, its peers stop counting it, it stops answering.
      yield* Effect.sleep("1 second")
      assert.match(l.process(owner)?.stdout() ?? "", /"isolated":true/)
    }))

  it.live("with the API server unreachable (directory stale) nothing changes, and a crash still fails over", () =>
    withCluster((l) =>
      Effect.gen(function*() {
        const { cli } = l.hosts
        const owner = yield* l.settled(VIP4, { all: true })
        yield* l.updateSpec((s) => ({ ...s, apiFresh: false }))
        const quiet = yield* Netns.nsExec(cli.ns, ["ping", "-q", "-i", "0.01", "-w", "2", VIP4], { allowFailure: true })
        assert.match(quiet.stdout, / 0% packet loss/)
        assert.strictEqual(l.agreedOwner(VIP4), owner)
        yield* l.stop(owner, "SIGKILL")
        const next = yield* l.settled(VIP4, { timeout: Duration.seconds(10), not: owner })
        assert.notStrictEqual(next, owner)
      })), timeout)
})
