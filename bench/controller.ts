// `npm run bench -- controller [--quick] [--services N] [--concurrency C] [--node-options OPTS] [--source]`: the
// controller as shipped (`node --max-semi-space-size=1 --heap-growing-percent=20 dist/metallb.mjs controller`, the bundle rebuilt here by
// scripts/bundle.ts; `--source`: `node src/cli/main.ts controller`; `--node-options`: other V8 flags than the shipped
// ones), a child process so that the API server's memory does not count, against the in-memory API server (this
// process). One pool, then N LoadBalancer Services created at once through the HTTP API (C creates in flight);
// each Service's latency runs from its create being acknowledged to its IP showing in a watch of Services.
//
// Goals: allAssignedSeconds ≤ 5, p50Ms ≤ 20, rssMB ≤ 128 (the controller's resident set after the run).
// There is no peer in this run: MetalLB's controller needs a real cluster (controller-runtime's client does not
// speak to this server's subset of the API).
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { join, relative, resolve } from "node:path"
import { performance } from "node:perf_hooks"
import { bundleCli, nodeFlags } from "../scripts/bundle.ts"
import { crdFiles } from "../src/config/CrdGen.ts"
import { startApiServer } from "../src/testing/apiserver/Server.ts"
import { freePort } from "../src/testing/FreePort.ts"

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  const v = i < 0 ? undefined : Number(process.argv[i + 1])
  return v === undefined || !Number.isFinite(v) ? fallback : v
}
const quick = process.argv.includes("--quick")
const services = arg("services", quick ? 200 : 1000)
const concurrency = arg("concurrency", 1)
const root = resolve(import.meta.dirname, "..")
// The image runs the bundle with scripts/bundle.ts `nodeFlags` (V8's 16 MB semi-spaces cost a controller ~40 MB).
const nodeOptionsIndex = process.argv.indexOf("--node-options")
const controllerFlags = nodeOptionsIndex < 0 ? [...nodeFlags] : (process.argv[nodeOptionsIndex + 1] ?? "").split(" ").filter((f) => f !== "")
const source = process.argv.includes("--source")
const entry = source ? join(root, "src/cli/main.ts") : await bundleCli()

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const rssOf = (pid: number, field: "VmRSS" | "VmHWM"): number => {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith(`${field}:`)) ?? ""
  return Math.round(Number(line.replace(/\D+/g, "")) / 1024)
}

/** CPU seconds (user + system) the process has used: steadier than wall time on a shared machine. */
const cpuOf = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? []
  return (Number(fields[11]) + Number(fields[12])) / 100
}

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN

const server = await startApiServer({ historyLimit: 100_000 })
for (const crd of crdFiles()) server.objects.applyManifest(crd.content)
server.objects.upsert({ apiVersion: "v1", kind: "Namespace", metadata: { name: "metallb-system" } })
server.objects.upsert({
  apiVersion: "metallb.io/v1beta1",
  kind: "IPAddressPool",
  metadata: { name: "bench", namespace: "metallb-system" },
  // Never routed: the addresses only have to be distinct.
  spec: { addresses: ["10.0.0.0/16"] }
})

const healthPort = await freePort()
const controller = spawn(
  process.execPath,
  [...controllerFlags, entry, "controller", "--webhook-mode", "disabled", "--kubeconfig", server.kubeconfigPath, "--port", "0", "--health-probe-port", String(healthPort),
    "--listen-address", "127.0.0.1", "--log-level", "error"],
  { cwd: root, stdio: ["ignore", "inherit", "inherit"] }
)
const pid = controller.pid ?? 0
// Whatever happens to this run, the controller does not outlive it.
process.on("exit", () => {
  if (controller.exitCode === null) controller.kill("SIGKILL")
})
const startedAt = performance.now()
while (true) {
  const ok = await fetch(`http://127.0.0.1:${healthPort}/readyz`).then((r) => r.status === 200, () => false)
  if (ok) break
  if (performance.now() - startedAt > 30_000) throw new Error("controller not ready within 30 s")
  await sleep(20)
}
const readySeconds = (performance.now() - startedAt) / 1000
const rssIdle = rssOf(pid, "VmRSS")

// Watch Services: the moment each one shows an IP.
const created = new Map<string, number>()
const assigned = new Map<string, number>()
const watch = new AbortController()
const watching = (async () => {
  const response = await fetch(`${server.url}/api/v1/namespaces/bench/services?watch=1`, { signal: watch.signal })
  const reader = response.body?.getReader()
  if (reader === undefined) return
  const decoder = new TextDecoder()
  let buffered = ""
  while (true) {
    const chunk = await reader.read().catch(() => ({ done: true as const, value: undefined }))
    if (chunk.done) return
    buffered += decoder.decode(chunk.value, { stream: true })
    let nl = buffered.indexOf("\n")
    while (nl >= 0) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      nl = buffered.indexOf("\n")
      const event = JSON.parse(line) as { object?: { metadata?: { name?: string }; status?: { loadBalancer?: { ingress?: Array<unknown> } } } }
      const name = event.object?.metadata?.name
      if (name !== undefined && !assigned.has(name) && (event.object?.status?.loadBalancer?.ingress?.length ?? 0) > 0) {
        assigned.set(name, performance.now())
      }
    }
  }
})()
server.objects.upsert({ apiVersion: "v1", kind: "Namespace", metadata: { name: "bench" } })
await sleep(100)

const body = (i: number) =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: `svc-${i}`, namespace: "bench" },
    // No node ports: there are only 2768 of them, and MetalLB does not need them.
    spec: {
      type: "LoadBalancer",
      allocateLoadBalancerNodePorts: false,
      selector: { app: `app-${i}` },
      ports: [{ port: 80, protocol: "TCP" }]
    }
  })

const cpuBefore = cpuOf(pid)
const serverCpuBefore = process.cpuUsage()
const t0 = performance.now()
let next = 0
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (next < services) {
    const i = next++
    const response = await fetch(`${server.url}/api/v1/namespaces/bench/services`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: body(i)
    })
    await response.text()
    if (response.status !== 201) throw new Error(`create svc-${i}: HTTP ${response.status}`)
    created.set(`svc-${i}`, performance.now())
  }
}))
const createdSeconds = (performance.now() - t0) / 1000
while (assigned.size < services) {
  if (performance.now() - t0 > 120_000) throw new Error(`only ${assigned.size} of ${services} assigned after 120 s`)
  await sleep(5)
}
const allAssignedSeconds = (Math.max(...assigned.values()) - t0) / 1000
const latencies = [...created].map(([name, at]) => Math.max(0, (assigned.get(name) ?? Number.NaN) - at)).toSorted((a, b) => a - b)
const controllerCpu = cpuOf(pid) - cpuBefore
const serverCpu = process.cpuUsage(serverCpuBefore)
const rssMB = rssOf(pid, "VmRSS")
const peakRssMB = rssOf(pid, "VmHWM")

// Every IP distinct, as a last check that the figures describe a correct run.
const ips = new Set(server.objects.list("v1", "Service", "bench").map((s) =>
  JSON.stringify((s["status"] as { loadBalancer?: { ingress?: unknown } } | undefined)?.loadBalancer?.ingress)
))
if (ips.size !== services) throw new Error(`${services - ips.size} duplicate IPs`)

if (process.argv.includes("--requests")) {
  const counts = new Map<string, number>()
  for (const r of server.requests()) {
    const k = `${r.verb} ${r.resource}${r.subresource === undefined || r.subresource === "" ? "" : `/${r.subresource}`}`
    counts.set(k, (counts.get(k) ?? 0) + 1)
  }
  for (const [k, n] of [...counts].toSorted((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(6)}  ${k}`)
}
controller.kill("SIGTERM")
const exitCode = await new Promise<number | null>((done) => controller.once("exit", (code) => done(code)))
watch.abort()
await watching.catch(() => undefined)
await server.stop()

const figures = {
  bench: "controller",
  services,
  allAssignedSeconds: Number(allAssignedSeconds.toFixed(3)),
  p50Ms: Number(percentile(latencies, 50).toFixed(1)),
  p99Ms: Number(percentile(latencies, 99).toFixed(1)),
  rssMB
}
const rows: ReadonlyArray<readonly [string, string]> = [
  ["services", String(services)],
  ["creates in flight", String(concurrency)],
  ["controller", `node ${[...controllerFlags, relative(root, entry)].join(" ")}`],
  ["controller ready after", `${readySeconds.toFixed(2)} s`],
  ["all created after", `${createdSeconds.toFixed(3)} s`],
  ["all assigned after", `${allAssignedSeconds.toFixed(3)} s (goal ≤ 5)`],
  ["create → IP p50", `${figures.p50Ms} ms (goal ≤ 20)`],
  ["create → IP p90", `${percentile(latencies, 90).toFixed(1)} ms`],
  ["create → IP p99", `${figures.p99Ms} ms`],
  ["create → IP max", `${(latencies.at(-1) ?? 0).toFixed(1)} ms`],
  ["controller CPU during the run", `${controllerCpu.toFixed(2)} s (${((controllerCpu / services) * 1000).toFixed(2)} ms per Service)`],
  ["API server + bench CPU during the run", `${((serverCpu.user + serverCpu.system) / 1e6).toFixed(2)} s`],
  ["load average (1 min) at the end", readFileSync("/proc/loadavg", "utf8").split(" ")[0] ?? "?"],
  ["controller RSS idle / after / peak", `${rssIdle} / ${rssMB} / ${peakRssMB} MB (goal ≤ 128)`],
  ["controller exit on SIGTERM", String(exitCode)]
]
const width = Math.max(...rows.map(([k]) => k.length))
for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`)
console.log(JSON.stringify(figures))
