import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import * as Core from "../../src/config/ConfigSourceCore.ts"
import { parseConfig } from "../../src/config/Parse.ts"
import { validConfig } from "./arbitraries.ts"

const none: Core.Objects = {
  ipAddressPools: [],
  l2Advertisements: [],
  bgpAdvertisements: [],
  bgpPeers: [],
  bfdProfiles: [],
  communities: [],
  nodes: [],
  namespaces: [],
  secrets: [],
  legacy: undefined
}

const poolObject = (name: string, addresses: ReadonlyArray<string>) => ({
  apiVersion: "metallb.io/v1beta1",
  kind: "IPAddressPool",
  metadata: { name, namespace: "metallb-system" },
  spec: { addresses }
})

const parsePools = (...pools: ReadonlyArray<ReturnType<typeof poolObject>>) => parseConfig({ ipAddressPools: pools })

describe("ConfigSourceCore: source and input", () => {
  it("custom resources win over the legacy ConfigMap; the ConfigMap only when no configuration resource exists", () => {
    assert.strictEqual(Core.chooseSource(none), "crds")
    assert.strictEqual(Core.chooseSource({ ...none, legacy: "x" }), "legacy")
    for (const kind of ["ipAddressPools", "l2Advertisements", "bgpAdvertisements", "bgpPeers", "bfdProfiles", "communities"] as const) {
      const objects = { ...none, legacy: "x", [kind]: [{}] }
      assert.strictEqual(Core.chooseSource(objects), "crds", kind)
      assert.isTrue(Core.legacyIgnored(objects), kind)
    }
    // Facts are not configuration.
    assert.strictEqual(Core.chooseSource({ ...none, legacy: "x", namespaces: [{}], nodes: [{}], secrets: [{}] }), "legacy")
    assert.isFalse(Core.legacyIgnored({ ...none, legacy: "x" }))
  })

  it("the controller parses only pools and namespaces; a speaker everything", () => {
    const all = { ...none, ipAddressPools: [1], l2Advertisements: [2], bgpPeers: [3], namespaces: [4], nodes: [5], secrets: [6] }
    assert.deepStrictEqual(Core.inputFor(Core.controller, all), { ipAddressPools: [1], namespaces: [4] })
    const speakerInput = Core.inputFor(Core.speaker("n1"), all)
    assert.deepStrictEqual(speakerInput.bgpPeers, [3])
    assert.deepStrictEqual(speakerInput.nodes, [5])
    assert.deepStrictEqual(speakerInput.secrets, [6])
  })

  it("names and labels of the ConfigurationState per component (MetalLB §1.3)", () => {
    assert.strictEqual(Core.stateName(Core.controller), "controller")
    assert.strictEqual(Core.stateName(Core.speaker("node-1")), "speaker-node-1")
    assert.strictEqual(Core.conditionType(Core.controller), "poolReconcilerValid")
    assert.strictEqual(Core.conditionType(Core.speaker("n")), "configReconcilerValid")
    assert.deepStrictEqual(Core.stateLabels(Core.speaker("n")), { "metallb.io/component-type": "speaker", "metallb.io/node-name": "n" })
  })
})

describe("ConfigSourceCore: step", () => {
  const good = parsePools(poolObject("a", ["192.0.2.0/24"]))
  const bad = parsePools(poolObject("a", ["192.0.2.0/24"]), poolObject("b", ["192.0.2.128/25"]))

  it("apply, then the same again is Unchanged, then an invalid input keeps the last good config and goes stale", () => {
    const first = Core.step(Core.initial, good, "crds")
    assert.strictEqual(first._tag, "Apply")
    assert.isTrue(first.status.loaded)
    assert.isFalse(first.status.stale)
    const again = Core.step(first.status, parsePools(poolObject("a", ["192.0.2.0/24"])), "crds")
    assert.strictEqual(again._tag, "Unchanged")
    assert.strictEqual(again.status.config, first.status.config, "the config in use keeps its identity")
    const rejected = Core.step(again.status, bad, "crds")
    assert.strictEqual(rejected._tag, "Reject")
    assert.strictEqual(rejected.status.config, first.status.config)
    assert.isTrue(rejected.status.stale)
    assert.isTrue(rejected.status.loaded)
    assert.isTrue(rejected.status.errors.some((e) => e.includes("overlaps with already defined CIDR")))
    // Fixed by going back to the same config: not a new config, but no longer stale.
    const recovered = Core.step(rejected.status, good, "crds")
    assert.strictEqual(recovered._tag, "Unchanged")
    assert.isFalse(recovered.status.stale)
    assert.deepStrictEqual(recovered.status.errors, [])
  })

  it("a rejection before anything loaded: not loaded, stale, no config", () => {
    const r = Core.step(Core.initial, Result.fail({ messages: ["legacy ConfigMap \"config\": broken"] }), "legacy")
    assert.strictEqual(r._tag, "Reject")
    assert.isUndefined(r.status.config)
    assert.isFalse(r.status.loaded)
    assert.deepStrictEqual(r.status.errors, ["legacy ConfigMap \"config\": broken"])
  })

  it("property: whatever sequence of inputs, the config in use is the last one that parsed", () => {
    const input = fc.oneof(validConfig.map((c) => ({ valid: true, input: c })), fc.constant({ valid: false, input: undefined }))
    fc.assert(
      fc.property(fc.array(input, { maxLength: 6 }), (inputs) => {
        let status = Core.initial
        let lastGood: unknown
        for (const i of inputs) {
          const outcome = i.input === undefined ? bad : parseConfig(i.input)
          if (Result.isSuccess(outcome)) lastGood = outcome.success.config
          status = Core.step(status, outcome, "crds").status
          assert.strictEqual(status.stale, Result.isFailure(outcome))
        }
        if (lastGood === undefined) assert.isUndefined(status.config)
        else assert.deepStrictEqual(status.config, lastGood)
        assert.strictEqual(status.loaded, lastGood !== undefined)
      }),
      { numRuns: 60 }
    )
  })
})

describe("ConfigSourceCore: ConfigurationState status", () => {
  const loaded = Core.step(Core.initial, parsePools(poolObject("a", ["192.0.2.0/24"])), "crds").status
  const stale: Core.Status = { ...loaded, stale: true, errors: ["first problem", "second problem"] }

  it("Unknown before any judgement, Valid when accepted, Invalid with the joined errors when rejected", () => {
    assert.deepStrictEqual(Core.stateStatus(Core.controller, Core.initial, false, [], "t0"), { result: "Unknown", errorSummary: "", conditions: [] })
    const valid = Core.stateStatus(Core.controller, loaded, true, [], "t1")
    assert.deepStrictEqual(valid, {
      result: "Valid",
      errorSummary: "",
      conditions: [{ type: "poolReconcilerValid", status: "True", reason: "Reconciled", message: "", lastTransitionTime: "t1" }]
    })
    const invalid = Core.stateStatus(Core.controller, stale, true, valid.conditions, "t2")
    assert.strictEqual(invalid.result, "Invalid")
    assert.strictEqual(invalid.errorSummary, "first problem\nsecond problem")
    assert.strictEqual(invalid.conditions[0]?.lastTransitionTime, "t2")
    // Same status again: the transition time stays.
    assert.strictEqual(Core.stateStatus(Core.controller, stale, true, invalid.conditions, "t3").conditions[0]?.lastTransitionTime, "t2")
  })

  it("keeps other reconcilers' conditions and aggregates over all of them", () => {
    const other: Core.Condition = { type: "otherValid", status: "False", reason: "ConfigurationError", message: "theirs", lastTransitionTime: "t" }
    const s = Core.stateStatus(Core.controller, stale, true, [other], "t1")
    assert.deepStrictEqual(s.conditions.map((c) => c.type), ["otherValid", "poolReconcilerValid"])
    assert.strictEqual(s.errorSummary, "theirs\nfirst problem\nsecond problem")
  })

  it("property: Invalid iff some condition is False with ConfigurationError; Unknown iff none", () => {
    const condition = fc.record({
      type: fc.constantFrom("a", "b", "c"),
      status: fc.constantFrom("True" as const, "False" as const, "Unknown" as const),
      reason: fc.constantFrom("Reconciled", "ConfigurationError", "UnknownError"),
      message: fc.string({ maxLength: 5 }),
      lastTransitionTime: fc.constant("t")
    })
    fc.assert(fc.property(fc.uniqueArray(condition, { selector: (c) => c.type }), (conditions) => {
      const s = Core.aggregate(conditions)
      const failed = conditions.filter((c) => c.status === "False" && c.reason === "ConfigurationError")
      assert.strictEqual(s.result, conditions.length === 0 ? "Unknown" : failed.length > 0 ? "Invalid" : "Valid")
      assert.strictEqual(s.errorSummary, failed.map((c) => c.message).join("\n"))
    }))
  })

  it("what was written reads back as the same status (no write loop), a changed message does not", () => {
    const written = Core.stateStatus(Core.controller, stale, true, [], "t1")
    const onTheWire = JSON.parse(JSON.stringify(written)) as unknown
    assert.isTrue(Core.sameStateStatus(written, onTheWire))
    assert.deepStrictEqual(Core.conditionsOf({ status: onTheWire }), written.conditions)
    assert.isFalse(Core.sameStateStatus(Core.stateStatus(Core.controller, { ...stale, errors: ["other"] }, true, [], "t1"), onTheWire))
    assert.isFalse(Core.sameStateStatus(written, undefined))
    assert.deepStrictEqual(Core.conditionsOf({ status: { conditions: [{ type: 1 }, "x", { type: "a", status: "Maybe" }] } }), [])
  })
})
