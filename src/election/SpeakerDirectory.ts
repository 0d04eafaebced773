/**
 * Which speakers exist cluster-wide and on which interfaces they heartbeat: the slow, API-server-backed half of
 * layer 2 liveness (docs/design/l2-liveness.md §1). Liveness uses it only for the isolation rule ("I hear none of
 * the peers that should be here"); it is never on the failover path.
 *
 * The live implementation (a `coordination.k8s.io` Lease per speaker, renewed every 5 s, freshness judged by when a
 * renewal was observed) belongs with the Kubernetes client. This file defines the interface and an in-memory
 * implementation for tests, lab fixtures and the benchmark, which renews on the same schedule and counts the writes
 * the Lease-backed one would make.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Schedule, type Scope, Stream, SubscriptionRef } from "effect"

export interface Speaker {
  readonly node: string
  /** Interfaces it heartbeats on ("all": every interface it announces on). */
  readonly interfaces: "all" | ReadonlySet<string>
}

export interface DirectorySnapshot {
  readonly speakers: ReadonlyMap<string, Speaker>
  /**
   * False while this node cannot reach the API server: the speakers are then the last ones seen, frozen, and nobody
   * is presumed gone because a Lease could not be read.
   */
  readonly fresh: boolean
}

export class SpeakerDirectory extends Context.Service<SpeakerDirectory, {
  readonly snapshot: Effect.Effect<DirectorySnapshot>
  readonly changes: Stream.Stream<DirectorySnapshot>
  /** Lease writes made by this node so far (renewals of its own Lease). */
  readonly writes: Effect.Effect<number>
}>()("metallb/election/SpeakerDirectory") {}

/** The other speakers expected to heartbeat on `iface`. */
export const expectedOn = (snapshot: DirectorySnapshot, self: string, iface: string): ReadonlySet<string> => {
  const out = new Set<string>()
  for (const s of snapshot.speakers.values()) {
    if (s.node !== self && (s.interfaces === "all" || s.interfaces.has(iface))) out.add(s.node)
  }
  return out
}

/** The renewal period of a speaker Lease (design: 5 s, duration 15 s: 0.2 writes/s per node). */
export const renewEvery = Duration.seconds(5)

export interface InMemoryDirectory {
  readonly directory: SpeakerDirectory["Service"]
  /** Replaces the speakers (as a watch would); while stale the change is held back until the API is back. */
  readonly set: (speakers: ReadonlyArray<Speaker>) => Effect.Effect<void>
  /** Simulates losing (false) or regaining (true) the API server. */
  readonly setFresh: (fresh: boolean) => Effect.Effect<void>
}

/** An in-memory directory: `self` renews its (imaginary) Lease every `renew` while the API is reachable. */
export const makeInMemory = (
  self: string,
  initial: ReadonlyArray<Speaker>,
  renew: Duration.Input = renewEvery
): Effect.Effect<InMemoryDirectory, never, Scope.Scope> =>
  Effect.gen(function*() {
    const toMap = (speakers: ReadonlyArray<Speaker>) => new Map(speakers.map((s) => [s.node, s]))
    const ref = yield* SubscriptionRef.make<DirectorySnapshot>({ speakers: toMap(initial), fresh: true })
    let pending: ReadonlyArray<Speaker> | undefined
    let writes = 0
    yield* Effect.gen(function*() {
      if ((yield* SubscriptionRef.get(ref)).fresh) writes++
    }).pipe(Effect.repeat(Schedule.spaced(renew)), Effect.forkScoped)
    const set = (speakers: ReadonlyArray<Speaker>) =>
      Effect.flatMap(SubscriptionRef.get(ref), (now) => {
        if (!now.fresh) return Effect.sync(() => void (pending = speakers))
        return SubscriptionRef.set(ref, { speakers: toMap(speakers), fresh: true })
      })
    const setFresh = (fresh: boolean) =>
      SubscriptionRef.update(ref, (now) => {
        const speakers = fresh && pending !== undefined ? toMap(pending) : now.speakers
        if (fresh) pending = undefined
        return { speakers, fresh }
      })
    return {
      directory: SpeakerDirectory.of({
        snapshot: SubscriptionRef.get(ref),
        changes: SubscriptionRef.changes(ref),
        writes: Effect.sync(() => writes)
      }),
      set,
      setFresh
    }
  })

/** A layer over a fixed in-memory directory. */
export const layerInMemory = (self: string, speakers: ReadonlyArray<Speaker>): Layer.Layer<SpeakerDirectory> =>
  Layer.effect(SpeakerDirectory, Effect.map(makeInMemory(self, speakers), (d) => d.directory))
