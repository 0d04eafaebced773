import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import * as Duration from "../../src/config/Duration.ts"

const s = Duration.nanosPerSecond

describe("Duration", () => {
  it.each([
    ["90s", 90n * s],
    ["1m30s", 90n * s],
    ["1h", 3600n * s],
    ["1.5h", 5400n * s],
    ["300ms", 300_000_000n],
    ["1us", 1000n],
    ["1µs", 1000n],
    ["2ns", 2n],
    ["0", 0n],
    ["-1s", -s],
    ["+10s", 10n * s],
    [".5s", 500_000_000n],
    ["1.s", s],
    ["1h2m3s4ms", 3723n * s + 4_000_000n]
  ] as const)("parses %s", (text, nanos) => {
    const parsed = Duration.parse(text)
    assert.isTrue(Result.isSuccess(parsed) && parsed.success === nanos, text)
  })

  it.each(["", "90", "1x", "s", ".s", "1s2", "--1s", "1 s", "9223372036854775808ns"])("rejects %j", (text) => {
    assert.isTrue(Result.isFailure(Duration.parse(text)))
  })

  it.each([
    [0n, "0s"],
    [90n * s, "1m30s"],
    [3600n * s, "1h0m0s"],
    [1_500_000_000n, "1.5s"],
    [300_000_000n, "300ms"],
    [1500n, "1.5µs"],
    [-s, "-1s"]
  ] as const)("formats %s as Go does", (nanos, text) => {
    assert.strictEqual(Duration.format(nanos), text)
  })

  it("parses what it formats", () => {
    fc.assert(fc.property(fc.bigInt({ min: -(1n << 62n), max: 1n << 62n }), (nanos) => {
      const back = Duration.parse(Duration.format(nanos))
      assert.isTrue(Result.isSuccess(back) && back.success === nanos, Duration.format(nanos))
    }), { numRuns: 2000 })
  })

  it("truncates to whole seconds toward zero", () => {
    assert.strictEqual(Duration.toWholeSeconds(2_999_999_999n), 2)
    assert.strictEqual(Duration.toMillis(1_999_999n), 1)
  })
})
