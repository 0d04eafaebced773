/**
 * What the `config` commands share: reading input files (or stdin for `-`) and printing located problems in one
 * format, `FILE:LINE:COLUMN: KIND NAME FIELD: REASON`, that editors and CI logs link to.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { readFile } from "node:fs/promises"
import { formatPath } from "../config/Resources.ts"
import type { Position } from "../config/YamlSource.ts"

export class InputError extends Schema.TaggedError<InputError>()("InputError", {
  file: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.file}: ${this.reason}`
  }
}

const readStdin = (): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    process.stdin.on("data", (c: Buffer) => chunks.push(c))
    process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    process.stdin.on("error", reject)
  })

/** The text of `file`; `-` is standard input. */
export const readText = (file: string): Effect.Effect<string, InputError> =>
  Effect.tryPromise({
    try: () => (file === "-" ? readStdin() : readFile(file, "utf8")),
    catch: (cause) =>
      new InputError({
        file,
        reason:
          typeof cause === "object" && cause !== null && "code" in cause && cause.code === "ENOENT"
            ? "no such file"
            : `cannot read: ${String(cause)}`
      })
  })

export interface Located {
  readonly file: string
  readonly position?: Position | undefined
  /** `IPAddressPool "first-pool"`, or empty when the problem is not inside an object. */
  readonly object?: string | undefined
  readonly path?: ReadonlyArray<string | number> | undefined
  readonly message: string
}

export const describeObject = (kind: string, namespace: string | undefined, name: string): string =>
  `${kind} ${namespace === undefined || namespace === "" ? "" : `${namespace}/`}${name === "" ? "<unnamed>" : name}`

export const formatLocated = (l: Located): string => {
  const where = l.position === undefined ? l.file : `${l.file}:${l.position.line}:${l.position.column}`
  const object = l.object === undefined || l.object === "" ? "" : ` ${l.object}`
  const path = l.path === undefined || l.path.length === 0 ? "" : ` ${formatPath(l.path)}`
  return `${where}:${object}${path}${object === "" && path === "" ? "" : ":"} ${l.message}`
}

const str = (u: unknown): string => (typeof u === "string" ? u : "")

/** A short `ns/name` of a Kubernetes object value, tolerant of anything. */
export const metaOf = (value: unknown): { readonly kind: string; readonly apiVersion: string; readonly namespace: string; readonly name: string } => {
  const o = typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {}
  const meta = typeof o["metadata"] === "object" && o["metadata"] !== null ? (o["metadata"] as Record<string, unknown>) : {}
  return { kind: str(o["kind"]), apiVersion: str(o["apiVersion"]), namespace: str(meta["namespace"]), name: str(meta["name"]) }
}
