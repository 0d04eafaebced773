/**
 * Gratuitous announcements: when this node becomes the owner of a service IP it tells the segment at once
 * (gratuitous ARP request and reply for IPv4, an unsolicited Neighbor Advertisement for IPv6) and repeats the burst
 * every 1.1 s for 5 s, as MetalLB does (1.1 s clears Linux's 1 s neighbour `locktime`, so each repetition can still
 * move a cache entry). Unlike MetalLB, bursts follow ownership *changes* only, never every reconcile.
 *
 * Losing the IP cancels its bursts at once. Timers run on Effect's Clock.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, FiberMap, Layer, Schedule, type Scope } from "effect"

export interface BurstTiming {
  /** Time between bursts (MetalLB: 1.1 s). */
  readonly interval: Duration.Input
  /** Bursts are sent while less than this has passed since the first (MetalLB: 5 s → bursts at 0, 1.1, …, 4.4 s). */
  readonly window: Duration.Input
  /**
   * One extra burst this long after the first (none by default). At a handover the previous owner stops only when
   * its own view catches up, up to a liveness interval later, and one last burst of its own in that window would
   * pull clients back to it until our next burst 1.1 s later; a burst just after the window settles them at once.
   */
  readonly confirm?: Duration.Input
}

export const metallbTiming: BurstTiming = { interval: Duration.millis(1100), window: Duration.seconds(5) }

/** Number of bursts one ownership gain produces under `timing`. */
export const burstCount = (timing: BurstTiming): number => {
  const interval = Duration.toMillis(Duration.fromInputUnsafe(timing.interval))
  const window = Duration.toMillis(Duration.fromInputUnsafe(timing.window))
  return Math.max(1, Math.ceil(window / interval))
}

/** Runs `burst` now and then on the timing's schedule. Errors of one burst do not stop the next. */
export const runBursts = <E, R>(burst: Effect.Effect<void, E, R>, timing: BurstTiming = metallbTiming): Effect.Effect<void, never, R> => {
  const regular = burst.pipe(
    Effect.ignore,
    Effect.repeat(Schedule.spaced(timing.interval).pipe(Schedule.upTo({ times: burstCount(timing) - 1 })))
  )
  if (timing.confirm === undefined) return regular
  const confirm = Effect.sleep(timing.confirm).pipe(Effect.andThen(Effect.ignore(burst)))
  return Effect.asVoid(Effect.all([regular, confirm], { concurrency: "unbounded" }))
}

export class Announcer extends Context.Service<Announcer, {
  /** This node gained `key` (an IP): start its bursts, replacing any running for the same key. */
  readonly gained: <E>(key: string, burst: Effect.Effect<void, E>) => Effect.Effect<void>
  /** This node lost `key`: stop its bursts. */
  readonly lost: (key: string) => Effect.Effect<void>
  /** Keys with bursts in progress. */
  readonly active: Effect.Effect<ReadonlyArray<string>>
}>()("metallb/layer2/Announcer") {
  static readonly layer = (timing: BurstTiming = metallbTiming): Layer.Layer<Announcer> =>
    Layer.effect(Announcer, make(timing))
}

const make = (timing: BurstTiming): Effect.Effect<Announcer["Service"], never, Scope.Scope> =>
  Effect.gen(function*() {
    const fibers = yield* FiberMap.make<string>()
    return Announcer.of({
      gained: (key, burst) => FiberMap.run(fibers, key, runBursts(burst, timing)).pipe(Effect.asVoid),
      lost: (key) => FiberMap.remove(fibers, key),
      active: Effect.sync(() => Array.from(fibers, ([key]) => key))
    })
  })
