/**
 * `metallb controller`: the MetalLB controller (a Deployment, one active replica). Flags and environment as
 * MetalLB's controller where they apply, including the webhook ones (`--webhook-mode`, certificates, TLS version);
 * the flags that only concern what metallb-ts does not do (memberlist, pprof, HTTPS metrics) are accepted and ignored
 * so MetalLB's Deployment runs unchanged. The program itself is loaded only when the command runs, so the other commands
 * do not pay for it (and it does not pay for them).
 *
 * @since 0.1.0
 */
import { Console, Effect, Layer, Result } from "effect"
import type { MetallbLogLevel } from "../observability/Logging.ts"
import * as WebhookFlags from "../webhook/WebhookFlags.ts"
import type { CommandSpec, Parsed } from "./Args.ts"
import { commonFlags, ignored, logLevelFlag, namespaceFlag, portFlag, readNamespaceFile, stringFlag } from "./ProgramFlags.ts"

export const spec: CommandSpec = {
  path: ["controller"],
  summary: "Run the MetalLB controller: assigns IPs to LoadBalancer Services from the IPAddressPools.",
  positionals: "",
  minPositionals: 0,
  maxPositionals: 0,
  flags: {
    ...commonFlags,
    "pod-name": {
      type: "string",
      placeholder: "NAME",
      description: "this pod's name (env METALLB_POD_NAME): owner of the ConfigurationState, leader-election identity"
    },
    "leader-elect": {
      type: "boolean",
      description: "run several replicas: only the holder of the Lease metallb-controller works, the others wait"
    },
    ...WebhookFlags.flagSpecs,
    "webhook-port": { type: "string", placeholder: "PORT", description: "port the webhook serves HTTPS on (default 9443)" },
    "webhook-http2": { type: "boolean", description: "accepted for MetalLB compatibility, ignored" },
    "tls-cipher-suites": ignored("metrics are plain HTTP"),
    "tls-curve-preferences": ignored("metrics are plain HTTP"),
    "metrics-cert-dir": ignored("metrics are plain HTTP"),
    "ml-secret-name": ignored("no memberlist secret is managed"),
    deployment: ignored("no memberlist secret is managed"),
    "pprof-bind-address": ignored("no pprof")
  },
  details:
    "Reads IPAddressPools (or the legacy ConfigMap \"config\") in the MetalLB namespace and every Service of type\n" +
    "LoadBalancer; writes status.loadBalancer.ingress, the metallb.io/ip-allocated-from-pool annotation, Events,\n" +
    "IPAddressPool status and the ConfigurationState \"controller\". Logs are JSON lines on stdout. SIGTERM stops it\n" +
    "cleanly (exit 0). See docs/controller.md."
}

export interface Options {
  readonly namespace: string
  readonly logLevel: MetallbLogLevel
  readonly metricsPort: number
  readonly healthProbePort: number
  readonly listenHost: string
  readonly loadBalancerClass: string | undefined
  readonly kubeconfig: string | undefined
  readonly podName: string | undefined
  readonly leaderElect: boolean
  readonly webhook: WebhookFlags.WebhookFlags
  readonly webhookPort: number
}

/** Flags and environment → options, or an error naming the flag. */
export const options = (
  args: Parsed,
  env: Readonly<Record<string, string | undefined>>,
  namespaceFile: () => string | undefined = readNamespaceFile
): Result.Result<Options, string> => {
  const flags = args.flags
  const logLevel = logLevelFlag(flags)
  if (Result.isFailure(logLevel)) return Result.fail(logLevel.failure)
  const metricsPort = portFlag(flags, "port", 9120)
  if (Result.isFailure(metricsPort)) return Result.fail(metricsPort.failure)
  const healthProbePort = portFlag(flags, "health-probe-port", 17472)
  if (Result.isFailure(healthProbePort)) return Result.fail(healthProbePort.failure)
  const namespace = namespaceFlag(flags, env, namespaceFile)
  if (Result.isFailure(namespace)) return Result.fail(namespace.failure)
  const webhook = WebhookFlags.decodeFlags(flags)
  if (Result.isFailure(webhook)) return Result.fail(webhook.failure.join("; "))
  const webhookPort = portFlag(flags, "webhook-port", 9443)
  if (Result.isFailure(webhookPort)) return Result.fail(webhookPort.failure)
  return Result.succeed({
    namespace: namespace.success,
    logLevel: logLevel.success,
    metricsPort: metricsPort.success,
    healthProbePort: healthProbePort.success,
    listenHost: stringFlag(flags, "listen-address") ?? "0.0.0.0",
    loadBalancerClass: stringFlag(flags, "lb-class"),
    kubeconfig: stringFlag(flags, "kubeconfig"),
    podName: stringFlag(flags, "pod-name") ?? (env["METALLB_POD_NAME"] || undefined),
    leaderElect: flags["leader-elect"] === true,
    webhook: webhook.success,
    webhookPort: webhookPort.success
  })
}

/** Runs until SIGTERM (the dispatcher exits 0 then) or a fatal error (exit 1). */
export const run = (args: Parsed): Effect.Effect<number> =>
  Effect.gen(function*() {
    const parsed = options(args, process.env)
    if (Result.isFailure(parsed)) {
      yield* Console.error(`metallb controller: ${parsed.failure}\nRun metallb controller --help for usage.`)
      return 2
    }
    const o = parsed.success
    const [{ KubeClient }, Logging, Controller, HeapTrimmer] = yield* Effect.promise(() =>
      Promise.all([
        import("../k8s/KubeClient.ts"),
        import("../observability/Logging.ts"),
        import("../controller/Controller.ts"),
        import("../platform/HeapTrimmer.ts")
      ])
    )
    const logging = Logging.layer("controller", o.logLevel)
    const layer = Layer.mergeAll(KubeClient.layerKubeconfig(o.kubeconfig), logging, HeapTrimmer.layer().pipe(Layer.provide(logging)))
    return yield* Controller.run({
      namespace: o.namespace,
      metricsPort: o.metricsPort,
      healthProbePort: o.healthProbePort,
      listenHost: o.listenHost,
      loadBalancerClass: o.loadBalancerClass,
      podName: o.podName,
      leaderElect: o.leaderElect,
      webhook: { flags: o.webhook, port: o.webhookPort }
    }).pipe(
      Effect.provide(layer),
      Effect.catch((error: unknown) =>
        Effect.logError("controller stopped").pipe(
          Effect.annotateLogs({ error: error instanceof Error ? error.message : String(error) }),
          Effect.as(1)
        )
      ),
      Effect.provide(logging)
    )
  })

/** SIGTERM is the normal way to stop it: exit 0. */
export const interruptStatus = 0
