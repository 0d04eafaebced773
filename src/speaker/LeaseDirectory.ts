/**
 * The Lease-backed SpeakerDirectory (docs/design/l2-liveness.md §1): each speaker holds a `coordination.k8s.io`
 * Lease `metallb-speaker-<node>` in the MetalLB namespace, renewed every 5 s and annotated with the interfaces it
 * heartbeats on; the directory is the set of Leases whose renewal was *observed* within the lease duration (judged
 * by this node's clock, not by the writer's timestamps, so clock skew does not matter). While this node cannot renew
 * its own Lease the directory is not `fresh`: liveness then presumes nobody gone.
 *
 * It is only consulted for the isolation rule; failover never waits for it.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Layer, Schedule, Stream, SubscriptionRef } from "effect"
import { type DirectorySnapshot, renewEvery, type Speaker, SpeakerDirectory } from "../election/SpeakerDirectory.ts"
import { formatMicroTime } from "../election/LeaseStore.ts"
import * as Informer from "../k8s/Informer.ts"
import { KubeClient } from "../k8s/KubeClient.ts"
import { type LeaseObject, Leases } from "../k8s/Resource.ts"

/** Label carrying the node name; the directory watches only Leases with it. */
export const SpeakerLabel = "metallb.io/speaker"
/** Comma-separated interface names, or `*` for every announcing interface. */
export const InterfacesAnnotation = "metallb.io/interfaces"

export const leaseName = (node: string): string => `metallb-speaker-${node}`

export interface LeaseDirectoryOptions {
  readonly namespace: string
  readonly node: string
  readonly interfaces: "all" | ReadonlySet<string>
  /** Default 5 s. */
  readonly renew?: Duration.Input
  /** How long a Lease counts after its last observed renewal (default 15 s). */
  readonly duration?: Duration.Input
}

export const formatInterfaces = (interfaces: "all" | ReadonlySet<string>): string =>
  interfaces === "all" ? "*" : [...interfaces].toSorted().join(",")

export const parseInterfaces = (text: string | undefined): "all" | ReadonlySet<string> =>
  text === undefined || text === "*" ? "all" : new Set(text.split(",").filter((s) => s !== ""))

/** The speaker a Lease stands for, or undefined for a Lease that is not a speaker's. */
export const speakerOf = (lease: LeaseObject): Speaker | undefined => {
  const node = lease.metadata.labels?.[SpeakerLabel]
  if (node === undefined || node === "") return undefined
  return { node, interfaces: parseInterfaces(lease.metadata.annotations?.[InterfacesAnnotation]) }
}

interface Seen {
  readonly resourceVersion: string
  readonly observedAt: number
  readonly speaker: Speaker
}

/** Which speakers count now: those whose renewal was observed within `durationMs` (self always). Pure. */
export const snapshotOf = (
  seen: ReadonlyMap<string, Seen>,
  self: Speaker,
  now: number,
  durationMs: number,
  fresh: boolean
): DirectorySnapshot => {
  const speakers = new Map<string, Speaker>([[self.node, self]])
  for (const s of seen.values()) {
    // While stale, nobody is presumed gone: the last speakers seen stay.
    if (s.speaker.node !== self.node && (!fresh || now - s.observedAt <= durationMs)) speakers.set(s.speaker.node, s.speaker)
  }
  return { speakers, fresh }
}

const sameSnapshot = (a: DirectorySnapshot, b: DirectorySnapshot) =>
  a.fresh === b.fresh && a.speakers.size === b.speakers.size &&
  [...a.speakers].every(([n, s]) => {
    const t = b.speakers.get(n)
    return t !== undefined && formatInterfaces(t.interfaces) === formatInterfaces(s.interfaces)
  })

const make = (options: LeaseDirectoryOptions) =>
  Effect.gen(function*() {
    const kube = yield* KubeClient
    const clock = yield* Clock.Clock
    const now = () => clock.currentTimeMillisUnsafe()
    const renew = Duration.fromInputUnsafe(options.renew ?? renewEvery)
    const durationMs = Duration.toMillis(Duration.fromInputUnsafe(options.duration ?? "15 seconds"))
    const name = leaseName(options.node)
    const self: Speaker = { node: options.node, interfaces: options.interfaces }
    const seen = new Map<string, Seen>()
    let fresh = true
    let writes = 0
    const ref = yield* SubscriptionRef.make<DirectorySnapshot>(snapshotOf(seen, self, now(), durationMs, fresh))
    const publish = Effect.suspend(() => {
      const next = snapshotOf(seen, self, now(), durationMs, fresh)
      return SubscriptionRef.update(ref, (current) => (sameSnapshot(current, next) ? current : next))
    })

    const body = (resourceVersion?: string): LeaseObject => ({
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        name,
        namespace: options.namespace,
        labels: { [SpeakerLabel]: options.node },
        annotations: { [InterfacesAnnotation]: formatInterfaces(options.interfaces) },
        ...(resourceVersion === undefined ? {} : { resourceVersion })
      },
      spec: {
        holderIdentity: options.node,
        leaseDurationSeconds: Math.max(1, Math.round(durationMs / 1000)),
        renewTime: formatMicroTime(now())
      }
    })
    const renewOnce = kube.get(Leases, name, options.namespace).pipe(
      Effect.flatMap((lease) => kube.replace(Leases, body(lease.metadata.resourceVersion))),
      Effect.catchIf((e) => e.reason === "NotFound", () => kube.create(Leases, body())),
      // A hanging API server is one this node cannot renew with: not fresh, rather than waiting for ever.
      Effect.timeout(renew),
      Effect.tap(() => Effect.sync(() => void (writes++, fresh = true))),
      Effect.catch((e) =>
        Effect.sync(() => void (fresh = false)).pipe(
          Effect.andThen(Effect.logWarning("cannot renew the speaker Lease").pipe(
            Effect.annotateLogs({ lease: name, error: e.message })
          ))
        )),
      Effect.andThen(publish)
    )
    yield* renewOnce
    yield* renewOnce.pipe(Effect.repeat(Schedule.spaced(renew)), Effect.delay(renew), Effect.forkScoped)

    const informer = yield* Informer.forResource(Leases, { namespace: options.namespace, labelSelector: SpeakerLabel })
    yield* informer.changes.pipe(
      Stream.runForEach((change) =>
        Effect.suspend(() => {
          if (change._tag === "Added" || change._tag === "Modified") {
            const speaker = speakerOf(change.object)
            const rv = change.object.metadata.resourceVersion ?? ""
            if (speaker !== undefined && seen.get(change.object.metadata.name ?? "")?.resourceVersion !== rv) {
              seen.set(change.object.metadata.name ?? "", { resourceVersion: rv, observedAt: now(), speaker })
            }
          } else if (change._tag === "Deleted") {
            seen.delete(change.object.metadata.name ?? "")
          }
          return publish
        })),
      Effect.forkScoped
    )
    // Expiry is a matter of time passing, not of an event.
    yield* publish.pipe(Effect.repeat(Schedule.spaced("1 second")), Effect.forkScoped)
    // Leaving: drop the Lease so the others stop expecting this node at once.
    // Bounded: a hanging API server must not hold up the shutdown (the Lease then expires by itself).
    yield* Effect.addFinalizer(() => kube.delete(Leases, name, options.namespace).pipe(Effect.timeout("2 seconds"), Effect.ignore))

    return SpeakerDirectory.of({
      snapshot: SubscriptionRef.get(ref),
      changes: SubscriptionRef.changes(ref),
      writes: Effect.sync(() => writes)
    })
  })

/** The directory over Leases through the KubeClient. */
export const layer = (options: LeaseDirectoryOptions): Layer.Layer<SpeakerDirectory, never, KubeClient> =>
  Layer.effect(SpeakerDirectory, make(options))
