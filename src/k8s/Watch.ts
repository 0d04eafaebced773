import { Clock, Effect, Queue, Schedule, Stream } from "effect"
import type { KubeClientShape, ObjectList, WatchEvent } from "./KubeClient.ts"
import { KubeError } from "./KubeError.ts"
import { keyOf, type KubeObject, type ListOptions, type Resource, stripUnread } from "./Resource.ts"

export { lastAppliedAnnotation, stripUnread } from "./Resource.ts"

/**
 * What a list+watch consumer sees. `Synced` follows the changes that bring it level with a full list: once after
 * the first list, and again after every relist (410 Gone), whose differences arrive as ordinary changes.
 */
export type Change<T> =
  | { readonly _tag: "Added"; readonly object: T }
  | { readonly _tag: "Modified"; readonly object: T }
  | { readonly _tag: "Deleted"; readonly object: T }
  | { readonly _tag: "Synced" }

/** The two calls list+watch is made of; `fromClient` gives the real ones, tests give fakes. */
export interface ListWatcher<T> {
  readonly list: Effect.Effect<ObjectList<T>, KubeError>
  readonly watch: (resourceVersion: string) => Stream.Stream<WatchEvent<T>, KubeError>
}

export const fromClient = <T extends KubeObject>(
  client: KubeClientShape,
  resource: Resource<T>,
  options: ListOptions = {}
): ListWatcher<T> => ({
  list: client.list(resource, options),
  // Servers end a watch after timeoutSeconds; a random 5–10 min spreads reconnects as client-go does.
  watch: (resourceVersion) =>
    client.watch(resource, { ...options, resourceVersion, timeoutSeconds: 300 + Math.floor(Math.random() * 300) })
})

/** The changes that turn `known` into exactly `items` (a relist): added, modified (by resourceVersion), deleted. */
export const diff = <T extends KubeObject>(known: ReadonlyMap<string, T>, items: ReadonlyArray<T>): Array<Change<T>> => {
  const changes: Array<Change<T>> = []
  const seen = new Set<string>()
  for (const object of items) {
    const key = keyOf(object)
    seen.add(key)
    const before = known.get(key)
    if (before === undefined) changes.push({ _tag: "Added", object })
    else if (before.metadata.resourceVersion !== object.metadata.resourceVersion) changes.push({ _tag: "Modified", object })
  }
  for (const [key, object] of known) {
    if (!seen.has(key)) changes.push({ _tag: "Deleted", object })
  }
  return changes
}

/** Applies a change to a cache keyed by `namespace/name`, in place. */
export const apply = <T extends KubeObject>(cache: Map<string, T>, change: Change<T>): void => {
  if (change._tag === "Added" || change._tag === "Modified") cache.set(keyOf(change.object), change.object)
  else if (change._tag === "Deleted") cache.delete(keyOf(change.object))
}

/**
 * Reconnect delays after failures: exponential from 200 ms, capped at 30 s, each × [0.8, 1.2] so a fleet of
 * watchers does not reconnect in lockstep after an API server restart. Never gives up.
 */
export const reconnectBackoff: Schedule.Schedule<unknown, unknown> = Schedule.min([
  Schedule.exponential("200 millis"),
  Schedule.spaced("30 seconds")
]).pipe(Schedule.jittered)

export interface ListWatchOptions<T = never> {
  /** delays between failed attempts (default `reconnectBackoff`) */
  readonly backoff?: Schedule.Schedule<unknown, unknown> | undefined
  /** a watch that ends sooner than this without any event counts as a failure (no hot reconnect loop) */
  readonly minHealthyMs?: number | undefined
  /** for logs */
  readonly name?: string | undefined
  /**
   * Applied to every listed and watched object before anything keeps it (client-go's `SetTransform`); must keep
   * `metadata.name`, `namespace` and `resourceVersion`. Default: {@link stripUnread}.
   */
  readonly transform?: ((object: T) => T) | undefined
}

/**
 * List, then watch from the list's resourceVersion, forever: a dropped connection resumes from the last
 * resourceVersion seen (events or bookmarks); 410 Gone relists and emits the differences so nothing is lost;
 * failures reconnect with `backoff`, which starts over after a healthy session. The stream never fails.
 */
export const listWatch = <T extends KubeObject>(lw: ListWatcher<T>, options: ListWatchOptions<T> = {}): Stream.Stream<Change<T>> =>
  Stream.callback<Change<T>>((queue) => {
    const known = new Map<string, T>()
    const transform = options.transform ?? stripUnread
    let resourceVersion: string | undefined
    const backoff = options.backoff ?? reconnectBackoff
    const minHealthyMs = options.minHealthyMs ?? 1_000
    const emit = (change: Change<T>) => {
      apply(known, change)
      return Queue.offer(queue, change)
    }

    const relist = Effect.gen(function*() {
      const list = yield* lw.list
      for (const change of diff(known, list.items.map(transform))) yield* emit(change)
      yield* emit({ _tag: "Synced" })
      resourceVersion = list.resourceVersion
    })

    // One connection. Succeeds when it was healthy (delivered events, or lasted minHealthyMs); the next connection
    // then starts at once. Fails otherwise, and the retry schedule spaces the attempts.
    const session = Effect.gen(function*() {
      const relisted = resourceVersion === undefined
      if (relisted) yield* relist
      const startedAt = yield* Clock.currentTimeMillis
      let delivered = 0
      const ended = yield* lw.watch(resourceVersion ?? "").pipe(
        Stream.runForEach((event) => {
          if (event.type === "BOOKMARK") {
            resourceVersion = event.resourceVersion
            return Effect.void
          }
          delivered++
          resourceVersion = event.object.metadata.resourceVersion ?? resourceVersion
          return emit({ _tag: event.type === "ADDED" ? "Added" : event.type === "MODIFIED" ? "Modified" : "Deleted", object: transform(event.object) })
        }),
        Effect.as(undefined),
        Effect.catch((error) => Effect.succeed(error))
      )
      if (ended?.reason === "Gone") {
        resourceVersion = undefined
        // An expired resume point: relist at once. Gone right after a fresh list is the server misbehaving: back off.
        if (!relisted) return
      }
      const lasted = (yield* Clock.currentTimeMillis) - startedAt
      if (delivered > 0 || lasted >= minHealthyMs) {
        if (ended !== undefined) {
          yield* Effect.logDebug("watch dropped; resuming").pipe(Effect.annotateLogs({ watch: options.name ?? "", error: ended.message }))
        }
        return
      }
      return yield* (ended ?? new KubeError({ reason: "Unavailable", request: "WATCH", message: `watch ended after ${lasted} ms without events` }))
    })

    return session.pipe(
      Effect.tapError((error) =>
        Effect.logWarning("watch failed; reconnecting with backoff").pipe(
          Effect.annotateLogs({ watch: options.name ?? "", reason: error.reason, error: error.message })
        )
      ),
      Effect.retry(backoff),
      // A finite schedule that gives up only starts the backoff over: the stream itself never gives up.
      Effect.ignore,
      Effect.forever
    )
  })
