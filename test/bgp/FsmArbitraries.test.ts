import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { checkOpen, initial, run, stateNames } from "../../src/bgp/Fsm.ts"
import { arbAcceptableOpen, arbFsmConfig, arbFsmState, arbFsmTrace } from "../../src/bgp/FsmArbitraries.ts"

describe("FsmArbitraries", () => {
  it("generates OPENs that the configuration accepts from arbAcceptableOpen", () => {
    fc.assert(
      fc.property(arbFsmConfig.chain((c) => fc.tuple(fc.constant(c), arbAcceptableOpen(c))), ([c, open]) => {
        assert.isUndefined(checkOpen(c, open))
      })
    )
  })

  it("generates traces that reach every state, Established in a good share of them", () => {
    const samples = fc.sample(arbFsmConfig.chain((c) => fc.tuple(fc.constant(c), arbFsmTrace(c))), {
      numRuns: 300,
      seed: 42
    })
    const reached = new Set<string>()
    let established = 0
    for (const [c, events] of samples) {
      let s = initial(c)
      let wasEstablished = false
      for (const e of events) {
        s = run(s, [e])[0]
        reached.add(s.name)
        wasEstablished ||= s.name === "Established"
      }
      if (wasEstablished) established++
    }
    assert.deepStrictEqual([...reached].toSorted(), [...stateNames].toSorted())
    assert.isAbove(established / samples.length, 0.15)
  })

  it("generates reachable states consistent with their timers", () => {
    fc.assert(
      fc.property(arbFsmState, (s) => {
        assert.isTrue(s.name !== "Idle" || !Object.values(s.running).some(Boolean), "timers running in Idle")
        const negotiated = s.name === "OpenConfirm" || s.name === "Established"
        assert.isTrue(!negotiated || s.peer !== undefined, "no peer OPEN after negotiation")
      })
    )
  })
})
