import { Context, Effect, Layer, Ref } from "effect"
import { KubeClient } from "../k8s/KubeClient.ts"
import { KubeError } from "../k8s/KubeError.ts"
import { type LeaseObject, Leases } from "../k8s/Resource.ts"

/** The fields of a coordination.k8s.io/v1 Lease spec that leader election uses, times in epoch milliseconds. */
export interface LeaseRecord {
  /** `undefined` when nobody holds the lease (never taken, or released) */
  readonly holderIdentity: string | undefined
  readonly leaseDurationMs: number
  readonly acquireTime: number | undefined
  readonly renewTime: number | undefined
  readonly leaseTransitions: number
}

export interface StoredLease {
  readonly record: LeaseRecord
  /** optimistic concurrency token: an update must name the version it read */
  readonly resourceVersion: string
}

/**
 * Access to one Lease object. `create` fails with `Conflict` when it exists; `update` fails with `Conflict` when
 * `resourceVersion` is not the current one. That is all leader election needs for safety.
 */
export interface LeaseStoreShape {
  readonly get: Effect.Effect<StoredLease | undefined, KubeError>
  readonly create: (record: LeaseRecord) => Effect.Effect<StoredLease, KubeError>
  readonly update: (record: LeaseRecord, resourceVersion: string) => Effect.Effect<StoredLease, KubeError>
}

/** RFC 3339 with microseconds, the MicroTime wire format. */
export const formatMicroTime = (ms: number): string => new Date(ms).toISOString().replace(/Z$/, "000Z")

const parseTime = (s: string | null | undefined): number | undefined => {
  if (s === null || s === undefined || s === "") return undefined
  const ms = Date.parse(s)
  return Number.isNaN(ms) ? undefined : ms
}

export const recordOfLease = (lease: LeaseObject): LeaseRecord => {
  const spec = lease.spec ?? {}
  const holder = spec.holderIdentity
  return {
    holderIdentity: holder === null || holder === undefined || holder === "" ? undefined : holder,
    leaseDurationMs: (spec.leaseDurationSeconds ?? 0) * 1000,
    acquireTime: parseTime(spec.acquireTime),
    renewTime: parseTime(spec.renewTime),
    leaseTransitions: spec.leaseTransitions ?? 0
  }
}

export const leaseSpecOf = (record: LeaseRecord): NonNullable<LeaseObject["spec"]> => ({
  // An empty string rather than an absent field: a merge or replace must clear the previous holder.
  holderIdentity: record.holderIdentity ?? "",
  leaseDurationSeconds: Math.max(1, Math.round(record.leaseDurationMs / 1000)),
  ...(record.acquireTime === undefined ? {} : { acquireTime: formatMicroTime(record.acquireTime) }),
  ...(record.renewTime === undefined ? {} : { renewTime: formatMicroTime(record.renewTime) }),
  leaseTransitions: record.leaseTransitions
})

/** A store over a map, for tests and the sandbox; several electors share one by sharing the map. */
export const makeMemoryStore = (name = "lease"): Effect.Effect<LeaseStoreShape> =>
  Effect.map(Ref.make<StoredLease | undefined>(undefined), (ref) => {
    const transact = (f: (current: StoredLease | undefined) => StoredLease | KubeError) =>
      Ref.modify(ref, (current): readonly [StoredLease | KubeError, StoredLease | undefined] => {
        const next = f(current)
        return [next, next instanceof KubeError ? current : next]
      }).pipe(Effect.flatMap((r) => r instanceof KubeError ? Effect.fail(r) : Effect.succeed(r)))
    return {
      get: Ref.get(ref),
      create: (record) =>
        transact((current) => current === undefined ? { record, resourceVersion: "1" } : conflict(`create ${name}`, "AlreadyExists")),
      update: (record, resourceVersion) =>
        transact((current) => {
          if (current === undefined) return notFound(`update ${name}`)
          if (current.resourceVersion !== resourceVersion) return conflict(`update ${name}`, "Conflict")
          return { record, resourceVersion: String(Number(current.resourceVersion) + 1) }
        })
    }
  })

const conflict = (request: string, statusReason: string) =>
  new KubeError({ reason: "Conflict", request, status: 409, statusReason, message: "the lease changed since it was read" })
const notFound = (request: string) => new KubeError({ reason: "NotFound", request, status: 404, message: "no such lease" })

const stored = (lease: LeaseObject): StoredLease => ({
  record: recordOfLease(lease),
  resourceVersion: lease.metadata.resourceVersion ?? ""
})

/** Where the election's lease lives: a coordination.k8s.io Lease (`layerKube`) or memory (`layerMemory`, tests). */
export class LeaseStore extends Context.Service<LeaseStore, LeaseStoreShape>()("mlb/election/LeaseStore") {
  /** a lease held in memory: for tests and for several electors in one process */
  static readonly layerMemory = Layer.effect(LeaseStore, Effect.map(makeMemoryStore(), LeaseStore.of))

  /** the Lease `namespace/name` through the KubeClient */
  static readonly layerKube = (namespace: string, name: string) =>
    Layer.effect(
      LeaseStore,
      Effect.gen(function*() {
        const kube = yield* KubeClient
        return LeaseStore.of({
          get: kube.get(Leases, name, namespace).pipe(
            Effect.map(stored),
            Effect.catchIf((e) => e.reason === "NotFound", () => Effect.succeed(undefined))
          ),
          create: (record) =>
            kube.create(Leases, {
              apiVersion: "coordination.k8s.io/v1",
              kind: "Lease",
              metadata: { name, namespace },
              spec: leaseSpecOf(record)
            }).pipe(Effect.map(stored)),
          update: (record, resourceVersion) =>
            kube.replace(Leases, {
              apiVersion: "coordination.k8s.io/v1",
              kind: "Lease",
              metadata: { name, namespace, resourceVersion },
              spec: leaseSpecOf(record)
            }).pipe(Effect.map(stored))
        })
      })
    )
}
