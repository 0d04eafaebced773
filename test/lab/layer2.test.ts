// Proof that the kernel accepts the frames our codecs build: a client namespace resolves a VIP that only a tiny
// userspace answerer (fixtures/tiny-responder.ts: PacketSocket + codecs, not the real responder) owns, over the
// lab LAN of reference/lab-harness.md §1. Oracles: arping / ndisc6 exit codes, the client's neighbour table
// (`ip -j neigh`) and a tcpdump capture on the client.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { fileURLToPath } from "node:url"
import * as Netns from "../../src/testing/Netns.ts"
import { labGate } from "./prerequisites.ts"

const responder = fileURLToPath(new URL("fixtures/tiny-responder.ts", import.meta.url))
const announce = fileURLToPath(new URL("fixtures/announce.ts", import.meta.url))
const gate = labGate(["ip", "tcpdump", "arping", "ndisc6", "ping"])
const VIP4 = "192.0.2.200"
const OTHER4 = "192.0.2.201"
const VIP6 = "2001:db8:0:1::200"
const OTHER6 = "2001:db8:0:1::201"

/** A LAN with a client and node n1 running the tiny responder; `body` gets both hosts. */
const withLan = <A>(body: (lab: Netns.Lab, hosts: { cli: Netns.Host; n1: Netns.Host; n2: Netns.Host }, answerer: Netns.LabProcess) => Effect.Effect<A, Netns.LabError>) =>
  Effect.scoped(Effect.gen(function*() {
    const lab = yield* Netns.make()
    const hosts = yield* lab.lan({ cli: 100, n1: 11, n2: 12 })
    const answerer = yield* lab.spawn(hosts.n1.ns, [process.execPath, responder, "eth0", VIP4, VIP6], { name: "tiny-responder" })
    yield* answerer.waitFor(/"ready":true/)
    return yield* body(lab, hosts, answerer)
  }))

interface Neighbour {
  readonly dst: string
  readonly lladdr?: string
  readonly state?: ReadonlyArray<string>
}

const neighbour = (host: Netns.Host, ip: string) =>
  Effect.map(
    Netns.nsExec(host.ns, ["ip", "-j", ip.includes(":") ? "-6" : "-4", "neigh", "show", ip, "dev", "eth0"]),
    (r) => (JSON.parse(r.stdout || "[]") as ReadonlyArray<Neighbour>)[0]
  )

/** Request → reply delays in µs from `tcpdump -tt` lines: `isRequest` opens a pair, `isReply` closes it. */
const delays = (lines: ReadonlyArray<string>, isRequest: (l: string) => boolean, isReply: (l: string) => boolean) => {
  const out: Array<number> = []
  let pending: number | undefined
  for (const line of lines) {
    const t = Number(line.split(" ")[0])
    if (isRequest(line)) pending = t
    else if (isReply(line) && pending !== undefined) {
      out.push(Math.round((t - pending) * 1e6))
      pending = undefined
    }
  }
  return out.toSorted((a, b) => a - b)
}

const summary = (us: ReadonlyArray<number>) => {
  const at = (q: number) => us[Math.min(us.length - 1, Math.floor(us.length * q))] ?? NaN
  return { n: us.length, min: at(0), p50: at(0.5), p90: at(0.9), max: at(1) }
}

describe.skipIf(gate.skip)("layer 2 frames built by the codecs, judged by the kernel", () => {
  it("has its prerequisites", () => {
    assert.isUndefined(gate.problem, gate.problem)
  })

  it.live("IPv4: the client resolves the VIP to the node's MAC through our ARP reply; another IP stays unanswered", () =>
    withLan((lab, { cli, n1 }, answerer) =>
      Effect.gen(function*() {
        const capture = yield* lab.capture(cli.ns, "eth0", "arp", "arp")
        const hit = yield* Netns.nsExec(cli.ns, ["arping", "-i", "eth0", "-c", "1", "-w", "1", VIP4], { allowFailure: true })
        assert.strictEqual(hit.code, 0, hit.stdout + hit.stderr)
        assert.include(hit.stdout, n1.mac)
        yield* Netns.nsExec(cli.ns, ["ping", "-c", "1", "-W", "1", VIP4], { allowFailure: true })
        const entry = yield* neighbour(cli, VIP4)
        assert.strictEqual(entry?.lladdr, n1.mac)
        assert.notInclude(["FAILED", "INCOMPLETE"], entry?.state?.[0])
        const miss = yield* Netns.nsExec(cli.ns, ["arping", "-i", "eth0", "-c", "1", "-w", "1", OTHER4], { allowFailure: true })
        assert.strictEqual(miss.code, 1, miss.stdout)
        // Latency sample: 50 requests, on-wire request → reply at the client.
        yield* Netns.nsExec(cli.ns, ["arping", "-i", "eth0", "-c", "50", "-W", "0.01", VIP4], { allowFailure: true })
        yield* Effect.sleep("200 millis")
        yield* capture.stop
        const lines = yield* capture.read()
        assert.isTrue(lines.some((l) => l.includes(`Reply ${VIP4} is-at ${n1.mac}`)), lines.join("\n"))
        assert.isFalse(lines.some((l) => l.includes(`Reply ${OTHER4}`)), lines.join("\n"))
        assert.isTrue(lines.some((l) => l.includes(`Request who-has ${OTHER4}`)))
        const us = delays(lines, (l) => l.includes(`Request who-has ${VIP4}`), (l) => l.includes(`Reply ${VIP4}`))
        console.log(`ARP reply latency on-wire (µs): ${JSON.stringify(summary(us))}`)
        assert.isAtLeast(us.length, 40)
        const stats = yield* answerer.stop().pipe(Effect.andThen(Effect.sync(() => answerer.stdout())))
        assert.include(stats, `"malformed":0`)
      })))

  it.live("IPv6: ndisc6 and the kernel accept our solicited NA; another IP stays unanswered", () =>
    withLan((lab, { cli, n1 }) =>
      Effect.gen(function*() {
        const capture = yield* lab.capture(cli.ns, "eth0", "icmp6 and (ip6[40]==135 or ip6[40]==136)", "ndp")
        const hit = yield* Netns.nsExec(cli.ns, ["ndisc6", "-n", "-r", "1", "-w", "500", VIP6, "eth0"], { allowFailure: true })
        assert.strictEqual(hit.code, 0, hit.stdout + hit.stderr)
        assert.include(hit.stdout.toLowerCase(), n1.mac)
        yield* Netns.nsExec(cli.ns, ["ping", "-6", "-c", "1", "-W", "1", VIP6], { allowFailure: true })
        const entry = yield* neighbour(cli, VIP6)
        assert.strictEqual(entry?.lladdr, n1.mac)
        assert.notInclude(["FAILED", "INCOMPLETE"], entry?.state?.[0])
        const miss = yield* Netns.nsExec(cli.ns, ["ndisc6", "-n", "-r", "1", "-w", "500", OTHER6, "eth0"], { allowFailure: true })
        assert.strictEqual(miss.code, 2, miss.stdout)
        for (let i = 0; i < 30; i++) {
          yield* Netns.nsExec(cli.ns, ["ndisc6", "-n", "-q", "-r", "1", "-w", "200", VIP6, "eth0"], { allowFailure: true })
        }
        yield* Effect.sleep("200 millis")
        yield* capture.stop
        const lines = yield* capture.read("-vv")
        const advertisements = lines.filter((l) => l.includes("neighbor advertisement"))
        assert.isNotEmpty(advertisements, lines.join("\n"))
        for (const na of advertisements) {
          assert.include(na, `tgt is ${VIP6}`)
          assert.include(na, "icmp6 sum ok")
          assert.include(na, "hlim 255")
          assert.include(na, `${VIP6} > `)
        }
        assert.isFalse(lines.some((l) => l.includes(`tgt is ${OTHER6}`) && l.includes("advertisement")))
        const us = delays(
          lines,
          (l) => l.includes(`neighbor solicitation`) && l.includes(`who has ${VIP6}`),
          (l) => l.includes("neighbor advertisement")
        )
        console.log(`NDP advertisement latency on-wire (µs): ${JSON.stringify(summary(us))}`)
        assert.isAtLeast(us.length, 25)
      })))

  it.live("failover: gratuitous ARP and unsolicited NA from another node move the client's existing entries", () =>
    withLan((lab, { cli, n1, n2 }) =>
      Effect.gen(function*() {
        yield* Netns.nsExec(cli.ns, ["ping", "-c", "1", "-W", "1", VIP4], { allowFailure: true })
        yield* Netns.nsExec(cli.ns, ["ping", "-6", "-c", "1", "-W", "1", VIP6], { allowFailure: true })
        assert.strictEqual((yield* neighbour(cli, VIP4))?.lladdr, n1.mac)
        assert.strictEqual((yield* neighbour(cli, VIP6))?.lladdr, n1.mac)
        const capture = yield* lab.capture(cli.ns, "eth0", "arp or (icmp6 and ip6[40]==136)", "announce")
        const sent = yield* Netns.nsExec(n2.ns, [process.execPath, announce, "eth0", VIP4, VIP6])
        assert.include(sent.stdout, `"sent":3`)
        yield* Effect.sleep("200 millis")
        yield* capture.stop
        assert.strictEqual((yield* neighbour(cli, VIP4))?.lladdr, n2.mac)
        assert.strictEqual((yield* neighbour(cli, VIP6))?.lladdr, n2.mac)
        const lines = yield* capture.read("-vv")
        const seen = lines.join("\n")
        assert.include(seen, `${n2.mac} > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Ethernet (len 6), IPv4 (len 4), Request who-has ${VIP4} (ff:ff:ff:ff:ff:ff) tell ${VIP4}`)
        assert.include(seen, `Reply ${VIP4} is-at ${n2.mac}`)
        assert.match(seen, new RegExp(`${n2.mac} > 33:33:00:00:00:01.*hlim 255.*${VIP6} > ff02::1: \\[icmp6 sum ok\\] ICMP6, neighbor advertisement, length 32, tgt is ${VIP6}, Flags \\[override\\]`, "s"))
      })))
})
