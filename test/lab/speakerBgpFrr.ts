// Shared pieces of the suites that run the real `metallb speaker` against FRR (speaker-bgp-frr*.test.ts): the FRR
// router of lab-harness.md §2 in its variants, the metallb.io objects that configure the speakers, and what the tests
// read back from a speaker (its log lines after a mark, its metrics) and from the kernel.
import { type Duration, Effect } from "effect"
import type { JsonObject } from "../../src/testing/apiserver/Json.ts"
import * as Netns from "../../src/testing/Netns.ts"
import * as Routers from "../../src/testing/Routers.ts"
import { eventually, notYet } from "./bgpLab.ts"
import { NS } from "./speakerLab.ts"

export const nodes = { n1: 11, n2: 12, n3: 13 } as const
export type NodeName = keyof typeof nodes
export const nodeNames = Object.keys(nodes) as ReadonlyArray<NodeName>
/** The speakers' metrics port (each node has its own namespace, so one port for all). */
export const METRICS_PORT = 7472

export interface FrrOptions {
  /** iBGP with explicit passive neighbours n1..n3 (both families); eBGP with listen ranges otherwise. */
  readonly ibgp?: boolean
  readonly password?: string
  readonly password6?: string
  readonly bfd?: boolean
  readonly gracefulRestart?: boolean
}

/** FRR as the nodes' router, AS 64512, IPv4 and IPv6 sessions on the LAN (lab-harness.md §2). */
export const frrRouter = (o: FrrOptions = {}): string => {
  const group = (name: string, password: string | undefined, range: string, neighbours: ReadonlyArray<string>) =>
    [
      ` neighbor ${name} peer-group`,
      ` neighbor ${name} remote-as ${o.ibgp === true ? "internal" : "external"}`,
      ` neighbor ${name} timers 3 9`,
      ...(password === undefined ? [] : [` neighbor ${name} password ${password}`]),
      ...(o.bfd === true ? [` neighbor ${name} bfd`, ` neighbor ${name} bfd profile fast`] : []),
      ...(o.ibgp === true
        ? [` neighbor ${name} passive`, ...neighbours.map((n) => ` neighbor ${n} peer-group ${name}`)]
        : [` bgp listen range ${range} peer-group ${name}`])
    ]
  const hosts = Object.values(nodes)
  return [
    "router bgp 64512",
    " bgp router-id 192.0.2.1",
    " bgp log-neighbor-changes",
    " no bgp ebgp-requires-policy",
    " no bgp default ipv4-unicast",
    // Without it FRR is a graceful-restart helper only (its default).
    ...(o.gracefulRestart === true ? [" bgp graceful-restart"] : []),
    " bgp bestpath as-path multipath-relax",
    ...group("NODES", o.password, "192.0.2.0/24", hosts.map((h) => `192.0.2.${h}`)),
    ...group("NODES6", o.password6, "2001:db8:0:1::/64", hosts.map((h) => `2001:db8:0:1::${h}`)),
    " address-family ipv4 unicast",
    "  neighbor NODES activate",
    "  maximum-paths 8",
    "  maximum-paths ibgp 8",
    " exit-address-family",
    " address-family ipv6 unicast",
    "  neighbor NODES6 activate",
    "  maximum-paths 8",
    "  maximum-paths ibgp 8",
    " exit-address-family",
    "!"
  ].join("\n")
}

// ---------------------------------------------------------------------------------------------------------------
// metallb.io objects (the BGPPeer, BGPAdvertisement and BFDProfile specs as written; the rest from bgpObjects.ts)

export { community as communityAliases, passwordSecret } from "./bgpObjects.ts"

const meta = (name: string) => ({ name, namespace: NS })

export const bgpPeer = (name: string, spec: JsonObject): JsonObject => ({
  apiVersion: "metallb.io/v1beta2",
  kind: "BGPPeer",
  metadata: meta(name),
  spec
})

export const bgpAdvertisement = (name: string, spec: JsonObject): JsonObject => ({
  apiVersion: "metallb.io/v1beta1",
  kind: "BGPAdvertisement",
  metadata: meta(name),
  spec
})

export const bfdProfile = (name: string, spec: JsonObject): JsonObject => ({
  apiVersion: "metallb.io/v1beta1",
  kind: "BFDProfile",
  metadata: meta(name),
  spec
})

// ---------------------------------------------------------------------------------------------------------------
// Reading back

/** A position in a process's output: `after(mark, pattern)` only looks at what came later. */
export const mark = (p: Netns.LabProcess): number => p.stdout().length

/** Waits for a line matching `pattern` written after `from` (see `mark`). */
export const logAfter = (p: Netns.LabProcess, from: number, pattern: RegExp, what: string, timeout: Duration.Input = "20 seconds") =>
  eventually(what, Effect.suspend(() => {
    const text = p.stdout().slice(from)
    const m = pattern.exec(text)
    return m !== null ? Effect.succeed(m[0]) : notYet(`${p.name} said since: ${text.slice(-600) || "(nothing)"}`)
  }), timeout)

/** One sample of a speaker's `/metrics` (text), read inside its namespace. */
export const metrics = (lab: Netns.Lab, ns: string) =>
  lab.exec(ns, ["curl", "-sf", "--max-time", "5", `http://127.0.0.1:${METRICS_PORT}/metrics`]).pipe(Effect.map((r) => r.stdout))

/** The value of a speaker's series `name{…peer="…"…}`, undefined when it has no such series. */
export const metricValue = (lab: Netns.Lab, ns: string, name: string, peer: string) =>
  metrics(lab, ns).pipe(Effect.map((text) => {
    const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(`peer="${peer}"`))
    return line === undefined ? undefined : Number(line.split(" ").at(-1))
  }))

/** `metallb_bgp_session_up{peer="…"}` of a speaker. */
export const sessionUp = (lab: Netns.Lab, ns: string, peer: string) => metricValue(lab, ns, "metallb_bgp_session_up", peer)

/** The namespace's TcpExt counters (/proc/net/netstat is per network namespace). */
export const tcpExt = (lab: Netns.Lab, ns: string) =>
  lab.exec(ns, ["cat", "/proc/net/netstat"]).pipe(Effect.map((r) => {
    const lines = r.stdout.split("\n").filter((l) => l.startsWith("TcpExt:"))
    const names = lines[0]?.split(/\s+/).slice(1) ?? []
    const values = lines[1]?.split(/\s+/).slice(1) ?? []
    return new Map(names.map((n, i) => [n, Number(values[i])]))
  }))

/** FRR's paths for `prefix` as `nexthop` sorted (the shape most checks compare). */
export const nexthops = (frr: Routers.Frr, prefix: string) =>
  Routers.frrPaths(frr, prefix).pipe(Effect.map((ps) => ps.map((p) => p.nexthop ?? "?").toSorted()))

/**
 * Waits until FRR's paths for `prefix` come from exactly `expected` next hops and its best-path run has settled on
 * them: one best path, and with several paths all of them multipath (FRR marks them a moment after they arrive).
 */
export const pathsFrom = (frr: Routers.Frr, prefix: string, expected: ReadonlyArray<string>, timeout: Duration.Input = "30 seconds") =>
  eventually(`${prefix} from ${expected.join(", ") || "nobody"}`, Routers.frrPaths(frr, prefix).pipe(
    Effect.flatMap((ps) => {
      const got = ps.map((p) => `${p.nexthop ?? "?"}${p.best ? " best" : ""}${p.multipath ? " multipath" : ""}`)
      const hops = ps.map((p) => p.nexthop ?? "?").toSorted()
      const settled = ps.length === 0 || (ps.filter((p) => p.best).length === 1 && (ps.length === 1 || ps.every((p) => p.multipath)))
      return hops.join() === [...expected].toSorted().join() && settled ? Effect.succeed(ps) : notYet(`paths [${got.join(", ")}]`)
    })
  ), timeout)

/** The prefixes of FRR's whole table of a family (`show bgp ipv4 unicast json`). */
export const frrPrefixes = (frr: Routers.Frr, family: "ipv4" | "ipv6") =>
  frr.json<{ readonly routes?: Readonly<Record<string, unknown>> }>(`show bgp ${family} unicast`).pipe(
    Effect.map((r) => Object.keys(r.routes ?? {}).toSorted())
  )
