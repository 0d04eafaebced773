import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import type { Json } from "../../../src/testing/apiserver/Json.ts"
import { applyPatch, jsonPatch, mergePatch, strategicMerge } from "../../../src/testing/apiserver/Patch.ts"

describe("JSON merge patch (RFC 7386)", () => {
  it("passes the RFC's examples", () => {
    const cases: ReadonlyArray<[Json, Json, Json]> = [
      [{ a: "b" }, { a: "c" }, { a: "c" }],
      [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
      [{ a: "b" }, { a: null }, {}],
      [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
      [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
      [["a", "b"], ["c", "d"], ["c", "d"]],
      [{ a: "foo" }, "bar", "bar"],
      [{ e: null }, { a: 1 }, { e: null, a: 1 }],
      [[1, 2], { a: "b", c: null }, { a: "b" }]
    ]
    for (const [target, patch, expected] of cases) assert.deepStrictEqual(mergePatch(target, patch), expected)
  })

  it("is idempotent (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (t, p) => {
        const once = mergePatch(t as Json, p as Json)
        assert.deepStrictEqual(mergePatch(once, p as Json), once)
      })
    )
  })
})

describe("JSON patch (RFC 6902)", () => {
  const doc: Json = { metadata: { labels: { a: "1" } }, items: [1, 2, 3] }
  it("applies add, remove, replace, move, copy and test", () => {
    const r = jsonPatch(doc, [
      { op: "add", path: "/metadata/labels/b~1c", value: "2" },
      { op: "remove", path: "/metadata/labels/a" },
      { op: "replace", path: "/items/0", value: 9 },
      { op: "add", path: "/items/-", value: 4 },
      { op: "copy", from: "/items/0", path: "/first" },
      { op: "move", from: "/first", path: "/moved" },
      { op: "test", path: "/moved", value: 9 }
    ])
    assert.deepStrictEqual(r, Result.succeed({ metadata: { labels: { "b/c": "2" } }, items: [9, 2, 3, 4], moved: 9 }))
    assert.deepStrictEqual(doc, { metadata: { labels: { a: "1" } }, items: [1, 2, 3] }, "input untouched")
  })

  it("fails on a missing path or a failing test", () => {
    assert.isTrue(Result.isFailure(jsonPatch(doc, [{ op: "remove", path: "/nope" }])))
    assert.isTrue(Result.isFailure(jsonPatch(doc, [{ op: "test", path: "/items/0", value: 2 }])))
    assert.isTrue(Result.isFailure(jsonPatch(doc, { op: "add" })))
  })
})

describe("strategic merge patch", () => {
  it("handles the Service port change kubectl sends", () => {
    const live: Json = { spec: { ports: [{ name: "http", port: 80, protocol: "TCP", targetPort: 80, nodePort: 30000 }], type: "LoadBalancer" } }
    const patch: Json = {
      spec: {
        "$setElementOrder/ports": [{ port: 8080 }],
        ports: [{ name: "http", port: 8080, protocol: "TCP", targetPort: 8080 }, { $patch: "delete", port: 80 }]
      }
    }
    assert.deepStrictEqual(strategicMerge(live, patch), {
      spec: { ports: [{ name: "http", port: 8080, protocol: "TCP", targetPort: 8080 }], type: "LoadBalancer" }
    })
  })

  it("handles the Deployment patch kubectl sends ($retainKeys, nested merge keys, null)", () => {
    const live: Json = {
      metadata: { labels: { a: "1", b: "2" } },
      spec: {
        strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%" } },
        template: {
          spec: {
            containers: [
              { name: "c", image: "x", env: [{ name: "A", value: "1" }, { name: "B", value: "2" }] },
              { name: "d", image: "y" }
            ]
          }
        }
      }
    }
    const patch: Json = {
      metadata: { labels: { b: null } },
      spec: {
        strategy: { $retainKeys: ["type"], rollingUpdate: null, type: "Recreate" },
        template: {
          spec: {
            "$setElementOrder/containers": [{ name: "c" }],
            containers: [{ "$setElementOrder/env": [{ name: "A" }], env: [{ $patch: "delete", name: "B" }], name: "c" }, { $patch: "delete", name: "d" }]
          }
        }
      }
    }
    assert.deepStrictEqual(strategicMerge(live, patch), {
      metadata: { labels: { a: "1" } },
      spec: { strategy: { type: "Recreate" }, template: { spec: { containers: [{ name: "c", image: "x", env: [{ name: "A", value: "1" }] }] } } }
    })
  })

  it("replaces lists without a merge key, merges finalizers, honours $patch replace and $deleteFromPrimitiveList", () => {
    assert.deepStrictEqual(strategicMerge({ rules: [{ verbs: ["get"] }] }, { rules: [{ verbs: ["list"] }] }), { rules: [{ verbs: ["list"] }] })
    assert.deepStrictEqual(strategicMerge({ metadata: { finalizers: ["a"] } }, { metadata: { finalizers: ["b", "a"] } }), {
      metadata: { finalizers: ["a", "b"] }
    })
    assert.deepStrictEqual(strategicMerge({ data: { a: "1", b: "2" } }, { data: { $patch: "replace", c: "3" } }), { data: { c: "3" } })
    assert.deepStrictEqual(
      strategicMerge({ metadata: { finalizers: ["a", "b"] } }, { metadata: { "$deleteFromPrimitiveList/finalizers": ["a"] } }),
      { metadata: { finalizers: ["b"] } }
    )
    assert.deepStrictEqual(
      strategicMerge({ spec: { template: { spec: { containers: [{ name: "c", ports: [{ containerPort: 80 }] }] } } } }, {
        spec: { template: { spec: { containers: [{ name: "c", ports: [{ containerPort: 81 }] }] } } }
      }),
      { spec: { template: { spec: { containers: [{ name: "c", ports: [{ containerPort: 80 }, { containerPort: 81 }] }] } } } }
    )
  })

  it("server-side apply approximation merges maps and keeps unmentioned fields", () => {
    assert.deepStrictEqual(applyPatch({ spec: { a: 1, b: [1] }, status: { x: 1 } }, { spec: { b: [2] } }), {
      spec: { a: 1, b: [2] },
      status: { x: 1 }
    })
  })
})
