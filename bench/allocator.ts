// `npm run bench -- allocator [--quick] [--node-options OPTS] [--breakdown]`: allocate 100k LoadBalancer Services
// (mixed IPv4 / IPv6 / dual-stack, some sharing an IP) from one pool of 10.0.0.0/8 + fd00::/104, then rebuild the
// allocator from the Services' status as a restarted controller would. The addresses never carry traffic: this is
// pure computation, so any /8 will do.
//
// Each phase runs in its own child process, as in a cluster: the controller that allocated is not the one that
// restarts. The children run with the V8 flags the controller ships with (docs/controller.md, "Memory":
// `--max-semi-space-size=1`; `--node-options ""` for Node's defaults), so that `rssMB` (the higher of the two peak
// resident sets) is the controller's. Each child holds the 100k Services as ServiceIntents — what allocation reads
// from a Service, the lean form of an informer cache — built from Service JSON one by one; the JSON is not kept.
// The first phase writes the statuses to a file the second reads, as the API server would hand them back.
//
// `--breakdown` runs a third child with `--expose-gc` that prints where the memory goes (heap per structure).
//
// Goals: allocateSeconds ≤ 2, rebuildSeconds ≤ 1, rssMB ≤ 256. There is no peer in this run: MetalLB's allocator
// scans each pool linearly per Service (see docs/allocation.md), which does not finish 100k in a /8 in useful time.
import { Result } from "effect"
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import * as Core from "../src/allocator/Core.ts"
import type { Pool } from "../src/allocator/Pool.ts"
import * as ServiceIntent from "../src/allocator/ServiceIntent.ts"
import * as Cidr from "../src/net/Cidr.ts"
import * as Ip from "../src/net/Ip.ts"

const argument = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i < 0 ? undefined : process.argv[i + 1]
}
const quick = process.argv.includes("--quick")
const services = quick ? 10_000 : 100_000
const round = (x: number) => Math.round(x * 1000) / 1000
const mb = (bytes: number) => Math.round(bytes / 2 ** 20)

const pool: Pool = {
  name: "bench",
  cidrs: ["10.0.0.0/8", "fd00::/104"].map((c) => Result.getOrThrow(Cidr.parse(c))),
  autoAssign: true,
  avoidBuggyIPs: false
}

/** Service i: 60% IPv4, 20% IPv6, 20% RequireDualStack; 10% carry a sharing key, ports alternating 80 / 81. */
const serviceJson = (i: number, ingress: ReadonlyArray<string>): Record<string, unknown> => {
  const kind = i % 10
  const clusterIPs = kind < 6 ? ["10.96.0.1"] : kind < 8 ? ["fd00:96::1"] : ["10.96.0.1", "fd00:96::1"]
  // One key for all of them, as clusters often do ("true"): the worst case for co-location lookups.
  const sharing = i % 20 < 2 ? { "metallb.io/allow-shared-ip": "true" } : {}
  return {
    metadata: { name: `svc-${i}`, namespace: `ns-${i % 50}`, annotations: sharing },
    spec: {
      type: "LoadBalancer",
      clusterIPs,
      ipFamilyPolicy: clusterIPs.length === 2 ? "RequireDualStack" : "SingleStack",
      ports: [{ protocol: "TCP", port: 80 + (i % 2) }]
    },
    status: { loadBalancer: { ingress: ingress.map((ip) => ({ ip })) } }
  }
}

/** Wall-clock seconds (the figure the goals speak of) and CPU seconds (steadier when the machine is shared). */
const time = <A>(f: () => A): { value: A; seconds: number; cpu: number } => {
  const start = performance.now()
  const startCpu = process.cpuUsage()
  const value = f()
  const used = process.cpuUsage(startCpu)
  return { value, seconds: (performance.now() - start) / 1000, cpu: (used.user + used.system) / 1e6 }
}

const intentsOf = (ingress: (i: number) => ReadonlyArray<string>) =>
  Array.from({ length: services }, (_, i) => Result.getOrThrow(ServiceIntent.fromService(serviceJson(i, ingress(i)))))

const freshState = () => {
  const state = Core.empty()
  Core.setPools(state, [pool])
  return state
}

/**
 * One line per Service: its status IPs, comma-separated. Read line by line as the Services are built, as a list
 * response is decoded object by object: no table of all statuses outlives the intents that hold them.
 */
const statusReader = (file: string): (i: number) => ReadonlyArray<string> => {
  const text = readFileSync(file, "utf8")
  let at = 0
  return () => {
    const end = text.indexOf("\n", at)
    const line = text.slice(at, end < 0 ? text.length : end)
    at = end < 0 ? text.length : end + 1
    return line === "" ? [] : line.split(",")
  }
}

interface PhaseFigures {
  readonly seconds: number
  readonly cpu: number
  readonly extractSeconds: number
  readonly baselineRssMB: number
  readonly peakRssMB: number
  readonly heapUsedMB: number
  readonly ipv4InUse: number
  readonly ipv6InUse: number
  readonly changed: number
}

const figures = (
  baselineRssMB: number,
  extract: { readonly seconds: number },
  run: { readonly seconds: number; readonly cpu: number },
  state: Core.AllocatorState,
  changed: number
): PhaseFigures => {
  const stats = Core.stats(state)[0]
  return {
    seconds: run.seconds,
    cpu: run.cpu,
    extractSeconds: extract.seconds,
    baselineRssMB,
    peakRssMB: mb(process.resourceUsage().maxRSS * 1024),
    heapUsedMB: mb(process.memoryUsage().heapUsed),
    ipv4InUse: stats?.ipv4.inUse ?? 0,
    ipv6InUse: stats?.ipv6.inUse ?? 0,
    changed
  }
}

/** The first controller: converges every Service, keeps only what it writes to the status. */
const allocatePhase = (file: string): PhaseFigures => {
  const baselineRssMB = mb(process.memoryUsage().rss)
  const extract = time(() => intentsOf(() => []))
  const state = freshState()
  const run = time(() =>
    extract.value.map((intent) => {
      const result = Core.converge(state, intent)
      if (result.error !== undefined) throw new Error(`${intent.key}: ${result.error}`)
      return result.ips.map(Ip.format).join(",")
    })
  )
  writeFileSync(file, run.value.join("\n"))
  return figures(baselineRssMB, extract, run, state, 0)
}

/** A restarted controller: reads the Services with their status and rebuilds a fresh state from them. */
const rebuildPhase = (file: string): PhaseFigures => {
  const baselineRssMB = mb(process.memoryUsage().rss)
  const extract = time(() => intentsOf(statusReader(file)))
  const state = freshState()
  const run = time(() => Core.rebuild(state, extract.value))
  // An intent's ingress is the status the first phase wrote.
  let changed = 0
  for (const intent of extract.value) {
    const again = run.value.get(intent.key)?.ips.map(Ip.format) ?? []
    if (again.join() !== intent.ingress.join()) changed++
  }
  return figures(baselineRssMB, extract, run, state, changed)
}

/**
 * Live heap per structure, each measured as the growth of the heap after a full GC (needs `--expose-gc`): what
 * docs/allocation.md's "Memory" section lists.
 */
const breakdown = (): Array<[string, string]> => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error("--phase breakdown needs node --expose-gc")
  const heap = () => {
    gc()
    gc()
    return process.memoryUsage().heapUsed
  }
  const rows: Array<[string, string]> = []
  let last = heap()
  const step = (label: string) => {
    const now = heap()
    rows.push([label, `${(Math.round((now - last) / 2 ** 20 * 10) / 10).toFixed(1)} MB  (${Math.round((now - last) / services)} B per Service)`])
    last = now
  }
  rows.push(["heap before any Service", `${(last / 2 ** 20).toFixed(1)} MB`])
  const json = Array.from({ length: services }, (_, i) => serviceJson(i, []))
  step("Service JSON without status (the phases do not keep it)")
  json.length = 0
  last = heap()
  const intents = intentsOf(() => [])
  step("ServiceIntents without status")
  const state = freshState()
  for (const intent of intents) Core.converge(state, intent)
  step("allocator state after allocating")
  const statuses = intents.map((intent) => Core.assignmentOf(state, intent.key)?.ips.map(Ip.format) ?? [])
  step("the statuses written (string lists)")
  intents.length = 0
  last = heap()
  const again = intentsOf((i) => statuses[i] ?? [])
  step("ServiceIntents with status (sharing those strings)")
  const rebuilt = freshState()
  const results = Core.rebuild(rebuilt, again)
  step("rebuilt allocator state + rebuild's results")
  results.clear()
  step("  of which the results (freed)")
  rows.push(["(kept alive)", String(state.rows.size + rebuilt.rows.size + again.length)])
  return rows
}

const lastLine = (text: string) => text.trim().split("\n").at(-1) ?? "{}"

const printTable = (rows: ReadonlyArray<readonly [string, string]>) => {
  const width = Math.max(...rows.map(([k]) => k.length))
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`)
}

const phase = argument("phase")
if (phase === "allocate" || phase === "rebuild") {
  const file = argument("file") ?? ""
  console.log(JSON.stringify(phase === "allocate" ? allocatePhase(file) : rebuildPhase(file)))
} else if (phase === "breakdown") {
  printTable(breakdown())
} else {
  // As docs/controller.md recommends for the controller's Deployment.
  const nodeOptions = argument("node-options") ?? "--max-semi-space-size=1"
  const flags = nodeOptions.split(" ").filter((f) => f !== "")
  const script = import.meta.filename
  const child = (name: string, extra: ReadonlyArray<string>, file: string): string => {
    const out = spawnSync(
      process.execPath,
      [...flags, ...extra, script, "--phase", name, "--file", file, ...(quick ? ["--quick"] : [])],
      { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 16 * 2 ** 20 }
    )
    if (out.status !== 0) throw new Error(`the ${name} phase failed (exit ${out.status ?? out.signal})`)
    return out.stdout
  }
  const dir = mkdtempSync(join(tmpdir(), "bench-allocator-"))
  const loadBefore = loadavg()[0] ?? 0
  let allocated: PhaseFigures
  let rebuilt: PhaseFigures
  try {
    const file = join(dir, "statuses")
    allocated = JSON.parse(lastLine(child("allocate", [], file))) as PhaseFigures
    rebuilt = JSON.parse(lastLine(child("rebuild", [], file))) as PhaseFigures
    if (process.argv.includes("--breakdown")) process.stdout.write(child("breakdown", ["--expose-gc"], file))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  if (rebuilt.changed > 0) throw new Error(`${rebuilt.changed} Services changed IPs across the rebuild`)
  const rssMB = Math.max(allocated.peakRssMB, rebuilt.peakRssMB)
  const perAllocationMicros = Math.round((allocated.seconds * 1e6) / services * 100) / 100
  printTable([
    ["services", String(services)],
    ["pool", "10.0.0.0/8 + fd00::/104 (one pool)"],
    ["node flags of the phases", nodeOptions === "" ? "(none)" : nodeOptions],
    ["load average (1 min) before / after", `${loadBefore.toFixed(1)} / ${(loadavg()[0] ?? 0).toFixed(1)} (2 cores)`],
    ["IPv4 / IPv6 in use", `${allocated.ipv4InUse} / ${allocated.ipv6InUse}`],
    ["allocate: extract intents (s)", String(round(allocated.extractSeconds))],
    ["allocate (s)", `${round(allocated.seconds)}  (goal ≤ 2; CPU ${round(allocated.cpu)})`],
    ["per allocation (µs)", String(perAllocationMicros)],
    ["allocate: rss before / peak (MB)", `${allocated.baselineRssMB} / ${allocated.peakRssMB}  (heap at end ${allocated.heapUsedMB})`],
    ["rebuild: extract intents (s)", String(round(rebuilt.extractSeconds))],
    ["rebuild from status (s)", `${round(rebuilt.seconds)}  (goal ≤ 1; CPU ${round(rebuilt.cpu)})`],
    ["changed by rebuild", String(rebuilt.changed)],
    ["rebuild: rss before / peak (MB)", `${rebuilt.baselineRssMB} / ${rebuilt.peakRssMB}  (heap at end ${rebuilt.heapUsedMB})`],
    ["peak rss (MB)", `${rssMB}  (goal ≤ 256)`]
  ])
  console.log(JSON.stringify({
    bench: "allocator",
    services,
    allocateSeconds: round(allocated.seconds),
    rebuildSeconds: round(rebuilt.seconds),
    perAllocationMicros,
    rssMB,
    nodeOptions
  }))
}
