// What a router holds, read back for the speaker BGP labs against BIRD 2 and GoBGP 3: routes with their next hops
// and attributes in a form both routers share, BGP sessions by neighbour address, the kernel FIB of the router's
// namespace and the kernel's TCP-MD5 counters. Every reader fails with `notYet(what it saw)` inside `eventually`.
import { type Duration, Effect } from "effect"
import * as Netns from "../../src/testing/Netns.ts"
import * as Routers from "../../src/testing/Routers.ts"
import { eventually, notYet } from "./bgpLab.ts"

/** One path for a prefix, whichever router holds it. */
export interface RibPath {
  readonly nexthop: string | undefined
  readonly asPath: ReadonlyArray<number>
  readonly origin: "IGP" | "EGP" | "Incomplete" | undefined
  readonly localPref: number | undefined
  /** `64500:100`. */
  readonly communities: ReadonlyArray<string>
  /** `64500:1:2`. */
  readonly largeCommunities: ReadonlyArray<string>
}

export const describePaths = (paths: ReadonlyArray<RibPath>): string =>
  paths.length === 0 ? "no path" : paths.map((p) => `${p.nexthop ?? "?"} [${p.communities.join(" ")}|${p.largeCommunities.join(" ")}|lp ${p.localPref ?? "-"}]`).join(", ")

// ---------------------------------------------------------------------------------------------------------------
// BIRD

/** `(64500,100) (64500,200)` → `64500:100 64500:200`; `(64500, 1, 2)` → `64500:1:2`. */
const birdCommunities = (text: string | undefined): ReadonlyArray<string> =>
  [...(text ?? "").matchAll(/\(([^)]*)\)/g)].map((m) => (m[1] ?? "").split(",").map((s) => s.trim()).join(":"))

const origins = { IGP: "IGP", EGP: "EGP", Incomplete: "Incomplete" } as const

export const birdPaths = (bird: Routers.Bird, prefix: string): Effect.Effect<ReadonlyArray<RibPath>, Netns.LabError> =>
  Routers.birdRoutes(bird, prefix).pipe(
    Effect.map((routes) =>
      routes.map((r) => {
        const lp = r.attributes["BGP.local_pref"]
        const origin = r.attributes["BGP.origin"]
        return {
          nexthop: r.nexthop,
          asPath: (r.attributes["BGP.as_path"] ?? "").split(" ").filter((s) => s !== "").map(Number),
          origin: origin !== undefined && origin in origins ? origins[origin as keyof typeof origins] : undefined,
          localPref: lp === undefined ? undefined : Number(lp),
          communities: birdCommunities(r.attributes["BGP.community"]),
          largeCommunities: birdCommunities(r.attributes["BGP.large_community"])
        }
      })
    )
  )

/** One protocol of `birdc show protocols all`. */
export interface BirdProtocol {
  readonly name: string
  readonly proto: string
  /** `up`, `start`, `down`. */
  readonly state: string
  /** `Established`, `Active`, `Connect`, ... */
  readonly info: string
  readonly neighbor: string | undefined
  readonly lastError: string | undefined
}

export const parseBirdProtocols = (text: string): ReadonlyArray<BirdProtocol> => {
  const out: Array<{ -readonly [K in keyof BirdProtocol]: BirdProtocol[K] }> = []
  for (const line of text.split("\n")) {
    // `dynbgp1    BGP        ---        up     16:01:02.345  Established`
    const head = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(?:\d{4}-\d\d-\d\d\s+)?[\d:.]+\s*(.*)$/.exec(line)
    if (head !== null && !line.startsWith(" ") && !line.startsWith("\t") && head[1] !== "Name") {
      out.push({ name: head[1] ?? "", proto: head[2] ?? "", state: head[4] ?? "", info: (head[5] ?? "").trim(), neighbor: undefined, lastError: undefined })
      continue
    }
    const current = out.at(-1)
    if (current === undefined) continue
    const neighbor = /^\s+Neighbor address:\s+(\S+)/.exec(line)
    if (neighbor !== null) current.neighbor = neighbor[1]
    const error = /^\s+Last error:\s+(.*)$/.exec(line)
    if (error !== null) current.lastError = error[1]
  }
  return out
}

export const birdProtocols = (bird: Routers.Bird): Effect.Effect<ReadonlyArray<BirdProtocol>, Netns.LabError> =>
  bird.birdc("show protocols all").pipe(Effect.map(parseBirdProtocols))

/** BGP protocols (dynamic ones included) by neighbour address: `Established`, `Active`, ... */
export const birdSessions = (bird: Routers.Bird): Effect.Effect<ReadonlyMap<string, string>, Netns.LabError> =>
  birdProtocols(bird).pipe(
    Effect.map((ps) => new Map(ps.flatMap((p) => (p.proto === "BGP" && p.neighbor !== undefined ? [[p.neighbor, p.info]] : []))))
  )

/** `birdc show bfd sessions`: state by neighbour address (`Up`, `Down`, `Init`). */
export const birdBfdSessions = (bird: Routers.Bird): Effect.Effect<ReadonlyMap<string, string>, Netns.LabError> =>
  bird.birdc("show bfd sessions").pipe(
    Effect.map((text) =>
      new Map(text.split("\n").flatMap((line) => {
        // `192.0.2.11      eth0       Up        16:01:02.345    0.100    0.300`
        const m = /^(\S+)\s+(\S+)\s+(Up|Down|Init|AdminDown)\b/.exec(line)
        return m === null ? [] : [[m[1] ?? "", m[3] ?? ""] as const]
      }))
    )
  )

// ---------------------------------------------------------------------------------------------------------------
// GoBGP

type Attr = Readonly<Record<string, unknown>>

const numberArray = (v: unknown): ReadonlyArray<number> => (Array.isArray(v) ? v.filter((x): x is number => typeof x === "number") : [])

const gobgpPath = (attrs: ReadonlyArray<Attr>): RibPath => {
  const of = (type: number) => attrs.find((a) => a["type"] === type)
  const origin = of(1)?.["value"]
  const segments = of(2)?.["as_paths"]
  // `{"type":32,"value":[{"ASN":64500,"LocalData1":1,"LocalData2":2}]}` (GoBGP 3.10)
  const large = of(32)?.["value"]
  return {
    // NEXT_HOP (3) for IPv4 in the classic fields; MP_REACH_NLRI (14) otherwise.
    nexthop: (of(3)?.["nexthop"] ?? of(14)?.["nexthop"]) as string | undefined,
    asPath: Array.isArray(segments) ? segments.flatMap((s: { asns?: unknown }) => numberArray(s.asns)) : [],
    origin: origin === 0 ? "IGP" : origin === 1 ? "EGP" : origin === 2 ? "Incomplete" : undefined,
    localPref: of(5)?.["value"] as number | undefined,
    communities: numberArray(of(8)?.["communities"]).map((c) => `${Math.floor(c / 65536)}:${c % 65536}`),
    largeCommunities: Array.isArray(large)
      ? large.map((l: { ASN?: number; LocalData1?: number; LocalData2?: number }) => `${l.ASN}:${l.LocalData1}:${l.LocalData2}`)
      : []
  }
}

export const gobgpPaths = (g: Routers.Gobgp, prefix: string): Effect.Effect<ReadonlyArray<RibPath>, Netns.LabError> =>
  Routers.gobgpPaths(g, prefix).pipe(Effect.map((ps) => ps.map((p) => gobgpPath(p.attrs))))

const gobgpStates: Readonly<Record<number, string>> = { 1: "Idle", 2: "Connect", 3: "Active", 4: "OpenSent", 5: "OpenConfirm", 6: "Established" }

/** `gobgp neighbor -j`: session state by neighbour address (dynamic neighbours appear once they connect). */
export const gobgpSessions = (g: Routers.Gobgp): Effect.Effect<ReadonlyMap<string, string>, Netns.LabError> =>
  g.gobgp("neighbor", "-j").pipe(
    Effect.flatMap((text) =>
      Effect.try({
        try: () => JSON.parse(text === "" ? "[]" : text) as ReadonlyArray<{ state?: { neighbor_address?: string; session_state?: number } }>,
        catch: () => new Netns.LabError({ command: "gobgp neighbor -j", reason: `not JSON: ${text.slice(0, 200)}` })
      })
    ),
    Effect.map((ns) =>
      new Map((ns ?? []).map((n) => [n.state?.neighbor_address ?? "?", gobgpStates[n.state?.session_state ?? 0] ?? `state ${n.state?.session_state}`]))
    )
  )

// ---------------------------------------------------------------------------------------------------------------
// The router's kernel

/** Next hops of the kernel route for `prefix` in namespace `ns` (one for a plain route, several for ECMP). */
export const kernelNexthops = (ns: string, prefix: string): Effect.Effect<ReadonlyArray<string>, Netns.LabError> =>
  Netns.runOk(["ip", "-n", ns, "-j", ...(prefix.includes(":") ? ["-6"] : []), "route", "show", prefix]).pipe(
    Effect.map((r) => {
      const routes = JSON.parse(r.stdout === "" ? "[]" : r.stdout) as ReadonlyArray<{ gateway?: string; nexthops?: ReadonlyArray<{ gateway?: string }> }>
      return routes.flatMap((route) => route.nexthops?.map((h) => h.gateway ?? "?") ?? (route.gateway === undefined ? [] : [route.gateway]))
    })
  )

/** TCP-MD5 segments the kernel of `ns` dropped for a wrong key (TcpExtTCPMD5Failure, lab-harness.md §2). */
export const md5Failures = (ns: string): Effect.Effect<number, Netns.LabError> =>
  Netns.runOk(["ip", "netns", "exec", ns, "nstat", "-asz", "TcpExtTCPMD5Failure"]).pipe(
    Effect.map((r) => Number(/TcpExtTCPMD5Failure\s+(\d+)/.exec(r.stdout)?.[1] ?? "0"))
  )

/** Waits until the kernel of `ns` has dropped segments for a wrong MD5 key: someone dialled with it. */
export const waitForMd5Failures = (ns: string): Effect.Effect<number, Netns.LabError> =>
  eventually("TCP-MD5 failures counted by the router's kernel", md5Failures(ns).pipe(
    Effect.flatMap((n) => (n > 0 ? Effect.succeed(n) : notYet("TcpExtTCPMD5Failure = 0")))
  ), "30 seconds")

// ---------------------------------------------------------------------------------------------------------------
// Waiting for a router's view

/** The paths `read` returns once their next hops are exactly `nexthops` (in any order); `context` joins a timeout. */
export const waitForPaths = (
  what: string,
  read: Effect.Effect<ReadonlyArray<RibPath>, Netns.LabError>,
  nexthops: ReadonlyArray<string>,
  context: () => string = () => "",
  timeout: Duration.Input = "60 seconds"
): Effect.Effect<ReadonlyArray<RibPath>, Netns.LabError> => {
  const want = [...nexthops].toSorted().join(",")
  return eventually(
    what,
    read.pipe(Effect.flatMap((paths) => {
      const have = paths.map((p) => p.nexthop ?? "?").toSorted().join(",")
      if (have === want) return Effect.succeed(paths)
      const extra = context()
      return notYet(`${describePaths(paths)}${extra === "" ? "" : `; ${extra}`}`)
    })),
    timeout
  )
}

/** Waits until no path of `read` has `nexthop` (whatever the other paths do meanwhile). */
export const waitForNoPathVia = (
  what: string,
  read: Effect.Effect<ReadonlyArray<RibPath>, Netns.LabError>,
  nexthop: string,
  timeout: Duration.Input = "30 seconds"
): Effect.Effect<ReadonlyArray<RibPath>, Netns.LabError> =>
  eventually(what, read.pipe(Effect.flatMap((paths) => (paths.some((p) => p.nexthop === nexthop) ? notYet(describePaths(paths)) : Effect.succeed(paths)))), timeout)
