import { assert, describe, it } from "@effect/vitest"
import { humanDuration, jsonPath } from "../../../src/testing/apiserver/Table.ts"

describe("humanDuration", () => {
  it("follows Kubernetes' buckets", () => {
    const s = 1000
    const cases: ReadonlyArray<[number, string]> = [
      [-500, "0s"],
      [-5 * s, "<invalid>"],
      [5 * s, "5s"],
      [119 * s, "119s"],
      [303 * s, "5m3s"],
      [120 * s, "2m"],
      [179 * 60 * s, "179m"],
      [(3 * 60 + 5) * 60 * s, "3h5m"],
      [3 * 3600 * s, "3h"],
      [8 * 3600 * s, "8h"],
      [51 * 3600 * s, "2d3h"],
      [48 * 3600 * s, "2d"],
      [8 * 86400 * s, "8d"],
      [694 * 86400 * s, "694d"],
      [731 * 86400 * s, "2y1d"],
      [9 * 365 * 86400 * s, "9y"]
    ]
    for (const [ms, text] of cases) assert.strictEqual(humanDuration(ms), text, String(ms))
  })
})

describe("jsonPath", () => {
  const o = { spec: { addresses: ["192.0.2.0/24"], peers: [{ ip: "a" }, { ip: "b" }], "x.y": 1 } }
  it("evaluates the forms printer columns use", () => {
    assert.deepStrictEqual(jsonPath(o, ".spec.addresses"), [["192.0.2.0/24"]])
    assert.deepStrictEqual(jsonPath(o, ".spec.addresses[0]"), ["192.0.2.0/24"])
    assert.deepStrictEqual(jsonPath(o, ".spec.peers[*].ip"), ["a", "b"])
    assert.deepStrictEqual(jsonPath(o, ".spec['x.y']"), [1])
    assert.deepStrictEqual(jsonPath(o, "{.spec.peers[1].ip}"), ["b"])
    assert.deepStrictEqual(jsonPath(o, ".spec.missing"), [])
  })
})
