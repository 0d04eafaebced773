/**
 * `metallb-ts/election`: Lease-based leader election (client-go semantics) and the per-IP owner ranking of layer 2
 * mode. The Lease store comes from `metallb-ts/k8s` (`LeaseStore.layerKube`) or memory (`LeaseStore.makeMemoryStore`).
 *
 * @since 0.1.0
 */

/** The `LeaderElection` service and its pure decision functions (`decide`, `observe`, ...). */
export * as LeaderElection from "./LeaderElection.ts"
/** Where the lease lives: the `LeaseStore` service, a Kubernetes-backed layer and an in-memory store. */
export * as LeaseStore from "./LeaseStore.ts"
/** MetalLB's stateless owner ranking: sha256 of `node#ip`, preferred nodes first. */
export * as OwnerRanking from "./OwnerRanking.ts"
