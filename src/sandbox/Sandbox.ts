/**
 * The sandbox: MetalLB's walkthrough on an embedded cluster. It starts the in-memory API server, a BGP router, the
 * controller and three speakers (node3, node4, node5) as child processes, applies a BGP configuration and the
 * walkthrough's nginx Service, and shows the Service getting its external IP, the router's view of BGP (three
 * sessions, one prefix with three paths) and the speakers' logs.
 *
 * Loopback mode (no root needed): the API server and the router listen on 127.0.0.1; each speaker's session leaves
 * from its own loopback address (127.0.0.3/.4/.5, BGPPeer `sourceAddress`), so the router sees three peers. The
 * router is the project's own {@link BgpRouter}: FRR rejects 127/8 next hops as martians, and on loopback the speakers
 * have no other address to announce with. Layer 2 is off (the speakers run with --disable-layer2).
 *
 * Namespaces mode (root): the lab kit builds a LAN (router, node3-5, client on a bridge, lab-harness.md §1), FRR runs
 * in the router namespace, each speaker in its node namespace with layer 2 on, and the client sends an ARP request
 * for a second Service's layer 2 IP that the owning node answers. The API server stays in the sandbox process; the
 * node namespaces reach it through a forwarder over a Unix socket (Forward.ts).
 *
 * @since 0.1.0
 */
import { Cause, Duration, Effect, Exit, Schema, type Scope, Stream } from "effect"
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as BgpRouter from "../testing/BgpRouter.ts"
import { type ApiServer, startApiServer } from "../testing/InMemoryApiServer.ts"
import { kubectlPath, runKubectl } from "../testing/Kubectl.ts"
import * as Netns from "../testing/Netns.ts"
import * as Routers from "../testing/Routers.ts"
import * as Children from "./Children.ts"
import { forward } from "./Forward.ts"
import * as Scenario from "./Scenario.ts"

export class SandboxError extends Schema.TaggedError<SandboxError>()("SandboxError", {
  message: Schema.String
}) {}

export interface SandboxOptions {
  /** Run the scenario, print the summary line and return (otherwise keep running until interrupted). */
  readonly once: boolean
  /** API server port (0: a free port). */
  readonly apiPort: number
  /** API server state file: a restarted sandbox finds its objects again. */
  readonly stateFile: string | undefined
  /** Build network namespaces (needs root, FRR and arping) instead of running on loopback. */
  readonly namespaces: boolean
  /** How long to wait for everything to come up. */
  readonly timeout: Duration.Duration
  /** Where the walkthrough goes (stdout in the CLI). */
  readonly print: (text: string) => void
}

/** The final line of `--once`. */
export interface SandboxSummary {
  readonly sandbox: "ok" | "failed"
  readonly reason?: string
  readonly mode: "loopback" | "namespaces"
  readonly router: "BgpRouter" | "FRR"
  readonly externalIP: string | null
  readonly bgpSessions: number
  readonly paths: number
  readonly l2Owner: string | null
  readonly apiServer: string
  readonly kubeconfig: string
  readonly elapsedMs: number
}

const manifestsDir = fileURLToPath(new URL("../../manifests/", import.meta.url))

/** The metallb.io CRDs and the namespace, as the install manifests define them. */
const installManifests = (): string =>
  [
    readFileSync(join(manifestsDir, "namespace", "namespace.yaml"), "utf8"),
    ...readdirSync(join(manifestsDir, "crds"))
      .filter((f) => f.startsWith("metallb.io_") && f.endsWith(".yaml"))
      .toSorted()
      .map((f) => readFileSync(join(manifestsDir, "crds", f), "utf8"))
  ].join("\n---\n")

const externalIpOf = (api: ApiServer): string | undefined => {
  const svc = api.objects.get("v1", "Service", "default", "nginx") as
    | { status?: { loadBalancer?: { ingress?: ReadonlyArray<{ ip?: string }> } } }
    | undefined
  return svc?.status?.loadBalancer?.ingress?.[0]?.ip
}

interface Progress {
  readonly externalIP: string | undefined
  readonly established: number
  readonly paths: number
}

const expected = 3

const done = (p: Progress): boolean => p.externalIP !== undefined && p.established === expected && p.paths === expected

const whatIsMissing = (p: Progress, seconds: number): string =>
  p.externalIP === undefined
    ? `default/nginx has no external IP after ${seconds}s (is the controller running? see its log)`
    : p.established < expected
    ? `${p.established} of ${expected} BGP sessions Established after ${seconds}s (see the speakers' logs)`
    : `${p.externalIP}/32 has ${p.paths} of ${expected} paths at the router after ${seconds}s`

/** What differs between the modes: where the router and the speakers run and how to look at them. */
interface World {
  readonly mode: SandboxSummary["mode"]
  readonly router: SandboxSummary["router"]
  readonly nodes: ReadonlyArray<Scenario.SandboxNode>
  readonly banner: ReadonlyArray<string>
  /** The MetalLB configuration for this world. */
  readonly objects: ReadonlyArray<Record<string, unknown>>
  /** Flags for every speaker, and the argv prefix that puts it into its node's namespace. */
  readonly speakerFlags: ReadonlyArray<string>
  readonly wrap: (node: Scenario.SandboxNode) => ReadonlyArray<string>
  readonly sessions: (ip: string | undefined) => Effect.Effect<{ readonly established: number; readonly paths: number }>
  readonly summary: Effect.Effect<string>
  readonly routes: Effect.Effect<string>
  readonly summaryCommand: string
  readonly routesCommand: string
  /** Layer 2 (namespaces mode): who answers ARP for `ip`, and the arping output. */
  readonly arp: ((ip: string) => Effect.Effect<{ readonly owner: string | undefined; readonly output: string }>) | undefined
  readonly changes: Stream.Stream<string>
}

const loopbackWorld = (): Effect.Effect<World, SandboxError, Scope.Scope> =>
  Effect.gen(function*() {
    // BGPPeer.spec.peerPort is at most 16384 (MetalLB's CRD): pick a free port below that, retrying on collisions.
    const router = yield* Effect.suspend(() =>
      BgpRouter.make({
        asn: Scenario.routerAsn,
        routerId: Scenario.routerId,
        host: "127.0.0.1",
        port: 10179 + Math.floor(Math.random() * 6000),
        peers: Scenario.loopbackNodes.map((n) => ({ address: n.address, asn: Scenario.nodeAsn })),
        acceptLoopbackNextHops: true
      })
    ).pipe(
      Effect.retry({ times: 20 }),
      Effect.mapError((e) => new SandboxError({ message: e.message }))
    )
    const nodes = Scenario.loopbackNodes
    return {
      mode: "loopback",
      router: "BgpRouter",
      nodes,
      banner: [
        "metallb-ts sandbox (loopback mode: no namespaces, BGP only)",
        `  router       BgpRouter on 127.0.0.1:${router.port}, AS ${Scenario.routerAsn}, router id ${Scenario.routerId}`,
        `  nodes        ${nodes.map((n) => `${n.name} (${n.address})`).join(", ")}, AS ${Scenario.nodeAsn}`
      ],
      objects: Scenario.bgpConfig({ address: "127.0.0.1", port: router.port }, nodes, true),
      speakerFlags: ["--listen-address", "127.0.0.1", "--disable-layer2"],
      wrap: () => [],
      sessions: (ip) =>
        Effect.map(router.snapshot, (s) => ({
          established: s.sessions.filter((x) => x.state === "Established").length,
          paths: ip === undefined ? 0 : s.routes.find((r) => r.prefix === `${ip}/32`)?.paths.length ?? 0
        })),
      summary: router.summary,
      routes: router.routes(4),
      summaryCommand: "show bgp summary   (the router)",
      routesCommand: "show bgp ipv4 unicast   (the router)",
      arp: undefined,
      changes: router.changes.pipe(
        Stream.map((c) =>
          c._tag === "SessionChanged"
            ? `session ${c.peer} ${c.state}${c.reason === undefined ? "" : ` (${c.reason})`}`
            : c._tag === "PathChanged"
            ? `path ${c.prefix} via ${c.path.nextHop} from ${c.peer}${c.path.stale ? " (stale)" : ""}`
            : c._tag === "PathWithdrawn"
            ? `withdrawn ${c.prefix} from ${c.peer}`
            : `End-of-RIB ${c.family} from ${c.peer}`
        )
      )
    } satisfies World
  })


/** The tools the namespaces mode needs; empty when it can run. */
export const namespacesProblem = (): string | undefined => {
  if (process.getuid?.() !== 0) return "namespaces mode needs root"
  const missing = Netns.missingTools(["ip", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "vtysh", "arping"])
  return missing.length > 0 ? `namespaces mode needs ${missing.join(", ")} (apt-get install iproute2 frr arping)` : undefined
}

const labError = (e: Netns.LabError) => new SandboxError({ message: e.message })

const namespacesWorld = (api: ApiServer, dir: string): Effect.Effect<World, SandboxError, Scope.Scope> =>
  Effect.gen(function*() {
    // The lab keeps its work directory when its scope ends in failure, and Ctrl-C is an interrupt: remove it then too.
    let labDir: string | undefined
    yield* Effect.addFinalizer((exit) =>
      Effect.sync(() => {
        if (labDir !== undefined && (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause))) rmSync(labDir, { recursive: true, force: true })
      })
    )
    const lab = yield* Netns.make().pipe(Effect.mapError(labError))
    labDir = lab.dir
    const hosts = yield* lab.lan({ rtr: 1, node3: 13, node4: 14, node5: 15, cli: 100 }).pipe(Effect.mapError(labError))
    const frr = yield* Routers.startFrr(lab, hosts.rtr.ns, { name: "frr", hostname: "sandbox-router", bgpd: Scenario.frrConfig }).pipe(
      Effect.mapError(labError)
    )
    // The node namespaces reach the API server through a Unix socket (see Forward.ts).
    const socket = join(dir, "api.sock")
    yield* Effect.acquireRelease(
      Effect.promise(() => forward({ path: socket }, { host: "127.0.0.1", port: api.port })),
      (server) => Effect.sync(() => server.close())
    )
    const nodes = Scenario.labNodes
    const nsOf = (node: Scenario.SandboxNode) => lab.ns(node.name)
    for (const node of nodes) {
      const child = yield* Children.start(`forwarder ${node.name}`, ["127.0.0.1", String(api.port), socket], join(dir, `forward-${node.name}.log`), [
        "ip",
        "netns",
        "exec",
        nsOf(node)
      ], Children.forwardPath)
      yield* Effect.sleep("50 millis").pipe(Effect.repeat({ until: () => child.tail(1).join("").includes("forwarding") || child.exited() !== undefined, times: 100 }))
    }
    const macs = new Map(nodes.map((n) => [Netns.hostMac(Number(n.address.split(".")[3])), n.name]))
    const arpingBin = "arping"
    return {
      mode: "namespaces",
      router: "FRR",
      nodes,
      banner: [
        "metallb-ts sandbox (namespaces mode: a LAN of network namespaces, BGP and layer 2)",
        `  namespaces   ${lab.prefix}-*: rtr 192.0.2.1 (FRR, AS ${Scenario.routerAsn}), node3-5 192.0.2.13-15, cli 192.0.2.100, bridge in ${lab.ns("sw")}`,
        `  router       vtysh --vty_socket ${join(frr.dir, "run")} -c 'show bgp summary'`
      ],
      objects: [...Scenario.bgpConfig({ address: "192.0.2.1", port: 179 }, nodes, false), ...Scenario.l2Config(nodes)],
      speakerFlags: ["--l2-profile", "fast"],
      wrap: (node) => ["ip", "netns", "exec", nsOf(node)],
      sessions: (ip) =>
        Effect.gen(function*() {
          const summary = yield* frr.json<{ ipv4Unicast?: { peers?: Record<string, { state?: string }> } }>("show bgp summary")
          const established = Object.values(summary.ipv4Unicast?.peers ?? {}).filter((p) => p.state === "Established").length
          const paths = ip === undefined ? [] : yield* Routers.frrPaths(frr, `${ip}/32`)
          return { established, paths: paths.length }
        }).pipe(Effect.orElseSucceed(() => ({ established: 0, paths: 0 }))),
      summary: frr.vtysh("show bgp summary").pipe(Effect.orElseSucceed(() => "(vtysh failed)")),
      routes: frr.vtysh("show bgp ipv4 unicast").pipe(Effect.orElseSucceed(() => "(vtysh failed)")),
      summaryCommand: "vtysh -c 'show bgp summary'   (FRR in the router namespace)",
      routesCommand: "vtysh -c 'show bgp ipv4 unicast'",
      arp: (ip) =>
        lab.exec(hosts.cli.ns, [arpingBin, "-i", "eth0", "-c", "1", "-w", "1", ip], { allowFailure: true }).pipe(
          Effect.map((r) => {
            const mac = /from ([0-9a-f:]{17})/i.exec(r.stdout)?.[1]?.toLowerCase()
            return { owner: mac === undefined ? undefined : macs.get(mac) ?? mac, output: `${r.stdout}${r.stderr}` }
          }),
          Effect.orElseSucceed(() => ({ owner: undefined, output: "arping failed to run" }))
        ),
      changes: Stream.never
    } satisfies World
  })

const l2IpOf = (api: ApiServer): string | undefined => {
  const svc = api.objects.get("v1", "Service", "default", "nginx-l2") as
    | { status?: { loadBalancer?: { ingress?: ReadonlyArray<{ ip?: string }> } } }
    | undefined
  return svc?.status?.loadBalancer?.ingress?.[0]?.ip
}


/** `kubectl get svc` as kubectl prints it when kubectl is installed; otherwise the same columns from the store. */
const serviceTable = (api: ApiServer, dir: string): Effect.Effect<string> =>
  Effect.promise(async () => {
    if (kubectlPath !== undefined) {
      const r = await runKubectl(api.kubeconfigPath, dir, ["get", "svc", "-o", "wide"])
      if (r.code === 0) return r.stdout
    }
    const svc = api.objects.get("v1", "Service", "default", "nginx") as
      | { spec?: { type?: string; clusterIP?: string; ports?: ReadonlyArray<{ port?: number; protocol?: string }> } }
      | undefined
    const rows = [
      ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)"],
      [
        "nginx",
        svc?.spec?.type ?? "",
        svc?.spec?.clusterIP ?? "<none>",
        externalIpOf(api) ?? "<pending>",
        (svc?.spec?.ports ?? []).map((p) => `${p.port ?? ""}/${p.protocol ?? "TCP"}`).join(",")
      ]
    ]
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? []
    return `${rows.map((r) => r.map((c, i) => c.padEnd((widths[i] ?? 0) + 3)).join("").trimEnd()).join("\n")}\n`
  })

const indent = (text: string): string => text.trimEnd().split("\n").map((l) => `    ${l}`).join("\n")

/** Runs the sandbox; in `once` mode returns the summary, otherwise runs until interrupted. */
export const run = (options: SandboxOptions): Effect.Effect<SandboxSummary, SandboxError, Scope.Scope> =>
  Effect.gen(function*() {
    const started = Date.now()
    const say = (text: string) => Effect.sync(() => options.print(text.endsWith("\n") ? text : `${text}\n`))
    const dir = mkdtempSync(join(tmpdir(), "metallb-sandbox-"))
    chmodSync(dir, 0o755)
    let keepDir = false
    yield* Effect.addFinalizer(() => Effect.sync(() => keepDir || rmSync(dir, { recursive: true, force: true })))

    const api = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => startApiServer({ port: options.apiPort, ...(options.stateFile === undefined ? {} : { stateFile: options.stateFile }) }),
        catch: (e) => new SandboxError({ message: `cannot start the API server on port ${options.apiPort}: ${String(e)}` })
      }),
      (server) => Effect.promise(() => server.stop())
    )
    const world = options.namespaces ? yield* namespacesWorld(api, dir) : yield* loopbackWorld()
    yield* say(
      [
        world.banner[0] ?? "",
        `  API server   ${api.url}   (kubeconfig ${api.kubeconfigPath})`,
        ...world.banner.slice(1),
        `  logs         ${dir}`
      ].join("\n")
    )

    yield* Effect.try({
      try: () => {
        api.objects.applyManifest(installManifests())
        api.objects.applyManifest(Scenario.toYaml([...Scenario.nodeObjects(world.nodes), ...world.objects]))
        api.objects.applyManifest(readFileSync(join(manifestsDir, "tutorial-2.yaml"), "utf8"), "default")
        api.objects.applyManifest(Scenario.toYaml([Scenario.endpointsFor("nginx", world.nodes)]))
      },
      catch: (e) => new SandboxError({ message: `cannot apply the sandbox objects: ${e instanceof Error ? e.message : String(e)}` })
    })
    const kinds = world.objects.map((o) => `${String(o["kind"])} ${String((o["metadata"] as { name?: string } | undefined)?.name ?? "")}`)
    yield* say(`applied: metallb.io CRDs, ${world.nodes.length} Nodes, ${kinds.join(", ")}, manifests/tutorial-2.yaml, a ready EndpointSlice for nginx`)

    const kubeconfig = (token: string) =>
      Effect.tryPromise({ try: () => api.kubeconfigWithToken(token), catch: (e) => new SandboxError({ message: `kubeconfig: ${String(e)}` }) })
    // Port 0 everywhere: metrics off, health and BFD on a port the kernel picks (logged at startup), so nothing the
    // sandbox picks ahead can be taken by another process before the child binds it.
    const common = ["--namespace", Scenario.namespace, "--port", "0", "--health-probe-port", "0"]
    const controller = yield* Children.start(
      "controller",
      [
        "controller",
        ...common,
        // The sandbox's API server does not call admission webhooks.
        "--webhook-mode",
        "disabled",
        "--listen-address",
        "127.0.0.1",
        "--kubeconfig",
        yield* kubeconfig("metallb-controller"),
        "--pod-name",
        "controller-sandbox"
      ],
      join(dir, "controller.log")
    )
    const speakers: Array<Children.Child> = []
    for (const node of world.nodes) {
      speakers.push(
        yield* Children.start(
          `speaker ${node.name}`,
          [
            "speaker",
            ...common,
            ...world.speakerFlags,
            "--node-name",
            node.name,
            "--pod-name",
            `speaker-${node.name}`,
            "--kubeconfig",
            yield* kubeconfig(`metallb-speaker-${node.name}`),
            "--bfd-port",
            "0"
          ],
          join(dir, `speaker-${node.name}.log`),
          world.wrap(node)
        )
      )
    }
    const children = [controller, ...speakers]
    yield* say(`started: controller (pid ${controller.pid ?? "?"}), ${speakers.map((s) => `${s.name} (pid ${s.pid ?? "?"})`).join(", ")}`)

    // Wait for the walkthrough's end state, or the first child that dies, or the timeout.
    const seconds = Math.round(Duration.toMillis(options.timeout) / 1000)
    let progress: Progress = { externalIP: undefined, established: 0, paths: 0 }
    let failure: string | undefined
    const deadline = Date.now() + Duration.toMillis(options.timeout)
    const deadChild = () => {
      const dead = children.find((c) => c.exited() !== undefined)
      return dead === undefined ? undefined : `${dead.name} stopped (${dead.exited() ?? ""}): ${dead.tail(3).join(" | ")}`
    }
    for (;;) {
      const externalIP = externalIpOf(api)
      progress = { externalIP, ...(yield* world.sessions(externalIP)) }
      if (done(progress)) break
      failure = deadChild() ?? (Date.now() > deadline ? whatIsMissing(progress, seconds) : undefined)
      if (failure !== undefined) break
      yield* Effect.sleep("200 millis")
    }

    // Layer 2 (namespaces mode): the client asks who has the second Service's IP; the owning node answers.
    let l2Owner: string | undefined
    let arpOutput: string | undefined
    let l2IP: string | undefined
    if (world.arp !== undefined && failure === undefined) {
      for (;;) {
        l2IP = l2IpOf(api)
        if (l2IP !== undefined) {
          const answer = yield* world.arp(l2IP)
          arpOutput = answer.output
          l2Owner = answer.owner
          if (l2Owner !== undefined) break
        }
        failure = deadChild() ??
          (Date.now() > deadline
            ? l2IP === undefined
              ? `default/nginx-l2 has no external IP after ${seconds}s`
              : `nobody answered ARP for ${l2IP} within ${seconds}s`
            : undefined)
        if (failure !== undefined) break
        yield* Effect.sleep("200 millis")
      }
    }

    const kc = api.kubeconfigPath
    yield* say(`\n$ kubectl get svc -o wide\n${indent(yield* serviceTable(api, dir))}`)
    yield* say(`\n$ ${world.summaryCommand}\n${indent(yield* world.summary)}`)
    yield* say(`\n$ ${world.routesCommand}\n${indent(yield* world.routes)}`)
    if (arpOutput !== undefined && l2IP !== undefined) {
      yield* say(`\n$ arping -i eth0 -c 1 ${l2IP}   (from the client namespace; layer 2 owner: ${l2Owner ?? "none"})\n${indent(arpOutput)}`)
    }
    for (const speaker of speakers) yield* say(`\n$ tail -n 3 ${speaker.logFile}\n${indent(speaker.tail(3).join("\n"))}`)
    if (failure !== undefined) yield* say(`\n$ tail -n 5 ${controller.logFile}\n${indent(controller.tail(5).join("\n"))}`)
    yield* say(
      [
        "",
        "Try it (kubectl against the sandbox's API server, while it runs):",
        `  export KUBECONFIG=${kc}`,
        "  kubectl get svc -A",
        `  kubectl get ipaddresspools,bgppeers,bgpadvertisements,l2advertisements -n ${Scenario.namespace}`,
        `  kubectl get servicebgpstatuses,servicel2statuses -n ${Scenario.namespace}`,
        "  kubectl describe svc nginx",
        `  kubectl get configurationstates -n ${Scenario.namespace} -o yaml`
      ].join("\n")
    )

    const summary: SandboxSummary = {
      sandbox: failure === undefined ? "ok" : "failed",
      ...(failure === undefined ? {} : { reason: failure }),
      mode: world.mode,
      router: world.router,
      externalIP: progress.externalIP ?? null,
      bgpSessions: progress.established,
      paths: progress.paths,
      l2Owner: l2Owner ?? null,
      apiServer: api.url,
      kubeconfig: kc,
      elapsedMs: Date.now() - started
    }
    if (failure !== undefined) {
      keepDir = true
      yield* say(`\nsandbox failed: ${failure}\n(logs kept in ${dir})`)
    }
    if (options.once) return summary
    yield* say("\nThe sandbox runs until Ctrl-C.")
    return yield* world.changes.pipe(
      Stream.runForEach((line) => say(`  ${line}`)),
      Effect.andThen(Effect.never)
    )
  })
