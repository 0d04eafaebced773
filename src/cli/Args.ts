/**
 * A small command-line parser for the `metallb` command: `--flag`, `--flag=value`, `--flag value`, `--` to end the
 * flags, and errors that name the flag. Each command declares its flags and positional arguments; the help text is
 * generated from the same declaration.
 *
 * @since 0.1.0
 */
import { Result } from "effect"

export interface FlagSpec {
  readonly type: "boolean" | "string"
  readonly description: string
  /** Shown in the help for string flags: `--output FILE`. */
  readonly placeholder?: string
}

export interface CommandSpec {
  /** The words that select the command: `["config", "validate"]`. */
  readonly path: ReadonlyArray<string>
  readonly summary: string
  /** `FILE...`, `FILE` — for the usage line. */
  readonly positionals: string
  readonly minPositionals: number
  readonly maxPositionals: number
  readonly flags: Readonly<Record<string, FlagSpec>>
  /** Extra paragraphs for `--help`. */
  readonly details?: string
}

export interface Parsed {
  readonly flags: Readonly<Record<string, string | boolean>>
  readonly positionals: ReadonlyArray<string>
  readonly help: boolean
}

/** Parses the arguments that follow the command words. */
export const parse = (spec: CommandSpec, args: ReadonlyArray<string>): Result.Result<Parsed, string> => {
  const flags: Record<string, string | boolean> = {}
  const positionals: Array<string> = []
  let help = false
  let onlyPositionals = false
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? ""
    if (onlyPositionals || !arg.startsWith("-") || arg === "-") {
      positionals.push(arg)
      continue
    }
    if (arg === "--") {
      onlyPositionals = true
      continue
    }
    if (arg === "-h" || arg === "--help") {
      help = true
      continue
    }
    if (!arg.startsWith("--")) return Result.fail(`unknown flag ${JSON.stringify(arg)} (flags are spelled --name)`)
    const eq = arg.indexOf("=")
    const name = arg.slice(2, eq < 0 ? undefined : eq)
    const flag = spec.flags[name]
    if (flag === undefined) return Result.fail(`unknown flag --${name} for "${spec.path.join(" ")}"`)
    if (name in flags) return Result.fail(`flag --${name} given more than once`)
    if (flag.type === "boolean") {
      if (eq < 0) flags[name] = true
      else {
        const value = arg.slice(eq + 1)
        if (value !== "true" && value !== "false") {
          return Result.fail(`flag --${name} takes no value or true/false, got ${JSON.stringify(value)}`)
        }
        flags[name] = value === "true"
      }
    } else if (eq >= 0) flags[name] = arg.slice(eq + 1)
    else {
      const value = args[i + 1]
      if (value === undefined) return Result.fail(`flag --${name} needs a value (--${name} ${flag.placeholder ?? "VALUE"})`)
      flags[name] = value
      i++
    }
  }
  if (!help) {
    if (positionals.length < spec.minPositionals) {
      return Result.fail(`"${spec.path.join(" ")}" needs ${spec.positionals}`)
    }
    if (positionals.length > spec.maxPositionals) {
      return Result.fail(`"${spec.path.join(" ")}" takes ${spec.positionals}, got ${positionals.length} arguments`)
    }
  }
  return Result.succeed({ flags, positionals, help })
}

/** The `--help` text of one command. */
export const help = (spec: CommandSpec): string => {
  const lines = [`Usage: metallb ${spec.path.join(" ")} [flags] ${spec.positionals}`, "", spec.summary, ""]
  if (spec.details !== undefined) lines.push(spec.details, "")
  lines.push("Flags:")
  const rows = [
    ...Object.entries(spec.flags).map(([name, f]) => [
      `--${name}${f.type === "string" ? ` ${f.placeholder ?? "VALUE"}` : ""}`,
      f.description
    ]),
    ["-h, --help", "show this help"]
  ]
  const width = Math.max(...rows.map(([l]) => (l ?? "").length))
  for (const [left = "", right = ""] of rows) lines.push(`  ${left.padEnd(width)}  ${right}`)
  return `${lines.join("\n")}\n`
}
