import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { decodeWatchEvent } from "../../src/k8s/KubeClient.ts"
import { fromResponse, fromTransport, isRetryable, KubeError, reasonOfStatus } from "../../src/k8s/KubeError.ts"
import { collectionPath, custom, EndpointSlices, keyOf, Leases, Nodes, objectPath, Services } from "../../src/k8s/Resource.ts"

describe("KubeError", () => {
  it("maps every HTTP status to one reason; only Unavailable is retried as is", () => {
    fc.assert(fc.property(fc.integer({ min: 100, max: 599 }), (status) => {
      const reason = reasonOfStatus(status)
      const expected = status === 404 ? "NotFound"
        : status === 409 ? "Conflict"
        : status === 410 ? "Gone"
        : status === 401 || status === 403 ? "Forbidden"
        : status === 400 || status === 422 ? "Invalid"
        : status === 429 || status >= 500 ? "Unavailable"
        : "Other"
      assert.strictEqual(reason, expected)
      assert.strictEqual(isRetryable(fromResponse("GET /x", status, "")), reason === "Unavailable")
    }))
  })

  it("keeps the server's Status message and reason", () => {
    const e = fromResponse("POST /api/v1/namespaces/default/services", 409, JSON.stringify({
      kind: "Status",
      status: "Failure",
      message: "services \"web\" already exists",
      reason: "AlreadyExists",
      code: 409
    }))
    assert.strictEqual(e.reason, "Conflict")
    assert.strictEqual(e.statusReason, "AlreadyExists")
    assert.strictEqual(e.message, "services \"web\" already exists")
    assert.strictEqual(fromResponse("GET /x", 502, "<html>bad gateway</html>").message, "<html>bad gateway</html>")
    const t = fromTransport("GET /x", new Error("connect ECONNREFUSED 127.0.0.1:1"))
    assert.strictEqual(t.reason, "Unavailable")
    assert.isTrue(isRetryable(t))
  })
})

describe("Resource paths", () => {
  it("builds core, group, namespaced, cluster-scoped and status paths", () => {
    assert.strictEqual(collectionPath(Services), "/api/v1/services")
    assert.strictEqual(collectionPath(Services, "default"), "/api/v1/namespaces/default/services")
    assert.strictEqual(objectPath(Services, "web", "default", "status"), "/api/v1/namespaces/default/services/web/status")
    assert.strictEqual(objectPath(Nodes, "n1", "ignored"), "/api/v1/nodes/n1")
    assert.strictEqual(collectionPath(EndpointSlices, "x"), "/apis/discovery.k8s.io/v1/namespaces/x/endpointslices")
    assert.strictEqual(objectPath(Leases, "l", "kube-system"), "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l")
    const pools = custom("metallb.io", "v1beta1", "ipaddresspools", "IPAddressPool")
    assert.strictEqual(objectPath(pools, "a b", "metallb-system"), "/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools/a%20b")
    assert.strictEqual(keyOf({ metadata: { name: "n1" } }), "n1")
    assert.strictEqual(keyOf({ metadata: { name: "web", namespace: "default" } }), "default/web")
  })
})

describe("decodeWatchEvent", () => {
  it("passes objects, reads bookmarks, turns ERROR 410 into Gone and skips what it does not know", () => {
    const added = decodeWatchEvent("W", "ADDED", { metadata: { name: "a", resourceVersion: "3" } })
    assert.deepStrictEqual(added, { type: "ADDED", object: { metadata: { name: "a", resourceVersion: "3" } } })
    assert.deepStrictEqual(decodeWatchEvent("W", "BOOKMARK", { kind: "Service", metadata: { resourceVersion: "9" } }), {
      type: "BOOKMARK",
      resourceVersion: "9"
    })
    const gone = decodeWatchEvent("W", "ERROR", { kind: "Status", code: 410, reason: "Expired", message: "too old resource version: 1 (5)" })
    assert.instanceOf(gone, KubeError)
    assert.strictEqual(gone instanceof KubeError ? gone.reason : "", "Gone")
    assert.instanceOf(decodeWatchEvent("W", "MODIFIED", { metadata: {} }), KubeError)
    assert.isUndefined(decodeWatchEvent("W", "SOMETHING", {}))
  })
})
