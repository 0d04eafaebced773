import type * as k8s from "@kubernetes/client-node"
import { Predicate, Schema } from "effect"

/** The metadata every object carries; the rest of an object is the resource's own business. */
export interface ObjectMeta {
  readonly name: string
  readonly namespace?: string | undefined
  readonly uid?: string | undefined
  readonly resourceVersion?: string | undefined
  readonly generation?: number | undefined
  readonly labels?: Readonly<Record<string, string>> | undefined
  readonly annotations?: Readonly<Record<string, string>> | undefined
  readonly [key: string]: unknown
}

export interface KubeObject {
  readonly apiVersion?: string | undefined
  readonly kind?: string | undefined
  readonly metadata: ObjectMeta
}

/**
 * Where a kind lives in the REST API. `T` is the object type the caller works with; it is a phantom here: the
 * client checks the envelope (`metadata.name` and friends) and trusts the API server for the rest, which it has
 * validated against the resource's OpenAPI schema. Consumers that need more decode the parts they use.
 */
export interface Resource<T extends KubeObject> {
  /** `""` for the core group */
  readonly group: string
  readonly version: string
  readonly plural: string
  readonly kind: string
  readonly namespaced: boolean
  /** phantom, never set */
  readonly _T?: () => T
}

export const resource = <T extends KubeObject>(
  options: { group: string; version: string; plural: string; kind: string; namespaced: boolean }
): Resource<T> => options

export const apiVersionOf = (r: Resource<KubeObject>): string => r.group === "" ? r.version : `${r.group}/${r.version}`

/** Selectors and scope of a list or watch. */
export interface ListOptions {
  /** list across all namespaces when absent */
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  readonly fieldSelector?: string | undefined
}

/** The annotation `kubectl apply` (client-side) keeps the whole last applied object in. */
export const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

/**
 * Drops what no code of ours reads before an object is cached (client-go's `SetTransform`): `metadata.managedFields`
 * and the `kubectl.kubernetes.io/last-applied-configuration` annotation. In a real cluster they are often as large as
 * the rest of the object, and a controller caches every Service (docs/design/footprint.md). Safe because no cached
 * object is written back whole: updates re-read the object (KubeClient `update`) and patches name only their fields.
 * Returns `object` itself when there is nothing to drop.
 */
export const stripUnread = <T extends KubeObject>(object: T): T => {
  const { managedFields, ...metadata } = object.metadata
  const annotations = metadata.annotations
  const lastApplied = annotations !== undefined && Object.hasOwn(annotations, lastAppliedAnnotation)
  if (managedFields === undefined && !lastApplied) return object
  if (annotations !== undefined && lastApplied) {
    const { [lastAppliedAnnotation]: _dropped, ...kept } = annotations
    return { ...object, metadata: { ...metadata, annotations: kept } }
  }
  return { ...object, metadata }
}

const segment = (s: string): string => encodeURIComponent(s)

/** `/api/v1/namespaces/ns/services` or `/apis/metallb.io/v1beta1/ipaddresspools` (all namespaces). */
export const collectionPath = (r: Resource<KubeObject>, namespace?: string | undefined): string => {
  const root = r.group === "" ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`
  const ns = r.namespaced && namespace !== undefined ? `/namespaces/${segment(namespace)}` : ""
  return `${root}${ns}/${r.plural}`
}

export const objectPath = (
  r: Resource<KubeObject>,
  name: string,
  namespace?: string | undefined,
  subresource?: "status" | undefined
): string =>
  `${collectionPath(r, namespace)}/${segment(name)}${subresource === undefined ? "" : `/${subresource}`}`

/** The informer key: `namespace/name`, or `name` for cluster-scoped objects. */
export const keyOf = (o: KubeObject): string =>
  o.metadata.namespace === undefined || o.metadata.namespace === "" ? o.metadata.name : `${o.metadata.namespace}/${o.metadata.name}`

const Envelope = Schema.Struct({
  metadata: Schema.Struct({
    name: Schema.String,
    namespace: Schema.optional(Schema.String),
    resourceVersion: Schema.optional(Schema.String),
    uid: Schema.optional(Schema.String)
  })
})
const isEnvelopeUnsafe = Schema.is(Envelope)

/** Checks the parts of an object this client relies on (name, namespace, resourceVersion). */
export const isKubeObject = (u: unknown): u is KubeObject => Predicate.isObject(u) && isEnvelopeUnsafe(u)

// The kinds metallb-ts reads and writes. Types come from client-node's models (plain JSON shapes).
type Typed<T> = T & KubeObject
export const Services = resource<Typed<k8s.V1Service>>({ group: "", version: "v1", plural: "services", kind: "Service", namespaced: true })
export const Endpoints = resource<Typed<k8s.V1Endpoints>>({ group: "", version: "v1", plural: "endpoints", kind: "Endpoints", namespaced: true })
export const EndpointSlices = resource<Typed<k8s.V1EndpointSlice>>({ group: "discovery.k8s.io", version: "v1", plural: "endpointslices", kind: "EndpointSlice", namespaced: true })
export const Nodes = resource<Typed<k8s.V1Node>>({ group: "", version: "v1", plural: "nodes", kind: "Node", namespaced: false })
export const Namespaces = resource<Typed<k8s.V1Namespace>>({ group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false })
export const ConfigMaps = resource<Typed<k8s.V1ConfigMap>>({ group: "", version: "v1", plural: "configmaps", kind: "ConfigMap", namespaced: true })
export const Secrets = resource<Typed<k8s.V1Secret>>({ group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true })
export const Pods = resource<Typed<k8s.V1Pod>>({ group: "", version: "v1", plural: "pods", kind: "Pod", namespaced: true })

/** core/v1 Event as it travels on the wire (client-node's model types timestamps as `Date`; JSON carries strings). */
export interface EventObject extends KubeObject {
  readonly involvedObject: ObjectReference
  readonly reason: string
  readonly message: string
  readonly type: "Normal" | "Warning"
  readonly count?: number | undefined
  readonly firstTimestamp?: string | undefined
  readonly lastTimestamp?: string | undefined
  readonly source?: { readonly component?: string | undefined; readonly host?: string | undefined } | undefined
  readonly reportingComponent?: string | undefined
  readonly reportingInstance?: string | undefined
}

export interface ObjectReference {
  readonly apiVersion?: string | undefined
  readonly kind: string
  readonly name: string
  readonly namespace?: string | undefined
  readonly uid?: string | undefined
  readonly resourceVersion?: string | undefined
}

/** coordination.k8s.io/v1 Lease on the wire (MicroTime fields are RFC 3339 strings with microseconds). */
export interface LeaseObject extends KubeObject {
  readonly spec?: {
    readonly holderIdentity?: string | null | undefined
    readonly leaseDurationSeconds?: number | undefined
    readonly acquireTime?: string | null | undefined
    readonly renewTime?: string | null | undefined
    readonly leaseTransitions?: number | undefined
  } | undefined
}

export const Events = resource<EventObject>({ group: "", version: "v1", plural: "events", kind: "Event", namespaced: true })
export const Leases = resource<LeaseObject>({ group: "coordination.k8s.io", version: "v1", plural: "leases", kind: "Lease", namespaced: true })

/** A custom resource by group/version/plural; `T` defaults to the bare envelope. */
export const custom = <T extends KubeObject = KubeObject & { readonly spec?: unknown; readonly status?: unknown }>(
  group: string,
  version: string,
  plural: string,
  kind: string,
  namespaced = true
): Resource<T> => resource<T>({ group, version, plural, kind, namespaced })
