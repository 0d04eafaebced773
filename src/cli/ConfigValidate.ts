/**
 * `metallb config validate FILE...`: checks configuration files before they reach a cluster. The files may mix
 * metallb.io custom resources, the legacy ConfigMap, and the Nodes, Namespaces and Secrets some rules look at; all
 * custom resources of all files are validated together, as MetalLB validates the whole configuration. Other objects
 * (Deployments, Services…) are listed as ignored.
 *
 * @since 0.1.0
 */
import { Console, Effect, Result } from "effect"
import * as Convert from "../config/legacy/Convert.ts"
import * as Legacy from "../config/legacy/LegacyConfig.ts"
import { parseSource, type SourceDocument } from "../config/YamlSource.ts"
import type { CommandSpec, Parsed } from "./Args.ts"
import { convertText } from "./ConfigConvert.ts"
import { describeObject, formatLocated, type Located, metaOf, readText } from "./Input.ts"

export const spec: CommandSpec = {
  path: ["config", "validate"],
  summary: "Validate MetalLB configuration files: metallb.io resources and/or the legacy ConfigMap.",
  positionals: "FILE...",
  minPositionals: 1,
  maxPositionals: Number.POSITIVE_INFINITY,
  flags: {},
  details:
    "Files are YAML or JSON, one or more documents each (a kind: List is opened); FILE may be - for standard\n" +
    "input. All metallb.io objects of all files form one configuration. Nodes, Namespaces and Secrets in the files\n" +
    "are used by the rules that need them. Prints one line per object and exits 0 when everything is valid;\n" +
    "otherwise prints every problem as FILE:LINE:COLUMN: KIND NAME FIELD: REASON and exits 1."
}

const CONTEXT_KINDS = new Set(["Node", "Namespace", "Secret"])

type Classified =
  | { readonly _tag: "Resource"; readonly doc: SourceDocument }
  | { readonly _tag: "Legacy"; readonly doc: SourceDocument }
  | { readonly _tag: "Context"; readonly doc: SourceDocument }
  | { readonly _tag: "Ignored"; readonly doc: SourceDocument }

const classify = (doc: SourceDocument): Classified => {
  const meta = metaOf(doc.value)
  if (meta.apiVersion.startsWith("metallb.io/")) return { _tag: "Resource", doc }
  if (Legacy.isLegacyConfigMap(doc.value)) return { _tag: "Legacy", doc }
  if (meta.apiVersion === "v1" && CONTEXT_KINDS.has(meta.kind)) return { _tag: "Context", doc }
  return { _tag: "Ignored", doc }
}

const label = (doc: SourceDocument): string => {
  const m = metaOf(doc.value)
  return describeObject(m.kind || "<no kind>", m.namespace, m.name)
}

const where = (doc: SourceDocument): string => `${doc.file}:${doc.locate([])?.line ?? 1}`

/** Validates the legacy ConfigMap in `doc` on its own: strict parsing, then its conversion to resources. */
const checkLegacy = (doc: SourceDocument): Result.Result<string, Array<Located>> => {
  const meta = metaOf(doc.value)
  const value = (doc.value as { data: { config: unknown } }).data.config
  const object = describeObject("ConfigMap", meta.namespace, meta.name)
  if (typeof value !== "string") {
    return Result.fail([{ file: doc.file, position: doc.locate(["data", "config"]), object, path: ["data", "config"], message: "expected a string" }])
  }
  const origin = doc.embeddedOrigin(["data", "config"])
  const namespace = meta.namespace || Legacy.LEGACY_NAMESPACE
  const converted = convertText(
    doc.file,
    { text: value, origin: origin === undefined ? null : { lineOffset: origin.line, columnOffset: origin.column }, namespace, object, doc },
    namespace
  )
  return Result.map(converted, (resources) => {
    const count = (kind: string) => resources.filter((r) => r.kind === kind).length
    return `valid legacy configuration: ${count("BGPPeer")} peer(s), ${count("IPAddressPool")} pool(s), ${count("BFDProfile")} BFD profile(s) -> ${resources.length} custom resource(s)`
  })
}

/** The source document an error names, by kind and name. */
const findDoc = (docs: ReadonlyArray<SourceDocument>, kind: string, name: string): SourceDocument | undefined =>
  docs.find((d) => {
    const m = metaOf(d.value)
    return m.kind === kind && m.name === name
  })

export const run = (args: Parsed): Effect.Effect<number> =>
  Effect.gen(function*() {
    const problems: Array<Located> = []
    const lines: Array<string> = []
    const classified: Array<Classified> = []
    for (const file of args.positionals) {
      const text = yield* readText(file).pipe(
        Effect.catchTag("InputError", (e) => Effect.sync(() => {
          problems.push({ file: e.file, message: e.reason })
          return undefined
        }))
      )
      if (text === undefined) continue
      const { documents, errors } = parseSource(file, text)
      for (const e of errors) problems.push({ file, position: e.position, message: `YAML: ${e.message}` })
      if (documents.length === 0 && errors.length === 0) lines.push(`${file}: no objects`)
      classified.push(...documents.map(classify))
    }

    const resources = classified.filter((c) => c._tag === "Resource").map((c) => c.doc)
    const resourceErrors = Convert.checkResources(resources.map((d) => d.value))
    const failed = new Set<SourceDocument>()
    for (const e of resourceErrors) {
      const doc = findDoc(resources, e.kind, e.name)
      if (doc !== undefined) failed.add(doc)
      problems.push({
        file: doc?.file ?? "<configuration>",
        position: doc?.locate(e.path),
        object: doc === undefined ? describeObject(e.kind, "", e.name) : label(doc),
        path: e.path,
        message: e.reason
      })
    }

    for (const c of classified) {
      switch (c._tag) {
        case "Resource":
          if (!failed.has(c.doc)) lines.push(`${where(c.doc)}: ${label(c.doc)}: valid`)
          break
        case "Legacy":
          Result.match(checkLegacy(c.doc), {
            onSuccess: (summary) => lines.push(`${where(c.doc)}: ${label(c.doc)}: ${summary}`),
            onFailure: (ls) => problems.push(...ls)
          })
          break
        case "Context":
          lines.push(`${where(c.doc)}: ${label(c.doc)}: used as context`)
          break
        case "Ignored":
          lines.push(`${where(c.doc)}: ${label(c.doc)}: ignored (not MetalLB configuration)`)
          break
      }
    }

    for (const line of lines) yield* Console.log(line)
    for (const p of problems) yield* Console.error(formatLocated(p))
    if (problems.length > 0) {
      yield* Console.error(`${problems.length} problem(s) found`)
      return 1
    }
    return 0
  })
