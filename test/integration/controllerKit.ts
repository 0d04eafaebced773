// Shared kit of the controller integration tests: an in-memory API server with the metallb.io CRDs and the
// metallb-system namespace, controllers started in-process against it over HTTP, and polling helpers.
import { Effect, Exit, Layer, Scope } from "effect"
import { crdFiles } from "../../src/config/CrdGen.ts"
import * as Controller from "../../src/controller/Controller.ts"
import { KubeClient } from "../../src/k8s/KubeClient.ts"
import * as Logging from "../../src/observability/Logging.ts"
import type { JsonObject } from "../../src/testing/apiserver/Json.ts"
import { type ApiServer, type ApiServerOptions, startApiServer } from "../../src/testing/apiserver/Server.ts"

export const NS = "metallb-system"

/** A fresh server with the CRDs and the MetalLB namespace, stopped with the scope. */
export const apiServer = (options: ApiServerOptions = {}) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const s = await startApiServer(options)
      for (const crd of crdFiles()) s.objects.applyManifest(crd.content)
      s.objects.upsert({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } })
      return s
    }),
    (s) => Effect.promise(() => s.stop())
  )

export interface RunningController {
  readonly running: Controller.Running
  readonly stop: Effect.Effect<void>
}

/** Starts a controller in-process; `stop` closes it like a SIGTERM would. Logs are silenced unless LOG is set. */
export const startController = (server: ApiServer, options: Partial<Controller.ControllerOptions> = {}) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const layer = Layer.mergeAll(
      KubeClient.layerServer(server.url, options.podName ?? "controller"),
      Logging.layer("controller", process.env["LOG"] === undefined ? "none" : "debug")
    )
    const running = yield* Controller.start({
      namespace: NS,
      metricsPort: 0,
      healthProbePort: 0,
      listenHost: "127.0.0.1",
      leaderElect: false,
      ...options
    }).pipe(Effect.provide(layer), Scope.provide(scope), Effect.orDie)
    return { running, stop: Scope.close(scope, Exit.void) } satisfies RunningController
  })

/** Waits for the first full pass of a started controller. */
export const waitReady = (c: RunningController, ms = 5_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    while ((yield* c.running.notReady) !== undefined) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`controller not ready: ${yield* c.running.notReady}`))
      yield* Effect.sleep("20 millis")
    }
  })

/** Polls `probe` every 20 ms until it returns a value, or dies after `ms`. */
export const eventually = <A>(what: string, probe: () => A | undefined, ms = 5_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    while (true) {
      const value = probe()
      if (value !== undefined) return value
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out after ${ms} ms waiting for ${what}`))
      yield* Effect.sleep("20 millis")
    }
  })

/** Asserts that `probe` keeps holding for `ms`. */
export const stays = (what: string, probe: () => boolean, ms = 500) =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    while (Date.now() < deadline) {
      if (!probe()) return yield* Effect.die(new Error(`${what} stopped holding`))
      yield* Effect.sleep("20 millis")
    }
  })

export const pool = (name: string, addresses: ReadonlyArray<string>, spec: JsonObject = {}): JsonObject => ({
  apiVersion: "metallb.io/v1beta1",
  kind: "IPAddressPool",
  metadata: { name, namespace: NS },
  spec: { addresses: [...addresses], ...spec }
})

export const service = (
  name: string,
  options: {
    readonly namespace?: string
    readonly annotations?: Record<string, string>
    readonly labels?: Record<string, string>
    readonly spec?: JsonObject
  } = {}
): JsonObject => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: {
    name,
    namespace: options.namespace ?? "default",
    ...(options.annotations === undefined ? {} : { annotations: options.annotations }),
    ...(options.labels === undefined ? {} : { labels: options.labels })
  },
  spec: { type: "LoadBalancer", selector: { app: name }, ports: [{ port: 80, protocol: "TCP" }], ...options.spec }
})

const record = (u: unknown): Record<string, unknown> | undefined =>
  typeof u === "object" && u !== null ? (u as Record<string, unknown>) : undefined

/** The ingress IPs of a Service as the server has them. */
export const ingress = (server: ApiServer, name: string, namespace = "default"): ReadonlyArray<string> => {
  const svc = server.objects.get("v1", "Service", namespace, name)
  const list = record(record(record(svc?.["status"])?.["loadBalancer"]))?.["ingress"]
  return Array.isArray(list) ? list.flatMap((i) => (typeof record(i)?.["ip"] === "string" ? [record(i)?.["ip"] as string] : [])) : []
}

export const annotationOf = (server: ApiServer, name: string, key: string, namespace = "default"): string | undefined => {
  const svc = server.objects.get("v1", "Service", namespace, name)
  const value = record(record(svc?.["metadata"])?.["annotations"])?.[key]
  return typeof value === "string" ? value : undefined
}

/** Waits until the Service shows exactly `ips` (in order). */
export const waitIngress = (server: ApiServer, name: string, ips: ReadonlyArray<string>, namespace = "default", ms = 5_000) =>
  eventually(`${namespace}/${name} ingress ${JSON.stringify(ips)} (has ${JSON.stringify(ingress(server, name, namespace))})`, () => {
    const now = ingress(server, name, namespace)
    return now.length === ips.length && now.every((ip, i) => ip === ips[i]) ? true : undefined
  }, ms)

/** Waits until the Service has any number of IPs and returns them. */
export const waitAnyIngress = (server: ApiServer, name: string, namespace = "default", ms = 5_000) =>
  eventually(`${namespace}/${name} to get an IP`, () => {
    const now = ingress(server, name, namespace)
    return now.length > 0 ? now : undefined
  }, ms)

/** Events recorded on an object, as `reason: message`. */
export const eventsOf = (server: ApiServer, name: string, namespace = "default"): ReadonlyArray<string> =>
  server.objects.list("v1", "Event", namespace).flatMap((e) => {
    const involved = record(e["involvedObject"])
    return involved?.["name"] === name ? [`${String(e["reason"])}: ${String(e["message"])}`] : []
  })

export const upsert = (server: ApiServer, ...objects: ReadonlyArray<JsonObject>) =>
  Effect.sync(() => {
    for (const o of objects) server.objects.upsert(o)
  })

/** Patches `spec`/`metadata` fields of a stored object (read-modify-write through the store). */
export const edit = (server: ApiServer, apiVersion: string, kind: string, namespace: string, name: string, f: (o: JsonObject) => JsonObject) =>
  Effect.sync(() => {
    const current = server.objects.get(apiVersion, kind, namespace, name)
    if (current === undefined) throw new Error(`${kind} ${namespace}/${name} not found`)
    server.objects.upsert(f(current))
  })

export const remove = (server: ApiServer, apiVersion: string, kind: string, namespace: string, name: string) =>
  Effect.sync(() => server.objects.delete(apiVersion, kind, namespace, name))
