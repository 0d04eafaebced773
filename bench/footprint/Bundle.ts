// The bundling the footprint study recommends for the shipped programs (docs/design/footprint.md).
import { build } from "esbuild"

/**
 * One ESM file, tree-shaken and minified. Externals: client-node (imported dynamically, only for exec/OIDC
 * kubeconfigs) and the native addons. The banner gives CommonJS dependencies the `require` an ESM file lacks.
 */
export const bundle = async (file: string, out: string, minify = true): Promise<string> => {
  await build({
    entryPoints: [file],
    outfile: out,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    minify,
    treeShaking: true,
    external: ["@kubernetes/client-node", "@metallb-ts/native", "raw-socket", "*.node"],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: "error"
  })
  return out
}

