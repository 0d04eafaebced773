/**
 * `npm run gen:manifests` (`node src/manifests/Generate.ts [--check] [DIR]`): renders the install into DIR
 * (default `manifests`) from src/manifests and DIR/crds. With `--check` it writes nothing and exits 1 if a file
 * differs from what it would write (CI, and the drift test).
 *
 * @since 0.1.0
 */
import { Effect, Result } from "effect"
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises"
import { dirname, join } from "node:path"
import { bundle, type CrdFile, installDoc, type OutputFile } from "./Bundle.ts"

/** docs/install.md, relative to the manifests directory: its RBAC tables are generated too. */
export const InstallDocPath = "../docs/install.md"

/** Reads DIR/crds (and the install doc) and renders every file. */
export const render = (dir: string): Effect.Effect<ReadonlyArray<OutputFile>, string> =>
  Effect.gen(function*() {
    const crdDir = join(dir, "crds")
    const names = yield* Effect.tryPromise({ try: () => readdir(crdDir), catch: (e) => `cannot read ${crdDir}: ${String(e)}` })
    const crds: Array<CrdFile> = []
    for (const name of names.filter((n) => n.endsWith(".yaml"))) {
      const content = yield* Effect.tryPromise({ try: () => readFile(join(crdDir, name), "utf8"), catch: (e) => `cannot read ${name}: ${String(e)}` })
      crds.push({ name, content })
    }
    const files = bundle(crds)
    if (Result.isFailure(files)) return yield* Effect.fail(files.failure)
    const docPath = join(dir, InstallDocPath)
    const doc = installDoc(yield* Effect.tryPromise({ try: () => readFile(docPath, "utf8"), catch: (e) => `cannot read ${docPath}: ${String(e)}` }))
    if (Result.isFailure(doc)) return yield* Effect.fail(doc.failure)
    return [...files.success, { path: InstallDocPath, content: doc.success }]
  })

/** The generated files whose content on disk differs (or that are missing). */
export const stale = (dir: string): Effect.Effect<ReadonlyArray<string>, string> =>
  Effect.gen(function*() {
    const files = yield* render(dir)
    const out: Array<string> = []
    for (const f of files) {
      const current = yield* Effect.promise(() => readFile(join(dir, f.path), "utf8").catch(() => undefined))
      if (current !== f.content) out.push(f.path)
    }
    return out
  })

const write = (dir: string): Effect.Effect<ReadonlyArray<string>, string> =>
  Effect.gen(function*() {
    const files = yield* render(dir)
    for (const f of files) {
      const path = join(dir, f.path)
      yield* Effect.tryPromise({
        try: async () => {
          await mkdir(dirname(path), { recursive: true })
          await writeFile(path, f.content)
        },
        catch: (e) => `cannot write ${path}: ${String(e)}`
      })
    }
    return files.map((f) => join(dir, f.path))
  })

if (import.meta.main) {
  const args = process.argv.slice(2)
  const check = args.includes("--check")
  const dir = args.find((a) => !a.startsWith("--")) ?? "manifests"
  const program = check
    ? Effect.map(stale(dir), (paths) => {
      for (const p of paths) console.error(`out of date: ${join(dir, p)} (run npm run gen:manifests)`)
      return paths.length === 0 ? 0 : 1
    })
    : Effect.map(write(dir), (paths) => {
      for (const p of paths) console.log(`wrote ${p}`)
      return 0
    })
  Effect.runPromiseExit(program).then((exit) => {
    if (exit._tag === "Success") process.exitCode = exit.value
    else {
      console.error(String(exit.cause))
      process.exitCode = 1
    }
  })
}
