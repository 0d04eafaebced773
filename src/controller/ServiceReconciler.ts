/**
 * The controller's reconciler: Services + pools → allocator → `status.loadBalancer.ingress`, the
 * `metallb.io/ip-allocated-from-pool` annotation, Events, `IPAddressPool.status` and the allocator gauges.
 *
 * One worker fiber makes every decision, in batches: it drains what changed since its last turn, converges it
 * through the allocator (synchronous, serialised), then sends the resulting writes concurrently and waits for them
 * before the next turn, so writes for one Service never overtake each other.
 *
 * MetalLB's rules kept here (reference metallb-behavior.md §1.2, §3):
 * - nothing is handled before the first full pass, which runs once Services are listed and a configuration is
 *   loaded; it re-registers every IP shown in a status (more IPs first) before anything new is allocated;
 * - a new configuration (pools) reconverges every Service in that order;
 * - a deleted or released Service makes room: MetalLB then reprocesses all Services. Here only the Services that
 *   have no IP are revisited, once per turn however many deletions the turn saw (converging a Service that holds a
 *   valid IP changes nothing), which avoids MetalLB's O(S²) cost when many Services are deleted at once.
 *
 * @since 0.1.0
 */
import { Clock, Context, Deferred, Duration, Effect, Layer, Queue, Result, Stream } from "effect"
import type { Convergence } from "../allocator/Core.ts"
import { Allocator } from "../allocator/Allocator.ts"
import * as ServiceIntent from "../allocator/ServiceIntent.ts"
import type { Config } from "../config/Config.ts"
import { ConfigSource, IPAddressPools } from "../config/ConfigSource.ts"
import { EventRecorder, type EventType, Reason, referenceTo } from "../k8s/EventRecorder.ts"
import { KubeClient, mergePatch } from "../k8s/KubeClient.ts"
import type { KubeError } from "../k8s/KubeError.ts"
import { keyOf, type KubeObject, type ObjectReference, Services } from "../k8s/Resource.ts"
import { fromClient, listWatch } from "../k8s/Watch.ts"
import * as Metrics from "../observability/Metrics.ts"
import * as Pools from "./Pools.ts"
import * as Reconcile from "./Reconcile.ts"

export interface ServiceReconcilerOptions {
  /** The MetalLB namespace (IPAddressPools live there). */
  readonly namespace: string
  /** `--lb-class`: without it only Services without `spec.loadBalancerClass` are handled. */
  readonly loadBalancerClass?: string | undefined
  /** API writes in flight at once (default 16). */
  readonly writeConcurrency?: number | undefined
  /** Delay before a Service whose write failed is tried again (default 1 s). */
  readonly retryDelay?: Duration.Input | undefined
  /** Least time between two rounds of IPAddressPool status writes (default 250 ms). */
  readonly poolStatusInterval?: Duration.Input | undefined
}

export interface ServiceReconcilerShape {
  /** `undefined` once the first full pass is done, else why not yet (for `/readyz`). */
  readonly notReady: Effect.Effect<string | undefined>
  /** Completes after the first full pass. */
  readonly ready: Effect.Effect<void>
}

type Service = Reconcile.ServiceObject
type PoolObject = KubeObject & { readonly status?: unknown }

const poolGauges = [
  Metrics.addressesTotal,
  Metrics.ipv4AddressesTotal,
  Metrics.ipv6AddressesTotal,
  Metrics.addressesInUse,
  Metrics.ipv4AddressesInUse,
  Metrics.ipv6AddressesInUse,
  Metrics.servicesAllocated
] as const

export const make = Effect.fnUntraced(function*(options: ServiceReconcilerOptions) {
  const kube = yield* KubeClient
  const allocator = yield* Allocator
  const events = yield* EventRecorder
  const source = yield* ConfigSource
  const lbClass = options.loadBalancerClass === "" ? undefined : options.loadBalancerClass
  const concurrency = options.writeConcurrency ?? 16
  const retryDelay = Duration.fromInputUnsafe(options.retryDelay ?? "1 second")
  const poolStatusInterval = Duration.toMillis(Duration.fromInputUnsafe(options.poolStatusInterval ?? "250 millis"))

  // The controller's view: Services as last listed, watched or returned by our own writes.
  const services = new Map<string, Service>()
  const poolObjects = new Map<string, PoolObject>()
  // Which pool each Service's IPs came from (for `services_allocated_total`).
  const poolOfService = new Map<string, string>()
  // Sharing key and backend key of each Service as last converged: a change may let a waiting Service share.
  const allocationKeys = new Map<string, string>()
  // LoadBalancer Services waiting for an IP (their last convergence gave none).
  const waiting = new Set<string>()
  let pending = new Set<string>()
  let servicesSynced = false
  let config: Config | undefined
  let poolsChanged = false
  let initialDone = false
  const readyLatch = yield* Deferred.make<void>()
  const wake = yield* Queue.dropping<void>(1)
  const poke = Queue.offer(wake, undefined)

  // --- inputs ------------------------------------------------------------------------------------------------
  yield* listWatch(fromClient(kube, Services), { name: "services" }).pipe(
    Stream.runForEach((change) => {
      if (change._tag === "Synced") {
        servicesSynced = true
        return poke
      }
      const key = keyOf(change.object)
      if (change._tag === "Deleted") {
        services.delete(key)
      } else {
        const known = services.get(key)
        if (Reconcile.isSameVersion(change.object, known) || !Reconcile.isNewer(change.object, known)) return Effect.void
        services.set(key, change.object)
      }
      pending.add(key)
      return poke
    }),
    Effect.forkScoped
  )

  yield* listWatch(fromClient(kube, IPAddressPools, { namespace: options.namespace }), { name: "ipaddresspools" }).pipe(
    Stream.runForEach((change) => {
      if (change._tag === "Synced") return Effect.void
      if (change._tag === "Deleted") poolObjects.delete(change.object.metadata.name)
      else poolObjects.set(change.object.metadata.name, change.object)
      return poke
    }),
    Effect.forkScoped
  )

  yield* source.configs.pipe(
    Stream.runForEach((c) => {
      config = c
      poolsChanged = true
      return poke
    }),
    Effect.forkScoped
  )

  // --- writes ------------------------------------------------------------------------------------------------
  // Events go out behind the status writes, from their own queue: they must never slow an assignment down, and
  // under a storm the newest are dropped (they are best effort anyway; the EventRecorder aggregates repeats).
  const eventQueue = yield* Queue.dropping<readonly [ObjectReference, EventType, string, string]>(10_000)
  const record = (involved: ObjectReference, type: EventType, reason: string, message: string) =>
    Queue.offer(eventQueue, [involved, type, reason, message] as const).pipe(Effect.asVoid)
  yield* Effect.forever(
    Queue.takeAll(eventQueue).pipe(
      Effect.flatMap((batch) => Effect.forEach(batch, ([i, t, r, m]) => events.recordEvent(i, t, r, m), { concurrency: 2, discard: true }))
    )
  ).pipe(Effect.forkScoped)

  const remember = (object: Service) => {
    const key = keyOf(object)
    if (Reconcile.isNewer(object, services.get(key))) services.set(key, object)
  }

  const retryLater = (key: string) =>
    Effect.sleep(retryDelay).pipe(
      Effect.andThen(Effect.sync(() => pending.add(key))),
      Effect.andThen(poke),
      Effect.forkScoped,
      Effect.asVoid
    )

  const writeFailed = (key: string, what: string) => (error: KubeError) =>
    error.reason === "NotFound"
      ? Effect.void // deleted meanwhile: its deletion is on its way
      : Effect.logError(`failed to update service ${what}`).pipe(
        Effect.annotateLogs({ service: key, error: error.message }),
        Effect.andThen(Metrics.update(Metrics.k8sUpdateErrors, {}, 1)),
        Effect.andThen(retryLater(key))
      )

  /** Sends what a convergence decided, records its events. */
  const apply = (service: Service, intent: ServiceIntent.ServiceIntent, convergence: Convergence) =>
    Effect.gen(function*() {
      const key = intent.key
      const writes = Reconcile.writesFor(service, convergence)
      const reference = referenceTo<KubeObject>(Services, service)
      for (const event of convergence.events) yield* record(reference, event.type, event.reason, event.message)
      if (convergence.error !== undefined && convergence.ips.length === 0) {
        yield* Effect.logDebug("failed to converge service").pipe(Effect.annotateLogs({ service: key, error: convergence.error }))
      }
      if (writes.metadata === undefined && writes.status === undefined) return
      if (intent.deprecatedAnnotations.length > 0) {
        yield* record(
          reference,
          "Warning",
          Reason.DeprecatedAnnotation,
          `Service uses deprecated annotation(s) ${intent.deprecatedAnnotations.join(", ")}: use the ${ServiceIntent.AnnotationPrefix} prefix instead`
        )
      }
      // The annotation first: whoever sees the IP in the status also sees which pool it came from.
      if (writes.metadata !== undefined) {
        const ok = yield* kube.patch(Services, service.metadata.name, service.metadata.namespace, mergePatch(writes.metadata)).pipe(
          Effect.tap((o) => Effect.sync(() => remember(o))),
          Effect.as(true),
          Effect.catch((e) => writeFailed(key, "annotation")(e).pipe(Effect.as(false)))
        )
        if (!ok) return
      }
      if (writes.status !== undefined) {
        yield* kube.patchStatus(Services, service.metadata.name, service.metadata.namespace, mergePatch(writes.status)).pipe(
          Effect.tap((o) => Effect.sync(() => remember(o))),
          Effect.tap(() =>
            writes.ingress.length > 0
              ? Effect.logInfo("service assigned").pipe(
                Effect.annotateLogs({ event: "ipAllocated", service: key, ip: writes.ingress, pool: convergence.pool ?? "" })
              )
              : Effect.logInfo("service cleared").pipe(Effect.annotateLogs({ event: "serviceUpdated", service: key }))
          ),
          Effect.catch(writeFailed(key, "status"))
        )
      }
    })

  // --- decisions ---------------------------------------------------------------------------------------------
  interface Work {
    readonly service: Service
    readonly intent: ServiceIntent.ServiceIntent
  }

  /** Handled Services as intents; malformed ones are logged and skipped. */
  const intentsOf = (keys: Iterable<string>) =>
    Effect.gen(function*() {
      const out: Array<Work> = []
      for (const key of keys) {
        const service = services.get(key)
        if (service === undefined) continue
        const intent = ServiceIntent.fromService(service)
        if (Result.isFailure(intent)) {
          yield* Effect.logWarning("ignoring malformed service").pipe(Effect.annotateLogs({ service: key, error: intent.failure }))
          continue
        }
        if (!ServiceIntent.isHandledBy(intent.success, lbClass)) continue
        out.push({ service, intent: intent.success })
      }
      return out
    })

  const track = (intent: ServiceIntent.ServiceIntent, convergence: Convergence) => {
    const key = intent.key
    if (convergence.ips.length > 0 && convergence.pool !== undefined) poolOfService.set(key, convergence.pool)
    else poolOfService.delete(key)
    if (convergence.ips.length === 0 && intent.type === "LoadBalancer") waiting.add(key)
    else waiting.delete(key)
  }

  /**
   * Converges in order, then sends all writes. Returns how many Services freed room for others (lost or gave up
   * IPs, or changed their sharing or backend key), MetalLB's triggers for reprocessing.
   */
  const convergeAll = (work: ReadonlyArray<Work>) =>
    Effect.gen(function*() {
      const results: Array<readonly [Work, Convergence]> = []
      let released = 0
      for (const w of Reconcile.passOrder(work.map((x) => ({ ...x, key: x.intent.key, ingress: x.intent.ingress })))) {
        const convergence = yield* allocator.converge(w.intent)
        if (w.intent.ingress.length > 0 && convergence.ips.length === 0) released++
        const allocationKey = `${w.intent.sharingKey}\u0000${w.intent.backendKey}`
        const before = allocationKeys.get(w.intent.key)
        if (before !== undefined && before !== allocationKey) released++
        allocationKeys.set(w.intent.key, allocationKey)
        track(w.intent, convergence)
        results.push([w, convergence])
      }
      yield* sendAll(results)
      return released
    })

  const sendAll = (results: ReadonlyArray<readonly [Work, Convergence]>) =>
    Effect.forEach(results, ([w, c]) => apply(w.service, w.intent, c), { concurrency, discard: true }).pipe(
      Effect.andThen(Metrics.update(Metrics.k8sUpdates, {}, results.length))
    )

  /**
   * LoadBalancer Services that hold no IP: after IPs were freed, they may fit now. Kept as a set so that a pass costs
   * O(waiting), not O(all Services): a bulk deletion of n Services stays O(n · waiting).
   */
  const unallocated = Effect.suspend(() => intentsOf([...waiting]))

  const initialPass = Effect.gen(function*() {
    const work = yield* intentsOf(services.keys())
    const byKey = new Map(work.map((w) => [w.intent.key, w] as const))
    const convergences = yield* allocator.rebuild(work.map((w) => w.intent))
    const results: Array<readonly [Work, Convergence]> = []
    for (const [key, convergence] of convergences) {
      const w = byKey.get(key)
      if (w === undefined) continue
      track(w.intent, convergence)
      allocationKeys.set(key, `${w.intent.sharingKey}\u0000${w.intent.backendKey}`)
      results.push([w, convergence])
    }
    yield* sendAll(results)
    yield* Effect.logInfo("initial reconciliation done").pipe(Effect.annotateLogs({ event: "initialLoad", services: work.length }))
  })

  /** One turn: take everything that changed, decide, write. */
  const turn = Effect.gen(function*() {
    if (!servicesSynced || config === undefined) return
    let fullPass = false
    if (poolsChanged) {
      poolsChanged = false
      const change = yield* allocator.setPools(Pools.fromConfig(config))
      for (const key of [...change.dropped, ...change.moved]) pending.add(key)
      fullPass = true
    }
    const keys = pending
    pending = new Set()
    if (!initialDone) {
      yield* initialPass
      initialDone = true
      yield* Deferred.succeed(readyLatch, undefined)
    } else if (fullPass) {
      const released = yield* convergeAll(yield* intentsOf(services.keys()))
      if (released > 0) yield* convergeAll(yield* unallocated)
    } else if (keys.size > 0) {
      let freed = false
      for (const key of keys) {
        const service = services.get(key)
        const intent = service === undefined ? undefined : ServiceIntent.fromService(service)
        const handled = intent !== undefined && Result.isSuccess(intent) && ServiceIntent.isHandledBy(intent.success, lbClass)
        // Gone, or no longer ours (class changed): free its IPs, others may use them.
        if (!handled) {
          allocationKeys.delete(key)
          waiting.delete(key)
          if (yield* allocator.release(key)) {
            poolOfService.delete(key)
            freed = true
          }
        }
      }
      const released = yield* convergeAll(yield* intentsOf(keys))
      if (freed || released > 0) yield* convergeAll(yield* unallocated)
    }
    yield* publishPoolState
  })

  // --- pool status and gauges ----------------------------------------------------------------------------------
  let gaugePools = new Set<string>()
  let lastPoolWrite = 0
  let poolWriteScheduled = false
  const publishPoolState = Effect.gen(function*() {
    const stats = yield* allocator.stats
    const servicesPerPool = new Map<string, number>()
    for (const pool of poolOfService.values()) servicesPerPool.set(pool, (servicesPerPool.get(pool) ?? 0) + 1)
    const seen = new Set<string>()
    for (const s of stats) {
      seen.add(s.pool)
      const labels = { pool: s.pool }
      yield* Metrics.update(Metrics.addressesTotal, labels, Number(s.total))
      yield* Metrics.update(Metrics.ipv4AddressesTotal, labels, Number(s.ipv4.total))
      yield* Metrics.update(Metrics.ipv6AddressesTotal, labels, Number(s.ipv6.total))
      yield* Metrics.update(Metrics.addressesInUse, labels, s.inUse)
      yield* Metrics.update(Metrics.ipv4AddressesInUse, labels, s.ipv4.inUse)
      yield* Metrics.update(Metrics.ipv6AddressesInUse, labels, s.ipv6.inUse)
      yield* Metrics.update(Metrics.servicesAllocated, labels, servicesPerPool.get(s.pool) ?? 0)
    }
    for (const pool of gaugePools) {
      if (!seen.has(pool)) yield* Effect.forEach(poolGauges, (g) => Metrics.remove(g, { pool }), { discard: true })
    }
    gaugePools = seen
    // Compared with what the pool shows, so a manual edit of the status is reverted on the next turn.
    // At most one round of pool status writes per interval: during a burst every turn changes the counters.
    const now = yield* Clock.currentTimeMillis
    if (now - lastPoolWrite < poolStatusInterval) {
      if (!poolWriteScheduled) {
        poolWriteScheduled = true
        yield* Effect.sleep(poolStatusInterval - (now - lastPoolWrite)).pipe(
          Effect.andThen(Effect.sync(() => (poolWriteScheduled = false))),
          Effect.andThen(poke),
          Effect.forkScoped
        )
      }
      return
    }
    const writes = stats.flatMap((s) => {
      const object = poolObjects.get(s.pool)
      const wanted = Reconcile.poolStatus(s)
      return object === undefined || Reconcile.samePoolStatus(wanted, object.status) ? [] : [[s.pool, wanted] as const]
    })
    if (writes.length > 0) lastPoolWrite = now
    yield* Effect.forEach(writes, ([pool, wanted]) =>
      kube.patchStatus(IPAddressPools, pool, options.namespace, mergePatch({ status: wanted })).pipe(
        Effect.tap((o) => Effect.sync(() => poolObjects.set(pool, o))),
        Effect.catch((error) =>
          error.reason === "NotFound" ? Effect.void : Effect.logWarning("failed to update pool status").pipe(
            Effect.annotateLogs({ pool, error: error.message }),
            Effect.andThen(Effect.sleep(retryDelay).pipe(Effect.andThen(poke), Effect.forkScoped))
          )
        )
      ), { concurrency, discard: true })
  })

  yield* Effect.forever(Queue.take(wake).pipe(Effect.andThen(turn))).pipe(Effect.forkScoped)

  const shape: ServiceReconcilerShape = {
    notReady: Deferred.isDone(readyLatch).pipe(
      Effect.map((ready) =>
        ready ? undefined : config === undefined ? "no configuration loaded yet" : !servicesSynced ? "services not listed yet" : "first reconciliation pending"
      )
    ),
    ready: Deferred.await(readyLatch)
  }
  return shape
})


export class ServiceReconciler extends Context.Service<ServiceReconciler, ServiceReconcilerShape>()("mlb/controller/ServiceReconciler") {
  static readonly layer = (options: ServiceReconcilerOptions) => Layer.effect(ServiceReconciler, make(options))
}
