/**
 * JSON value types and the few helpers every module of the in-memory API server uses.
 * Kubernetes objects are handled as plain JSON: the server stores what clients send.
 */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | JsonObject
export interface JsonObject {
  readonly [key: string]: Json
}

export const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value)

export const isArray = (value: unknown): value is ReadonlyArray<Json> => Array.isArray(value)

/** A field of an object when it is an object, else an empty object. */
export const obj = (value: Json | undefined): JsonObject => (isObject(value) ? value : {})

/** A field when it is an array, else an empty array. */
export const arr = (value: Json | undefined): ReadonlyArray<Json> => (isArray(value) ? value : [])

/** A field when it is a string, else undefined. */
export const str = (value: Json | undefined): string | undefined => (typeof value === "string" ? value : undefined)

export const clone = <A extends Json>(value: A): A => structuredClone(value) as A

/** Deep structural equality of two JSON values (key order ignored). */
export const jsonEqual = (a: Json | undefined, b: Json | undefined): boolean => {
  if (a === b) return true
  if (a === undefined || b === undefined || a === null || b === null) return false
  if (isArray(a)) {
    return isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]))
  }
  if (isObject(a)) {
    if (!isObject(b)) return false
    const ka = Object.keys(a)
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && jsonEqual(a[k], b[k]))
  }
  return false
}

/** Returns a copy of `o` without the given keys. */
export const omit = (o: JsonObject, ...keys: ReadonlyArray<string>): JsonObject => {
  const out: Record<string, Json> = {}
  for (const [k, v] of Object.entries(o)) if (!keys.includes(k)) out[k] = v
  return out
}

/** Follows a dotted path (`spec.nodeName`) through nested objects. */
export const getPath = (o: Json, path: ReadonlyArray<string>): Json | undefined => {
  let cur: Json | undefined = o
  for (const p of path) {
    if (!isObject(cur)) return undefined
    cur = cur[p]
  }
  return cur
}
