/**
 * `metallb config validate FILE...`: checks configuration files before they reach a cluster. The files may mix
 * metallb.io custom resources, the legacy ConfigMap, and the Nodes, Namespaces and Secrets some rules look at; all
 * custom resources of all files are validated together, as MetalLB validates the whole configuration. Other objects
 * (Deployments, Services…) are listed as ignored.
 *
 * @since 0.1.0
 */
import { Console, Effect, Result } from "effect"
import * as Legacy from "../config/legacy/LegacyConfig.ts"
import { isFact, isMetalLB, validateObjects } from "../config/Objects.ts"
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
  flags: {
    each: {
      type: "boolean",
      description: "validate each FILE as a configuration of its own (a folder of independent examples)"
    },
    namespace: {
      type: "string",
      placeholder: "NS",
      description: "the namespace MetalLB runs in (default metallb-system); configuration elsewhere is rejected"
    }
  },
  details:
    "Files are YAML or JSON, one or more documents each (a kind: List is opened); FILE may be - for standard\n" +
    "input. All metallb.io objects of all files form one configuration. Nodes, Namespaces and Secrets in the files\n" +
    "are used by the rules that need them. Prints one line per object and exits 0 when everything is valid;\n" +
    "otherwise prints every problem as FILE:LINE:COLUMN: KIND NAME FIELD: REASON and exits 1. A reference to a\n" +
    "BFDProfile, Secret or Community alias that is not in the files is a warning: MetalLB keeps such a\n" +
    "configuration stale until the object exists, it is not wrong."
}

type Classified =
  | { readonly _tag: "Resource"; readonly doc: SourceDocument }
  | { readonly _tag: "Legacy"; readonly doc: SourceDocument }
  | { readonly _tag: "Context"; readonly doc: SourceDocument }
  | { readonly _tag: "Ignored"; readonly doc: SourceDocument }

/**
 * A ConfigMap is MetalLB's legacy configuration when it has a `config` key and is MetalLB's: in MetalLB's namespace,
 * or named as the manifests (`config`) or the Helm chart (`metallb`) name it. Other applications' ConfigMaps with a
 * `config` key are left alone.
 */
const isMetalLBConfigMap = (value: unknown, namespace: string): boolean => {
  if (!Legacy.isLegacyConfigMap(value)) return false
  const meta = metaOf(value)
  return meta.namespace === namespace || meta.name === Legacy.LEGACY_NAME || meta.name === "metallb"
}

const classify = (doc: SourceDocument, namespace: string): Classified => {
  if (isMetalLB(doc.value)) return { _tag: "Resource", doc }
  if (isMetalLBConfigMap(doc.value, namespace)) return { _tag: "Legacy", doc }
  if (isFact(doc.value)) return { _tag: "Context", doc }
  return { _tag: "Ignored", doc }
}

const label = (doc: SourceDocument): string => {
  const m = metaOf(doc.value)
  return describeObject(m.kind || "<no kind>", m.namespace, m.name)
}

const where = (doc: SourceDocument): string => `${doc.file}:${doc.locate([])?.line ?? 1}`

/** Validates the legacy ConfigMap in `doc` on its own: strict parsing, then its conversion to resources. */
const checkLegacy = (doc: SourceDocument, namespaceFlag: string | undefined): Result.Result<string, Array<Located>> => {
  const meta = metaOf(doc.value)
  const value = (doc.value as { data: { config: unknown } }).data.config
  const object = describeObject("ConfigMap", meta.namespace, meta.name)
  if (typeof value !== "string") {
    return Result.fail([{ file: doc.file, position: doc.locate(["data", "config"]), object, path: ["data", "config"], message: "expected a string" }])
  }
  const origin = doc.embeddedOrigin(["data", "config"])
  const namespace = namespaceFlag ?? (meta.namespace || Legacy.LEGACY_NAMESPACE)
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

interface Outcome {
  readonly lines: ReadonlyArray<string>
  readonly problems: ReadonlyArray<Located>
  readonly warnings: ReadonlyArray<Located>
}

/** Validates one set of documents as one configuration. */
const validateSet = (classified: ReadonlyArray<Classified>, namespace: string | undefined): Outcome => {
  const lines: Array<string> = []
  const problems: Array<Located> = []
  const warnings: Array<Located> = []
  const docs = classified.filter((c) => c._tag === "Resource" || c._tag === "Context").map((c) => c.doc)
  const validation = validateObjects(docs.map((d) => d.value), namespace === undefined ? {} : { namespace })
  const failed = new Set<SourceDocument>()
  const locate = (kind: string, name: string, path: ReadonlyArray<string | number>, message: string): Located => {
    const doc = findDoc(docs, kind, name)
    return {
      file: doc?.file ?? "<configuration>",
      position: doc?.locate(path),
      object: doc === undefined ? describeObject(kind, "", name) : label(doc),
      path,
      message
    }
  }
  for (const e of validation.errors) {
    const located = locate(e.kind, e.name, e.path, e.reason)
    if (e.transient) warnings.push({ ...located, message: `${e.reason} (not in the files: the configuration stays stale until it exists)` })
    else {
      const doc = findDoc(docs, e.kind, e.name)
      if (doc !== undefined) failed.add(doc)
      problems.push(located)
    }
  }
  for (const w of validation.warnings) warnings.push(locate(w.kind, w.name, w.path, w.message))

  for (const c of classified) {
    switch (c._tag) {
      case "Resource":
        if (!failed.has(c.doc)) lines.push(`${where(c.doc)}: ${label(c.doc)}: valid`)
        break
      case "Legacy":
        Result.match(checkLegacy(c.doc, namespace), {
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
  return { lines, problems, warnings }
}

export const run = (args: Parsed): Effect.Effect<number> =>
  Effect.gen(function*() {
    const flag = args.flags["namespace"]
    const namespace = typeof flag === "string" && flag !== "" ? flag : undefined
    const sets: Array<Array<Classified>> = []
    const problems: Array<Located> = []
    const lines: Array<string> = []
    const warnings: Array<Located> = []
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
      const classified = documents.map((d) => classify(d, namespace ?? Legacy.LEGACY_NAMESPACE))
      const last = sets[sets.length - 1]
      if (args.flags["each"] === true || last === undefined) sets.push(classified)
      else last.push(...classified)
    }
    for (const set of sets) {
      const outcome = validateSet(set, namespace)
      lines.push(...outcome.lines)
      problems.push(...outcome.problems)
      warnings.push(...outcome.warnings)
    }

    for (const line of lines) yield* Console.log(line)
    for (const w of warnings) yield* Console.error(`warning: ${formatLocated(w)}`)
    for (const p of problems) yield* Console.error(formatLocated(p))
    if (problems.length > 0) {
      yield* Console.error(`${problems.length} problem(s) found`)
      return 1
    }
    return 0
  })
