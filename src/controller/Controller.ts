/**
 * The controller program as one Effect: health and metrics endpoints, optional leader election, then the
 * configuration source, the allocator, the event recorder and the Service reconciler, for as long as it runs.
 * Interrupting it (SIGTERM) closes everything in order: the reconciler stops, the lease is released, the HTTP
 * servers close.
 *
 * @since 0.1.0
 */
import { Context, type Duration, Effect, Layer, Ref, Schema, type Scope, Stream } from "effect"
import { Allocator } from "../allocator/Allocator.ts"
import { controller } from "../config/ConfigSourceCore.ts"
import { ConfigSource } from "../config/ConfigSource.ts"
import { DefaultLeaseName, defaultTiming, LeaderElection } from "../election/LeaderElection.ts"
import { EventRecorder, ReportingComponent } from "../k8s/EventRecorder.ts"
import { KubeClient } from "../k8s/KubeClient.ts"
import * as WebhookFlags from "../webhook/WebhookFlags.ts"
import { HealthServer } from "../observability/HealthServer.ts"
import { ServiceReconciler } from "./ServiceReconciler.ts"

export interface ControllerOptions {
  readonly namespace: string
  /** `--port`: Prometheus `/metrics` (plus the probes); 0 disables. */
  readonly metricsPort: number
  /** `--health-probe-port`: `/healthz`, `/readyz` (and `/metrics`). 0 picks a free port. */
  readonly healthProbePort: number
  /** Address both listen on (default all interfaces, as MetalLB's controller). */
  readonly listenHost?: string | undefined
  readonly loadBalancerClass?: string | undefined
  /** Owner of the ConfigurationState; identity for leader election. */
  readonly podName?: string | undefined
  readonly leaderElect: boolean
  /** Lease name for `--leader-elect` (default `metallb-controller`). */
  readonly leaseName?: string | undefined
  /**
   * The validating/conversion webhook (`--webhook-mode` and the certificate flags). Every replica serves it, leader
   * or not; `onlywebhook` runs no reconcilers. Absent: no webhook.
   */
  readonly webhook?: { readonly flags: WebhookFlags.WebhookFlags; readonly port?: number } | undefined
  /** Lease timing (default client-go's: 15 s lease, 10 s renew deadline, 2 s retry). */
  readonly electionTiming?: {
    readonly leaseDuration: Duration.Input
    readonly renewDeadline: Duration.Input
    readonly retryPeriod: Duration.Input
  } | undefined
}

export class LeadershipLost extends Schema.TaggedError<LeadershipLost>()("LeadershipLost", {
  identity: Schema.String
}) {
  override get message(): string {
    return `leader election lost (${this.identity}): exiting so that a fresh start rebuilds state from the cluster`
  }
}

/** What the probes and tests can see of a running controller. */
export interface Running {
  readonly healthUrl: string
  readonly metricsUrl: string | undefined
  readonly notReady: Effect.Effect<string | undefined>
  /** Fails when the lease is lost (never without `leaderElect`). */
  readonly lost: Effect.Effect<never, LeadershipLost>
}

/** The working part: needs the KubeClient; what a leader runs. */
export const reconcilerLayer = (options: ControllerOptions) =>
  ServiceReconciler.layer({ namespace: options.namespace, loadBalancerClass: options.loadBalancerClass }).pipe(
    Layer.provide(Layer.mergeAll(
      Allocator.layer,
      EventRecorder.layer({ name: ReportingComponent.controller }),
      ConfigSource.layer({ namespace: options.namespace, component: controller, podName: options.podName })
    ))
  )

/**
 * Starts the controller in the caller's scope. A standby replica (`leaderElect` without the lease) serves its
 * probes, reports not ready and writes nothing until it leads; this returns once it does.
 */
export const start = (options: ControllerOptions): Effect.Effect<Running, unknown, KubeClient | Scope.Scope> =>
  Effect.gen(function*() {
    const readiness = yield* Ref.make<Effect.Effect<string | undefined>>(Effect.succeed("starting"))
    const ready = Effect.flatten(Ref.get(readiness))
    const host = options.listenHost ?? "0.0.0.0"
    const health = yield* Layer.build(HealthServer.layer({ host, port: options.healthProbePort, ready }))
    const healthUrl = Context.get(health, HealthServer).url
    let metricsUrl: string | undefined
    if (options.metricsPort !== 0 && options.metricsPort !== options.healthProbePort) {
      const metrics = yield* Layer.build(HealthServer.layer({ host, port: options.metricsPort, ready }))
      metricsUrl = Context.get(metrics, HealthServer).url
    } else if (options.metricsPort !== 0) metricsUrl = healthUrl
    yield* Effect.logInfo("controller starting").pipe(
      Effect.annotateLogs({ event: "startup", namespace: options.namespace, health: healthUrl, metrics: metricsUrl ?? "disabled" })
    )

    const webhook = options.webhook
    if (webhook !== undefined && WebhookFlags.servesWebhook(webhook.flags.mode)) {
      const client = yield* KubeClient
      yield* Layer.build(WebhookFlags.webhookLayer(webhook.flags, {
        namespace: options.namespace,
        client,
        host,
        ...(webhook.port === undefined ? {} : { port: webhook.port })
      }))
      yield* Effect.logInfo("webhook serving").pipe(Effect.annotateLogs({ event: "webhook", mode: webhook.flags.mode }))
      if (!WebhookFlags.runsReconcilers(webhook.flags.mode)) {
        yield* Ref.set(readiness, Effect.succeed(undefined))
        return { healthUrl, metricsUrl, notReady: Effect.succeed(undefined), lost: Effect.never }
      }
    }

    let lost: Effect.Effect<never, LeadershipLost> = Effect.never
    if (options.leaderElect) {
      const identity = options.podName ?? `controller-${process.pid}`
      const electionContext = yield* Layer.build(LeaderElection.layerKube({
        identity,
        namespace: options.namespace,
        leaseName: options.leaseName ?? DefaultLeaseName,
        ...(options.electionTiming ?? defaultTiming)
      }))
      const election = Context.get(electionContext, LeaderElection)
      yield* Ref.set(readiness, Effect.succeed("standby: waiting for the leader lease"))
      yield* Effect.logInfo("waiting for leadership").pipe(Effect.annotateLogs({ event: "leaderElection", identity }))
      yield* election.awaitLeadership
      yield* Effect.logInfo("became leader").pipe(Effect.annotateLogs({ event: "leaderElection", identity }))
      // Losing the lease ends the program: a standby never writes, and a new leader starts from the cluster.
      lost = election.changes.pipe(
        Stream.filter((leading) => !leading),
        Stream.runHead,
        Effect.andThen(Effect.fail(new LeadershipLost({ identity })))
      )
    }

    const context = yield* Layer.build(reconcilerLayer(options))
    const reconciler = Context.get(context, ServiceReconciler)
    yield* Ref.set(readiness, reconciler.notReady)
    return { healthUrl, metricsUrl, notReady: reconciler.notReady, lost }
  })

/** Runs the controller until interrupted (SIGTERM) or the lease is lost. */
export const run = (options: ControllerOptions): Effect.Effect<never, unknown, KubeClient> =>
  Effect.scoped(Effect.flatMap(start(options), (running) => running.lost))
