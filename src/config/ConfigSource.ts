/**
 * `ConfigSource`: the configuration a component runs on, read from the cluster and kept current.
 *
 * It watches the `metallb.io` configuration objects in the MetalLB namespace, the Namespaces (pool namespace
 * selectors), and for a speaker the Nodes and Secrets (peer node selectors, BGP passwords), plus the legacy
 * ConfigMap `config` (MetalLB 0.7–0.12), which is converted to the custom resources and parsed like them. Which
 * one is used: see `ConfigSourceCore.chooseSource` (the custom resources win when both exist).
 *
 * Every relevant change is parsed again (after a short debounce, so a `kubectl apply` of ten objects is one
 * parse). An invalid input keeps the last good configuration (MetalLB §1.7): the status says why, the
 * `metallb_k8s_client_config_stale_bool` gauge goes to 1, "failed to parse the configuration" is logged, and the
 * component's `ConfigurationState` turns Invalid with the errors as its summary. The ConfigurationState is
 * recreated if someone deletes it.
 *
 * @since 0.1.0
 */
import { Clock, Context, Duration, Effect, Layer, Queue, Result, Stream, SubscriptionRef } from "effect"
import * as Informer from "../k8s/Informer.ts"
import { KubeClient, mergePatch } from "../k8s/KubeClient.ts"
import { ConfigMaps, custom, type KubeObject, Namespaces, Nodes, Pods, Secrets } from "../k8s/Resource.ts"
import type { Change } from "../k8s/Watch.ts"
import * as Metrics from "../observability/Metrics.ts"
import type { Config } from "./Config.ts"
import * as Core from "./ConfigSourceCore.ts"
import { parseConfig } from "./Parse.ts"

export const IPAddressPools = custom("metallb.io", "v1beta1", "ipaddresspools", "IPAddressPool")
export const L2Advertisements = custom("metallb.io", "v1beta1", "l2advertisements", "L2Advertisement")
export const BGPAdvertisements = custom("metallb.io", "v1beta1", "bgpadvertisements", "BGPAdvertisement")
export const BGPPeers = custom("metallb.io", "v1beta2", "bgppeers", "BGPPeer")
export const BFDProfiles = custom("metallb.io", "v1beta1", "bfdprofiles", "BFDProfile")
export const Communities = custom("metallb.io", "v1beta1", "communities", "Community")
export const ConfigurationStates = custom("metallb.io", "v1beta1", "configurationstates", "ConfigurationState")

/** The name of the legacy ConfigMap. */
export const LegacyConfigMapName = Core.LegacyConfigMapName

export interface ConfigSourceOptions {
  /** The MetalLB namespace. */
  readonly namespace: string
  readonly component: Core.Component
  /** Quiet time after a change before parsing (default 100 ms). */
  readonly debounce?: Duration.Input | undefined
  /** The component's Pod: owner of its ConfigurationState (skipped when absent or not found). */
  readonly podName?: string | undefined
  /** Write the ConfigurationState (default true). */
  readonly reportState?: boolean | undefined
}

export interface ConfigSourceShape {
  /** The current status; its `config` is the configuration in use (the last good one). */
  readonly status: SubscriptionRef.SubscriptionRef<Core.Status>
  /** The configuration in use, then every new one (a rejected input does not appear). */
  readonly configs: Stream.Stream<Config>
  /** Completes once a configuration has been loaded. */
  readonly loaded: Effect.Effect<Config>
}

type Labelled = KubeObject & { readonly data?: Readonly<Record<string, string>> | undefined }

/** Legacy ConfigMap text → the custom resources it stands for (loaded on demand: most clusters never need it). */
const convertLegacy = (text: string, namespace: string) =>
  Effect.promise(async () => {
    const [Legacy, Convert] = await Promise.all([import("./legacy/LegacyConfig.ts"), import("./legacy/Convert.ts")])
    const parsed = Legacy.parseText(text, null)
    if (Result.isFailure(parsed)) return Result.fail(parsed.failure.map((i) => `legacy ConfigMap "config": ${Legacy.formatIssue(i)}`))
    const resources = Convert.toResources(parsed.success, namespace)
    if (Result.isFailure(resources)) return Result.fail(resources.failure.map((i) => `legacy ConfigMap "config": ${Legacy.formatIssue(i)}`))
    return Result.succeed(resources.success)
  })

const byKind = (resources: ReadonlyArray<{ readonly kind: string }>, kind: string) => resources.filter((r) => r.kind === kind)

export const make = Effect.fnUntraced(function*(options: ConfigSourceOptions) {
  const kube = yield* KubeClient
  const { namespace, component } = options
  const inNamespace = { namespace }
  const isSpeaker = component._tag === "Speaker"
  const debounce = Duration.fromInputUnsafe(options.debounce ?? "100 millis")
  const reportState = options.reportState ?? true
  const name = Core.stateName(component)
  const logTags = { controller: component._tag === "Controller" ? "PoolReconciler" : "ConfigReconciler" }

  const pools = yield* Informer.forResource(IPAddressPools, inNamespace)
  const l2 = yield* Informer.forResource(L2Advertisements, inNamespace)
  const bgpAds = yield* Informer.forResource(BGPAdvertisements, inNamespace)
  const peers = yield* Informer.forResource(BGPPeers, inNamespace)
  const bfd = yield* Informer.forResource(BFDProfiles, inNamespace)
  const communities = yield* Informer.forResource(Communities, inNamespace)
  const namespaces = yield* Informer.forResource(Namespaces)
  const legacy = yield* Informer.forResource(ConfigMaps, { namespace, fieldSelector: `metadata.name=${LegacyConfigMapName}` })
  const nodes = isSpeaker ? yield* Informer.forResource(Nodes) : undefined
  const secrets = isSpeaker ? yield* Informer.forResource(Secrets, inNamespace) : undefined
  const states = reportState
    ? yield* Informer.forResource(ConfigurationStates, { namespace, fieldSelector: `metadata.name=${name}` })
    : undefined

  const status = yield* SubscriptionRef.make(Core.initial)
  yield* Metrics.update(Metrics.configLoaded, {}, 0)
  yield* Metrics.update(Metrics.configStale, {}, 0)

  // Any change anywhere: parse again. One pending signal is enough.
  const dirty = yield* Queue.dropping<void>(1)
  const informers = [pools, l2, bgpAds, peers, bfd, communities, namespaces, legacy, ...(nodes === undefined ? [] : [nodes]),
    ...(secrets === undefined ? [] : [secrets]), ...(states === undefined ? [] : [states])]
  // Status-only updates of a pool (the controller's own counters) change nothing to parse: MetalLB's pool reconciler
  // reacts to generation changes only. Labels count too (advertisements select pools by label).
  const poolVersions = new Map<string, string>()
  const relevant = (informer: unknown, change: Change<KubeObject>): boolean => {
    if (informer !== pools || change._tag === "Synced") return true
    const name = change.object.metadata.name
    if (change._tag === "Deleted") return poolVersions.delete(name) || true
    const version = `${change.object.metadata.generation ?? ""}|${JSON.stringify(change.object.metadata.labels ?? {})}`
    const before = poolVersions.get(name)
    poolVersions.set(name, version)
    return before !== version
  }
  for (const informer of informers) {
    yield* (informer.changes as Stream.Stream<Change<KubeObject>>).pipe(
      Stream.runForEach((change) => (relevant(informer, change) ? Queue.offer(dirty, undefined) : Effect.void)),
      Effect.forkScoped
    )
  }

  const readObjects = Effect.gen(function*() {
    const legacyMap = (yield* legacy.list)[0] as Labelled | undefined
    const objects: Core.Objects = {
      ipAddressPools: yield* pools.list,
      l2Advertisements: yield* l2.list,
      bgpAdvertisements: yield* bgpAds.list,
      bgpPeers: yield* peers.list,
      bfdProfiles: yield* bfd.list,
      communities: yield* communities.list,
      namespaces: yield* namespaces.list,
      nodes: nodes === undefined ? [] : yield* nodes.list,
      secrets: secrets === undefined ? [] : yield* secrets.list,
      legacy: legacyMap === undefined ? undefined : (legacyMap.data?.["config"] ?? "")
    }
    return objects
  })

  const parse = (objects: Core.Objects) =>
    Effect.gen(function*() {
      const source = Core.chooseSource(objects)
      const parseOptions = isSpeaker ? { namespace, node: component.node } : { namespace }
      if (source === "crds") {
        return [source, parseConfig(Core.inputFor(component, objects), parseOptions)] as const
      }
      const converted = yield* convertLegacy(objects.legacy ?? "", namespace)
      if (Result.isFailure(converted)) return [source, Result.fail({ messages: converted.failure })] as const
      const r = converted.success
      const input = Core.inputFor(component, {
        ...objects,
        ipAddressPools: byKind(r, "IPAddressPool"),
        l2Advertisements: byKind(r, "L2Advertisement"),
        bgpAdvertisements: byKind(r, "BGPAdvertisement"),
        bgpPeers: byKind(r, "BGPPeer"),
        bfdProfiles: byKind(r, "BFDProfile"),
        communities: byKind(r, "Community")
      })
      return [source, parseConfig(input, parseOptions)] as const
    })

  let ownerReferences: ReadonlyArray<unknown> | undefined
  const owner = Effect.gen(function*() {
    if (ownerReferences !== undefined || options.podName === undefined) return ownerReferences ?? []
    const pod = yield* kube.get(Pods, options.podName, namespace).pipe(Effect.option)
    ownerReferences = pod._tag === "Some" && pod.value.metadata.uid !== undefined
      ? [{ apiVersion: "v1", kind: "Pod", name: options.podName, uid: pod.value.metadata.uid }]
      : []
    return ownerReferences
  })

  // Create the ConfigurationState if missing, then write its status if it says something else.
  const report = (current: Core.Status, judged: boolean) =>
    Effect.gen(function*() {
      if (states === undefined) return
      let object: KubeObject | undefined = yield* states.get(name, namespace)
      if (object === undefined) {
        const refs = yield* owner
        // A plain create: if the object exists after all (the informer was behind), the 409 is retried below once
        // the informer shows it, so the component needs no patch of the object itself (least privilege).
        object = yield* kube.create(ConfigurationStates, {
          apiVersion: "metallb.io/v1beta1",
          kind: "ConfigurationState",
          metadata: { name, namespace, labels: Core.stateLabels(component), ...(refs.length > 0 ? { ownerReferences: refs } : {}) }
        })
      }
      const now = new Date(yield* Clock.currentTimeMillis).toISOString().replace(/\.\d+Z$/, "Z")
      const wanted = Core.stateStatus(component, current, judged, Core.conditionsOf(object), now)
      if (Core.sameStateStatus(wanted, (object as { status?: unknown }).status)) return
      yield* kube.patchStatus(ConfigurationStates, name, namespace, mergePatch({ status: wanted }))
    }).pipe(
      Effect.catch((error) =>
        Effect.logWarning("could not write the ConfigurationState; retrying").pipe(
          Effect.annotateLogs({ ...logTags, error: error.message }),
          // Nothing else may change for a while: ask for another pass.
          Effect.andThen(Effect.sleep("1 second").pipe(Effect.andThen(Queue.offer(dirty, undefined)), Effect.forkScoped))
        )
      )
    )

  let judged = false
  const pass = Effect.gen(function*() {
    const objects = yield* readObjects
    const [source, outcome] = yield* parse(objects)
    const before = yield* SubscriptionRef.get(status)
    const next = Core.step(before, outcome, source)
    judged = true
    if (next._tag === "Reject") {
      if (before.errors.join("\n") !== next.status.errors.join("\n")) {
        yield* Effect.logError("failed to parse the configuration").pipe(
          Effect.annotateLogs({ ...logTags, error: next.status.errors.join("\n") })
        )
      }
    } else if (next._tag === "Apply") {
      if (Core.legacyIgnored(objects)) {
        yield* Effect.logWarning("both the legacy ConfigMap \"config\" and metallb.io resources exist; using the resources")
          .pipe(Effect.annotateLogs(logTags))
      }
      yield* Effect.logInfo("config reloaded").pipe(Effect.annotateLogs({ ...logTags, event: "configLoaded", source }))
    }
    if (next.status !== before) yield* SubscriptionRef.set(status, next.status)
    yield* Metrics.update(Metrics.configLoaded, {}, next.status.loaded ? 1 : 0)
    yield* Metrics.update(Metrics.configStale, {}, next.status.stale ? 1 : 0)
    yield* report(next.status, judged)
  })

  yield* Effect.gen(function*() {
    yield* Effect.forEach(informers, (i) => i.synced, { discard: true })
    yield* Queue.clear(dirty)
    yield* pass
    while (true) {
      yield* Queue.take(dirty)
      yield* Effect.sleep(debounce)
      yield* Queue.clear(dirty)
      yield* pass
    }
  }).pipe(Effect.forkScoped)

  const configs = SubscriptionRef.changes(status).pipe(
    Stream.filterMap((s) => (s.config === undefined ? Result.failVoid : Result.succeed(s.config))),
    Stream.changesWith((a, b) => a === b)
  )
  const shape: ConfigSourceShape = {
    status,
    configs,
    loaded: configs.pipe(Stream.runHead, Effect.flatMap((o) => (o._tag === "Some" ? Effect.succeed(o.value) : Effect.never)))
  }
  return shape
})

export class ConfigSource extends Context.Service<ConfigSource, ConfigSourceShape>()("mlb/config/ConfigSource") {
  static readonly layer = (options: ConfigSourceOptions) => Layer.effect(ConfigSource, make(options))
}
