/**
 * The object store: every object of every kind, one global resourceVersion counter, and a bounded window of
 * change events that watches replay from.
 *
 * Objects are keyed by (group, resource, namespace, name), not by version: a custom resource served in several
 * versions is one stored object whose `apiVersion` is rewritten on the way out (see Server.ts).
 */
import type { JsonObject } from "./Json.ts"
import { obj, str } from "./Json.ts"

export type EventType = "ADDED" | "MODIFIED" | "DELETED"

export interface StoreEvent {
  readonly type: EventType
  readonly resourceVersion: number
  readonly group: string
  readonly plural: string
  readonly namespace: string
  readonly object: JsonObject
  /** The object before the change (MODIFIED only): watches with selectors need it to turn edits into ADDED/DELETED. */
  readonly previous?: JsonObject
}

export interface StoreSnapshot {
  readonly resourceVersion: number
  readonly objects: ReadonlyArray<{ readonly group: string; readonly plural: string; readonly object: JsonObject }>
}

export const metadataOf = (o: JsonObject): JsonObject => obj(o["metadata"])
export const nameOf = (o: JsonObject): string => str(metadataOf(o)["name"]) ?? ""
export const namespaceOf = (o: JsonObject): string => str(metadataOf(o)["namespace"]) ?? ""

const keyOf = (group: string, plural: string, namespace: string, name: string): string =>
  `${group}\u0000${plural}\u0000${namespace}\u0000${name}`

export class Store {
  private readonly objects = new Map<string, { readonly group: string; readonly plural: string; object: JsonObject }>()
  private readonly history: Array<StoreEvent> = []
  private readonly listeners = new Set<(event: StoreEvent) => void>()
  private rv = 0
  /** Watches may resume from any resourceVersion >= this; older ones get 410 Gone. */
  private compactedRv = 0
  readonly historyLimit: number

  constructor(historyLimit = 1000) {
    this.historyLimit = historyLimit
  }

  get resourceVersion(): number {
    return this.rv
  }

  get oldestResumableVersion(): number {
    return this.compactedRv
  }

  get(group: string, plural: string, namespace: string, name: string): JsonObject | undefined {
    return this.objects.get(keyOf(group, plural, namespace, name))?.object
  }

  /** Objects of a kind, optionally in one namespace, sorted by namespace and name like etcd keys. */
  list(group: string, plural: string, namespace?: string): ReadonlyArray<JsonObject> {
    const out: Array<JsonObject> = []
    for (const entry of this.objects.values()) {
      if (entry.group !== group || entry.plural !== plural) continue
      if (namespace !== undefined && namespaceOf(entry.object) !== namespace) continue
      out.push(entry.object)
    }
    return out.toSorted((a, b) => namespaceOf(a).localeCompare(namespaceOf(b)) || nameOf(a).localeCompare(nameOf(b)))
  }

  /** Stores the object with the next resourceVersion and emits ADDED or MODIFIED. Returns the stored object. */
  put(group: string, plural: string, object: JsonObject): JsonObject {
    const namespace = namespaceOf(object)
    const key = keyOf(group, plural, namespace, nameOf(object))
    const previous = this.objects.get(key)?.object
    const rv = ++this.rv
    const stored = withResourceVersion(object, rv)
    this.objects.set(key, { group, plural, object: stored })
    this.emit(
      previous === undefined
        ? { type: "ADDED", resourceVersion: rv, group, plural, namespace, object: stored }
        : { type: "MODIFIED", resourceVersion: rv, group, plural, namespace, object: stored, previous }
    )
    return stored
  }

  /** Removes the object; the DELETED event carries the object at a fresh resourceVersion, as Kubernetes does. */
  remove(group: string, plural: string, namespace: string, name: string): JsonObject | undefined {
    const key = keyOf(group, plural, namespace, name)
    const entry = this.objects.get(key)
    if (entry === undefined) return undefined
    this.objects.delete(key)
    const rv = ++this.rv
    const gone = withResourceVersion(entry.object, rv)
    this.emit({ type: "DELETED", resourceVersion: rv, group, plural, namespace, object: gone })
    return gone
  }

  /** Events after `fromRv`, or undefined when that point has been compacted away (→ 410 Gone). */
  eventsSince(fromRv: number): ReadonlyArray<StoreEvent> | undefined {
    if (fromRv < this.compactedRv) return undefined
    return this.history.filter((e) => e.resourceVersion > fromRv)
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  /** Drops the whole event history: any watch resuming from an older resourceVersion gets 410 Gone. */
  compact(): void {
    this.history.length = 0
    this.compactedRv = this.rv
  }

  snapshot(): StoreSnapshot {
    return {
      resourceVersion: this.rv,
      objects: [...this.objects.values()].map((e) => ({ group: e.group, plural: e.plural, object: e.object }))
    }
  }

  /** Replaces the contents without emitting events (used when loading a state file before serving). */
  restore(snapshot: StoreSnapshot): void {
    this.objects.clear()
    this.history.length = 0
    for (const { group, plural, object } of snapshot.objects) {
      this.objects.set(keyOf(group, plural, namespaceOf(object), nameOf(object)), { group, plural, object })
    }
    this.rv = snapshot.resourceVersion
    this.compactedRv = snapshot.resourceVersion
  }

  private emit(event: StoreEvent): void {
    this.history.push(event)
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.splice(0, this.history.length - this.historyLimit)
      const last = dropped[dropped.length - 1]
      if (last !== undefined) this.compactedRv = last.resourceVersion
    }
    for (const l of this.listeners) l(event)
  }
}

const withResourceVersion = (object: JsonObject, rv: number): JsonObject => ({
  ...object,
  metadata: { ...metadataOf(object), resourceVersion: String(rv) }
})
