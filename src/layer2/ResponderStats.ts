/**
 * Counting and logging for the responders' hot path. A responder answers inside the receive callback, where running
 * an Effect per frame would cost more than the answer itself, so counts go into plain maps and a background fiber
 * moves them into MetalLB's metrics (`metallb_layer2_requests_received`, `..._responses_sent`,
 * `..._gratuitous_sent`, per `ip`) every second. Log lines from the hot path are rate-limited per key.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Result, Schedule, type Scope } from "effect"
import * as Metrics from "../observability/Metrics.ts"

type Counter = "requests" | "responses" | "gratuitous" | "malformed"

/** One request for an owned IP and the outcome of sending its answer. */
export interface Answered {
  readonly protocol: "ARP" | "NDP"
  readonly iface: string
  readonly ip: string
  readonly senderIP: string
  readonly senderMAC: string
  readonly responseMAC: string
  readonly sent: Result.Result<unknown, { readonly message: string }>
}

const answeredMessage = {
  ARP: "got ARP request for service IP, sending response",
  NDP: "got NDP neighbor solicitation for service IP, sending response"
} as const

/** The responders' counters and rate-limited logs, flushed into MetalLB's `metallb_layer2_*` metrics every second. */
export class ResponderStats extends Context.Service<ResponderStats, {
  /** Counts one event for `ip` (synchronous, for the receive callback). */
  readonly count: (counter: Counter, ip: string, n?: number) => void
  /** Runs `log` unless a line with the same key ran within the last `everyMillis` (synchronous). */
  readonly logLimited: (key: string, log: Effect.Effect<void>, everyMillis?: number) => void
  /** Counts a request for an owned IP and its answer, and logs it (rate-limited per sender), as MetalLB does. */
  readonly answered: (a: Answered) => void
  /** Moves pending counts into the metrics now (tests; the layer does it every second). */
  readonly flush: Effect.Effect<void>
  /** Totals since start, per counter and IP (tests and the benchmark read them). */
  readonly totals: (counter: Counter) => ReadonlyMap<string, number>
}>()("metallb/layer2/ResponderStats") {
  static readonly layer: Layer.Layer<ResponderStats> = Layer.effect(ResponderStats, Effect.suspend(() => make))
}

const metricOf = {
  requests: Metrics.layer2RequestsReceived,
  responses: Metrics.layer2ResponsesSent,
  gratuitous: Metrics.layer2GratuitousSent,
  malformed: Metrics.layer2MalformedDropped
} as const

const make: Effect.Effect<ResponderStats["Service"], never, Scope.Scope> = Effect.gen(function*() {
  const context = yield* Effect.context<never>()
  const pending = new Map<Counter, Map<string, number>>()
  const totals = new Map<Counter, Map<string, number>>()
  const lastLog = new Map<string, number>()
  const bump = (maps: Map<Counter, Map<string, number>>, counter: Counter, ip: string, n: number) => {
    let m = maps.get(counter)
    if (m === undefined) {
      m = new Map()
      maps.set(counter, m)
    }
    m.set(ip, (m.get(ip) ?? 0) + n)
  }
  const flush = Effect.suspend(() => {
    const batch = [...pending.entries()]
    pending.clear()
    return Effect.forEach(batch, ([counter, byIp]) =>
      Effect.forEach(byIp, ([ip, n]) =>
        Metrics.update(metricOf[counter], counter === "malformed" ? { interface: ip } : { ip }, n)), { discard: true })
  })
  yield* flush.pipe(Effect.repeat(Schedule.spaced("1 second")), Effect.forkScoped)
  yield* Effect.addFinalizer(() => flush)
  const count = (counter: Counter, ip: string, n = 1) => {
    bump(pending, counter, ip, n)
    bump(totals, counter, ip, n)
  }
  const logLimited = (key: string, log: Effect.Effect<void>, everyMillis = 10_000) => {
    const now = Date.now()
    const last = lastLog.get(key)
    if (last !== undefined && now - last < everyMillis) return
    lastLog.set(key, now)
    if (lastLog.size > 10_000) lastLog.clear()
    Effect.runForkWith(context)(log)
  }
  return ResponderStats.of({
    count,
    logLimited,
    answered: (a) => {
      count("requests", a.ip)
      if (Result.isSuccess(a.sent)) count("responses", a.ip)
      logLimited(
        `${a.protocol}:${a.iface}:${a.ip}:${a.senderIP}`,
        Effect.logDebug(answeredMessage[a.protocol]).pipe(
          Effect.annotateLogs({
            interface: a.iface,
            ip: a.ip,
            senderIP: a.senderIP,
            senderMAC: a.senderMAC,
            responseMAC: a.responseMAC,
            ...(Result.isFailure(a.sent) ? { error: a.sent.failure.message } : {})
          })
        )
      )
    },
    flush,
    totals: (counter) => new Map(totals.get(counter) ?? [])
  })
})
