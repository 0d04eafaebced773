import { Predicate, Schema } from "effect"

/**
 * Why a Kubernetes API call failed, coarse enough to decide what to do next:
 * - `NotFound` (404): the object (or the resource type) does not exist;
 * - `Conflict` (409): stale resourceVersion on a write, or `AlreadyExists` on create (see `statusReason`);
 * - `Gone` (410): a watch or list resourceVersion is too old: relist;
 * - `Forbidden` (401/403): RBAC or credentials; retrying will not help;
 * - `Unavailable` (429, 5xx, connection errors, timeouts): transient, retry with backoff;
 * - `Invalid` (400/422): the request body was rejected;
 * - `Other`: anything else (unexpected status, undecodable response).
 */
export const KubeErrorReason = Schema.Literals(["NotFound", "Conflict", "Gone", "Forbidden", "Unavailable", "Invalid", "Other"])
export type KubeErrorReason = typeof KubeErrorReason.Type

/** A failed Kubernetes request; match on `reason` (see {@link KubeErrorReason}). */
export class KubeError extends Schema.TaggedError<KubeError>()("KubeError", {
  reason: KubeErrorReason,
  /** verb and path, e.g. `PUT /api/v1/namespaces/default/services/web/status` */
  request: Schema.String,
  message: Schema.String,
  /** HTTP status code when the server answered */
  status: Schema.optional(Schema.Number),
  /** `Status.reason` from the server's answer (`AlreadyExists`, `Expired`, …) */
  statusReason: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect())
}) {}

/** Transient failures worth retrying with backoff as they are. A `Conflict` needs a re-read first, so it is not. */
export const isRetryable = (error: KubeError): boolean => error.reason === "Unavailable"

export const reasonOfStatus = (status: number): KubeErrorReason => {
  if (status === 404) return "NotFound"
  if (status === 409) return "Conflict"
  if (status === 410) return "Gone"
  if (status === 401 || status === 403) return "Forbidden"
  if (status === 400 || status === 422) return "Invalid"
  if (status === 429 || status >= 500) return "Unavailable"
  return "Other"
}

const StatusBody = Schema.Struct({
  message: Schema.optional(Schema.String),
  reason: Schema.optional(Schema.String),
  code: Schema.optional(Schema.Number)
})
const isStatusBody = Schema.is(StatusBody)

/** The error for a non-2xx answer; `body` is the response text, a `Status` object when the server is Kubernetes. */
export const fromResponse = (request: string, status: number, body: string): KubeError => {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    parsed = undefined
  }
  const statusBody = Predicate.isObject(parsed) && isStatusBody(parsed) ? parsed : undefined
  return new KubeError({
    reason: reasonOfStatus(status),
    request,
    status,
    message: statusBody?.message ?? (body.length > 0 ? body.slice(0, 200) : `HTTP ${status}`),
    ...(statusBody?.reason === undefined ? {} : { statusReason: statusBody.reason })
  })
}

/** The error for a request that got no answer (connection refused, reset, timeout). */
export const fromTransport = (request: string, cause: unknown): KubeError =>
  new KubeError({
    reason: "Unavailable",
    request,
    message: cause instanceof Error ? cause.message : String(cause),
    cause
  })
