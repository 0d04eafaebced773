import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import * as Config from "../../src/config/Config.ts"
import { type ConfigInput, parseConfig } from "../../src/config/Parse.ts"
import * as Resources from "../../src/config/Resources.ts"
import { validConfig } from "./arbitraries.ts"

const kinds = ["ipAddressPools", "l2Advertisements", "bgpAdvertisements", "bgpPeers", "bfdProfiles", "communities"] as const

const objectsOf = (input: ConfigInput): ReadonlyArray<unknown> => kinds.flatMap((k) => input[k] ?? [])

const describeErrors = (input: ConfigInput): string => {
  const r = parseConfig(input)
  return Result.isFailure(r) ? r.failure.errors.map((e) => e.message).join("\n") : "valid"
}

type Json = null | boolean | number | string | Array<Json> | { [key: string]: Json }

/** Every path (to an object key or array element) inside a JSON value. */
const paths = (value: Json, prefix: Array<string | number> = []): Array<Array<string | number>> => {
  if (Array.isArray(value)) return value.flatMap((v, i) => [[...prefix, i], ...paths(v, [...prefix, i])])
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => [[...prefix, k], ...paths(v, [...prefix, k])])
  }
  return []
}

/** A copy of `value` with the node at `path` replaced (or removed when `replacement` is undefined). */
const mutate = (value: Json, path: ReadonlyArray<string | number>, replacement: Json | undefined): Json => {
  const [head, ...rest] = path
  if (head === undefined) return replacement ?? null
  if (Array.isArray(value) && typeof head === "number") {
    const copy = [...value]
    if (rest.length === 0 && replacement === undefined) copy.splice(head, 1)
    else copy[head] = mutate(copy[head] ?? null, rest, replacement)
    return copy
  }
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const copy = { ...value }
    if (rest.length === 0 && replacement === undefined) delete copy[String(head)]
    else copy[String(head)] = mutate(copy[String(head)] ?? null, rest, replacement)
    return copy
  }
  return value
}

const replacement: fc.Arbitrary<Json | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -5, max: 300 }),
  fc.constantFrom(0, -1, 4294967296, 1.5, 129, 33),
  fc.string({ maxLength: 6 }),
  fc.constantFrom("", "x", "1.2.3.4", "10.0.0.0/8", "2001:db8::/32", "1s", "99999999:1", "In", "Exists", "metallb-system", "other", "pool0", "peer0"),
  fc.constant<Json>([]),
  fc.constant<Json>({}),
  fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>
)

describe("config properties", () => {
  it("generated valid configurations parse, to the same Config whatever the list order", () => {
    fc.assert(fc.property(validConfig, (input) => {
      const result = parseConfig(input)
      assert.isTrue(Result.isSuccess(result), describeErrors(input))
      const reversed = Object.fromEntries(
        Object.entries(input).map(([k, list]) => [k, (list as ReadonlyArray<unknown>).toReversed()])
      )
      const again = parseConfig(reversed)
      assert.isTrue(Result.isSuccess(result) && Result.isSuccess(again) && Config.equals(result.success.config, again.success.config))
    }), { numRuns: 150 })
  })

  it("every object survives decode → encode → decode unchanged, and so does the parsed Config", () => {
    fc.assert(fc.property(validConfig, (input) => {
      const encoded: Record<string, Array<unknown>> = {}
      for (const kind of kinds) {
        encoded[kind] = (input[kind] ?? []).map((obj) => {
          const decoded = Resources.decodeAny(obj)
          assert.isTrue(Result.isSuccess(decoded), JSON.stringify(obj))
          if (Result.isFailure(decoded)) return obj
          assert.deepStrictEqual(decoded.success, obj)
          const wire = Resources.encodeAny(decoded.success)
          assert.isTrue(Result.isSuccess(wire))
          if (Result.isFailure(wire)) return obj
          const again = Resources.decodeAny(JSON.parse(JSON.stringify(wire.success)))
          assert.isTrue(Result.isSuccess(again) && Config.canonical(again.success) === Config.canonical(decoded.success))
          return wire.success
        })
      }
      const first = parseConfig(input)
      const second = parseConfig({ ...input, ...encoded })
      assert.isTrue(Result.isSuccess(first) && Result.isSuccess(second))
      if (Result.isSuccess(first) && Result.isSuccess(second)) {
        assert.isTrue(Config.equals(first.success.config, second.success.config))
        assert.strictEqual(Config.hash(first.success.config), Config.hash(second.success.config))
      }
    }), { numRuns: 100 })
  })

  it("a random mutation is either valid or rejected with located errors, never an exception", () => {
    const known = new Set(["IPAddressPool", "L2Advertisement", "BGPAdvertisement", "BGPPeer", "BFDProfile", "Community"])
    fc.assert(fc.property(validConfig, fc.nat(), fc.nat(), replacement, (input, which, where, value) => {
      const objects = objectsOf(input)
      const target = objects[which % objects.length] as Json
      const candidates = paths(target)
      const path = candidates[where % candidates.length] ?? []
      const mutated = mutate(target, path, value)
      const mutatedInput: ConfigInput = Object.fromEntries(
        Object.entries(input).map(([k, list]) => [k, (list as ReadonlyArray<unknown>).map((o) => (o === target ? mutated : o))])
      )
      const result = parseConfig(mutatedInput)
      if (Result.isSuccess(result)) return
      assert.isAbove(result.failure.errors.length, 0)
      for (const e of result.failure.errors) {
        assert.isTrue(known.has(e.kind), e.message)
        assert.isTrue(e.name.length > 0, e.message)
        assert.isArray(e.path)
        assert.isTrue(e.reason.length > 0, e.message)
      }
    }), { numRuns: 500 })
  })
})
