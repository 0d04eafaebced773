// The package as embedders get it: the exports map, the layering of the barrels, and the compiled library used from a
// scratch project. The full `npm pack` + `npm install` takes about a minute (two native builds), so here the build
// goes straight into a scratch node_modules with the dependencies linked from this repository; `npm run pack-smoke`
// runs the same checks on a real install.
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { barrels, loadedBy, violations } from "../../scripts/check-barrels.ts"
import { bundleCli } from "../../scripts/bundle.ts"
import { checkProject, root, toolEnv } from "../../scripts/pack-smoke.ts"

interface PackageJson {
  readonly bin: Record<string, string>
  readonly exports: Record<string, string | Record<string, string>>
  readonly files: ReadonlyArray<string>
  readonly dependencies: Record<string, string>
}
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as PackageJson

const shipped = (path: string): boolean =>
  pkg.files.some((f) => (f.endsWith("/") ? path.replace(/^\.\//, "").startsWith(f) : path.replace(/^\.\//, "") === f))

describe("package.json", () => {
  it("maps every layer subpath to its barrel: source in the repo, types and JavaScript from dist", () => {
    assert.deepStrictEqual(barrels().toSorted(), ["allocator", "bgp", "config", "election", "k8s", "layer2", "net", "testing"])
    for (const name of barrels()) {
      const entry = pkg.exports[`./${name}`]
      assert.deepStrictEqual(entry, {
        "metallb-ts-source": `./src/${name}/index.ts`,
        types: `./dist/${name}/index.d.ts`,
        default: `./dist/${name}/index.js`
      })
      assert.isTrue(existsSync(join(root, "src", name, "index.ts")), `src/${name}/index.ts`)
      assert.isTrue(shipped(`./dist/${name}/index.js`) && shipped(`./dist/${name}/index.d.ts`), `${name} is in files`)
    }
  })

  it("ships the bin from dist and the native addon's sources so that an install can build it", () => {
    // The bin is the bundled program (scripts/bundle.ts), as in the image.
    assert.strictEqual(pkg.bin["metallb"], "dist/metallb.mjs")
    assert.isTrue(readFileSync(join(root, "src", "cli", "main.ts"), "utf8").startsWith("#!/usr/bin/env node\n"))
    for (const f of ["native/binding.gyp", "native/src/native.cc", "native/index.js", "native/package.json"]) {
      assert.isTrue(shipped(f), f)
    }
    assert.strictEqual(pkg.dependencies["@metallb-ts/native"], "file:native")
    // node-gyp evaluates binding.gyp in native/, where only the installing project's node_modules is reachable.
    assert.isString(pkg.dependencies["node-addon-api"])
  })
})

describe("barrels", () => {
  it("load only the folders and packages their layer may depend on", { timeout: 120_000 }, () => {
    for (const name of barrels()) {
      const loaded = loadedBy(name)
      assert.include(loaded.folders, name)
      assert.deepStrictEqual(violations(name, loaded), [], name)
    }
  })

  it("the check names what breaks the layering", () => {
    assert.deepStrictEqual(violations("bgp", { folders: ["bgp", "k8s", "layer2"], packages: ["effect", "@kubernetes/client-node"] }), [
      "loads src/k8s/",
      "loads src/layer2/",
      "imports package @kubernetes/client-node"
    ])
    assert.deepStrictEqual(violations("nope", { folders: [], packages: [] }), ["no allowance declared for nope in scripts/check-barrels.ts"])
  })
})

/** A scratch project whose node_modules/metallb-ts is a fresh build of src/ and whose dependencies link to ours. */
const linkedProject = async (dir: string): Promise<void> => {
  const modules = join(dir, "node_modules")
  const own = join(modules, "metallb-ts")
  mkdirSync(own, { recursive: true })
  execFileSync(join(root, "node_modules", ".bin", "tsc"), ["-p", join(root, "tsconfig.build.json"), "--outDir", join(own, "dist")], {
    env: toolEnv(),
    stdio: "pipe"
  })
  await bundleCli(join(own, "dist", "metallb.mjs"), undefined)
  writeFileSync(join(own, "package.json"), readFileSync(join(root, "package.json")))
  const link = (name: string, target: string) => {
    mkdirSync(dirname(join(modules, name)), { recursive: true })
    symlinkSync(target, join(modules, name))
  }
  for (const name of Object.keys(pkg.dependencies)) {
    link(name, name === "@metallb-ts/native" ? join(root, "native") : join(root, "node_modules", name))
  }
  link("@types", join(root, "node_modules", "@types"))
  link(join(".bin", "metallb"), join(own, pkg.bin["metallb"] ?? ""))
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "embedder", private: true, type: "module" }))
}

describe("the compiled library in a consumer project", () => {
  it("imports every subpath from node_modules, type-checks, runs both examples and the bin", { timeout: 180_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "metallb-ts-consumer-"))
    try {
      await linkedProject(dir)
      const output = checkProject(dir)
      for (const name of barrels()) assert.match(output, new RegExp(`^ok metallb-ts/${name}: `, "m"))
      assert.include(output, "web=198.51.100.9 api=198.51.100.8,2001:db8::")
      assert.include(output, "pool.yaml:1: IPAddressPool metallb-system/demo: valid")
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

/** The commands docs/embedding.md gives for a checkout: the source condition maps metallb-ts/* to src/. */
const nodeInRepo = (args: ReadonlyArray<string>) =>
  execFileSync(process.execPath, ["--conditions=metallb-ts-source", ...args], { cwd: root, env: toolEnv(), encoding: "utf8" })

describe("the examples inside the repository", () => {
  it("the Allocator controller gives every LoadBalancer Service its addresses", { timeout: 120_000 }, () => {
    const output = nodeInRepo(["examples/allocator-controller.ts"])
    assert.include(output, "web=198.51.100.9 api=198.51.100.8,2001:db8:: internal=(none)")
  })

  it("the FSM properties hold", { timeout: 120_000 }, () => {
    const output = nodeInRepo(["--test", "--test-reporter=tap", "examples/bgp-fsm.property.test.ts"])
    assert.match(output, /^# pass 3$/m)
    assert.match(output, /^# fail 0$/m)
  })
})
