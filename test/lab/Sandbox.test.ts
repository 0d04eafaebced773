/**
 * `metallb sandbox --once` as root: the namespaces mode (lab LAN, FRR in the router namespace, the speakers in their
 * node namespaces with layer 2). It must exit 0 with a summary line that names FRR, three Established sessions,
 * three paths for the Service's /32, and a node as the layer 2 owner that answered the client's ARP request.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import type { SandboxSummary } from "../../src/sandbox/Sandbox.ts"
import { labGate } from "./prerequisites.ts"

const gate = labGate(["ip", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "vtysh", "arping"])
const main = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url))

describe.skipIf(gate.skip)("metallb sandbox --once (namespaces mode, lab)", () => {
  it("prerequisites", () => {
    assert.isUndefined(gate.problem)
  })

  it("FRR sees 3 sessions and 3 paths; the client's ARP request is answered by the layer 2 owner", async () => {
    const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = spawn(process.execPath, [main, "sandbox", "--once", "--timeout", "60"], { stdio: ["ignore", "pipe", "inherit"] })
      let out = ""
      child.stdout.on("data", (d: Buffer) => (out += d.toString()))
      child.on("exit", (c) => resolve({ code: c, stdout: out }))
    })
    const summary = JSON.parse(stdout.trimEnd().split("\n").at(-1) ?? "") as SandboxSummary
    assert.strictEqual(code, 0, stdout)
    assert.strictEqual(summary.mode, "namespaces")
    assert.strictEqual(summary.router, "FRR")
    assert.strictEqual(summary.bgpSessions, 3)
    assert.strictEqual(summary.paths, 3)
    assert.include(["node3", "node4", "node5"], summary.l2Owner)
    const mac = `02:00:00:00:00:1${(summary.l2Owner ?? "").slice(-1)}`
    assert.match(stdout, new RegExp(`bytes from ${mac} \\(192\\.0\\.2\\.2\\d\\d\\)`))
    assert.match(stdout, /Displayed {1,2}1 routes and 3 total paths/)
  })
})
