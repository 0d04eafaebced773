/**
 * Bulk announcement into FRR: one node speaker (BgpSpeaker, in test/lab/fixtures/bgp-node.ts) announces N /32s
 * (default 10,000) to a private FRR; then, in the same run and against the same FRR, gobgpd with the same N routes
 * already in its RIB before its session comes up. Each time is from the session's Established (FRR's own log, with
 * microsecond timestamps) to the N-th route in the router namespace's kernel FIB (`ip -ts monitor route`). The two
 * alternate for a few rounds (our speaker a fresh process each time) and the medians are compared, since this
 * machine's load makes single runs vary by a factor of two.
 *
 *   sudo npm run bench -- bgp-bulk [--quick] [--rounds N]      (--quick: 1,000 prefixes, 1 round; default 3 rounds)
 *
 * Prefixes come from 198.18.0.0/15, the range RFC 2544 reserves for benchmarks; everything stays inside the lab's
 * namespaces. Needs root, FRR and GoBGP (reference/lab-harness.md).
 */
import { Effect, Schedule } from "effect"
import { readFileSync } from "node:fs"
import * as Netns from "../src/testing/Netns.ts"
import * as Routers from "../src/testing/Routers.ts"
import { parseStamp, startNode } from "../test/lab/bgpLab.ts"

const quick = process.argv.includes("--quick")
const count = quick ? 1_000 : 10_000

/** The i-th /32 of 198.18.0.0/15, skipping .0 and .255 for readability. */
const address = (i: number): [number, number, number, number] => {
  const host = Math.floor(i / 254) * 256 + (i % 254) + 1
  return [198, 18 + (host >> 16), (host >> 8) & 0xff, host & 0xff]
}
const prefixes = Array.from({ length: count }, (_, i) => `${address(i).join(".")}/32`)

const bgpd = `router bgp 64512
 bgp router-id 192.0.2.1
 bgp log-neighbor-changes
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor NODES peer-group
 neighbor NODES remote-as external
 neighbor NODES timers 3 9
 bgp listen range 192.0.2.0/24 peer-group NODES
 address-family ipv4 unicast
  neighbor NODES activate
  maximum-paths 8
 exit-address-family
!`

/** FRR's log time (epoch s) of the first Established of `neighbor` after `after` (epoch s). */
const established = (frr: Routers.Frr, neighbor: string, after: number) => {
  const pattern = new RegExp(`^(\\S+ \\S+).*ADJCHANGE: neighbor ${neighbor.replaceAll(".", "\\.")}\\S* .*Up`, "gm")
  return Effect.sync(() =>
    [...frr.bgpd.stdout().matchAll(pattern)].map((m) => parseStamp(m[1] ?? "") / 1000).find((t) => t >= after)
  ).pipe(
    Effect.flatMap((t) => (t === undefined ? Effect.fail("not yet") : Effect.succeed(t))),
    Effect.retry(Schedule.spaced("50 millis")),
    Effect.timeoutOrElse({ duration: "30 seconds", orElse: () => Effect.fail(new Netns.LabError({ command: "FRR log", reason: `no Established of ${neighbor}` })) })
  )
}

/** Waits until the monitor has seen every prefix installed (from `nextHop`) and returns the time of the last one. */
const fibComplete = (monitor: Netns.LabProcess, nextHop: string, from: number) =>
  Effect.gen(function*() {
    const wanted = new Set(prefixes.map((p) => p.slice(0, -3)))
    const check = Effect.sync(() => {
      const seen = new Set<string>()
      let last = 0
      const text = monitor.stdout().slice(from)
      for (const line of text.split("\n")) {
        // [2026-11-26T13:50:01.123456] 198.18.0.1 nhid 20 via 192.0.2.11 dev eth0 proto bgp metric 20
        const m = /^\[([^\]]+)\] (\d+\.\d+\.\d+\.\d+) .*via (\S+)/.exec(line)
        if (m === null || m[3] !== nextHop || !wanted.has(m[2] ?? "")) continue
        seen.add(m[2] ?? "")
        last = parseStamp(m[1] ?? "") / 1000
      }
      return seen.size === wanted.size ? last : undefined
    })
    return yield* check.pipe(
      Effect.flatMap((t) => (t === undefined ? Effect.fail("not yet") : Effect.succeed(t))),
      Effect.retry(Schedule.spaced("100 millis")),
      Effect.timeoutOrElse({ duration: "60 seconds", orElse: () => Effect.fail(new Netns.LabError({ command: "FIB", reason: `not all ${count} routes via ${nextHop}` })) })
    )
  })

const fibCount = (lab: Netns.Lab, ns: string) =>
  lab.exec(ns, ["ip", "-4", "route", "show", "proto", "bgp"]).pipe(Effect.map((r) => r.stdout.split("\n").filter((l) => l !== "").length))

const waitFibEmpty = (lab: Netns.Lab, ns: string) =>
  fibCount(lab, ns).pipe(
    Effect.flatMap((n) => (n === 0 ? Effect.void : Effect.fail("not yet"))),
    Effect.retry(Schedule.spaced("100 millis")),
    Effect.timeoutOrElse({ duration: "60 seconds", orElse: () => Effect.fail(new Netns.LabError({ command: "FIB", reason: "not empty" })) })
  )

const rssMB = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
  return m === null ? Number.NaN : Math.round(Number(m[1]) / 102.4) / 10
}

const round = (x: number) => Math.round(x * 1000) / 1000

const median = (xs: ReadonlyArray<number>) => {
  const sorted = xs.toSorted((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

const roundsFlag = process.argv.indexOf("--rounds")
const rounds = roundsFlag >= 0 ? Math.max(1, Number(process.argv[roundsFlag + 1])) : quick ? 1 : 3

const program = Effect.scoped(Effect.gen(function*() {
  const lab = yield* Netns.make()
  const hosts = yield* lab.lan({ rtr: 1, n1: 11, n2: 12 })
  const frr = yield* Routers.startFrr(lab, hosts.rtr.ns, { bgpd, preciseTimestamps: true })
  const monitor = yield* lab.spawn(hosts.rtr.ns, ["ip", "-ts", "-4", "monitor", "route"], { name: "ip-monitor" })

  // gobgpd: its RIB is filled once, before any of its sessions to FRR (over an iBGP session on loopback from a
  // feeder speaker in the same namespace; \`gobgp mrt inject\` loses paths in 3.10).
  const gobgpConf = `[global.config]
  as = 64500
  router-id = "192.0.2.12"
  port = 1790
  local-address-list = ["127.0.0.1"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "127.0.0.2"
    peer-as = 64500
  [neighbors.transport.config]
    passive-mode = true
`
  const gobgp = yield* Routers.startGobgp(lab, hosts.n2.ns, gobgpConf)
  yield* startNode(lab, hosts.n2.ns, {
    nodeName: "feeder",
    peers: [{
      peer: { address: "127.0.0.1", port: 1790, sourceAddress: "127.0.0.2", localAsn: 64500, peerAsn: 64500, routerId: "192.0.2.200" },
      routes: prefixes.map((prefix) => ({ prefix, nextHop: "192.0.2.12" }))
    }]
  })
  yield* gobgp.gobgp("global", "rib", "summary", "-a", "ipv4").pipe(
    Effect.flatMap((text) => (text.includes(`Destination: ${count},`) ? Effect.void : Effect.fail(new Netns.LabError({ command: "gobgp rib summary", reason: text.trim() })))),
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 300 })))
  )

  const ours: Array<number> = []
  const theirs: Array<number> = []
  const written: Array<number> = []
  let updatesSent = Number.NaN
  let speakerRssMB = Number.NaN
  for (let round = 0; round < rounds; round++) {
    // Our speaker, a fresh process each round: the routes are set before the session comes up, as for gobgpd.
    const mark1 = monitor.stdout().length
    const t1 = Date.now() / 1000 - 1
    const node = yield* startNode(lab, hosts.n1.ns, {
      nodeName: "n1",
      peers: [{ peer: { address: "192.0.2.1", localAsn: 64500, peerAsn: 64512, holdTime: 9 }, routes: prefixes.map((prefix) => ({ prefix })) }]
    }, `n1-${round}`)
    const up1 = yield* established(frr, "192.0.2.11", t1)
    const done1 = yield* fibComplete(monitor, "192.0.2.11", mark1)
    ours.push(done1 - up1)
    const stats = yield* frr.json<Record<string, { readonly messageStats?: { readonly updatesRecv?: number } }>>("show bgp neighbors 192.0.2.11")
    updatesSent = stats["192.0.2.11"]?.messageStats?.updatesRecv ?? Number.NaN
    speakerRssMB = rssMB(node.process.pid)
    const timeline = node.process.stdout().split("\n").filter((l) => l.startsWith("{"))
    const sent = Number((timeline.find((l) => new RegExp(`"advertised".*"count":${count}`).test(l)) ?? "").match(/"t":(\d+)/)?.[1]) / 1000
    written.push(sent - up1)
    yield* node.process.stop("SIGTERM")
    yield* waitFibEmpty(lab, hosts.rtr.ns)

    // gobgpd, its RIB already full: add the neighbour, measure, remove it again.
    const mark2 = monitor.stdout().length
    const t2 = Date.now() / 1000 - 1
    yield* gobgp.gobgp("neighbor", "add", "192.0.2.1", "as", "64512")
    const up2 = yield* established(frr, "192.0.2.12", t2)
    const done2 = yield* fibComplete(monitor, "192.0.2.12", mark2)
    theirs.push(done2 - up2)
    yield* gobgp.gobgp("neighbor", "del", "192.0.2.1")
    yield* waitFibEmpty(lab, hosts.rtr.ns)
  }

  const seconds = median(ours)
  const gobgpSeconds = median(theirs)
  console.log(`prefixes            ${count}, ${rounds} round(s), alternating; times from FRR's Established to the last route in its kernel FIB`)
  console.log(`metallb-ts speaker  ${ours.map(round).join(" ")} s (median ${round(seconds)}), ${updatesSent} UPDATEs, RSS ${speakerRssMB} MB`)
  console.log(`  all UPDATEs written ${written.map(round).join(" ")} s after FRR's Established`)
  console.log(`gobgpd              ${theirs.map(round).join(" ")} s (median ${round(gobgpSeconds)})`)
  console.log(JSON.stringify({
    bench: "bgp-bulk",
    prefixes: count,
    seconds: round(seconds),
    gobgpSeconds: round(gobgpSeconds),
    ratioToGobgp: round(seconds / gobgpSeconds),
    updatesSent,
    speakerRssMB
  }))
}))

Effect.runPromise(program).catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
