/**
 * `metallb sandbox --once` as a user runs it (`npm start -- --once`), in loopback mode: a child process that starts
 * the API server, the BGP router, the controller and three speakers, and must end with exit 0 and a JSON summary
 * line saying the Service got an IP that three Established sessions announce as three paths. Then a restart from
 * the same state file finds the Service's IP again.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import type { SandboxSummary } from "../../src/sandbox/Sandbox.ts"

const main = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url))

const sandbox = (args: ReadonlyArray<string>): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [main, "sandbox", ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.on("exit", (code) => resolve({ code, stdout, stderr }))
  })

const summaryOf = (stdout: string): SandboxSummary => {
  const last = stdout.trimEnd().split("\n").at(-1) ?? ""
  return JSON.parse(last) as SandboxSummary
}

describe("metallb sandbox --once (loopback mode)", () => {
  it("brings up the walkthrough: external IP, 3 sessions, 3 paths; a restart from the state file keeps the IP", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sandbox-test-"))
    try {
      const stateFile = join(dir, "state.json")
      const first = await sandbox(["--once", "--no-namespaces", "--state-file", stateFile, "--timeout", "45"])
      const summary = summaryOf(first.stdout)
      assert.strictEqual(first.code, 0, `${first.stdout}\n${first.stderr}`)
      assert.strictEqual(summary.sandbox, "ok")
      assert.strictEqual(summary.mode, "loopback")
      assert.match(summary.externalIP ?? "", /^203\.0\.113\.(1\d|[2-4]\d|50)$/)
      assert.strictEqual(summary.bgpSessions, 3)
      assert.strictEqual(summary.paths, 3)
      assert.isNull(summary.l2Owner)
      // The walkthrough shows the router's view and the speakers' logs.
      assert.match(first.stdout, /Peers 3, established 3/)
      assert.match(first.stdout, /\*> 203\.0\.113\.\d+\/32 +127\.0\.0\.\d/)
      assert.match(first.stdout, /Displayed 1 routes and 3 total paths/)
      assert.match(first.stdout, /"msg":"BGP session established"/)
      assert.match(first.stdout, /kubectl get ipaddresspools/)

      const again = await sandbox(["--once", "--no-namespaces", "--state-file", stateFile, "--timeout", "45"])
      assert.strictEqual(again.code, 0, `${again.stdout}\n${again.stderr}`)
      assert.strictEqual(summaryOf(again.stdout).externalIP, summary.externalIP)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)

  it("exits 1 with the reason when the scenario is not up in time", async () => {
    const r = await sandbox(["--once", "--no-namespaces", "--timeout", "0"])
    const summary = summaryOf(r.stdout)
    assert.strictEqual(r.code, 1)
    assert.strictEqual(summary.sandbox, "failed")
    assert.match(summary.reason ?? "", /after 0s/)
    assert.match(r.stdout, /sandbox failed: .*\n\(logs kept in (\S+)\)/)
    const kept = /\(logs kept in (\S+)\)/.exec(r.stdout)?.[1]
    if (kept !== undefined) rmSync(kept, { recursive: true, force: true })
  })

  it("rejects a bad flag with exit 2 and names it", async () => {
    const r = await sandbox(["--once", "--timeout", "soon"])
    assert.strictEqual(r.code, 2)
    assert.match(r.stderr, /--timeout: "soon" is not a number/)
  })
})
