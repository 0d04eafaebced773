import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger, Metric } from "effect"
import { HealthServer } from "../../src/observability/HealthServer.ts"
import * as Logging from "../../src/observability/Logging.ts"
import * as Metrics from "../../src/observability/Metrics.ts"

const isolated = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, Metric.MetricRegistry, new Map())

describe("Metrics", () => {
  it.effect("exposes MetalLB's names and removes series that went away", () =>
    isolated(Effect.gen(function*() {
      const labels = { service: "default/web", protocol: "layer2", node: "node3", ip: "192.0.2.200" }
      yield* Metrics.update(Metrics.speakerAnnounced, labels, 1)
      yield* Metrics.update(Metrics.layer2RequestsReceived, { ip: "192.0.2.200" }, 1)
      yield* Metrics.update(Metrics.layer2RequestsReceived, { ip: "192.0.2.200" }, 1)
      let text = yield* Metrics.exposition
      assert.include(text, "# TYPE metallb_speaker_announced gauge")
      assert.match(text, /metallb_speaker_announced\{[^}]*ip="192\.0\.2\.200"[^}]*\} 1/)
      assert.match(text, /metallb_layer2_requests_received\{ip="192\.0\.2\.200"\} 2/)
      yield* Metrics.remove(Metrics.speakerAnnounced, labels)
      text = yield* Metrics.exposition
      assert.notInclude(text, "metallb_speaker_announced{")
      assert.include(text, "metallb_layer2_requests_received")
    })))
})

describe("Logging", () => {
  it.effect("writes MetalLB's keys", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const capture = Logger.map(Logging.formatMetallb("controller"), (line) => {
        lines.push(line)
      })
      yield* Effect.logInfo("IP address assigned by controller").pipe(
        Effect.annotateLogs({ event: "ipAllocated", service: "default/web", ip: ["192.0.2.1"] }),
        Effect.provide(Logger.layer([capture]))
      )
      assert.strictEqual(lines.length, 1)
      const entry = JSON.parse(lines[0] ?? "{}") as Record<string, unknown>
      assert.strictEqual(entry.msg, "IP address assigned by controller")
      assert.strictEqual(entry.level, "info")
      assert.strictEqual(entry.event, "ipAllocated")
      assert.strictEqual(entry.service, "default/web")
      assert.deepStrictEqual(entry.ip, ["192.0.2.1"])
      assert.strictEqual(entry.caller, "controller")
      assert.isString(entry.ts)
    }))
})

describe("HealthServer", () => {
  it.live("serves /healthz, /readyz and /metrics, and closes on scope end", () =>
    Effect.gen(function*() {
      let reason: string | undefined = "first pass pending"
      const url = yield* Effect.gen(function*() {
        const server = yield* HealthServer
        const get = (path: string) =>
          Effect.promise(() => fetch(`${server.url}${path}`).then(async (r) => [r.status, await r.text()] as const))
        assert.deepStrictEqual(yield* get("/healthz"), [200, "ok\n"])
        assert.strictEqual((yield* get("/readyz"))[0], 503)
        reason = undefined
        assert.strictEqual((yield* get("/readyz"))[0], 200)
        yield* Metrics.update(Metrics.configLoaded, {}, 1)
        const [status, body] = yield* get("/metrics")
        assert.strictEqual(status, 200)
        assert.include(body, "metallb_k8s_client_config_loaded_bool 1")
        assert.strictEqual((yield* get("/nope"))[0], 404)
        return server.url
      }).pipe(
        Effect.provide(HealthServer.layer({ host: "127.0.0.1", port: 0, ready: Effect.sync(() => reason) })),
        isolated
      )
      const refused = yield* Effect.promise(() => fetch(`${url}/healthz`).then(() => false, () => true))
      assert.isTrue(refused)
    }))
})
