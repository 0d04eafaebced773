/**
 * The BGPPeer conversion webhook (`/convert`): a `ConversionReview` (apiextensions.k8s.io/v1) in, the objects in
 * the desired version out. v1beta1 → v1beta2 is lossless; v1beta2 → v1beta1 drops the fields v1beta1 lacks
 * (reference/metallb-behavior.md §2.5). The spec goes through the config Schemas and their conversion functions;
 * everything else (metadata, status, unknown top-level keys) is passed through untouched, since the API server
 * only allows a conversion to change the apiVersion, the spec and labels/annotations.
 *
 * Pure: the same review gives the same response.
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import { BGPPeerV1beta1, BGPPeerV1beta2, v1beta1ToV1beta2, v1beta2ToV1beta1 } from "../config/crds/BGPPeer.ts"
import * as Resources from "../config/Resources.ts"

export const V1beta1 = "metallb.io/v1beta1"
export const V1beta2 = "metallb.io/v1beta2"

// Only the input is checked: the output is not re-validated, so that every stored v1beta2 object stays readable as
// v1beta1 even where v1beta1 is stricter (an `Exists` node selector reads with `values: []`), as in MetalLB.
// The Schemas' types are their wire form (strings, numbers, plain objects), so the converted spec is sent as is.
const decodeV1beta1 = Resources.decoder(BGPPeerV1beta1)
const decodeV1beta2 = Resources.decoder(BGPPeerV1beta2)

type Obj = Readonly<Record<string, unknown>>
const isObject = (u: unknown): u is Obj => typeof u === "object" && u !== null && !Array.isArray(u)

/** The spec alone is decoded: a placeholder name keeps the check off metadata (generateName objects have none yet). */
const envelope = (apiVersion: string, spec: unknown) => ({ apiVersion, kind: "BGPPeer", metadata: { name: "x" }, spec: spec ?? {} })

const describe = (o: Obj): string => {
  const meta = isObject(o["metadata"]) ? o["metadata"] : {}
  return `BGPPeer ${typeof meta["namespace"] === "string" ? `${meta["namespace"]}/` : ""}${String(meta["name"] ?? "")}`
}

/** Converts one BGPPeer to `desiredAPIVersion`; an error names the object and the field. */
export const convertObject = (object: unknown, desiredAPIVersion: string): Result.Result<unknown, string> => {
  if (!isObject(object)) return Result.fail("expected an object")
  if (object["kind"] !== "BGPPeer") return Result.fail(`cannot convert kind ${JSON.stringify(object["kind"])}: only BGPPeer`)
  const from = object["apiVersion"]
  if (desiredAPIVersion !== V1beta1 && desiredAPIVersion !== V1beta2) {
    return Result.fail(`unsupported desiredAPIVersion ${JSON.stringify(desiredAPIVersion)}`)
  }
  if (from === desiredAPIVersion) return Result.succeed(object)
  let spec: Result.Result<unknown, string>
  if (from === V1beta1) {
    const decoded = decodeV1beta1(envelope(V1beta1, object["spec"]))
    spec = Result.isFailure(decoded)
      ? Result.fail(Resources.formatIssues(decoded.failure))
      : Result.succeed(v1beta1ToV1beta2(decoded.success).spec)
  } else if (from === V1beta2) {
    const decoded = decodeV1beta2(envelope(V1beta2, object["spec"]))
    spec = Result.isFailure(decoded)
      ? Result.fail(Resources.formatIssues(decoded.failure))
      : Result.succeed(v1beta2ToV1beta1(decoded.success).spec)
  } else return Result.fail(`unsupported apiVersion ${JSON.stringify(from)}`)
  return Result.isFailure(spec)
    ? Result.fail(`${describe(object)}: ${spec.failure}`)
    : Result.succeed({ ...object, apiVersion: desiredAPIVersion, spec: spec.success })
}

export interface ConversionResponse {
  readonly uid: string
  readonly convertedObjects: ReadonlyArray<unknown>
  readonly result: { readonly status: "Success" } | { readonly status: "Failure"; readonly message: string }
}

export interface ConversionReview {
  readonly apiVersion: string
  readonly kind: "ConversionReview"
  readonly response: ConversionResponse
}

/**
 * Answers a ConversionReview. A review that is not one (no `request.uid`, no `objects`) gets a Failure response
 * with an empty uid; a failing object fails the whole review, as the API server expects.
 */
export const review = (body: unknown): ConversionReview => {
  const apiVersion = isObject(body) && typeof body["apiVersion"] === "string" ? body["apiVersion"] : "apiextensions.k8s.io/v1"
  const respond = (response: ConversionResponse): ConversionReview => ({ apiVersion, kind: "ConversionReview", response })
  const request = isObject(body) ? body["request"] : undefined
  const uid = isObject(request) && typeof request["uid"] === "string" ? request["uid"] : ""
  const failure = (message: string) => respond({ uid, convertedObjects: [], result: { status: "Failure", message } })
  if (!isObject(body) || body["kind"] !== "ConversionReview" || !isObject(request) || uid === "") {
    return failure("expected a ConversionReview with request.uid")
  }
  const desired = request["desiredAPIVersion"]
  const objects = request["objects"]
  if (typeof desired !== "string") return failure("request.desiredAPIVersion must be a string")
  if (!Array.isArray(objects)) return failure("request.objects must be a list")
  const converted: Array<unknown> = []
  for (const object of objects as ReadonlyArray<unknown>) {
    const result = convertObject(object, desired)
    if (Result.isFailure(result)) return failure(result.failure)
    converted.push(result.success)
  }
  return respond({ uid, convertedObjects: converted, result: { status: "Success" } })
}
