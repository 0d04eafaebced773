import { Predicate } from "effect"

const isPlainObject = (u: unknown): u is Readonly<Record<string, unknown>> => Predicate.isObject(u) && !Array.isArray(u)

const equalJson = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equalJson(x, b[i]))
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined)
    const kb = Object.keys(b).filter((k) => b[k] !== undefined)
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && equalJson(a[k], b[k]))
  }
  return false
}

/**
 * The RFC 7386 merge patch that turns `from` into `to`: changed fields, `null` for removed ones, nested objects
 * as nested patches, arrays whole. `undefined` fields count as absent. `to` must not contain `null` values (a
 * merge patch cannot set a field to null); Kubernetes objects do not need to.
 */
export const diff = (from: object, to: object): Record<string, unknown> => {
  const before = new Map(Object.entries(from).filter(([, v]) => v !== undefined))
  const after = new Map(Object.entries(to).filter(([, v]) => v !== undefined))
  const patch: Record<string, unknown> = {}
  for (const [key, value] of after) {
    const old = before.get(key)
    if (equalJson(old, value)) continue
    patch[key] = isPlainObject(old) && isPlainObject(value) ? diff(old, value) : value
  }
  for (const key of before.keys()) {
    if (!after.has(key)) patch[key] = null
  }
  return patch
}

/** RFC 7386 apply, as the API server does it. */
export const apply = (target: unknown, patch: unknown): unknown => {
  if (!isPlainObject(patch)) return patch
  const result: Record<string, unknown> = isPlainObject(target) ? { ...target } : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key]
    else result[key] = apply(result[key], value)
  }
  return result
}

export const isEmpty = (patch: Readonly<Record<string, unknown>>): boolean => Object.keys(patch).length === 0
