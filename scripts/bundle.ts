// `node scripts/bundle.ts [OUT]` (run by `npm run build`): the shipped `metallb` program, one esbuild ESM file of
// src/cli/main.ts (default dist/metallb.mjs). The image (Dockerfile, flake.nix) runs it as
// `node --max-semi-space-size=1 --heap-growing-percent=20 dist/metallb.mjs` (`nodeFlags`); bench/footprint.ts and
// bench/controller.ts measure exactly that. Why a bundle and why the flags: docs/design/footprint.md (no type
// stripper resident, effect tree-shaken; V8's heap kept near its live data). dist/ keeps tsc's per-module output for
// the library exports.
import { execFileSync } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

export const root = join(dirname(fileURLToPath(import.meta.url)), "..")

/** Where `npm run build` writes the program. */
export const bundlePath = join(root, "dist", "metallb.mjs")

/**
 * The V8 flags the shipped program runs with (the image's entrypoint, the flake's wrapper, the benches): a young
 * generation of 3 × 1 MiB instead of up to 3 × 16 MiB, and an old generation that grows by 20 % between major GCs
 * instead of V8's dynamic factor, so the garbage of a big initial list does not stay resident (controller with
 * 10,000 Services: 140 → 126 MiB; docs/design/footprint.md).
 */
export const nodeFlags: ReadonlyArray<string> = ["--max-semi-space-size=1", "--heap-growing-percent=20"]

/**
 * Packages left outside the bundle, resolved from node_modules next to it at run time: client-node (imported
 * dynamically, only for exec/OIDC kubeconfigs: a static import would put its ~60 MiB into every program) and the
 * native addons (`.node` binaries cannot be bundled).
 */
export const externals: ReadonlyArray<string> = ["@kubernetes/client-node", "@metallb-ts/native", "raw-socket", "*.node"]

const banner = "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"

/**
 * The same options as arguments of the esbuild command: builds without esbuild's npm binary (flake.nix installs
 * without optional dependencies, which is where that binary lives, and passes nixpkgs' esbuild in `METALLB_ESBUILD`).
 */
export const esbuildArgs = (entry: string, out: string): ReadonlyArray<string> => [
  entry,
  "--bundle",
  "--platform=node",
  "--format=esm",
  "--target=node24",
  "--minify",
  "--tree-shaking=true",
  ...externals.map((e) => `--external:${e}`),
  `--banner:js=${banner}`,
  "--log-level=error",
  `--outfile=${out}`
]

/**
 * Bundles `entry` into `out`: tree-shaken, minified, ESM for Node 24. The banner gives the CommonJS dependencies
 * bundled in (yaml) the `require` an ES module lacks. With `esbuild` (a path to the esbuild command) it runs that
 * command instead of the npm package's API.
 */
export const bundle = async (
  entry: string,
  out: string,
  options: { readonly minify?: boolean; readonly esbuild?: string | undefined } = {}
): Promise<string> => {
  if (options.esbuild !== undefined) {
    execFileSync(options.esbuild, esbuildArgs(entry, out), { stdio: "inherit" })
    return out
  }
  const { build } = await import("esbuild")
  await build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    minify: options.minify ?? true,
    treeShaking: true,
    external: [...externals],
    banner: { js: banner },
    logLevel: "error"
  })
  return out
}

/** The shipped program: src/cli/main.ts → `out` (default dist/metallb.mjs). */
export const bundleCli = (out: string = bundlePath, esbuild = process.env["METALLB_ESBUILD"]): Promise<string> =>
  bundle(join(root, "src", "cli", "main.ts"), out, { esbuild })

if (import.meta.main) {
  const out = await bundleCli(process.argv[2] ?? bundlePath)
  console.log(`bundled src/cli/main.ts → ${out}`)
}
