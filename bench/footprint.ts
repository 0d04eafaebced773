// `npm run bench -- footprint [--runs N] [--mode source|bundle|tuned|all] [--node-flags "..."] [--settle MS] [--only NAME]
//  [--quick]`
//
// Resident memory of the shipped programs against the in-memory API server (started in this process):
//   speaker idle (no Services, no peers), speaker with 1,000 Services + EndpointSlices and 3 BGP peers,
//   controller with 10,000 Services.
// Each program runs as a child process; RSS is VmRSS from /proc/PID/status once it has synced and settled (median of
// 5 samples 400 ms apart), VmHWM is its peak; "ready ms" is wall time to synced, "cpu ms" the CPU it used until
// then. When `metallb controller` / `metallb speaker` exist in the CLI they are measured; until then the stand-ins
// under bench/footprint/ (same imports, same watches). `source` runs the .ts entry as shipped today; `bundle` runs
// one esbuild ESM bundle of it, `tuned` the bundle with the recommended V8 flags (docs/design/footprint.md).
// Figures are MiB (2^20 bytes). The JSON line reports the last of tuned / bundle / source measured (and the source
// figures beside it).
import { spawn, spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { type ApiServer, startApiServer } from "../src/testing/apiserver/Server.ts"
import { bundle } from "./footprint/Bundle.ts"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const node = process.execPath
const argv = process.argv.slice(2)
const option = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : undefined
}
const quick = argv.includes("--quick")
const runs = Number(option("runs") ?? (quick ? "1" : "2"))
const mode = option("mode") ?? "all"
/** The V8 flags docs/design/footprint.md recommends for the shipped programs (the `tuned` mode). */
export const recommendedFlags = ["--max-semi-space-size=1"]
const nodeFlags = (option("node-flags") ?? "").split(" ").filter((f) => f !== "")
const settleMs = Number(option("settle") ?? (quick ? "5000" : "10000"))
const only = option("only")

type Program = "controller" | "speaker"

// ---------------------------------------------------------------------------------------------------------------
// Which entry runs a program: the real CLI command when it exists, else the stand-in.

const cliCommands = (): ReadonlySet<string> => {
  const help = spawnSync(node, [join(root, "src/cli/main.ts"), "--help"], { encoding: "utf8" })
  const words = new Set<string>()
  for (const line of help.stdout.split("\n")) {
    const m = /^ {2}(\S+)/.exec(line)
    if (m?.[1] !== undefined) words.add(m[1])
  }
  return words
}

interface Entry {
  readonly label: string
  readonly file: string
  readonly args: (kubeconfig: string) => Array<string>
}

const entryOf = (program: Program, commands: ReadonlySet<string>): Entry => {
  const programArgs = (k: string) => program === "speaker" ? ["--kubeconfig", k, "--node-name", "node-0"] : ["--kubeconfig", k, "--webhook-mode", "disabled"]
  return commands.has(program)
    ? { label: `src/cli/main.ts ${program}`, file: join(root, "src/cli/main.ts"), args: (k) => [program, ...programArgs(k)] }
    : { label: `bench/footprint/${program}.ts (stand-in)`, file: join(root, `bench/footprint/${program}.ts`), args: programArgs }
}

// ---------------------------------------------------------------------------------------------------------------
// The cluster.

const ns = (i: number) => `ns-${i % 20}`
const v6 = (i: number) => `2001:db8:1::${(i + 1).toString(16)}`

const service = (i: number, withIp: boolean) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: {
    name: `svc-${i}`,
    namespace: ns(i),
    uid: `00000000-0000-4000-8000-${i.toString().padStart(12, "0")}`,
    labels: { app: `app-${i}`, "app.kubernetes.io/part-of": "footprint-bench", tier: i % 2 === 0 ? "web" : "api" },
    annotations: { "metallb.io/address-pool": "pool", "example.com/owner": "team-footprint" }
  },
  spec: {
    type: "LoadBalancer",
    selector: { app: `app-${i}` },
    ports: [
      { name: "http", port: 80, protocol: "TCP", targetPort: 8080 },
      { name: "https", port: 443, protocol: "TCP", targetPort: 8443 }
    ],
    clusterIP: `fd00:10:96::${(i + 10).toString(16)}`,
    clusterIPs: [`fd00:10:96::${(i + 10).toString(16)}`],
    ipFamilies: ["IPv6"],
    ipFamilyPolicy: "SingleStack",
    externalTrafficPolicy: "Cluster",
    sessionAffinity: "None",
    allocateLoadBalancerNodePorts: false, // 10,000 Services would exhaust the NodePort range
    internalTrafficPolicy: "Cluster"
  },
  status: { loadBalancer: withIp ? { ingress: [{ ip: v6(i), ipMode: "VIP" }] } : {} }
})

const slice = (i: number) => ({
  apiVersion: "discovery.k8s.io/v1",
  kind: "EndpointSlice",
  metadata: { name: `svc-${i}-x7k2p`, namespace: ns(i), labels: { "kubernetes.io/service-name": `svc-${i}` } },
  addressType: "IPv6",
  endpoints: [0, 1].map((e) => ({
    addresses: [`2001:db8:2::${(i * 2 + e + 1).toString(16)}`],
    conditions: { ready: true, serving: true, terminating: false },
    nodeName: `node-${(i + e) % 3}`
  })),
  ports: [{ name: "http", port: 8080, protocol: "TCP" }, { name: "https", port: 8443, protocol: "TCP" }]
})

interface Scenario {
  readonly name: string
  readonly program: Program
  readonly services: number
  readonly peers: number
}

const meta = (name: string) => ({ name, namespace: "metallb-system" })

/** Config, nodes and namespaces through the server's API (defaulted and validated like a real cluster's). */
const populateConfig = (server: ApiServer, s: Scenario) => {
  const o = server.objects
  for (const file of readdirSync(join(root, "manifests/crds")).toSorted()) {
    o.applyManifest(readFileSync(join(root, "manifests/crds", file), "utf8"))
  }
  for (const name of ["metallb-system", ...Array.from({ length: 20 }, (_, i) => ns(i))]) {
    o.upsert({ apiVersion: "v1", kind: "Namespace", metadata: { name } })
  }
  for (let n = 0; n < 3; n++) {
    o.upsert({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: `node-${n}`, labels: { "kubernetes.io/hostname": `node-${n}`, "kubernetes.io/os": "linux" } },
      status: { addresses: [{ type: "InternalIP", address: `2001:db8:3::${n + 1}` }] }
    })
  }
  o.upsert({ apiVersion: "metallb.io/v1beta1", kind: "IPAddressPool", metadata: meta("pool"), spec: { addresses: ["2001:db8:1::/112"] } })
  o.upsert({ apiVersion: "metallb.io/v1beta1", kind: "BGPAdvertisement", metadata: meta("bgp"), spec: { ipAddressPools: ["pool"] } })
  for (let p = 0; p < s.peers; p++) {
    o.upsert({
      apiVersion: "metallb.io/v1beta2",
      kind: "BGPPeer",
      metadata: meta(`peer-${p}`),
      spec: { myASN: 64500, peerASN: 64501 + p, peerAddress: `2001:db8:4::${p + 1}` }
    })
  }
}

/**
 * A server holding the scenario. The many Services and EndpointSlices go straight into its state file: written
 * one by one through its API they would take minutes (each Service write scans all Services for port and IP
 * allocations), and they are complete as written (cluster IPs set, no node ports).
 */
const cluster = async (s: Scenario): Promise<ApiServer> => {
  const stateFile = join(mkdtempSync(join(tmpdir(), "metallb-ts-footprint-")), "state.json")
  const seed = await startApiServer({ stateFile })
  populateConfig(seed, s)
  await seed.stop()
  const snapshot = JSON.parse(readFileSync(stateFile, "utf8")) as { resourceVersion: number; objects: Array<unknown> }
  let rv = snapshot.resourceVersion
  const stamp = (object: { metadata: object }) => ({
    ...object,
    metadata: { ...object.metadata, resourceVersion: String(++rv), creationTimestamp: "2026-01-01T00:00:00Z" }
  })
  for (let i = 0; i < s.services; i++) {
    snapshot.objects.push({ group: "", plural: "services", object: stamp(service(i, s.program === "speaker")) })
    if (s.program === "speaker") snapshot.objects.push({ group: "discovery.k8s.io", plural: "endpointslices", object: stamp(slice(i)) })
  }
  snapshot.resourceVersion = rv
  writeFileSync(stateFile, JSON.stringify(snapshot))
  return startApiServer({ stateFile, saveDebounceMs: 3_600_000 })
}

// ---------------------------------------------------------------------------------------------------------------
// One measurement.

const statusKb = (pid: number, key: string): number => {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))
  return Number(m?.[1] ?? Number.NaN)
}

/** CPU time (user + system) the process has used, in ms (/proc/PID/stat fields 14 and 15, in clock ticks of 10 ms). */
const cpuMs = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) * 10
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const mib = (kb: number) => Math.round((kb / 1024) * 10) / 10
const median = (xs: ReadonlyArray<number>) => {
  const s = xs.toSorted((a, b) => a - b)
  return s[Math.floor((s.length - 1) / 2)] ?? Number.NaN
}

interface Sample {
  readonly rssMiB: number
  readonly hwmMiB: number
  readonly readyMs: number
  readonly cpuMs: number
}

const measure = async (s: Scenario, file: string, args: (k: string) => Array<string>, flags: ReadonlyArray<string>): Promise<Sample> => {
  const server = await cluster(s)
  try {
    const token = `footprint-${s.name}`
    const kubeconfig = await server.kubeconfigWithToken(token)
    const started = performance.now()
    const child = spawn(node, [...flags, file, ...args(kubeconfig)], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => void (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => void (stderr += d.toString()))
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)))
    try {
      // Ready: the stand-in's ready line, or (real programs) a Services watch opened with this child's token.
      const deadline = performance.now() + 120_000
      while (!stdout.includes(`"ready"`) && !server.requests().some((r) => r.token === token && r.verb === "watch" && r.resource === "services")) {
        if (child.exitCode !== null) throw new Error(`${file} exited with ${child.exitCode}:\n${stderr.slice(-2000)}`)
        if (performance.now() > deadline) throw new Error(`${file} not ready after 120 s:\n${stderr.slice(-2000)}`)
        await sleep(50)
      }
      const readyMs = Math.round(performance.now() - started)
      const cpu = cpuMs(child.pid ?? 0)
      await sleep(settleMs)
      const samples: Array<number> = []
      for (let i = 0; i < 5; i++) {
        samples.push(statusKb(child.pid ?? 0, "VmRSS"))
        await sleep(400)
      }
      return { rssMiB: mib(median(samples)), hwmMiB: mib(statusKb(child.pid ?? 0, "VmHWM")), readyMs, cpuMs: cpu }
    } finally {
      child.kill("SIGTERM")
      await Promise.race([exited, sleep(5000)])
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    }
  } finally {
    await server.stop()
  }
}

// ---------------------------------------------------------------------------------------------------------------

const scenarios: ReadonlyArray<Scenario> = [
  { name: "speakerIdle", program: "speaker", services: 0, peers: 0 },
  { name: "speaker1k", program: "speaker", services: 1000, peers: 3 },
  { name: "controller10k", program: "controller", services: 10_000, peers: 0 }
]
const goals: Record<string, number> = { speakerIdle: 100, speaker1k: 140, controller10k: 128 }

const commands = cliCommands()
type Mode = "source" | "bundle" | "tuned"
const modes: ReadonlyArray<Mode> = mode === "all" ? ["source", "bundle", "tuned"] : [mode as Mode]
const outDir = join(root, "node_modules/.cache/footprint")
mkdirSync(outDir, { recursive: true })

const rows: Array<{ scenario: string; mode: string; entry: string; rss: number; hwm: number; ready: number; cpu: number }> = []
for (const m of modes) {
  for (const s of scenarios.filter((x) => only === undefined || x.name === only)) {
    const entry = entryOf(s.program, commands)
    const file = m === "source" ? entry.file : await bundle(entry.file, join(outDir, `${s.program}.mjs`))
    const flags = m === "tuned" ? [...recommendedFlags, ...nodeFlags] : nodeFlags
    const samples: Array<Sample> = []
    for (let r = 0; r < runs; r++) samples.push(await measure(s, file, entry.args, flags))
    rows.push({
      scenario: s.name,
      mode: m,
      entry: m === "source" ? entry.label : `${entry.label} → esbuild bundle${m === "tuned" ? ` + ${recommendedFlags.join(" ")}` : ""}`,
      rss: median(samples.map((x) => x.rssMiB)),
      hwm: Math.max(...samples.map((x) => x.hwmMiB)),
      ready: median(samples.map((x) => x.readyMs)),
      cpu: median(samples.map((x) => x.cpuMs))
    })
  }
}

const pad = (s: string | number, n: number) => String(s).padEnd(n)
console.log(`footprint: RSS in MiB after settling, median of ${runs} run(s)${nodeFlags.length > 0 ? `, node flags: ${nodeFlags.join(" ")}` : ""}`)
console.log(`${pad("scenario", 15)}${pad("mode", 8)}${pad("RSS", 8)}${pad("peak", 8)}${pad("goal", 6)}${pad("ready ms", 10)}${pad("cpu ms", 8)}entry`)
for (const r of rows) {
  const goal = goals[r.scenario] ?? Number.NaN
  console.log(`${pad(r.scenario, 15)}${pad(r.mode, 8)}${pad(r.rss, 8)}${pad(r.hwm, 8)}${pad(`${r.rss <= goal ? "≤" : ">"}${goal}`, 6)}${pad(r.ready, 10)}${pad(r.cpu, 8)}${r.entry}`)
}
const reported = modes.includes("tuned") ? "tuned" : modes.includes("bundle") ? "bundle" : (modes[0] ?? "source")
const figure = (scenario: string, m = reported) => rows.find((r) => r.scenario === scenario && r.mode === m)?.rss ?? null
console.log(JSON.stringify({
  bench: "footprint",
  speakerIdleMB: figure("speakerIdle"),
  speaker1kMB: figure("speaker1k"),
  controller10kMB: figure("controller10k"),
  mode: reported,
  unit: "MiB",
  ...(reported !== "source" && modes.includes("source")
    ? { sourceSpeakerIdleMB: figure("speakerIdle", "source"), sourceSpeaker1kMB: figure("speaker1k", "source"), sourceController10kMB: figure("controller10k", "source") }
    : {})
}))
