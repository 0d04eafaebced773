/**
 * Property tests of the BGP FSM, written the way an embedder would check a session layer built on `Fsm.step`: with
 * the exported fast-check arbitraries, under `node:test` (any runner works; `fc.assert` throws on a counterexample
 * and prints the shrunk trace).
 *
 *   node --test examples/bgp-fsm.property.test.ts                                  (metallb-ts installed)
 *   node --conditions=metallb-ts-source --test examples/bgp-fsm.property.test.ts   (inside the metallb-ts repository)
 */
import assert from "node:assert/strict"
import { test } from "node:test"
import * as fc from "fast-check"
import { Fsm, FsmArbitraries } from "metallb-ts/bgp"

/** A configuration and a trace of events for it: traces often walk to Established, then wander. */
const configAndTrace = FsmArbitraries.arbFsmConfig.chain((config) =>
  fc.tuple(fc.constant(config), FsmArbitraries.arbFsmTrace(config))
)

test("step is total: any state, any event gives a known state and never throws", () => {
  fc.assert(
    fc.property(
      FsmArbitraries.arbAnyState.chain((state) => fc.tuple(fc.constant(state), FsmArbitraries.arbFsmEvent(state.config))),
      ([state, event]) => {
        const [next] = Fsm.step(state, event)
        assert.ok(Fsm.stateNames.includes(next.name))
      }
    )
  )
})

test("SessionEstablished is emitted exactly when entering Established, SessionDown exactly when leaving it", () => {
  fc.assert(
    fc.property(configAndTrace, ([config, trace]) => {
      let state = Fsm.initial(config)
      for (const event of trace) {
        const [next, actions] = Fsm.step(state, event)
        const tags = actions.map((a) => a._tag)
        assert.equal(tags.includes("SessionEstablished"), state.name !== "Established" && next.name === "Established")
        assert.equal(tags.includes("SessionDown"), state.name === "Established" && next.name !== "Established")
        state = next
      }
    })
  )
})

/** The timer an expiry event stands for, if it is one. */
const expired = (event: Fsm.FsmEvent): Fsm.TimerName | undefined =>
  Fsm.timerNames.find((timer) => Fsm.expiryEvent[timer]._tag === event._tag)

test("a timer driver that follows StartTimer/StopTimer agrees with the FSM's own view of running timers", () => {
  fc.assert(
    fc.property(configAndTrace, ([config, trace]) => {
      let state = Fsm.initial(config)
      // The embedder's timer table, e.g. one fiber per timer in a real session layer.
      const running = new Map<Fsm.TimerName, number>()
      for (const event of trace) {
        const timer = expired(event)
        // A real driver only delivers the expiry of a timer it is running, and that timer has then fired.
        if (timer !== undefined && !running.delete(timer)) continue
        const [next, actions] = Fsm.step(state, event)
        for (const action of actions) {
          if (action._tag === "StartTimer") running.set(action.timer, action.seconds)
          if (action._tag === "StopTimer") running.delete(action.timer)
        }
        for (const t of Fsm.timerNames) assert.equal(running.has(t), next.running[t], `${t} after ${event._tag}`)
        state = next
      }
    })
  )
})
