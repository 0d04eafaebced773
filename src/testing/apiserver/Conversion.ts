/**
 * How a stored object is served in a requested group-version, and back.
 *
 * - Custom resources and built-ins: the same object with `apiVersion`/`kind` rewritten (no schema conversion).
 * - `events.k8s.io/v1` Events are core v1 Events in storage, as in Kubernetes, so `kubectl describe` (which reads
 *   core Events) sees what a controller wrote through either API. Fields are renamed both ways.
 */
import type { JsonObject } from "./Json.ts"
import { type ResourceType, groupVersion } from "./Registry.ts"

/** [core v1 Event field, events.k8s.io/v1 Event field] */
const eventRenames: ReadonlyArray<readonly [string, string]> = [
  ["involvedObject", "regarding"],
  ["message", "note"],
  ["source", "deprecatedSource"],
  ["firstTimestamp", "deprecatedFirstTimestamp"],
  ["lastTimestamp", "deprecatedLastTimestamp"],
  ["count", "deprecatedCount"],
  ["reportingComponent", "reportingController"]
]

const rename = (o: JsonObject, pairs: ReadonlyArray<readonly [string, string]>): JsonObject => {
  const out: Record<string, JsonObject[string]> = { ...o }
  for (const [from, to] of pairs) {
    delete out[from]
    const v = o[from]
    if (v !== undefined) out[to] = v
  }
  return out
}

const isEventsApi = (type: ResourceType): boolean => type.group === "events.k8s.io" && type.kind === "Event"

/** The stored object as served in `version` of `type`. */
export const present = (o: JsonObject, type: ResourceType, version: string): JsonObject => {
  const shaped = isEventsApi(type) ? rename(o, eventRenames) : o
  return { ...shaped, apiVersion: groupVersion(type.group, version), kind: type.kind }
}

/** A request body in `type`'s shape turned into the stored shape. */
export const toStorage = (o: JsonObject, type: ResourceType): JsonObject =>
  isEventsApi(type) ? rename(o, eventRenames.map(([core, events]) => [events, core] as const)) : o
