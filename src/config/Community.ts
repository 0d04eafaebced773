/**
 * BGP community values as MetalLB writes them: `A:B` (standard, RFC 1997: two 16-bit decimals) and
 * `large:A:B:C` (large, RFC 8092: three 32-bit decimals). Parsing keeps MetalLB's distinction between an invalid
 * *value* (always an error) and an unrecognised *format* (might be the name of a Community alias).
 *
 * @since 0.1.0
 */
import { Result } from "effect"

export interface Standard {
  readonly _tag: "Standard"
  /** `(A << 16) | B` as sent on the wire. */
  readonly value: number
}

export interface Large {
  readonly _tag: "Large"
  readonly globalAdministrator: number
  readonly localData1: number
  readonly localData2: number
}

export type Community = Standard | Large

export interface ParseError {
  /** `value`: looks like a community but is invalid; `format`: not a community at all (maybe an alias name). */
  readonly kind: "value" | "format"
  readonly message: string
}

const decimal = /^[0-9]+$/

const section = (text: string, max: number, whole: string): Result.Result<number, ParseError> => {
  if (!decimal.test(text) || Number(text) > max) {
    return Result.fail({
      kind: "value",
      message: `invalid community value: invalid section ${JSON.stringify(text)} of community ${JSON.stringify(whole)}`
    })
  }
  return Result.succeed(Number(text))
}

export const parse = (text: string): Result.Result<Community, ParseError> => {
  const fields = text.split(":")
  if (fields.length === 2) {
    return Result.gen(function*() {
      const upper = yield* section(fields[0] ?? "", 0xffff, text)
      const lower = yield* section(fields[1] ?? "", 0xffff, text)
      return { _tag: "Standard", value: upper * 0x10000 + lower } as const
    })
  }
  if (fields.length === 4) {
    if (fields[0] !== "large") {
      return Result.fail({
        kind: "value",
        message: `invalid community value: invalid marker for large community, expected community to be of format large:<uint32>:<uint32>:<uint32> but got ${JSON.stringify(text)} instead`
      })
    }
    return Result.gen(function*() {
      const globalAdministrator = yield* section(fields[1] ?? "", 0xffffffff, text)
      const localData1 = yield* section(fields[2] ?? "", 0xffffffff, text)
      const localData2 = yield* section(fields[3] ?? "", 0xffffffff, text)
      return { _tag: "Large", globalAdministrator, localData1, localData2 } as const
    })
  }
  return Result.fail({ kind: "format", message: `invalid community format: ${text}` })
}

export const format = (c: Community): string =>
  c._tag === "Standard"
    ? `${Math.floor(c.value / 0x10000)}:${c.value % 0x10000}`
    : `large:${c.globalAdministrator}:${c.localData1}:${c.localData2}`

/** MetalLB's order: a standard community compares as the large community `<value>:0:0`. */
export const compare = (a: Community, b: Community): number => {
  const key = (c: Community): [number, number, number] =>
    c._tag === "Standard" ? [c.value, 0, 0] : [c.globalAdministrator, c.localData1, c.localData2]
  const [a0, a1, a2] = key(a)
  const [b0, b1, b2] = key(b)
  return a0 - b0 || a1 - b1 || a2 - b2 || (a._tag === b._tag ? 0 : a._tag === "Standard" ? -1 : 1)
}

export const equals = (a: Community, b: Community): boolean => compare(a, b) === 0
