/**
 * `metallb-ts/k8s`: a Kubernetes client as an Effect service on @kubernetes/client-node: typed resources,
 * list+watch as Streams, informer caches, status/patch with conflict retry, and Events with client-go's correlation.
 *
 * @since 0.1.0
 */

/** The `KubeClient` service: get/list/create/replace/patch/delete, update with conflict retry, watch. */
export * as KubeClient from "./KubeClient.ts"
/** `KubeError` with a `reason` to match on (NotFound, Conflict, Gone, Forbidden, Unavailable, Invalid, Other). */
export * as KubeError from "./KubeError.ts"
/** Typed resource descriptors (`Services`, `Nodes`, `Leases`, ...) and `custom(...)` for CRDs. */
export * as Resource from "./Resource.ts"
/** list+watch as a Stream of `Change`s with relist on 410 Gone. */
export * as Watch from "./Watch.ts"
/** An always-current local cache of one kind. */
export * as Informer from "./Informer.ts"
/** The `EventRecorder` service: Kubernetes Events with client-go's aggregation and spam filtering. */
export * as EventRecorder from "./EventRecorder.ts"
/** JSON merge patches (RFC 7386): diff and apply. */
export * as MergePatch from "./MergePatch.ts"
