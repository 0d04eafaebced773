// What the controller and speaker programs share, for the footprint stand-ins: the KubeClient from a kubeconfig,
// informers on the kinds a program watches, the observability server and JSON logging, exactly the modules the real
// programs import. A stand-in prints one line `{"ready":...}` to stdout once every informer has synced and its work
// is done, then idles until SIGTERM, so the harness can sample its RSS.
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Layer, type Scope } from "effect"
import { KubeClient } from "../../src/k8s/KubeClient.ts"
import * as Informer from "../../src/k8s/Informer.ts"
import { custom, type KubeObject, type Resource } from "../../src/k8s/Resource.ts"
import { HealthServer } from "../../src/observability/HealthServer.ts"
import * as Logging from "../../src/observability/Logging.ts"

/** The metallb.io kinds both programs read (their config). */
export const configKinds = {
  ipAddressPools: custom("metallb.io", "v1beta1", "ipaddresspools", "IPAddressPool"),
  l2Advertisements: custom("metallb.io", "v1beta1", "l2advertisements", "L2Advertisement"),
  bgpAdvertisements: custom("metallb.io", "v1beta1", "bgpadvertisements", "BGPAdvertisement"),
  bgpPeers: custom("metallb.io", "v1beta2", "bgppeers", "BGPPeer"),
  bfdProfiles: custom("metallb.io", "v1beta1", "bfdprofiles", "BFDProfile"),
  communities: custom("metallb.io", "v1beta1", "communities", "Community")
} as const

export type ConfigLists = { readonly [K in keyof typeof configKinds]: ReadonlyArray<unknown> }

/** `--name value` flags. */
export const flag = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

/** Starts informers on `resources` and waits until every one has synced. */
export const informers = <R extends Record<string, Resource<KubeObject>>>(resources: R) =>
  Effect.gen(function*() {
    const out: Record<string, Informer.Informer<KubeObject>> = {}
    for (const [key, resource] of Object.entries(resources)) out[key] = yield* Informer.forResource(resource)
    yield* Effect.forEach(Object.values(out), (i) => i.synced, { discard: true })
    return out as { readonly [K in keyof R]: Informer.Informer<KubeObject> }
  })

/** The config CRs as lists, from their informers. */
export const configLists = (all: { readonly [K in keyof typeof configKinds]: Informer.Informer<KubeObject> }) =>
  Effect.gen(function*() {
    const out: Record<string, ReadonlyArray<unknown>> = {}
    for (const key of Object.keys(configKinds)) out[key] = yield* all[key as keyof typeof configKinds].list
    return out as ConfigLists
  })

/** Runs `work` with the KubeClient, the observability server and logging, prints its result as the ready line. */
export const run = (program: string, work: Effect.Effect<Record<string, unknown>, unknown, KubeClient | Scope.Scope>) => {
  const kubeconfig = flag("kubeconfig")
  const main = Effect.gen(function*() {
    const started = performance.now()
    const result = yield* work
    const health = yield* HealthServer
    yield* Effect.logInfo(`${program} stand-in ready`)
    yield* Effect.sync(() =>
      process.stdout.write(`${JSON.stringify({ ready: program, ms: Math.round(performance.now() - started), metrics: health.url, memory: process.memoryUsage(), ...result })}\n`))
    return yield* Effect.never
  }).pipe(
    Effect.scoped,
    Effect.provide(Layer.mergeAll(
      KubeClient.layerKubeconfig(kubeconfig),
      HealthServer.layer({ host: "127.0.0.1", port: Number(flag("metrics-port") ?? "0") }),
      Logging.layer(program, "info")
    ))
  )
  NodeRuntime.runMain(main)
}
