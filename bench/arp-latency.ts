// `npm run bench -- arp-latency [--quick]`: how fast our ARP responder answers compared with the kernel, measured
// on the wire at the client (tcpdump: request → reply), then whether it keeps answering under a flood.
//
// Lab: a client and one node on a bridge (src/testing/Netns.ts). The node runs the L2 node program
// (test/lab/fixtures/l2-node.ts: Liveness + L2Election + Layer2Speaker) owning 192.0.2.200, which sits on its `lo`
// with arp_ignore=1 so only our responder answers; the kernel reference is the node's own address 192.0.2.11.
// 1. `arping -c 1000 -W 0.01` to each, captured at the client; latency = reply time − request time.
// 2. Flood: 20,000 ARP requests/s for 5 s for the VIP, written with the native addon from the client namespace by
//    this same file run as a child (`--flood IFACE TARGET RATE SECONDS`), which also counts the replies it gets.
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import * as Address from "../src/layer2/Address.ts"
import * as Arp from "../src/layer2/Arp.ts"
import * as Ethernet from "../src/layer2/Ethernet.ts"
import * as Native from "../src/native/Native.ts"
import * as Netns from "../src/testing/Netns.ts"

const VIP = "192.0.2.200"
const self = fileURLToPath(import.meta.url)
const program = fileURLToPath(new URL("../test/lab/fixtures/l2-node.ts", import.meta.url))
const log = (line: string) => process.stderr.write(`${line}\n`)

/** Child mode: send `rate` ARP requests/s for `seconds` to `target` on `iface`, count the replies. */
const flood = async (iface: string, target: string, rate: number, seconds: number) => {
  const socket = Effect.runSync(Native.openPacket(iface, Ethernet.ETHERTYPE_ARP, undefined))
  const facts = Effect.runSync(Native.interfaceInfo(iface))
  Effect.runSync(Native.setSockOptInt(socket.fd, Native.constants.SOL_SOCKET, Native.constants.SO_RCVBUFFORCE, 4 * 1024 * 1024))
  const targetIp = Address.parseIpv4(target)
  if (targetIp._tag === "Failure") throw new Error(`bad target ${target}`)
  const senderIp = Uint8Array.of(192, 0, 2, 100)
  const request = Buffer.from(Ethernet.encode({
    destination: Address.BROADCAST_MAC,
    source: facts.mac,
    ethertype: Ethernet.ETHERTYPE_ARP,
    payload: Arp.encode({ operation: Arp.OP_REQUEST, senderMac: facts.mac, senderIp, targetMac: Address.ZERO_MAC, targetIp: targetIp.success })
  }))
  let answered = 0
  const { stop } = Effect.runSync(Native.startReceiving(socket, (frames) => {
    for (const f of frames) {
      // ARP reply (opcode 2 at 20..21) for the target (sender IP at 28..31) to us.
      if (f[21] === 2 && f[28] === targetIp.success[0] && f[29] === targetIp.success[1] && f[30] === targetIp.success[2] && f[31] === targetIp.success[3]) answered++
    }
  }))
  const total = rate * seconds
  let sent = 0
  let errors = 0
  const start = process.hrtime.bigint()
  // Paced in 1 ms slices, yielding to the event loop between them so replies are read as they come.
  await new Promise<void>((resolve) => {
    const slice = () => {
      const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6
      const due = Math.min(total, Math.floor((elapsedMs * rate) / 1000))
      // At most 5 ms worth per slice: after a scheduling hiccup, catching up in one burst would overflow the
      // receiving veth's backlog (netdev_max_backlog, 1000) and measure that instead of the responder.
      let burst = 0
      while (sent < due && burst++ < rate / 200) {
        try {
          Native.sendFrameUnsafe(socket, request)
        } catch {
          errors++
        }
        sent++
      }
      if (sent >= total) resolve()
      else setImmediate(slice)
    }
    slice()
  })
  const seconds_ = Number(process.hrtime.bigint() - start) / 1e9
  await new Promise((r) => setTimeout(r, 500))
  // Replies the kernel dropped before this process read them (its packet sockets' drop counters).
  const ss = execFileSync("ss", ["-0", "-a", "-m", "-n"], { encoding: "utf8" })
  const drops = [...ss.matchAll(/skmem:\([^)]*,d(\d+)\)/g)].reduce((n, m) => n + Number(m[1]), 0)
  stop()
  console.log(JSON.stringify({ sent, errors, answered, seconds: seconds_, drops }))
}

const delays = (lines: ReadonlyArray<string>, ip: string) => {
  const out: Array<number> = []
  let pending: number | undefined
  for (const line of lines) {
    const t = Number(line.split(" ")[0])
    if (line.includes(`Request who-has ${ip} `)) pending = t
    else if (line.includes(`Reply ${ip} is-at`) && pending !== undefined) {
      out.push((t - pending) * 1e6)
      pending = undefined
    }
  }
  return out.toSorted((a, b) => a - b)
}
const pct = (xs: ReadonlyArray<number>, q: number) => xs[Math.min(xs.length - 1, Math.max(0, Math.ceil(q * xs.length) - 1))] ?? NaN

/** Frames the kernel dropped at the packet sockets of `ns` before they were read (`ss -0 -m`: skmem d…). */
const drops = (ns: string) =>
  Effect.map(Netns.nsExec(ns, ["ss", "-0", "-a", "-m", "-n"], { allowFailure: true }), (r) =>
    [...r.stdout.matchAll(/skmem:\([^)]*,d(\d+)\)/g)].reduce((n, m) => n + Number(m[1]), 0))

const rssMB = (pid: number) => {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/)
  return m?.[1] === undefined ? NaN : Number(m[1]) / 1024
}

const main = (quick: boolean) =>
  Effect.scoped(Effect.gen(function*() {
    const count = quick ? 200 : 1000
    const floodSeconds = quick ? 2 : 5
    const rate = 20_000
    const lab = yield* Netns.make()
    const hosts = yield* lab.lan({ cli: 100, n1: 11 })
    yield* Netns.nsExec(hosts.n1.ns, ["sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2"])
    yield* Netns.nsExec(hosts.n1.ns, ["ip", "addr", "add", `${VIP}/32`, "dev", "lo"])
    const specFile = `${lab.dir}/spec.json`
    writeFileSync(specFile, JSON.stringify({ nodes: ["n1"], interface: "eth0", timing: "default", services: [{ name: "bench/arp", ips: [VIP] }] }))
    const node = yield* lab.spawn(hosts.n1.ns, [process.execPath, program, "n1", specFile], { name: "l2-node n1" })
    yield* node.waitFor(/"announcing":\["192\.0\.2\.200"\]/, { timeout: "20 seconds" })

    const measure = (ip: string, name: string) =>
      Effect.gen(function*() {
        const capture = yield* lab.capture(hosts.cli.ns, "eth0", "arp", name)
        yield* Netns.nsExec(hosts.cli.ns, ["arping", "-i", "eth0", "-c", String(count), "-W", "0.01", ip], { allowFailure: true })
        yield* Effect.sleep("300 millis")
        yield* capture.stop
        return delays(yield* capture.read(), ip)
      })
    const ours = yield* measure(VIP, "ours")
    const kernel = yield* measure(hosts.n1.ipv4, "kernel")
    log(`ours: ${ours.length} replies, p50 ${pct(ours, 0.5).toFixed(0)} µs, p99 ${pct(ours, 0.99).toFixed(0)} µs`)
    log(`kernel: ${kernel.length} replies, p50 ${pct(kernel, 0.5).toFixed(0)} µs, p99 ${pct(kernel, 0.99).toFixed(0)} µs`)

    const flooded = yield* Netns.nsExec(hosts.cli.ns, [process.execPath, self, "--flood", "eth0", VIP, String(rate), String(floodSeconds)])
    const result = JSON.parse(flooded.stdout.trim().split("\n").at(-1) ?? "{}") as { sent: number; answered: number; seconds: number; errors: number; drops: number }
    const rss = rssMB(node.pid)
    const nodeDrops = yield* drops(hosts.n1.ns)
    const buffers = yield* Netns.nsExec(hosts.n1.ns, ["ss", "-0", "-a", "-m", "-n"], { allowFailure: true })
    log(`node packet sockets: ${[...buffers.stdout.matchAll(/skmem:\(([^)]*)\)/g)].map((m) => m[1]).join(" | ")}`)
    const clientDrops = result.drops
    log(`packet socket drops: node ${nodeDrops}, client ${clientDrops}`)
    yield* node.stop("SIGTERM")
    const stopped = JSON.parse(node.stdout().split("\n").find((l) => l.includes(`"event":"stopped"`)) ?? "{}") as {
      responder?: { requests?: Record<string, number>; responses?: Record<string, number> }
    }
    const seen = stopped.responder?.requests?.[VIP] ?? NaN
    const answeredByNode = stopped.responder?.responses?.[VIP] ?? NaN
    log(`responder counters for ${VIP} (all phases): ${seen} requests seen, ${answeredByNode} answered`)
    log(`flood: ${result.sent} requests in ${result.seconds.toFixed(2)} s (${result.errors} send errors), ${result.answered} answered; speaker RSS ${rss.toFixed(1)} MB`)

    console.log("ARP reply latency on the wire at the client (µs)")
    console.log(`${"responder".padEnd(28)} ${"n".padStart(5)} ${"min".padStart(6)} ${"p50".padStart(6)} ${"p90".padStart(6)} ${"p99".padStart(6)} ${"max".padStart(6)}`)
    for (const [name, xs] of [["ours (L2 node, userspace)", ours], ["kernel (own address)", kernel]] as const) {
      console.log(`${name.padEnd(28)} ${String(xs.length).padStart(5)} ${pct(xs, 0).toFixed(0).padStart(6)} ${pct(xs, 0.5).toFixed(0).padStart(6)} ${pct(xs, 0.9).toFixed(0).padStart(6)} ${pct(xs, 0.99).toFixed(0).padStart(6)} ${pct(xs, 1).toFixed(0).padStart(6)}`)
    }
    console.log(`flood ${rate}/s for ${floodSeconds} s: ${result.answered}/${result.sent} answered`)
    console.log(JSON.stringify({
      bench: "arp-latency",
      requests: count,
      p50Micros: Math.round(pct(ours, 0.5)),
      p99Micros: Math.round(pct(ours, 0.99)),
      kernelP50Micros: Math.round(pct(kernel, 0.5)),
      kernelP99Micros: Math.round(pct(kernel, 0.99)),
      ratioToKernel: Number((pct(ours, 0.5) / pct(kernel, 0.5)).toFixed(2)),
      floodRequests: result.sent,
      floodAnswered: result.answered,
      floodDropsAtNode: nodeDrops,
      responderRequestsSeen: seen,
      responderAnswered: answeredByNode,
      floodDropsAtClient: clientDrops,
      speakerRssMB: Number(rss.toFixed(1))
    }))
  }))

const args = process.argv.slice(2)
if (args[0] === "--flood") {
  await flood(args[1] ?? "eth0", args[2] ?? VIP, Number(args[3] ?? 20000), Number(args[4] ?? 5))
} else {
  if (process.getuid?.() !== 0) {
    console.error("arp-latency needs root (network namespaces)")
    process.exit(1)
  }
  await Effect.runPromise(main(args.includes("--quick"))).catch((e: unknown) => {
    console.error(e)
    process.exit(1)
  })
}
