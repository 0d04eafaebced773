/**
 * Runs one fuzz program: `npm run fuzz -- NAME [flags]` loads `bench/fuzz/NAME.ts` and calls its `main` with the
 * remaining flags; the exit code is the program's (non-zero when it found a crash).
 */
import { readdirSync } from "node:fs"

const here = new URL(".", import.meta.url)
const available = readdirSync(here)
  .filter((file) => file.endsWith(".ts") && file !== "run.ts")
  .map((file) => file.slice(0, -3))

const [name, ...args] = process.argv.slice(2)
if (name === undefined || !available.includes(name)) {
  console.error(`usage: npm run fuzz -- NAME [--count N] [--seed S]; NAME is one of: ${available.join(", ")}`)
  process.exit(2)
}
const program = (await import(new URL(`${name}.ts`, here).href)) as { main: (args: ReadonlyArray<string>) => number }
process.exitCode = program.main(args)
