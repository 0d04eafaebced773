// `npm run bench -- NAME [args...]`: runs bench/NAME.ts. Each benchmark prints a human table and, last, one JSON
// line of figures.
import { existsSync, readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const [name, ...rest] = process.argv.slice(2)
const available = readdirSync(here).filter((f) => f.endsWith(".ts") && f !== "run.ts").map((f) => f.slice(0, -3))
if (name === undefined || !/^[a-z0-9-]+$/.test(name) || !existsSync(join(here, `${name}.ts`))) {
  console.error(`usage: npm run bench -- NAME [args]\navailable: ${available.join(", ") || "(none yet)"}`)
  process.exit(2)
}
process.argv = [process.argv[0] ?? "node", join(here, `${name}.ts`), ...rest]
await import(pathToFileURL(join(here, `${name}.ts`)).href)
