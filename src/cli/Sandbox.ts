/**
 * `metallb sandbox` (`npm start`): MetalLB's walkthrough on an embedded cluster (src/sandbox/). Interactive by
 * default (runs until Ctrl-C, tearing everything down); `--once` runs the scenario, prints one JSON summary line last
 * and exits 0 only when everything came up.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Result } from "effect"
import type { CommandSpec, Parsed } from "./Args.ts"
import { stringFlag } from "./ProgramFlags.ts"

export const spec: CommandSpec = {
  path: ["sandbox"],
  summary: "Run the walkthrough on an embedded cluster: API server, controller, three speakers and a BGP router.",
  positionals: "",
  minPositionals: 0,
  maxPositionals: 0,
  flags: {
    once: { type: "boolean", description: "run the scenario, print a JSON summary line, exit 0 only if everything came up" },
    "no-namespaces": {
      type: "boolean",
      description: "loopback mode even as root (the default without root, or without FRR and arping)"
    },
    "api-port": { type: "string", placeholder: "PORT", description: "port of the API server on 127.0.0.1 (default: a free port)" },
    "state-file": { type: "string", placeholder: "FILE", description: "keep the API server's objects in FILE across restarts" },
    timeout: { type: "string", placeholder: "SECONDS", description: "how long to wait for everything to come up (default 60)" }
  },
  details:
    "Loopback mode (without root): everything listens on 127.0.0.1, the speakers' BGP sessions leave from\n" +
    "127.0.0.3/.4/.5 and peer with the project's own passive BGP router (src/testing/BgpRouter.ts); no layer 2.\n" +
    "Namespaces mode (root, FRR and arping installed): a LAN of network namespaces with FRR as the router, the\n" +
    "speakers in their node namespaces with layer 2 too, and an ARP request from a client answered by the owner.\n" +
    "See docs/sandbox.md."
}

const positive = (text: string | undefined, name: string, fallback: number, max: number): Result.Result<number, string> => {
  if (text === undefined) return Result.succeed(fallback)
  const n = Number(text)
  return /^\d+$/.test(text) && n <= max ? Result.succeed(n) : Result.fail(`flag --${name}: ${JSON.stringify(text)} is not a number 0-${max}`)
}

export const run = (args: Parsed): Effect.Effect<number> =>
  Effect.gen(function*() {
    const apiPort = positive(stringFlag(args.flags, "api-port"), "api-port", 0, 65535)
    const timeout = positive(stringFlag(args.flags, "timeout"), "timeout", 60, 3600)
    for (const r of [apiPort, timeout]) {
      if (Result.isFailure(r)) {
        yield* Effect.sync(() => process.stderr.write(`metallb sandbox: ${r.failure}\n`))
        return 2
      }
    }
    const once = args.flags["once"] === true
    const Sandbox = yield* Effect.promise(() => import("../sandbox/Sandbox.ts"))
    let namespaces = false
    if (args.flags["no-namespaces"] !== true && process.getuid?.() === 0) {
      const problem = Sandbox.namespacesProblem()
      if (problem === undefined) namespaces = true
      else yield* Effect.sync(() => process.stdout.write(`note: ${problem}; running in loopback mode\n`))
    }
    const summary = yield* Sandbox.run({
      once,
      namespaces,
      apiPort: Result.getOrElse(apiPort, () => 0),
      stateFile: stringFlag(args.flags, "state-file"),
      timeout: Duration.seconds(Result.getOrElse(timeout, () => 60)),
      print: (text) => process.stdout.write(text)
    }).pipe(
      Effect.scoped,
      Effect.catch((e) =>
        Effect.succeed({ sandbox: "failed" as const, reason: e.message })
      )
    )
    yield* Effect.sync(() => process.stdout.write(`${JSON.stringify(summary)}\n`))
    return summary.sandbox === "ok" ? 0 : 1
  })

/** Ctrl-C is the normal way to leave the interactive sandbox. */
export const interruptStatus = 0
