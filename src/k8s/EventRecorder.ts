import { Clock, Context, Effect, Layer, Schedule } from "effect"
import { KubeClient, mergePatch } from "./KubeClient.ts"
import { apiVersionOf, type EventObject, Events, type KubeObject, type ObjectReference, type Resource } from "./Resource.ts"

/** The reasons MetalLB puts on Service events (reference: metallb-behavior.md §10.3). */
export const Reason = {
  IPAllocated: "IPAllocated",
  AllocationFailed: "AllocationFailed",
  ClearAssignment: "ClearAssignment",
  LoadBalancerFailed: "LoadBalancerFailed",
  AdditionalAssignFailed: "AdditionalAssignFailed",
  NotEnoughClusterIPs: "not enough clusterips",
  NoLbIPsIPFamily: "nolbIPsIPFamily",
  NoClusterIPsIPFamily: "noclusterIPsIPFamily",
  InternalError: "InternalError",
  DeprecatedAnnotation: "deprecatedAnnotation",
  NodeAssigned: "nodeAssigned",
  AnnounceFailed: "announceFailed"
} as const

export const ReportingComponent = { controller: "metallb-controller", speaker: "metallb-speaker" } as const

export type EventType = "Normal" | "Warning"

export interface EventInput {
  readonly involved: ObjectReference
  readonly type: EventType
  readonly reason: string
  readonly message: string
}

export interface CorrelatorConfig {
  /** a repeated event updates its count at most this often; repeats in between are written with the next update */
  readonly minWriteIntervalMs: number
  /** more distinct messages than this for one object and reason (within `similarWindowMs`) are combined */
  readonly maxSimilar: number
  readonly similarWindowMs: number
  /** events remembered (least recently seen forgotten first) */
  readonly cacheSize: number
}

export const defaultCorrelatorConfig: CorrelatorConfig = {
  minWriteIntervalMs: 10_000,
  maxSimilar: 10,
  similarWindowMs: 10 * 60_000,
  cacheSize: 4096
}

interface Entry {
  readonly name: string
  readonly namespace: string
  readonly input: EventInput
  readonly count: number
  readonly written: number
  readonly firstAt: number
  readonly lastAt: number
  readonly lastWriteAt: number
}

interface Similar {
  readonly since: number
  readonly messages: ReadonlySet<string>
}

/** Mutable on purpose: under an event storm, copying a 4096-entry map per event would cost more than the storm. */
export interface CorrelatorState {
  readonly entries: Map<string, Entry>
  readonly similar: Map<string, Similar>
  sequence: number
}

export const makeCorrelator = (): CorrelatorState => ({ entries: new Map(), similar: new Map(), sequence: 0 })

/** What to send to the API server. */
export type EventWrite =
  | { readonly _tag: "Create"; readonly event: EventObject }
  | {
    readonly _tag: "Bump"
    readonly name: string
    readonly namespace: string
    readonly count: number
    readonly lastTimestamp: string
    /** the whole event, to create it again if the API server has expired it (events live 1 h by default) */
    readonly event: EventObject
  }

export const combinedPrefix = "(combined from similar events): "

const objectKey = (r: ObjectReference) => `${r.kind}/${r.namespace ?? ""}/${r.name}/${r.uid ?? ""}`
const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z")

const toEvent = (e: Entry, component: Component, count: number): EventObject => ({
  apiVersion: "v1",
  kind: "Event",
  metadata: { name: e.name, namespace: e.namespace },
  involvedObject: e.input.involved,
  type: e.input.type,
  reason: e.input.reason,
  message: e.input.message,
  count,
  firstTimestamp: rfc3339(e.firstAt),
  lastTimestamp: rfc3339(e.lastAt),
  source: { component: component.name, ...(component.host === undefined ? {} : { host: component.host }) },
  reportingComponent: component.name,
  reportingInstance: component.host ?? ""
})

export interface Component {
  readonly name: string
  readonly host?: string | undefined
}

/** Map insertion order as recency: a touched key moves to the end, the oldest ones fall off past `limit`. */
const touch = <K, V>(map: Map<K, V>, key: K, value: V, limit: number): void => {
  map.delete(key)
  map.set(key, value)
  while (map.size > limit) {
    const oldest = map.keys().next()
    if (oldest.done === true) break
    map.delete(oldest.value)
  }
}

/**
 * The event correlator (after client-go's): an event seen before becomes a count bump of the Event already
 * written, and bumps are written at most every `minWriteIntervalMs`; an object that keeps producing new messages
 * for one reason gets one combined Event. A hot reconcile loop thus costs a few writes a minute, never an Event
 * per iteration (MetalLB issue #3135: 1.1 M Events).
 */
export const correlate = (
  state: CorrelatorState,
  input: EventInput,
  now: number,
  component: Component,
  config: CorrelatorConfig = defaultCorrelatorConfig
): EventWrite | undefined => {
  const objKey = objectKey(input.involved)
  const similarKey = `${objKey}/${input.type}/${input.reason}`
  const seenSimilar = state.similar.get(similarKey)
  const window: Similar = seenSimilar === undefined || now - seenSimilar.since >= config.similarWindowMs
    ? { since: now, messages: new Set() }
    : seenSimilar
  const combine = !window.messages.has(input.message) && window.messages.size >= config.maxSimilar
  const effective: EventInput = combine ? { ...input, message: `${combinedPrefix}${input.message}` } : input
  touch(
    state.similar,
    similarKey,
    combine ? window : { since: window.since, messages: new Set(window.messages).add(input.message) },
    config.cacheSize
  )
  const key = combine ? `${similarKey}/combined` : `${similarKey}/${input.message}`
  const existing = state.entries.get(key)

  if (existing === undefined) {
    state.sequence++
    const namespace = input.involved.namespace === undefined || input.involved.namespace === "" ? "default" : input.involved.namespace
    const entry: Entry = {
      // client-go names events <object>.<unix nanos in hex>; a sequence number keeps same-millisecond ones apart
      name: `${input.involved.name}.${(BigInt(now) * 1_000_000n + BigInt(state.sequence % 1_000_000)).toString(16)}`,
      namespace,
      input: effective,
      count: 1,
      written: 1,
      firstAt: now,
      lastAt: now,
      lastWriteAt: now
    }
    touch(state.entries, key, entry, config.cacheSize)
    return { _tag: "Create", event: toEvent(entry, component, 1) }
  }
  // A combined event shows the latest message after the prefix.
  const [write, entry] = bump({ ...existing, input: effective, count: existing.count + 1, lastAt: now }, now, component, config)
  touch(state.entries, key, entry, config.cacheSize)
  return write
}

const bump = (entry: Entry, now: number, component: Component, config: CorrelatorConfig): readonly [EventWrite | undefined, Entry] => {
  if (entry.count === entry.written || now - entry.lastWriteAt < config.minWriteIntervalMs) return [undefined, entry]
  const event = toEvent(entry, component, entry.count)
  return [
    { _tag: "Bump", name: entry.name, namespace: entry.namespace, count: entry.count, lastTimestamp: rfc3339(entry.lastAt), event },
    { ...entry, written: entry.count, lastWriteAt: now }
  ]
}

/** The count bumps that were held back and are now due. */
export const flush = (
  state: CorrelatorState,
  now: number,
  component: Component,
  config: CorrelatorConfig = defaultCorrelatorConfig
): ReadonlyArray<EventWrite> => {
  const writes: Array<EventWrite> = []
  for (const [key, entry] of state.entries) {
    const [write, next] = bump(entry, now, component, config)
    if (write !== undefined) {
      writes.push(write)
      state.entries.set(key, next) // same key: keeps its recency position
    }
  }
  return writes
}

/** The reference an Event needs; list items carry no kind/apiVersion, so they come from the resource. */
export const referenceTo = <T extends KubeObject>(resource: Resource<T>, object: T): ObjectReference => ({
  apiVersion: apiVersionOf(resource),
  kind: resource.kind,
  name: object.metadata.name,
  ...(object.metadata.namespace === undefined ? {} : { namespace: object.metadata.namespace }),
  ...(object.metadata.uid === undefined ? {} : { uid: object.metadata.uid }),
  ...(object.metadata.resourceVersion === undefined ? {} : { resourceVersion: object.metadata.resourceVersion })
})

export interface EventRecorderShape {
  /** best effort: failures are logged, never returned (an Event must not fail a reconcile) */
  readonly recordEvent: (involved: ObjectReference, type: EventType, reason: string, message: string) => Effect.Effect<void>
}

/** Records Kubernetes Events with client-go's aggregation and spam filtering; needs a `KubeClient`. */
export class EventRecorder extends Context.Service<EventRecorder, EventRecorderShape>()("mlb/k8s/EventRecorder") {
  /** `component.name`: `ReportingComponent.controller` or `.speaker`; `component.host`: the node, for the speaker */
  static readonly layer = (component: Component, config: CorrelatorConfig = defaultCorrelatorConfig) =>
    Layer.effect(
      EventRecorder,
      Effect.gen(function*() {
        const kube = yield* KubeClient
        const state = makeCorrelator()

        const send = (write: EventWrite) =>
          (write._tag === "Create"
            ? kube.create(Events, write.event)
            : kube.patch(Events, write.name, write.namespace, mergePatch({ count: write.count, lastTimestamp: write.lastTimestamp })).pipe(
              Effect.catchIf((e) => e.reason === "NotFound", () => kube.create(Events, write.event))
            )).pipe(
              Effect.catch((error) =>
                Effect.logWarning("could not write event").pipe(
                  Effect.annotateLogs({ event: write.event.reason, error: error.message })
                )
              ),
              Effect.asVoid
            )

        yield* Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const writes = flush(state, now, component, config)
          yield* Effect.forEach(writes, send, { discard: true })
        }).pipe(Effect.repeat(Schedule.spaced(config.minWriteIntervalMs)), Effect.forkScoped)

        return EventRecorder.of({
          recordEvent: (involved, type, reason, message) =>
            Effect.gen(function*() {
              const now = yield* Clock.currentTimeMillis
              const write = correlate(state, { involved, type, reason, message }, now, component, config)
              if (write !== undefined) yield* send(write)
            })
        })
      })
    )
}
