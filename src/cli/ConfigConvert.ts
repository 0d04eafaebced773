/**
 * `metallb config convert FILE`: the legacy ConfigMap (MetalLB 0.7–0.12) to the equivalent custom resources, as
 * MetalLB's configmaptocrs does, on stdout. The legacy configuration is checked strictly first and the generated
 * resources are validated before anything is printed.
 *
 * @since 0.1.0
 */
import { Console, Effect, Result } from "effect"
import * as Convert from "../config/legacy/Convert.ts"
import * as Legacy from "../config/legacy/LegacyConfig.ts"
import { validateObjects } from "../config/Objects.ts"
import { parseSource, type SourceDocument } from "../config/YamlSource.ts"
import type { CommandSpec, Parsed } from "./Args.ts"
import { describeObject, formatLocated, type Located, metaOf, readText } from "./Input.ts"

export const spec: CommandSpec = {
  path: ["config", "convert"],
  summary: "Convert the legacy MetalLB ConfigMap (0.7-0.12) to metallb.io custom resources, printed as YAML on stdout.",
  positionals: "FILE",
  minPositionals: 1,
  maxPositionals: 1,
  flags: {
    "only-data": {
      type: "boolean",
      description: "FILE holds only the ConfigMap's config document, not the whole ConfigMap"
    },
    namespace: {
      type: "string",
      placeholder: "NS",
      description: "namespace of the resources (default: the ConfigMap's namespace, else metallb-system)"
    }
  },
  details:
    "FILE may be - for standard input. Output objects are named like configmaptocrs names them: peer1..., the pool\n" +
    "names, bgpadvertisement1..., l2advertisement1..., communities. Exit status 1 when the input is not valid."
}

interface LegacyInput {
  readonly text: string
  readonly origin: Legacy.TextOrigin | null
  readonly namespace: string
  readonly object: string
  readonly doc: SourceDocument | undefined
}

/** Finds the one ConfigMap with a `config` key in the file. */
const findConfigMap = (file: string, text: string): Result.Result<LegacyInput, Array<Located>> => {
  const { documents, errors } = parseSource(file, text)
  if (errors.length > 0) return Result.fail(errors.map((e) => ({ file, position: e.position, message: e.message })))
  const maps = documents.filter((d) => Legacy.isLegacyConfigMap(d.value))
  const first = maps[0]
  if (first === undefined) {
    const kinds = documents.map((d) => metaOf(d.value).kind || "<no kind>")
    return Result.fail([{
      file,
      message: kinds.length === 0
        ? "no ConfigMap in the file (use --only-data for a bare config document)"
        : `no ConfigMap with a "config" key in the file (found ${kinds.join(", ")}; use --only-data for a bare config document)`
    }])
  }
  if (maps.length > 1) {
    return Result.fail([{ file, position: maps[1]?.locate([]), message: "more than one legacy ConfigMap in the file: convert one at a time" }])
  }
  const value = (first.value as { data: { config: unknown } }).data.config
  const meta = metaOf(first.value)
  if (typeof value !== "string" || value.trim() === "") {
    return Result.fail([{ file, position: first.locate(["data", "config"]), message: "bad ConfigMap: no data" }])
  }
  const origin = first.embeddedOrigin(["data", "config"])
  return Result.succeed({
    text: value,
    origin: origin === undefined ? null : { lineOffset: origin.line, columnOffset: origin.column },
    namespace: meta.namespace,
    object: describeObject("ConfigMap", meta.namespace, meta.name),
    doc: first
  })
}

/** The converted resources for a legacy input, or every located problem. */
export const convertText = (
  file: string,
  input: LegacyInput,
  namespace: string
): Result.Result<Array<Convert.Resource>, Array<Located>> => {
  const prefix: ReadonlyArray<string> = input.doc === undefined ? [] : ["data", "config"]
  const legacy = Legacy.parseText(input.text, input.origin)
  const located = (issues: ReadonlyArray<Legacy.Issue>): Array<Located> =>
    issues.map((i) => ({
      file,
      position: i.line === undefined ? input.doc?.locate(prefix) : { line: i.line, column: i.column ?? 1 },
      object: input.object,
      path: [...prefix, ...i.path],
      message: i.message
    }))
  if (Result.isFailure(legacy)) return Result.fail(located(legacy.failure))
  const resources = Convert.toResources(legacy.success, namespace)
  if (Result.isFailure(resources)) return Result.fail(located(resources.failure))
  // configmaptocrs checks its output with MetalLB's parser; so do we, with ours.
  const problems = validateObjects(resources.success, { namespace }).errors
  if (problems.length > 0) {
    return Result.fail(
      problems.map((p) => ({
        file,
        object: `converted ${describeObject(p.kind, namespace, p.name)}`,
        path: p.path,
        message: p.reason
      }))
    )
  }
  return Result.succeed(resources.success)
}

/** The legacy config text of `file`: the whole text with `onlyData`, else the one legacy ConfigMap in it. */
export const legacyInput = (file: string, text: string, onlyData: boolean): Result.Result<LegacyInput, Array<Located>> =>
  onlyData
    ? Result.succeed({ text, origin: { lineOffset: 0, columnOffset: 0 }, namespace: "", object: "config", doc: undefined })
    : findConfigMap(file, text)

export const run = (args: Parsed): Effect.Effect<number> =>
  Effect.gen(function*() {
    const file = args.positionals[0] ?? "-"
    const text = yield* readText(file)
    const input = legacyInput(file, text, args.flags["only-data"] === true)
    const result = Result.flatMap(input, (i) => {
      const flag = args.flags["namespace"]
      const namespace = typeof flag === "string" && flag !== "" ? flag : i.namespace || Legacy.LEGACY_NAMESPACE
      return convertText(file, i, namespace)
    })
    if (Result.isFailure(result)) {
      for (const l of result.failure) yield* Console.error(formatLocated(l))
      return 1
    }
    yield* Effect.sync(() => process.stdout.write(Convert.toYaml(result.success)))
    return 0
  }).pipe(Effect.catchTag("InputError", (e) => Console.error(e.message).pipe(Effect.as(1))))
