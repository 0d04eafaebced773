#!/usr/bin/env node
/**
 * The `metallb` command: a small dispatcher from command words to one module per command under `src/cli/`. Each
 * command returns its exit status; the runtime's teardown exits with it (and with 130 on SIGINT/SIGTERM).
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Console, Effect, Exit, Result, type Runtime } from "effect"
import * as Args from "./Args.ts"

export interface Command {
  readonly spec: Args.CommandSpec
  readonly run: (args: Args.Parsed) => Effect.Effect<number>
  /** Exit status when SIGINT/SIGTERM stops the command (default 130); long-running programs stop with 0. */
  readonly interruptStatus?: number
}

/**
 * Command words → the module that implements them, loaded only when chosen: a long-running program (the controller)
 * does not carry the other commands' modules in its memory. `test/cli/Main.test.ts` checks each `path` against the
 * module's own spec.
 */
export const commands: ReadonlyArray<{ readonly path: ReadonlyArray<string>; readonly load: () => Promise<Command> }> = [
  { path: ["config", "validate"], load: () => import("./ConfigValidate.ts") },
  { path: ["config", "convert"], load: () => import("./ConfigConvert.ts") },
  { path: ["controller"], load: () => import("./Controller.ts") },
  { path: ["speaker"], load: () => import("./Speaker.ts") }
]

let interruptStatus = 130

const loadAll = Effect.promise(() => Promise.all(commands.map((c) => c.load())))

const usage = (loaded: ReadonlyArray<Command>): string => {
  const rows = loaded.map((c) => [`${c.spec.path.join(" ")} ${c.spec.positionals}`, c.spec.summary] as const)
  const width = Math.max(...rows.map(([l]) => l.length))
  return [
    "Usage: metallb COMMAND [flags] [arguments]",
    "",
    "Commands:",
    ...rows.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`),
    "",
    "Run metallb COMMAND --help for the flags of a command.",
    ""
  ].join("\n")
}

/** Picks the command whose words start `argv`, parses the rest, runs it; returns the exit status. */
export const main = (argv: ReadonlyArray<string>): Effect.Effect<number> =>
  Effect.gen(function*() {
    if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
      const loaded = yield* loadAll
      yield* Effect.sync(() => process.stdout.write(usage(loaded)))
      return argv.length === 0 ? 2 : 0
    }
    const entry = commands.find((c) => c.path.every((word, i) => argv[i] === word))
    if (entry === undefined) {
      const group = commands.filter((c) => c.path[0] === argv[0])
      const known = group.length > 0
        ? `"${argv[0]}" needs one of: ${group.map((c) => c.path.slice(1).join(" ")).join(", ")}`
        : `unknown command ${JSON.stringify(argv.join(" "))}`
      yield* Console.error(`metallb: ${known}\n\n${usage(yield* loadAll)}`)
      return 2
    }
    const command = yield* Effect.promise(entry.load)
    interruptStatus = command.interruptStatus ?? 130
    const parsed = Args.parse(command.spec, argv.slice(command.spec.path.length))
    if (Result.isFailure(parsed)) {
      yield* Console.error(`metallb ${command.spec.path.join(" ")}: ${parsed.failure}\nRun metallb ${command.spec.path.join(" ")} --help for usage.`)
      return 2
    }
    if (parsed.success.help) {
      yield* Effect.sync(() => process.stdout.write(Args.help(command.spec)))
      return 0
    }
    return yield* command.run(parsed.success)
  })

/** Exit with the command's status; interrupts (Ctrl-C, SIGTERM) with the command's interrupt status; defects as the default does. */
const teardown: Runtime.Teardown = (exit, onExit) => {
  if (Exit.isSuccess(exit)) return onExit(typeof exit.value === "number" ? exit.value : 0)
  if (Cause.hasInterruptsOnly(exit.cause)) return onExit(interruptStatus)
  return onExit(1)
}

if (import.meta.main) {
  main(process.argv.slice(2)).pipe(NodeRuntime.runMain({ teardown }))
}
