/** The speaker's layer 2 plane when disabled (--disable-layer2): nobody alive, nothing answered, nothing opened. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { disabled, Layer2Plane } from "../../src/speaker/Layer2Plane.ts"

describe("Layer2Plane.disabled", () => {
  it.effect("has no live interfaces and answers announcements nowhere", () =>
    Effect.gen(function*() {
      const plane = yield* Layer2Plane
      assert.strictEqual((yield* plane.alive).size, 0)
      const statuses = yield* plane.set([{ ip: "192.0.2.200", interfaces: "all" }])
      assert.deepStrictEqual(statuses, [{ ip: "192.0.2.200", interfaces: [] }])
      yield* plane.leave
    }).pipe(Effect.provide(disabled)))
})
