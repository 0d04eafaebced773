/**
 * `node src/config/gen.ts DIR`: writes the generated CRDs into DIR (default manifests/crds).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { writeCrds } from "./CrdFiles.ts"

const dir = process.argv[2] ?? "manifests/crds"

Effect.runPromiseExit(writeCrds(dir)).then((exit) => {
  if (exit._tag === "Success") {
    for (const path of exit.value) console.log(`wrote ${path}`)
  } else {
    console.error(String(exit.cause))
    process.exitCode = 1
  }
})
