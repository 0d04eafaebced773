/**
 * Go's `time.ParseDuration` and `Duration.String` for whole seconds: the legacy ConfigMap spells timers as Go
 * durations (`hold-time: 120s`) and configmaptocrs writes them back the same way (`holdTime: 1m30s`).
 *
 * @since 0.1.0
 */
import { Result } from "effect"

const unitNanos: Record<string, number> = {
  ns: 1,
  us: 1e3,
  "µs": 1e3,
  "μs": 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9
}

/** Parses a Go duration (`1h2m3.5s`, `-90s`, `0`) into nanoseconds; Go's error wording on failure. */
export const parse = (text: string): Result.Result<number, string> => {
  const quoted = JSON.stringify(text)
  let rest = text
  let sign = 1
  if (rest.startsWith("-") || rest.startsWith("+")) {
    if (rest.startsWith("-")) sign = -1
    rest = rest.slice(1)
  }
  if (rest === "0") return Result.succeed(0)
  if (rest === "") return Result.fail(`time: invalid duration ${quoted}`)
  let total = 0
  const part = /^([0-9]*)(\.[0-9]*)?([^0-9.]*)/
  while (rest !== "") {
    const m = part.exec(rest)
    const whole = m?.[1] ?? ""
    const frac = m?.[2] ?? ""
    const unit = m?.[3] ?? ""
    if (m === null || (whole === "" && frac.length <= 1)) return Result.fail(`time: invalid duration ${quoted}`)
    if (unit === "") return Result.fail(`time: missing unit in duration ${quoted}`)
    const scale = unitNanos[unit]
    if (scale === undefined) return Result.fail(`time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}`)
    total += Number(`${whole === "" ? "0" : whole}${frac === "." ? "" : frac}`) * scale
    rest = rest.slice(m[0].length)
  }
  // Go's Duration is an int64 of nanoseconds.
  if (total > 2 ** 63 - 1) return Result.fail(`time: invalid duration ${quoted}`)
  return Result.succeed(sign * total)
}

/** `int(d.Seconds())`: truncation toward zero, as MetalLB rounds timers. */
export const wholeSeconds = (nanos: number): number => Math.trunc(nanos / 1e9)

/** Go's `Duration.String()` for a whole number of seconds: `0s`, `30s`, `1m30s`, `2m0s`, `1h0m0s`. */
export const formatSeconds = (seconds: number): string => {
  if (seconds === 0) return "0s"
  const sign = seconds < 0 ? "-" : ""
  const abs = Math.abs(seconds)
  const h = Math.floor(abs / 3600)
  const m = Math.floor((abs % 3600) / 60)
  const s = abs % 60
  if (h > 0) return `${sign}${h}h${m}m${s}s`
  if (m > 0) return `${sign}${m}m${s}s`
  return `${sign}${s}s`
}
