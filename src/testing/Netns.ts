/**
 * A lab kit for tests and benchmarks that need real networking: network namespaces with a unique per-run prefix,
 * a bridge "switch" with hosts on it (the topology of reference/lab-harness.md §1: fixed MACs 02:00:00:00:HH:LL,
 * 192.0.2.N/24, 2001:db8:0:1::N/64, no DAD), veth pairs, commands and background processes inside a namespace,
 * and tcpdump captures.
 *
 * Safety rules it enforces: it only ever signals processes it started (by PID) and processes still running inside
 * its own namespaces, and only deletes namespaces it created. Teardown runs when the scope closes (test passed or
 * failed) and, synchronously, on process exit, SIGINT and SIGTERM, so an aborted run leaves nothing behind.
 * `LAB_KEEP=1` (or a failing scope) keeps the work directory with captures and logs.
 *
 * Needs root (or CAP_SYS_ADMIN + CAP_NET_ADMIN) and iproute2; captures need tcpdump.
 *
 * @since 0.1.0
 */
import { type ChildProcess, execFileSync, spawn as spawnChild } from "node:child_process"
import { accessSync, constants as fsConstants, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { delimiter, join } from "node:path"
import { Duration, Effect, Exit, Schema, type Scope } from "effect"

export class LabError extends Schema.TaggedError<LabError>()("LabError", {
  command: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `lab: ${this.command}: ${this.reason}`
  }
}

export interface ExecResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** A background process started inside a namespace and tracked by the lab. */
export interface LabProcess {
  readonly pid: number
  readonly name: string
  readonly stdout: () => string
  readonly stderr: () => string
  /** Waits until `pattern` matches the output so far (stdout by default) and returns the match. */
  readonly waitFor: (
    pattern: RegExp,
    options?: { readonly stream?: "stdout" | "stderr"; readonly timeout?: Duration.Input }
  ) => Effect.Effect<RegExpMatchArray, LabError>
  /** The exit code (or the signal name) once it has exited. */
  readonly exited: Effect.Effect<number | string>
  /** SIGTERM (or `signal`), then SIGKILL after 2 s; waits for the exit. */
  readonly stop: (signal?: NodeJS.Signals) => Effect.Effect<number | string>
}

/** A running tcpdump writing a .pcap. */
export interface Capture {
  readonly file: string
  /** Stops tcpdump (SIGINT, which flushes the file) and waits for it. */
  readonly stop: Effect.Effect<void>
  /** `tcpdump -r FILE -n -e -tt ARGS...`, one packet per line; call after `stop`. */
  readonly read: (...args: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<string>, LabError>
}

/** A host on the lab LAN (lab-harness.md §1). */
export interface Host {
  readonly name: string
  readonly ns: string
  readonly iface: string
  readonly mac: string
  readonly ipv4: string
  readonly ipv6: string
}

export interface Lab {
  readonly prefix: string
  /** Work directory for captures, configs and logs. */
  readonly dir: string
  /** The full namespace name of a short host name (`n1` → `lab1a2b-n1`). */
  readonly ns: (name: string) => string
  readonly addNamespace: (name: string) => Effect.Effect<string, LabError>
  /** A veth pair between two namespaces (or two interfaces in the same one), both ends up. */
  readonly link: (
    a: { readonly ns: string; readonly iface: string },
    b: { readonly ns: string; readonly iface: string }
  ) => Effect.Effect<void, LabError>
  /**
   * A bridge `br0` in namespace `sw` and one namespace per host, attached with `eth0`: host number N gets MAC
   * 02:00:00:00:(N/100):(N%100), 192.0.2.N/24 and 2001:db8:0:1::N/64 (no DAD, no RA).
   */
  readonly lan: <const K extends string>(hosts: Readonly<Record<K, number>>) => Effect.Effect<Record<K, Host>, LabError>
  /** `ip netns exec NS argv...`; fails on a non-zero exit unless `allowFailure`. */
  readonly exec: (
    ns: string,
    argv: ReadonlyArray<string>,
    options?: { readonly allowFailure?: boolean }
  ) => Effect.Effect<ExecResult, LabError>
  readonly spawn: (ns: string, argv: ReadonlyArray<string>, options?: { readonly name?: string }) => Effect.Effect<
    LabProcess,
    LabError
  >
  /** Starts tcpdump in `ns` on `iface` and returns once it is listening. */
  readonly capture: (
    ns: string,
    iface: string,
    filter: string,
    name: string
  ) => Effect.Effect<Capture, LabError>
}

// ---------------------------------------------------------------------------------------------------------------
// Plain helpers (no lab needed)

/** Runs a command to completion; never fails, the exit code says how it went. */
export const run = (argv: ReadonlyArray<string>): Effect.Effect<ExecResult> =>
  Effect.callback<ExecResult>((resume) => {
    const [command, ...args] = argv
    const child = spawnChild(command ?? "true", args, { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.on("error", (e) => resume(Effect.succeed({ code: 127, stdout, stderr: stderr + e.message })))
    child.on("close", (code, signal) => resume(Effect.succeed({ code: code ?? 128, stdout, stderr: stderr + (signal ?? "") })))
  })

/** Like {@link run} but a non-zero exit is a LabError carrying stderr. */
export const runOk = (argv: ReadonlyArray<string>): Effect.Effect<ExecResult, LabError> =>
  Effect.flatMap(run(argv), (result) =>
    result.code === 0
      ? Effect.succeed(result)
      : Effect.fail(
        new LabError({ command: argv.join(" "), reason: `exit ${result.code}: ${result.stderr.trim() || result.stdout.trim()}` })
      ))

/** `ip netns exec NS argv...`; fails on a non-zero exit unless `allowFailure`. */
export const nsExec: Lab["exec"] = (namespace, argv, options) =>
  options?.allowFailure === true
    ? run(["ip", "netns", "exec", namespace, ...argv])
    : runOk(["ip", "netns", "exec", namespace, ...argv])

/** The tools of `names` not found on PATH (lab tests check this before they start). */
export const missingTools = (names: ReadonlyArray<string>): ReadonlyArray<string> => {
  const dirs = (process.env.PATH ?? "").split(delimiter).concat(["/usr/sbin", "/sbin"])
  return names.filter((name) =>
    !(name.startsWith("/") ? [""] : dirs).some((dir) => {
      try {
        accessSync(dir === "" ? name : join(dir, name), fsConstants.X_OK)
        return true
      } catch {
        return false
      }
    })
  )
}

/** Host number → MAC of lab-harness.md §1 (11 → 02:00:00:00:00:11, 100 → 02:00:00:00:01:00). */
export const hostMac = (n: number): string =>
  `02:00:00:00:${String(Math.floor(n / 100)).padStart(2, "0")}:${String(n % 100).padStart(2, "0")}`

// ---------------------------------------------------------------------------------------------------------------
// Teardown registry: every live lab, torn down synchronously if the process goes away before its scope closes.

interface LabState {
  readonly prefix: string
  readonly dir: string
  readonly namespaces: Array<string>
  readonly children: Set<ChildProcess>
}

const live = new Set<LabState>()
let hooksInstalled = false

const quietly = (f: () => void) => {
  try {
    f()
  } catch {
    // Best effort: the process is going away or the thing is already gone.
  }
}

/** Processes still inside our own namespace (started by our children, or by `ip netns exec` helpers). */
const pidsInside = (ns: string): Array<number> => {
  try {
    return execFileSync("ip", ["netns", "pids", ns], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
      .split(/\s+/)
      .filter((s) => s !== "")
      .map(Number)
  } catch {
    return []
  }
}

const teardownSync = (state: LabState, keepDir: boolean) => {
  for (const child of state.children) if (child.exitCode === null && child.signalCode === null) quietly(() => child.kill("SIGKILL"))
  for (const ns of state.namespaces.toReversed()) {
    for (const pid of pidsInside(ns)) quietly(() => process.kill(pid, "SIGKILL"))
    quietly(() => execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" }))
  }
  if (!keepDir) quietly(() => rmSync(state.dir, { recursive: true, force: true }))
  live.delete(state)
}

const installHooks = () => {
  if (hooksInstalled) return
  hooksInstalled = true
  process.on("exit", () => {
    for (const state of live) teardownSync(state, process.env.LAB_KEEP === "1")
  })
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.once(signal, () => {
      // Someone else handles the signal (a program's graceful shutdown closes our scope, and the exit hook above
      // is the safety net): do not cut it short. Otherwise behave like the default action, minus the leftovers.
      if (process.listenerCount(signal) > 0) return
      for (const state of live) teardownSync(state, process.env.LAB_KEEP === "1")
      process.exit(code)
    })
  }
}

let counter = 0
const newPrefix = () =>
  `lab${process.pid.toString(36)}${(counter++).toString(36)}${Math.floor(Math.random() * 36 ** 2).toString(36)}`

// ---------------------------------------------------------------------------------------------------------------
// The lab

const waitExit = (child: ChildProcess): Effect.Effect<number | string> =>
  Effect.callback<number | string>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resume(Effect.succeed(child.exitCode ?? child.signalCode ?? 0))
      return
    }
    child.once("exit", (code, signal) => resume(Effect.succeed(code ?? signal ?? 0)))
  })

const stopChild = (child: ChildProcess, signal: NodeJS.Signals): Effect.Effect<number | string> =>
  Effect.suspend(() => {
    if (child.exitCode === null && child.signalCode === null) quietly(() => child.kill(signal))
    return waitExit(child).pipe(
      Effect.timeoutOrElse({
        duration: Duration.seconds(2),
        orElse: () => Effect.suspend(() => (quietly(() => child.kill("SIGKILL")), waitExit(child)))
      })
    )
  })

const teardown = (state: LabState, exit: Exit.Exit<unknown, unknown>) =>
  Effect.gen(function*() {
    yield* Effect.forEach([...state.children], (child) => stopChild(child, "SIGTERM"), { concurrency: "unbounded" })
    const keep = process.env.LAB_KEEP === "1" || Exit.isFailure(exit)
    teardownSync(state, keep)
    if (keep) process.stderr.write(`lab ${state.prefix}: work directory kept at ${state.dir}\n`)
  })

/** Creates an empty lab (namespaces come with `addNamespace`, `link`, `lan`), torn down when the scope closes. */
export const make = (options?: { readonly prefix?: string }): Effect.Effect<Lab, LabError, Scope.Scope> =>
  Effect.gen(function*() {
    const state = yield* Effect.acquireRelease(
      Effect.sync((): LabState => {
        installHooks()
        const prefix = options?.prefix ?? newPrefix()
        const state: LabState = {
          prefix,
          dir: mkdtempSync(join(tmpdir(), `${prefix}-`)),
          namespaces: [],
          children: new Set()
        }
        live.add(state)
        return state
      }),
      teardown
    )
    const ns = (name: string) => `${state.prefix}-${name}`

    const addNamespace = (name: string) =>
      Effect.gen(function*() {
        const full = ns(name)
        yield* runOk(["ip", "netns", "add", full])
        state.namespaces.push(full)
        yield* runOk(["ip", "-n", full, "link", "set", "lo", "up"])
        return full
      })

    /** Interface sysctls that make an address usable at once (lab-harness.md §1 and §5). */
    const quietIpv6 = (namespace: string, iface: string) =>
      nsExec(namespace, [
        "sysctl",
        "-qw",
        `net.ipv6.conf.${iface}.accept_dad=0`,
        `net.ipv6.conf.${iface}.accept_ra=0`
      ])

    const link: Lab["link"] = (a, b) =>
      Effect.gen(function*() {
        yield* runOk(["ip", "-n", a.ns, "link", "add", "name", a.iface, "type", "veth", "peer", "name", b.iface, "netns", b.ns])
        for (const end of [a, b]) {
          yield* quietIpv6(end.ns, end.iface)
          yield* runOk(["ip", "-n", end.ns, "link", "set", "dev", end.iface, "up"])
        }
      })

    const lan: Lab["lan"] = (hosts) =>
      Effect.gen(function*() {
        const sw = yield* addNamespace("sw")
        yield* runOk(["ip", "-n", sw, "link", "add", "br0", "type", "bridge", "stp_state", "0", "mcast_snooping", "0"])
        yield* runOk(["ip", "-n", sw, "link", "set", "br0", "up"])
        const out: Partial<Record<string, Host>> = {}
        for (const [name, n] of Object.entries<number>(hosts)) {
          const host = yield* addNamespace(name)
          const mac = hostMac(n)
          // `name` keyword: a bare host name like "a" would parse as an abbreviation of "address".
          yield* runOk(["ip", "-n", sw, "link", "add", "name", name, "type", "veth", "peer", "name", "eth0", "netns", host])
          yield* runOk(["ip", "-n", sw, "link", "set", "dev", name, "master", "br0", "up"])
          yield* runOk(["ip", "-n", host, "link", "set", "eth0", "address", mac])
          // Before link up, so the link-local address is usable at once.
          yield* quietIpv6(host, "eth0")
          yield* runOk(["ip", "-n", host, "link", "set", "eth0", "up"])
          yield* runOk(["ip", "-n", host, "addr", "add", `192.0.2.${n}/24`, "dev", "eth0"])
          yield* runOk(["ip", "-n", host, "-6", "addr", "add", `2001:db8:0:1::${n}/64`, "dev", "eth0", "nodad"])
          out[name] = { name, ns: host, iface: "eth0", mac, ipv4: `192.0.2.${n}`, ipv6: `2001:db8:0:1::${n}` }
        }
        return out as Record<keyof typeof hosts, Host>
      })

    const spawn: Lab["spawn"] = (namespace, argv, spawnOptions) =>
      Effect.sync(() => {
        const child = spawnChild("ip", ["netns", "exec", namespace, ...argv], { stdio: ["ignore", "pipe", "pipe"] })
        state.children.add(child)
        let stdout = ""
        let stderr = ""
        const listeners = new Set<() => void>()
        child.stdout?.on("data", (d: Buffer) => {
          stdout += d.toString()
          for (const l of listeners) l()
        })
        child.stderr?.on("data", (d: Buffer) => {
          stderr += d.toString()
          for (const l of listeners) l()
        })
        child.on("exit", () => {
          for (const l of listeners) l()
        })
        const name = spawnOptions?.name ?? argv.join(" ")
        const waitFor: LabProcess["waitFor"] = (pattern, waitOptions) =>
          Effect.callback<RegExpMatchArray, LabError>((resume) => {
            const check = () => {
              const text = waitOptions?.stream === "stderr" ? stderr : stdout
              const match = text.match(pattern)
              if (match !== null) {
                listeners.delete(check)
                resume(Effect.succeed(match))
              } else if (child.exitCode !== null || child.signalCode !== null) {
                listeners.delete(check)
                resume(Effect.fail(new LabError({ command: name, reason: `exited before printing ${pattern}: ${stderr.trim()}` })))
              }
            }
            listeners.add(check)
            check()
            return Effect.sync(() => listeners.delete(check))
          }).pipe(
            Effect.timeoutOrElse({
              duration: waitOptions?.timeout ?? Duration.seconds(10),
              orElse: () =>
                Effect.fail(new LabError({ command: name, reason: `no ${pattern} in time; stderr: ${stderr.trim()}` }))
            })
          )
        return {
          pid: child.pid ?? -1,
          name,
          stdout: () => stdout,
          stderr: () => stderr,
          waitFor,
          exited: waitExit(child),
          stop: (signal) => stopChild(child, signal ?? "SIGTERM")
        } satisfies LabProcess
      })

    const capture: Lab["capture"] = (namespace, iface, filter, name) =>
      Effect.gen(function*() {
        const file = join(state.dir, `${name}.pcap`)
        // -Z root: tcpdump would otherwise drop to user tcpdump before writing into our root-owned directory.
        const argv = ["tcpdump", "-i", iface, "-n", "-Z", "root", "--immediate-mode", "-U", "-w", file, filter]
        const tcpdump = yield* spawn(namespace, argv, { name: `tcpdump ${name}` })
        yield* tcpdump.waitFor(/listening on/, { stream: "stderr" })
        return {
          file,
          stop: Effect.asVoid(tcpdump.stop("SIGINT")),
          read: (...args) =>
            Effect.map(runOk(["tcpdump", "-r", file, "-n", "-e", "-tt", ...args]), (r) =>
              r.stdout.split("\n").filter((l) => l !== ""))
        } satisfies Capture
      })

    return { prefix: state.prefix, dir: state.dir, ns, addNamespace, link, lan, exec: nsExec, spawn, capture } satisfies Lab
  })
