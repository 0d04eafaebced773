/**
 * `metallb-ts/testing`: an in-memory Kubernetes API server speaking the real REST and watch protocol over HTTP on
 * 127.0.0.1 (resourceVersions, 409/410, status subresources, selectors, CRDs, discovery for kubectl). Point a
 * `KubeClient` (or kubectl) at it with its `url` or `kubeconfigPath`.
 *
 * @since 0.1.0
 */

/** `InMemoryApiServer.layer(options)` as an Effect service, and `startApiServer(options)` for Promise users. */
export * as InMemoryApiServer from "./InMemoryApiServer.ts"
