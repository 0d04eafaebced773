// `npm run bench -- allocator [--quick]`: allocate 100k LoadBalancer Services (mixed IPv4 / IPv6 / dual-stack, some
// sharing an IP) from one pool of 10.0.0.0/8 + fd00::/104, then rebuild the allocator from the Services' status as
// a restarted controller would. The addresses never carry traffic: this is pure computation, so any /8 will do.
//
// Goals: allocateSeconds ≤ 2, rebuildSeconds ≤ 1, rssMB ≤ 256. There is no peer in this run: MetalLB's allocator
// scans each pool linearly per Service (see docs/allocation.md), which does not finish 100k in a /8 in useful time.
import { Result } from "effect"
import { performance } from "node:perf_hooks"
import * as Core from "../src/allocator/Core.ts"
import type { Pool } from "../src/allocator/Pool.ts"
import * as ServiceIntent from "../src/allocator/ServiceIntent.ts"
import * as Cidr from "../src/net/Cidr.ts"
import * as Ip from "../src/net/Ip.ts"

const baselineRssMB = Math.round(process.memoryUsage().rss / 2 ** 20)
const quick = process.argv.includes("--quick")
const services = quick ? 10_000 : 100_000

const pool: Pool = {
  name: "bench",
  cidrs: ["10.0.0.0/8", "fd00::/104"].map((c) => Result.getOrThrow(Cidr.parse(c))),
  autoAssign: true,
  avoidBuggyIPs: false
}

/** Service i: 60% IPv4, 20% IPv6, 20% RequireDualStack; 10% carry a sharing key, ports alternating 80 / 81. */
const serviceJson = (i: number, ingress: ReadonlyArray<string>): Record<string, unknown> => {
  const kind = i % 10
  const clusterIPs = kind < 6 ? ["10.96.0.1"] : kind < 8 ? ["fd00:96::1"] : ["10.96.0.1", "fd00:96::1"]
  // One key for all of them, as clusters often do ("true"): the worst case for co-location lookups.
  const sharing = i % 20 < 2 ? { "metallb.io/allow-shared-ip": "true" } : {}
  return {
    metadata: { name: `svc-${i}`, namespace: `ns-${i % 50}`, annotations: sharing },
    spec: {
      type: "LoadBalancer",
      clusterIPs,
      ipFamilyPolicy: clusterIPs.length === 2 ? "RequireDualStack" : "SingleStack",
      ports: [{ protocol: "TCP", port: 80 + (i % 2) }]
    },
    status: { loadBalancer: { ingress: ingress.map((ip) => ({ ip })) } }
  }
}

/** Wall-clock seconds (the figure the goals speak of) and CPU seconds (steadier when the machine is shared). */
const cpu: Record<string, number> = {}
const time = <A>(f: () => A, label?: string): [A, number] => {
  const start = performance.now()
  const startCpu = process.cpuUsage()
  const out = f()
  const used = process.cpuUsage(startCpu)
  if (label !== undefined) cpu[label] = (used.user + used.system) / 1e6
  return [out, (performance.now() - start) / 1000]
}

const extract = (ingress: (i: number) => ReadonlyArray<string>) =>
  time(() =>
    Array.from({ length: services }, (_, i) => Result.getOrThrow(ServiceIntent.fromService(serviceJson(i, ingress(i)))))
  )

/** The first controller: converge every Service, keep only what it writes to the status. */
const allocateAll = () => {
  const [intents, extractSeconds] = extract(() => [])
  const state = Core.empty()
  Core.setPools(state, [pool])
  const [statuses, seconds] = time(() =>
    intents.map((intent) => {
      const result = Core.converge(state, intent)
      if (result.error !== undefined) throw new Error(`${intent.key}: ${result.error}`)
      return result.ips.map(Ip.format)
    }), "allocate")
  return { statuses, seconds, extractSeconds, stats: Core.stats(state)[0] }
}
const { statuses, seconds: allocateSeconds, extractSeconds, stats } = allocateAll()

/** A restarted controller: reads the Services as they now are and rebuilds a fresh state from their status. */
const rebuildAll = () => {
  const [restarted] = extract((i) => statuses[i] ?? [])
  const fresh = Core.empty()
  Core.setPools(fresh, [pool])
  const [rebuilt, seconds] = time(() => Core.rebuild(fresh, restarted), "rebuild")
  let changed = 0
  for (const [i, intent] of restarted.entries()) {
    const again = rebuilt.get(intent.key)?.ips.map(Ip.format) ?? []
    if (again.join() !== (statuses[i] ?? []).join()) changed++
  }
  return { seconds, changed }
}
const { seconds: rebuildSeconds, changed } = rebuildAll()
if (changed > 0) throw new Error(`${changed} Services changed IPs across the rebuild`)

const rssMB = Math.round(process.resourceUsage().maxRSS / 1024)
const perAllocationMicros = Math.round((allocateSeconds * 1e6) / services * 100) / 100
const round = (x: number) => Math.round(x * 1000) / 1000

const rows: Array<[string, string]> = [
  ["services", String(services)],
  ["pool", "10.0.0.0/8 + fd00::/104 (one pool)"],
  ["IPv4 in use", String(stats?.ipv4.inUse)],
  ["IPv6 in use", String(stats?.ipv6.inUse)],
  ["extract intents (s)", String(round(extractSeconds))],
  ["allocate (s)", `${round(allocateSeconds)}  (goal ≤ 2; CPU ${round(cpu["allocate"] ?? 0)})`],
  ["per allocation (µs)", String(perAllocationMicros)],
  ["rebuild from status (s)", `${round(rebuildSeconds)}  (goal ≤ 1; CPU ${round(cpu["rebuild"] ?? 0)})`],
  ["changed by rebuild", String(changed)],
  ["rss before any Service (MB)", String(baselineRssMB)],
  ["peak rss (MB)", `${rssMB}  (goal ≤ 256)`],
  ["live heap at end (MB)", String(Math.round(process.memoryUsage().heapUsed / 2 ** 20))]
]
const width = Math.max(...rows.map(([k]) => k.length))
for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`)
console.log(JSON.stringify({
  bench: "allocator",
  services,
  allocateSeconds: round(allocateSeconds),
  rebuildSeconds: round(rebuildSeconds),
  perAllocationMicros,
  rssMB
}))
