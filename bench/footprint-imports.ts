// `npm run bench -- footprint-imports [--runs N]`: what importing each piece costs in resident memory.
// Every row is a fresh `node --expose-gc bench/footprint/probe.mjs SPEC...` (import, settle 1 s, GC twice, settle
// 0.5 s, process.memoryUsage()); N runs (default 3), min and median RSS in MiB, and the delta against bare Node.
// The last rows are esbuild bundles of the same module sets (minified, tree-shaken), and the module graphs of our
// entries (modules and source bytes per package) follow the table. docs/design/footprint.md discusses the figures.
import { execFileSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { bundle } from "../scripts/bundle.ts"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const argv = process.argv.slice(2)
const runsIndex = argv.indexOf("--runs")
const runs = Number(runsIndex >= 0 ? argv[runsIndex + 1] : "3")
const probe = join(root, "bench/footprint/probe.mjs")
const outDir = join(root, "node_modules/.cache/footprint")
mkdirSync(outDir, { recursive: true })

interface ProbeResult {
  readonly rss: number
  readonly heapUsed: number
  readonly modules?: number
  readonly groups?: Record<string, { modules: number; bytes: number }>
}

const run = (specs: ReadonlyArray<string>, graph = false): ProbeResult =>
  JSON.parse(execFileSync(process.execPath, ["--expose-gc", probe, ...(graph ? ["--graph"] : []), ...specs], {
    cwd: root,
    encoding: "utf8"
  }).trim().split("\n").at(-1) ?? "{}") as ProbeResult

const effectUsed = ["Context", "Duration", "Effect", "Layer", "Option", "Predicate", "Queue", "Result", "Schedule", "Schema", "Stream", "Deferred", "PubSub"]
  .map((m) => `effect/${m}`)

/** The core modules the programs import (without running them). */
const programModules = ["./bench/footprint/Programs.ts"]

/** A one-line module importing `specs`, bundled; returns its path relative to the root (for the probe). */
const bundled = async (name: string, specs: ReadonlyArray<string>): Promise<string> => {
  const entry = join(outDir, `${name}.entry.ts`)
  writeFileSync(entry, specs.map((s, i) => {
    const target = s.startsWith("./") ? relative(outDir, join(root, s)) : s
    return `import * as m${i} from ${JSON.stringify(target.startsWith(".") ? target : s.startsWith("./") ? `./${target}` : target)}\nexport { m${i} }\n`
  }).join(""))
  const out = await bundle(entry, join(outDir, `${name}.mjs`))
  return `./${relative(root, out)}`
}

const cases: Array<readonly [string, ReadonlyArray<string>]> = [
  ["bare Node 24 (the probe only)", []],
  ["+ one .ts file (Node's type stripper)", ["./bench/footprint/empty.ts"]],
  ["effect (the barrel)", ["effect"]],
  [`effect subpaths we use (${effectUsed.length})`, effectUsed],
  ["effect/Effect", ["effect/Effect"]],
  ["effect/Schema", ["effect/Schema"]],
  ["@effect/platform-node/NodeRuntime", ["@effect/platform-node/NodeRuntime"]],
  ["@effect/platform-node (barrel)", ["@effect/platform-node"]],
  ["@kubernetes/client-node", ["@kubernetes/client-node"]],
  ["client-node KubeConfig only (dist/config.js)", ["@kubernetes/client-node/dist/config.js"]],
  ["yaml", ["yaml"]],
  ["src/k8s/KubeClient.ts + Informer.ts", ["./src/k8s/KubeClient.ts", "./src/k8s/Informer.ts"]],
  ["the programs' modules (source)", programModules]
]

const rows: Array<{ label: string; min: number; median: number }> = []
const mib = (b: number) => Math.round((b / 1048576) * 10) / 10
const measure = (label: string, specs: ReadonlyArray<string>) => {
  const rss = Array.from({ length: runs }, () => run(specs).rss).toSorted((a, b) => a - b)
  rows.push({ label, min: mib(rss[0] ?? 0), median: mib(rss[Math.floor((rss.length - 1) / 2)] ?? 0) })
}
for (const [label, specs] of cases) measure(label, specs)
measure("effect subpaths we use, bundled", [await bundled("effect-subpaths", effectUsed)])
measure("effect barrel (same names), bundled", [await bundled("effect-barrel", ["effect"])])
measure("the programs' modules, bundled", [await bundled("programs", programModules)])
measure("the programs' modules + src/cli/main.ts, bundled", [await bundled("programs-cli", [...programModules, "./src/cli/main.ts"])])

const bare = rows[0]?.median ?? 0
console.log(`import cost: RSS in MiB after GC, ${runs} fresh processes each (min / median, Δ = median − bare Node)`)
for (const r of rows) console.log(`${r.label.padEnd(48)}${String(r.min).padStart(8)}${String(r.median).padStart(8)}${`Δ ${Math.round((r.median - bare) * 10) / 10}`.padStart(10)}`)

console.log("\nmodule graphs (modules / KiB of source per package):")
for (const [label, specs] of [["src/k8s/KubeClient.ts + Informer.ts", ["./src/k8s/KubeClient.ts", "./src/k8s/Informer.ts"]], ["the programs' modules", programModules], ["src/cli/main.ts", ["./src/cli/main.ts"]]] as const) {
  const g = run(specs, true)
  const parts = Object.entries(g.groups ?? {}).toSorted(([, a], [, b]) => b.bytes - a.bytes)
    .map(([name, v]) => `${name} ${v.modules}/${Math.round(v.bytes / 1024)}`)
  console.log(`${label}: ${g.modules ?? 0} modules: ${parts.join(", ")}`)
}

const figure = (label: string) => rows.find((r) => r.label === label)?.median ?? null
console.log(JSON.stringify({
  bench: "footprint-imports",
  bareMiB: bare,
  typeStrippingMiB: figure("+ one .ts file (Node's type stripper)"),
  effectBarrelMiB: figure("effect (the barrel)"),
  effectSubpathsMiB: figure(`effect subpaths we use (${effectUsed.length})`),
  clientNodeMiB: figure("@kubernetes/client-node"),
  programsSourceMiB: figure("the programs' modules (source)"),
  programsBundledMiB: figure("the programs' modules, bundled")
}))
