/**
 * JSON log lines with MetalLB's keys, so operators' log queries keep working:
 * `{"caller":"...","event":"ipAllocated","ip":["192.0.2.1"],"level":"info","msg":"...","service":"default/web","ts":"..."}`.
 *
 * Log annotations (`Effect.annotateLogs({ service, ip, event, ... })`) become top-level keys. `caller` is the
 * innermost log span's name when there is one (MetalLB prints the Go source location; a span name such as
 * `"layer2.ArpResponder"` serves the same purpose), else the annotation `caller`, else the program name.
 * Levels are MetalLB's (`--log-level` all|debug|info|warn|error|none).
 *
 * @since 0.1.0
 */
import { Cause, Layer, Logger, LogLevel, References } from "effect"

/** MetalLB's `--log-level` values. */
export type MetallbLogLevel = "all" | "debug" | "info" | "warn" | "error" | "none"

export const logLevels: ReadonlyArray<MetallbLogLevel> = ["all", "debug", "info", "warn", "error", "none"]

const toEffectLevel = (level: MetallbLogLevel): LogLevel.LogLevel => {
  switch (level) {
    case "all":
      return "All"
    case "debug":
      return "Debug"
    case "info":
      return "Info"
    case "warn":
      return "Warn"
    case "error":
      return "Error"
    case "none":
      return "None"
  }
}

const levelName = (level: LogLevel.LogLevel): string => {
  switch (level) {
    case "Fatal":
    case "Error":
      return "error"
    case "Warn":
      return "warn"
    case "Info":
      return "info"
    default:
      return "debug"
  }
}

const toJsonValue = (value: unknown): unknown => {
  if (typeof value === "bigint") return value.toString()
  if (value instanceof Error) return value.message
  return value
}

/** Renders one log entry as MetalLB-keyed JSON (a pure function of the logger options, for tests too). */
export const formatMetallb = (program: string) =>
  Logger.make<unknown, string>(({ cause, date, fiber, logLevel, message }) => {
    const entry: Record<string, unknown> = {}
    const annotations = fiber.getRef(References.CurrentLogAnnotations)
    const spans = fiber.getRef(References.CurrentLogSpans)
    const innermostSpan = spans.length > 0 ? spans[0]?.[0] : undefined
    entry.caller = innermostSpan ?? annotations.caller ?? program
    for (const [key, value] of Object.entries(annotations)) {
      if (key !== "caller") entry[key] = toJsonValue(value)
    }
    entry.level = levelName(logLevel)
    const parts = Array.isArray(message) ? message : [message]
    entry.msg = parts.map((p) => (typeof p === "string" ? p : JSON.stringify(toJsonValue(p)))).join(" ")
    if (cause.reasons.length > 0) entry.error = Cause.pretty(cause)
    entry.ts = date.toISOString()
    return JSON.stringify(entry, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value))
  })

/** A layer that writes MetalLB-keyed JSON lines to stdout at the given `--log-level`. */
export const layer = (program: string, level: MetallbLogLevel = "info"): Layer.Layer<never> =>
  Layer.mergeAll(
    Logger.layer([Logger.withConsoleLog(formatMetallb(program))]),
    Layer.succeed(References.MinimumLogLevel, toEffectLevel(level))
  )
