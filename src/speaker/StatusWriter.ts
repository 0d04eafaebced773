/**
 * ServiceL2Status and ServiceBGPStatus (reference §1.3): the speaker's public word on what it announces.
 *
 * - ServiceL2Status (`l2-` + random): written by the node that owns a Service's IP for layer 2, deleted when it stops
 *   owning it; the current owner also deletes the objects other nodes left for that Service.
 * - ServiceBGPStatus (`bgp-` + random): one per (Service, node) advertising it, `status.peers` the BGPPeer names it is
 *   configured to go to from this node ("intention, not session state"); deleted when the Service is withdrawn.
 *
 * Labels `metallb.io/node`, `metallb.io/service-name`, `metallb.io/service-namespace`; the owner reference is the
 * speaker Pod when it can be read. `sync` is idempotent: it diffs the desired statuses against the informer caches
 * and writes only what differs.
 *
 * @since 0.1.0
 */
import { Effect, Semaphore } from "effect"
import * as Informer from "../k8s/Informer.ts"
import { KubeClient, mergePatch } from "../k8s/KubeClient.ts"
import { custom, type KubeObject, Pods } from "../k8s/Resource.ts"

export const ServiceL2Statuses = custom("metallb.io", "v1beta1", "servicel2statuses", "ServiceL2Status")
export const ServiceBGPStatuses = custom("metallb.io", "v1beta1", "servicebgpstatuses", "ServiceBGPStatus")

export const NodeLabel = "metallb.io/node"
export const ServiceNameLabel = "metallb.io/service-name"
export const ServiceNamespaceLabel = "metallb.io/service-namespace"

type StatusObject = KubeObject & { readonly status?: unknown }

/** Desired statuses of this node, keyed by `namespace/name` of the Service. */
export interface DesiredStatuses {
  /** layer 2: the interfaces it is restricted to (empty: all). */
  readonly l2: ReadonlyMap<string, ReadonlyArray<string>>
  /** BGP: the peer names. */
  readonly bgp: ReadonlyMap<string, ReadonlyArray<string>>
}

export interface StatusWriterOptions {
  readonly namespace: string
  readonly node: string
  readonly podName?: string | undefined
}

const splitKey = (key: string) => {
  const slash = key.indexOf("/")
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) }
}

const serviceKeyOf = (o: StatusObject): string | undefined => {
  const labels = o.metadata.labels ?? {}
  const name = labels[ServiceNameLabel]
  const namespace = labels[ServiceNamespaceLabel]
  return name === undefined || namespace === undefined ? undefined : `${namespace}/${name}`
}

const l2Status = (node: string, key: string, interfaces: ReadonlyArray<string>) => {
  const { namespace, name } = splitKey(key)
  return {
    node,
    serviceName: name,
    serviceNamespace: namespace,
    // MetalLB lists interfaces only when the advertisement restricts them.
    interfaces: interfaces.length === 0 ? null : interfaces.map((i) => ({ name: i }))
  }
}

const bgpStatus = (node: string, key: string, peers: ReadonlyArray<string>) => {
  const { namespace, name } = splitKey(key)
  return { node, serviceName: name, serviceNamespace: namespace, peers: [...peers] }
}

/** Same status, treating an absent list as `null` (what a merge patch of null leaves). */
export const sameStatus = (current: unknown, wanted: Record<string, unknown>): boolean => {
  const c = (typeof current === "object" && current !== null ? current : {}) as Record<string, unknown>
  return Object.entries(wanted).every(([k, v]) => JSON.stringify(c[k] ?? null) === JSON.stringify(v ?? null))
}

export const make = Effect.fnUntraced(function*(options: StatusWriterOptions) {
  const kube = yield* KubeClient
  const { namespace, node } = options
  const l2 = yield* Informer.forResource(ServiceL2Statuses, { namespace })
  const bgp = yield* Informer.forResource(ServiceBGPStatuses, { namespace, labelSelector: `${NodeLabel}=${node}` })
  yield* l2.synced
  yield* bgp.synced
  const owner = options.podName === undefined
    ? undefined
    : yield* kube.get(Pods, options.podName, namespace).pipe(
      Effect.map((pod) => ({ apiVersion: "v1", kind: "Pod", name: pod.metadata.name, uid: pod.metadata.uid ?? "" })),
      Effect.orElseSucceed(() => undefined)
    )
  const lock = yield* Semaphore.make(1)
  // Objects this writer created but the informer may not show yet, so a quick second sync does not duplicate them.
  const created = new Map<string, StatusObject>()

  const ownObjects = (objects: ReadonlyArray<StatusObject>, kind: "l2" | "bgp") => {
    const out = new Map<string, Array<StatusObject>>()
    const byName = new Map(objects.map((o) => [o.metadata.name, o]))
    for (const [name, o] of created) {
      if (name.startsWith(`${kind}:`) && !byName.has(o.metadata.name)) byName.set(o.metadata.name, o)
    }
    for (const o of byName.values()) {
      const key = serviceKeyOf(o)
      if (key === undefined || o.metadata.labels?.[NodeLabel] !== node) continue
      out.set(key, [...(out.get(key) ?? []), o])
    }
    return out
  }

  const write = Effect.fnUntraced(function*(
    kind: "l2" | "bgp",
    resource: typeof ServiceL2Statuses,
    objects: ReadonlyArray<StatusObject>,
    wanted: ReadonlyMap<string, Record<string, unknown>>
  ) {
    const mine = ownObjects(objects, kind)
    for (const [key, list] of mine) {
      const keep = wanted.has(key) ? list.slice(0, 1) : []
      for (const o of list.slice(keep.length)) {
        yield* kube.delete(resource, o.metadata.name, namespace).pipe(Effect.catchIf((e) => e.reason === "NotFound", () => Effect.void))
        created.delete(`${kind}:${o.metadata.name}`)
      }
    }
    for (const [key, status] of wanted) {
      const existing = mine.get(key)?.[0]
      if (existing !== undefined) {
        if (!sameStatus(existing.status, status)) {
          const patched = yield* kube.patchStatus(resource, existing.metadata.name, namespace, mergePatch({ status }))
          if (created.has(`${kind}:${existing.metadata.name}`)) created.set(`${kind}:${existing.metadata.name}`, patched)
        }
        continue
      }
      const { namespace: serviceNamespace, name: serviceName } = splitKey(key)
      const object = yield* kube.create(resource, {
        apiVersion: "metallb.io/v1beta1",
        kind: resource.kind,
        metadata: {
          name: "",
          generateName: `${kind}-`,
          namespace,
          labels: { [NodeLabel]: node, [ServiceNameLabel]: serviceName, [ServiceNamespaceLabel]: serviceNamespace },
          ...(owner === undefined ? {} : { ownerReferences: [owner] })
        }
      })
      const patched = yield* kube.patchStatus(resource, object.metadata.name, namespace, mergePatch({ status }))
      created.set(`${kind}:${object.metadata.name}`, patched)
    }
  })

  const sync = (desired: DesiredStatuses) =>
    lock.withPermits(1)(Effect.gen(function*() {
      // Objects the informer shows now no longer need the local record.
      const l2Objects = yield* l2.list
      const bgpObjects = yield* bgp.list
      for (const o of [...l2Objects.map((o) => `l2:${o.metadata.name}`), ...bgpObjects.map((o) => `bgp:${o.metadata.name}`)]) {
        created.delete(o)
      }
      // A record the informer does not show may be of an object already deleted (another node, the owner of the
      // IP for a moment, removed it before this informer ever listed it): without this check it would stand for
      // the status forever and the status would never be written again.
      for (const [key, o] of created) {
        const resource = key.startsWith("l2:") ? ServiceL2Statuses : ServiceBGPStatuses
        const gone = yield* kube.get(resource, o.metadata.name, namespace).pipe(
          Effect.as(false),
          Effect.catchIf((e) => e.reason === "NotFound", () => Effect.succeed(true)),
          Effect.orElseSucceed(() => false)
        )
        if (gone) created.delete(key)
      }
      yield* write("l2", ServiceL2Statuses, l2Objects, new Map([...desired.l2].map(([k, i]) => [k, l2Status(node, k, i)])))
      yield* write("bgp", ServiceBGPStatuses, bgpObjects, new Map([...desired.bgp].map(([k, p]) => [k, bgpStatus(node, k, p)])))
      // The owner of a Service's IP removes what other nodes left for it (they may have crashed).
      for (const o of l2Objects) {
        const key = serviceKeyOf(o)
        if (key === undefined || !desired.l2.has(key) || o.metadata.labels?.[NodeLabel] === node) continue
        yield* kube.delete(ServiceL2Statuses, o.metadata.name, namespace).pipe(
          Effect.catchIf((e) => e.reason === "NotFound", () => Effect.void)
        )
      }
    }))

  /** Deletes every status object of this node (shutdown: the next owner writes its own). */
  const clear = sync({ l2: new Map(), bgp: new Map() })

  return { sync, clear, changes: { l2: l2.changes, bgp: bgp.changes } }
})

export type StatusWriter = Effect.Success<ReturnType<typeof make>>
