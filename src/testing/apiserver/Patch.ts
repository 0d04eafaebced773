/**
 * The patch flavours the Kubernetes API accepts (pure):
 * - JSON merge patch (RFC 7386), used by kubectl for CRDs and custom resources;
 * - JSON patch (RFC 6902);
 * - strategic merge patch with the directives kubectl actually sends (`$patch`, `$retainKeys`,
 *   `$setElementOrder/…`, `$deleteFromPrimitiveList/…`) and the merge keys of the built-in kinds;
 * - server-side apply approximated as a merge (no managedFields, no field ownership).
 */
import { Result } from "effect"
import { type Json, type JsonObject, isArray, isObject, jsonEqual } from "./Json.ts"

/** RFC 7386: objects merge recursively, `null` deletes, anything else replaces. */
export const mergePatch = (target: Json | undefined, patch: Json): Json => {
  if (!isObject(patch)) return patch
  const out: Record<string, Json> = isObject(target) ? { ...target } : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = mergePatch(out[k], v)
  }
  return out
}

// ---------------------------------------------------------------------------------------------------------------
// RFC 6902

const parsePointer = (pointer: string): Result.Result<ReadonlyArray<string>, string> => {
  if (pointer === "") return Result.succeed([])
  if (!pointer.startsWith("/")) return Result.fail(`JSON pointer "${pointer}" must start with "/"`)
  return Result.succeed(
    pointer
      .slice(1)
      .split("/")
      .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"))
  )
}

type Container = Array<Json> | Record<string, Json>

/** Copies the path down to the parent of the last token so edits do not touch the input. */
const parentOf = (
  root: Json,
  tokens: ReadonlyArray<string>,
  pointer: string
): Result.Result<{ readonly root: Json; readonly parent: Container; readonly last: string }, string> => {
  const rootCopy: Json = isArray(root) ? [...root] : isObject(root) ? { ...root } : root
  let cur: Json = rootCopy
  for (const token of tokens.slice(0, -1)) {
    if (isArray(cur)) {
      const i = Number(token)
      const next = cur[i]
      if (!/^\d+$/.test(token) || next === undefined) return Result.fail(`path "${pointer}" does not exist`)
      const copy: Json = isArray(next) ? [...next] : isObject(next) ? { ...next } : next
      ;(cur as Array<Json>)[i] = copy
      cur = copy
    } else if (isObject(cur)) {
      const next = cur[token]
      if (next === undefined) return Result.fail(`path "${pointer}" does not exist`)
      const copy: Json = isArray(next) ? [...next] : isObject(next) ? { ...next } : next
      ;(cur as Record<string, Json>)[token] = copy
      cur = copy
    } else return Result.fail(`path "${pointer}" does not exist`)
  }
  if (!isArray(cur) && !isObject(cur)) return Result.fail(`path "${pointer}" does not exist`)
  return Result.succeed({ root: rootCopy, parent: cur as Container, last: tokens[tokens.length - 1] ?? "" })
}

const getAt = (root: Json, tokens: ReadonlyArray<string>): Json | undefined => {
  let cur: Json | undefined = root
  for (const t of tokens) {
    if (isArray(cur)) cur = /^\d+$/.test(t) ? cur[Number(t)] : undefined
    else if (isObject(cur)) cur = Object.hasOwn(cur, t) ? cur[t] : undefined
    else return undefined
  }
  return cur
}

const addAt = (root: Json, pointer: string, value: Json): Result.Result<Json, string> => {
  const tokens = parsePointer(pointer)
  if (Result.isFailure(tokens)) return tokens
  if (tokens.success.length === 0) return Result.succeed(value)
  const p = parentOf(root, tokens.success, pointer)
  if (Result.isFailure(p)) return p
  const { parent, last } = p.success
  if (Array.isArray(parent)) {
    const i = last === "-" ? parent.length : Number(last)
    if (!/^\d+$/.test(last) && last !== "-") return Result.fail(`invalid array index "${last}" in "${pointer}"`)
    if (i > parent.length) return Result.fail(`array index ${i} out of range in "${pointer}"`)
    parent.splice(i, 0, value)
  } else parent[last] = value
  return Result.succeed(p.success.root)
}

const removeAt = (root: Json, pointer: string): Result.Result<Json, string> => {
  const tokens = parsePointer(pointer)
  if (Result.isFailure(tokens)) return tokens
  if (tokens.success.length === 0) return Result.fail("cannot remove the document root")
  const p = parentOf(root, tokens.success, pointer)
  if (Result.isFailure(p)) return p
  const { parent, last } = p.success
  if (Array.isArray(parent)) {
    const i = Number(last)
    if (!/^\d+$/.test(last) || i >= parent.length) return Result.fail(`path "${pointer}" does not exist`)
    parent.splice(i, 1)
  } else {
    if (!Object.hasOwn(parent, last)) return Result.fail(`path "${pointer}" does not exist`)
    delete parent[last]
  }
  return Result.succeed(p.success.root)
}

/** Applies RFC 6902 operations in order; the first failing operation fails the whole patch. */
export const jsonPatch = (doc: Json, ops: Json): Result.Result<Json, string> => {
  if (!isArray(ops)) return Result.fail("a JSON patch must be an array of operations")
  let cur = doc
  for (const [i, raw] of ops.entries()) {
    if (!isObject(raw)) return Result.fail(`operation ${i} is not an object`)
    const op = raw["op"]
    const path = raw["path"]
    if (typeof path !== "string") return Result.fail(`operation ${i}: "path" must be a string`)
    const value = raw["value"]
    const from = raw["from"]
    let next: Result.Result<Json, string>
    switch (op) {
      case "add":
        next = value === undefined ? Result.fail(`operation ${i}: "value" is required`) : addAt(cur, path, value)
        break
      case "remove":
        next = removeAt(cur, path)
        break
      case "replace": {
        if (value === undefined) return Result.fail(`operation ${i}: "value" is required`)
        const removed = removeAt(cur, path)
        next = Result.isFailure(removed) ? removed : addAt(removed.success, path, value)
        if (path === "") next = Result.succeed(value)
        break
      }
      case "move":
      case "copy": {
        if (typeof from !== "string") return Result.fail(`operation ${i}: "from" must be a string`)
        const fromTokens = parsePointer(from)
        if (Result.isFailure(fromTokens)) return fromTokens
        const moved = getAt(cur, fromTokens.success)
        if (moved === undefined) return Result.fail(`operation ${i}: path "${from}" does not exist`)
        const base = op === "move" ? removeAt(cur, from) : Result.succeed(cur)
        next = Result.isFailure(base) ? base : addAt(base.success, path, structuredClone(moved))
        break
      }
      case "test": {
        const tokens = parsePointer(path)
        if (Result.isFailure(tokens)) return tokens
        next = jsonEqual(getAt(cur, tokens.success), value)
          ? Result.succeed(cur)
          : Result.fail(`operation ${i}: test failed at "${path}"`)
        break
      }
      default:
        return Result.fail(`operation ${i}: unknown op ${JSON.stringify(op ?? null)}`)
    }
    if (Result.isFailure(next)) return Result.fail(`operation ${i}: ${next.failure}`)
    cur = next.success
  }
  return Result.succeed(cur)
}

// ---------------------------------------------------------------------------------------------------------------
// Strategic merge patch

/** Merge keys of the built-in list fields (from the Go struct tags); other lists are replaced. */
const mergeKeys: Readonly<Record<string, string>> = {
  containers: "name",
  initContainers: "name",
  ephemeralContainers: "name",
  env: "name",
  volumes: "name",
  imagePullSecrets: "name",
  webhooks: "name",
  volumeMounts: "mountPath",
  volumeDevices: "devicePath",
  conditions: "type",
  ownerReferences: "uid",
  hostAliases: "ip",
  topologySpreadConstraints: "topologyKey",
  resourceClaims: "name"
}

/** Primitive lists with `patchStrategy:"merge"`: the union is kept. */
const mergedPrimitiveLists: ReadonlySet<string> = new Set(["finalizers"])

/** `ports` is keyed by `containerPort` in containers and by `port` in Services. */
const mergeKeyFor = (field: string, original: ReadonlyArray<Json>, patch: ReadonlyArray<Json>): string | undefined => {
  if (field === "ports") {
    const withContainerPort = [...original, ...patch].some((e) => isObject(e) && e["containerPort"] !== undefined)
    return withContainerPort ? "containerPort" : "port"
  }
  return mergeKeys[field]
}

const stripDirectives = (value: Json): Json => {
  if (isArray(value)) return value.filter((e) => !(isObject(e) && e["$patch"] !== undefined)).map(stripDirectives)
  if (!isObject(value)) return value
  const out: Record<string, Json> = {}
  for (const [k, v] of Object.entries(value)) {
    if (k.startsWith("$")) continue
    out[k] = stripDirectives(v)
  }
  return out
}

const mergeList = (field: string, original: ReadonlyArray<Json>, patch: ReadonlyArray<Json>): Json => {
  if (patch.some((e) => isObject(e) && e["$patch"] === "replace")) {
    return stripDirectives(patch.filter((e) => !(isObject(e) && e["$patch"] === "replace")))
  }
  if (mergedPrimitiveLists.has(field)) {
    const out = [...original]
    for (const v of patch) if (!out.some((o) => jsonEqual(o, v))) out.push(v)
    return out
  }
  const key = mergeKeyFor(field, original, patch)
  if (key === undefined) return stripDirectives(patch)
  const out: Array<Json> = [...original]
  for (const element of patch) {
    if (!isObject(element) || element[key] === undefined) {
      out.push(stripDirectives(element))
      continue
    }
    const idx = out.findIndex((o) => isObject(o) && jsonEqual(o[key], element[key]))
    if (element["$patch"] === "delete") {
      if (idx >= 0) out.splice(idx, 1)
      continue
    }
    if (idx >= 0) out[idx] = strategicMerge(out[idx], element)
    else out.push(stripDirectives(element))
  }
  return out
}

/**
 * Applies a strategic merge patch. Maps merge recursively; `null` deletes a key; lists with a known merge key merge
 * element by element (`$patch: delete` removes one); other lists are replaced. `$setElementOrder` only orders
 * elements upstream and is dropped here.
 */
export const strategicMerge = (original: Json | undefined, patch: Json): Json => {
  if (!isObject(patch)) return patch
  const directive = patch["$patch"]
  if (directive === "replace") return stripDirectives(patch)
  if (directive === "delete") return {}
  const out: Record<string, Json> = isObject(original) ? { ...original } : {}
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith("$deleteFromPrimitiveList/")) {
      const field = k.slice("$deleteFromPrimitiveList/".length)
      const current = out[field]
      if (isArray(current) && isArray(v)) out[field] = current.filter((e) => !v.some((d) => jsonEqual(d, e)))
      continue
    }
    if (k.startsWith("$")) continue
    if (v === null) {
      delete out[k]
      continue
    }
    const current = out[k]
    if (isObject(v)) {
      if (v["$patch"] === "delete") delete out[k]
      else out[k] = strategicMerge(current, v)
    } else if (isArray(v)) out[k] = mergeList(k, isArray(current) ? current : [], v)
    else out[k] = v
  }
  const retain = patch["$retainKeys"]
  if (isArray(retain)) {
    for (const k of Object.keys(out)) if (!retain.includes(k) && !Object.hasOwn(patch, k)) delete out[k]
  }
  return out
}

/**
 * Server-side apply, approximated: the applied configuration is merged into the live object (maps merge, lists
 * replace). Fields dropped from the manifest are not removed, since no managedFields are tracked.
 */
export const applyPatch = (live: JsonObject | undefined, applied: JsonObject): JsonObject => {
  const merged = mergePatch(live, stripNulls(applied))
  return isObject(merged) ? merged : applied
}

const stripNulls = (value: Json): Json => {
  if (isArray(value)) return value.map(stripNulls)
  if (!isObject(value)) return value
  const out: Record<string, Json> = {}
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = stripNulls(v)
  return out
}
