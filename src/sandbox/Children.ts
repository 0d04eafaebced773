/**
 * The sandbox's child processes (the controller and the speakers, `node src/cli/main.ts …`): started with their
 * output in a log file, watched for an early exit, and stopped with SIGTERM (SIGKILL after a grace period) when the
 * sandbox's scope closes. Only the PIDs started here are ever signalled.
 *
 * @since 0.1.0
 */
import { Effect, type Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { closeSync, openSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

/** The `metallb` entry point the children run (a path, not an import: nothing imports from cli/). */
export const mainPath = fileURLToPath(new URL("../cli/main.ts", import.meta.url))
/** The forwarder the namespaces mode runs in each node namespace. */
export const forwardPath = fileURLToPath(new URL("./Forward.ts", import.meta.url))

export interface Child {
  readonly name: string
  readonly pid: number | undefined
  readonly logFile: string
  /** The exit code (or signal name) once it has exited, else undefined. */
  readonly exited: () => string | undefined
  /** The last `n` lines of its log. */
  readonly tail: (n: number) => ReadonlyArray<string>
}

const waitExit = (child: ChildProcess, ms: number): Promise<boolean> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(true)
    const timer = setTimeout(() => resolve(false), ms)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve(true)
    })
  })

/**
 * Starts `node SCRIPT ...args` (the `metallb` command by default), output appended to `logFile`. `wrap` prefixes the
 * argv, e.g. `["ip", "netns", "exec", ns]` (which execs, so the PID stays node's).
 */
export const start = (
  name: string,
  args: ReadonlyArray<string>,
  logFile: string,
  wrap: ReadonlyArray<string> = [],
  script: string = mainPath
): Effect.Effect<Child, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const fd = openSync(logFile, "a")
      const argv = [...wrap, process.execPath, script, ...args]
      const [command = process.execPath, ...rest] = argv
      const child = spawn(command, rest, { stdio: ["ignore", fd, fd], env: process.env })
      closeSync(fd)
      let exit: string | undefined
      child.once("exit", (code, signal) => {
        exit = code !== null ? `exit code ${code}` : `signal ${signal ?? "?"}`
      })
      child.once("error", (error) => {
        exit = `cannot start: ${error.message}`
      })
      return {
        child,
        handle: {
          name,
          pid: child.pid,
          logFile,
          exited: () => exit,
          tail: (n: number) => {
            try {
              return readFileSync(logFile, "utf8").trimEnd().split("\n").slice(-n)
            } catch {
              return []
            }
          }
        } satisfies Child
      }
    }),
    ({ child }) =>
      Effect.promise(async () => {
        if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
        // SIGTERM: the speaker withdraws its routes and closes its sessions before it exits.
        child.kill("SIGTERM")
        if (await waitExit(child, 5000)) return
        child.kill("SIGKILL")
        await waitExit(child, 2000)
      })
  ).pipe(Effect.map(({ handle }) => handle))
