/**
 * The validating admission webhook as a pure function: an AdmissionReview v1 request plus the existing objects it
 * needs → the response. Each kind is checked as MetalLB's webhooks check it (reference/metallb-behavior.md §7):
 * the existing objects of that kind, with the incoming one replacing its namesake or appended, go through the same
 * `parseConfig` the reconcilers use, together with the other lists MetalLB passes for that kind. Transient errors
 * (a BFDProfile, password Secret or Community alias that does not exist yet) are dropped, as MetalLB blanks those
 * references, so that creation order never matters.
 *
 * | kind | ops | parsed with |
 * |---|---|---|
 * | IPAddressPool | CREATE, UPDATE | all pools, BGPAdvertisements, Nodes (current MetalLB passes the advertisements too; §7 predates that) |
 * | BGPAdvertisement | CREATE, UPDATE | all BGPAdvertisements, pools, Nodes |
 * | L2Advertisement | CREATE, UPDATE | all L2Advertisements, pools |
 * | Community | CREATE, UPDATE | all Communities |
 * | BGPPeer (v1beta1 converted) | CREATE, UPDATE | all BGPPeers, Nodes |
 * | BFDProfile | CREATE (namespace only), DELETE (not while a BGPPeer uses it) | — |
 *
 * CREATE also requires the MetalLB namespace. A BGPPeer CREATE with `disableMP: true` is allowed with a warning and
 * nothing else is checked: MetalLB's quirk, kept so that the same manifests pass (the reconcilers still validate).
 *
 * @since 0.1.0
 */
import { Result, Schema } from "effect"
import { type ConfigError, formatWarning } from "../config/ConfigError.ts"
import { type ConfigInput, DefaultNamespace, parseConfig } from "../config/Parse.ts"
import * as Resources from "../config/Resources.ts"
import { convertObject, V1beta2 } from "./Conversion.ts"

export const AdmissionReviewVersion = "admission.k8s.io/v1"

/** The lists a check may read; the webhook server fetches exactly those that {@link listsNeeded} names. */
export type ListName = "ipAddressPools" | "bgpAdvertisements" | "l2Advertisements" | "bgpPeers" | "communities" | "nodes"

export type Existing = { readonly [K in ListName]?: ReadonlyArray<unknown> }

export const AdmissionRequest = Schema.Struct({
  uid: Schema.String,
  kind: Schema.Struct({ group: Schema.String, version: Schema.String, kind: Schema.String }),
  namespace: Schema.optionalKey(Schema.String),
  name: Schema.optionalKey(Schema.String),
  operation: Schema.Literals(["CREATE", "UPDATE", "DELETE", "CONNECT"]),
  object: Schema.optionalKey(Schema.Unknown),
  oldObject: Schema.optionalKey(Schema.Unknown)
})
export type AdmissionRequest = typeof AdmissionRequest.Type

export const AdmissionReviewRequest = Schema.Struct({
  apiVersion: Schema.Literal(AdmissionReviewVersion),
  kind: Schema.Literal("AdmissionReview"),
  request: AdmissionRequest
})

export interface Status {
  readonly status: "Failure"
  readonly code: number
  readonly reason: "Forbidden" | "BadRequest" | "InternalError"
  readonly message: string
}

export interface AdmissionResponse {
  readonly uid: string
  readonly allowed: boolean
  readonly status?: Status
  readonly warnings?: ReadonlyArray<string>
}

export interface AdmissionReview {
  readonly apiVersion: typeof AdmissionReviewVersion
  readonly kind: "AdmissionReview"
  readonly response: AdmissionResponse
}

export interface AdmissionOptions {
  /** The MetalLB namespace. Default `metallb-system`. */
  readonly namespace?: string
}

const decodeReview = Resources.decoder(AdmissionReviewRequest)

/** Reads the request out of an AdmissionReview body, or says what is wrong with it. */
export const decodeRequest = (body: unknown): Result.Result<AdmissionRequest, string> =>
  Result.mapError(Result.map(decodeReview(body), (r) => r.request), (issues) => `invalid AdmissionReview: ${Resources.formatIssues(issues)}`)

/** Wraps a response in its AdmissionReview envelope. */
export const toReview = (response: AdmissionResponse): AdmissionReview => ({
  apiVersion: AdmissionReviewVersion,
  kind: "AdmissionReview",
  response
})

export const allow = (uid: string, warnings: ReadonlyArray<string> = []): AdmissionResponse =>
  warnings.length > 0 ? { uid, allowed: true, warnings } : { uid, allowed: true }

/** A denial: 403 Forbidden with the message, as controller-runtime's `admission.Denied` answers. */
export const deny = (uid: string, message: string, warnings: ReadonlyArray<string> = []): AdmissionResponse => ({
  uid,
  allowed: false,
  status: { status: "Failure", code: 403, reason: "Forbidden", message },
  ...(warnings.length > 0 ? { warnings } : {})
})

/** A request that cannot be evaluated: 400 (malformed) or 500 (the existing objects could not be read). */
export const fail = (uid: string, code: 400 | 500, message: string): AdmissionResponse => ({
  uid,
  allowed: false,
  status: { status: "Failure", code, reason: code === 400 ? "BadRequest" : "InternalError", message }
})

interface KindRule {
  /** The list the incoming object joins. */
  readonly list: Exclude<ListName, "nodes">
  /** The other lists parsed with it. */
  readonly with: ReadonlyArray<ListName>
}

const rules: Readonly<Record<string, KindRule>> = {
  IPAddressPool: { list: "ipAddressPools", with: ["bgpAdvertisements", "nodes"] },
  BGPAdvertisement: { list: "bgpAdvertisements", with: ["ipAddressPools", "nodes"] },
  L2Advertisement: { list: "l2Advertisements", with: ["ipAddressPools"] },
  Community: { list: "communities", with: [] },
  BGPPeer: { list: "bgpPeers", with: ["nodes"] }
}

/** The kinds this webhook validates (MetalLB's six). */
export const kinds: ReadonlyArray<string> = [...Object.keys(rules), "BFDProfile"]

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> => typeof u === "object" && u !== null && !Array.isArray(u)

const field = (u: unknown, ...path: ReadonlyArray<string>): unknown =>
  path.reduce<unknown>((v, k) => (isRecord(v) ? v[k] : undefined), u)

const str = (u: unknown): string | undefined => (typeof u === "string" ? u : undefined)

/** The existing lists a request needs to be decided; empty when the request is decided on its own. */
export const listsNeeded = (request: AdmissionRequest): ReadonlyArray<ListName> => {
  const kind = request.kind.kind
  if (kind === "BFDProfile") return request.operation === "DELETE" ? ["bgpPeers"] : []
  const rule = rules[kind]
  if (rule === undefined || (request.operation !== "CREATE" && request.operation !== "UPDATE")) return []
  if (kind === "BGPPeer" && request.operation === "CREATE" && field(request.object, "spec", "disableMP") === true) return []
  return [rule.list, ...rule.with]
}

const namespaceMessage = (namespace: string): string => `resource must be created in ${namespace} namespace`

/** The MetalLB webhook's own disableMP warning (the parser has another wording for the reconcilers). */
export const disableMPWarning = "disable mp is deprecated and has no effect since it's the default behavior now"

/** Which list a "no X named …" warning at `spec.<field>` refers to: meaningless when that list was not parsed. */
const referenceFields: Readonly<Record<string, ListName>> = { ipAddressPools: "ipAddressPools", peers: "bgpPeers" }

/**
 * Decides one request, given the lists {@link listsNeeded} named (missing lists count as empty). Never throws:
 * every outcome is a response.
 */
export const admit = (request: AdmissionRequest, existing: Existing, options: AdmissionOptions = {}): AdmissionResponse => {
  const namespace = options.namespace ?? DefaultNamespace
  const uid = request.uid
  const kind = request.kind.kind
  const op = request.operation
  const incoming = op === "DELETE" ? request.oldObject : request.object
  if (!isRecord(incoming)) {
    return op === "CREATE" || op === "UPDATE" || (kind === "BFDProfile" && op === "DELETE")
      ? fail(uid, 400, `request.${op === "DELETE" ? "oldObject" : "object"} must be a ${kind} object`)
      : allow(uid)
  }
  const name = str(field(incoming, "metadata", "name")) ?? request.name ?? ""
  const objectNamespace = str(field(incoming, "metadata", "namespace")) ?? request.namespace ?? ""

  if (kind === "BFDProfile") {
    if (op === "CREATE") return objectNamespace === namespace ? allow(uid) : deny(uid, namespaceMessage(namespace))
    if (op !== "DELETE") return allow(uid)
    const user = (existing.bgpPeers ?? [])
      .filter((p) => field(p, "spec", "bfdProfile") === name)
      .map((p) => str(field(p, "metadata", "name")) ?? "")
      .toSorted()[0]
    return user === undefined ? allow(uid) : deny(uid, `failed to delete BFDProfile ${name}, used by BGPPeer ${user}`)
  }

  const rule = rules[kind]
  if (rule === undefined) return fail(uid, 400, `unexpected kind ${kind}: this webhook validates ${kinds.join(", ")}`)
  if (op !== "CREATE" && op !== "UPDATE") return allow(uid)

  let object: unknown = incoming
  if (kind === "BGPPeer" && incoming["apiVersion"] !== V1beta2) {
    const converted = convertObject(incoming, V1beta2)
    if (Result.isFailure(converted)) return fail(uid, 400, converted.failure)
    object = converted.success
  }
  if (kind === "BGPPeer" && op === "CREATE" && field(object, "spec", "disableMP") === true) {
    return allow(uid, [disableMPWarning])
  }
  if (op === "CREATE" && objectNamespace !== namespace) return deny(uid, namespaceMessage(namespace))

  const others = (existing[rule.list] ?? []).filter((o) => str(field(o, "metadata", "name")) !== name)
  const input: ConfigInput = {
    ...Object.fromEntries(rule.with.map((l) => [l, existing[l] ?? []])),
    [rule.list]: [...others, object]
  }
  const parsed = parseConfig(input, { namespace })
  const passed = new Set<ListName>([rule.list, ...rule.with])
  const warnings = (Result.isSuccess(parsed) ? parsed.success.warnings : parsed.failure.warnings)
    .filter((w) => w.kind === kind && w.name === name)
    .filter((w) => {
      const ref = referenceFields[String(w.path[1])]
      return w.path[0] !== "spec" || ref === undefined || passed.has(ref)
    })
    .map(formatWarning)
  if (Result.isSuccess(parsed)) return allow(uid, warnings)
  const errors = parsed.failure.errors.filter((e) => !e.transient)
  if (errors.length === 0) return allow(uid, warnings)
  const own = (e: ConfigError) => e.kind === kind && e.name === name
  const message = [...errors.filter(own), ...errors.filter((e) => !own(e))].map((e) => e.message).join("; ")
  return deny(uid, message, warnings)
}
