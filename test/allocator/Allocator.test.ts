import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { AllocationFailed, Allocator } from "../../src/allocator/Allocator.ts"
import { intent, ip, pool, texts } from "./fixtures.ts"

describe("Allocator service", () => {
  it.effect("allocates, converges, reports counters and releases through the layer", () =>
    Effect.gen(function*() {
      const allocator = yield* Allocator
      yield* allocator.setPools([pool("p", ["192.0.2.0/31"])])
      const a = yield* allocator.allocate(intent("a"))
      assert.deepStrictEqual(texts(a.ips), ["192.0.2.0"])
      const b = yield* allocator.converge(intent("b"))
      assert.deepStrictEqual(texts(b.ips), ["192.0.2.1"])
      assert.strictEqual(yield* allocator.poolForIp(ip("192.0.2.1")), "p")
      const [stats] = yield* allocator.stats
      assert.strictEqual(stats?.ipv4.available, 0n)
      const full = yield* Effect.exit(allocator.allocate(intent("c")))
      assert.deepStrictEqual(full, Exit.fail(new AllocationFailed({ service: "default/c", reason: "no available IPs" })))
      assert.isTrue(yield* allocator.release("default/a"))
      assert.isUndefined(yield* allocator.assignment("default/a"))
      const c = yield* allocator.assign(intent("c"), [ip("192.0.2.0")], "p")
      assert.strictEqual(c.pool, "p")
    }).pipe(Effect.provide(Allocator.layer)))

  it.effect("fails assign with MetalLB's reason as a tagged error", () =>
    Effect.gen(function*() {
      const allocator = yield* Allocator
      yield* allocator.setPools([pool("p", ["192.0.2.0/24"])])
      const error = yield* Effect.flip(allocator.assign(intent("a"), [ip("203.0.113.1")]))
      assert.strictEqual(error._tag, "AllocationFailed")
      assert.strictEqual(error.reason, `["203.0.113.1"] is not allowed in config`)
      assert.strictEqual(error.message, `Failed to allocate IP for "default/a": ["203.0.113.1"] is not allowed in config`)
    }).pipe(Effect.provide(Allocator.layer)))

  it.effect("rebuilds from status and keeps concurrent converges collision-free", () =>
    Effect.gen(function*() {
      const allocator = yield* Allocator
      yield* allocator.setPools([pool("p", ["192.0.2.0/28"])])
      const restored = yield* allocator.rebuild([intent("old", { ingress: ["192.0.2.0"] })])
      assert.deepStrictEqual(texts(restored.get("default/old")?.ips ?? []), ["192.0.2.0"])
      const results = yield* Effect.forEach(
        Array.from({ length: 15 }, (_, i) => intent(`s${i}`)),
        (s) => allocator.converge(s),
        { concurrency: "unbounded" }
      )
      const ips = results.flatMap((r) => texts(r.ips))
      assert.strictEqual(new Set(ips).size, 15)
      assert.notInclude(ips, "192.0.2.0")
    }).pipe(Effect.provide(Allocator.layer)))
})
