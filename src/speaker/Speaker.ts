/**
 * The speaker program as one Effect (DESIGN.md §3, "Data flow of the speaker"): informers for Services,
 * EndpointSlices and Nodes plus the ConfigSource feed one coalesced reconcile loop; each pass computes the desired
 * state with the pure planners (Reconcile.ts) and hands it to the layers — layer 2 (liveness → election →
 * Layer2Speaker, through Layer2Plane) and BGP (BgpSpeaker: sessions for the peers selecting this node, routes per
 * peer) — then reports what changed: ServiceL2Status / ServiceBGPStatus, `nodeAssigned` / `announceFailed` Events
 * (on a change only, never per pass: MetalLB issue #3135), `metallb_speaker_announced` and the
 * `serviceAnnounced` / `serviceWithdrawn` log lines.
 *
 * Closing its scope (SIGTERM) is the graceful stop: the loop stops, layer 2 is handed over at once (`leaving`
 * heartbeats, no more answers), then the caller's layers close (BGP sends Cease, or keeps the routes of graceful
 * restart peers).
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Queue, Ref, Schedule, type Scope, Semaphore, Stream, SubscriptionRef } from "effect"
import { BgpSpeaker } from "../bgp/BgpSpeaker.ts"
import { speaker as speakerComponent } from "../config/ConfigSourceCore.ts"
import { ConfigSource } from "../config/ConfigSource.ts"
import { EventRecorder, Reason, ReportingComponent } from "../k8s/EventRecorder.ts"
import * as Informer from "../k8s/Informer.ts"
import type { KubeClient } from "../k8s/KubeClient.ts"
import { EndpointSlices, type KubeObject, Nodes, Services } from "../k8s/Resource.ts"
import { HealthServer } from "../observability/HealthServer.ts"
import * as Metrics from "../observability/Metrics.ts"
import * as ClusterModel from "./ClusterModel.ts"
import { Layer2Plane } from "./Layer2Plane.ts"
import * as Reconcile from "./Reconcile.ts"
import * as StatusWriter from "./StatusWriter.ts"

export interface SpeakerOptions {
  readonly namespace: string
  readonly node: string
  readonly podName?: string | undefined
  readonly loadBalancerClass?: string | undefined
  readonly ignoreExcludeLB: boolean
  /** `--port`: `/metrics` (plus the probes); 0 disables. */
  readonly metricsPort: number
  /** `--health-probe-port`: `/healthz`, `/readyz`. 0 picks a free port. */
  readonly healthProbePort: number
  /** Address both listen on (MetalLB binds the probes to 127.0.0.1, metrics to all). */
  readonly listenHost?: string | undefined
  /**
   * Quiet time that merges a burst of changes into one pass (default 5 ms: it is added to every announcement; a
   * longer burst still costs one pass at a time, with at most one more queued).
   */
  readonly coalesce?: Duration.Input | undefined
  /** A pass runs at least this often, retrying failed writes (default 10 s). */
  readonly resync?: Duration.Input | undefined
}

/** What the probes and tests can see of a running speaker. */
export interface Running {
  readonly healthUrl: string
  readonly metricsUrl: string | undefined
  readonly notReady: Effect.Effect<string | undefined>
  /** The last desired state applied (tests, debugging). */
  readonly current: Effect.Effect<Reconcile.Desired | undefined>
  /** Completed passes. */
  readonly passes: Effect.Effect<number>
}

const serviceRef = (o: KubeObject) => ({
  apiVersion: "v1",
  kind: "Service",
  name: o.metadata.name,
  namespace: o.metadata.namespace ?? "default",
  ...(o.metadata.uid === undefined ? {} : { uid: o.metadata.uid })
})

const annotationLog = (a: Reconcile.ServiceAnnouncement) => ({
  service: a.service,
  protocol: a.protocol,
  pool: a.pool,
  ips: a.ips.join(",")
})

/** Starts the speaker in the caller's scope; returns once it runs (the first pass waits for a config). */
export const start = (
  options: SpeakerOptions
): Effect.Effect<Running, unknown, KubeClient | Layer2Plane | BgpSpeaker | Scope.Scope> =>
  Effect.gen(function*() {
    const { node, namespace } = options
    const plane = yield* Layer2Plane
    const bgp = yield* BgpSpeaker
    const notReady = yield* Ref.make<string | undefined>("waiting for the configuration")
    const host = options.listenHost ?? "0.0.0.0"
    const ready = Ref.get(notReady)
    const health = yield* Layer.build(HealthServer.layer({ host, port: options.healthProbePort, ready }))
    const healthUrl = Context.get(health, HealthServer).url
    let metricsUrl: string | undefined
    if (options.metricsPort !== 0 && options.metricsPort !== options.healthProbePort) {
      const metrics = yield* Layer.build(HealthServer.layer({ host, port: options.metricsPort, ready }))
      metricsUrl = Context.get(metrics, HealthServer).url
    } else if (options.metricsPort !== 0) metricsUrl = healthUrl
    yield* Effect.logInfo("speaker starting").pipe(
      Effect.annotateLogs({ event: "startup", node, namespace, health: healthUrl, metrics: metricsUrl ?? "disabled" })
    )

    const context = yield* Layer.build(Layer.mergeAll(
      EventRecorder.layer({ name: ReportingComponent.speaker, host: node }),
      ConfigSource.layer({ namespace, component: speakerComponent(node), podName: options.podName })
    ))
    const events = Context.get(context, EventRecorder)
    const config = Context.get(context, ConfigSource)
    const services = yield* Informer.forResource(Services)
    const slices = yield* Informer.forResource(EndpointSlices)
    const nodes = yield* Informer.forResource(Nodes)
    const statuses = yield* StatusWriter.make({ namespace, node, podName: options.podName })

    const lock = yield* Semaphore.make(1)
    let stopping = false
    let current: Reconcile.Desired | undefined
    let announced: ReadonlyMap<string, Reconcile.ServiceAnnouncement> = new Map()
    let failed = new Set<string>()
    let passes = 0

    const gauge = (a: Reconcile.ServiceAnnouncement, on: boolean) =>
      Effect.forEach(a.ips, (ip) => {
        const labels = { service: a.service, protocol: a.protocol, node, ip }
        return on ? Metrics.update(Metrics.speakerAnnounced, labels, 1) : Metrics.remove(Metrics.speakerAnnounced, labels)
      }, { discard: true })

    const report = Effect.fnUntraced(function*(desired: Reconcile.Desired, serviceObjects: ReadonlyMap<string, KubeObject>) {
      const changes = Reconcile.diff(announced, desired.announced)
      // Per Service that changed, MetalLB's startUpdate … endUpdate bracket around what happened to it.
      const touched = [...new Set([...changes.withdrawn, ...changes.added, ...changes.changed].map((a) => a.service))].toSorted()
      for (const service of touched) {
        yield* Effect.logDebug("start of service update").pipe(Effect.annotateLogs({ event: "startUpdate", service }))
        for (const a of changes.withdrawn.filter((x) => x.service === service)) {
          yield* Effect.logInfo("withdrawing service announcement").pipe(
            Effect.annotateLogs({ event: "serviceWithdrawn", ...annotationLog(a), reason: serviceObjects.has(a.service) ? "notOwner" : "serviceDeleted" })
          )
          yield* gauge(a, false)
        }
        for (const a of [...changes.added, ...changes.changed].filter((x) => x.service === service)) {
          const before = announced.get(Reconcile.announcementKey(a))
          if (before !== undefined) yield* gauge(before, false)
          yield* gauge(a, true)
          yield* Effect.logInfo("service has IP, announcing").pipe(Effect.annotateLogs({ event: "serviceAnnounced", ...annotationLog(a) }))
          const object = serviceObjects.get(a.service)
          // An Event only when this node starts announcing, or announces other IPs: not on every pass.
          if (object !== undefined && (before === undefined || before.ips.join() !== a.ips.join())) {
            yield* events.recordEvent(serviceRef(object), "Normal", Reason.NodeAssigned, `announcing from node "${node}" with protocol "${a.protocol}"`)
          }
        }
        yield* Effect.logDebug("end of service update").pipe(Effect.annotateLogs({ event: "endUpdate", service }))
      }
      const nowFailed = new Set(desired.failed.map((f) => f.service))
      for (const f of desired.failed) {
        const object = serviceObjects.get(f.service)
        if (failed.has(f.service) || object === undefined) continue
        yield* Effect.logWarning("the interfaces specified for the IP do not exist on this node").pipe(
          Effect.annotateLogs({ event: "announceFailed", service: f.service, ip: f.ip, protocol: "layer2" })
        )
        yield* events.recordEvent(
          serviceRef(object),
          "Warning",
          Reason.AnnounceFailed,
          `the interfaces specified by LB IP "${f.ip}" doesn't exist in assigned node "${node}" with protocol "layer2"`
        )
      }
      failed = nowFailed
      announced = desired.announced
    })

    const pass = lock.withPermits(1)(Effect.gen(function*() {
      if (stopping) return
      const status = yield* SubscriptionRef.get(config.status)
      if (status.config === undefined) return
      const serviceObjects = new Map((yield* services.list).map((s) => [`${s.metadata.namespace ?? "default"}/${s.metadata.name}`, s as KubeObject]))
      const endpoints = new Map<string, Array<ClusterModel.EndpointView>>()
      for (const slice of yield* slices.list) {
        const key = ClusterModel.sliceServiceKey(slice)
        if (key !== undefined) endpoints.set(key, [...(endpoints.get(key) ?? []), ...ClusterModel.endpointViews(slice)])
      }
      const desired = Reconcile.desired({
        config: status.config,
        services: [...serviceObjects.values()].map(ClusterModel.serviceView),
        endpoints,
        nodes: new Map((yield* nodes.list).map((n) => {
          const view = ClusterModel.nodeView(n)
          return [view.name, view]
        })),
        thisNode: node,
        loadBalancerClass: options.loadBalancerClass,
        ignoreExcludeLB: options.ignoreExcludeLB,
        alive: yield* plane.alive
      })
      // Stopping began while this pass computed: the hand-over owns layer 2 now.
      if (stopping) return
      const answered = new Map((yield* plane.set(desired.l2)).map((st) => [st.ip, st.interfaces]))
      yield* bgp.set(desired.bgp).pipe(
        Effect.catch((e) => Effect.logError("cannot apply the BGP peers").pipe(Effect.annotateLogs({ error: e.message })))
      )
      yield* report(desired, serviceObjects)
      current = desired
      yield* statuses.sync({
        // Interfaces are listed only when the advertisement restricts them: those it is answered on now.
        l2: new Map([...desired.announced.values()].flatMap((a) =>
          a.protocol === "layer2"
            ? [[a.service, a.interfaces === undefined ? [] : [...new Set(a.ips.flatMap((ip) => answered.get(ip) ?? []))].toSorted()]]
            : []
        )),
        bgp: new Map([...desired.announced.values()].flatMap((a) => a.protocol === "bgp" ? [[a.service, a.peers ?? []]] : []))
      }).pipe(
        Effect.catch((e) => Effect.logWarning("cannot write the service statuses, retrying").pipe(Effect.annotateLogs({ error: e.message })))
      )
      passes++
      yield* Ref.set(notReady, undefined)
    }))

    // Every input change lands in a one-slot queue; the loop waits `coalesce` after the first, then runs one pass.
    const kick = yield* Queue.sliding<void>(1)
    const coalesce = Duration.fromInputUnsafe(options.coalesce ?? "5 millis")
    const trigger = (stream: Stream.Stream<unknown, unknown>) =>
      stream.pipe(Stream.runForEach(() => Queue.offer(kick, undefined)), Effect.ignore, Effect.forkScoped)
    yield* trigger(services.changes)
    yield* trigger(slices.changes)
    yield* trigger(nodes.changes)
    yield* trigger(config.configs)
    yield* trigger(plane.changes)
    yield* trigger(statuses.changes.l2)
    yield* Queue.offer(kick, undefined).pipe(Effect.repeat(Schedule.spaced(options.resync ?? "10 seconds")), Effect.forkScoped)
    yield* Effect.gen(function*() {
      yield* Queue.take(kick)
      yield* Effect.sleep(coalesce)
      yield* Queue.clear(kick)
      yield* pass.pipe(Effect.catchCause((cause) => Effect.logError("reconcile failed").pipe(Effect.annotateLogs({ cause: String(cause) }))))
    }).pipe(Effect.forever, Effect.forkScoped)

    // Runs before the caller's layers close: hand layer 2 over first, at once.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        stopping = true
        yield* plane.leave
        yield* Effect.logInfo("speaker stopping: layer 2 handed over").pipe(Effect.annotateLogs({ event: "shutdown", node }))
      }))

    return {
      healthUrl,
      metricsUrl,
      notReady: Ref.get(notReady),
      current: Effect.sync(() => current),
      passes: Effect.sync(() => passes)
    } satisfies Running
  })

/** Runs the speaker until interrupted (SIGTERM). */
export const run = (options: SpeakerOptions): Effect.Effect<never, unknown, KubeClient | Layer2Plane | BgpSpeaker> =>
  Effect.scoped(Effect.andThen(start(options), Effect.never))
