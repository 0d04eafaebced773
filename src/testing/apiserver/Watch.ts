/**
 * Watch streams: newline-delimited JSON events `{"type":…,"object":…}` on a chunked response.
 *
 * - No resourceVersion (or "0"): the current matching objects first as synthetic ADDED, then live events.
 * - resourceVersion N: the buffered events after N, then live events; N older than the history window gives one
 *   ERROR event carrying a 410 Expired Status and the end of the stream (client-go then relists).
 * - With selectors, an edit that makes an object match is ADDED and one that makes it stop matching is DELETED.
 * - BOOKMARK events every `bookmarkIntervalMs` when the client allows them; `timeoutSeconds` ends the stream.
 */
import type { ServerResponse } from "node:http"
import { type Api, type Selectors, matches } from "./Api.ts"
import { present } from "./Conversion.ts"
import { gone } from "./Errors.ts"
import type { JsonObject } from "./Json.ts"
import { type ResourceType, groupVersion } from "./Registry.ts"
import type { EventType, StoreEvent } from "./Store.ts"
import { type IncludeObject, toTable } from "./Table.ts"

export interface WatchRequest {
  readonly type: ResourceType
  readonly version: string
  /** "" watches all namespaces. */
  readonly namespace: string
  readonly selectors: Selectors
  readonly resourceVersion: string | undefined
  readonly allowBookmarks: boolean
  readonly timeoutSeconds: number | undefined
  /** Set when the client asked for Table events (kubectl get -w). */
  readonly table: IncludeObject | undefined
}

export interface WatchOptions {
  readonly bookmarkIntervalMs: number
  readonly now: () => Date
}

export type WatchEventType = EventType | "BOOKMARK" | "ERROR"

/**
 * What a watcher sees of one store event, given the object's match before and after: pure, shared with the
 * property test.
 */
export const visibleEvent = (
  event: StoreEvent,
  w: Pick<WatchRequest, "type" | "version" | "namespace" | "selectors">
): { readonly type: EventType; readonly object: JsonObject } | undefined => {
  if (event.group !== w.type.stored.group || event.plural !== w.type.stored.plural) return undefined
  if (w.namespace !== "" && event.namespace !== w.namespace) return undefined
  const object = present(event.object, w.type, w.version)
  const now = matches(object, w.selectors)
  if (event.type !== "MODIFIED") return now ? { type: event.type, object } : undefined
  const before = event.previous !== undefined && matches(present(event.previous, w.type, w.version), w.selectors)
  if (now) return { type: before ? "MODIFIED" : "ADDED", object }
  return before ? { type: "DELETED", object } : undefined
}

/** Runs one watch on `res` until the client leaves, the timeout passes or the server drops it; returns a closer. */
export const serveWatch = (api: Api, res: ServerResponse, w: WatchRequest, options: WatchOptions): (() => void) => {
  res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-cache, private" })
  res.flushHeaders()
  let sentColumns = false
  const send = (type: WatchEventType, object: JsonObject) => {
    if (res.writableEnded || res.destroyed) return
    let payload = object
    if (w.table !== undefined && (type === "ADDED" || type === "MODIFIED" || type === "DELETED")) {
      payload = toTable(w.type, w.version, [object], {
        resourceVersion: String(api.store.resourceVersion),
        include: w.table,
        now: options.now(),
        withColumns: !sentColumns
      })
      sentColumns = true
    }
    res.write(`${JSON.stringify({ type, object: payload })}\n`)
  }
  const deliver = (event: StoreEvent) => {
    // Runs inside the writer's call: a failing watcher ends its own stream and never fails the write.
    try {
      const visible = visibleEvent(event, w)
      if (visible !== undefined) send(visible.type, visible.object)
    } catch {
      res.end() // its "close" event unsubscribes
    }
  }

  const rv = w.resourceVersion
  if (rv === undefined || rv === "" || rv === "0") {
    for (const o of api.list({ type: w.type, version: w.version, namespace: w.namespace, name: "", subresource: "" }, w.selectors).items) {
      send("ADDED", o)
    }
  } else {
    const from = Number(rv)
    const replay = Number.isInteger(from) ? api.store.eventsSince(from) : undefined
    if (replay === undefined) {
      const error = Number.isInteger(from)
        ? gone(`too old resource version: ${rv} (${api.store.oldestResumableVersion})`)
        : gone(`invalid resource version: ${rv}`)
      send("ERROR", error.toStatus())
      res.end()
      return () => {}
    }
    for (const e of replay) deliver(e)
  }

  const unsubscribe = api.store.subscribe(deliver)
  const timers: Array<NodeJS.Timeout> = []
  if (w.allowBookmarks && w.table === undefined) {
    timers.push(
      setInterval(() => {
        send("BOOKMARK", {
          kind: w.type.kind,
          apiVersion: groupVersion(w.type.group, w.version),
          metadata: { resourceVersion: String(api.store.resourceVersion) }
        })
      }, options.bookmarkIntervalMs)
    )
  }
  const close = () => {
    unsubscribe()
    for (const t of timers) clearInterval(t)
    if (!res.writableEnded) res.end()
  }
  if (w.timeoutSeconds !== undefined && w.timeoutSeconds > 0) timers.push(setTimeout(close, w.timeoutSeconds * 1000))
  // In Node the request's "close" fires once its body is read; the response's means the client went away.
  res.on("close", close)
  return close
}
