/**
 * The `Allocator` service: MetalLB-compatible LoadBalancer IP allocation as an Effect service.
 *
 * It owns the assignment state (pools, who holds which IP, free-space indexes) and exposes the operations a
 * controller needs: replace the pools, converge one Service, rebuild from the cluster after a restart, and the
 * counters behind the pool metrics and `IPAddressPool.status`. The decisions themselves live in the pure core
 * (`Core.ts`), which embedders may also call directly.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Allocator, ServiceIntent } from "metallb-ts/allocator"
 *
 * const program = Effect.gen(function*() {
 *   const allocator = yield* Allocator.Allocator
 *   yield* allocator.setPools([pool])
 *   const intent = yield* Effect.fromResult(ServiceIntent.fromService(serviceJson))
 *   const result = yield* allocator.converge(intent)
 *   // write result.ips to status.loadBalancer.ingress, result.pool to the annotation, record result.events
 * }).pipe(Effect.provide(Allocator.Allocator.layer))
 * ```
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Ref, Schema } from "effect"
import type * as Ip from "../net/Ip.ts"
import * as Core from "./Core.ts"
import type { Pool } from "./Pool.ts"
import type { ServiceIntent } from "./ServiceIntent.ts"

/**
 * An explicit assignment or allocation was refused. `reason` is MetalLB's wording ("no available IPs",
 * "\"192.0.2.7\" is not allowed in config", "port TCP/80 is already in use on …", …).
 *
 * @since 0.1.0
 */
export class AllocationFailed extends Schema.TaggedError<AllocationFailed>()("AllocationFailed", {
  /** The Service key, `namespace/name`. */
  service: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Failed to allocate IP for ${JSON.stringify(this.service)}: ${this.reason}`
  }
}

const orFail = (key: string, outcome: Core.Outcome<Core.Assignment>) =>
  outcome._tag === "Ok"
    ? Effect.succeed(outcome.value)
    : Effect.fail(new AllocationFailed({ service: key, reason: outcome.reason }))

/**
 * LoadBalancer IP allocation. Every operation is atomic with respect to the others: the state is only ever
 * changed by one synchronous step at a time.
 *
 * @since 0.1.0
 */
export class Allocator extends Context.Service<Allocator, {
  /**
   * Replaces the address pools. Allocations outside every new pool are dropped, those whose IPs now belong to
   * another pool are moved; the result names both so the caller can reprocess those Services.
   */
  readonly setPools: (pools: ReadonlyArray<Pool>) => Effect.Effect<Core.PoolChange>
  /**
   * Converges one Service (MetalLB's `convergeBalancer`): keeps valid current IPs, adds the missing family for
   * PreferDualStack from the same pool, or allocates. Never fails: a refusal is `error` plus events in the result.
   */
  readonly converge: (intent: ServiceIntent) => Effect.Effect<Core.Convergence>
  /**
   * Forgets all allocations and rebuilds them from the Services' current status (more ingress IPs first), then
   * allocates for Services still without IPs. Call at start-up before converging individual Services.
   */
  readonly rebuild: (intents: ReadonlyArray<ServiceIntent>) => Effect.Effect<ReadonlyMap<string, Core.Convergence>>
  /** Gives the Service exactly these IPs (1, or 2 of different families, in one pool it may use). */
  readonly assign: (
    intent: ServiceIntent,
    ips: ReadonlyArray<Ip.IpAddress>,
    expectedPool?: string
  ) => Effect.Effect<Core.Assignment, AllocationFailed>
  /** Requested IPs, else the `address-pool` pool, else automatic allocation; MetalLB's reason on failure. */
  readonly allocate: (intent: ServiceIntent) => Effect.Effect<Core.Assignment, AllocationFailed>
  /** Frees the Service's IPs; `false` when it held none. */
  readonly release: (key: string) => Effect.Effect<boolean>
  /** The Service's current assignment, if any. */
  readonly assignment: (key: string) => Effect.Effect<Core.Assignment | undefined>
  /** The pool that owns an address under the current pools. */
  readonly poolForIp: (ip: Ip.IpAddress) => Effect.Effect<string | undefined>
  /** Per-pool counters (total, in use, available per family), by pool name. */
  readonly stats: Effect.Effect<ReadonlyArray<Core.PoolStats>>
}>()("metallb-ts/allocator/Allocator") {
  /** An allocator with no pools and no allocations. */
  static readonly layer: Layer.Layer<Allocator> = Layer.effect(
    Allocator,
    Effect.gen(function*() {
      // The core mutates its state in place (that is what keeps it O(log n)); the Ref only serialises access and
      // every step runs synchronously inside `Ref.modify`, so no interleaving can observe a half-done change.
      const ref = yield* Ref.make(Core.empty())
      const run = <A>(f: (state: Core.AllocatorState) => A): Effect.Effect<A> =>
        Ref.modify(ref, (state) => [f(state), state] as const)
      return Allocator.of({
        setPools: (pools) => run((s) => Core.setPools(s, pools)),
        converge: (intent) => run((s) => Core.converge(s, intent)),
        rebuild: (intents) => run((s) => Core.rebuild(s, intents)),
        assign: (intent, ips, expectedPool) =>
          run((s) => Core.assign(s, intent, ips, expectedPool)).pipe(
            Effect.flatMap((outcome) => orFail(intent.key, outcome))
          ),
        allocate: (intent) =>
          run((s) => Core.allocate(s, intent)).pipe(Effect.flatMap((outcome) => orFail(intent.key, outcome))),
        release: (key) => run((s) => Core.release(s, key)),
        assignment: (key) => run((s) => Core.assignmentOf(s, key)),
        poolForIp: (ip) => run((s) => Core.poolForIp(s, ip)),
        stats: run(Core.stats)
      })
    })
  )
}
