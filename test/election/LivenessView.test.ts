import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as LV from "../../src/election/LivenessView.ts"

const timings = fc.constantFrom(LV.defaultTiming, LV.fastTiming)
const ready = (sequence: number, bootId = "b1"): LV.HeardEvent => ({ node: "p", bootId, sequence, leaving: false, ready: true })
const up: LV.TickInput = { linkUp: true, sendOk: true, expected: new Set() }

/** Arrival times of one peer's heartbeats: gaps drawn around the interval, sometimes long outages. */
const arrivals = (t: LV.Timing) =>
  fc.array(
    fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 1, max: t.interval * 2 }) },
      { weight: 1, arbitrary: fc.integer({ min: t.deadAfter - t.interval, max: t.deadAfter * 3 }) }
    ),
    { minLength: 1, maxLength: 60 }
  ).map((gaps) => {
    let at = 0
    return gaps.map((g) => (at += g))
  })

/** Reference model: alive iff heard within deadAfter; candidate iff the unbroken run containing now began ≥ rejoinAfter ago. */
const model = (t: LV.Timing, times: ReadonlyArray<number>, now: number) => {
  const past = times.filter((x) => x <= now)
  const last = past.at(-1)
  if (last === undefined || now - last >= t.deadAfter) return { alive: false, candidate: false }
  let start = last
  for (let i = past.length - 1; i > 0; i--) {
    const a = past[i - 1]
    const b = past[i]
    if (a === undefined || b === undefined || b - a >= t.deadAfter) break
    start = a
  }
  return { alive: true, candidate: now - start >= t.rejoinAfter }
}

const replay = (t: LV.Timing, times: ReadonlyArray<number>, now: number) => {
  let s = LV.initial(t)
  times.filter((x) => x <= now).forEach((at, i) => (s = LV.heard(s, ready(i + 1), at)))
  return s
}

describe("LivenessView", () => {
  it("a peer is alive until deadAfter after its last heartbeat, and a candidate only after rejoinAfter unbroken", () => {
    fc.assert(fc.property(timings.chain((t) => fc.tuple(fc.constant(t), arrivals(t), fc.nat(2000))), ([t, times, extra]) => {
      const end = (times.at(-1) ?? 0) + extra
      for (let now = 0; now <= end; now += Math.max(7, Math.floor(end / 97))) {
        const v = LV.view(replay(t, times, now), "self", now)
        const m = model(t, times, now)
        assert.strictEqual(v.alive.has("p"), m.alive, `alive at ${now}`)
        assert.strictEqual(v.candidates.has("p"), m.candidate, `candidate at ${now}`)
      }
    }))
  })

  it("ownership can move at most once per rejoinAfter for a flapping peer", () => {
    fc.assert(fc.property(timings.chain((t) => fc.tuple(fc.constant(t), arrivals(t))), ([t, times]) => {
      const end = (times.at(-1) ?? 0) + t.deadAfter
      const gains: Array<number> = []
      let before = false
      for (let now = 0; now <= end; now += 5) {
        const c = LV.view(replay(t, times, now), "self", now).candidates.has("p")
        if (c && !before) gains.push(now)
        before = c
      }
      for (let i = 1; i < gains.length; i++) assert.isAtLeast((gains[i] ?? 0) - (gains[i - 1] ?? 0), t.rejoinAfter)
    }))
  })

  it("leaving makes a peer dead at once; a new boot id starts a new run; replays change nothing", () => {
    fc.assert(fc.property(timings, fc.integer({ min: 3, max: 40 }), (t, n) => {
      let s = LV.initial(t)
      for (let i = 1; i <= n; i++) s = LV.heard(s, ready(i), i * t.interval)
      const now = n * t.interval
      const leaving = LV.heard(s, { ...ready(n + 1), leaving: true }, now + 1)
      assert.isFalse(LV.view(leaving, "self", now + 1).alive.has("p"))
      assert.isFalse(LV.view(leaving, "self", now + 1).candidates.has("p"))
      // A replay of an old frame does not revive it.
      assert.isFalse(LV.view(LV.heard(leaving, ready(n + 1), now + 2), "self", now + 2).alive.has("p"))
      const reborn = LV.heard(s, ready(1, "b2"), now + 1)
      assert.isFalse(LV.view(reborn, "self", now + 1).candidates.has("p"))
      assert.isTrue(LV.view(reborn, "self", now + 1).alive.has("p"))
      const replayed = LV.heard(s, ready(1), now + 1)
      assert.strictEqual(replayed, s)
    }))
  })

  it("self becomes a candidate after listening deadAfter and rejoinAfter − interval, one interval before peers would count it", () => {
    fc.assert(fc.property(timings, (t) => {
      let s = LV.initial(t)
      let firstReadyTick: number | undefined
      let firstCandidate: number | undefined
      for (let at = 0; at <= 4 * t.rejoinAfter; at += t.interval) {
        s = LV.tick(s, up, at)
        if (LV.selfReady(s) && firstReadyTick === undefined) firstReadyTick = at
        if (LV.view(s, "self", at).selfCandidate && firstCandidate === undefined) firstCandidate = at
      }
      assert.strictEqual(firstReadyTick, t.deadAfter)
      assert.strictEqual(firstCandidate, t.deadAfter + t.rejoinAfter - t.interval)
    }))
  })

  it("nodes that become ready together never count only themselves (bootstrap, rollout); a late joiner does not hold self back", () => {
    fc.assert(fc.property(timings, fc.integer({ min: -400, max: 400 }), fc.integer({ min: 0, max: 49 }), (t, skew, phase) => {
      // Self ticks every interval from 0; the peer started `skew` ms later (earlier if negative) and says ready once it
      // has listened deadAfter. At no instant may self count itself while a peer that became ready no later than an
      // interval after it is alive but not yet counted.
      let s = LV.initial(t)
      let seq = 0
      const peerReadyAt = skew + t.deadAfter
      const events: Array<{ at: number; kind: "tick" | "heard" }> = []
      for (let at = 0; at <= 4 * t.rejoinAfter; at += t.interval) events.push({ at, kind: "tick" })
      for (let at = Math.max(0, skew) + (phase % t.interval); at <= 4 * t.rejoinAfter; at += t.interval) events.push({ at, kind: "heard" })
      events.sort((a, b) => a.at - b.at || (a.kind === "heard" ? -1 : 1))
      let selfFirst: number | undefined
      for (const e of events) {
        s = e.kind === "tick"
          ? LV.tick(LV.awake(s, e.at), up, e.at)
          : LV.heard(s, { node: "p", bootId: "b", sequence: ++seq, leaving: false, ready: e.at >= peerReadyAt }, e.at)
        for (const probe of [e.at, e.at + 1]) {
          const v = LV.view(s, "self", probe)
          const peerReady = s.peers.get("p")?.readySince
          const together = peerReady !== undefined && s.self.readySince !== undefined && peerReady <= s.self.readySince + t.interval
          if (v.selfCandidate && together) assert.isTrue(v.candidates.has("p"), `self alone at ${probe} (skew ${skew})`)
          if (v.selfCandidate && selfFirst === undefined) selfFirst = probe
        }
      }
      // Self does count in the end, never later than the peer would count it plus an interval.
      assert.isDefined(selfFirst)
      assert.isAtMost(selfFirst ?? 0, Math.max(t.deadAfter + t.rejoinAfter, peerReadyAt + t.rejoinAfter) + t.interval)
    }))
  })

  it("link down or a failing send takes self out at the tick that sees it", () => {
    fc.assert(fc.property(timings, fc.boolean(), (t, linkDown) => {
      let s = LV.initial(t)
      let at = 0
      for (; at <= t.deadAfter + t.rejoinAfter; at += t.interval) s = LV.tick(s, up, at)
      assert.isTrue(LV.view(s, "self", at).selfCandidate)
      s = LV.tick(s, linkDown ? { ...up, linkUp: false } : { ...up, sendOk: false }, at)
      const v = LV.view(s, "self", at)
      assert.isFalse(v.selfCandidate)
      assert.isFalse(LV.selfReady(s))
      assert.strictEqual(v.linkUp, !linkDown)
    }))
  })

  it("isolation: hearing none of the expected peers for 2 × deadAfter makes self not ready; no expected peer, no isolation", () => {
    fc.assert(fc.property(timings, fc.boolean(), (t, peersExpected) => {
      const input = { ...up, expected: new Set(peersExpected ? ["p"] : []) }
      let s = LV.initial(t)
      for (let at = 0; at <= 4 * t.deadAfter + t.rejoinAfter; at += t.interval) {
        s = LV.tick(s, input, at)
        const isolated = peersExpected && at >= 2 * t.deadAfter
        assert.strictEqual(s.self.isolated, isolated, `at ${at}`)
        if (isolated) assert.isFalse(LV.selfReady(s))
      }
      if (!peersExpected) return
      // Hearing the peer again ends the isolation at the next tick; candidacy then needs a fresh run.
      const at = 5 * t.deadAfter + t.rejoinAfter
      s = LV.tick(LV.heard(s, ready(1), at - 1), input, at)
      assert.isFalse(s.self.isolated)
      assert.isTrue(LV.selfReady(s))
      assert.isFalse(LV.view(s, "self", at).selfCandidate)
    }))
  })

  it("stale self: after a stall longer than deadAfter self does not count until it has listened again", () => {
    fc.assert(fc.property(timings, fc.integer({ min: 1, max: 5000 }), (t, stall) => {
      let s = LV.initial(t)
      let at = 0
      for (; at <= t.deadAfter + t.rejoinAfter; at += t.interval) s = LV.tick(s, up, at)
      const last = at - t.interval
      const resumed = last + t.deadAfter + stall
      // Before the next tick runs, a view taken after the stall does not count self.
      assert.isFalse(LV.view(s, "self", resumed).selfCandidate)
      s = LV.tick(s, up, resumed)
      assert.isFalse(LV.selfReady(s))
      assert.isFalse(LV.view(s, "self", resumed).selfCandidate)
    }))
  })

  it("time away: a stall of self's timers does not make a peer that kept sending look dead before its backlog is read", () => {
    fc.assert(fc.property(timings, fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 0, max: 49 }), (t, stall, phase) => {
      // The peer heartbeats every interval (offset by `phase`); self's timers run every interval until `from`,
      // then not for `stall` ms; the peer's heartbeats of that time are read only after self's first wake.
      let s = LV.initial(t)
      let seq = 0
      const from = 10 * t.interval
      for (let at = 0; at <= from; at += t.interval) {
        s = LV.awake(LV.heard(s, ready(++seq), at - t.interval + (phase % t.interval)), at)
        s = LV.tick(s, up, at)
      }
      const woke = from + stall
      s = LV.awake(s, woke)
      assert.isTrue(LV.view(s, "self", woke).alive.has("p"), `alive right after a ${stall} ms stall`)
      // It was a candidate before and stays one: its run is not broken by self's absence.
      s = LV.heard(s, ready(++seq), woke)
      assert.isTrue(LV.view(s, "self", woke).candidates.has("p"))
    }))
  })

  it("time away: a peer that stopped while self ran on time dies at deadAfter; a stall delays that by at most the stall", () => {
    fc.assert(fc.property(timings, fc.integer({ min: 0, max: 5_000 }), (t, stall) => {
      let s = LV.initial(t)
      for (let at = 0; at <= 5 * t.interval; at += t.interval) s = LV.tick(LV.awake(LV.heard(s, ready(at + 1), at), at), up, at)
      const lastHeard = 5 * t.interval
      // Self stalls right after, for `stall` ms, then runs on time again.
      let at = lastHeard + stall
      s = LV.awake(s, at)
      let dead: number | undefined
      for (; dead === undefined && at <= lastHeard + t.deadAfter + stall + t.interval; at += Math.min(10, t.interval)) {
        s = LV.awake(s, at)
        if (!LV.view(s, "self", at).alive.has("p")) dead = at
      }
      assert.isDefined(dead)
      assert.isAtLeast(dead ?? 0, lastHeard + t.deadAfter)
      assert.isAtMost(dead ?? 0, lastHeard + t.deadAfter + stall + Math.min(10, t.interval))
    }))
  })

  it("nextChange: the view does not change before it", () => {
    fc.assert(fc.property(timings.chain((t) => fc.tuple(fc.constant(t), arrivals(t), fc.nat(3000))), ([t, times, probe]) => {
      let s = LV.initial(t)
      times.forEach((at, i) => {
        s = LV.heard(s, ready(i + 1), at)
        if (i % 3 === 0) s = LV.tick(s, up, at)
      })
      const now = (times.at(-1) ?? 0) + (probe % t.deadAfter)
      const base = LV.view(s, "self", now)
      const next = LV.nextChange(s, now)
      const until = next ?? now + 10_000
      for (let x = now; x < until; x += Math.max(1, Math.floor((until - now) / 50))) {
        assert.isTrue(LV.sameView(base, LV.view(s, "self", x)), `view changed at ${x} before ${next}`)
      }
    }))
  })
})
