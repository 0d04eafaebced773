/**
 * `metallb-ts/allocator`: MetalLB-compatible LoadBalancer IP allocation. `Allocator.Allocator` is the Effect service
 * (`Allocator.Allocator.layer`); `Core` is the pure engine under it for callers that manage state themselves.
 *
 * @since 0.1.0
 */

/** The `Allocator` service and its `AllocationFailed` error. */
export * as Allocator from "./Allocator.ts"
/** The pure allocation engine: `empty`, `setPools`, `converge`, `allocate`, `assign`, `release`, `rebuild`, `stats`. */
export * as Core from "./Core.ts"
/** The allocator's view of an address pool (`Pool.Pool`) and its selector matching. */
export * as Pool from "./Pool.ts"
/** `ServiceIntent.fromService(json)`: what a Service asks for (families, requested IPs, pool, sharing, ports). */
export * as ServiceIntent from "./ServiceIntent.ts"
