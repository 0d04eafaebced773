import { Clock, Context, Duration, Effect, Fiber, Layer, Schedule, Schema, Stream, SubscriptionRef } from "effect"
import type { KubeError } from "../k8s/KubeError.ts"
import { type LeaseRecord, LeaseStore, type LeaseStoreShape, type StoredLease } from "./LeaseStore.ts"

/**
 * Timing of the election, as in client-go: a holder is presumed alive for `leaseDuration` after a candidate last
 * saw its lease change; the holder gives up leading when it could not renew for `renewDeadline`; everybody
 * (re)tries every `retryPeriod`. `leaseDuration > renewDeadline > retryPeriod` keeps two leaders apart.
 */
export interface ElectionTiming {
  readonly leaseDurationMs: number
  readonly renewDeadlineMs: number
  readonly retryPeriodMs: number
}

/** What this replica last saw of the lease, and when (its own clock): expiry is measured from `observedAt`, never
 * from the holder's `renewTime`, so clock skew between nodes cannot shorten a lease. */
export interface Observation {
  readonly record: LeaseRecord
  readonly observedAt: number
}

export type Decision =
  /** the lease is absent, released or expired: take it */
  | { readonly _tag: "Acquire"; readonly record: LeaseRecord }
  /** we hold it: extend it */
  | { readonly _tag: "Renew"; readonly record: LeaseRecord }
  /** somebody else holds a live lease: wait */
  | { readonly _tag: "Observe"; readonly holder: string; readonly expiresAt: number }
  /** as Observe, but we believed we were leading: step down now */
  | { readonly _tag: "Lost"; readonly holder: string; readonly expiresAt: number }

/** The lease transition function. */
export const decide = (
  observed: Observation | undefined,
  now: number,
  identity: string,
  timing: ElectionTiming,
  leading: boolean
): Decision => {
  const fresh = (transitions: number): Decision => ({
    _tag: "Acquire",
    record: {
      holderIdentity: identity,
      leaseDurationMs: timing.leaseDurationMs,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: transitions
    }
  })
  if (observed === undefined) return fresh(0)
  const { record } = observed
  if (record.holderIdentity === identity) {
    return { _tag: "Renew", record: { ...record, leaseDurationMs: timing.leaseDurationMs, renewTime: now } }
  }
  if (record.holderIdentity === undefined) return fresh(record.leaseTransitions + 1)
  const expiresAt = observed.observedAt + record.leaseDurationMs
  if (now < expiresAt) return { _tag: leading ? "Lost" : "Observe", holder: record.holderIdentity, expiresAt }
  return fresh(record.leaseTransitions + 1)
}

/** Local state of one elector. */
export interface Candidate {
  readonly leading: boolean
  /** local time just before our last successful acquire/renew write */
  readonly lastRenewAt: number | undefined
  readonly observed: Observation | undefined
}

export const initialCandidate: Candidate = { leading: false, lastRenewAt: undefined, observed: undefined }

const sameRecord = (a: LeaseRecord, b: LeaseRecord) =>
  a.holderIdentity === b.holderIdentity && a.renewTime === b.renewTime && a.acquireTime === b.acquireTime &&
  a.leaseTransitions === b.leaseTransitions && a.leaseDurationMs === b.leaseDurationMs

/** Record a read of the lease: the observation time only moves when the lease changed. */
export const observe = (c: Candidate, record: LeaseRecord | undefined, now: number): Candidate => {
  if (record === undefined) return { ...c, observed: undefined }
  if (c.observed !== undefined && sameRecord(c.observed.record, record)) return c
  return { ...c, observed: { record, observedAt: now } }
}

/** A successful acquire/renew write sent at `sentAt`, answered at `now`. A late answer does not make a leader. */
export const written = (c: Candidate, record: LeaseRecord, sentAt: number, now: number, timing: ElectionTiming): Candidate => {
  const observed = { record, observedAt: sentAt }
  return now - sentAt < timing.renewDeadlineMs
    ? { leading: true, lastRenewAt: sentAt, observed }
    : { leading: false, lastRenewAt: undefined, observed }
}

/** Whether a leader may still act at `now`: only until `renewDeadline` after its last successful renew. */
export const withinDeadline = (c: Candidate, now: number, timing: ElectionTiming): boolean =>
  c.leading && c.lastRenewAt !== undefined && now - c.lastRenewAt < timing.renewDeadlineMs

export const stepDown = (c: Candidate): Candidate => ({ ...c, leading: false, lastRenewAt: undefined })

/** The election configuration is unusable (empty identity, a timing that is not a positive duration, ...); `field` names it. */
export class LeaderElectionConfigError extends Schema.TaggedError<LeaderElectionConfigError>()("LeaderElectionConfigError", {
  field: Schema.String,
  message: Schema.String
}) {}

export interface LeaderElectionConfig {
  /** this replica's name, usually the pod name */
  readonly identity: string
  readonly leaseDuration: Duration.Input
  readonly renewDeadline: Duration.Input
  readonly retryPeriod: Duration.Input
}

/** client-go's defaults. */
/** The Lease the controller replicas compete for (`--leader-elect`). */
export const DefaultLeaseName = "metallb-controller"

export const defaultTiming = { leaseDuration: "15 seconds", renewDeadline: "10 seconds", retryPeriod: "2 seconds" } as const

const positiveMillis = (field: string, input: Duration.Input) =>
  Duration.fromInput(input).pipe(
    Effect.fromOption,
    Effect.map(Duration.toMillis),
    Effect.filterOrFail(
      (n) => Number.isFinite(n) && n > 0,
      () => new LeaderElectionConfigError({ field, message: `${field} must be a positive finite duration` })
    ),
    Effect.mapError((e) =>
      e._tag === "LeaderElectionConfigError" ? e : new LeaderElectionConfigError({ field, message: `${field} is not a duration` })
    )
  )

export const validateConfig = (config: LeaderElectionConfig): Effect.Effect<ElectionTiming, LeaderElectionConfigError> =>
  Effect.gen(function*() {
    if (config.identity === "") {
      return yield* new LeaderElectionConfigError({ field: "identity", message: "identity must not be empty" })
    }
    const leaseDurationMs = yield* positiveMillis("leaseDuration", config.leaseDuration)
    const renewDeadlineMs = yield* positiveMillis("renewDeadline", config.renewDeadline)
    const retryPeriodMs = yield* positiveMillis("retryPeriod", config.retryPeriod)
    if (leaseDurationMs <= renewDeadlineMs) {
      return yield* new LeaderElectionConfigError({ field: "leaseDuration", message: "leaseDuration must be greater than renewDeadline" })
    }
    if (renewDeadlineMs <= retryPeriodMs) {
      return yield* new LeaderElectionConfigError({ field: "renewDeadline", message: "renewDeadline must be greater than retryPeriod" })
    }
    return { leaseDurationMs, renewDeadlineMs, retryPeriodMs }
  })

export interface LeaderElectionShape {
  readonly identity: string
  readonly isLeader: Effect.Effect<boolean>
  /** the current value, then every change */
  readonly changes: Stream.Stream<boolean>
  /** completes once this replica leads */
  readonly awaitLeadership: Effect.Effect<void>
}

/**
 * Runs an elector for as long as the scope is open; closing the scope releases the lease (holder cleared) so a
 * successor takes over at its next retry instead of waiting for the lease to expire.
 */
export const make = (config: LeaderElectionConfig) =>
  Effect.gen(function*() {
    const timing = yield* validateConfig(config)
    const store = yield* LeaseStore
    return yield* makeWith(config.identity, timing, store)
  })

export const makeWith = Effect.fnUntraced(function*(identity: string, timing: ElectionTiming, store: LeaseStoreShape) {
  const state = yield* SubscriptionRef.make<Candidate>(initialCandidate)
  const log = (message: string, extra: Record<string, unknown> = {}) =>
    Effect.logInfo(message).pipe(Effect.annotateLogs({ identity, ...extra }))

  const write = (stored: StoredLease | undefined, record: LeaseRecord): Effect.Effect<StoredLease, KubeError> =>
    stored === undefined ? store.create(record) : store.update(record, stored.resourceVersion)

  const cycle = Effect.gen(function*() {
    const stored = yield* store.get
    const readAt = yield* Clock.currentTimeMillis
    const before = yield* SubscriptionRef.updateAndGet(state, (c) => observe(c, stored?.record, readAt))
    const decision = decide(before.observed, readAt, identity, timing, before.leading)
    switch (decision._tag) {
      case "Observe":
        return
      case "Lost":
        yield* SubscriptionRef.update(state, stepDown)
        return yield* log("lost leadership", { holder: decision.holder })
      case "Acquire":
      case "Renew": {
        const sentAt = yield* Clock.currentTimeMillis
        const result = yield* write(stored, decision.record)
        const now = yield* Clock.currentTimeMillis
        const after = yield* SubscriptionRef.updateAndGet(state, (c) => written(c, result.record, sentAt, now, timing))
        if (!before.leading && after.leading) yield* log("became leader", { transitions: result.record.leaseTransitions })
      }
    }
  }).pipe(
    Effect.catch((error) => Effect.logDebug("lease cycle failed").pipe(Effect.annotateLogs({ identity, error: error.message })))
  )

  // The renew loop may be stuck in a request; the watchdog ends leadership at the deadline regardless.
  const watchdog = Effect.gen(function*() {
    const c = yield* SubscriptionRef.get(state)
    const now = yield* Clock.currentTimeMillis
    if (!c.leading || c.lastRenewAt === undefined) return yield* Effect.sleep(timing.renewDeadlineMs)
    const remaining = c.lastRenewAt + timing.renewDeadlineMs - now
    if (remaining > 0) return yield* Effect.sleep(remaining)
    const dropped = yield* SubscriptionRef.modify(state, (cur) =>
      cur.lastRenewAt === c.lastRenewAt && cur.leading ? [true, stepDown(cur)] as const : [false, cur] as const
    )
    if (dropped) yield* log("stepped down: lease not renewed within renewDeadline")
  }).pipe(Effect.forever)

  const loop = yield* cycle.pipe(Effect.repeat(Schedule.spaced(timing.retryPeriodMs)), Effect.forkScoped)
  const guard = yield* Effect.forkScoped(watchdog)

  // Registered after the forks, so it runs before their interruption; it stops them itself first.
  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      yield* Fiber.interrupt(loop)
      yield* Fiber.interrupt(guard)
      const c = yield* SubscriptionRef.getAndUpdate(state, stepDown)
      if (!c.leading) return
      const stored = yield* store.get
      if (stored === undefined || stored.record.holderIdentity !== identity) return
      const now = yield* Clock.currentTimeMillis
      yield* store.update({ ...stored.record, holderIdentity: undefined, leaseDurationMs: 1000, renewTime: now }, stored.resourceVersion)
      yield* log("released lease")
    }).pipe(
      Effect.timeout(timing.renewDeadlineMs),
      Effect.catchCause(() => Effect.logWarning("could not release the lease").pipe(Effect.annotateLogs({ identity })))
    )
  )

  const leading = SubscriptionRef.changes(state).pipe(Stream.map((c) => c.leading), Stream.changes)
  return {
    identity,
    isLeader: Effect.map(SubscriptionRef.get(state), (c) => c.leading),
    changes: leading,
    awaitLeadership: leading.pipe(Stream.filter((l) => l), Stream.take(1), Stream.runDrain)
  } satisfies LeaderElectionShape
})

/**
 * Lease-based leader election with client-go's semantics: `isLeader`, `changes`, `awaitLeadership`. The lease is
 * held while the layer's scope is open and released when it closes.
 */
export class LeaderElection extends Context.Service<LeaderElection, LeaderElectionShape>()("mlb/election/LeaderElection") {
  /** needs a `LeaseStore` (`LeaseStore.layerKube(namespace, name)` in production) */
  static readonly layer = (config: LeaderElectionConfig) => Layer.effect(LeaderElection, Effect.map(make(config), LeaderElection.of))

  /** on the Lease `namespace/name` through the KubeClient */
  static readonly layerKube = (config: LeaderElectionConfig & { readonly namespace: string; readonly leaseName: string }) =>
    LeaderElection.layer(config).pipe(Layer.provide(LeaseStore.layerKube(config.namespace, config.leaseName)))
}
