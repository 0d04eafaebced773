/**
 * The public decode/encode API of the `metallb.io` objects: decoding an unknown value gives either the typed object
 * or every issue, each with its field path. `decodeAny` dispatches on `apiVersion` + `kind`.
 *
 * @since 0.1.0
 */
import { Result, Schema, SchemaIssue, SchemaParser } from "effect"
import { BFDProfile } from "./crds/BFDProfile.ts"
import { BGPAdvertisement } from "./crds/BGPAdvertisement.ts"
import { BGPPeerV1beta1, BGPPeerV1beta2 } from "./crds/BGPPeer.ts"
import { Community } from "./crds/Community.ts"
import { ConfigurationState } from "./crds/ConfigurationState.ts"
import { IPAddressPool } from "./crds/IPAddressPool.ts"
import { L2Advertisement } from "./crds/L2Advertisement.ts"
import { ServiceBGPStatus, ServiceL2Status } from "./crds/ServiceStatus.ts"

export type Path = ReadonlyArray<string | number>

/** One decoding problem: where (path from the object root) and what. */
export interface Issue {
  readonly path: Path
  readonly message: string
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

const toPath = (path: ReadonlyArray<PropertyKey>): Path =>
  path.map((p) => (typeof p === "number" ? p : typeof p === "string" && /^(0|[1-9][0-9]*)$/.test(p) ? Number(p) : String(p)))

/** The issues of a failed Schema parse, flattened with their paths. */
export const issuesOf = (issue: SchemaIssue.Issue): ReadonlyArray<Issue> =>
  formatter(issue).issues.map((i) => ({ path: toPath((i.path ?? []).map((p) => (typeof p === "object" ? p.key : p))), message: i.message }))

/** A decoder for one Schema that reports every issue (not only the first). */
export const decoder = <S extends Schema.Top & { readonly DecodingServices: never }>(schema: S) => {
  const parse = SchemaParser.decodeUnknownResult(schema)
  return (input: unknown): Result.Result<S["Type"], ReadonlyArray<Issue>> =>
    Result.mapError(parse(input, { errors: "all", reportInput: true }), issuesOf)
}

/** An encoder back to the wire (JSON-ready) form. */
export const encoder = <S extends Schema.Top & { readonly EncodingServices: never }>(schema: S) => {
  const encode = SchemaParser.encodeResult(schema)
  return (value: S["Type"]): Result.Result<S["Encoded"], ReadonlyArray<Issue>> =>
    Result.mapError(encode(value, { errors: "all" }), issuesOf)
}

export const decodeIPAddressPool = decoder(IPAddressPool)
export const decodeL2Advertisement = decoder(L2Advertisement)
export const decodeBGPAdvertisement = decoder(BGPAdvertisement)
export const decodeBGPPeer = decoder(BGPPeerV1beta2)
export const decodeBGPPeerV1beta1 = decoder(BGPPeerV1beta1)
export const decodeBFDProfile = decoder(BFDProfile)
export const decodeCommunity = decoder(Community)
export const decodeServiceL2Status = decoder(ServiceL2Status)
export const decodeServiceBGPStatus = decoder(ServiceBGPStatus)
export const decodeConfigurationState = decoder(ConfigurationState)

/** Every `metallb.io` object Schema, keyed by `apiVersion/kind`. */
export const schemas = {
  "metallb.io/v1beta1/IPAddressPool": IPAddressPool,
  "metallb.io/v1beta1/L2Advertisement": L2Advertisement,
  "metallb.io/v1beta1/BGPAdvertisement": BGPAdvertisement,
  "metallb.io/v1beta1/BGPPeer": BGPPeerV1beta1,
  "metallb.io/v1beta2/BGPPeer": BGPPeerV1beta2,
  "metallb.io/v1beta1/BFDProfile": BFDProfile,
  "metallb.io/v1beta1/Community": Community,
  "metallb.io/v1beta1/ServiceL2Status": ServiceL2Status,
  "metallb.io/v1beta1/ServiceBGPStatus": ServiceBGPStatus,
  "metallb.io/v1beta1/ConfigurationState": ConfigurationState
} as const

export type SchemaKey = keyof typeof schemas
export type AnyResource = (typeof schemas)[SchemaKey]["Type"]

export const AnyResource = Schema.Union(Object.values(schemas))

const decoders: Record<string, (input: unknown) => Result.Result<AnyResource, ReadonlyArray<Issue>>> = Object.fromEntries(
  Object.entries(schemas).map(([key, schema]) => [key, decoder(schema)])
)

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Decodes any `metallb.io` object, choosing the Schema from `apiVersion` and `kind`; an unknown pair is one issue
 * at `kind` (or `apiVersion`).
 */
export const decodeAny = (input: unknown): Result.Result<AnyResource, ReadonlyArray<Issue>> => {
  if (!isRecord(input)) return Result.fail([{ path: [], message: "Expected an object" }])
  const decode = decoders[`${String(input["apiVersion"])}/${String(input["kind"])}`]
  if (decode === undefined) {
    const known = Object.keys(schemas).some((k) => k.endsWith(`/${String(input["kind"])}`))
    return Result.fail([{
      path: [known ? "apiVersion" : "kind"],
      message: known
        ? `unsupported apiVersion ${JSON.stringify(input["apiVersion"])} for kind ${String(input["kind"])}`
        : `unknown kind ${JSON.stringify(input["kind"])} in ${JSON.stringify(input["apiVersion"])}`
    }])
  }
  return decode(input)
}

const encodeUnion = encoder(AnyResource)

/** Encodes any `metallb.io` object to its wire form. */
export const encodeAny = (value: AnyResource): Result.Result<unknown, ReadonlyArray<Issue>> => encodeUnion(value)

/** A one-line rendering of issues: `spec.addresses[0]: Expected string`. */
export const formatPath = (path: Path): string =>
  path.reduce<string>(
    (acc, p) => (typeof p === "number" ? `${acc}[${p}]` : acc === "" ? p : `${acc}.${p}`),
    ""
  )

export const formatIssues = (issues: ReadonlyArray<Issue>): string =>
  issues.map((i) => (i.path.length === 0 ? i.message : `${formatPath(i.path)}: ${i.message}`)).join("; ")
