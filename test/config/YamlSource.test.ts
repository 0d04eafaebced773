import { assert, describe, it } from "@effect/vitest"
import { parseSource } from "../../src/config/YamlSource.ts"

describe("YamlSource", () => {
  it("splits documents, skips empty ones and locates fields (key position when the path ends at a key)", () => {
    const { documents, errors } = parseSource("f.yaml", "# comment\n---\na: 1\nb:\n  c: [x, y]\n---\n---\nd: 2\n")
    assert.deepStrictEqual(errors, [])
    assert.deepStrictEqual(documents.map((d) => [d.document, d.value]), [[1, { a: 1, b: { c: ["x", "y"] } }], [3, { d: 2 }]])
    assert.deepStrictEqual(documents[0]?.locate(["b", "c", 1]), { line: 5, column: 10 })
    assert.deepStrictEqual(documents[0]?.locate(["b"]), { line: 4, column: 1 })
    // A missing field points at its nearest ancestor.
    assert.deepStrictEqual(documents[0]?.locate(["b", "nope", 3]), { line: 4, column: 1 })
  })

  it("opens a kind: List (JSON too) into its items, each locating its own fields", () => {
    const json = '{"kind":"List","items":[\n{"kind":"A","x":1},\n{"kind":"B","y":{"z":2}}]}'
    const { documents } = parseSource("l.json", json)
    assert.deepStrictEqual(documents.map((d) => d.value), [{ kind: "A", x: 1 }, { kind: "B", y: { z: 2 } }])
    assert.deepStrictEqual(documents[1]?.locate(["y", "z"]), { line: 3, column: 18 })
  })

  it("maps a block literal back to the file: header line and indentation", () => {
    const text = "data:\n  config: |\n    peers:\n    - x\n"
    const { documents } = parseSource("c.yaml", text)
    assert.deepStrictEqual(documents[0]?.embeddedOrigin(["data", "config"]), { line: 2, column: 4 })
    // A quoted string cannot be mapped line for line.
    assert.isUndefined(parseSource("c.yaml", 'data:\n  config: "peers: []"\n').documents[0]?.embeddedOrigin(["data", "config"]))
  })

  it("reports syntax errors and unresolvable aliases with positions instead of throwing", () => {
    assert.deepStrictEqual(parseSource("e.yaml", "a: [\n").errors.map((e) => e.file), ["e.yaml"])
    const alias = parseSource("e.yaml", "a: *nope\n")
    assert.lengthOf(alias.errors, 1)
    assert.isDefined(alias.errors[0]?.position)
    assert.deepStrictEqual(alias.documents, [])
  })
})
