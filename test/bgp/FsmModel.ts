/**
 * A second, independent encoding of RFC 4271 §8.2.2: one row per (state, RFC event number), written from the RFC text,
 * giving the next state and the essential actions. `Fsm.test.ts` checks `Fsm.step` against it.
 *
 * Rows marked "interpretation" are places where the RFC text is silent or contradicts §6; docs/design/bgp-fsm.md
 * explains each choice.
 */
import type { FsmAction, FsmConfig, FsmEvent, FsmState, Notification, StateName, TimerName } from "../../src/bgp/Fsm.ts"

/** The facts a row may depend on. */
export interface Cond {
  readonly delayOpen: boolean // DelayOpen attribute
  readonly delayOpenRunning: boolean // DelayOpenTimer running
  readonly sendNotificationWithoutOpen: boolean
  readonly collisionDetectEstablishedState: boolean
  readonly allowAutomaticStart: boolean
  readonly allowAutomaticStop: boolean
  readonly passive: boolean // PassiveTcpEstablishment
  readonly holdZero: boolean // the (negotiated) hold time the row uses is zero
}

type Duration = "initial" | "large" | "negotiated"

export interface Expect {
  readonly next: StateName
  readonly counter: "zero" | "inc" | "same"
  /** "carried": the NOTIFICATION the event carries; a number: that error code. */
  readonly notify?: "carried" | number
  readonly open?: true
  readonly keepalive?: true
  readonly connect?: true
  readonly drop?: true
  readonly reject?: true
  readonly starts?: Partial<Record<TimerName, Duration>>
  readonly established?: true
  readonly down?: true
  readonly update?: true
  readonly log?: true
}

type Row = Expect | ((c: Cond) => Expect)

const CEASE = 6
const HOLD_EXPIRED = 4
const FSM_ERROR = 5

const ignore = (next: StateName): Expect => ({ next, counter: "same" })
const idle = (counter: Expect["counter"], extra: Partial<Expect> = {}): Expect => ({
  next: "Idle",
  counter,
  drop: true,
  ...extra
})
const logged = (next: StateName): Expect => ({ next, counter: "same", log: true })

/** Rows shared by Connect and Active (the RFC repeats the same text for both). */
const connectActive = (self: "Connect" | "Active"): Record<number, Row> => ({
  1: ignore(self),
  3: ignore(self),
  4: ignore(self),
  5: ignore(self),
  // ManualStop: drop TCP, release, counter zero, stop ConnectRetryTimer, Idle. Active adds an optional Cease.
  2: (c) =>
    self === "Active" && c.delayOpenRunning && c.sendNotificationWithoutOpen
      ? idle("zero", { notify: CEASE })
      : idle("zero"),
  // Connect: drop TCP, restart ConnectRetryTimer, stop DelayOpenTimer, initiate TCP, stay.
  // Active: restart ConnectRetryTimer, initiate TCP, go to Connect. Interpretation: a passive FSM does not dial out.
  9: (c) =>
    self === "Active" && c.passive
      ? { next: "Active", counter: "same", starts: { ConnectRetry: "initial" } }
      : {
        next: "Connect",
        counter: "same",
        connect: true,
        starts: { ConnectRetry: "initial" },
        ...(self === "Connect" ? { drop: true } : {})
      },
  // DelayOpenTimer_Expires: send OPEN, HoldTimer large, OpenSent.
  12: { next: "OpenSent", counter: "same", open: true, starts: { Hold: "large" } },
  14: ignore(self),
  15: { next: self, counter: "same", reject: true },
  // TCP up: DelayOpen → start DelayOpenTimer and stay; else send OPEN, HoldTimer large, OpenSent.
  16: (c) =>
    c.delayOpen
      ? { next: self, counter: "same", starts: { DelayOpen: "initial" } }
      : { next: "OpenSent", counter: "same", open: true, starts: { Hold: "large" } },
  17: (c) =>
    c.delayOpen
      ? { next: self, counter: "same", starts: { DelayOpen: "initial" } }
      : { next: "OpenSent", counter: "same", open: true, starts: { Hold: "large" } },
  // TcpConnectionFails. Connect: DelayOpenTimer running → restart ConnectRetryTimer, Active; else Idle (no increment).
  // Active: Idle with ConnectRetryCounter + 1.
  18: (c) =>
    self === "Connect"
      ? c.delayOpenRunning
        ? { next: "Active", counter: "same", starts: { ConnectRetry: "initial" } }
        : idle("same")
      : idle("inc"),
  // OPEN while the DelayOpenTimer runs: send OPEN and KEEPALIVE, start timers unless hold is zero, OpenConfirm.
  20: (c) => ({
    next: "OpenConfirm",
    counter: "same",
    open: true,
    keepalive: true,
    ...(c.holdZero ? {} : { starts: { Keepalive: "negotiated", Hold: "negotiated" } })
  }),
  // Header or OPEN error: NOTIFICATION only with SendNOTIFICATIONwithoutOPEN; counter + 1; Idle.
  21: (c) => idle("inc", c.sendNotificationWithoutOpen ? { notify: "carried" } : {}),
  22: (c) => idle("inc", c.sendNotificationWithoutOpen ? { notify: "carried" } : {}),
  // NotifMsgVerErr: no increment while the DelayOpenTimer runs.
  24: (c) => idle(c.delayOpenRunning ? "same" : "inc"),
  8: (c) => (c.allowAutomaticStop ? idle("inc") : logged(self)),
  // "any other events (8, 10-11, 13, 19, 23, 25-28)": counter + 1, Idle.
  10: idle("inc"),
  11: idle("inc"),
  19: idle("inc"),
  23: idle("inc"),
  25: idle("inc"),
  26: idle("inc"),
  27: idle("inc"),
  28: idle("inc")
})

const startsIgnored = (self: StateName): Record<number, Row> => ({
  1: ignore(self),
  3: ignore(self),
  4: ignore(self),
  5: ignore(self)
})

/** Second connections (14, 16, 17) are tracked outside this FSM; invalid ones (15) are ignored. */
const secondConnection = (self: StateName): Record<number, Row> => ({
  14: ignore(self),
  15: ignore(self),
  16: ignore(self),
  17: ignore(self)
})

export const table: Record<StateName, Record<number, Row>> = {
  Idle: {
    1: { next: "Connect", counter: "zero", connect: true, starts: { ConnectRetry: "initial" } },
    3: (c) =>
      c.allowAutomaticStart
        ? { next: "Connect", counter: "zero", connect: true, starts: { ConnectRetry: "initial" } }
        : logged("Idle"),
    4: { next: "Active", counter: "zero", starts: { ConnectRetry: "initial" } },
    5: (c) =>
      c.allowAutomaticStart ? { next: "Active", counter: "zero", starts: { ConnectRetry: "initial" } } : logged("Idle"),
    2: ignore("Idle"),
    8: ignore("Idle"),
    9: ignore("Idle"),
    10: ignore("Idle"),
    11: ignore("Idle"),
    12: ignore("Idle"),
    // Interpretation of "refuses all incoming BGP connections": reject the request, drop a completed connection.
    14: { next: "Idle", counter: "same", reject: true },
    15: ignore("Idle"),
    16: { next: "Idle", counter: "same", drop: true },
    17: { next: "Idle", counter: "same", drop: true },
    18: ignore("Idle"),
    19: ignore("Idle"),
    20: ignore("Idle"),
    21: ignore("Idle"),
    22: ignore("Idle"),
    23: ignore("Idle"),
    24: ignore("Idle"),
    25: ignore("Idle"),
    26: ignore("Idle"),
    27: ignore("Idle"),
    28: ignore("Idle")
  },
  Connect: connectActive("Connect"),
  Active: connectActive("Active"),
  OpenSent: {
    ...startsIgnored("OpenSent"),
    ...secondConnection("OpenSent"),
    2: idle("zero", { notify: CEASE }),
    8: (c) => (c.allowAutomaticStop ? idle("inc", { notify: CEASE }) : logged("OpenSent")),
    10: idle("inc", { notify: HOLD_EXPIRED }),
    // TcpConnectionFails: close the BGP connection, restart ConnectRetryTimer, Active.
    18: { next: "Active", counter: "same", drop: true, starts: { ConnectRetry: "initial" } },
    // Valid OPEN: KEEPALIVE, KeepaliveTimer and negotiated HoldTimer (none when zero), OpenConfirm.
    19: (c) => ({
      next: "OpenConfirm",
      counter: "same",
      keepalive: true,
      ...(c.holdZero ? {} : { starts: { Keepalive: "negotiated", Hold: "negotiated" } })
    }),
    21: idle("inc", { notify: "carried" }),
    22: idle("inc", { notify: "carried" }),
    23: idle("inc", { notify: CEASE }),
    24: idle("same"),
    // "any other event (9, 11-13, 20, 25-28)": FSM Error.
    9: idle("inc", { notify: FSM_ERROR }),
    11: idle("inc", { notify: FSM_ERROR }),
    12: idle("inc", { notify: FSM_ERROR }),
    20: idle("inc", { notify: FSM_ERROR }),
    25: idle("inc", { notify: FSM_ERROR }),
    26: idle("inc", { notify: FSM_ERROR }),
    27: idle("inc", { notify: FSM_ERROR }),
    28: idle("inc", { notify: FSM_ERROR })
  },
  OpenConfirm: {
    ...startsIgnored("OpenConfirm"),
    ...secondConnection("OpenConfirm"),
    2: idle("zero", { notify: CEASE }),
    8: (c) => (c.allowAutomaticStop ? idle("inc", { notify: CEASE }) : logged("OpenConfirm")),
    10: idle("inc", { notify: HOLD_EXPIRED }),
    // KeepaliveTimer_Expires: KEEPALIVE, restart KeepaliveTimer (never with a zero hold time, §4.4).
    11: (c) =>
      c.holdZero
        ? ignore("OpenConfirm")
        : { next: "OpenConfirm", counter: "same", keepalive: true, starts: { Keepalive: "negotiated" } },
    18: idle("inc"),
    25: idle("inc"),
    24: idle("same"),
    // Interpretation: an OPEN on this connection is unexpected; collisions with other connections arrive as event 23.
    19: idle("inc", { notify: FSM_ERROR }),
    21: idle("inc", { notify: "carried" }),
    22: idle("inc", { notify: "carried" }),
    23: idle("inc", { notify: CEASE }),
    // KEEPALIVE: restart HoldTimer, Established.
    26: (c) => ({
      next: "Established",
      counter: "same",
      established: true,
      ...(c.holdZero ? {} : { starts: { Hold: "negotiated" } })
    }),
    // "any other event (9, 12-13, 20, 27-28)": FSM Error.
    9: idle("inc", { notify: FSM_ERROR }),
    12: idle("inc", { notify: FSM_ERROR }),
    20: idle("inc", { notify: FSM_ERROR }),
    27: idle("inc", { notify: FSM_ERROR }),
    28: idle("inc", { notify: FSM_ERROR })
  },
  Established: {
    ...startsIgnored("Established"),
    ...secondConnection("Established"),
    2: idle("zero", { notify: CEASE, down: true }),
    8: (c) => (c.allowAutomaticStop ? idle("inc", { notify: CEASE, down: true }) : logged("Established")),
    10: idle("inc", { notify: HOLD_EXPIRED, down: true }),
    11: (c) =>
      c.holdZero
        ? ignore("Established")
        : { next: "Established", counter: "same", keepalive: true, starts: { Keepalive: "negotiated" } },
    // Interpretation: an OPEN on this connection is unexpected (see OpenConfirm).
    19: idle("inc", { notify: FSM_ERROR, down: true }),
    23: (c) => (c.collisionDetectEstablishedState ? idle("inc", { notify: CEASE, down: true }) : logged("Established")),
    18: idle("inc", { down: true }),
    24: idle("inc", { down: true }),
    25: idle("inc", { down: true }),
    26: (c) => ({ next: "Established", counter: "same", ...(c.holdZero ? {} : { starts: { Hold: "negotiated" } }) }),
    27: (c) => ({
      next: "Established",
      counter: "same",
      update: true,
      ...(c.holdZero ? {} : { starts: { Hold: "negotiated" } })
    }),
    28: idle("inc", { notify: "carried", down: true }),
    // Interpretation: §6.1 makes the Message Header Error code a MUST, so 21 keeps its own NOTIFICATION.
    21: idle("inc", { notify: "carried", down: true }),
    // "any other event (9, 12-13, 20-22)": FSM Error.
    9: idle("inc", { notify: FSM_ERROR, down: true }),
    12: idle("inc", { notify: FSM_ERROR, down: true }),
    20: idle("inc", { notify: FSM_ERROR, down: true }),
    22: idle("inc", { notify: FSM_ERROR, down: true })
  }
}

/** RFC 4271 event numbers (events 6, 7, 13 of DampPeerOscillations are not modelled). */
export const rfcNumber: Record<FsmEvent["_tag"], number> = {
  ManualStart: 1,
  ManualStop: 2,
  AutomaticStart: 3,
  ManualStartWithPassiveTcpEstablishment: 4,
  AutomaticStartWithPassiveTcpEstablishment: 5,
  AutomaticStop: 8,
  ConnectRetryTimerExpires: 9,
  HoldTimerExpires: 10,
  KeepaliveTimerExpires: 11,
  DelayOpenTimerExpires: 12,
  TcpConnectionValid: 14,
  TcpCrInvalid: 15,
  TcpCrAcked: 16,
  TcpConnectionConfirmed: 17,
  TcpConnectionFails: 18,
  BgpOpen: 19,
  BgpHeaderErr: 21,
  BgpOpenMsgErr: 22,
  OpenCollisionDump: 23,
  NotifMsgVerErr: 24,
  NotifMsg: 25,
  KeepAliveMsg: 26,
  UpdateMsg: 27,
  UpdateMsgErr: 28
}

/** §6.2 / §4.2 problems of an OPEN under a configuration, as (code 2) subcodes; empty when acceptable. */
const openProblems = (config: FsmConfig, open: { holdTime: number; asn: number; bgpId: number }): Array<number> => {
  const problems: Array<number> = []
  const p = config.peerAsn
  const asnOk = typeof p === "number" ? open.asn === p : p === "internal" ? open.asn === config.localAsn : open.asn !== config.localAsn
  if (!asnOk) problems.push(2) // Bad Peer AS
  if (open.bgpId === 0 || (open.bgpId === config.localBgpId && open.asn === config.localAsn)) problems.push(3)
  if (open.holdTime === 1 || open.holdTime === 2) problems.push(6) // Unacceptable Hold Time
  return problems
}

interface Classified {
  readonly number: number
  /** Acceptable notifications for "carried": the event's own, or the OPEN problems found. */
  readonly carried: ReadonlyArray<{ readonly code: number; readonly subcode: number }>
  /** The hold time a "negotiated" duration refers to. */
  readonly hold: number
  readonly keepalive: number
}

const modelKeepalive = (config: FsmConfig, hold: number): number => {
  if (hold === 0) return 0
  const third = Math.floor(hold / 3) < 1 ? 1 : Math.floor(hold / 3)
  if (config.keepaliveTime === undefined || config.keepaliveTime <= 0) return third
  return config.keepaliveTime < third ? config.keepaliveTime : third
}

/** Which RFC event a concrete event is in a state, and the values the row's symbolic fields refer to. */
export const classify = (s: FsmState, e: FsmEvent): Classified => {
  const delayRunning = s.running.DelayOpen
  if (e._tag === "BgpOpen") {
    const n = delayRunning ? 20 : 19
    const accepting = ((s.name === "Connect" || s.name === "Active") && n === 20) || (s.name === "OpenSent" && n === 19)
    if (accepting) {
      const problems = openProblems(s.config, e)
      if (problems.length > 0) {
        return {
          number: 22,
          carried: problems.map((subcode) => ({ code: 2, subcode })),
          hold: s.holdTime,
          keepalive: s.keepaliveTime
        }
      }
      const hold = e.holdTime < s.config.holdTime ? e.holdTime : s.config.holdTime
      return { number: n, carried: [], hold, keepalive: modelKeepalive(s.config, hold) }
    }
    return { number: n, carried: [], hold: s.holdTime, keepalive: s.keepaliveTime }
  }
  const carried = "notification" in e ? [e.notification] : []
  return { number: rfcNumber[e._tag], carried, hold: s.holdTime, keepalive: s.keepaliveTime }
}

export const expected = (s: FsmState, e: FsmEvent): { readonly row: Expect; readonly classified: Classified } => {
  const classified = classify(s, e)
  const row = table[s.name][classified.number]
  if (row === undefined) throw new Error(`no table row for ${s.name} / event ${classified.number}`)
  const cond: Cond = {
    delayOpen: s.config.delayOpen,
    delayOpenRunning: s.running.DelayOpen,
    sendNotificationWithoutOpen: s.config.sendNotificationWithoutOpen,
    collisionDetectEstablishedState: s.config.collisionDetectEstablishedState,
    allowAutomaticStart: s.config.allowAutomaticStart,
    allowAutomaticStop: s.config.allowAutomaticStop,
    passive: s.passiveTcpEstablishment,
    holdZero: classified.hold === 0
  }
  return { row: typeof row === "function" ? row(cond) : row, classified }
}

const has = (actions: ReadonlyArray<FsmAction>, tag: FsmAction["_tag"]): boolean => actions.some((a) => a._tag === tag)

/** Every difference between what `step` did and what the table says; empty when they agree. */
export const mismatches = (
  before: FsmState,
  event: FsmEvent,
  after: FsmState,
  actions: ReadonlyArray<FsmAction>
): Array<string> => {
  const { classified, row } = expected(before, event)
  const out: Array<string> = []
  const where = `${before.name} + ${event._tag} (event ${classified.number})`
  if (after.name !== row.next) out.push(`${where}: next ${after.name}, table ${row.next}`)
  const counter = row.counter === "zero"
    ? 0
    : row.counter === "inc"
    ? before.connectRetryCounter + 1
    : before.connectRetryCounter
  if (after.connectRetryCounter !== counter) {
    out.push(`${where}: ConnectRetryCounter ${after.connectRetryCounter}, table ${row.counter} → ${counter}`)
  }
  const sent = actions.filter((a): a is FsmAction & Notification & { _tag: "SendNotification" } =>
    a._tag === "SendNotification"
  )
  if (row.notify === undefined && sent.length > 0) out.push(`${where}: unexpected NOTIFICATION ${sent[0]?.code}`)
  if (row.notify !== undefined) {
    const n = sent[0]
    if (sent.length !== 1 || n === undefined) out.push(`${where}: ${sent.length} NOTIFICATIONs, table one`)
    else if (row.notify === "carried") {
      if (!classified.carried.some((c) => c.code === n.code && c.subcode === n.subcode)) {
        out.push(`${where}: NOTIFICATION ${n.code}/${n.subcode} is not the one the event carries`)
      }
    } else if (n.code !== row.notify) out.push(`${where}: NOTIFICATION code ${n.code}, table ${row.notify}`)
  }
  const flags: ReadonlyArray<readonly [keyof Expect, FsmAction["_tag"]]> = [
    ["open", "SendOpen"],
    ["keepalive", "SendKeepalive"],
    ["connect", "InitiateTcpConnection"],
    ["drop", "DropTcpConnection"],
    ["reject", "RejectTcpConnection"],
    ["established", "SessionEstablished"],
    ["down", "SessionDown"],
    ["update", "ProcessUpdate"],
    ["log", "LogFsmError"]
  ]
  for (const [field, tag] of flags) {
    const want = row[field] === true
    if (want !== has(actions, tag)) out.push(`${where}: ${tag} ${want ? "missing" : "unexpected"}`)
  }
  const starts = actions.filter((a) => a._tag === "StartTimer")
  const wantStarts = row.starts ?? {}
  const seconds = (timer: TimerName, d: Duration): number => {
    if (d === "large") return before.config.largeHoldTime
    if (d === "negotiated") return timer === "Keepalive" ? classified.keepalive : classified.hold
    return timer === "ConnectRetry" ? before.config.connectRetryTime : before.config.delayOpenTime
  }
  for (const [timer, d] of Object.entries(wantStarts) as Array<[TimerName, Duration]>) {
    const got = starts.find((a) => a.timer === timer)
    if (got === undefined) out.push(`${where}: StartTimer ${timer} missing`)
    else if (got.seconds !== seconds(timer, d)) {
      out.push(`${where}: StartTimer ${timer} ${got.seconds}s, table ${d} = ${seconds(timer, d)}s`)
    }
  }
  for (const a of starts) {
    if (!(a.timer in wantStarts)) out.push(`${where}: unexpected StartTimer ${a.timer}`)
  }
  return out
}
