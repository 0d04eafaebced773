import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { type ApiCall, type Binding, bindingAllows, bindingsFor, check, formatCall, ruleAllows } from "../../src/manifests/RbacCheck.ts"

const call = (partial: Partial<ApiCall>): ApiCall => ({
  verb: "get", group: "", resource: "services", subresource: "", namespace: "default", name: "web", ...partial
})

const cluster = (rules: Binding["rules"]): Binding => ({ name: "ClusterRoleBinding c", namespace: undefined, rules })
const inNs = (namespace: string, rules: Binding["rules"]): Binding => ({ name: `RoleBinding r`, namespace, rules })

describe("ruleAllows", () => {
  it("matches verb, group, resource and name", () => {
    const rule = { apiGroups: [""], resources: ["services"], verbs: ["get", "list"] }
    assert.isTrue(ruleAllows(rule, call({})))
    assert.isFalse(ruleAllows(rule, call({ verb: "update" })))
    assert.isFalse(ruleAllows(rule, call({ group: "apps" })))
    assert.isFalse(ruleAllows(rule, call({ resource: "pods" })))
  })

  it("a subresource needs its own entry; `*` and `*/sub` work as in Kubernetes", () => {
    const status = call({ verb: "update", subresource: "status" })
    assert.isFalse(ruleAllows({ apiGroups: [""], resources: ["services"], verbs: ["update"] }, status))
    assert.isTrue(ruleAllows({ apiGroups: [""], resources: ["services/status"], verbs: ["update"] }, status))
    assert.isTrue(ruleAllows({ apiGroups: [""], resources: ["*/status"], verbs: ["update"] }, status))
    assert.isFalse(ruleAllows({ apiGroups: [""], resources: ["*/status"], verbs: ["update"] }, call({ verb: "update" })))
    assert.isTrue(ruleAllows({ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }, status))
  })

  it("resourceNames restrict to named requests: a create or a collection list carries no name", () => {
    const rule = { apiGroups: [""], resources: ["secrets"], verbs: ["get", "create", "list"], resourceNames: ["memberlist"] }
    assert.isTrue(ruleAllows(rule, call({ resource: "secrets", name: "memberlist" })))
    assert.isFalse(ruleAllows(rule, call({ resource: "secrets", name: "other" })))
    assert.isFalse(ruleAllows(rule, call({ resource: "secrets", verb: "create", name: "" })))
    assert.isFalse(ruleAllows(rule, call({ resource: "secrets", verb: "list", name: "" })))
    // A list narrowed by fieldSelector=metadata.name=memberlist carries that name (Kubernetes' RequestInfo).
    assert.isTrue(ruleAllows(rule, call({ resource: "secrets", verb: "list", name: "memberlist" })))
  })
})

describe("bindingAllows", () => {
  const rules = [{ apiGroups: [""], resources: ["services", "nodes"], verbs: ["list"] }]
  it("a Role binding grants in its namespace only, never cluster-scoped or cluster-wide", () => {
    assert.isTrue(bindingAllows(inNs("metallb-system", rules), call({ verb: "list", namespace: "metallb-system", name: "" })))
    assert.isFalse(bindingAllows(inNs("metallb-system", rules), call({ verb: "list", namespace: "default", name: "" })))
    assert.isFalse(bindingAllows(inNs("metallb-system", rules), call({ verb: "list", namespace: "", name: "" })))
    assert.isFalse(bindingAllows(inNs("metallb-system", rules), call({ verb: "list", resource: "nodes", namespace: "", name: "" })))
  })
  it("a ClusterRole binding grants everywhere", () => {
    assert.isTrue(bindingAllows(cluster(rules), call({ verb: "list", namespace: "", name: "" })))
    assert.isTrue(bindingAllows(cluster(rules), call({ verb: "list", namespace: "kube-system", name: "" })))
    assert.isTrue(bindingAllows(cluster(rules), call({ verb: "list", resource: "nodes", namespace: "", name: "" })))
  })
})

describe("check", () => {
  it("reports each denied call once, in order, and the verbs granted but never used", () => {
    const bindings = [
      cluster([{ apiGroups: [""], resources: ["services"], verbs: ["get", "list", "watch"] }]),
      inNs("metallb-system", [{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] }])
    ]
    const lease = (verb: string) => call({ verb, group: "coordination.k8s.io", resource: "leases", namespace: "metallb-system", name: "n1" })
    const report = check(bindings, [
      call({ verb: "list", namespace: "", name: "" }),
      lease("get"),
      lease("delete"),
      call({ verb: "update", subresource: "status" }),
      lease("delete")
    ])
    assert.deepStrictEqual(report.denied.map(formatCall), [
      "delete coordination.k8s.io/leases n1 in metallb-system",
      "update services/status web in default"
    ])
    assert.deepStrictEqual(report.unused, [
      { binding: "ClusterRoleBinding c", rule: 0, resources: ["services"], verbs: ["get", "watch"] },
      { binding: "RoleBinding r", rule: 0, resources: ["leases"], verbs: ["create", "update"] }
    ])
  })

  const arbCall = fc.record({
    verb: fc.constantFrom("get", "list", "watch", "create", "update", "patch", "delete"),
    group: fc.constantFrom("", "apps", "metallb.io", "coordination.k8s.io"),
    resource: fc.constantFrom("services", "secrets", "leases", "ipaddresspools"),
    subresource: fc.constantFrom("", "status"),
    namespace: fc.constantFrom("", "default", "metallb-system"),
    name: fc.constantFrom("", "a", "b")
  })

  it("property: a rule made from a call allows it, and every narrowing of it denies it", () => {
    fc.assert(fc.property(arbCall, (c) => {
      const resource = c.subresource === "" ? c.resource : `${c.resource}/${c.subresource}`
      const exact = { apiGroups: [c.group], resources: [resource], verbs: [c.verb], resourceNames: c.name === "" ? [] : [c.name] }
      const binding = c.namespace === "" ? cluster([exact]) : inNs(c.namespace, [exact])
      assert.deepStrictEqual(check([binding], [c]).denied, [])
      assert.deepStrictEqual(check([{ ...binding, rules: [{ ...exact, verbs: ["deletecollection"] }] }], [c]).denied, [c])
      assert.deepStrictEqual(check([{ ...binding, rules: [{ ...exact, apiGroups: ["other.io"] }] }], [c]).denied, [c])
      assert.deepStrictEqual(check([{ ...binding, rules: [{ ...exact, resourceNames: ["zzz"] }] }], [c]).denied, [c])
      assert.deepStrictEqual(check([inNs("elsewhere", [exact])], [c]).denied, [c])
    }))
  })

  it("property: denied is exactly the calls no binding allows, and granting more never denies more", () => {
    const arbRule = fc.record({
      apiGroups: fc.subarray(["", "apps", "metallb.io", "coordination.k8s.io", "*"], { minLength: 1 }),
      resources: fc.subarray(["services", "services/status", "secrets", "leases", "ipaddresspools", "*", "*/status"], { minLength: 1 }),
      verbs: fc.subarray(["get", "list", "watch", "create", "update", "patch", "delete", "*"], { minLength: 1 }),
      resourceNames: fc.subarray(["a", "b"])
    })
    const arbBinding = fc.record({
      name: fc.constant("b"),
      namespace: fc.constantFrom(undefined, "default", "metallb-system"),
      rules: fc.array(arbRule, { maxLength: 3 })
    })
    fc.assert(fc.property(fc.array(arbBinding, { maxLength: 3 }), arbBinding, fc.array(arbCall, { maxLength: 20 }), (bindings, extra, calls) => {
      const denied = check(bindings, calls).denied
      for (const c of calls) assert.strictEqual(denied.includes(c) || denied.some((d) => formatCall(d) === formatCall(c)), !bindings.some((b) => bindingAllows(b, c)))
      const more = check([...bindings, extra], calls).denied
      for (const d of more) assert.isTrue(denied.some((x) => formatCall(x) === formatCall(d)))
    }))
  })
})

describe("bindingsFor", () => {
  const objects = [
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: "cr" }, rules: [{ apiGroups: [""], resources: ["nodes"], verbs: ["list"] }] },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "r", namespace: "ns" }, rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }] },
    { kind: "ClusterRoleBinding", metadata: { name: "crb" }, roleRef: { kind: "ClusterRole", name: "cr" }, subjects: [{ kind: "ServiceAccount", name: "sa", namespace: "ns" }] },
    { kind: "RoleBinding", metadata: { name: "rb", namespace: "ns" }, roleRef: { kind: "Role", name: "r" }, subjects: [{ kind: "ServiceAccount", name: "sa", namespace: "ns" }] },
    // A ClusterRole bound by a RoleBinding: its rules, in that namespace only.
    { kind: "RoleBinding", metadata: { name: "rb2", namespace: "other" }, roleRef: { kind: "ClusterRole", name: "cr" }, subjects: [{ kind: "ServiceAccount", name: "sa", namespace: "ns" }] },
    // Someone else's binding, and a binding to a Role that does not exist.
    { kind: "RoleBinding", metadata: { name: "rb3", namespace: "ns" }, roleRef: { kind: "Role", name: "r" }, subjects: [{ kind: "ServiceAccount", name: "other", namespace: "ns" }] },
    { kind: "RoleBinding", metadata: { name: "rb4", namespace: "ns" }, roleRef: { kind: "Role", name: "missing" }, subjects: [{ kind: "ServiceAccount", name: "sa", namespace: "ns" }] }
  ]
  it("resolves the roles bound to one ServiceAccount with their scope", () => {
    const bindings = bindingsFor(objects, { namespace: "ns", name: "sa" })
    assert.deepStrictEqual(bindings.map((b) => [b.name, b.namespace]), [
      ["ClusterRoleBinding crb", undefined],
      ["RoleBinding rb", "ns"],
      ["RoleBinding rb2", "other"]
    ])
    assert.isTrue(bindings.some((b) => bindingAllows(b, call({ verb: "list", resource: "nodes", namespace: "", name: "" }))))
    assert.isFalse(bindings.some((b) => bindingAllows(b, call({ verb: "get", resource: "pods", namespace: "other" }))))
  })
})
