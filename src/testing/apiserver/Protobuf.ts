/**
 * Just enough of Kubernetes' protobuf encoding to accept what kubectl's generator commands send
 * (`kubectl create namespace|configmap|secret generic`): since kubectl 1.32 their typed clients POST
 * `application/vnd.kubernetes.protobuf` without a JSON fallback. Other kinds are refused (415) by the caller.
 *
 * The envelope is the magic `k8s\0` followed by a `runtime.Unknown` message (typeMeta, raw object bytes); the object
 * messages follow k8s.io/api's generated.proto field numbers.
 */
import { Result } from "effect"
import { type Json, type JsonObject, obj, str } from "./Json.ts"

type Scalar = "string" | "bytes" | "bool" | "int"

interface Field {
  readonly name: string
  readonly type: Scalar | Schema
  readonly repeated?: boolean
  /** A `map<string, V>` field: entries are messages {1: key, 2: value}. */
  readonly mapOf?: Scalar
}

interface Schema {
  readonly [fieldNumber: number]: Field
}

const objectMeta: Schema = {
  1: { name: "name", type: "string" },
  2: { name: "generateName", type: "string" },
  3: { name: "namespace", type: "string" },
  11: { name: "labels", type: "string", mapOf: "string" },
  12: { name: "annotations", type: "string", mapOf: "string" },
  14: { name: "finalizers", type: "string", repeated: true }
}

/** Object schemas by `apiVersion/kind`. */
const schemas: Readonly<Record<string, Schema>> = {
  "v1/Namespace": {
    1: { name: "metadata", type: objectMeta },
    2: { name: "spec", type: { 1: { name: "finalizers", type: "string", repeated: true } } }
  },
  "v1/ConfigMap": {
    1: { name: "metadata", type: objectMeta },
    2: { name: "data", type: "string", mapOf: "string" },
    3: { name: "binaryData", type: "bytes", mapOf: "bytes" },
    4: { name: "immutable", type: "bool" }
  },
  "v1/Secret": {
    1: { name: "metadata", type: objectMeta },
    2: { name: "data", type: "bytes", mapOf: "bytes" },
    3: { name: "type", type: "string" },
    4: { name: "stringData", type: "string", mapOf: "string" },
    5: { name: "immutable", type: "bool" }
  }
}

const unknownEnvelope: Schema = {
  1: { name: "typeMeta", type: { 1: { name: "apiVersion", type: "string" }, 2: { name: "kind", type: "string" } } },
  2: { name: "raw", type: "bytes" }
}

class Reader {
  readonly buf: Uint8Array
  pos: number
  readonly end: number

  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    this.buf = buf
    this.pos = pos
    this.end = end
  }

  varint(): number {
    let result = 0
    let shift = 0
    for (;;) {
      if (this.pos >= this.end) throw new Error("truncated varint")
      const b = this.buf[this.pos++] ?? 0
      result += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) return result
      shift += 7
      if (shift > 63) throw new Error("varint too long")
    }
  }

  bytes(): Uint8Array {
    const len = this.varint()
    if (this.pos + len > this.end) throw new Error("truncated length-delimited field")
    const out = this.buf.subarray(this.pos, this.pos + len)
    this.pos += len
    return out
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint()
    else if (wireType === 1) this.pos += 8
    else if (wireType === 2) this.bytes()
    else if (wireType === 5) this.pos += 4
    else throw new Error(`unsupported wire type ${wireType}`)
    if (this.pos > this.end) throw new Error("truncated field")
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

const scalar = (r: Reader, type: Scalar, wireType: number): Json => {
  if (type === "bool" || type === "int") {
    if (wireType !== 0) throw new Error(`expected a varint, got wire type ${wireType}`)
    const v = r.varint()
    return type === "bool" ? v !== 0 : v
  }
  if (wireType !== 2) throw new Error(`expected a length-delimited field, got wire type ${wireType}`)
  const b = r.bytes()
  return type === "string" ? utf8.decode(b) : Buffer.from(b).toString("base64")
}

const decodeMessage = (buf: Uint8Array, schema: Schema): JsonObject => {
  const r = new Reader(buf)
  const out: Record<string, Json> = {}
  const lists: Record<string, Array<Json>> = {}
  const maps: Record<string, Record<string, Json>> = {}
  while (r.pos < r.end) {
    const key = r.varint()
    const fieldNumber = Math.floor(key / 8)
    const wireType = key % 8
    const field = schema[fieldNumber]
    if (field === undefined) {
      r.skip(wireType)
      continue
    }
    if (field.mapOf !== undefined) {
      if (wireType !== 2) throw new Error(`${field.name}: expected a map entry`)
      const entry = decodeMessage(r.bytes(), { 1: { name: "key", type: "string" }, 2: { name: "value", type: field.mapOf } })
      const k = typeof entry["key"] === "string" ? entry["key"] : ""
      const map = (maps[field.name] ??= {})
      map[k] = entry["value"] ?? (field.mapOf === "string" || field.mapOf === "bytes" ? "" : null)
      continue
    }
    let value: Json
    if (typeof field.type === "string") value = scalar(r, field.type, wireType)
    else {
      if (wireType !== 2) throw new Error(`${field.name}: expected a message`)
      value = decodeMessage(r.bytes(), field.type)
    }
    if (field.repeated === true) (lists[field.name] ??= []).push(value)
    else out[field.name] = value
  }
  // gogo-protobuf writes every non-pointer field: drop the zero values JSON would have omitted.
  for (const [k, v] of Object.entries(out)) if (v === "" || v === 0 || v === false) delete out[k]
  return { ...out, ...lists, ...maps }
}

const magic = [0x6b, 0x38, 0x73, 0x00]

/** Decodes a `application/vnd.kubernetes.protobuf` body into the JSON object, for the kinds listed above. */
export const decodeKubernetesProtobuf = (body: Uint8Array): Result.Result<JsonObject, string> => {
  if (body.length < 4 || magic.some((b, i) => body[i] !== b)) return Result.fail("missing the k8s protobuf magic prefix")
  try {
    const envelope = decodeMessage(body.subarray(4), unknownEnvelope)
    const typeMeta = obj(envelope["typeMeta"])
    const apiVersion = str(typeMeta["apiVersion"]) ?? ""
    const kind = str(typeMeta["kind"]) ?? ""
    const schema = schemas[`${apiVersion}/${kind}`]
    if (schema === undefined) {
      return Result.fail(`protobuf bodies are only accepted for Namespaces, ConfigMaps and Secrets, not "${apiVersion}" "${kind}"; send JSON (kubectl create -f / apply -f)`)
    }
    const raw = Buffer.from(str(envelope["raw"]) ?? "", "base64")
    return Result.succeed({ apiVersion, kind, ...decodeMessage(raw, schema) })
  } catch (e) {
    return Result.fail(`malformed protobuf body: ${e instanceof Error ? e.message : String(e)}`)
  }
}
