import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"

/** What `metallb controller`, `metallb speaker` and `metallb sandbox` load (src/cli loads them on demand). */
const programs = [
  "controller/Controller.ts",
  "speaker/Speaker.ts",
  "speaker/Layer2Plane.ts",
  "bgp/BgpSpeaker.ts",
  "k8s/KubeClient.ts",
  "observability/Logging.ts",
  "platform/HeapTrimmer.ts",
  "sandbox/Sandbox.ts",
  "cli/main.ts"
].map((f) => fileURLToPath(new URL(`../../src/${f}`, import.meta.url)))

/** The builtin modules a fresh Node process has loaded after importing `files` (none runs: not the main module). */
const loadedBy = (files: ReadonlyArray<string>): ReadonlyArray<string> =>
  JSON.parse(execFileSync(process.execPath, [
    "--input-type=module",
    "-e",
    `${files.map((f) => `await import(${JSON.stringify(f)});`).join(" ")} console.log(JSON.stringify(process.moduleLoadList))`
  ], { encoding: "utf8" })) as ReadonlyArray<string>

describe("NodeHttp", () => {
  it("keeps undici, http2 and worker_threads out of the programs (no ES import of node:http anywhere they load)", () => {
    const loaded = loadedBy(programs)
    assert.include(loaded, "NativeModule http", "the programs do use node:http")
    for (const heavy of ["internal/deps/undici/undici", "http2", "worker_threads"]) {
      assert.notInclude(loaded, `NativeModule ${heavy}`)
    }
  })

  it("is what an ES import of node:http would load the rest for (so the test above can fail)", () => {
    const loaded = loadedBy(["node:http"])
    assert.include(loaded, "NativeModule internal/deps/undici/undici")
  })
})
