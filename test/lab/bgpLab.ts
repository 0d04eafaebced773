// Shared pieces of the BGP lab suites: a node speaker (fixtures/bgp-node.ts) in a namespace driven through a spec
// file, FRR configurations of lab-harness.md §2, and polling.
import { Duration, Effect, Schedule } from "effect"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { BfdConfig } from "../../src/bgp/BfdFsm.ts"
import type { PeerConfig } from "../../src/bgp/BgpSession.ts"
import * as Netns from "../../src/testing/Netns.ts"

export const nodeFixture = fileURLToPath(new URL("fixtures/bgp-node.ts", import.meta.url))

export interface RouteText {
  readonly prefix: string
  readonly communities?: ReadonlyArray<string>
  readonly largeCommunities?: ReadonlyArray<string>
  readonly localPref?: number
  readonly nextHop?: string
}

export interface NodeSpec {
  readonly nodeName: string
  readonly restarted?: boolean
  readonly bfdListen?: ReadonlyArray<string>
  readonly listen?: { readonly port?: number; readonly addresses?: ReadonlyArray<string> }
  readonly peers: ReadonlyArray<{ readonly peer: PeerConfig; readonly bfd?: BfdConfig; readonly routes: ReadonlyArray<RouteText> }>
}

export interface Node {
  readonly process: Netns.LabProcess
  /** Rewrites the spec and tells the node to apply it (SIGUSR1). */
  readonly update: (spec: NodeSpec) => Effect.Effect<void>
  /** Waits for a JSON event line matching `pattern` after `after` lines already seen. */
  readonly waitFor: (pattern: RegExp, timeout?: Duration.Input) => Effect.Effect<RegExpMatchArray, Netns.LabError>
}

/** Starts the node speaker in `ns` with `spec`. */
export const startNode = (lab: Netns.Lab, ns: string, spec: NodeSpec, name = spec.nodeName): Effect.Effect<Node, Netns.LabError> =>
  Effect.gen(function*() {
    const file = join(lab.dir, `${name}.json`)
    writeFileSync(file, JSON.stringify(spec))
    const process = yield* lab.spawn(ns, [globalThis.process.execPath, nodeFixture, file], { name })
    yield* process.waitFor(/"event":"applied"/, { timeout: "15 seconds" })
    return {
      process,
      update: (next) =>
        Effect.sync(() => {
          writeFileSync(file, JSON.stringify(next))
          globalThis.process.kill(process.pid, "SIGUSR1")
        }),
      waitFor: (pattern, timeout = "15 seconds") => process.waitFor(pattern, { timeout })
    }
  })

/**
 * Polls `check` every 50 ms until it yields a value. A check may fail with `notYet(why)` instead of yielding
 * undefined: a timeout then names the last thing it saw, which is what a CI log needs to explain a failure.
 */
export const eventually = <A>(what: string, check: Effect.Effect<A | undefined, Netns.LabError>, timeout: Duration.Input = "15 seconds") => {
  let last = "not yet"
  return check.pipe(
    Effect.flatMap((a) => (a === undefined ? Effect.fail(new Netns.LabError({ command: what, reason: "not yet" })) : Effect.succeed(a))),
    Effect.tapError((e) => Effect.sync(() => { last = e.reason })),
    Effect.retry(Schedule.spaced("50 millis")),
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () =>
        Effect.fail(new Netns.LabError({ command: what, reason: `not after ${Duration.format(Duration.fromInputUnsafe(timeout))}; last: ${last}` }))
    })
  )
}

/** Fails a check of `eventually` with what it saw. */
export const notYet = (why: string) => Effect.fail(new Netns.LabError({ command: "check", reason: why }))

/** Checks that `check` holds for the whole of `duration` (sampled every 100 ms). */
export const throughout = (what: string, check: Effect.Effect<boolean, Netns.LabError>, duration: Duration.Input) =>
  check.pipe(
    Effect.flatMap((ok) => (ok ? Effect.void : Effect.fail(new Netns.LabError({ command: what, reason: "did not hold" })))),
    Effect.repeat(Schedule.spaced("100 millis")),
    Effect.timeoutOption(duration),
    Effect.asVoid
  )

/** lab-harness.md §2: the FRR router (AS 64512, or `asn`) for eBGP nodes in AS 64500, dynamic peers, MD5, IPv4 and IPv6. */
export const frrEbgp = (
  options: { readonly password?: string; readonly extraNeighbor?: string; readonly gracefulRestart?: boolean; readonly bfd?: boolean; readonly asn?: number } = {}
) =>
  `router bgp ${options.asn ?? 64512}
 bgp router-id 192.0.2.1
 bgp log-neighbor-changes
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 ${options.gracefulRestart === true ? "bgp graceful-restart" : "no bgp graceful-restart"}
 bgp bestpath as-path multipath-relax
 neighbor NODES peer-group
 neighbor NODES timers 3 9
 neighbor NODES remote-as external
${options.password === undefined ? "" : ` neighbor NODES password ${options.password}\n`}${options.bfd === true ? " neighbor NODES bfd\n neighbor NODES bfd profile fast\n" : ""} bgp listen range 192.0.2.0/24 peer-group NODES
 neighbor NODES6 peer-group
 neighbor NODES6 remote-as external
 neighbor NODES6 timers 3 9
 bgp listen range 2001:db8:0:1::/64 peer-group NODES6
 !
 address-family ipv4 unicast
  neighbor NODES activate
  maximum-paths 8
  maximum-paths ibgp 8
 exit-address-family
 address-family ipv6 unicast
  neighbor NODES6 activate
  maximum-paths 8
 exit-address-family
!`

/** lab-harness.md §2: bfdd's profile `fast` (100 ms × 3) that the BGP configurations' `bfd profile fast` names. */
export const bfddConf = `bfd
 profile fast
  receive-interval 100
  transmit-interval 100
  detect-multiplier 3
 exit
exit`

/** lab-harness.md §2 iBGP variant: explicit passive neighbours in AS 64512. */
export const frrIbgp = (neighbors: ReadonlyArray<string>) =>
  `router bgp 64512
 bgp router-id 192.0.2.1
 bgp log-neighbor-changes
 no bgp default ipv4-unicast
 neighbor NODES peer-group
 neighbor NODES remote-as internal
 neighbor NODES passive
 neighbor NODES timers 3 9
${neighbors.map((n) => ` neighbor ${n} peer-group NODES\n`).join("")} !
 address-family ipv4 unicast
  neighbor NODES activate
  maximum-paths 8
  maximum-paths ibgp 8
 exit-address-family
!`

export const ebgpPeer = (extra: Partial<PeerConfig> = {}): PeerConfig => ({
  address: "192.0.2.1",
  localAsn: 64500,
  peerAsn: 64512,
  holdTime: 9,
  ...extra
})

/** The next hops of the kernel route to `address` in `ns` (empty when there is none). */
export const kernelNexthops = (lab: Netns.Lab, ns: string, address: string) =>
  lab.exec(ns, ["ip", "-j", address.includes(":") ? "-6" : "-4", "route", "show", address]).pipe(
    Effect.map((r) => {
      const routes = JSON.parse(r.stdout === "" ? "[]" : r.stdout) as ReadonlyArray<{ gateway?: string; nexthops?: ReadonlyArray<{ gateway?: string }> }>
      const route = routes[0]
      if (route === undefined) return []
      return route.nexthops?.map((n) => n.gateway ?? "") ?? (route.gateway === undefined ? [] : [route.gateway])
    })
  )

/** `2026/11/26 13:50:01.123456` (FRR with `log timestamp precision 6`) or `2026-11-26T13:50:01.123456` (ip -ts) → epoch ms. */
export const parseStamp = (text: string): number => {
  const m = /(\d{4})[/-](\d\d)[/-](\d\d)[ T](\d\d):(\d\d):(\d\d)\.(\d+)/.exec(text)
  if (m === null) return Number.NaN
  const [, y, mo, d, h, mi, s, frac] = m
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) + Number(`0.${frac}`) * 1000
}

/** The FRR log time (epoch ms) of the first line after `after` (epoch ms) matching `pattern`. */
export const frrLogTime = (log: string, pattern: RegExp, after: number): number | undefined => {
  for (const line of log.split("\n")) {
    if (!pattern.test(line)) continue
    const t = parseStamp(line)
    if (t >= after) return t
  }
  return undefined
}

/** lab-harness.md §3: GoBGP as the router, AS 64512 at 192.0.2.1 / 2001:db8:0:1::1, ECMP (multiple paths) on. */
export const gobgpGlobal = `[global.config]
  as = 64512
  router-id = "192.0.2.1"
  port = 179
  local-address-list = ["192.0.2.1", "2001:db8:0:1::1"]
[global.use-multiple-paths.config]
  enabled = true
`

const gobgpFamily = (family: "ipv4-unicast" | "ipv6-unicast", kind: "peer-groups" | "neighbors") => `  [[${kind}.afi-safis]]
    [${kind}.afi-safis.config]
      afi-safi-name = "${family}"
`

const gobgpPassive = (kind: "peer-groups" | "neighbors") => `  [${kind}.transport.config]
    passive-mode = true
  [${kind}.timers.config]
    hold-time = 9
    keepalive-interval = 3
`

/** A passive peer group of `as` for one family, and the dynamic neighbours of `prefix` in it. */
export const gobgpDynamicGroup = (name: string, as: number, family: "ipv4-unicast" | "ipv6-unicast", prefix?: string) =>
  `[[peer-groups]]
  [peer-groups.config]
    peer-group-name = "${name}"
    peer-as = ${as}
${gobgpPassive("peer-groups")}${gobgpFamily(family, "peer-groups")}${
    prefix === undefined ? "" : `[[dynamic-neighbors]]
  [dynamic-neighbors.config]
    prefix = "${prefix}"
    peer-group = "${name}"
`
  }`

/** An explicit passive neighbour (GoBGP 3.10 has MD5 only on these, not on dynamic ones). */
export const gobgpNeighbor = (address: string, as: number, password?: string) =>
  `[[neighbors]]
  [neighbors.config]
    neighbor-address = "${address}"
    peer-as = ${as}
${password === undefined ? "" : `    auth-password = "${password}"\n`}${gobgpPassive("neighbors")}${
    gobgpFamily(address.includes(":") ? "ipv6-unicast" : "ipv4-unicast", "neighbors")
  }`
