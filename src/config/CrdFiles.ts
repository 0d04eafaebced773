/**
 * Writing the generated CRDs to a directory (`npm run gen` → manifests/crds).
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { crdFiles } from "./CrdGen.ts"

export class CrdWriteError extends Schema.TaggedError<CrdWriteError>()("CrdWriteError", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot write ${this.path}: ${this.reason}`
  }
}

const failure = (path: string) => (cause: unknown) =>
  new CrdWriteError({ path, reason: cause instanceof Error ? cause.message : String(cause) })

/** Writes every CRD as `<dir>/metallb.io_<plural>.yaml`; returns the paths written. */
export const writeCrds = (dir: string): Effect.Effect<ReadonlyArray<string>, CrdWriteError> =>
  Effect.gen(function*() {
    yield* Effect.tryPromise({
      try: () => mkdir(dir, { recursive: true }),
      catch: failure(dir)
    })
    const written: Array<string> = []
    for (const file of crdFiles()) {
      const path = join(dir, file.name)
      yield* Effect.tryPromise({
        try: () => writeFile(path, file.content),
        catch: failure(path)
      })
      written.push(path)
    }
    return written
  })
