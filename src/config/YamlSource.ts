/**
 * YAML (and JSON, which is YAML) source files as a list of documents that remember where they came from, so that an
 * error at a field path can be reported at its file, line and column. A `kind: List` document (what
 * `kubectl get -o yaml` prints) is opened into its items.
 *
 * @since 0.1.0
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from "yaml"

export type Path = ReadonlyArray<string | number>

export interface Position {
  readonly line: number
  readonly column: number
}

/** One object of a source file. */
export interface SourceDocument {
  readonly file: string
  /** 1-based number of the YAML document in the file (an item of a List shares its document's number). */
  readonly document: number
  readonly value: unknown
  /** Where the field at `path` (relative to this object) starts; the nearest existing ancestor if it is missing. */
  readonly locate: (path: Path) => Position | undefined
  /** Where the text of the string field at `path` starts, for a block literal (`|`) whose lines map 1:1. */
  readonly embeddedOrigin: (path: Path) => Position | undefined
}

export interface SourceError {
  readonly file: string
  readonly position: Position | undefined
  readonly message: string
}

/** Start offset of the node for `path`: the key itself when the path ends at a mapping key. */
export const offsetOf = (doc: Document, path: Path): number | undefined => {
  let node: unknown = doc.contents
  let best: number | undefined = (node as Node | null)?.range?.[0]
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg))
      if (pair === undefined) return best
      best = (pair.key as Node).range?.[0] ?? best
      node = pair.value
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg] as Node | undefined
      if (item === undefined) return best
      best = item.range?.[0] ?? best
      node = item
    } else return best
  }
  return best
}

const nodeAt = (doc: Document, path: Path): unknown => doc.getIn(path, true)

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** Splits a file into its objects; YAML syntax errors are returned instead, each with its position. */
export const parseSource = (
  file: string,
  text: string
): { readonly documents: Array<SourceDocument>; readonly errors: Array<SourceError> } => {
  const lineCounter = new LineCounter()
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false })
  const pos = (offset: number | undefined): Position | undefined => {
    if (offset === undefined) return undefined
    const p = lineCounter.linePos(offset)
    return { line: p.line, column: p.col }
  }
  const documents: Array<SourceDocument> = []
  const errors: Array<SourceError> = []
  // parseAllDocuments returns an EmptyStream (no documents) for an empty file.
  const list = Array.isArray(docs) ? docs : []
  list.forEach((doc, i) => {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        errors.push({ file, position: pos(e.pos[0]), message: e.message.split("\n")[0] ?? e.code })
      }
      return
    }
    let value: unknown
    try {
      value = doc.toJS({ maxAliasCount: 100 })
    } catch (cause) {
      // An alias to no anchor, or an alias bomb: the yaml library throws while building the value.
      errors.push({ file, position: pos(doc.range[0]), message: cause instanceof Error ? cause.message : String(cause) })
      return
    }
    if (value === null || value === undefined) return
    const make = (prefix: Path, v: unknown): SourceDocument => ({
      file,
      document: i + 1,
      value: v,
      locate: (path) => pos(offsetOf(doc, [...prefix, ...path])),
      embeddedOrigin: (path) => {
        const node = nodeAt(doc, [...prefix, ...path])
        const start = isScalar(node) && node.type === "BLOCK_LITERAL" ? node.range?.[0] : undefined
        const header = pos(start)
        if (start === undefined || header === undefined) return undefined
        // The block's indentation is that of its first non-blank line.
        const lines = text.slice(start).split("\n").slice(1)
        const first = lines.find((l) => l.trim() !== "") ?? ""
        return { line: header.line, column: first.length - first.trimStart().length }
      }
    })
    if (isRecord(value) && value["kind"] === "List" && Array.isArray(value["items"])) {
      value["items"].forEach((item: unknown, k) => documents.push(make(["items", k], item)))
    } else documents.push(make([], value))
  })
  return { documents, errors }
}
