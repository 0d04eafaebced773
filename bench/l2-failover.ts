// `npm run bench -- l2-failover [--quick]`: client-side outage when the owner of a layer 2 VIP fails, for our
// speaker stand-in (src/testing/L2Node.ts: Liveness + L2Election + Layer2Speaker) and for keepalived (VRRPv3) in
// the same topology: three nodes and a client on one bridge in network namespaces (src/testing/L2Lab.ts).
//
// The client pings the VIP every 9 ms (`ping -D -i 0.009`: iputils rounds `-i 0.01` to 16 ms); the outage of a
// trial is the largest gap between two replies. Faults: node crash (SIGKILL of the owner's program and its bridge
// port down), speaker crash alone (SIGKILL), the owner's interface down, graceful stop (SIGTERM), and a 30 s
// "API server stop" (here: the SpeakerDirectory goes stale for 30 s; lost pings are counted).
// Needs root, iproute2, iputils ping, arping, keepalived.
import { Duration, Effect } from "effect"
import { fileURLToPath } from "node:url"
import { rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as L2Lab from "../src/testing/L2Lab.ts"
import * as Netns from "../src/testing/Netns.ts"

const quick = process.argv.includes("--quick")
// `--only ours` / `--only keepalived` for development: the other half reports no figures.
const only = process.argv[process.argv.indexOf("--only") + 1]
const trials = quick ? 3 : 20
const apiDownSeconds = quick ? 5 : 30
const program = fileURLToPath(new URL("../test/lab/fixtures/l2-node.ts", import.meta.url))
const VIP = "192.0.2.200"
const KEEPALIVED_VIP = "192.0.2.210"

const log = (line: string) => process.stderr.write(`${line}\n`)

const percentile = (xs: ReadonlyArray<number>, q: number) => {
  const s = xs.toSorted((a, b) => a - b)
  return s.length === 0 ? NaN : (s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN)
}
const summary = (xs: ReadonlyArray<number>) => ({
  n: xs.length,
  p50: Math.round(percentile(xs, 0.5)),
  p99: Math.round(percentile(xs, 0.99)),
  min: Math.round(Math.min(...xs)),
  max: Math.round(Math.max(...xs))
})

/** Pings `ip` from the client while `during` runs; returns the ping statistics. */
const pinging = <E>(lab: Netns.Lab, cli: Netns.Host, ip: string, during: Effect.Effect<void, E>) =>
  Effect.gen(function*() {
    const ping = yield* lab.spawn(cli.ns, ["ping", "-D", "-n", "-i", "0.009", ip], { name: "ping" })
    yield* Effect.sleep("300 millis")
    yield* during
    yield* Effect.sleep("300 millis")
    yield* ping.stop("SIGINT")
    return L2Lab.pingGaps(ping.stdout())
  })

type Fault = "crash" | "speakerCrash" | "linkDown" | "graceful"

const restoreNode = (l: L2Lab.L2Lab, node: L2Lab.NodeName, fault: Fault) =>
  Effect.gen(function*() {
    const h = l.hosts[node]
    if (fault === "crash") yield* Netns.nsExec(l.lab.ns("sw"), ["ip", "link", "set", "dev", node, "up"])
    if (fault === "linkDown") {
      yield* Netns.nsExec(h.ns, ["ip", "link", "set", "eth0", "up"])
      // IPv6 addresses go with the link; the node's own address comes back as the harness made it.
      yield* Netns.nsExec(h.ns, ["ip", "-6", "addr", "add", `${h.ipv6}/64`, "dev", "eth0", "nodad"], { allowFailure: true })
    } else {
      yield* l.start(node)
    }
  })

const inject = (l: L2Lab.L2Lab, node: L2Lab.NodeName, fault: Fault) =>
  Effect.gen(function*() {
    switch (fault) {
      case "crash":
        yield* Netns.nsExec(l.lab.ns("sw"), ["ip", "link", "set", "dev", node, "down"])
        yield* l.stop(node, "SIGKILL")
        return
      case "speakerCrash":
        return yield* l.stop(node, "SIGKILL")
      case "linkDown":
        return yield* Effect.asVoid(Netns.nsExec(l.hosts[node].ns, ["ip", "link", "set", "eth0", "down"]))
      case "graceful":
        return yield* l.stop(node, "SIGTERM")
    }
  })

const ours = (timing: "default" | "fast") =>
  Effect.scoped(Effect.gen(function*() {
    const l = yield* L2Lab.make({
      program,
      spec: { interface: "eth0", timing, services: [{ name: "bench/vip", ips: [VIP] }] },
      vips: [VIP]
    })
    for (const n of L2Lab.nodeNames) yield* l.start(n)
    const results: Record<Fault, Array<number>> = { crash: [], speakerCrash: [], linkDown: [], graceful: [] }
    const stopped: Array<string> = []
    for (const fault of ["crash", "speakerCrash", "linkDown", "graceful"] as const) {
      for (let i = 0; i < trials; i++) {
        const owner = yield* l.settled(VIP, { all: true, timeout: Duration.seconds(30) })
        const stdout = l.process(owner)?.stdout() ?? ""
        const gaps = yield* pinging(l.lab, l.hosts.cli, VIP, Effect.gen(function*() {
          yield* inject(l, owner, fault)
          yield* l.settled(VIP, { not: owner, timeout: Duration.seconds(15) })
        }))
        if (fault === "graceful") stopped.push(l.process(owner)?.stdout() ?? stdout)
        results[fault].push(gaps.maxGapMs)
        log(`${timing} ${fault} #${i + 1}: owner ${owner}, outage ${gaps.maxGapMs.toFixed(0)} ms (${gaps.transmitted - gaps.received} lost)`)
        yield* restoreNode(l, owner, fault)
      }
    }
    // API server gone for a while: the directory freezes, nothing else may change.
    yield* l.settled(VIP, { all: true, timeout: Duration.seconds(30) })
    const api = yield* pinging(l.lab, l.hosts.cli, VIP, Effect.gen(function*() {
      yield* l.updateSpec((s) => ({ ...s, apiFresh: false }))
      yield* Effect.sleep(Duration.seconds(apiDownSeconds))
      yield* l.updateSpec((s) => ({ ...s, apiFresh: true }))
    }))
    log(`${timing} apiDown ${apiDownSeconds} s (SpeakerDirectory stale): ${api.transmitted - api.received} of ${api.transmitted} pings lost, largest gap ${api.maxGapMs.toFixed(0)} ms`)
    for (const n of L2Lab.nodeNames) {
      const p = l.process(n)
      yield* l.stop(n, "SIGTERM")
      if (p !== undefined) stopped.push(p.stdout())
    }
    return { results, apiLost: api.transmitted - api.received, apiTransmitted: api.transmitted, stopped }
  }))

/** Lease writes per second per node the fixture's directory made, over the node programs that stopped cleanly. */
const leaseRate = (stdouts: ReadonlyArray<string>) => {
  let writes = 0
  let seconds = 0
  for (const out of stdouts) {
    const ready = out.match(/\{"t":(\d+),"event":"ready"/)
    const stopped = out.match(/\{"t":(\d+),"event":"stopped".*"leaseWrites":(\d+)/)
    if (ready?.[1] === undefined || stopped?.[1] === undefined || stopped[2] === undefined) continue
    writes += Number(stopped[2])
    seconds += (Number(stopped[1]) - Number(ready[1])) / 1000
  }
  return seconds === 0 ? NaN : writes / seconds
}

const keepalivedConf = (node: string, priority: number, advert: number) => `
global_defs {
  router_id ${node}
  vrrp_version 3
  enable_script_security
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority ${priority}
  advert_int ${advert}
  virtual_ipaddress {
    ${KEEPALIVED_VIP}/24 dev eth0
  }
}
`

const keepalived = (advert: number) =>
  Effect.scoped(Effect.gen(function*() {
    const lab = yield* Netns.make()
    const hosts = yield* lab.lan({ cli: 100, n1: 11, n2: 12, n3: 13 })
    const priority = { n1: 150, n2: 100, n3: 50 } as const
    const procs = new Map<L2Lab.NodeName, Netns.LabProcess>()
    const start = (n: L2Lab.NodeName) =>
      Effect.gen(function*() {
        const conf = join(lab.dir, `${n}-keepalived.conf`)
        writeFileSync(conf, keepalivedConf(n, priority[n], advert))
        // A killed keepalived leaves its pid files behind; a restart must not trip over them.
        for (const f of [`${n}.pid`, `${n}-vrrp.pid`, `${n}-checkers.pid`]) rmSync(join(lab.dir, f), { force: true })
        const p = yield* lab.spawn(hosts[n].ns, [
          "/usr/sbin/keepalived", "-n", "-l", "-P", "-f", conf,
          "-p", join(lab.dir, `${n}.pid`), "-r", join(lab.dir, `${n}-vrrp.pid`), "-c", join(lab.dir, `${n}-checkers.pid`)
        ], { name: `keepalived ${n}` })
        procs.set(n, p)
      })
    const byMac = (mac: string) => L2Lab.nodeNames.find((n) => hosts[n].mac === mac.toLowerCase())
    const arpOwner = Effect.map(
      Netns.nsExec(hosts.cli.ns, ["arping", "-i", "eth0", "-c", "1", "-w", "0.3", KEEPALIVED_VIP], { allowFailure: true }),
      (r) => {
        const mac = r.stdout.match(/from ([0-9a-f:]{17})/i)?.[1]
        return mac === undefined ? undefined : byMac(mac)
      }
    )
    const waitOwner = (want: (n: L2Lab.NodeName | undefined) => boolean, timeout: number) =>
      Effect.gen(function*() {
        const deadline = Date.now() + timeout
        while (Date.now() < deadline) {
          const o = yield* arpOwner
          if (want(o)) return o
          yield* Effect.sleep("50 millis")
        }
        return yield* new Netns.LabError({
          command: "keepalived owner",
          reason: `no expected owner in time; ${[...procs].map(([n, p]) => `${n}: ${p.stdout().slice(-1500)} ${p.stderr().slice(-500)}`).join("\n")}`
        })
      })
    for (const n of L2Lab.nodeNames) yield* start(n)
    const outages: Array<number> = []
    for (let i = 0; i < trials; i++) {
      // Preemption: at rest the highest priority (n1) is master.
      yield* waitOwner((o) => o === "n1", 30_000)
      yield* Effect.sleep(Duration.millis(Math.max(1000, advert * 3000)))
      const gaps = yield* pinging(lab, hosts.cli, KEEPALIVED_VIP, Effect.gen(function*() {
        // Node crash: its bridge port down and every process of it killed (the VRRP child too).
        yield* Netns.nsExec(lab.ns("sw"), ["ip", "link", "set", "dev", "n1", "down"])
        const pids = yield* Netns.run(["ip", "netns", "pids", hosts.n1.ns])
        for (const pid of pids.stdout.split(/\s+/).filter((s) => s !== "")) {
          try {
            process.kill(Number(pid), "SIGKILL")
          } catch {
            // Already gone.
          }
        }
        yield* (procs.get("n1")?.exited ?? Effect.void)
        yield* waitOwner((o) => o === "n2", 15_000)
      }))
      outages.push(gaps.maxGapMs)
      log(`keepalived advert ${advert} s crash #${i + 1}: outage ${gaps.maxGapMs.toFixed(0)} ms`)
      yield* Netns.nsExec(lab.ns("sw"), ["ip", "link", "set", "dev", "n1", "up"])
      yield* start("n1")
    }
    return outages
  }))

const main = Effect.gen(function*() {
  const missing = Netns.missingTools(["ip", "ping", "arping", "/usr/sbin/keepalived"])
  if (process.getuid?.() !== 0 || missing.length > 0) {
    return yield* Effect.fail(`l2-failover needs root and ${missing.join(", ") || "nothing else"}`)
  }
  log(`l2-failover: ${trials} trials per fault${quick ? " (--quick)" : ""}`)
  const skipped = { results: { crash: [], speakerCrash: [], linkDown: [], graceful: [] }, apiLost: NaN, apiTransmitted: NaN, stopped: [] }
  const def = only === "keepalived" ? skipped : yield* ours("default")
  const fast = only === "keepalived" ? skipped : yield* ours("fast")
  const ka1 = only === "ours" ? [] : yield* keepalived(1)
  const ka01 = only === "ours" ? [] : yield* keepalived(0.1)

  const rows: Array<[string, ReturnType<typeof summary>]> = [
    ["ours default: node crash", summary(def.results.crash)],
    ["ours default: speaker crash", summary(def.results.speakerCrash)],
    ["ours default: interface down", summary(def.results.linkDown)],
    ["ours default: graceful (SIGTERM)", summary(def.results.graceful)],
    ["ours fast: node crash", summary(fast.results.crash)],
    ["ours fast: speaker crash", summary(fast.results.speakerCrash)],
    ["ours fast: interface down", summary(fast.results.linkDown)],
    ["ours fast: graceful (SIGTERM)", summary(fast.results.graceful)],
    ["keepalived advert 1 s: node crash", summary(ka1)],
    ["keepalived advert 0.1 s: node crash", summary(ka01)]
  ]
  console.log("outage (largest gap between ping replies, ms)")
  console.log(`${"case".padEnd(40)} ${"n".padStart(3)} ${"p50".padStart(6)} ${"p99".padStart(6)} ${"min".padStart(6)} ${"max".padStart(6)}`)
  for (const [name, s] of rows) {
    console.log(`${name.padEnd(40)} ${String(s.n).padStart(3)} ${String(s.p50).padStart(6)} ${String(s.p99).padStart(6)} ${String(s.min).padStart(6)} ${String(s.max).padStart(6)}`)
  }
  console.log(`API server stop ${apiDownSeconds} s (in this fixture: the SpeakerDirectory is stale for ${apiDownSeconds} s; there is no API server): default ${def.apiLost}/${def.apiTransmitted} pings lost, fast ${fast.apiLost}/${fast.apiTransmitted}`)
  const leaseWrites = leaseRate([...def.stopped, ...fast.stopped])
  console.log(`Lease writes per node per second (fixture directory, renewal every 5 s): ${leaseWrites.toFixed(3)}`)
  const crashP50 = percentile(def.results.crash, 0.5)
  const kaP50 = percentile(ka1, 0.5)
  const kaFastP50 = percentile(ka01, 0.5)
  const fastCrashP50 = percentile(fast.results.crash, 0.5)
  console.log(JSON.stringify({
    bench: "l2-failover",
    trials,
    crashP50Ms: Math.round(crashP50),
    crashP99Ms: Math.round(percentile(def.results.crash, 0.99)),
    speakerCrashP50Ms: Math.round(percentile(def.results.speakerCrash, 0.5)),
    linkDownP50Ms: Math.round(percentile(def.results.linkDown, 0.5)),
    gracefulP50Ms: Math.round(percentile(def.results.graceful, 0.5)),
    apiDownLostPings: def.apiLost + fast.apiLost,
    apiDownSeconds,
    fastCrashP50Ms: Math.round(fastCrashP50),
    fastCrashP99Ms: Math.round(percentile(fast.results.crash, 0.99)),
    fastSpeakerCrashP50Ms: Math.round(percentile(fast.results.speakerCrash, 0.5)),
    fastLinkDownP50Ms: Math.round(percentile(fast.results.linkDown, 0.5)),
    fastGracefulP50Ms: Math.round(percentile(fast.results.graceful, 0.5)),
    keepalivedP50Ms: Math.round(kaP50),
    keepalivedFastP50Ms: Math.round(kaFastP50),
    ratioToKeepalived: Number((crashP50 / kaP50).toFixed(3)),
    fastRatioToKeepalivedFast: Number((fastCrashP50 / kaFastP50).toFixed(3)),
    leaseWritesPerSecondPerNode: Number(leaseWrites.toFixed(3))
  }))
})

Effect.runPromise(main).catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
