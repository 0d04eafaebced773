// `npm run bench -- bgp-latency [--trials N]`: how fast the real `metallb speaker` turns a Service change into a
// route at the router, and how fast its BGP session comes up.
//
// A lab of network namespaces (needs root): FRR (zebra + bgpd) in `rtr`, the speaker program in `node3` talking to
// the in-memory API server of this process through a Unix-socket forwarder (as the sandbox does). Each trial writes
// a Service's `status.loadBalancer.ingress` (what the controller would write; its EndpointSlice exists already) and
// waits for the /32 to appear in the router namespace's kernel FIB (`ip monitor route`): zebra installs a route only
// after bgpd has it in the RIB, so this is an upper bound of "route in FRR's RIB".
// establishMs: from the speaker's first SYN to its first KEEPALIVE after the OPEN exchange (the router is then
// Established), both from one capture on the router's interface.
// Last line: {"bench":"bgp-latency","serviceToRouteP50Ms":…,"serviceToRouteP99Ms":…,"establishMs":…}
import { Effect, Exit, Scope } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Children from "../src/sandbox/Children.ts"
import * as Scenario from "../src/sandbox/Scenario.ts"
import { forward } from "../src/sandbox/Forward.ts"
import { startApiServer } from "../src/testing/InMemoryApiServer.ts"
import * as Netns from "../src/testing/Netns.ts"
import * as Routers from "../src/testing/Routers.ts"

const argv = process.argv.slice(2)
const flag = (name: string, fallback: number) => {
  const i = argv.indexOf(name)
  return i >= 0 ? Number(argv[i + 1]) : fallback
}
const trials = flag("--trials", argv.includes("--quick") ? 10 : 40)
const manifests = fileURLToPath(new URL("../manifests/", import.meta.url))


const fromNode = (p: { text: string }) => /192\.0\.2\.13\.\d+ > 192\.0\.2\.1\.179:/.test(p.text)

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN

const program = Effect.gen(function*() {
  if (process.getuid?.() !== 0) return yield* Effect.fail("bgp-latency needs root (network namespaces)")
  const missing = Netns.missingTools(["ip", "tcpdump", "vtysh", "/usr/lib/frr/bgpd"])
  if (missing.length > 0) return yield* Effect.fail(`missing tools: ${missing.join(", ")}`)

  const lab = yield* Netns.make()
  const hosts = yield* lab.lan({ rtr: 1, node3: 13 })
  yield* Routers.startFrr(lab, hosts.rtr.ns, { bgpd: Scenario.frrConfig, hostname: "bench-router" })
  const monitor = yield* lab.spawn(hosts.rtr.ns, ["ip", "monitor", "route"], { name: "ip monitor route" })
  const capture = yield* lab.capture(hosts.rtr.ns, "eth0", "tcp port 179", "bgp")

  const api = yield* Effect.acquireRelease(Effect.promise(() => startApiServer({ port: 0 })), (s) => Effect.promise(() => s.stop()))
  const crds = readdirSync(join(manifests, "crds")).filter((f) => f.startsWith("metallb.io_")).map((f) => readFileSync(join(manifests, "crds", f), "utf8"))
  api.objects.applyManifest([readFileSync(join(manifests, "namespace", "namespace.yaml"), "utf8"), ...crds].join("\n---\n"))
  const node = Scenario.labNodes.find((n) => n.name === "node3") ?? Scenario.labNodes[0]
  if (node === undefined) return yield* Effect.fail("no sandbox node")
  api.objects.applyManifest(Scenario.toYaml([
    ...Scenario.nodeObjects([node]),
    ...Scenario.bgpConfig({ address: "192.0.2.1", port: 179 }, [node], false)
  ]))

  const socket = join(lab.dir, "api.sock")
  yield* Effect.acquireRelease(
    Effect.promise(() => forward({ path: socket }, { host: "127.0.0.1", port: api.port })),
    (server) => Effect.sync(() => server.close())
  )
  const wrap = ["ip", "netns", "exec", hosts.node3.ns]
  yield* Children.start("forwarder", ["127.0.0.1", String(api.port), socket], join(lab.dir, "forward.log"), wrap, Children.forwardPath)
  yield* Effect.sleep("300 millis")
  const kubeconfig = yield* Effect.promise(() => api.kubeconfigWithToken("metallb-speaker-node3"))
  yield* Children.start("speaker", [
    "speaker", "--namespace", Scenario.namespace, "--port", "0", "--node-name", "node3", "--pod-name", "speaker-node3",
    "--kubeconfig", kubeconfig, "--disable-layer2", "--bfd-port", "0"
  ], join(lab.dir, "speaker.log"), wrap)

  const seen = (ip: string, from: number) =>
    Effect.callback<number>((resume) => {
      const check = setInterval(() => {
        const lines = monitor.stdout().slice(from)
        if (new RegExp(`^${ip.replaceAll(".", "\\.")} `, "m").test(lines)) {
          clearInterval(check)
          resume(Effect.succeed(Date.now()))
        }
      }, 1)
      return Effect.sync(() => clearInterval(check))
    })

  // The first Service also tells us the session is up; it is not a trial.
  const write = (i: number) =>
    Effect.sync(() => {
      const name = `bench-${i}`
      const ip = `203.0.113.${10 + (i % 40)}`
      api.objects.upsert({
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: { name: `${name}-x`, namespace: "default", labels: { "kubernetes.io/service-name": name } },
        addressType: "IPv4",
        endpoints: [{ addresses: ["10.244.0.10"], nodeName: "node3", conditions: { ready: true } }],
        ports: [{ port: 80, protocol: "TCP" }]
      })
      api.objects.upsert({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name, namespace: "default" },
        spec: { type: "LoadBalancer", ports: [{ port: 80, protocol: "TCP" }], selector: { app: name } }
      })
      return { name, ip }
    })
  const announce = (svc: { name: string; ip: string }) =>
    Effect.sync(() => {
      const mark = monitor.stdout().length
      const t0 = Date.now()
      api.objects.upsert({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: svc.name, namespace: "default" },
        spec: { type: "LoadBalancer", ports: [{ port: 80, protocol: "TCP" }], selector: { app: svc.name } },
        status: { loadBalancer: { ingress: [{ ip: svc.ip }] } }
      })
      return { mark, t0 }
    })
  const remove = (svc: { name: string }) =>
    Effect.sync(() => {
      api.objects.delete("v1", "Service", "default", svc.name)
      api.objects.delete("discovery.k8s.io/v1", "EndpointSlice", "default", `${svc.name}-x`)
    })

  const warm = yield* write(1000)
  const w = yield* announce(warm)
  yield* seen(warm.ip, w.mark).pipe(Effect.timeout("60 seconds"))
  yield* remove(warm)
  yield* Effect.sleep("500 millis")

  const samples: Array<number> = []
  for (let i = 0; i < trials; i++) {
    const svc = yield* write(i)
    yield* Effect.sleep("100 millis")
    const { mark, t0 } = yield* announce(svc)
    const t1 = yield* seen(svc.ip, mark).pipe(Effect.timeout("10 seconds"))
    samples.push(t1 - t0)
    yield* remove(svc)
    yield* Effect.sleep("300 millis")
  }

  yield* capture.stop
  const packets = yield* capture.read("-v")
  const text = packets.join("\n")
  // One packet = a timestamped line and its continuation lines (tcpdump -e -v prints the IP header on the next line).
  const packetsOf: Array<{ at: number; text: string }> = []
  for (const line of text.split("\n")) {
    const start = /^(\d+\.\d+) /.exec(line)
    if (start !== null) packetsOf.push({ at: Number(start[1]), text: line })
    else {
      const last = packetsOf.at(-1)
      if (last !== undefined) last.text += `\n${line}`
    }
  }
  const synAt = packetsOf.find((p) => fromNode(p) && /Flags \[S\]/.test(p.text))?.at
  const keepaliveAt = packetsOf.find((p) => fromNode(p) && /Keepalive Message/.test(p.text))?.at
  const establishMs = synAt === undefined || keepaliveAt === undefined ? Number.NaN : Math.round((keepaliveAt - synAt) * 10_000) / 10

  const sorted = samples.toSorted((a, b) => a - b)
  const p50 = percentile(sorted, 50)
  const p99 = percentile(sorted, 99)
  console.log("bgp-latency: the real speaker program, FRR 8.4 as router, in network namespaces")
  console.log(`  trials                 ${samples.length}`)
  console.log(`  service → route (FIB)  p50 ${p50} ms   p99 ${p99} ms   min ${sorted[0]} ms   max ${sorted.at(-1)} ms`)
  console.log(`  SYN → Established      ${establishMs} ms   (GoBGP waits 5–10 s before its first dial)`)
  console.log("  goals: serviceToRouteP50Ms ≤ 100, establishMs ≤ 1000")
  console.log(JSON.stringify({ bench: "bgp-latency", serviceToRouteP50Ms: p50, serviceToRouteP99Ms: p99, establishMs }))
})

const scope = await Effect.runPromise(Scope.make())
const exit = await Effect.runPromiseExit(program.pipe(Scope.provide(scope)))
await Effect.runPromise(Scope.close(scope, Exit.void))
if (Exit.isFailure(exit)) {
  console.error("bgp-latency failed:", exit.cause)
  process.exit(1)
}
