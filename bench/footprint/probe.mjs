// One import-cost sample: `node --expose-gc bench/footprint/probe.mjs [--graph] SPEC...` imports each SPEC (a package
// specifier or a path relative to the current directory), lets the process settle, collects garbage and prints one
// JSON line: RSS and heap, and with --graph every module loaded, grouped by package (or by our own folder), with the
// bytes of source it read. Run in a fresh process per sample: RSS is only comparable between fresh processes.
// Plain JavaScript on purpose: a .ts entry would load Node's type stripper, which alone costs ~17 MiB RSS.
import { registerHooks } from "node:module"
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"

const args = process.argv.slice(2)
const graph = args.includes("--graph")
const specs = args.filter((a) => a !== "--graph")

/** @type {Map<string, number>} */
const loaded = new Map()
if (graph) {
  // Every module Node loads, ESM and CommonJS alike, passes through a synchronous load hook (Node ≥ 22.15).
  registerHooks({
    load: (url, context, nextLoad) => {
      const result = nextLoad(url, context)
      const source = result.source
      const size = source === undefined || source === null ? 0 : typeof source === "string" ? Buffer.byteLength(source) : source.byteLength
      loaded.set(url, size)
      return result
    }
  })
}

/** @param {string} spec */
const target = (spec) =>
  spec.startsWith(".") || spec.startsWith("/") ? pathToFileURL(resolve(spec)).href : spec

for (const spec of specs) await import(target(spec))

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const gc = /** @type {{ gc?: () => void }} */ (globalThis).gc
await sleep(1000)
gc?.()
gc?.()
await sleep(500)
const m = process.memoryUsage()

/** `node_modules/@scope/name` → `@scope/name`; our files → their folder (`src/k8s`); Node built-ins → `node:`. */
/** @param {string} url */
const groupOf = (url) => {
  if (!url.startsWith("file:")) return "node:"
  const path = decodeURIComponent(new URL(url).pathname)
  const nm = path.lastIndexOf("/node_modules/")
  if (nm >= 0) {
    const rest = path.slice(nm + "/node_modules/".length).split("/")
    return rest[0]?.startsWith("@") === true ? `${rest[0]}/${rest[1] ?? ""}` : (rest[0] ?? "?")
  }
  const rel = path.slice(process.cwd().length + 1).split("/")
  return rel.slice(0, Math.max(1, rel.length - 1)).join("/")
}

/** @type {Record<string, { modules: number, bytes: number }>} */
const groups = {}
for (const [url, bytes] of loaded) {
  const g = groupOf(url)
  const entry = groups[g] ?? { modules: 0, bytes: 0 }
  entry.modules += 1
  entry.bytes += bytes
  groups[g] = entry
}

console.log(JSON.stringify({
  rss: m.rss,
  heapUsed: m.heapUsed,
  heapTotal: m.heapTotal,
  external: m.external,
  ...(graph ? { modules: loaded.size, groups } : {})
}))
process.exit(0)
