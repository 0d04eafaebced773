// `npm run bench -- footprint [--runs N] [--mode shipped|bundle|source|all] [--node-flags "..."] [--settle MS]
//  [--only NAME] [--bare-objects] [--quick] [--log-level LEVEL] [--child-log FILE] [--timeout S] [--requests] [--smaps]`
//
// Resident memory of the shipped programs (`metallb speaker`, `metallb controller`) against the in-memory API server
// (started in this process):
//   speakerIdle    the speaker, no Services, no peers;
//   speaker1k      the speaker with 1,000 LoadBalancer Services (IPs assigned) + EndpointSlices and 3 BGP peers:
//                  three of the project's passive BgpRouters on 127.0.0.2-4 (loopback, ports picked here), each
//                  with the sessions Established and all 1,000 prefixes received before the clock starts;
//   controller10k  the controller with 10,000 LoadBalancer Services whose IPs it finds assigned (as after a restart:
//                  it rebuilds its allocation from their statuses and checks each against the pools). Allocating
//                  10,000 from scratch takes the in-memory API server minutes (each Service write scans them all).
//   controllerIdle the controller with no Services (only with `--only controllerIdle`: the baseline of the above).
// `--smaps` splits each RSS into anonymous memory (heaps, malloc) and file pages (the `node` binary, libraries).
// Both run with --disable-layer2 (the scenarios are BGP; layer 2 would open packet sockets and send heartbeats on
// this machine's real interfaces) and their metrics and health ports on 127.0.0.1.
//
// Modes: `shipped` (default) is what the image runs: `npm run build`'s dist/metallb.mjs (rebuilt here by
// scripts/bundle.ts) under `node` + scripts/bundle.ts `nodeFlags`; `bundle` the same file without the flags,
// `source` `node src/cli/main.ts` (for comparison); `all` all three. Each program is a child process; RSS is VmRSS
// from /proc/PID/status once it is ready and has settled (median of 5 samples 400 ms apart), "peak" its VmHWM,
// "ready ms" wall time to ready, "cpu ms" the CPU it used until then. Figures are MiB (2^20 bytes). The JSON line
// reports the shipped mode when it ran (else the first mode run) and the source figures beside it when measured.
import { spawn } from "node:child_process"
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Scope } from "effect"
import { crdFiles } from "../src/config/CrdGen.ts"
import { bundleCli, bundlePath, nodeFlags as shippedFlags, root } from "../scripts/bundle.ts"
import { type ApiServer, startApiServer } from "../src/testing/apiserver/Server.ts"
import * as BgpRouter from "../src/testing/BgpRouter.ts"
import { freePort } from "../src/testing/FreePort.ts"

const node = process.execPath
const argv = process.argv.slice(2)
const option = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : undefined
}
const quick = argv.includes("--quick")
const runs = Number(option("runs") ?? (quick ? "1" : "2"))
const mode = option("mode") ?? "shipped"
const extraFlags = (option("node-flags") ?? "").split(" ").filter((f) => f !== "")
const settleMs = Number(option("settle") ?? (quick ? "5000" : "10000"))
const only = option("only")
const bare = argv.includes("--bare-objects")

type Program = "controller" | "speaker"

// ---------------------------------------------------------------------------------------------------------------
// The cluster.

const ns = (i: number) => `ns-${i % 20}`
const v6 = (i: number) => `2001:db8:1::${(i + 1).toString(16)}`

const at = "2026-01-01T00:00:00Z"
const portKey = (p: { port: number; protocol: string }) => `k:{"port":${p.port},"protocol":"${p.protocol}"}`
const keys = (...fields: ReadonlyArray<string>) => Object.fromEntries(fields.map((f) => [f, {}]))

/**
 * A Service as `kubectl apply` leaves it in a real cluster: the last-applied annotation (the applied manifest) and
 * managedFields for kubectl and for the controller's status writes. Informers drop both before caching
 * (src/k8s/Informer.ts `stripUnread`), but the programs still receive them in every list and watch event.
 * (`--bare-objects`: without them.)
 */
const service = (i: number) => {
  const labels = { app: `app-${i}`, "app.kubernetes.io/part-of": "footprint-bench", tier: i % 2 === 0 ? "web" : "api" }
  const userAnnotations = { "metallb.io/address-pool": "pool", "example.com/owner": "team-footprint" }
  const ports = [
    { name: "http", port: 80, protocol: "TCP", targetPort: 8080 },
    { name: "https", port: 443, protocol: "TCP", targetPort: 8443 }
  ]
  const spec = {
    type: "LoadBalancer",
    selector: { app: `app-${i}` },
    ports,
    ipFamilies: ["IPv6"],
    ipFamilyPolicy: "SingleStack",
    allocateLoadBalancerNodePorts: false // 10,000 Services would exhaust the NodePort range
  }
  const applied = { apiVersion: "v1", kind: "Service", metadata: { annotations: userAnnotations, labels, name: `svc-${i}`, namespace: ns(i) }, spec }
  const managedFields = [
    {
      manager: "kubectl-client-side-apply",
      operation: "Update",
      apiVersion: "v1",
      time: at,
      fieldsType: "FieldsV1",
      fieldsV1: {
        "f:metadata": {
          "f:annotations": { ".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}, ...keys(...Object.keys(userAnnotations).map((k) => `f:${k}`)) },
          "f:labels": { ".": {}, ...keys(...Object.keys(labels).map((k) => `f:${k}`)) }
        },
        "f:spec": {
          ...keys("f:allocateLoadBalancerNodePorts", "f:externalTrafficPolicy", "f:internalTrafficPolicy", "f:ipFamilies", "f:ipFamilyPolicy", "f:sessionAffinity", "f:type"),
          "f:ports": { ".": {}, ...Object.fromEntries(ports.map((p) => [portKey(p), { ".": {}, ...keys("f:name", "f:port", "f:protocol", "f:targetPort") }])) },
          "f:selector": {}
        }
      }
    },
    {
      manager: "metallb-controller",
      operation: "Update",
      apiVersion: "v1",
      time: at,
      fieldsType: "FieldsV1",
      fieldsV1: { "f:metadata": { "f:annotations": keys("f:metallb.io/ip-allocated-from-pool") } }
    },
    {
      manager: "metallb-controller",
      operation: "Update",
      apiVersion: "v1",
      time: at,
      fieldsType: "FieldsV1",
      fieldsV1: { "f:status": { "f:loadBalancer": { "f:ingress": {} } } },
      subresource: "status"
    }
  ]
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: `svc-${i}`,
      namespace: ns(i),
      uid: `00000000-0000-4000-8000-${i.toString().padStart(12, "0")}`,
      labels,
      annotations: {
        ...(bare ? {} : { "kubectl.kubernetes.io/last-applied-configuration": `${JSON.stringify(applied)}\n` }),
        ...userAnnotations,
        "metallb.io/ip-allocated-from-pool": "pool"
      },
      ...(bare ? {} : { managedFields })
    },
    spec: {
      ...spec,
      clusterIP: `fd00:10:96::${(i + 10).toString(16)}`,
      clusterIPs: [`fd00:10:96::${(i + 10).toString(16)}`],
      externalTrafficPolicy: "Cluster",
      sessionAffinity: "None",
      internalTrafficPolicy: "Cluster"
    },
    status: { loadBalancer: { ingress: [{ ip: v6(i), ipMode: "VIP" }] } }
  }
}

/** An EndpointSlice as the EndpointSlice controller writes it (two ready endpoints on two nodes). */
const slice = (i: number) => ({
  apiVersion: "discovery.k8s.io/v1",
  kind: "EndpointSlice",
  metadata: {
    name: `svc-${i}-x7k2p`,
    namespace: ns(i),
    generateName: `svc-${i}-`,
    labels: { "kubernetes.io/service-name": `svc-${i}`, "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io" },
    ...(bare
      ? {}
      : {
        managedFields: [{
          manager: "kube-controller-manager",
          operation: "Update",
          apiVersion: "discovery.k8s.io/v1",
          time: at,
          fieldsType: "FieldsV1",
          fieldsV1: {
            "f:addressType": {},
            "f:endpoints": {},
            "f:metadata": { "f:generateName": {}, "f:labels": { ".": {}, ...keys("f:endpointslice.kubernetes.io/managed-by", "f:kubernetes.io/service-name") } },
            "f:ports": {}
          }
        }]
      })
  },
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

/** A BGP peer of the speaker: where one of this run's routers listens. */
interface PeerAddress {
  readonly host: string
  readonly port: number
}

/** Config, nodes and namespaces through the server's API (defaulted and validated like a real cluster's). */
const populateConfig = (server: ApiServer, peers: ReadonlyArray<PeerAddress>) => {
  const o = server.objects
  for (const crd of crdFiles()) o.applyManifest(crd.content)
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
  peers.forEach((peer, p) => {
    o.upsert({
      apiVersion: "metallb.io/v1beta2",
      kind: "BGPPeer",
      metadata: meta(`peer-${p}`),
      spec: { myASN: 64500, peerASN: 64501 + p, peerAddress: peer.host, peerPort: peer.port }
    })
  })
}

/**
 * A server holding the scenario. The many Services and EndpointSlices go straight into its state file: written
 * one by one through its API they would take minutes (each Service write scans all Services for port and IP
 * allocations), and they are complete as written (cluster IPs set, no node ports).
 */
const cluster = async (s: Scenario, peers: ReadonlyArray<PeerAddress>): Promise<ApiServer> => {
  const stateFile = join(mkdtempSync(join(tmpdir(), "metallb-ts-footprint-")), "state.json")
  const seed = await startApiServer({ stateFile })
  populateConfig(seed, peers)
  await seed.stop()
  const snapshot = JSON.parse(readFileSync(stateFile, "utf8")) as { resourceVersion: number; objects: Array<unknown> }
  let rv = snapshot.resourceVersion
  const stamp = (object: { metadata: object }) => ({
    ...object,
    metadata: { ...object.metadata, resourceVersion: String(++rv), creationTimestamp: at }
  })
  for (let i = 0; i < s.services; i++) {
    snapshot.objects.push({ group: "", plural: "services", object: stamp(service(i)) })
    if (s.program === "speaker") snapshot.objects.push({ group: "discovery.k8s.io", plural: "endpointslices", object: stamp(slice(i)) })
  }
  snapshot.resourceVersion = rv
  writeFileSync(stateFile, JSON.stringify(snapshot))
  return startApiServer({ stateFile, saveDebounceMs: 3_600_000 })
}

/** The speaker's peers: passive BGP routers on 127.0.0.2, .3, … (any 127/8 address is local on Linux). */
const startRouters = async (count: number) => {
  const scope = Effect.runSync(Scope.make())
  const routers = await Effect.runPromise(
    Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) =>
      // BGPPeer.spec.peerPort is at most 16384: a random port below that, again on a collision.
      Effect.suspend(() =>
        BgpRouter.make({
          asn: 64501 + i,
          routerId: `192.0.2.${i + 1}`,
          host: `127.0.0.${i + 2}`,
          port: 10179 + Math.floor(Math.random() * 6000),
          peerAs: 64500,
          // The speaker's session leaves from 127.0.0.1: its next hop for the (IPv6) Service prefixes is that address.
          acceptLoopbackNextHops: true
        })
      ).pipe(Effect.retry({ times: 20 }))).pipe(Scope.provide(scope))
  )
  return { routers, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
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
  /** speaker1k: the fewest prefixes one router holds from the speaker. */
  readonly routes: number | undefined
}

interface Launch {
  readonly file: string
  readonly flags: ReadonlyArray<string>
}

const assignedServices = (server: ApiServer): number =>
  server.objects.list("v1", "Service").filter((o) =>
    ((o["status"] as { loadBalancer?: { ingress?: ReadonlyArray<unknown> } } | undefined)?.loadBalancer?.ingress?.length ?? 0) > 0
  ).length

const measure = async (s: Scenario, launch: Launch): Promise<Sample> => {
  const bgp = await startRouters(s.peers)
  try {
    const server = await cluster(s, bgp.routers)
    try {
      const [metricsPort, healthPort] = [await freePort(), await freePort()]
      const kubeconfig = await server.kubeconfigWithToken(`footprint-${s.name}`)
      const args = [
        s.program,
        "--kubeconfig", kubeconfig,
        "--port", String(metricsPort),
        "--health-probe-port", String(healthPort),
        "--listen-address", "127.0.0.1",
        "--log-level", option("log-level") ?? "warn",
        ...(s.program === "speaker" ? ["--node-name", "node-0", "--disable-layer2"] : ["--webhook-mode", "disabled"])
      ]
      const started = performance.now()
      const child = spawn(node, [...launch.flags, launch.file, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
      let stderr = ""
      child.stderr.on("data", (d: Buffer) => void (stderr += d.toString()))
      const childLog = option("child-log")
      for (const stream of [child.stdout, child.stderr]) {
        stream.on("data", (d: Buffer) => {
          if (childLog !== undefined) appendFileSync(childLog, d)
        })
      }
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)))
      const pid = child.pid ?? 0
      try {
        const routes = async () => {
          const snapshots = await Effect.runPromise(Effect.forEach(bgp.routers, (r) => r.snapshot))
          return Math.min(...snapshots.map((snap) => snap.sessions.find((x) => x.state === "Established")?.prefixesReceived ?? 0))
        }
        const ready = async (): Promise<boolean> => {
          const up = await fetch(`http://127.0.0.1:${healthPort}/readyz`).then((r) => r.status === 200, () => false)
          if (!up) return false
          if (s.program === "controller") return assignedServices(server) >= s.services
          return s.peers === 0 || (await routes()) >= s.services
        }
        // Ready: /readyz, and the work done: every Service assigned, every prefix at every router (speaker1k).
        const deadline = performance.now() + Number(option("timeout") ?? "180") * 1000
        while (!(await ready())) {
          if (child.exitCode !== null) throw new Error(`${s.program} exited with ${child.exitCode}:\n${stderr.slice(-2000)}`)
          if (performance.now() > deadline) {
            const progress = s.program === "controller" ? `${assignedServices(server)} of ${s.services} Services assigned` : `${s.peers === 0 ? "-" : await routes()} routes per peer`
            const asked = server.requests().slice(-8).map((r) => `${r.verb} ${r.resource}${r.subresource === "" ? "" : `/${r.subresource}`} ${r.namespace}/${r.name}`)
            throw new Error(`${s.program} not ready after ${option("timeout") ?? "180"} s (${progress}); its last requests: ${asked.join(", ")}\n${stderr.slice(-2000)}`)
          }
          await sleep(200)
        }
        const readyMs = Math.round(performance.now() - started)
        const cpu = cpuMs(pid)
        await sleep(settleMs)
        const samples: Array<number> = []
        for (let i = 0; i < 5; i++) {
          samples.push(statusKb(pid, "VmRSS"))
          await sleep(400)
        }
        if (argv.includes("--smaps")) {
          const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8")
          const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? Number.NaN)
          console.log(`${s.name} smaps: Rss ${mib(kb("Rss"))} Anonymous ${mib(kb("Anonymous"))} file ${mib(kb("Rss") - kb("Anonymous"))} Shared ${mib(kb("Shared_Clean") + kb("Shared_Dirty"))}`)
        }
        if (argv.includes("--requests")) {
          const counts = new Map<string, number>()
          for (const r of server.requests().filter((x) => x.token === `footprint-${s.name}`)) {
            const k = `${r.verb} ${r.resource}${r.subresource === "" ? "" : `/${r.subresource}`}`
            counts.set(k, (counts.get(k) ?? 0) + 1)
          }
          console.log(`${s.name} requests: ${[...counts].toSorted((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ×${n}`).join(", ")}`)
        }
        return {
          rssMiB: mib(median(samples)),
          hwmMiB: mib(statusKb(pid, "VmHWM")),
          readyMs,
          cpuMs: cpu,
          routes: s.peers === 0 ? undefined : await routes()
        }
      } finally {
        child.kill("SIGTERM")
        await Promise.race([exited, sleep(5000)])
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      }
    } finally {
      await server.stop()
    }
  } finally {
    await bgp.close()
  }
}

// ---------------------------------------------------------------------------------------------------------------

const scenarios: ReadonlyArray<Scenario> = [
  { name: "speakerIdle", program: "speaker", services: 0, peers: 0 },
  { name: "speaker1k", program: "speaker", services: 1000, peers: 3 },
  { name: "controller10k", program: "controller", services: 10_000, peers: 0 },
  { name: "controllerIdle", program: "controller", services: 0, peers: 0 }
]
const goals: Record<string, number> = { speakerIdle: 100, speaker1k: 140, controller10k: 128 }

type Mode = "shipped" | "bundle" | "source"
const modes: ReadonlyArray<Mode> = mode === "all" ? ["shipped", "bundle", "source"] : [mode as Mode]
if (modes.some((m) => m !== "source")) await bundleCli()
const launches: Record<Mode, Launch & { readonly label: string }> = {
  shipped: { file: bundlePath, flags: [...shippedFlags, ...extraFlags], label: `node ${[...shippedFlags, ...extraFlags].join(" ")} dist/metallb.mjs` },
  bundle: { file: bundlePath, flags: extraFlags, label: `node ${extraFlags.join(" ")}${extraFlags.length > 0 ? " " : ""}dist/metallb.mjs` },
  source: { file: join(root, "src/cli/main.ts"), flags: extraFlags, label: `node ${extraFlags.join(" ")}${extraFlags.length > 0 ? " " : ""}src/cli/main.ts` }
}

const rows: Array<{ scenario: string; mode: Mode; rss: number; hwm: number; ready: number; cpu: number; routes: number | undefined }> = []
for (const m of modes) {
  for (const s of scenarios.filter((x) => (only === undefined && x.name !== "controllerIdle") || x.name === only)) {
    const samples: Array<Sample> = []
    for (let r = 0; r < runs; r++) samples.push(await measure(s, launches[m]))
    const routes = samples.flatMap((x) => (x.routes === undefined ? [] : [x.routes]))
    rows.push({
      scenario: s.name,
      mode: m,
      rss: median(samples.map((x) => x.rssMiB)),
      hwm: Math.max(...samples.map((x) => x.hwmMiB)),
      ready: median(samples.map((x) => x.readyMs)),
      cpu: median(samples.map((x) => x.cpuMs)),
      routes: routes.length === 0 ? undefined : Math.min(...routes)
    })
  }
}

const pad = (s: string | number, n: number) => String(s).padEnd(n)
console.log(`footprint: RSS in MiB after settling ${settleMs / 1000} s, median of ${runs} run(s); load average ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`)
for (const m of modes) console.log(`  ${pad(m, 8)} ${launches[m].label}`)
console.log(`${pad("scenario", 15)}${pad("mode", 9)}${pad("RSS", 8)}${pad("peak", 8)}${pad("goal", 6)}${pad("ready ms", 10)}${pad("cpu ms", 8)}routes/peer`)
for (const r of rows) {
  const goal = goals[r.scenario] ?? Number.NaN
  console.log(`${pad(r.scenario, 15)}${pad(r.mode, 9)}${pad(r.rss, 8)}${pad(r.hwm, 8)}${pad(Number.isNaN(goal) ? "-" : `${r.rss <= goal ? "≤" : ">"}${goal}`, 6)}${pad(r.ready, 10)}${pad(r.cpu, 8)}${r.routes ?? "-"}`)
}
const reported: Mode = modes.includes("shipped") ? "shipped" : (modes[0] ?? "shipped")
const figure = (scenario: string, m: Mode = reported) => rows.find((r) => r.scenario === scenario && r.mode === m)?.rss ?? null
console.log(JSON.stringify({
  bench: "footprint",
  speakerIdleMB: figure("speakerIdle"),
  speaker1kMB: figure("speaker1k"),
  controller10kMB: figure("controller10k"),
  mode: reported,
  program: launches[reported].label,
  unit: "MiB",
  ...(reported !== "source" && modes.includes("source")
    ? { sourceSpeakerIdleMB: figure("speakerIdle", "source"), sourceSpeaker1kMB: figure("speaker1k", "source"), sourceController10kMB: figure("controller10k", "source") }
    : {})
}))
