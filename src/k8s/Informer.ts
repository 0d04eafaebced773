import { Deferred, Effect, PubSub, Stream } from "effect"
import { KubeClient } from "./KubeClient.ts"
import { type KubeObject, type ListOptions, type Resource } from "./Resource.ts"
import { apply, type Change, fromClient, listWatch, type ListWatcher, type ListWatchOptions } from "./Watch.ts"

export { lastAppliedAnnotation, stripUnread } from "./Watch.ts"

/** A local, always-current copy of one kind (optionally filtered by namespace and selectors). */
export interface Informer<T> {
  /** a copy of the cache keyed by `namespace/name` (`name` for cluster-scoped kinds) */
  readonly snapshot: Effect.Effect<ReadonlyMap<string, T>>
  readonly list: Effect.Effect<ReadonlyArray<T>>
  readonly get: (name: string, namespace?: string) => Effect.Effect<T | undefined>
  /**
   * The cache's contents as `Added` events, a `Synced` once the informer has synced, then every change as it is
   * applied. A change that lands while a consumer subscribes may be seen twice (in the snapshot and live), never
   * not at all: consumers are meant to be idempotent ("compute desired state, diff, apply").
   */
  readonly changes: Stream.Stream<Change<T>>
  /** completes once the first full list is in the cache */
  readonly synced: Effect.Effect<void>
  readonly hasSynced: Effect.Effect<boolean>
}

/** Runs list+watch into a cache for as long as the scope is open (objects without what no code reads: `stripUnread`). */
export const make = Effect.fnUntraced(function*<T extends KubeObject>(lw: ListWatcher<T>, options: ListWatchOptions<T> = {}) {
  const cache = new Map<string, T>()
  const hub = yield* PubSub.unbounded<Change<T>>()
  const firstSync = yield* Deferred.make<void>()
  yield* Effect.addFinalizer(() => PubSub.shutdown(hub))

  yield* listWatch(lw, options).pipe(
    Stream.runForEach((change) =>
      Effect.gen(function*() {
        // The cache is updated before the change is published: a subscriber that reads the cache on a change
        // sees that change in it.
        apply(cache, change)
        if (change._tag === "Synced") yield* Deferred.succeed(firstSync, undefined)
        yield* PubSub.publish(hub, change)
      })
    ),
    Effect.forkScoped
  )

  const snapshot = Effect.sync((): ReadonlyMap<string, T> => new Map(cache))
  const informer: Informer<T> = {
    snapshot,
    list: Effect.sync(() => [...cache.values()]),
    get: (name, namespace) =>
      Effect.sync(() => cache.get(namespace === undefined || namespace === "" ? name : `${namespace}/${name}`)),
    changes: Stream.unwrap(Effect.gen(function*() {
      const subscription = yield* PubSub.subscribe(hub)
      const current = [...cache.values()].map((object): Change<T> => ({ _tag: "Added", object }))
      const synced: Array<Change<T>> = (yield* Deferred.isDone(firstSync)) ? [{ _tag: "Synced" }] : []
      return Stream.concat(Stream.fromIterable([...current, ...synced]), Stream.fromSubscription(subscription))
    })),
    synced: Deferred.await(firstSync),
    hasSynced: Deferred.isDone(firstSync)
  }
  return informer
})

/** An informer on a resource through the KubeClient. */
export const forResource = <T extends KubeObject>(resource: Resource<T>, options: ListOptions = {}) =>
  Effect.flatMap(KubeClient, (client) =>
    make(fromClient(client, resource, options), {
      name: `${resource.plural}${resource.group === "" ? "" : `.${resource.group}`}`
    }))
