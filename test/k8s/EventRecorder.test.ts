import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import {
  combinedPrefix,
  correlate,
  type CorrelatorConfig,
  type EventInput,
  type EventWrite,
  flush,
  makeCorrelator,
  Reason,
  ReportingComponent
} from "../../src/k8s/EventRecorder.ts"

const component = { name: ReportingComponent.controller }
const config: CorrelatorConfig = { minWriteIntervalMs: 10_000, maxSimilar: 10, similarWindowMs: 600_000, cacheSize: 4096 }
const svc = (name: string) => ({ apiVersion: "v1", kind: "Service", name, namespace: "default", uid: `uid-${name}` })
const failed = (name: string, message = "no available IPs"): EventInput => ({
  involved: svc(name),
  type: "Warning",
  reason: Reason.AllocationFailed,
  message
})

const countOf = (w: EventWrite) => w._tag === "Create" ? w.event.count : w.count

describe("event correlator", () => {
  it("turns any storm of one event into one Event whose count ends exact, with writes bounded by time", () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 1, maxLength: 400 }), (gaps) => {
      const state = makeCorrelator()
      const writes: Array<EventWrite> = []
      let now = 1_700_000_000_000
      const start = now
      for (const gap of gaps) {
        now += gap
        const w = correlate(state, failed("web"), now, component, config)
        if (w !== undefined) writes.push(w)
      }
      writes.push(...flush(state, now + config.minWriteIntervalMs, component, config))
      assert.strictEqual(writes.filter((w) => w._tag === "Create").length, 1)
      assert.strictEqual(writes[0]?._tag, "Create")
      const last = writes.at(-1)
      assert.strictEqual(last === undefined ? 0 : countOf(last), gaps.length)
      assert.isAtMost(writes.length, 2 + Math.floor((now - start) / config.minWriteIntervalMs))
      // counts only grow, and every bump names the Event that was created
      const name = writes[0]?._tag === "Create" ? writes[0].event.metadata.name : ""
      let previous = 1
      for (const w of writes.slice(1)) {
        assert.isTrue(w._tag === "Bump" && w.name === name)
        assert.isAbove(countOf(w) ?? 0, previous)
        previous = countOf(w) ?? 0
      }
    }), { numRuns: 500 })
  })

  it("a hot loop repeating an event 200 000 times in a minute costs a handful of API writes", () => {
    const state = makeCorrelator()
    let writes = 0
    const start = 1_700_000_000_000
    for (let i = 0; i < 200_000; i++) {
      if (correlate(state, failed("web"), start + Math.floor(i * 0.3), component, config) !== undefined) writes++
    }
    writes += flush(state, start + 70_000, component, config).length
    assert.isAtMost(writes, 8)
  })

  it("combines an object's ever-changing messages for one reason into one Event", () => {
    const state = makeCorrelator()
    const writes: Array<EventWrite> = []
    for (let i = 0; i < 15; i++) {
      const w = correlate(state, failed("web", `attempt ${i}`), 1_000 + i, component, config)
      if (w !== undefined) writes.push(w)
    }
    const creates = writes.filter((w): w is Extract<EventWrite, { _tag: "Create" }> => w._tag === "Create")
    assert.strictEqual(creates.length, 11)
    assert.strictEqual(creates[10]?.event.message, `${combinedPrefix}attempt 10`)
    const [bump] = flush(state, 1_000 + 15 + config.minWriteIntervalMs, component, config)
    assert.strictEqual(bump?._tag, "Bump")
    assert.strictEqual(bump?._tag === "Bump" ? bump.event.message : "", `${combinedPrefix}attempt 14`)
    assert.strictEqual(bump?._tag === "Bump" ? bump.count : 0, 5)
    // a repeat of a message seen before the limit still bumps its own Event
    assert.isUndefined(correlate(state, failed("web", "attempt 3"), 1_100, component, config))
  })

  it("keeps objects apart, fills the reporting fields, and forgets the least recent beyond the cache size", () => {
    const state = makeCorrelator()
    const small = { ...config, cacheSize: 3 }
    const names = ["a", "b", "c", "d", "e"]
    const writes = names.map((n) => correlate(state, failed(n), 5_000, component, small))
    assert.isTrue(writes.every((w) => w?._tag === "Create"))
    assert.strictEqual(new Set(writes.map((w) => w?._tag === "Create" ? w.event.metadata.name : "")).size, 5)
    assert.strictEqual(state.entries.size, 3)
    const first = writes[0]
    assert.isTrue(first?._tag === "Create")
    if (first?._tag === "Create") {
      assert.strictEqual(first.event.source?.component, "metallb-controller")
      assert.strictEqual(first.event.reportingComponent, "metallb-controller")
      assert.strictEqual(first.event.involvedObject.uid, "uid-a")
      assert.strictEqual(first.event.metadata.namespace, "default")
      assert.strictEqual(first.event.type, "Warning")
      assert.strictEqual(first.event.count, 1)
    }
    // "a" was forgotten: seen again, it is a new Event
    assert.strictEqual(correlate(state, failed("a"), 6_000, component, small)?._tag, "Create")
  })
})
