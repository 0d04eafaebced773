/**
 * Pieces shared by the `metallb.io` kinds: ObjectMeta, the object envelope (apiVersion, kind, metadata, spec,
 * status), numeric field types with their CRD ranges and formats, and the CRD descriptor CrdGen reads.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import * as LabelSelector from "../LabelSelector.ts"

export const Group = "metallb.io"

/** The part of `metav1.ObjectMeta` the configuration reads; other keys are ignored when decoding. */
export const ObjectMeta = Schema.Struct({
  name: Schema.NonEmptyString,
  namespace: Schema.optionalKey(Schema.String),
  labels: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  annotations: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  uid: Schema.optionalKey(Schema.String),
  resourceVersion: Schema.optionalKey(Schema.String),
  generation: Schema.optionalKey(Schema.Int),
  creationTimestamp: Schema.optionalKey(Schema.String)
})
export type ObjectMeta = typeof ObjectMeta.Type

const int = (minimum: number, maximum: number, format: "int32" | "int64") =>
  Schema.Int.check(Schema.isBetween({ minimum, maximum })).annotate({ format })

/** A Go `int32` field. */
export const Int32 = int(-2147483648, 2147483647, "int32")
/** A Go `uint32` field (ASNs, LOCAL_PREF): int64 in the OpenAPI schema since int32 cannot hold it. */
export const Uint32 = int(0, 4294967295, "int64")
/** A Go `int64` counter (status figures). */
export const Int64 = Schema.Int.annotate({ format: "int64" })

export const int32Between = (minimum: number, maximum: number) => int(minimum, maximum, "int32")
export const int64Between = (minimum: number, maximum: number) => int(minimum, maximum, "int64")

export const Selectors = (description: string) =>
  Schema.optionalKey(Schema.Array(LabelSelector.LabelSelector).annotate({ description }))

export const Strings = (description: string) => Schema.optionalKey(Schema.Array(Schema.String).annotate({ description }))

/**
 * The envelope of a `metallb.io` object. `spec` may be omitted on the wire (decoded as `{}`) except where the CRD
 * requires it; `status` stays optional.
 */
export const resource = <
  const Version extends string,
  const Kind extends string,
  SpecFields extends Schema.Struct.Fields,
  Status extends Schema.Top
>(options: {
  readonly version: Version
  readonly kind: Kind
  readonly description: string
  readonly spec: Schema.Struct<SpecFields>
  readonly status: Status
}) =>
  Schema.Struct({
    apiVersion: Schema.Literal(`${Group}/${options.version}` as `metallb.io/${Version}`),
    kind: Schema.Literal(options.kind),
    metadata: ObjectMeta,
    spec: options.spec.pipe(Schema.withDecodingDefaultKey(Effect.succeed({} as Schema.Struct<SpecFields>["Encoded"]))),
    status: Schema.optionalKey(options.status)
  }).annotate({ description: options.description })

export interface PrinterColumn {
  readonly name: string
  readonly type: "string" | "integer" | "boolean" | "date" | "number"
  readonly jsonPath: string
  readonly priority?: number
  readonly description?: string
}

export interface CrdVersion {
  readonly name: string
  /** The Schema of the whole object; CrdGen derives openAPIV3Schema from it. */
  readonly schema: Schema.Top
  readonly served: boolean
  readonly storage: boolean
  readonly deprecated?: boolean
  readonly deprecationWarning?: string
  readonly printerColumns: ReadonlyArray<PrinterColumn>
  /** Names of top-level keys the CRD marks required (e.g. `spec` for IPAddressPool). */
  readonly required?: ReadonlyArray<string>
}

/** Everything needed to render one CustomResourceDefinition. */
export interface CrdInfo {
  readonly kind: string
  readonly plural: string
  readonly singular: string
  readonly versions: ReadonlyArray<CrdVersion>
}

/** The CRD of a kind with one version (v1beta1, served and stored). */
export const v1beta1Crd = (options: {
  readonly kind: string
  readonly plural: string
  readonly schema: Schema.Top
  readonly printerColumns: ReadonlyArray<PrinterColumn>
  readonly required?: ReadonlyArray<string>
}): CrdInfo => ({
  kind: options.kind,
  plural: options.plural,
  singular: options.kind.toLowerCase(),
  versions: [{
    name: "v1beta1",
    schema: options.schema,
    served: true,
    storage: true,
    printerColumns: options.printerColumns,
    ...(options.required !== undefined ? { required: options.required } : {})
  }]
})
