/**
 * Kubernetes `metav1.LabelSelector`: the Schema of its wire form, its validation (the rules of
 * `LabelSelectorAsSelector`: operator/value rules, label key and value syntax), matching against a label set, and
 * the canonical string form (`a=b,c in (x,y),!d`) used to detect duplicate selectors.
 *
 * A list of selectors is OR-ed; an empty selector (`{}`) matches everything.
 *
 * @since 0.1.0
 */
import { Result, Schema } from "effect"

export const Operator = Schema.Literals(["In", "NotIn", "Exists", "DoesNotExist"]).annotate({
  description: "operator represents a key's relationship to a set of values. Valid operators are In, NotIn, Exists and DoesNotExist."
})
export type Operator = typeof Operator.Type

export const Requirement = Schema.Struct({
  key: Schema.String.annotate({ description: "key is the label key that the selector applies to." }),
  operator: Operator,
  values: Schema.optionalKey(
    Schema.Array(Schema.String).annotate({
      description:
        "values is an array of string values. If the operator is In or NotIn, the values array must be non-empty. If the operator is Exists or DoesNotExist, the values array must be empty.",
      "x-kubernetes-list-type": "atomic"
    })
  )
}).annotate({
  description:
    "A label selector requirement is a selector that contains values, a key, and an operator that relates the key and values."
})
export type Requirement = typeof Requirement.Type

/** The wire form of `metav1.LabelSelector`. */
export const LabelSelector = Schema.Struct({
  matchLabels: Schema.optionalKey(
    Schema.Record(Schema.String, Schema.String).annotate({
      description:
        "matchLabels is a map of {key,value} pairs. A single {key,value} in the matchLabels map is equivalent to an element of matchExpressions, whose key field is \"key\", the operator is \"In\", and the values array contains only \"value\". The requirements are ANDed."
    })
  ),
  matchExpressions: Schema.optionalKey(
    Schema.Array(Requirement).annotate({
      description: "matchExpressions is a list of label selector requirements. The requirements are ANDed.",
      "x-kubernetes-list-type": "atomic"
    })
  )
}).annotate({
  description:
    "A label selector is a label query over a set of resources. The result of matchLabels and matchExpressions are ANDed. An empty label selector matches all objects.",
  "x-kubernetes-map-type": "atomic"
})
export type LabelSelector = typeof LabelSelector.Type

/** One parsed requirement. `Equals` comes from `matchLabels`; values are sorted and unique. */
export interface ParsedRequirement {
  readonly key: string
  readonly operator: "Equals" | Operator
  readonly values: ReadonlyArray<string>
}

/** A validated selector: requirements sorted by key (then operator), ANDed. No requirement matches everything. */
export interface Selector {
  readonly requirements: ReadonlyArray<ParsedRequirement>
}

export const everything: Selector = { requirements: [] }

const nameRe = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/
const dnsSubdomainRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

/** Kubernetes qualified-name rules for a label key: optional `prefix/` (DNS subdomain ≤253) and a name ≤63. */
export const validateKey = (key: string): string | undefined => {
  const slash = key.lastIndexOf("/")
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined
  const name = slash >= 0 ? key.slice(slash + 1) : key
  if (prefix !== undefined && (prefix === "" || prefix.length > 253 || !dnsSubdomainRe.test(prefix))) {
    return `invalid label key ${JSON.stringify(key)}: prefix part must be a lowercase DNS subdomain`
  }
  if (name === "") return `invalid label key ${JSON.stringify(key)}: name part must be non-empty`
  if (name.length > 63) return `invalid label key ${JSON.stringify(key)}: name part must be no more than 63 characters`
  if (!nameRe.test(name)) {
    return `invalid label key ${JSON.stringify(key)}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`
  }
  return undefined
}

/** Kubernetes label value rules: empty, or ≤63 characters of the name alphabet. */
export const validateValue = (value: string): string | undefined => {
  if (value === "") return undefined
  if (value.length > 63) return `invalid label value ${JSON.stringify(value)}: must be no more than 63 characters`
  if (!nameRe.test(value)) {
    return `invalid label value ${JSON.stringify(value)}: must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`
  }
  return undefined
}

/** A located problem inside one selector (path relative to the selector). */
export interface SelectorIssue {
  readonly path: ReadonlyArray<string | number>
  readonly reason: string
}

const operatorOrder: Record<ParsedRequirement["operator"], number> = {
  Equals: 0,
  In: 1,
  NotIn: 2,
  Exists: 3,
  DoesNotExist: 4
}

const compareRequirements = (a: ParsedRequirement, b: ParsedRequirement): number =>
  a.key < b.key ? -1 : a.key > b.key ? 1 : operatorOrder[a.operator] - operatorOrder[b.operator]

const sortedUnique = (values: ReadonlyArray<string>): Array<string> => [...new Set(values)].toSorted()

const requirementString = (r: Requirement): string =>
  `${r.key} ${r.operator} [${[...(r.values ?? [])].toSorted().join(",")}]`

/**
 * Validates a wire selector like `LabelSelectorAsSelector` plus MetalLB's extra rules (no duplicate match expression,
 * no duplicate value inside one expression). Returns every problem found.
 */
export const parse = (selector: LabelSelector): Result.Result<Selector, ReadonlyArray<SelectorIssue>> => {
  const issues: Array<SelectorIssue> = []
  const requirements: Array<ParsedRequirement> = []
  for (const [key, value] of Object.entries(selector.matchLabels ?? {}).toSorted(([a], [b]) => (a < b ? -1 : 1))) {
    const keyIssue = validateKey(key)
    if (keyIssue !== undefined) issues.push({ path: ["matchLabels", key], reason: keyIssue })
    const valueIssue = validateValue(value)
    if (valueIssue !== undefined) issues.push({ path: ["matchLabels", key], reason: valueIssue })
    requirements.push({ key, operator: "Equals", values: [value] })
  }
  const seen = new Set<string>()
  ;(selector.matchExpressions ?? []).forEach((expr, i) => {
    const at = ["matchExpressions", i]
    const values = expr.values ?? []
    const text = requirementString(expr)
    if (seen.has(text)) issues.push({ path: at, reason: `duplicate definition of match expressions ${JSON.stringify(text)}` })
    seen.add(text)
    const keyIssue = validateKey(expr.key)
    if (keyIssue !== undefined) issues.push({ path: [...at, "key"], reason: keyIssue })
    const dup = values.find((v, j) => values.indexOf(v) !== j)
    if (dup !== undefined) {
      issues.push({
        path: [...at, "values"],
        reason: `duplicate definition of match expression value in label selector ${JSON.stringify(dup)}`
      })
    }
    if ((expr.operator === "In" || expr.operator === "NotIn") && values.length === 0) {
      issues.push({ path: [...at, "values"], reason: "for 'In', 'NotIn' operators, values set can't be empty" })
    }
    if ((expr.operator === "Exists" || expr.operator === "DoesNotExist") && values.length > 0) {
      issues.push({ path: [...at, "values"], reason: "values set must be empty for 'Exists' and 'DoesNotExist' operators" })
    }
    values.forEach((v, j) => {
      const valueIssue = validateValue(v)
      if (valueIssue !== undefined) issues.push({ path: [...at, "values", j], reason: valueIssue })
    })
    requirements.push({ key: expr.key, operator: expr.operator, values: sortedUnique(values) })
  })
  if (issues.length > 0) return Result.fail(issues)
  return Result.succeed({ requirements: requirements.toSorted(compareRequirements) })
}

/** Whether a label set satisfies every requirement of the selector. */
export const matches = (selector: Selector, labels: Readonly<Record<string, string>>): boolean =>
  selector.requirements.every((r) => {
    const has = Object.hasOwn(labels, r.key)
    const value = labels[r.key]
    switch (r.operator) {
      case "Equals":
      case "In":
        return has && value !== undefined && r.values.includes(value)
      case "NotIn":
        return !has || value === undefined || !r.values.includes(value)
      case "Exists":
        return has
      case "DoesNotExist":
        return !has
    }
  })

/** Whether the labels satisfy at least one selector of a list (the list form MetalLB uses everywhere). */
export const matchesAny = (selectors: ReadonlyArray<Selector>, labels: Readonly<Record<string, string>>): boolean =>
  selectors.some((s) => matches(s, labels))

/** Kubernetes' selector string form: `a=b,c in (x,y),d notin (z),e,!f`; the empty selector is `""`. */
export const format = (selector: Selector): string =>
  selector.requirements
    .map((r) => {
      switch (r.operator) {
        case "Equals":
          return `${r.key}=${r.values[0] ?? ""}`
        case "In":
          return `${r.key} in (${r.values.join(",")})`
        case "NotIn":
          return `${r.key} notin (${r.values.join(",")})`
        case "Exists":
          return r.key
        case "DoesNotExist":
          return `!${r.key}`
      }
    })
    .join(",")

/** Whether a selector has no requirement (matches every object). */
export const isEverything = (selector: Selector): boolean => selector.requirements.length === 0
