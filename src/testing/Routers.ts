/**
 * Real routers for lab tests, benchmarks and the sandbox: private FRR (zebra + bgpd [+ bfdd]), BIRD 2 and GoBGP
 * instances inside a lab namespace, each with its own config, sockets and logs in the lab's work directory (no
 * systemd, no /etc/frr/daemons, no shared state with a system instance), started as tracked lab processes and
 * queried through their own CLIs (JSON where the router has it). Recipes and traps: reference/lab-harness.md §2–§3.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Schedule } from "effect"
import { execFileSync } from "node:child_process"
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as Netns from "./Netns.ts"

const poll = <A, E>(what: string, attempt: Effect.Effect<A | undefined, E>, timeout: Duration.Input = "20 seconds") =>
  attempt.pipe(
    Effect.flatMap((a) => (a === undefined ? Effect.fail("not yet" as const) : Effect.succeed(a))),
    Effect.retry(Schedule.spaced("50 millis")),
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () => Effect.fail(new Netns.LabError({ command: what, reason: `not ready after ${Duration.format(Duration.fromInputUnsafe(timeout))}` }))
    }),
    Effect.mapError((e) => (e instanceof Netns.LabError ? e : new Netns.LabError({ command: what, reason: String(e) })))
  )

/** Looks a system user up (the FRR daemons drop to `frr`); `undefined` when it does not exist. */
const systemIds = (name: string): { uid: number; gid: number } | undefined => {
  try {
    const uid = Number(execFileSync("id", ["-u", name], { encoding: "utf8" }).trim())
    const gid = Number(execFileSync("id", ["-g", name], { encoding: "utf8" }).trim())
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined
  } catch {
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------------------------
// FRR

export interface Frr {
  readonly dir: string
  /** `vtysh -c CMD` against this instance's bgpd (or `daemon`), stdout. */
  readonly vtysh: (command: string, daemon?: "bgpd" | "zebra" | "bfdd") => Effect.Effect<string, Netns.LabError>
  /** `vtysh -c "CMD json"` parsed. */
  readonly json: <A = unknown>(command: string, daemon?: "bgpd" | "zebra" | "bfdd") => Effect.Effect<A, Netns.LabError>
  readonly bgpd: Netns.LabProcess
  readonly zebra: Netns.LabProcess
  readonly bfdd: Netns.LabProcess | undefined
}

export interface FrrOptions {
  readonly name?: string
  readonly hostname?: string
  /** The `router bgp …` section and anything else for bgpd.conf (the header lines are added). */
  readonly bgpd: string
  /** bfdd.conf body (`bfd` section); starts bfdd when given. */
  readonly bfdd?: string
  /** Log BGP events with microsecond timestamps (for benchmarks). */
  readonly preciseTimestamps?: boolean
}

/** Starts a private FRR in namespace `ns`; stopped with the lab. */
export const startFrr = (lab: Netns.Lab, ns: string, options: FrrOptions): Effect.Effect<Frr, Netns.LabError> =>
  Effect.gen(function*() {
    const name = options.name ?? "frr"
    const dir = join(lab.dir, name)
    const run = join(dir, "run")
    // The daemons drop to user frr: the work dir must be traversable, the socket dir theirs, configs group-readable
    // (a config bgpd cannot read makes it start silently with an empty config).
    chmodSync(lab.dir, 0o755)
    mkdirSync(run, { recursive: true })
    chmodSync(dir, 0o755)
    const frr = systemIds("frr")
    if (frr !== undefined) chownSync(run, frr.uid, frr.gid)
    const header = [
      "frr defaults traditional",
      `hostname ${options.hostname ?? name}`,
      "log stdout informational",
      ...(options.preciseTimestamps ? ["log timestamp precision 6"] : []),
      "!"
    ].join("\n")
    const files: Record<string, string> = {
      "zebra.conf": `${header}\n`,
      "bgpd.conf": `${header}\n${options.bgpd}\n`,
      ...(options.bfdd === undefined ? {} : { "bfdd.conf": `${header}\n${options.bfdd}\n` })
    }
    for (const [file, text] of Object.entries(files)) {
      const path = join(dir, file)
      writeFileSync(path, text)
      chmodSync(path, 0o640)
      if (frr !== undefined) chownSync(path, 0, frr.gid)
    }
    const common = ["-z", join(run, "zserv.api"), "--vty_socket", run, "-P", "0", "-u", "frr", "-g", "frr"]
    const zebra = yield* lab.spawn(ns, ["/usr/lib/frr/zebra", "-f", join(dir, "zebra.conf"), "-i", join(run, "zebra.pid"), ...common], { name: `${name}-zebra` })
    yield* poll(`${name}: zebra socket`, Effect.sync(() => (existsSync(join(run, "zserv.api")) ? true : undefined)))
    const bfdd = options.bfdd === undefined ? undefined : yield* lab.spawn(ns, [
      "/usr/lib/frr/bfdd", "-f", join(dir, "bfdd.conf"), "-i", join(run, "bfdd.pid"), "--bfdctl", join(run, "bfdd.sock"), ...common
    ], { name: `${name}-bfdd` })
    const bgpd = yield* lab.spawn(ns, ["/usr/lib/frr/bgpd", "-f", join(dir, "bgpd.conf"), "-i", join(run, "bgpd.pid"), ...common], { name: `${name}-bgpd` })
    const vtysh = (command: string, daemon: "bgpd" | "zebra" | "bfdd" = "bgpd") =>
      Netns.runOk(["vtysh", "--vty_socket", run, "-d", daemon, "-c", command]).pipe(Effect.map((r) => r.stdout))
    const json = <A>(command: string, daemon: "bgpd" | "zebra" | "bfdd" = "bgpd") =>
      vtysh(`${command} json`, daemon).pipe(
        Effect.flatMap((text) =>
          Effect.try({
            try: () => JSON.parse(text === "" ? "{}" : text) as A,
            catch: () => new Netns.LabError({ command: `vtysh ${command} json`, reason: `not JSON: ${text.slice(0, 200)}` })
          })
        )
      )
    yield* poll(`${name}: bgpd vty`, vtysh("show bgp summary json").pipe(Effect.map(() => true), Effect.orElseSucceed(() => undefined)))
    if (bfdd !== undefined) {
      yield* poll(`${name}: bfdd vty`, vtysh("show bfd peers json", "bfdd").pipe(Effect.map(() => true), Effect.orElseSucceed(() => undefined)))
    }
    return { dir, vtysh, json, bgpd, zebra, bfdd }
  })

/** One path of `show bgp ipv4|ipv6 unicast PREFIX json`. */
export interface FrrPath {
  readonly nexthop: string | undefined
  readonly communities: ReadonlyArray<string>
  readonly largeCommunities: ReadonlyArray<string>
  readonly localPref: number | undefined
  readonly multipath: boolean
  readonly best: boolean
  readonly stale: boolean
  readonly asPath: string
  readonly origin: string | undefined
  readonly peer: string | undefined
}

interface FrrPathJson {
  readonly nexthops?: ReadonlyArray<{ readonly ip?: string }>
  readonly community?: { readonly list?: ReadonlyArray<string> }
  readonly largeCommunity?: { readonly list?: ReadonlyArray<string>; readonly string?: string }
  readonly locPrf?: number
  readonly multipath?: boolean
  readonly bestpath?: { readonly overall?: boolean }
  readonly stale?: boolean
  readonly aspath?: { readonly string?: string }
  readonly origin?: string
  readonly peer?: { readonly peerId?: string }
}

/** The paths FRR holds for `prefix` (empty when it has none). */
export const frrPaths = (frr: Frr, prefix: string): Effect.Effect<ReadonlyArray<FrrPath>, Netns.LabError> =>
  frr.json<{ readonly paths?: ReadonlyArray<FrrPathJson> }>(`show bgp ${prefix.includes(":") ? "ipv6" : "ipv4"} unicast ${prefix}`).pipe(
    Effect.map((r) =>
      (r.paths ?? []).map((p) => ({
        nexthop: p.nexthops?.[0]?.ip,
        communities: p.community?.list ?? [],
        largeCommunities: p.largeCommunity?.list ?? (p.largeCommunity?.string?.split(" ").filter((s) => s !== "") ?? []),
        localPref: p.locPrf,
        multipath: p.multipath === true,
        best: p.bestpath?.overall === true,
        stale: p.stale === true,
        asPath: p.aspath?.string ?? "",
        origin: p.origin,
        peer: p.peer?.peerId
      }))
    )
  )

/** The session state FRR reports for `neighbor` (`Established`, `Active`, ...), or `undefined` when unknown. */
export const frrNeighborState = (frr: Frr, neighbor: string): Effect.Effect<string | undefined, Netns.LabError> =>
  frr.json<Record<string, { readonly bgpState?: string }>>(`show bgp neighbors ${neighbor}`).pipe(
    Effect.map((r) => r[neighbor]?.bgpState)
  )

// ---------------------------------------------------------------------------------------------------------------
// BIRD 2

export interface Bird {
  readonly dir: string
  /** `birdc -s CTL CMD`, stdout without the banner line. */
  readonly birdc: (command: string) => Effect.Effect<string, Netns.LabError>
  readonly process: Netns.LabProcess
}

/** Starts a private BIRD 2 with `config` (give it `router id` and a `log` line: see lab-harness.md §5). */
export const startBird = (lab: Netns.Lab, ns: string, config: string, name = "bird"): Effect.Effect<Bird, Netns.LabError> =>
  Effect.gen(function*() {
    const dir = join(lab.dir, name)
    mkdirSync(dir, { recursive: true })
    const conf = join(dir, "bird.conf")
    const ctl = join(dir, "bird.ctl")
    writeFileSync(conf, `log "${join(dir, "bird.log")}" all;\n${config}\n`)
    yield* Netns.runOk(["bird", "-p", "-c", conf])
    const process = yield* lab.spawn(ns, ["bird", "-f", "-c", conf, "-s", ctl, "-P", join(dir, "bird.pid")], { name })
    const birdc = (command: string) =>
      Netns.runOk(["birdc", "-s", ctl, ...command.split(" ")]).pipe(
        Effect.map((r) => r.stdout.split("\n").filter((l) => !l.startsWith("BIRD ")).join("\n"))
      )
    yield* poll(`${name}: control socket`, birdc("show status").pipe(Effect.map(() => true), Effect.orElseSucceed(() => undefined)))
    return { dir, birdc, process }
  })

/** One route of `birdc show route all PREFIX` (BIRD has no JSON output). */
export interface BirdRoute {
  readonly nexthop: string | undefined
  readonly protocol: string
  readonly best: boolean
  readonly attributes: Readonly<Record<string, string>>
}

/** Parses `show route all` text: a route starts at a line with `unicast [`, `via` gives the next hop. */
export const parseBirdRoutes = (text: string): ReadonlyArray<BirdRoute> => {
  const routes: Array<{ nexthop: string | undefined; protocol: string; best: boolean; attributes: Record<string, string> }> = []
  for (const line of text.split("\n")) {
    const start = /unicast \[(\S+)[^\]]*\]\s*(\*)?/.exec(line)
    if (start !== null) {
      routes.push({ nexthop: undefined, protocol: start[1] ?? "", best: start[2] === "*", attributes: {} })
      continue
    }
    const current = routes.at(-1)
    if (current === undefined) continue
    const via = /^\s+via (\S+)/.exec(line)
    if (via !== null && current.nexthop === undefined) current.nexthop = via[1]
    const attr = /^\s+(BGP\.\w+): (.*)$/.exec(line)
    if (attr !== null) current.attributes[attr[1] ?? ""] = attr[2] ?? ""
  }
  return routes
}

export const birdRoutes = (bird: Bird, prefix: string): Effect.Effect<ReadonlyArray<BirdRoute>, Netns.LabError> =>
  bird.birdc(`show route all ${prefix}`).pipe(
    Effect.map(parseBirdRoutes),
    // birdc exits non-zero with "Network not found" when the table has no route for the prefix.
    Effect.catchIf((e) => /Network not found/.test(e.reason), () => Effect.succeed([]))
  )

// ---------------------------------------------------------------------------------------------------------------
// GoBGP

export interface Gobgp {
  readonly dir: string
  /** `gobgp --target unix://SOCK ARGS...`, stdout. */
  readonly gobgp: (...args: ReadonlyArray<string>) => Effect.Effect<string, Netns.LabError>
  readonly process: Netns.LabProcess
}

/** Starts gobgpd with a TOML `config` (checked first with `gobgpd -d`). */
export const startGobgp = (lab: Netns.Lab, ns: string, config: string, name = "gobgp"): Effect.Effect<Gobgp, Netns.LabError> =>
  Effect.gen(function*() {
    const dir = join(lab.dir, name)
    mkdirSync(dir, { recursive: true })
    const conf = join(dir, "gobgpd.toml")
    const sock = join(dir, "gobgp.sock")
    writeFileSync(conf, config)
    yield* Netns.runOk(["gobgpd", "-f", conf, "-d", "-t", "toml"])
    const process = yield* lab.spawn(ns, ["gobgpd", "-f", conf, "-t", "toml", "--api-hosts", `unix://${sock}`, "--pprof-disable", "-p", "-l", "info"], { name })
    const gobgp = (...args: ReadonlyArray<string>) =>
      Netns.runOk(["gobgp", "--target", `unix://${sock}`, ...args]).pipe(Effect.map((r) => r.stdout))
    yield* poll(`${name}: api socket`, gobgp("global").pipe(Effect.map(() => true), Effect.orElseSucceed(() => undefined)))
    return { dir, gobgp, process }
  })

/** Paths GoBGP holds for `prefix`: next hops and attributes as GoBGP's JSON gives them. */
export const gobgpPaths = (
  g: Gobgp,
  prefix: string
): Effect.Effect<ReadonlyArray<{ readonly best: boolean; readonly attrs: ReadonlyArray<Readonly<Record<string, unknown>>> }>, Netns.LabError> =>
  g.gobgp("global", "rib", "-a", prefix.includes(":") ? "ipv6" : "ipv4", "-j").pipe(
    Effect.map((text) => {
      const rib = JSON.parse(text === "" ? "{}" : text) as Record<string, ReadonlyArray<{ best?: boolean; attrs?: ReadonlyArray<Record<string, unknown>> }>>
      return (rib[prefix] ?? []).map((p) => ({ best: p.best === true, attrs: p.attrs ?? [] }))
    })
  )
