// The whole system in namespaces: the real `metallb controller` (in the api host) and three `metallb speaker`s (one
// per node namespace) against the in-memory API server (speakerLab.ts), configured with the real kubectl, and traffic
// from a client to a Service IP. In a cluster kube-proxy hands the Service IP's traffic to a pod; here each node
// accepts the Service IPs on `lo` (acceptVips, the IPVS/strictARP way) and runs a tiny server that answers with its
// node name (fixtures/node-server.ts), so a test sees which node the network delivered the traffic to.
//
// Topology (lab-harness.md §1): n1..n3 (.11-.13), the LAN client `cli` (.100) and the api host (.250) on one LAN.
// With `router`, FRR runs in `rtr` (192.0.2.1 on the LAN, 198.51.100.1 on a second link) and the client `wan`
// (198.51.100.2) sits behind it, so its traffic follows the routes FRR learnt from the speakers. The peer address of
// manifests/examples/bgp*.yaml, 198.51.100.1, is the router's far side: the nodes reach it through 192.0.2.1.
import { Duration, Effect, type Scope } from "effect"
import { writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import type { JsonObject } from "../../../src/testing/apiserver/Json.ts"
import { type KubectlResult, runKubectl } from "../../../src/testing/Kubectl.ts"
import { acceptVips } from "../../../src/testing/L2Node.ts"
import * as Netns from "../../../src/testing/Netns.ts"
import * as Routers from "../../../src/testing/Routers.ts"
import { eventually, notYet } from "../bgpLab.ts"
import * as SpeakerLab from "../speakerLab.ts"

export const NS = SpeakerLab.NS
export const root = resolve(fileURLToPath(new URL("../../..", import.meta.url)))
export const manifest = (path: string) => join(root, "manifests", path)
const serverFixture = fileURLToPath(new URL("fixtures/node-server.ts", import.meta.url))
const udpFixture = fileURLToPath(new URL("fixtures/udp-ask.ts", import.meta.url))

export const nodes = { n1: 11, n2: 12, n3: 13 } as const
export type NodeName = keyof typeof nodes
export const nodeNames = Object.keys(nodes) as ReadonlyArray<NodeName>
/** The speakers' metrics port (each node namespace has its own port space). */
export const METRICS_PORT = 7472
// Generous: other suites may load the 2 cores heavily, and a Node program then takes many seconds to start.
const STARTUP = "60 seconds"
/** How long a test waits for a state to be reached (a timeout says what it saw last). */
export const WAIT = "45 seconds"

export interface E2eOptions {
  /** bgpd.conf body for FRR in `rtr`; starts the router and the client behind it. */
  readonly router?: string
  /** Ports the node servers answer on (TCP and UDP); default 80. */
  readonly ports?: ReadonlyArray<number>
}

export interface E2eLab {
  readonly l: SpeakerLab.SpeakerLab<NodeName>
  /** The LAN client's namespace. */
  readonly cli: string
  /** The namespace of the client behind the router (with `router`). */
  readonly wan: string
  readonly frr: Routers.Frr | undefined
  readonly controller: Netns.LabProcess
  readonly speakers: Record<NodeName, Netns.LabProcess>
  /** kubectl against the API server; fails with its stderr on a non-zero exit. */
  readonly kubectl: (...args: ReadonlyArray<string>) => Effect.Effect<string, Netns.LabError>
  /** Waits until `kubectl get svc` shows the Service's EXTERNAL-IP(s), then makes every node accept them. */
  readonly externalIps: (service: string) => Effect.Effect<ReadonlyArray<string>, Netns.LabError>
  /** The node name an HTTP GET of http://IP:PORT/ from `ns` answers with (curl), or undefined. */
  readonly http: (ns: string, ip: string, port?: number) => Effect.Effect<NodeName | undefined, Netns.LabError>
  /** The node name a UDP datagram to IP:PORT from `ns` is answered with, or undefined. */
  readonly udp: (ns: string, ip: string, port: number) => Effect.Effect<NodeName | undefined, Netns.LabError>
  /** Waits for an HTTP answer from `ns` to http://IP:PORT/ and returns the answering node. */
  readonly reach: (ns: string, ip: string, port?: number) => Effect.Effect<NodeName, Netns.LabError>
  /** Waits until the Service has one ServiceL2Status whose node answers ARP for `ip`, unchanged for `stableFor`. */
  readonly l2Owner: (service: string, ip: string, stableFor?: Duration.Input) => Effect.Effect<NodeName, Netns.LabError>
  /** Waits until FRR's next hops for `ip`/32 are exactly `expected` (sorted node addresses). */
  readonly nexthops: (ip: string, expected: ReadonlyArray<NodeName>) => Effect.Effect<void, Netns.LabError>
  /** The node whose MAC answers ARP for `ip` at the LAN client, or undefined. */
  readonly arpOwner: (ip: string) => Effect.Effect<NodeName | undefined, Netns.LabError>
  /** The nodes of the Service's ServiceL2Status objects (status.node). */
  readonly l2Nodes: (service: string) => ReadonlyArray<string>
  /** `reason: message` of the Events on a Service in `default`. */
  readonly events: (service: string) => ReadonlyArray<string>
  /** The speaker's /metrics text, read inside the node's namespace. */
  readonly metrics: (node: NodeName) => Effect.Effect<string, Netns.LabError>
  /** Node upsert with labels and the NetworkUnavailable condition. */
  readonly setNode: (node: NodeName, labels?: Record<string, string>, networkUnavailable?: boolean) => Effect.Effect<void>
  /** FRR's paths for `prefix` (with `router`). */
  readonly paths: (prefix: string) => Effect.Effect<ReadonlyArray<Routers.FrrPath>, Netns.LabError>
}

const asNode = (text: string | undefined): NodeName | undefined => {
  const t = text?.trim()
  return nodeNames.find((n) => n === t)
}

const byMac = (mac: string | undefined) => nodeNames.find((n) => Netns.hostMac(nodes[n]) === mac)

const http = (ns: string, ip: string, port = 80) =>
  Netns.nsExec(ns, ["curl", "-s", "--max-time", "2", `http://${ip.includes(":") ? `[${ip}]` : ip}:${port}/`], { allowFailure: true })
    .pipe(Effect.map((r) => (r.code === 0 ? asNode(r.stdout) : undefined)))

export const make = (options: E2eOptions = {}): Effect.Effect<E2eLab, Netns.LabError, Scope.Scope> =>
  Effect.gen(function*() {
    const l = yield* SpeakerLab.make(nodes, { cli: 100, rtr: 1 })
    const { lab } = l
    const rtr = l.others.rtr.ns
    const wan = yield* lab.addNamespace("wan")
    yield* lab.link({ ns: rtr, iface: "eth1" }, { ns: wan, iface: "eth0" })
    yield* lab.exec(rtr, ["ip", "addr", "add", "198.51.100.1/24", "dev", "eth1"])
    yield* lab.exec(wan, ["ip", "addr", "add", "198.51.100.2/24", "dev", "eth0"])
    yield* lab.exec(wan, ["ip", "route", "add", "default", "via", "198.51.100.1"])
    // Hash flows on ports too, so that connections from the one client spread over the ECMP next hops.
    yield* lab.exec(rtr, ["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.fib_multipath_hash_policy=1"])
    for (const n of nodeNames) yield* lab.exec(l.hosts[n].ns, ["ip", "route", "add", "198.51.100.0/24", "via", "192.0.2.1"])
    const frr = options.router === undefined ? undefined : yield* Routers.startFrr(lab, rtr, { bgpd: options.router })

    // Everything below starts at once: a Node program takes a second or two to start on a busy 2-core machine.
    const ports = (options.ports ?? [80]).map(String)
    const servers = yield* Effect.forEach(nodeNames, (n) =>
      lab.spawn(l.hosts[n].ns, [process.execPath, serverFixture, n, ...ports], { name: `server ${n}` }))
    const controller = yield* lab.spawn(l.hosts.api.ns, [
      process.execPath,
      join(root, "src/cli/main.ts"),
      "controller",
      "--namespace", NS,
      "--kubeconfig", l.kubeconfig,
      "--webhook-mode", "disabled",
      "--port", String(METRICS_PORT),
      "--health-probe-port", "0",
      "--log-level", "debug"
    ], { name: "controller" })
    // MetalLB's own timing (200 ms heartbeats, dead after 800 ms): the fast lab profile's 200 ms would count a
    // node dead over a scheduling hiccup of a loaded 2-core machine, and these tests measure no failover time.
    const started = yield* Effect.forEach(nodeNames, (n) => l.startSpeaker(n, ["--port", String(METRICS_PORT)], { startupTimeout: STARTUP }), {
      concurrency: "unbounded"
    })
    yield* controller.waitFor(/"event":"startup"/, { timeout: STARTUP })
    for (const server of servers) yield* server.waitFor(/listening/, { timeout: STARTUP })
    // As in a running cluster, the speakers know each other before the first Service arrives: otherwise each
    // counts only itself for a moment and all of them announce it at once.
    for (const p of started) yield* p.waitFor(/"event":"l2Candidates","interface":"eth0","candidates":"n1,n2,n3"/, { timeout: STARTUP })
    const speakers = Object.fromEntries(nodeNames.map((n, i) => [n, started[i]])) as Record<NodeName, Netns.LabProcess>
    // The programs' logs land in the work directory, which a failing test keeps (LAB_KEEP=1 keeps it always).
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const p of [controller, ...started]) writeFileSync(join(lab.dir, `${p.name.replace(" ", "-")}.log`), p.stdout() + p.stderr())
      }))

    const kubectl = (...args: ReadonlyArray<string>) =>
      Effect.promise((): Promise<KubectlResult> => runKubectl(l.server.kubeconfigPath, lab.dir, args)).pipe(
        Effect.flatMap((r) =>
          r.code === 0
            ? Effect.succeed(r.stdout)
            : Effect.fail(new Netns.LabError({ command: `kubectl ${args.join(" ")}`, reason: `exit ${r.code}: ${r.stderr.trim()}` }))
        )
      )

    const accepted = new Set<string>()
    const externalIps = (service: string) =>
      Effect.gen(function*() {
        const ips = yield* eventually(`kubectl get svc ${service} shows the EXTERNAL-IP`, Effect.gen(function*() {
          const out = yield* kubectl("get", "svc", service, "--no-headers")
          const external = out.trim().split(/\s+/)[3]
          return external === undefined || external === "<pending>" ? yield* notYet(`kubectl get svc: ${out.trim()}`) : external.split(",")
        }), WAIT)
        const fresh = ips.filter((ip) => !accepted.has(ip))
        for (const ip of fresh) accepted.add(ip)
        // kube-proxy's part: every node takes the Service IP's traffic.
        if (fresh.length > 0) for (const n of nodeNames) yield* acceptVips(l.hosts[n].ns, fresh)
        return ips
      })

    const arpOwner = (ip: string) =>
      Netns.nsExec(l.others.cli.ns, ["arping", "-i", "eth0", "-c", "1", "-w", "1", ip], { allowFailure: true }).pipe(
        Effect.map((r) => byMac(/from ([0-9a-f:]{17})/i.exec(r.stdout)?.[1]?.toLowerCase()))
      )
    const l2Nodes = (service: string) =>
      l.list("ServiceL2Status")
        .filter((o) => (o["status"] as { serviceName?: string } | undefined)?.serviceName === service)
        .map((o) => String((o["status"] as { node?: string }).node))
    const paths = (prefix: string) =>
      frr === undefined
        ? Effect.fail(new Netns.LabError({ command: "paths", reason: "no router in this lab" }))
        : Routers.frrPaths(frr, prefix)

    return {
      l,
      cli: l.others.cli.ns,
      wan,
      frr,
      controller,
      speakers,
      kubectl,
      externalIps,
      http,
      udp: (ns, ip, port) =>
        Netns.nsExec(ns, [process.execPath, udpFixture, ip, String(port)], { allowFailure: true })
          .pipe(Effect.map((r) => (r.code === 0 ? asNode(r.stdout) : undefined))),
      reach: (ns, ip, port = 80) =>
        eventually(`HTTP to ${ip}:${port}`, Effect.flatMap(http(ns, ip, port), (node) => (node === undefined ? notYet("no answer") : Effect.succeed(node))), WAIT),
      l2Owner: (service, ip, stableFor = "2 seconds") =>
        stable(`${service}: one ServiceL2Status naming the node that answers ARP for ${ip}`, Effect.gen(function*() {
          const statuses = l2Nodes(service)
          const arp = yield* arpOwner(ip)
          return statuses.length === 1 && statuses[0] === arp ? arp : yield* notYet(`statuses ${statuses.join(",") || "none"}, ARP ${arp ?? "no answer"}`)
        }), stableFor),
      nexthops: (ip, expected) =>
        Effect.asVoid(eventually(`next hops of ${ip}/32: ${expected.join(",") || "none"}`, Effect.gen(function*() {
          const ps = yield* paths(`${ip}/32`)
          const seen = ps.map((p) => p.nexthop ?? "?").toSorted()
          const wanted = expected.map((n) => `192.0.2.${nodes[n]}`).toSorted()
          return JSON.stringify(seen) === JSON.stringify(wanted) && ps.every((p) => p.multipath || ps.length === 1)
            ? true
            : yield* notYet(`next hops ${seen.join(",") || "none"}`)
        }), WAIT)),
      arpOwner,
      l2Nodes,
      events: (service) =>
        l.server.objects.list("v1", "Event", "default")
          .filter((e) => (e["involvedObject"] as { name?: string } | undefined)?.name === service)
          .map((e) => `${String(e["reason"])}: ${String(e["message"])}`),
      metrics: (node) =>
        Netns.nsExec(l.hosts[node].ns, ["curl", "-s", "--max-time", "2", `http://127.0.0.1:${METRICS_PORT}/metrics`]).pipe(
          Effect.map((r) => r.stdout)
        ),
      setNode: (node, labels = {}, networkUnavailable = false) =>
        l.upsert({
          apiVersion: "v1",
          kind: "Node",
          metadata: { name: node, labels: { "kubernetes.io/hostname": node, ...labels } },
          status: {
            conditions: [{ type: "NetworkUnavailable", status: networkUnavailable ? "True" : "False", reason: "Test", message: "" }]
          }
        }),
      paths
    } satisfies E2eLab
  })

/** The endpoints controller's part: an EndpointSlice for `service` with one ready pod on each of the nodes. */
export const endpoints = SpeakerLab.endpoints
export const pool = SpeakerLab.pool

export const advertisement = (
  kind: "BGPAdvertisement" | "L2Advertisement",
  name: string,
  pools: ReadonlyArray<string>,
  nodeSelectors?: ReadonlyArray<JsonObject>
): JsonObject => ({
  apiVersion: "metallb.io/v1beta1",
  kind,
  metadata: { name, namespace: NS },
  spec: { ipAddressPools: [...pools], ...(nodeSelectors === undefined ? {} : { nodeSelectors: [...nodeSelectors] }) }
})

/** A LoadBalancer Service in `default` (one TCP port 80 unless `ports` says otherwise). */
export const service = (
  name: string,
  options: {
    readonly ports?: ReadonlyArray<{ readonly name: string; readonly port: number; readonly protocol: "TCP" | "UDP" }>
    readonly local?: boolean
    readonly annotations?: Record<string, string>
  } = {}
): JsonObject => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: "default", annotations: options.annotations ?? {} },
  spec: {
    type: "LoadBalancer",
    selector: { app: name },
    ports: options.ports ?? [{ name: "http", port: 80, protocol: "TCP" }],
    ...(options.local === true ? { externalTrafficPolicy: "Local" } : {})
  }
})

/** Waits until `check` holds for `duration` in a row (a state that merely passes through does not count). */
const stable = <A>(what: string, check: Effect.Effect<A | undefined, Netns.LabError>, duration: Duration.Input, timeout: Duration.Input = WAIT) =>
  eventually(what, Effect.gen(function*() {
    const first = yield* check
    if (first === undefined) return undefined
    const until = Date.now() + Duration.toMillis(Duration.fromInputUnsafe(duration))
    while (Date.now() < until) {
      const again = yield* check
      if (JSON.stringify(again) !== JSON.stringify(first)) return yield* notYet(`${JSON.stringify(first)} became ${JSON.stringify(again)}`)
      yield* Effect.sleep("200 millis")
    }
    return first
  }), timeout)
