import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { Interner, Rows } from "../../src/allocator/Table.ts"

describe("Rows", () => {
  it("keeps every live row's columns apart, reuses freed rows and grows past its first capacity", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("alloc" as const), value: fc.integer({ min: -5, max: 1000 }) }),
      fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant("set" as const), pick: fc.nat(), column: fc.nat({ max: 2 }), value: fc.integer() })
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const rows = new Rows(3, 2)
        const model = new Map<number, Array<number>>()
        let highest = -1
        let peak = 0
        for (const o of ops) {
          const live = [...model.keys()]
          if (o.kind === "alloc") {
            const row = rows.alloc(o.value)
            assert.isFalse(model.has(row), `row ${row} handed out twice`)
            // A fresh row comes from the free list before the table extends.
            if (row > highest) assert.strictEqual(row, highest + 1)
            highest = Math.max(highest, row)
            model.set(row, [o.value, o.value, o.value])
            peak = Math.max(peak, model.size)
          } else if (live.length > 0) {
            const row = live[o.pick % live.length] ?? 0
            if (o.kind === "free") {
              rows.free(row)
              model.delete(row)
            } else {
              rows.set(row, o.column, o.value | 0)
              const columns = model.get(row)
              if (columns !== undefined) columns[o.column] = o.value | 0
            }
          }
          assert.strictEqual(rows.size, model.size)
          for (const [row, columns] of model) columns.forEach((v, c) => assert.strictEqual(rows.get(row, c), v))
        }
        // Freed rows are reused first: the table never extends beyond the most rows live at once.
        assert.strictEqual(highest + 1, peak)
      })
    )
  })

  it("starts over after clear", () => {
    const rows = new Rows(2)
    for (let i = 0; i < 100; i++) rows.alloc(i)
    rows.free(5)
    rows.clear()
    assert.strictEqual(rows.size, 0)
    assert.strictEqual(rows.alloc(7), 0)
    assert.strictEqual(rows.get(0, 1), 7)
  })
})

describe("Interner", () => {
  it("holds a value exactly while some acquire is not released, and gives equal keys one id", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("acquire" as const), name: fc.constantFrom("", "a", "b", "c", "d") }),
      fc.record({ kind: fc.constant("release" as const), pick: fc.nat() })
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const interner = new Interner<string, { readonly name: string }>("", { name: "" })
        const held: Array<readonly [string, number]> = []
        let made = 0
        for (const o of ops) {
          if (o.kind === "acquire") {
            const id = interner.acquire(o.name, (name) => {
              made++
              return { name }
            })
            const same = held.find(([name]) => name === o.name)
            if (same !== undefined) assert.strictEqual(id, same[1])
            if (o.name === "") assert.strictEqual(id, 0)
            held.push([o.name, id])
          } else if (held.length > 0) {
            const [[, id] = ["", 0]] = held.splice(o.pick % held.length, 1)
            interner.release(id)
          }
          const names = new Set(held.map(([name]) => name).filter((n) => n !== ""))
          assert.strictEqual(interner.size, names.size)
          for (const [name, id] of held) {
            assert.strictEqual(interner.key(id), name)
            assert.strictEqual(interner.value(id).name, name)
          }
        }
        // A value is made once per stretch of being held, never for the empty key.
        assert.isAtMost(made, ops.filter((o) => o.kind === "acquire" && o.name !== "").length)
      })
    )
  })
})
