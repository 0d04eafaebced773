/**
 * What parsing the configuration reports: errors located at an object (kind, name) and a field path, with MetalLB's
 * wording, and warnings (deprecations, references to nothing).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { formatPath } from "./Resources.ts"

export const PathSegment = Schema.Union([Schema.String, Schema.Number])

/**
 * One configuration error. `transient` marks errors that only mean "not yet": a reference to a BFDProfile, a
 * password Secret or a Community alias that does not exist (yet). The configuration is stale until it appears; it
 * is not wrong in itself (MetalLB's `TransientError`).
 */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  kind: Schema.String,
  name: Schema.String,
  path: Schema.Array(PathSegment),
  reason: Schema.String,
  transient: Schema.Boolean
}) {
  override get message(): string {
    const at = this.path.length === 0 ? "" : ` ${formatPath(this.path)}`
    return `${this.kind} ${JSON.stringify(this.name)}${at}: ${this.reason}`
  }
}

/** A non-fatal remark: deprecated fields, references that match nothing. */
export interface ConfigWarning {
  readonly kind: string
  readonly name: string
  readonly path: ReadonlyArray<string | number>
  readonly message: string
}

export const formatWarning = (w: ConfigWarning): string => {
  const at = w.path.length === 0 ? "" : ` ${formatPath(w.path)}`
  return `${w.kind} ${JSON.stringify(w.name)}${at}: ${w.message}`
}
