// `node scripts/check-barrels.ts`: loads every public barrel (the `exports` of package.json) in its own Node process
// and checks that it pulls in only the folders and packages its layer may depend on, so that `metallb-ts/bgp` never
// drags in Kubernetes or layer 2 code. Module loading is observed with `module.registerHooks`, i.e. what Node really
// evaluates, not what a regex thinks the imports are (type-only imports are erased and must not count).
//
// Prints one line per barrel and exits 1 when any barrel loads something outside its allowance.
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { registerHooks } from "node:module"
import { dirname, join, relative, sep } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const src = join(root, "src")

/**
 * What each barrel may load: folders of `src/` and packages imported directly from `src/` (their own dependencies do
 * not count). `bgp`'s session layer uses `native` (TCP_MD5SIG, TTL) and `observability` (metrics); the HTTP clients
 * and servers take `node:http` from `platform` (loaded without undici).
 */
export const allowances: Readonly<Record<string, { readonly folders: ReadonlyArray<string>; readonly packages: ReadonlyArray<string> }>> = {
  net: { folders: ["net"], packages: ["effect"] },
  config: { folders: ["config", "net"], packages: ["effect", "yaml"] },
  allocator: { folders: ["allocator", "net"], packages: ["effect"] },
  bgp: { folders: ["bgp", "net", "native", "observability"], packages: ["effect", "fast-check", "@metallb-ts/native"] },
  k8s: { folders: ["k8s", "platform"], packages: ["effect", "@kubernetes/client-node"] },
  election: { folders: ["election", "k8s", "platform"], packages: ["effect", "@kubernetes/client-node"] },
  layer2: {
    folders: ["layer2", "net", "native", "observability"],
    packages: ["effect", "@metallb-ts/native", "raw-socket"]
  },
  testing: { folders: ["testing", "platform"], packages: ["effect", "yaml"] }
}

export interface Loaded {
  readonly folders: ReadonlyArray<string>
  readonly packages: ReadonlyArray<string>
}

const packageName = (specifier: string): string => {
  const parts = specifier.split("/")
  return (specifier.startsWith("@") ? parts.slice(0, 2) : parts.slice(0, 1)).join("/")
}

/** Child mode: import one barrel and print which src folders and direct packages were loaded. */
const load = async (barrel: string): Promise<void> => {
  const folders = new Set<string>()
  const packages = new Set<string>()
  registerHooks({
    resolve: (specifier, context, next) => {
      const result = next(specifier, context)
      const parent = context.parentURL?.startsWith("file:") ? fileURLToPath(context.parentURL) : undefined
      const fromSrc = parent !== undefined && parent.startsWith(src + sep)
      if (result.url.startsWith("file:")) {
        const file = fileURLToPath(result.url)
        if (file.startsWith(src + sep)) folders.add(relative(src, file).split(sep)[0] ?? "")
      }
      if (fromSrc && !specifier.startsWith(".") && !specifier.startsWith("node:") && !specifier.startsWith("file:")) {
        packages.add(packageName(specifier))
      }
      return result
    }
  })
  await import(pathToFileURL(join(src, barrel, "index.ts")).href)
  const loaded: Loaded = { folders: [...folders].toSorted(), packages: [...packages].toSorted() }
  process.stdout.write(`${JSON.stringify(loaded)}\n`)
}

/** The subpaths of the package's `exports` that are barrels (`./x` → `x`). */
export const barrels = (): ReadonlyArray<string> => {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { exports: Record<string, unknown> }
  return Object.keys(pkg.exports)
    .filter((k) => k !== "./package.json")
    .map((k) => k.slice(2))
}

/** Loads `barrel` in a fresh Node process and returns what it loaded. */
export const loadedBy = (barrel: string): Loaded => {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--load", barrel], { encoding: "utf8" })
  if (child.status !== 0) throw new Error(`loading ${barrel} failed:\n${child.stderr}`)
  return JSON.parse(child.stdout.trim().split("\n").at(-1) ?? "{}") as Loaded
}

/** The problems of one barrel: an unknown barrel, or folders and packages outside its allowance. */
export const violations = (barrel: string, loaded: Loaded): ReadonlyArray<string> => {
  const allowed = allowances[barrel]
  if (allowed === undefined) return [`no allowance declared for ${barrel} in scripts/check-barrels.ts`]
  return [
    ...loaded.folders.filter((f) => !allowed.folders.includes(f)).map((f) => `loads src/${f}/`),
    ...loaded.packages.filter((p) => !allowed.packages.includes(p)).map((p) => `imports package ${p}`)
  ]
}

if (import.meta.main) {
  const [flag, barrel] = process.argv.slice(2)
  if (flag === "--load" && barrel !== undefined) {
    await load(barrel)
  } else {
    let failed = false
    for (const b of barrels()) {
      const loaded = loadedBy(b)
      const problems = violations(b, loaded)
      failed ||= problems.length > 0
      console.log(`${problems.length === 0 ? "ok  " : "FAIL"} metallb-ts/${b}: ${loaded.folders.join(", ")} | ${loaded.packages.join(", ")}`)
      for (const p of problems) console.log(`     ${p}`)
    }
    process.exitCode = failed ? 1 : 0
  }
}
