/**
 * Go `time.Duration` strings as Kubernetes' `metav1.Duration` carries them (`90s`, `1m30s`, `1.5h`, `300ms`):
 * parsing to exact nanoseconds and Go's canonical formatting. The BGPPeer timers use this syntax.
 *
 * @since 0.1.0
 */
import { Result, Schema } from "effect"

export const nanosPerMilli = 1_000_000n
export const nanosPerSecond = 1_000_000_000n

const unitNanos: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  "µs": 1_000n, // U+00B5 micro sign
  "μs": 1_000n, // U+03BC Greek mu
  ms: nanosPerMilli,
  s: nanosPerSecond,
  m: 60n * nanosPerSecond,
  h: 3600n * nanosPerSecond
}

/** Go's limit: a Duration is an int64 count of nanoseconds. */
const maxNanos = (1n << 63n) - 1n

const component = /^([0-9]*)(?:\.([0-9]*))?(ns|us|µs|μs|ms|s|m|h)/

/** Parses like Go's `time.ParseDuration`: an optional sign, then one or more `<decimal><unit>` components. */
export const parse = (text: string): Result.Result<bigint, string> => {
  const invalid = Result.fail(`invalid duration ${JSON.stringify(text)}`)
  let rest = text
  let negative = false
  if (rest.startsWith("-") || rest.startsWith("+")) {
    negative = rest.startsWith("-")
    rest = rest.slice(1)
  }
  if (rest === "0") return Result.succeed(0n)
  if (rest === "") return invalid
  let total = 0n
  while (rest !== "") {
    const m = component.exec(rest)
    if (m === null) return invalid
    const whole = m[1] ?? ""
    const fraction = m[2] ?? ""
    const unit = unitNanos[m[3] ?? ""]
    // Go requires at least one digit on either side of the dot.
    if (unit === undefined || (whole === "" && fraction === "")) return invalid
    const scale = 10n ** BigInt(fraction.length)
    const wholePart = BigInt(whole === "" ? "0" : whole) * unit
    const fractionPart = fraction === "" ? 0n : (BigInt(fraction) * unit) / scale
    total += wholePart + fractionPart
    if (total > maxNanos + (negative ? 1n : 0n)) return invalid
    rest = rest.slice(m[0].length)
  }
  return Result.succeed(negative ? -total : total)
}

const trimFraction = (digits: string): string => digits.replace(/0+$/, "")

/** Go's `Duration.String()`: `1h0m0s`, `1m30s`, `1.5s`, `300ms`, `0s`. */
export const format = (nanos: bigint): string => {
  if (nanos === 0n) return "0s"
  const sign = nanos < 0n ? "-" : ""
  const abs = nanos < 0n ? -nanos : nanos
  if (abs < nanosPerSecond) {
    const [unit, size] = abs < 1_000n ? ["ns", 1n] : abs < nanosPerMilli ? ["µs", 1_000n] : ["ms", nanosPerMilli]
    const frac = trimFraction((abs % size).toString().padStart(size.toString().length - 1, "0"))
    return `${sign}${abs / size}${frac === "" ? "" : `.${frac}`}${unit}`
  }
  const hours = abs / (3600n * nanosPerSecond)
  const minutes = (abs / (60n * nanosPerSecond)) % 60n
  const secondsWhole = (abs / nanosPerSecond) % 60n
  const frac = trimFraction((abs % nanosPerSecond).toString().padStart(9, "0"))
  const seconds = `${secondsWhole}${frac === "" ? "" : `.${frac}`}s`
  if (hours > 0n) return `${sign}${hours}h${minutes}m${seconds}`
  if (minutes > 0n) return `${sign}${minutes}m${seconds}`
  return `${sign}${seconds}`
}

/** Whole seconds, truncated toward zero (Go's `int(d.Seconds())`). */
export const toWholeSeconds = (nanos: bigint): number => Number(nanos / nanosPerSecond)

/** Milliseconds, truncated toward zero. */
export const toMillis = (nanos: bigint): number => Number(nanos / nanosPerMilli)

/** A duration field of a CRD: the Go string form, checked to parse. */
export const GoDuration = Schema.String.check(
  Schema.makeFilter((s: string) => Result.isSuccess(parse(s)) || `invalid duration ${JSON.stringify(s)}`, {
    expected: "a Go duration such as 90s, 1m30s or 1h",
    toJsonSchema: () => [{}, true]
  })
)
