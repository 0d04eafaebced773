/**
 * Kubernetes label and field selectors: parsing and matching (pure).
 *
 * Label selector grammar as in k8s.io/apimachinery/pkg/labels: comma-separated requirements
 * `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k>n`, `k<n`. An empty selector
 * matches everything. `fromLabelSelector` turns a `metav1.LabelSelector` (matchLabels /
 * matchExpressions, as used in MetalLB's CRDs) into the same requirement list.
 */
import { Result } from "effect"

export type Operator = "=" | "!=" | "in" | "notin" | "exists" | "!" | "gt" | "lt"

export interface Requirement {
  readonly key: string
  readonly op: Operator
  readonly values: ReadonlyArray<string>
}

export type LabelSelector = ReadonlyArray<Requirement>

export type Labels = Readonly<Record<string, string>>

const keyRe = /^([A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/
const valueRe = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/

const checkKey = (key: string): string | undefined => {
  if (key.length === 0) return "empty label key"
  const name = key.includes("/") ? key.slice(key.indexOf("/") + 1) : key
  if (name.length > 63 || !keyRe.test(key)) return `invalid label key "${key}"`
  return undefined
}

const checkValue = (value: string): string | undefined =>
  value.length > 63 || !valueRe.test(value) ? `invalid label value "${value}"` : undefined

/** Splits on commas that are not inside parentheses. */
const splitTerms = (input: string): Result.Result<ReadonlyArray<string>, string> => {
  const terms: Array<string> = []
  let depth = 0
  let cur = ""
  for (const ch of input) {
    if (ch === "(") depth++
    if (ch === ")") depth--
    if (depth < 0) return Result.fail(`unbalanced ")" in selector "${input}"`)
    if (ch === "," && depth === 0) {
      terms.push(cur)
      cur = ""
    } else cur += ch
  }
  if (depth !== 0) return Result.fail(`unbalanced "(" in selector "${input}"`)
  terms.push(cur)
  return Result.succeed(terms)
}

const parseTerm = (raw: string): Result.Result<Requirement, string> => {
  const term = raw.trim()
  if (term.length === 0) return Result.fail("empty requirement in label selector")
  const setMatch = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(term)
  if (setMatch !== null) {
    const [, key = "", op = "", list = ""] = setMatch
    const values = list.split(",").map((v) => v.trim())
    const problem = checkKey(key) ?? values.map(checkValue).find((p) => p !== undefined)
    if (problem !== undefined) return Result.fail(problem)
    return Result.succeed({ key, op: op === "in" ? "in" : "notin", values })
  }
  const opMatch = /^([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(.*)$/.exec(term)
  if (opMatch !== null) {
    const [, key = "", sym = "", value = ""] = opMatch
    const v = value.trim()
    const problem = checkKey(key)
    if (problem !== undefined) return Result.fail(problem)
    if (sym === ">" || sym === "<") {
      if (!/^-?\d+$/.test(v)) return Result.fail(`value for "${key} ${sym}" must be an integer, got "${v}"`)
      return Result.succeed({ key, op: sym === ">" ? "gt" : "lt", values: [v] })
    }
    const valueProblem = checkValue(v)
    if (valueProblem !== undefined) return Result.fail(valueProblem)
    return Result.succeed({ key, op: sym === "!=" ? "!=" : "=", values: [v] })
  }
  if (term.startsWith("!")) {
    const key = term.slice(1).trim()
    const problem = checkKey(key)
    return problem === undefined ? Result.succeed({ key, op: "!", values: [] }) : Result.fail(problem)
  }
  const problem = checkKey(term)
  return problem === undefined ? Result.succeed({ key: term, op: "exists", values: [] }) : Result.fail(problem)
}

/** Parses a label selector string (the `labelSelector` query parameter, `kubectl -l`). */
export const parseLabelSelector = (input: string): Result.Result<LabelSelector, string> => {
  if (input.trim().length === 0) return Result.succeed([])
  const terms = splitTerms(input)
  if (Result.isFailure(terms)) return Result.fail(terms.failure)
  const out: Array<Requirement> = []
  for (const t of terms.success) {
    const r = parseTerm(t)
    if (Result.isFailure(r)) return Result.fail(r.failure)
    out.push(r.success)
  }
  return Result.succeed(out)
}

const matchesRequirement = (labels: Labels, r: Requirement): boolean => {
  const has = Object.hasOwn(labels, r.key)
  const value = labels[r.key]
  switch (r.op) {
    case "=":
      return has && value === r.values[0]
    case "!=":
      return !has || value !== r.values[0]
    case "in":
      return has && value !== undefined && r.values.includes(value)
    case "notin":
      return !has || value === undefined || !r.values.includes(value)
    case "exists":
      return has
    case "!":
      return !has
    case "gt":
    case "lt": {
      if (!has || value === undefined || !/^-?\d+$/.test(value)) return false
      const n = Number(value)
      const bound = Number(r.values[0])
      return r.op === "gt" ? n > bound : n < bound
    }
  }
}

/** True when every requirement holds for the labels. */
export const matchesLabels = (selector: LabelSelector, labels: Labels): boolean =>
  selector.every((r) => matchesRequirement(labels, r))

/** Renders a selector back to the canonical string form. */
export const formatLabelSelector = (selector: LabelSelector): string =>
  selector
    .map((r) => {
      switch (r.op) {
        case "=":
        case "!=":
          return `${r.key}${r.op}${r.values[0] ?? ""}`
        case "in":
        case "notin":
          return `${r.key} ${r.op} (${r.values.join(",")})`
        case "exists":
          return r.key
        case "!":
          return `!${r.key}`
        case "gt":
          return `${r.key}>${r.values[0] ?? ""}`
        case "lt":
          return `${r.key}<${r.values[0] ?? ""}`
      }
    })
    .join(",")

/** A `metav1.LabelSelector` as found in Kubernetes and MetalLB objects. */
export interface LabelSelectorObject {
  readonly matchLabels?: Readonly<Record<string, string>> | undefined
  readonly matchExpressions?:
    | ReadonlyArray<{ readonly key: string; readonly operator: string; readonly values?: ReadonlyArray<string> | undefined }>
    | undefined
}

/**
 * Converts a `metav1.LabelSelector` into requirements, with the apimachinery rules: `In`/`NotIn` need values,
 * `Exists`/`DoesNotExist` must have none. An empty object matches everything.
 */
export const fromLabelSelector = (sel: LabelSelectorObject): Result.Result<LabelSelector, string> => {
  const out: Array<Requirement> = []
  for (const [key, value] of Object.entries(sel.matchLabels ?? {})) {
    const problem = checkKey(key) ?? checkValue(value)
    if (problem !== undefined) return Result.fail(`matchLabels: ${problem}`)
    out.push({ key, op: "=", values: [value] })
  }
  for (const [i, e] of (sel.matchExpressions ?? []).entries()) {
    const where = `matchExpressions[${i}]`
    const keyProblem = checkKey(e.key)
    if (keyProblem !== undefined) return Result.fail(`${where}.key: ${keyProblem}`)
    const values = e.values ?? []
    switch (e.operator) {
      case "In":
      case "NotIn":
        if (values.length === 0) return Result.fail(`${where}.values: must be specified when operator is ${e.operator}`)
        out.push({ key: e.key, op: e.operator === "In" ? "in" : "notin", values })
        break
      case "Exists":
      case "DoesNotExist":
        if (values.length > 0) return Result.fail(`${where}.values: may not be specified when operator is ${e.operator}`)
        out.push({ key: e.key, op: e.operator === "Exists" ? "exists" : "!", values: [] })
        break
      default:
        return Result.fail(`${where}.operator: "${e.operator}" is not a valid label selector operator`)
    }
  }
  return Result.succeed(out)
}

// ---------------------------------------------------------------------------------------------------------------
// Field selectors

export interface FieldRequirement {
  readonly field: string
  readonly op: "=" | "!="
  readonly value: string
}

export type FieldSelector = ReadonlyArray<FieldRequirement>

/**
 * Parses a field selector (`metadata.name=web,involvedObject.kind!=Pod`). Values may escape `\,`, `\=` and `\\`.
 * Terms may come in any order (kubectl describe shuffles them).
 */
export const parseFieldSelector = (input: string): Result.Result<FieldSelector, string> => {
  const out: Array<FieldRequirement> = []
  if (input.trim().length === 0) return Result.succeed(out)
  const terms: Array<string> = []
  let cur = ""
  for (let i = 0; i < input.length; i++) {
    const ch = input[i]
    if (ch === "\\" && i + 1 < input.length) {
      cur += ch + input[i + 1]
      i++
    } else if (ch === ",") {
      terms.push(cur)
      cur = ""
    } else cur += ch
  }
  terms.push(cur)
  for (const term of terms) {
    const m = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term.trim())
    if (m === null) return Result.fail(`invalid field selector term "${term}"`)
    const [, field = "", op = "", raw = ""] = m
    out.push({ field, op: op === "!=" ? "!=" : "=", value: raw.replace(/\\(.)/g, "$1") })
  }
  return Result.succeed(out)
}

/** True when every term holds; `fieldOf` returns the object's value for a field path ("" when absent). */
export const matchesFields = (selector: FieldSelector, fieldOf: (field: string) => string): boolean =>
  selector.every((r) => (fieldOf(r.field) === r.value) === (r.op === "="))
