/**
 * Runs the FSM's timers on Effect's Clock: `StartTimer` forks a fiber that sleeps and then reports the expiry,
 * `StopTimer` interrupts it. Because a timer can fire just before the FSM stops or restarts it, every expiry carries
 * a generation; `accept` turns only the expiry of the current generation into an FSM event, so `Fsm.step` never sees
 * an expiry of a timer it no longer runs.
 *
 * The driver loop (one per connection) is:
 *
 *   inbox ← message events from the socket and `TimerExpiry` values from `onExpiry`
 *   loop: take from inbox; expiry → `accept` (skip when stale); `step`; `apply(actions)`; perform the other actions
 *
 * Being on Clock, the timers run on TestClock in tests (hold expiry after 90 virtual seconds, in microseconds).
 */
import { Duration, Effect, FiberMap, Option, Random, Ref, type Scope } from "effect"
import { expiryEvent, type FsmAction, type FsmEvent, type TimerName } from "./Fsm.ts"

/** A timer fired. Feed it back through `accept`, which knows whether it is still current. */
export interface TimerExpiry {
  readonly _tag: "TimerExpiry"
  readonly timer: TimerName
  readonly generation: number
}

export interface FsmTimers {
  /** Interprets the StartTimer/StopTimer actions of one step, in order; other actions are left to the caller. */
  readonly apply: (actions: ReadonlyArray<FsmAction>) => Effect.Effect<void>
  /** The FSM event for an expiry, or none if the timer was stopped or restarted after it fired (or already taken). */
  readonly accept: (expiry: TimerExpiry) => Effect.Effect<Option.Option<FsmEvent>>
}

export interface FsmTimersOptions {
  /** Called from the timer's fiber when it fires; typically offers the expiry to the driver's inbox. */
  readonly onExpiry: (expiry: TimerExpiry) => Effect.Effect<void>
  /**
   * RFC 4271 §10: jitter the ConnectRetryTimer and KeepaliveTimer by a random factor in [0.75, 1.0], picked anew each
   * time the timer is set. The HoldTimer and DelayOpenTimer are never jittered. Default: on.
   */
  readonly jitter?: boolean
}

const jittered: ReadonlySet<TimerName> = new Set(["ConnectRetry", "Keepalive"])

const zeroGenerations: Record<TimerName, number> = { ConnectRetry: 0, Hold: 0, Keepalive: 0, DelayOpen: 0 }

/** Timers for one FSM; they are all interrupted when the scope closes. */
export const make = (options: FsmTimersOptions): Effect.Effect<FsmTimers, never, Scope.Scope> =>
  Effect.gen(function*() {
    const fibers = yield* FiberMap.make<TimerName>()
    const generations = yield* Ref.make(zeroGenerations)
    const jitter = options.jitter ?? true

    const bump = (timer: TimerName) =>
      Ref.modify(generations, (g) => {
        const next = (g[timer] ?? 0) + 1
        return [next, { ...g, [timer]: next }]
      })

    const duration = (timer: TimerName, seconds: number) =>
      jitter && jittered.has(timer)
        ? Effect.map(Random.nextBetween(0.75, 1), (factor) => Duration.millis(Math.round(seconds * 1000 * factor)))
        : Effect.succeed(Duration.seconds(seconds))

    const startTimer = (timer: TimerName, seconds: number) =>
      Effect.gen(function*() {
        const generation = yield* bump(timer)
        const wait = yield* duration(timer, seconds)
        // Replaces (interrupts) a running fiber for the same timer: a restart.
        yield* FiberMap.run(
          fibers,
          timer,
          Effect.andThen(Effect.sleep(wait), options.onExpiry({ _tag: "TimerExpiry", timer, generation }))
        )
      })

    const stopTimer = (timer: TimerName) => Effect.andThen(bump(timer), FiberMap.remove(fibers, timer))

    const apply = (actions: ReadonlyArray<FsmAction>) =>
      Effect.forEach(
        actions,
        (a) =>
          a._tag === "StartTimer" ? startTimer(a.timer, a.seconds) : a._tag === "StopTimer" ? stopTimer(a.timer) : Effect.void,
        { discard: true }
      )

    const accept = (expiry: TimerExpiry) =>
      Ref.modify(generations, (g): [Option.Option<FsmEvent>, Record<TimerName, number>] =>
        g[expiry.timer] === expiry.generation
          // Consume the generation so that the same expiry cannot be accepted twice.
          ? [Option.some(expiryEvent[expiry.timer]), { ...g, [expiry.timer]: expiry.generation + 1 }]
          : [Option.none(), g]
      )

    return { apply, accept } satisfies FsmTimers
  })
