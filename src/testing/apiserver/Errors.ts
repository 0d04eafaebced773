/**
 * API errors as Kubernetes `Status` objects (kind Status, apiVersion v1), with the reasons and messages kubectl and
 * client-go recognise.
 */
import type { JsonObject } from "./Json.ts"

export interface Cause {
  readonly reason: string
  readonly message: string
  readonly field: string
}

/** An error that the HTTP layer turns into a Status response. */
export class ApiError extends Error {
  readonly code: number
  readonly reason: string
  readonly details: JsonObject | undefined

  constructor(code: number, reason: string, message: string, details?: JsonObject) {
    super(message)
    this.code = code
    this.reason = reason
    this.details = details
  }

  toStatus(): JsonObject {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(this.details === undefined ? {} : { details: this.details }),
      code: this.code
    }
  }
}

interface Target {
  readonly resource: string
  readonly group: string
  readonly name: string
}

const qualified = (t: Target) => (t.group === "" ? t.resource : `${t.resource}.${t.group}`)
const details = (t: Target): JsonObject => ({ name: t.name, group: t.group, kind: t.resource })

export const notFound = (t: Target) =>
  new ApiError(404, "NotFound", `${qualified(t)} "${t.name}" not found`, details(t))

export const pathNotFound = () => new ApiError(404, "NotFound", "the server could not find the requested resource")

export const alreadyExists = (t: Target) =>
  new ApiError(409, "AlreadyExists", `${qualified(t)} "${t.name}" already exists`, details(t))

export const conflict = (t: Target) =>
  new ApiError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualified(t)} "${t.name}": the object has been modified; please apply your changes to the latest version and try again`,
    details(t)
  )

export const invalid = (kind: string, group: string, name: string, causes: ReadonlyArray<Cause>) =>
  new ApiError(
    422,
    "Invalid",
    `${kind} "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(", ")}`,
    { name, group, kind, causes: causes.map((c) => ({ ...c })) }
  )

export const badRequest = (message: string) => new ApiError(400, "BadRequest", message)

export const gone = (message: string) => new ApiError(410, "Expired", message)

export const methodNotAllowed = () => new ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

export const unsupportedMediaType = (accepted: ReadonlyArray<string>) =>
  new ApiError(
    415,
    "UnsupportedMediaType",
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`
  )

export const serviceUnavailable = (message: string) => new ApiError(503, "ServiceUnavailable", message)

export const successStatus = (t: Target & { readonly uid: string }): JsonObject => ({
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Success",
  details: { ...details(t), uid: t.uid }
})
