/**
 * Least-privilege check: which API calls a program made that its RBAC would refuse, and which granted verbs it never
 * used. Input: the calls (the in-memory API server's `requests()`, filtered by the component's token) and the rules
 * bound to the component, either from `Rbac.grants` or read back from the rendered manifests with
 * `bindingsFor`. Pure; the matching follows Kubernetes' RBAC authorizer (`rbac/v1` helpers: `VerbMatches`,
 * `APIGroupMatches`, `ResourceMatches` with `*` and `*\/subresource`, `ResourceNameMatches`).
 *
 * @since 0.1.0
 */

/** The part of a request log entry that authorization looks at. */
export interface ApiCall {
  readonly verb: string
  readonly group: string
  readonly resource: string
  /** "" when none. */
  readonly subresource: string
  /** "" for cluster-scoped resources and cluster-wide lists/watches. */
  readonly namespace: string
  /** "" for create, list and watch of a collection. */
  readonly name: string
}

export interface PolicyRule {
  readonly apiGroups: ReadonlyArray<string>
  readonly resources: ReadonlyArray<string>
  readonly verbs: ReadonlyArray<string>
  readonly resourceNames?: ReadonlyArray<string> | undefined
}

/** Rules in force through one binding: cluster-wide (ClusterRoleBinding) or in one namespace (RoleBinding). */
export interface Binding {
  readonly name: string
  readonly namespace: string | undefined
  readonly rules: ReadonlyArray<PolicyRule>
}

export const ruleAllows = (rule: PolicyRule, call: ApiCall): boolean => {
  const verb = rule.verbs.includes("*") || rule.verbs.includes(call.verb)
  const group = rule.apiGroups.includes("*") || rule.apiGroups.includes(call.group)
  const combined = call.subresource === "" ? call.resource : `${call.resource}/${call.subresource}`
  const resource = rule.resources.some((r) =>
    r === "*" || r === combined || (call.subresource !== "" && r.startsWith("*/") && r.slice(2) === call.subresource)
  )
  const names = rule.resourceNames === undefined || rule.resourceNames.length === 0 || rule.resourceNames.includes(call.name)
  return verb && group && resource && names
}

/** A RoleBinding's rules apply in its namespace only; a ClusterRoleBinding's everywhere, cluster scope included. */
export const bindingAllows = (binding: Binding, call: ApiCall): boolean =>
  (binding.namespace === undefined || binding.namespace === call.namespace) && binding.rules.some((r) => ruleAllows(r, call))

export interface UnusedVerbs {
  readonly binding: string
  readonly rule: number
  readonly resources: ReadonlyArray<string>
  readonly verbs: ReadonlyArray<string>
}

export interface RbacReport {
  /** Calls no binding allows, each once, in first-seen order. */
  readonly denied: ReadonlyArray<ApiCall>
  /** Per rule, the verbs no allowed call used (rules with `*` verbs are left out). */
  readonly unused: ReadonlyArray<UnusedVerbs>
}

const key = (c: ApiCall): string => [c.verb, c.group, c.resource, c.subresource, c.namespace, c.name].join("\u0000")

export const check = (bindings: ReadonlyArray<Binding>, calls: ReadonlyArray<ApiCall>): RbacReport => {
  const denied = new Map<string, ApiCall>()
  const used = bindings.map((b) => b.rules.map(() => new Set<string>()))
  for (const call of calls) {
    let allowed = false
    bindings.forEach((b, i) => {
      if (b.namespace !== undefined && b.namespace !== call.namespace) return
      b.rules.forEach((r, j) => {
        if (ruleAllows(r, call)) {
          allowed = true
          used[i]?.[j]?.add(call.verb)
        }
      })
    })
    if (!allowed && !denied.has(key(call))) denied.set(key(call), call)
  }
  const unused = bindings.flatMap((b, i) =>
    b.rules.flatMap((r, j): Array<UnusedVerbs> => {
      if (r.verbs.includes("*")) return []
      const verbs = r.verbs.filter((v) => !(used[i]?.[j]?.has(v) ?? false))
      return verbs.length === 0 ? [] : [{ binding: b.name, rule: j, resources: r.resources, verbs }]
    })
  )
  return { denied: [...denied.values()], unused }
}

/** A readable line per denied call, for assertion messages. */
export const formatCall = (c: ApiCall): string => {
  const resource = `${c.group === "" ? "" : `${c.group}/`}${c.resource}${c.subresource === "" ? "" : `/${c.subresource}`}`
  return `${c.verb} ${resource}${c.name === "" ? "" : ` ${c.name}`}${c.namespace === "" ? "" : ` in ${c.namespace}`}`
}

type Obj = { readonly [key: string]: unknown }
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v)
const strings = (v: unknown): ReadonlyArray<string> => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [])
const str = (v: unknown): string => (typeof v === "string" ? v : "")

const rulesOf = (role: Obj): ReadonlyArray<PolicyRule> =>
  (Array.isArray(role["rules"]) ? role["rules"] : []).filter(isObj).map((r) => ({
    apiGroups: strings(r["apiGroups"]),
    resources: strings(r["resources"]),
    verbs: strings(r["verbs"]),
    resourceNames: strings(r["resourceNames"])
  }))

/**
 * The bindings in force for a ServiceAccount, read from manifest objects (Roles, ClusterRoles and their bindings,
 * other kinds ignored). A RoleBinding to a ClusterRole grants that ClusterRole's rules in the binding's namespace.
 */
export const bindingsFor = (objects: ReadonlyArray<unknown>, serviceAccount: { readonly namespace: string; readonly name: string }): ReadonlyArray<Binding> => {
  const all = objects.filter(isObj)
  const meta = (o: Obj) => (isObj(o["metadata"]) ? o["metadata"] : {})
  const role = (kind: string, name: string, namespace: string | undefined) =>
    all.find((o) => o["kind"] === kind && str(meta(o)["name"]) === name && (kind === "ClusterRole" || str(meta(o)["namespace"]) === namespace))
  return all.flatMap((b): Array<Binding> => {
    if (b["kind"] !== "RoleBinding" && b["kind"] !== "ClusterRoleBinding") return []
    const subjects = (Array.isArray(b["subjects"]) ? b["subjects"] : []).filter(isObj)
    const bound = subjects.some((s) => s["kind"] === "ServiceAccount" && str(s["name"]) === serviceAccount.name && str(s["namespace"]) === serviceAccount.namespace)
    const ref = isObj(b["roleRef"]) ? b["roleRef"] : {}
    const namespace = b["kind"] === "RoleBinding" ? str(meta(b)["namespace"]) : undefined
    // A ClusterRoleBinding may only reference a ClusterRole (the API server rejects anything else).
    if (!bound || (namespace === undefined && ref["kind"] !== "ClusterRole")) return []
    const target = role(str(ref["kind"]), str(ref["name"]), namespace)
    return target === undefined ? [] : [{ name: `${str(b["kind"])} ${str(meta(b)["name"])}`, namespace, rules: rulesOf(target) }]
  })
}
