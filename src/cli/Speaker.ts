/**
 * `metallb speaker`: the MetalLB speaker (a DaemonSet, one per node, hostNetwork). Flags and environment as
 * MetalLB's speaker where they apply; memberlist and FRR flags of MetalLB's manifests are accepted and ignored so its
 * DaemonSet runs unchanged. The program is loaded only when the command runs.
 *
 * @since 0.1.0
 */
import { Console, Effect, Layer, Result } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { parse as parseYaml } from "yaml"
import type { Timing } from "../election/LivenessView.ts"
import type { MetallbLogLevel } from "../observability/Logging.ts"
import type { CommandSpec, Parsed } from "./Args.ts"
import { commonFlags, ignored, logLevelFlag, namespaceFlag, numberFlag, portFlag, readNamespaceFile, stringFlag } from "./ProgramFlags.ts"

/** MetalLB's file of interface patterns never announced on. */
export const defaultExcludeFile = "/etc/metallb/excludel2.yaml"

export const spec: CommandSpec = {
  path: ["speaker"],
  summary: "Run the MetalLB speaker on this node: announces Service IPs by layer 2 (ARP/NDP) and BGP.",
  positionals: "",
  minPositionals: 0,
  maxPositionals: 0,
  flags: {
    "node-name": { type: "string", placeholder: "NODE", description: "this node's name (env METALLB_NODE_NAME; required)" },
    ...commonFlags,
    "pod-name": { type: "string", placeholder: "NAME", description: "this pod's name (env METALLB_POD_NAME): owner of the status objects" },
    "ignore-exclude-lb": {
      type: "boolean",
      description: "announce from nodes labelled node.kubernetes.io/exclude-from-external-load-balancers too"
    },
    "disable-layer2": {
      type: "boolean",
      description: "BGP only: no heartbeats, no ARP/NDP answers, no packet sockets (layer 2 IPs get announceFailed); for the sandbox"
    },
    "l2-profile": {
      type: "string",
      placeholder: "PROFILE",
      description: "layer 2 liveness timing: default (heartbeat 200 ms, dead after 800 ms) or fast (50 ms, 200 ms)"
    },
    "l2-heartbeat-interval": { type: "string", placeholder: "MS", description: "heartbeat interval (overrides the profile)" },
    "l2-dead-after": { type: "string", placeholder: "MS", description: "a peer unheard this long is dead (overrides the profile)" },
    "l2-rejoin-after": { type: "string", placeholder: "MS", description: "a peer heard again counts after this long (overrides the profile)" },
    "excluded-interfaces": {
      type: "string",
      placeholder: "FILE",
      description: `YAML with announcedInterfacesToExclude (default ${defaultExcludeFile} if present, else MetalLB's list)`
    },
    "ml-secret-key-path": {
      type: "string",
      placeholder: "DIR",
      description: "directory with the heartbeat HMAC key file secretkey (env METALLB_ML_SECRET_KEY_PATH; default: unsigned)"
    },
    "bgp-listen-port": { type: "string", placeholder: "PORT", description: "also accept BGP connections on this port (default: dial only)" },
    "bfd-port": { type: "string", placeholder: "PORT", description: "UDP port of BFD for peers with a bfdProfile; 0 disables (default 3784)" },
    "ml-bindaddr": ignored("no memberlist: liveness uses layer 2 heartbeats"),
    "ml-bindport": ignored("no memberlist"),
    "ml-labels": ignored("no memberlist"),
    "ml-wan-config": ignored("no memberlist"),
    "pprof-bind-address": ignored("no pprof"),
    "frrk8s-namespace": ignored("BGP is native"),
    "bgp-debounce-timeout": ignored("BGP is native"),
    host: ignored("deprecated in MetalLB"),
    "tls-min-version": ignored("metrics are plain HTTP"),
    "tls-cipher-suites": ignored("metrics are plain HTTP"),
    "metrics-cert-dir": ignored("metrics are plain HTTP")
  },
  details:
    "Watches Services, EndpointSlices, Nodes and the MetalLB configuration; answers ARP/NDP for the IPs this node owns\n" +
    "(layer 2) and announces them to the BGPPeers that select this node. Writes ServiceL2Status, ServiceBGPStatus,\n" +
    "Events on Services, the ConfigurationState speaker-<node> and a Lease metallb-speaker-<node>. SIGTERM hands layer 2\n" +
    "over at once and closes the BGP sessions, then exits 0. See docs/speaker.md."
}

export interface Options {
  readonly node: string
  readonly namespace: string
  readonly podName: string | undefined
  readonly kubeconfig: string | undefined
  readonly logLevel: MetallbLogLevel
  readonly metricsPort: number
  readonly healthProbePort: number
  readonly listenHost: string
  readonly loadBalancerClass: string | undefined
  readonly ignoreExcludeLB: boolean
  readonly timing: Timing
  readonly excluded: ReadonlyArray<string>
  readonly secretKeyPath: string | undefined
  readonly bgpListenPort: number | undefined
  readonly bfdPort: number
  /** False with --disable-layer2. */
  readonly layer2: boolean
}

const profiles: Readonly<Record<string, Timing>> = {
  default: { interval: 200, deadAfter: 800, rejoinAfter: 2000 },
  fast: { interval: 50, deadAfter: 200, rejoinAfter: 500 }
}


/** MetalLB's excludel2.yaml: `announcedInterfacesToExclude: [regexp, ...]`; each pattern must compile. */
export const parseExcludeFile = (text: string, file: string): Result.Result<ReadonlyArray<string>, string> => {
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (e) {
    return Result.fail(`flag --excluded-interfaces: ${file}: not YAML: ${e instanceof Error ? e.message : String(e)}`)
  }
  const list = typeof doc === "object" && doc !== null ? (doc as Record<string, unknown>)["announcedInterfacesToExclude"] : undefined
  if (list === undefined || list === null) return Result.succeed([])
  if (!Array.isArray(list) || list.some((p) => typeof p !== "string")) {
    return Result.fail(`flag --excluded-interfaces: ${file}: announcedInterfacesToExclude must be a list of strings`)
  }
  for (const p of list as Array<string>) {
    try {
      RegExp(p).test("")
    } catch {
      return Result.fail(`flag --excluded-interfaces: ${file}: ${JSON.stringify(p)} is not a regular expression`)
    }
  }
  return Result.succeed(list as Array<string>)
}

/** Flags and environment → options, or an error naming the flag. */
export const options = (
  args: Parsed,
  env: Readonly<Record<string, string | undefined>>,
  io: {
    readonly namespaceFile: () => string | undefined
    readonly readFile: (path: string) => string | undefined
    readonly defaultExcluded: ReadonlyArray<string>
  } = {
    namespaceFile: readNamespaceFile,
    readFile: (path) => (existsSync(path) ? readFileSync(path, "utf8") : undefined),
    defaultExcluded: []
  }
): Result.Result<Options, string> => {
  const flags = args.flags
  const node = stringFlag(flags, "node-name") ?? (env["METALLB_NODE_NAME"] || undefined)
  if (node === undefined) {
    return Result.fail("flag --node-name: required (or env METALLB_NODE_NAME): the name of the node this speaker runs on")
  }
  const logLevel = logLevelFlag(flags)
  if (Result.isFailure(logLevel)) return Result.fail(logLevel.failure)
  const port = (name: string, fallback: number) => portFlag(flags, name, fallback)
  const metricsPort = port("port", 9120)
  if (Result.isFailure(metricsPort)) return Result.fail(metricsPort.failure)
  const healthProbePort = port("health-probe-port", 17472)
  if (Result.isFailure(healthProbePort)) return Result.fail(healthProbePort.failure)
  const bfdPort = port("bfd-port", 3784)
  if (Result.isFailure(bfdPort)) return Result.fail(bfdPort.failure)
  const bgpListen = stringFlag(flags, "bgp-listen-port") === undefined ? undefined : port("bgp-listen-port", 179)
  if (bgpListen !== undefined && Result.isFailure(bgpListen)) return Result.fail(bgpListen.failure)
  const namespace = namespaceFlag(flags, env, io.namespaceFile)
  if (Result.isFailure(namespace)) return Result.fail(namespace.failure)
  const profileName = stringFlag(flags, "l2-profile") ?? "default"
  const profile = profiles[profileName]
  if (profile === undefined) return Result.fail(`flag --l2-profile: ${JSON.stringify(profileName)} is not one of default, fast`)
  const ms = (name: string, fallback: number) => numberFlag(flags, name, fallback, 3_600_000, "a number of milliseconds")
  const interval = ms("l2-heartbeat-interval", profile.interval)
  const deadAfter = ms("l2-dead-after", profile.deadAfter)
  const rejoinAfter = ms("l2-rejoin-after", profile.rejoinAfter)
  for (const r of [interval, deadAfter, rejoinAfter]) if (Result.isFailure(r)) return Result.fail(r.failure)
  const timing = {
    interval: Result.getOrElse(interval, () => profile.interval),
    deadAfter: Result.getOrElse(deadAfter, () => profile.deadAfter),
    rejoinAfter: Result.getOrElse(rejoinAfter, () => profile.rejoinAfter)
  }
  if (timing.interval === 0) return Result.fail("flag --l2-heartbeat-interval: must be positive")
  if (timing.deadAfter < 2 * timing.interval) {
    return Result.fail(`flag --l2-dead-after: ${timing.deadAfter} ms must be at least twice the heartbeat interval (${timing.interval} ms)`)
  }
  if (timing.rejoinAfter < timing.interval) {
    return Result.fail(`flag --l2-rejoin-after: ${timing.rejoinAfter} ms must be at least the heartbeat interval (${timing.interval} ms)`)
  }
  const excludeFile = stringFlag(flags, "excluded-interfaces")
  const excludeText = io.readFile(excludeFile ?? defaultExcludeFile)
  if (excludeFile !== undefined && excludeText === undefined) return Result.fail(`flag --excluded-interfaces: ${excludeFile}: no such file`)
  const excluded = excludeText === undefined ? Result.succeed(io.defaultExcluded) : parseExcludeFile(excludeText, excludeFile ?? defaultExcludeFile)
  if (Result.isFailure(excluded)) return Result.fail(excluded.failure)
  return Result.succeed({
    node,
    namespace: namespace.success,
    podName: stringFlag(flags, "pod-name") ?? (env["METALLB_POD_NAME"] || undefined),
    kubeconfig: stringFlag(flags, "kubeconfig"),
    logLevel: logLevel.success,
    metricsPort: metricsPort.success,
    healthProbePort: healthProbePort.success,
    listenHost: stringFlag(flags, "listen-address") ?? "0.0.0.0",
    loadBalancerClass: stringFlag(flags, "lb-class"),
    ignoreExcludeLB: flags["ignore-exclude-lb"] === true,
    timing,
    excluded: excluded.success,
    secretKeyPath: stringFlag(flags, "ml-secret-key-path") ?? (env["METALLB_ML_SECRET_KEY_PATH"] || undefined),
    bgpListenPort: bgpListen === undefined ? undefined : Result.getOrElse(bgpListen, () => 179),
    bfdPort: bfdPort.success,
    layer2: flags["disable-layer2"] !== true
  })
}

/** Runs until SIGTERM (the dispatcher exits 0 then) or a fatal error (exit 1). */
export const run = (args: Parsed): Effect.Effect<number> =>
  Effect.gen(function*() {
    const Interfaces = yield* Effect.promise(() => import("../layer2/Interfaces.ts"))
    const parsed = options(args, process.env, {
      namespaceFile: readNamespaceFile,
      readFile: (path) => (existsSync(path) ? readFileSync(path, "utf8") : undefined),
      defaultExcluded: Interfaces.defaultExcluded
    })
    if (Result.isFailure(parsed)) {
      yield* Console.error(`metallb speaker: ${parsed.failure}\nRun metallb speaker --help for usage.`)
      return 2
    }
    const o = parsed.success
    const [{ KubeClient }, Logging, Speaker, Layer2Plane, { BgpSession }, { BgpSpeaker }, { Bfd }, HeapTrimmer] = yield* Effect.promise(() =>
      Promise.all([
        import("../k8s/KubeClient.ts"),
        import("../observability/Logging.ts"),
        import("../speaker/Speaker.ts"),
        import("../speaker/Layer2Plane.ts"),
        import("../bgp/BgpSession.ts"),
        import("../bgp/BgpSpeaker.ts"),
        import("../bgp/Bfd.ts"),
        import("../platform/HeapTrimmer.ts")
      ])
    )
    const kube = KubeClient.layerKubeconfig(o.kubeconfig)
    const sessions = BgpSession.layer({
      nodeName: o.node,
      ...(o.bgpListenPort === undefined ? {} : { listen: { port: o.bgpListenPort } })
    })
    const bgp = BgpSpeaker.layer.pipe(Layer.provide(o.bfdPort === 0 ? sessions : Layer.merge(sessions, Bfd.layer({ port: o.bfdPort }))))
    const plane = !o.layer2 ? Layer2Plane.disabled : Layer2Plane.layer({
      namespace: o.namespace,
      node: o.node,
      excluded: o.excluded,
      timing: o.timing,
      secretKeyPath: o.secretKeyPath
    })
    const logging = Logging.layer("speaker", o.logLevel)
    return yield* Speaker.run({
      namespace: o.namespace,
      node: o.node,
      podName: o.podName,
      loadBalancerClass: o.loadBalancerClass,
      ignoreExcludeLB: o.ignoreExcludeLB,
      metricsPort: o.metricsPort,
      healthProbePort: o.healthProbePort,
      listenHost: o.listenHost
    }).pipe(
      Effect.provide(Layer.mergeAll(plane, bgp, HeapTrimmer.layer()).pipe(Layer.provideMerge(kube), Layer.provide(logging))),
      Effect.catch((error: unknown) =>
        Effect.logError("speaker stopped").pipe(
          Effect.annotateLogs({ error: error instanceof Error ? error.message : String(error) }),
          Effect.as(1)
        )
      ),
      Effect.provide(logging)
    )
  })

/** SIGTERM is the normal way to stop it: exit 0. */
export const interruptStatus = 0
