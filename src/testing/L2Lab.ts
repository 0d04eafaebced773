/**
 * The layer 2 failover lab shared by the lab tests and the benchmarks: a client and three nodes on one bridge
 * (Netns.lan), every node accepting the VIPs on `lo` the strictARP way, each running the L2Node program from one
 * JSON spec that the lab rewrites to play Kubernetes changes. Helpers fail over nodes the ways a failure happens
 * (process crash, node crash, link down, graceful stop) and observe from the client (arping, ping gaps).
 *
 * @since 0.1.0
 */
import { renameSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Duration, Effect, type Scope } from "effect"
import type { Spec } from "./L2Node.ts"
import * as L2Node from "./L2Node.ts"
import * as Netns from "./Netns.ts"

export const nodeNames = ["n1", "n2", "n3"] as const
export type NodeName = (typeof nodeNames)[number]

export interface L2Lab {
  readonly lab: Netns.Lab
  readonly hosts: Record<NodeName | "cli", Netns.Host>
  readonly specFile: string
  readonly spec: () => Spec
  /** Rewrites the spec (atomically: the nodes never read half a file). */
  readonly updateSpec: (f: (spec: Spec) => Spec) => Effect.Effect<void>
  /** Starts (or restarts) the node program in `node`'s namespace and waits for its `ready` line. */
  readonly start: (node: NodeName) => Effect.Effect<Netns.LabProcess, Netns.LabError>
  readonly process: (node: NodeName) => Netns.LabProcess | undefined
  /** Stops the node program with `signal` and waits for it to exit. */
  readonly stop: (node: NodeName, signal: NodeJS.Signals) => Effect.Effect<void>
  /** The owner of `ip` the running node programs last reported, if they all agree. */
  readonly agreedOwner: (ip: string) => string | null | undefined
  /** The node whose MAC answers `arping` for an IPv4 `ip` from the client, if any. */
  readonly arpOwner: (ip: string) => Effect.Effect<NodeName | undefined, Netns.LabError>
  /**
   * Waits until every running node reports the same owner for `ip` and the client's ARP says the same node; with
   * `all`, also until every running node counts every running node as a candidate (a cluster at rest).
   */
  readonly settled: (
    ip: string,
    options?: { readonly timeout?: Duration.Input; readonly all?: boolean; readonly not?: NodeName }
  ) => Effect.Effect<NodeName, Netns.LabError>
  /** The node with this MAC. */
  readonly byMac: (mac: string) => NodeName | undefined
}

interface OwnersEvent {
  readonly event: "owners"
  readonly owners: Record<string, string | null>
}

interface ViewEvent {
  readonly event: "view"
  readonly [iface: string]: unknown
}

const lastEvent = <A>(stdout: string, event: string): A | undefined => {
  const lines = stdout.split("\n")
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] ?? ""
    if (!line.includes(`"event":"${event}"`)) continue
    try {
      return JSON.parse(line) as A
    } catch {
      return undefined
    }
  }
  return undefined
}

const lastOwners = (stdout: string) => lastEvent<OwnersEvent>(stdout, "owners")

export const make = (options: {
  /** The node program (test/lab/fixtures/l2-node.ts). */
  readonly program: string
  readonly spec: Omit<Spec, "nodes">
  /** Addresses put on every node's `lo` (the VIPs of `spec`). */
  readonly vips: ReadonlyArray<string>
}): Effect.Effect<L2Lab, Netns.LabError, Scope.Scope> =>
  Effect.gen(function*() {
    const lab = yield* Netns.make()
    const hosts = yield* lab.lan({ cli: 100, n1: 11, n2: 12, n3: 13 })
    for (const n of nodeNames) yield* L2Node.acceptVips(hosts[n].ns, options.vips)
    const specFile = join(lab.dir, "spec.json")
    let spec: Spec = { nodes: [...nodeNames], ...options.spec }
    const write = () => {
      writeFileSync(`${specFile}.tmp`, JSON.stringify(spec))
      renameSync(`${specFile}.tmp`, specFile)
    }
    write()
    const processes = new Map<NodeName, Netns.LabProcess>()
    const running = () => [...processes.values()].filter((p) => p.stdout().includes(`"event":"ready"`) && !p.stdout().includes(`"event":"stopped"`))

    const start = (node: NodeName) =>
      Effect.gen(function*() {
        const p = yield* lab.spawn(hosts[node].ns, [process.execPath, options.program, node, specFile], { name: `l2-node ${node}` })
        processes.set(node, p)
        yield* p.waitFor(/"event":"ready"/, { timeout: Duration.seconds(15) })
        return p
      })

    const stop = (node: NodeName, signal: NodeJS.Signals) =>
      Effect.gen(function*() {
        const p = processes.get(node)
        if (p === undefined) return
        processes.delete(node)
        yield* p.stop(signal)
      })

    const byMac = (mac: string) => nodeNames.find((n) => hosts[n].mac === mac.toLowerCase())

    // Nodes cut off from the segment (link down, isolated) see no one: their opinion does not count.
    const connected = (p: Netns.LabProcess) => {
      const v = lastEvent<ViewEvent>(p.stdout(), "view")?.[spec.interface] as { linkUp?: boolean; isolated?: boolean } | undefined
      return v?.linkUp === true && v.isolated !== true
    }

    const agreedOwner = (ip: string) => {
      const seen = new Set<string | null>()
      for (const p of running()) {
        if (!connected(p)) continue
        const o = lastOwners(p.stdout())
        if (o === undefined) return undefined
        seen.add(o.owners[ip] ?? null)
      }
      return seen.size === 1 ? [...seen][0] : undefined
    }

    const arpOwner = (ip: string) =>
      Effect.map(
        Netns.nsExec(hosts.cli.ns, ["arping", "-i", "eth0", "-c", "1", "-w", "0.3", ip], { allowFailure: true }),
        (r) => {
          const mac = r.stdout.match(/from ([0-9a-f:]{17})/i)?.[1]
          return mac === undefined ? undefined : byMac(mac)
        }
      )

    const atRest = () => {
      const names = [...processes].filter(([, p]) => running().includes(p)).map(([n]) => n).toSorted()
      return [...processes.values()].filter((p) => running().includes(p)).every((p) => {
        const v = lastEvent<ViewEvent>(p.stdout(), "view")?.[spec.interface] as { candidates?: ReadonlyArray<string> } | undefined
        return JSON.stringify(v?.candidates ?? []) === JSON.stringify(names)
      })
    }

    const settled: L2Lab["settled"] = (ip, settleOptions) =>
      Effect.gen(function*() {
        const deadline = Date.now() + Duration.toMillis(Duration.fromInputUnsafe(settleOptions?.timeout ?? Duration.seconds(15)))
        while (Date.now() < deadline) {
          const agreed = agreedOwner(ip)
          if (agreed !== undefined && agreed !== null && agreed !== settleOptions?.not && (settleOptions?.all !== true || atRest())) {
            const arp = yield* arpOwner(ip)
            if (arp === agreed) return arp
          }
          yield* Effect.sleep(Duration.millis(50))
        }
        return yield* new Netns.LabError({
          command: `settled ${ip}`,
          reason: `owners: ${JSON.stringify([...processes].map(([n, p]) => [n, lastOwners(p.stdout())?.owners[ip]]))}`
        })
      })

    return {
      lab,
      hosts,
      specFile,
      spec: () => spec,
      updateSpec: (f) => Effect.sync(() => {
        spec = f(spec)
        write()
      }),
      start,
      process: (node) => processes.get(node),
      stop,
      agreedOwner,
      arpOwner,
      settled,
      byMac
    } satisfies L2Lab
  })

/** Gaps between consecutive replies of `ping -D` output (ms), and the reply count. */
export const pingGaps = (stdout: string): { readonly replies: number; readonly maxGapMs: number; readonly transmitted: number; readonly received: number } => {
  const times = [...stdout.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from/gm)].map((m) => Number(m[1]) * 1000)
  let maxGapMs = 0
  for (let i = 1; i < times.length; i++) maxGapMs = Math.max(maxGapMs, (times[i] ?? 0) - (times[i - 1] ?? 0))
  const summary = stdout.match(/(\d+) packets transmitted, (\d+) received/)
  return {
    replies: times.length,
    maxGapMs,
    transmitted: Number(summary?.[1] ?? 0),
    received: Number(summary?.[2] ?? 0)
  }
}
