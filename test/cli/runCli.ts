/**
 * Runs the `metallb` command as a child process with the project's Node 24, as an operator would. Asynchronous so
 * that a suite can start several runs at once (each costs a Node start-up).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { resolve } from "node:path"

const root = resolve(import.meta.dirname, "../..")
const node = resolve(root, "node_modules/.bin/node")

export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** At most two commands at once: the machine has two cores, and a queue keeps each run's wall time short. */
let running = 0
const waiting: Array<() => void> = []
const slot = (): Promise<void> =>
  running < 2
    ? Promise.resolve(void running++)
    : new Promise((resolve) => waiting.push(() => resolve(void running++)))
const release = (): void => {
  running--
  waiting.shift()?.()
}

const spawnCli = (args: ReadonlyArray<string>, input?: string): Promise<CliResult> =>
  new Promise((done) => {
    const child = execFile(node, ["src/cli/main.ts", ...args], { cwd: root, encoding: "utf8", timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null
      done({ code, stdout, stderr })
    })
    child.stdin?.end(input ?? "")
  })

export const runCli = async (args: ReadonlyArray<string>, input?: string): Promise<CliResult> => {
  await slot()
  try {
    return await spawnCli(args, input)
  } finally {
    release()
  }
}

/** Suites of child processes: generous, the machine may be busy with other work. */
export const cliTimeout = { timeout: 90_000 }

export const fixture = (...parts: ReadonlyArray<string>): string => `test/config/fixtures/${parts.join("/")}`

export { freePort } from "../../src/testing/FreePort.ts"

/** A long-running `metallb` command (controller, speaker) as a child process, its output collected. */
export interface CliChild {
  readonly process: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<number | null>
}

export const startCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}): CliChild => {
  const child = spawn(node, ["src/cli/main.ts", ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
  let out = ""
  let err = ""
  child.stdout.on("data", (d: Buffer) => (out += d.toString()))
  child.stderr.on("data", (d: Buffer) => (err += d.toString()))
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)))
  return { process: child, stdout: () => out, stderr: () => err, exited }
}
