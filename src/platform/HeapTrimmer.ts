/**
 * Gives a program's heap back to the system once it goes quiet after a burst of work (the first list of 10,000
 * Services, a relist, a mass change).
 *
 * V8 has a memory reducer for this, but it waits for a low allocation rate averaged over its last garbage
 * collections. A program that goes quiet after a burst runs no more collections, so that average keeps the burst
 * for minutes (`--trace-memory-reducer`: "high alloc" every 8 s). Measured: the controller with 10,000 Services sat
 * at 137–155 MiB, depending on where its last collection fell, until V8's reducer first ran 105 s after it went
 * quiet; one memory-reducing collection takes it to 112–115 MiB (docs/design/footprint.md).
 *
 * So every `interval` the trimmer samples the committed heap and the event loop's utilisation; when the loop was
 * idle over the whole interval and the heap has grown since the last trim by `minGrowthBytes` and by
 * `growthRatio` of its size then, it runs one memory-reducing collection (compacts, returns free pages; ~50–90 ms
 * with 10,000 Services, once per burst). The ratio keeps V8's normal growth between collections
 * (`--heap-growing-percent`) from counting as a burst.
 *
 * @since 0.1.0
 */
import { Effect, Layer, type Scope } from "effect"
import { performance } from "node:perf_hooks"
import * as V8 from "node:v8"
import { runInNewContext } from "node:vm"

/** One look at the program. */
export interface Sample {
  /** V8's committed heap (`total_heap_size`) */
  readonly committedBytes: number
  /** share of the last interval the event loop was busy, 0–1 */
  readonly loopUtilization: number
}

export interface Policy {
  /** the loop counts as idle at or below this utilisation */
  readonly idleUtilization: number
  readonly minGrowthBytes: number
  readonly growthRatio: number
}

export const defaultPolicy: Policy = { idleUtilization: 0.05, minGrowthBytes: 8 * 2 ** 20, growthRatio: 0.25 }

/** Whether to trim now, given the committed heap right after the last trim (or at start). Pure. */
export const shouldTrim = (policy: Policy, sample: Sample, baselineBytes: number): boolean =>
  sample.loopUtilization <= policy.idleUtilization &&
  sample.committedBytes - baselineBytes >= Math.max(policy.minGrowthBytes, baselineBytes * policy.growthRatio)

/** What the trimmer reads and does; {@link nodeProbe} in a program, a fake in tests. */
export interface Probe {
  /** the heap now and the loop's utilisation since the previous call */
  readonly sample: Effect.Effect<Sample>
  /** a memory-reducing collection; the committed heap after it */
  readonly collect: Effect.Effect<number>
}

export interface HeapTrimmerOptions {
  /** how often to look, in ms (default 5 s) */
  readonly interval?: number | undefined
  readonly policy?: Policy | undefined
  readonly probe?: Probe | undefined
}

/**
 * V8's `gc()`, without `--expose-gc` on the command line: the flag is set just long enough for a new context to
 * get the function, so the program's own global stays without it.
 */
const collector = (): ((options: object) => void) => {
  V8.setFlagsFromString("--expose-gc")
  try {
    return runInNewContext("gc") as (options: object) => void
  } finally {
    V8.setFlagsFromString("--no-expose-gc")
  }
}

/** The running Node process: `v8.getHeapStatistics()`, `performance.eventLoopUtilization()` and V8's `gc()`. */
export const nodeProbe = (): Probe => {
  let last = performance.eventLoopUtilization()
  let gc: ((options: object) => void) | undefined
  return {
    sample: Effect.sync(() => {
      const loop = performance.eventLoopUtilization(last)
      last = performance.eventLoopUtilization()
      return { committedBytes: V8.getHeapStatistics().total_heap_size, loopUtilization: loop.utilization }
    }),
    collect: Effect.sync(() => {
      gc ??= collector()
      // "last-resort" is V8's memory-reducing full collection (what its memory reducer and low-memory
      // notifications run): it compacts and releases pooled pages, where a plain major collection keeps them.
      gc({ type: "major", execution: "sync", flavor: "last-resort" })
      // The collection itself allocated: start the next interval's utilisation after it.
      last = performance.eventLoopUtilization()
      return V8.getHeapStatistics().total_heap_size
    })
  }
}

const mib = (bytes: number) => Math.round(bytes / 2 ** 17) / 8

/** Trims for as long as the scope is open. */
export const run = (options: HeapTrimmerOptions = {}): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const policy = options.policy ?? defaultPolicy
    const probe = options.probe ?? nodeProbe()
    let baseline = (yield* probe.sample).committedBytes
    const tick = Effect.gen(function*() {
      const sample = yield* probe.sample
      if (!shouldTrim(policy, sample, baseline)) return
      const before = sample.committedBytes
      baseline = yield* probe.collect
      yield* Effect.logDebug("heap trimmed").pipe(
        Effect.annotateLogs({ event: "heapTrimmed", beforeMiB: mib(before), afterMiB: mib(baseline) })
      )
    })
    yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep(options.interval ?? 5_000), tick)))
  })

/** {@link run} as a layer of a program. */
export const layer = (options: HeapTrimmerOptions = {}): Layer.Layer<never> => Layer.effectDiscard(run(options))
