/**
 * The sandbox: MetalLB's walkthrough on an embedded cluster. It starts the in-memory API server, a BGP router, the
 * controller and three speakers (node3, node4, node5) as child processes, applies a BGP configuration and the
 * walkthrough's nginx Service, and shows the Service getting its external IP, the router's view of BGP (three
 * sessions, one prefix with three paths) and the speakers' logs.
 *
 * Loopback mode (no root needed): the API server and the router listen on 127.0.0.1; each speaker's session leaves
 * from its own loopback address (127.0.0.3/.4/.5, BGPPeer `sourceAddress`), so the router sees three peers. The
 * router is the project's own {@link BgpRouter}: FRR rejects 127/8 next hops as martians, and on loopback the speakers
 * have no other address to announce with.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Schema, type Scope, Stream } from "effect"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as BgpRouter from "../testing/BgpRouter.ts"
import type { RouterSnapshot } from "../testing/BgpRib.ts"
import { type ApiServer, startApiServer } from "../testing/InMemoryApiServer.ts"
import { kubectlPath, runKubectl } from "../testing/Kubectl.ts"
import * as Children from "./Children.ts"
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
  /** How long to wait for everything to come up. */
  readonly timeout: Duration.Duration
  /** Where the walkthrough goes (stdout in the CLI). */
  readonly print: (text: string) => void
}

/** The final line of `--once`. */
export interface SandboxSummary {
  readonly sandbox: "ok" | "failed"
  readonly reason?: string
  readonly mode: "loopback"
  readonly router: "BgpRouter"
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

const freePort = (): Effect.Effect<number, SandboxError> =>
  Effect.callback<number, SandboxError>((resume) => {
    const server = net.createServer()
    server.once("error", (e) => resume(Effect.fail(new SandboxError({ message: `no free port: ${e.message}` }))))
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resume(Effect.succeed(port)))
    })
  })

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

const progressOf = (api: ApiServer, snapshot: RouterSnapshot): Progress => {
  const externalIP = externalIpOf(api)
  const established = snapshot.sessions.filter((s) => s.state === "Established").length
  const entry = externalIP === undefined ? undefined : snapshot.routes.find((r) => r.prefix === `${externalIP}/32`)
  return { externalIP, established, paths: entry?.paths.length ?? 0 }
}

const done = (p: Progress): boolean => p.externalIP !== undefined && p.established === Scenario.nodes.length && p.paths === Scenario.nodes.length

const whatIsMissing = (p: Progress, seconds: number): string =>
  p.externalIP === undefined
    ? `default/nginx has no external IP after ${seconds}s (is the controller running? see its log)`
    : p.established < Scenario.nodes.length
    ? `${p.established} of ${Scenario.nodes.length} BGP sessions Established after ${seconds}s (see the speakers' logs)`
    : `${p.externalIP}/32 has ${p.paths} of ${Scenario.nodes.length} paths at the router after ${seconds}s`

/** `kubectl get svc` as kubectl prints it when kubectl is installed; otherwise the same columns from the store. */
const serviceTable = (api: ApiServer, dir: string): Effect.Effect<string> =>
  Effect.promise(async () => {
    if (kubectlPath !== undefined) {
      const r = await runKubectl(api.kubeconfigPath, dir, ["get", "svc", "nginx", "-o", "wide"])
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
    let keepDir = false
    yield* Effect.addFinalizer(() => Effect.sync(() => keepDir || rmSync(dir, { recursive: true, force: true })))

    const api = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => startApiServer({ port: options.apiPort, ...(options.stateFile === undefined ? {} : { stateFile: options.stateFile }) }),
        catch: (e) => new SandboxError({ message: `cannot start the API server on port ${options.apiPort}: ${String(e)}` })
      }),
      (server) => Effect.promise(() => server.stop())
    )
    // BGPPeer.spec.peerPort is at most 16384 (MetalLB's CRD): pick a free port below that, retrying on collisions.
    const router = yield* Effect.suspend(() =>
      BgpRouter.make({
        asn: Scenario.routerAsn,
        routerId: Scenario.routerId,
        host: "127.0.0.1",
        port: 10179 + Math.floor(Math.random() * 6000),
        peers: Scenario.nodes.map((n) => ({ address: n.address, asn: Scenario.nodeAsn })),
        acceptLoopbackNextHops: true
      })
    ).pipe(
      Effect.retry({ times: 20 }),
      Effect.mapError((e) => new SandboxError({ message: e.message }))
    )
    yield* say(
      [
        "metallb-ts sandbox (loopback mode: no namespaces, BGP only)",
        `  API server   ${api.url}   (kubeconfig ${api.kubeconfigPath})`,
        `  router       BgpRouter on 127.0.0.1:${router.port}, AS ${Scenario.routerAsn}, router id ${Scenario.routerId}`,
        `  nodes        ${Scenario.nodes.map((n) => `${n.name} (${n.address})`).join(", ")}, AS ${Scenario.nodeAsn}`,
        `  logs         ${dir}`
      ].join("\n")
    )

    yield* Effect.try({
      try: () => {
        api.objects.applyManifest(installManifests())
        api.objects.applyManifest(Scenario.toYaml([...Scenario.nodeObjects, ...Scenario.bgpConfig({ address: "127.0.0.1", port: router.port })]))
        api.objects.applyManifest(readFileSync(join(manifestsDir, "tutorial-2.yaml"), "utf8"), "default")
        api.objects.applyManifest(Scenario.toYaml([Scenario.nginxEndpoints]))
      },
      catch: (e) => new SandboxError({ message: `cannot apply the sandbox objects: ${e instanceof Error ? e.message : String(e)}` })
    })
    yield* say(`applied: metallb.io CRDs, ${Scenario.nodes.length} Nodes, IPAddressPool ${Scenario.bgpPool.name} (${Scenario.bgpPool.range}), Community, BGPAdvertisement, ${Scenario.nodes.length} BGPPeers, manifests/tutorial-2.yaml, a ready EndpointSlice for nginx`)

    const kubeconfig = (token: string) =>
      Effect.tryPromise({ try: () => api.kubeconfigWithToken(token), catch: (e) => new SandboxError({ message: `kubeconfig: ${String(e)}` }) })
    const common = ["--namespace", Scenario.namespace, "--listen-address", "127.0.0.1", "--port", "0"]
    const controller = yield* Children.start(
      "controller",
      ["controller", ...common, "--kubeconfig", yield* kubeconfig("metallb-controller"), "--health-probe-port", String(yield* freePort()), "--pod-name", "controller-sandbox"],
      join(dir, "controller.log")
    )
    const speakers: Array<Children.Child> = []
    for (const node of Scenario.nodes) {
      speakers.push(
        yield* Children.start(
          `speaker ${node.name}`,
          [
            "speaker",
            ...common,
            "--node-name",
            node.name,
            "--pod-name",
            `speaker-${node.name}`,
            "--kubeconfig",
            yield* kubeconfig(`metallb-speaker-${node.name}`),
            "--health-probe-port",
            String(yield* freePort()),
            "--disable-layer2",
            "--bfd-port",
            "0"
          ],
          join(dir, `speaker-${node.name}.log`)
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
    for (;;) {
      progress = progressOf(api, yield* router.snapshot)
      if (done(progress)) break
      const dead = children.find((c) => c.exited() !== undefined)
      if (dead !== undefined) {
        failure = `${dead.name} stopped (${dead.exited() ?? ""}): ${dead.tail(3).join(" | ")}`
        break
      }
      if (Date.now() > deadline) {
        failure = whatIsMissing(progress, seconds)
        break
      }
      yield* Effect.sleep("200 millis")
    }

    const kc = api.kubeconfigPath
    yield* say(`\n$ kubectl get svc nginx -o wide\n${indent(yield* serviceTable(api, dir))}`)
    yield* say(`\n$ show bgp summary   (the router)\n${indent(yield* router.summary)}`)
    yield* say(`\n$ show bgp ipv4 unicast   (the router)\n${indent(yield* router.routes(4))}`)
    for (const speaker of speakers) yield* say(`\n$ tail -n 3 ${speaker.logFile}\n${indent(speaker.tail(3).join("\n"))}`)
    if (failure !== undefined) yield* say(`\n$ tail -n 5 ${controller.logFile}\n${indent(controller.tail(5).join("\n"))}`)
    yield* say(
      [
        "",
        "Try it (kubectl against the sandbox's API server):",
        `  export KUBECONFIG=${kc}`,
        "  kubectl get svc -A",
        `  kubectl get ipaddresspools,bgppeers,bgpadvertisements -n ${Scenario.namespace}`,
        `  kubectl get servicebgpstatuses -n ${Scenario.namespace}`,
        "  kubectl describe svc nginx",
        `  kubectl get configurationstates -n ${Scenario.namespace} -o yaml`
      ].join("\n")
    )

    const summary: SandboxSummary = {
      sandbox: failure === undefined ? "ok" : "failed",
      ...(failure === undefined ? {} : { reason: failure }),
      mode: "loopback",
      router: "BgpRouter",
      externalIP: progress.externalIP ?? null,
      bgpSessions: progress.established,
      paths: progress.paths,
      l2Owner: null,
      apiServer: api.url,
      kubeconfig: kc,
      elapsedMs: Date.now() - started
    }
    if (failure !== undefined) {
      keepDir = true
      yield* say(`\nsandbox failed: ${failure}\n(logs kept in ${dir})`)
    }
    if (options.once) return summary
    yield* say("\nThe sandbox runs until Ctrl-C. Router changes:")
    return yield* router.changes.pipe(
      Stream.runForEach((c) =>
        say(
          c._tag === "SessionChanged"
            ? `  session ${c.peer} ${c.state}${c.reason === undefined ? "" : ` (${c.reason})`}`
            : c._tag === "PathChanged"
            ? `  path ${c.prefix} via ${c.path.nextHop} from ${c.peer}${c.path.stale ? " (stale)" : ""}`
            : c._tag === "PathWithdrawn"
            ? `  withdrawn ${c.prefix} from ${c.peer}`
            : `  End-of-RIB ${c.family} from ${c.peer}`
        )
      ),
      Effect.andThen(Effect.never)
    )
  })
