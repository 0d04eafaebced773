/**
 * Runs the `metallb` command as a child process with the project's Node 24, as an operator would. Asynchronous so
 * that a suite can start several runs at once (each costs a Node start-up).
 */
import { execFile } from "node:child_process"
import { resolve } from "node:path"

const root = resolve(import.meta.dirname, "../..")
const node = resolve(root, "node_modules/.bin/node")

export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export const runCli = (args: ReadonlyArray<string>, input?: string): Promise<CliResult> =>
  new Promise((done) => {
    const child = execFile(node, ["src/cli/main.ts", ...args], { cwd: root, encoding: "utf8", timeout: 25_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null
      done({ code, stdout, stderr })
    })
    child.stdin?.end(input ?? "")
  })

export const fixture = (...parts: ReadonlyArray<string>): string => `test/config/fixtures/${parts.join("/")}`
