/**
 * A bag of Kubernetes objects (as read from files or a List) → the {@link ConfigInput} of `parseConfig`, sorted by
 * kind, and the validation of the whole bag as one configuration. Used by `metallb config validate` and by the
 * legacy conversion, which validates what it generates.
 *
 * @since 0.1.0
 */
import { Exit, Result, Schema } from "effect"
import type { ConfigWarning } from "./ConfigError.ts"
import { type ConfigInput, parseConfig, type ParseOptions } from "./Parse.ts"
import { decodeAny, formatPath, issuesOf, schemas } from "./Resources.ts"

/** A problem with one object: which one, which field, why; `transient` for "refers to something not there yet". */
export interface ObjectError {
  readonly kind: string
  readonly name: string
  readonly path: ReadonlyArray<string | number>
  readonly reason: string
  readonly transient: boolean
}

export interface Validation {
  readonly errors: ReadonlyArray<ObjectError>
  readonly warnings: ReadonlyArray<ConfigWarning>
}

const field = (o: unknown, key: string): unknown =>
  typeof o === "object" && o !== null ? (o as Record<string, unknown>)[key] : undefined

const str = (u: unknown): string => (typeof u === "string" ? u : "")

/** The `parseConfig` field that takes objects of this `kind`. */
const inputKey: Record<string, keyof ConfigInput> = {
  IPAddressPool: "ipAddressPools",
  L2Advertisement: "l2Advertisements",
  BGPAdvertisement: "bgpAdvertisements",
  BGPPeer: "bgpPeers",
  BFDProfile: "bfdProfiles",
  Community: "communities"
}
const factKey: Record<string, keyof ConfigInput> = { Node: "nodes", Namespace: "namespaces", Secret: "secrets" }

/** True for the core objects the rules read (Nodes, Namespaces, Secrets). */
export const isFact = (o: unknown): boolean => str(field(o, "apiVersion")) === "v1" && str(field(o, "kind")) in factKey

/** True for a `metallb.io` object. */
export const isMetalLB = (o: unknown): boolean => str(field(o, "apiVersion")).startsWith("metallb.io/")

/**
 * Sorts objects into the `parseConfig` input. metallb.io objects that are not configuration (status objects) or of
 * an unknown kind go to `others`; they are still decoded by {@link validateObjects}.
 */
export const toConfigInput = (objects: ReadonlyArray<unknown>): { readonly input: ConfigInput; readonly others: ReadonlyArray<unknown> } => {
  const input: Partial<Record<keyof ConfigInput, Array<unknown>>> = {}
  const others: Array<unknown> = []
  for (const o of objects) {
    const kind = str(field(o, "kind"))
    const key = isMetalLB(o) ? inputKey[kind] : isFact(o) ? factKey[kind] : undefined
    if (key === undefined) others.push(o)
    else (input[key] ??= []).push(o)
  }
  return { input, others }
}

/**
 * Fields the Schemas do not know, below `spec`: the API server prunes them and `kubectl apply` (strict field
 * validation by default) refuses them, so a misspelt field (`ipaddresspools`) would otherwise vanish silently.
 */
export const unknownFields = (o: unknown): Array<ObjectError> => {
  const schema = (schemas as Record<string, Schema.Top & { readonly DecodingServices: never }>)[
    `${str(field(o, "apiVersion"))}/${str(field(o, "kind"))}`
  ]
  if (schema === undefined) return []
  const exit = Schema.decodeUnknownExit(schema)(o, { errors: "all", onExcessProperty: "error" })
  if (Exit.isSuccess(exit)) return []
  const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (failure === undefined || !Schema.isSchemaError(failure.error)) return []
  return issuesOf(failure.error.issue)
    .filter((i) => i.message === "Expected no excess property" && i.path[0] === "spec")
    .map((i) => ({
      kind: str(field(o, "kind")),
      name: str(field(field(o, "metadata"), "name")),
      path: i.path,
      reason: `unknown field ${JSON.stringify(formatPath(i.path))}`,
      transient: false
    }))
}

/** Validates metallb.io objects (plus the Nodes, Namespaces and Secrets among them) as one configuration. */
export const validateObjects = (objects: ReadonlyArray<unknown>, options: ParseOptions = {}): Validation => {
  const { input, others } = toConfigInput(objects)
  const strictErrors = objects.filter(isMetalLB).flatMap(unknownFields)
  const otherErrors: Array<ObjectError> = others.filter(isMetalLB).flatMap((o) =>
    Result.match(decodeAny(o), {
      onSuccess: () => [],
      onFailure: (issues) =>
        issues.map((i) => ({
          kind: str(field(o, "kind")),
          name: str(field(field(o, "metadata"), "name")),
          path: i.path,
          reason: i.message,
          transient: false
        }))
    })
  )
  return Result.match(parseConfig(input, options), {
    onSuccess: (parsed) => ({ errors: [...strictErrors, ...otherErrors], warnings: parsed.warnings }),
    onFailure: (rejected) => ({
      errors: [
        ...rejected.errors.map((e) => ({ kind: e.kind, name: e.name, path: e.path, reason: e.reason, transient: e.transient })),
        ...strictErrors,
        ...otherErrors
      ],
      warnings: rejected.warnings
    })
  })
}
