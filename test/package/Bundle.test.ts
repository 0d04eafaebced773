// The shipped program: scripts/bundle.ts makes dist/metallb.mjs (`npm run build`), the image runs it under
// `node --max-semi-space-size=1`. Bundled once for this file, next to the repository's node_modules (where the
// externals resolve from, as in the image), and run as the image runs it.
import { execFileSync, spawnSync } from "node:child_process"
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { bundle, bundleCli, externals, nodeFlags, root } from "../../scripts/bundle.ts"

const dir = mkdtempSync(join(root, "node_modules", ".cache-bundle-test-"))
const out = join(dir, "metallb.mjs")
const examples = join(root, "manifests", "examples")

/** Runs the bundle as the image does (its flags), and with type stripping off: it must not need any .ts file. */
const metallb = (...args: ReadonlyArray<string>) =>
  spawnSync(process.execPath, [...nodeFlags, "--no-experimental-strip-types", out, ...args], { cwd: root, encoding: "utf8", timeout: 60_000 })

beforeAll(async () => {
  await bundleCli(out, undefined)
}, 120_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("dist/metallb.mjs", () => {
  it("--help lists the programs and the config commands", () => {
    const r = metallb("--help")
    assert.strictEqual(r.status, 0, r.stderr)
    for (const command of ["controller", "speaker", "config validate FILE...", "config convert FILE", "sandbox"]) {
      assert.match(r.stdout, new RegExp(`^  ${command} `, "m"))
    }
  })

  it("config validate accepts the shipped examples, CRDs and legacy ConfigMaps", () => {
    const files = readdirSync(examples).filter((f) => f.endsWith(".yaml")).map((f) => join(examples, f))
    assert.isAbove(files.length, 3)
    const r = metallb("config", "validate", ...files)
    assert.strictEqual(r.status, 0, r.stderr)
    assert.match(r.stdout, /IPAddressPool metallb-system\/first-pool: valid/)
    assert.match(r.stdout, /ConfigMap metallb-system\/config: valid legacy configuration/)
  })

  it("config validate fails with the field and the reason on a bad pool", () => {
    const r = spawnSync(process.execPath, [...nodeFlags, out, "config", "validate", "-"], {
      cwd: root,
      encoding: "utf8",
      input: "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: { name: bad, namespace: metallb-system }\nspec: { addresses: [198.51.100.0/33] }\n"
    })
    assert.notStrictEqual(r.status, 0)
    assert.include(`${r.stdout}${r.stderr}`, "198.51.100.0/33")
  })

  it("keeps the externals out and loads client-node only on demand (a static import would cost ~60 MiB)", () => {
    const text = readFileSync(out, "utf8")
    assert.isTrue(text.startsWith("#!/usr/bin/env node\n"), "the bin's shebang")
    for (const name of externals.filter((e) => !e.startsWith("*"))) assert.include(text, `"${name}"`)
    assert.notMatch(text, /from\s*["']@kubernetes\/client-node["']/)
    assert.match(text, /import\(\s*["']@kubernetes\/client-node["']\s*\)/)
  })

  it("needs nothing from node_modules but its externals (effect, yaml, … are inside)", () => {
    const alone = mkdtempSync(join(tmpdir(), "metallb-bundle-alone-"))
    try {
      for (const name of externals.filter((e) => !e.startsWith("*"))) {
        mkdirSync(dirname(join(alone, "node_modules", name)), { recursive: true })
        symlinkSync(realpathSync(join(root, "node_modules", name)), join(alone, "node_modules", name))
      }
      copyFileSync(out, join(alone, "metallb.mjs"))
      const r = spawnSync(process.execPath, [...nodeFlags, join(alone, "metallb.mjs"), "config", "validate", join(examples, "bgp.yaml")], {
        cwd: alone,
        encoding: "utf8"
      })
      assert.strictEqual(r.status, 0, r.stderr)
      assert.match(r.stdout, /BGPPeer metallb-system\/\S+: valid/)
    } finally {
      rmSync(alone, { recursive: true, force: true })
    }
  })

  it("the esbuild command (flake.nix's path) builds the same file as esbuild's API", async () => {
    const require = createRequire(join(root, "node_modules", "esbuild", "package.json"))
    const binary = join(require.resolve(`@esbuild/${process.platform}-${process.arch}/package.json`), "..", "bin", "esbuild")
    const viaCli = join(dir, "cli.mjs")
    await bundle(join(root, "src", "cli", "main.ts"), viaCli, { esbuild: binary })
    assert.strictEqual(readFileSync(viaCli, "utf8"), readFileSync(out, "utf8"))
  })

  it("`node scripts/bundle.ts OUT` writes the program (what `npm run build` and the Dockerfile run)", () => {
    const viaScript = join(dir, "script.mjs")
    const log = execFileSync(process.execPath, [join(root, "scripts", "bundle.ts"), viaScript], { cwd: root, encoding: "utf8" })
    assert.include(log, viaScript)
    assert.strictEqual(readFileSync(viaScript, "utf8"), readFileSync(out, "utf8"))
  })
})
