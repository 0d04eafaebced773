import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import {
  checkOpen,
  collisionLoser,
  eventTags,
  type FsmAction,
  type FsmEvent,
  type FsmState,
  initial,
  keepaliveFor,
  makeConfig,
  notificationEvent,
  run,
  runningAfter,
  stateNames,
  step,
  timerNames
} from "../../src/bgp/Fsm.ts"
import {
  arbAnyState,
  arbFsmState,
  arbFsmConfig,
  arbFsmEvent,
  arbFsmTrace
} from "../../src/bgp/FsmArbitraries.ts"
import { classify, mismatches } from "./FsmModel.ts"

const config = makeConfig({ localAsn: 64512, localBgpId: 0xc0000201, peerAsn: 64513 })
const open = { holdTime: 90, asn: 64513, bgpId: 0xc0000202, capabilities: [1, 65] }
const tags = (actions: ReadonlyArray<FsmAction>) => actions.map((a) => a._tag)
const sentNotification = (s: FsmState, e: FsmEvent) => step(s, e)[1].find((a) => a._tag === "SendNotification")
/** The state as `step` sees it once a timer-expiry event has marked its timer as fired. */
const expired = (s: FsmState, e: FsmEvent): FsmState["running"] => {
  const timer = e._tag === "ConnectRetryTimerExpires"
    ? "ConnectRetry"
    : e._tag === "HoldTimerExpires"
    ? "Hold"
    : e._tag === "KeepaliveTimerExpires"
    ? "Keepalive"
    : e._tag === "DelayOpenTimerExpires"
    ? "DelayOpen"
    : undefined
  return timer === undefined ? s.running : { ...s.running, [timer]: false }
}

/** A state (reachable under some configuration) with the given name, and an event with the given tag for it. */
const pairArb = (name: FsmState["name"], tag: FsmEvent["_tag"]) =>
  arbFsmState
    .filter((s) => s.name === name)
    .chain((s) => fc.tuple(fc.constant(s), arbFsmEvent(s.config).filter((e) => e._tag === tag)))

const traces = arbFsmConfig.chain((c) => fc.tuple(fc.constant(c), arbFsmTrace(c, 60)))

/** Runs `check` on every step of random traces from the initial state. */
const everyStep = (
  check: (before: FsmState, event: FsmEvent, after: FsmState, actions: ReadonlyArray<FsmAction>) => void,
  numRuns = 300
) =>
  fc.assert(
    fc.property(traces, ([c, events]) => {
      let s = initial(c)
      for (const e of events) {
        const [next, actions] = step(s, e)
        check(s, e, next, actions)
        s = next
      }
    }),
    { numRuns }
  )

describe("Fsm.step against the RFC 4271 §8.2.2 table", () => {
  for (const name of stateNames) {
    for (const tag of eventTags) {
      it(`${name} + ${tag}`, () => {
        fc.assert(
          fc.property(pairArb(name, tag), ([s, e]) => {
            const [next, actions] = step(s, e)
            assert.deepStrictEqual(mismatches(s, e, next, actions), [])
          }),
          { numRuns: 40 }
        )
      })
    }
  }

  it("agrees with the table at every step of random traces", () => {
    everyStep((s, e, next, actions) => {
      assert.deepStrictEqual(mismatches(s, e, next, actions), [])
    }, 400)
  })
})

describe("Fsm invariants over random traces", () => {
  it("reaches Established only from OpenConfirm on KeepAliveMsg", () => {
    everyStep((s, e, next, actions) => {
      if (next.name === "Established" && s.name !== "Established") {
        assert.strictEqual(s.name, "OpenConfirm")
        assert.strictEqual(e._tag, "KeepAliveMsg")
        assert.include(tags(actions), "SessionEstablished")
      }
    })
  })

  it("ends in Idle, with resources released, whenever it sends a NOTIFICATION", () => {
    everyStep((s, e, next, actions) => {
      if (tags(actions).includes("SendNotification")) {
        assert.strictEqual(next.name, "Idle")
        assert.include(tags(actions), "ReleaseResources")
        assert.include(tags(actions), "DropTcpConnection")
        // The NOTIFICATION goes out before the connection is dropped.
        assert.isBelow(tags(actions).indexOf("SendNotification"), tags(actions).indexOf("DropTcpConnection"))
      }
    })
  })

  it("changes the ConnectRetryCounter only by reset to zero or +1", () => {
    everyStep((s, _e, next) => {
      const delta = next.connectRetryCounter - s.connectRetryCounter
      assert.isTrue(delta === 0 || delta === 1 || next.connectRetryCounter === 0)
      if (delta === 1) assert.strictEqual(next.name, "Idle")
    })
  })

  it("never sends periodic KEEPALIVEs or starts the KeepaliveTimer with a zero hold time", () => {
    everyStep((s, e, next, actions) => {
      const negotiatedZero = (next.name === "OpenConfirm" || next.name === "Established") && next.holdTime === 0
      if (negotiatedZero) {
        assert.isFalse(actions.some((a) => a._tag === "StartTimer" && (a.timer === "Keepalive" || a.timer === "Hold")))
        assert.isFalse(next.running.Keepalive)
        assert.isFalse(next.running.Hold)
        // The only KEEPALIVE is the one acknowledging the OPEN.
        if (tags(actions).includes("SendKeepalive")) assert.strictEqual(e._tag, "BgpOpen")
      }
    })
  })

  it("keeps timers consistent with the state", () => {
    everyStep((s, e, next, actions) => {
      // The flags follow the actions: what was running, then this step's starts and stops.
      assert.deepStrictEqual(next.running, runningAfter(expired(s, e), actions))
      const running = timerNames.filter((t) => next.running[t])
      if (next.name === "Idle") assert.deepStrictEqual(running, [])
      if (next.name === "OpenSent" || (next.name === "Established" && next.holdTime > 0)) {
        assert.include(running, "Hold")
      }
      assert.isTrue(actions.every((a) => a._tag !== "StartTimer" || a.seconds > 0))
    })
  })

  it("is total: any state and event give a state and actions without throwing", () => {
    fc.assert(
      fc.property(arbAnyState.chain((s) => fc.tuple(fc.constant(s), arbFsmEvent(s.config))), ([s, e]) => {
        const [next, actions] = step(s, e)
        assert.include(stateNames, next.name)
        assert.isArray(actions)
        // Every event the table knows has a row, so classification never fails either.
        assert.isNumber(classify(s, e).number)
      }),
      { numRuns: 2000 }
    )
  })
})

describe("Fsm examples", () => {
  it("walks the happy path and negotiates timers", () => {
    const [s, actions] = run(initial(config), [
      { _tag: "ManualStart" },
      { _tag: "TcpCrAcked" },
      { _tag: "BgpOpen", ...open, holdTime: 30 },
      { _tag: "KeepAliveMsg" }
    ])
    assert.strictEqual(s.name, "Established")
    assert.strictEqual(s.holdTime, 30)
    assert.strictEqual(s.keepaliveTime, 10)
    assert.deepStrictEqual(tags(actions), [
      "StartTimer",
      "InitiateTcpConnection",
      "StopTimer",
      "SendOpen",
      "StartTimer",
      "SendKeepalive",
      "StartTimer",
      "StartTimer",
      "StartTimer",
      "SessionEstablished"
    ])
    assert.deepStrictEqual(actions[4], { _tag: "StartTimer", timer: "Hold", seconds: 240 })
    const up = actions.find((a) => a._tag === "SessionEstablished")
    assert.deepStrictEqual(up, {
      _tag: "SessionEstablished",
      peer: { holdTime: 30, asn: 64513, bgpId: 0xc0000202, capabilities: [1, 65] },
      holdTime: 30,
      keepaliveTime: 10,
      internal: false
    })
  })

  it("rejects hold times of one and two seconds with OPEN error 2/6", () => {
    for (const holdTime of [1, 2]) {
      const [s, actions] = run(initial(config), [
        { _tag: "ManualStart" },
        { _tag: "TcpCrAcked" },
        { _tag: "BgpOpen", ...open, holdTime }
      ])
      assert.strictEqual(s.name, "Idle")
      assert.strictEqual(s.connectRetryCounter, 1)
      const n = actions.find((a) => a._tag === "SendNotification")
      // §6: the Data field is empty unless the RFC says otherwise, and §6.2 says nothing for this subcode.
      assert.deepStrictEqual(n, { _tag: "SendNotification", code: 2, subcode: 6, data: new Uint8Array(0) })
    }
  })

  it("checks the peer AS and BGP Identifier", () => {
    assert.strictEqual(checkOpen(config, { ...open, asn: 65000 })?.subcode, 2)
    assert.strictEqual(checkOpen(config, { ...open, bgpId: 0 })?.subcode, 3)
    assert.isUndefined(checkOpen(config, open))
    assert.strictEqual(checkOpen(config, { ...open, holdTime: Number.NaN })?.subcode, 6)
    assert.strictEqual(checkOpen(config, { ...open, holdTime: 65536 })?.subcode, 6)
    assert.isUndefined(checkOpen(config, { ...open, holdTime: 0 }))
    const ibgp = makeConfig({ localAsn: 64512, localBgpId: 7, peerAsn: "internal" })
    assert.strictEqual(checkOpen(ibgp, { ...open, asn: 64512, bgpId: 7 })?.subcode, 3)
    assert.isUndefined(checkOpen(ibgp, { ...open, asn: 64512, bgpId: 8 }))
    assert.strictEqual(checkOpen(ibgp, { ...open, asn: 64513 })?.subcode, 2)
    const ebgp = makeConfig({ localAsn: 64512, localBgpId: 7, peerAsn: "external" })
    assert.strictEqual(checkOpen(ebgp, { ...open, asn: 64512 })?.subcode, 2)
    assert.isUndefined(checkOpen(ebgp, { ...open, asn: 4200000000, bgpId: 7 }))
  })

  it("derives keepalive from the hold time, capping a configured keepalive", () => {
    assert.strictEqual(keepaliveFor(config, 0), 0)
    assert.strictEqual(keepaliveFor(config, 3), 1)
    assert.strictEqual(keepaliveFor(config, 90), 30)
    assert.strictEqual(keepaliveFor(makeConfig({ ...config, keepaliveTime: 10 }), 90), 10)
    assert.strictEqual(keepaliveFor(makeConfig({ ...config, keepaliveTime: 60 }), 90), 30)
  })

  it("uses the smaller hold time, and none at all when either side offers zero", () => {
    const zero = makeConfig({ ...config, holdTime: 0 })
    const [s, actions] = run(initial(zero), [
      { _tag: "ManualStart" },
      { _tag: "TcpCrAcked" },
      { _tag: "BgpOpen", ...open }
    ])
    assert.strictEqual(s.holdTime, 0)
    assert.isFalse(s.running.Hold)
    assert.isFalse(s.running.Keepalive)
    assert.deepStrictEqual(actions.filter((a) => a._tag === "StopTimer").map((a) => a.timer), ["ConnectRetry", "Hold"])
    const [established, more] = run(s, [{ _tag: "KeepAliveMsg" }, { _tag: "KeepaliveTimerExpires" }])
    assert.strictEqual(established.name, "Established")
    assert.notInclude(tags(more), "SendKeepalive")
  })

  it("delays the OPEN with DelayOpen and answers the peer's OPEN with OPEN + KEEPALIVE", () => {
    const delayed = makeConfig({ ...config, delayOpen: true, delayOpenTime: 5 })
    const [s1, a1] = run(initial(delayed), [{ _tag: "ManualStart" }, { _tag: "TcpCrAcked" }])
    assert.strictEqual(s1.name, "Connect")
    assert.isTrue(s1.running.DelayOpen)
    assert.deepStrictEqual(a1.at(-1), { _tag: "StartTimer", timer: "DelayOpen", seconds: 5 })
    const [s2, a2] = step(s1, { _tag: "BgpOpen", ...open })
    assert.strictEqual(s2.name, "OpenConfirm")
    assert.deepStrictEqual(tags(a2), ["StopTimer", "SendOpen", "SendKeepalive", "StartTimer", "StartTimer"])
    const [s3, a3] = step(s1, { _tag: "DelayOpenTimerExpires" })
    assert.strictEqual(s3.name, "OpenSent")
    assert.deepStrictEqual(tags(a3), ["SendOpen", "StartTimer"])
  })

  it("waits passively and never dials out with PassiveTcpEstablishment", () => {
    const [s, actions] = run(initial(config), [
      { _tag: "ManualStartWithPassiveTcpEstablishment" },
      { _tag: "ConnectRetryTimerExpires" },
      { _tag: "ConnectRetryTimerExpires" }
    ])
    assert.strictEqual(s.name, "Active")
    assert.notInclude(tags(actions), "InitiateTcpConnection")
    const [s2] = step(s, { _tag: "TcpConnectionConfirmed" })
    assert.strictEqual(s2.name, "OpenSent")
  })

  it("sends Cease subcodes: administrative shutdown on ManualStop, collision resolution on OpenCollisionDump", () => {
    const [opened] = run(initial(config), [{ _tag: "ManualStart" }, { _tag: "TcpCrAcked" }])
    const cease = (e: FsmEvent) => step(opened, e)[1].find((a) => a._tag === "SendNotification")
    assert.deepInclude(cease({ _tag: "ManualStop" }), { code: 6, subcode: 2 })
    assert.deepInclude(cease({ _tag: "ManualStop", subcode: 4 }), { code: 6, subcode: 4 })
    assert.deepInclude(cease({ _tag: "OpenCollisionDump" }), { code: 6, subcode: 7 })
    assert.deepInclude(cease({ _tag: "HoldTimerExpires" }), { code: 4, subcode: 0 })
  })

  it("uses the RFC 6608 FSM error subcodes for unexpected messages", () => {
    const [sent] = run(initial(config), [{ _tag: "ManualStart" }, { _tag: "TcpCrAcked" }])
    const [confirm] = step(sent, { _tag: "BgpOpen", ...open })
    const [up] = step(confirm, { _tag: "KeepAliveMsg" })
    assert.deepInclude(sentNotification(sent, { _tag: "UpdateMsg" }), { code: 5, subcode: 1 })
    assert.deepInclude(sentNotification(confirm, { _tag: "UpdateMsg" }), { code: 5, subcode: 2 })
    assert.deepInclude(sentNotification(up, { _tag: "BgpOpen", ...open }), { code: 5, subcode: 3 })
    assert.deepInclude(sentNotification(up, { _tag: "ConnectRetryTimerExpires" }), { code: 5, subcode: 0 })
  })

  it("reports the session down with the NOTIFICATION it sent when leaving Established", () => {
    const [up] = run(initial(config), [
      { _tag: "ManualStart" },
      { _tag: "TcpCrAcked" },
      { _tag: "BgpOpen", ...open },
      { _tag: "KeepAliveMsg" }
    ])
    const [s, actions] = step(up, { _tag: "HoldTimerExpires" })
    assert.strictEqual(s.name, "Idle")
    assert.deepStrictEqual(tags(actions), [
      "SendNotification",
      "StopTimer",
      "SessionDown",
      "ReleaseResources",
      "DropTcpConnection"
    ])
    assert.deepInclude(actions.find((a) => a._tag === "SessionDown"), {
      event: "HoldTimerExpires",
      sent: { code: 4, subcode: 0, data: new Uint8Array(0) },
      received: undefined
    })
    const cease = { code: 6, subcode: 2, data: new Uint8Array(0) }
    const [, byPeer] = step(up, notificationEvent(cease))
    assert.deepInclude(byPeer.find((a) => a._tag === "SessionDown"), { sent: undefined, received: cease })
    assert.isUndefined(s.peer)
    assert.strictEqual(s.holdTime, config.holdTime)
  })

  it("ignores AutomaticStart/Stop when the attributes do not allow them, logging an FSM error", () => {
    const manual = makeConfig({ ...config, allowAutomaticStart: false, allowAutomaticStop: false })
    const [s, actions] = step(initial(manual), { _tag: "AutomaticStart" })
    assert.strictEqual(s.name, "Idle")
    assert.deepStrictEqual(tags(actions), ["LogFsmError"])
    const [connect] = step(initial(manual), { _tag: "ManualStart" })
    const [still, stopActions] = step(connect, { _tag: "AutomaticStop" })
    assert.strictEqual(still.name, "Connect")
    assert.deepStrictEqual(tags(stopActions), ["LogFsmError"])
  })

  it("classifies received NOTIFICATIONs into events 24 and 25", () => {
    assert.strictEqual(notificationEvent({ code: 2, subcode: 1, data: new Uint8Array([0, 4]) })._tag, "NotifMsgVerErr")
    assert.strictEqual(notificationEvent({ code: 2, subcode: 2, data: new Uint8Array() })._tag, "NotifMsg")
    assert.strictEqual(notificationEvent({ code: 6, subcode: 2, data: new Uint8Array() })._tag, "NotifMsg")
  })

  it("resolves collisions in favour of the connection initiated by the higher BGP Identifier", () => {
    assert.strictEqual(collisionLoser(1, 2), "LocallyInitiated")
    assert.strictEqual(collisionLoser(2, 1), "RemotelyInitiated")
    // Unsigned comparison: 0x80000000 is larger than 1, not negative.
    assert.strictEqual(collisionLoser(0x8000_0000, 1), "RemotelyInitiated")
    assert.strictEqual(collisionLoser(1, 0xffff_ffff), "LocallyInitiated")
  })
})
