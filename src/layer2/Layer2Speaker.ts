/**
 * The layer 2 half of the speaker: given the service IPs this node owns right now (and on which interfaces each
 * may be answered), it keeps one ARP and one NDP responder per eligible interface, answers only for owned IPs,
 * joins their solicited-node groups, and sends gratuitous bursts when an IP is gained (not on every reconcile).
 * Losing an IP stops answering for it at once.
 *
 * Who owns what is decided elsewhere (election + liveness); this layer only makes the network see it.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Exit, Layer, Schedule, Scope, Semaphore } from "effect"
import { Announcer } from "./Announcer.ts"
import { type ArpInterfaceResponder, ArpResponder, type InterfaceResponder, type Ownership } from "./ArpResponder.ts"
import * as Interfaces from "./Interfaces.ts"
import { type NdpInterfaceResponder, NdpResponder } from "./NdpResponder.ts"

/** One IP this node owns and answers for, and where. */
export interface L2Announcement {
  /** Canonical text of the IP. */
  readonly ip: string
  /** Interfaces the L2Advertisements allow for it on this node ("all" when any applicable ad has none). */
  readonly interfaces: "all" | ReadonlySet<string>
}

export interface L2AnnouncementStatus {
  readonly ip: string
  /** Interfaces it is answered on now. Empty when none of the allowed interfaces exists (MetalLB `announceFailed`). */
  readonly interfaces: ReadonlyArray<string>
}

export interface Layer2SpeakerOptions {
  /** Interface name patterns never used (MetalLB's default list when absent). */
  readonly excluded?: ReadonlyArray<string>
  /** How often interfaces are rescanned (MetalLB: 10 s). */
  readonly scanInterval?: Duration.Input
}

const isV6 = (ip: string) => ip.includes(":")

interface Running {
  readonly state: Interfaces.InterfaceState
  readonly scope: Scope.Closeable
  readonly arp: ArpInterfaceResponder | undefined
  readonly ndp: NdpInterfaceResponder | undefined
}

/** Layer 2 mode on this node: owned IPs in (`set`), responders per interface and gratuitous announcements out. */
export class Layer2Speaker extends Context.Service<Layer2Speaker, {
  /** Replaces the set of owned IPs; returns where each is answered. */
  readonly set: (announcements: ReadonlyArray<L2Announcement>) => Effect.Effect<ReadonlyArray<L2AnnouncementStatus>>
  /** Rescans interfaces now (new ones get responders, vanished ones lose theirs). */
  readonly rescan: Effect.Effect<void>
  /** The interfaces with responders. */
  readonly interfaces: Effect.Effect<ReadonlyArray<Interfaces.InterfaceState>>
  /** Does this node answer for `ip` on `iface` now (what the responders consult)? */
  readonly answers: (iface: string, ip: string) => boolean
}>()("metallb/layer2/Layer2Speaker") {
  /** needs `ArpResponder`, `NdpResponder` and `Announcer` */
  static readonly layer = (
    options: Layer2SpeakerOptions = {}
  ): Layer.Layer<Layer2Speaker, never, ArpResponder | NdpResponder | Announcer> => Layer.effect(Layer2Speaker, make(options))
}

const make = Effect.fnUntraced(function*(options: Layer2SpeakerOptions) {
  const arpResponder = yield* ArpResponder
  const ndpResponder = yield* NdpResponder
  const announcer = yield* Announcer
  const lock = yield* Semaphore.make(1)
  const owned = new Map<string, L2Announcement>()
  const running = new Map<string, Running>()

  const allowed = (a: L2Announcement, iface: string) => a.interfaces === "all" || a.interfaces.has(iface)
  const ownership: Ownership = {
    answers: (iface, ip) => {
      const a = owned.get(ip)
      return a !== undefined && allowed(a, iface)
    },
    owned: (iface) => [...owned.values()].filter((a) => allowed(a, iface)).map((a) => a.ip)
  }
  // The native readers answer ARP from a table: push it after every change of `owned`.
  const refreshTables = () => {
    for (const r of running.values()) r.arp?.refresh()
  }

  const respondersFor = (a: L2Announcement): Array<InterfaceResponder | NdpInterfaceResponder> => {
    const out: Array<InterfaceResponder | NdpInterfaceResponder> = []
    for (const [name, r] of running) {
      if (!allowed(a, name)) continue
      const responder = isV6(a.ip) ? r.ndp : r.arp
      if (responder !== undefined) out.push(responder)
    }
    return out
  }

  const burst = (a: L2Announcement) =>
    Effect.forEach(respondersFor(a), (r) => r.gratuitous(a.ip).pipe(Effect.ignore), { discard: true })

  const memberships = (a: L2Announcement, join: boolean, only?: string) =>
    Effect.forEach(running, ([name, r]) =>
      r.ndp === undefined || !isV6(a.ip) || !allowed(a, name) || (only !== undefined && only !== name)
        ? Effect.void
        : (join ? r.ndp.join(a.ip) : r.ndp.leave(a.ip)).pipe(
          Effect.catch((e) => Effect.logWarning("cannot change multicast membership").pipe(
            Effect.annotateLogs({ interface: name, ip: a.ip, error: e.message })
          ))
        ), { discard: true })

  const statusOf = (a: L2Announcement): L2AnnouncementStatus => ({
    ip: a.ip,
    interfaces: [...running.entries()]
      .filter(([name, r]) => allowed(a, name) && (isV6(a.ip) ? r.ndp !== undefined : r.arp !== undefined))
      .map(([name]) => name)
  })

  const sameInterfaces = (x: L2Announcement["interfaces"], y: L2Announcement["interfaces"]) =>
    x === "all" || y === "all" ? x === y : x.size === y.size && [...x].every((i) => y.has(i))

  const set = (announcements: ReadonlyArray<L2Announcement>) =>
    lock.withPermits(1)(Effect.gen(function*() {
      const desired = new Map(announcements.map((a) => [a.ip, a]))
      const lost = [...owned.values()].filter((a) => !desired.has(a.ip))
      const gained = announcements.filter((a) => {
        const before = owned.get(a.ip)
        return before === undefined || !sameInterfaces(before.interfaces, a.interfaces)
      })
      // Stop answering first: the responders read `owned` synchronously, the native readers their table.
      for (const a of lost) owned.delete(a.ip)
      if (lost.length > 0) refreshTables()
      for (const a of lost) {
        yield* announcer.lost(a.ip)
        yield* memberships(a, false)
      }
      for (const a of gained) {
        const before = owned.get(a.ip)
        if (before !== undefined) yield* memberships(before, false)
        owned.set(a.ip, a)
        refreshTables()
        yield* memberships(a, true)
        yield* announcer.gained(a.ip, burst(a))
      }
      return announcements.map(statusOf)
    }))

  const startInterface = (state: Interfaces.InterfaceState) =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const arp = state.arp
        ? yield* arpResponder.start(state.name, ownership).pipe(Scope.provide(scope), Effect.option)
        : undefined
      const ndp = state.ndp
        ? yield* ndpResponder.start(state.name, ownership).pipe(Scope.provide(scope), Effect.option)
        : undefined
      const r: Running = {
        state,
        scope,
        arp: arp?._tag === "Some" ? arp.value : undefined,
        ndp: ndp?._tag === "Some" ? ndp.value : undefined
      }
      if ((state.arp && r.arp === undefined) || (state.ndp && r.ndp === undefined)) {
        yield* Effect.logWarning("cannot start a responder on interface").pipe(Effect.annotateLogs({ interface: state.name }))
      }
      running.set(state.name, r)
      // IPs owned before this interface appeared: join their groups and tell the segment.
      for (const a of owned.values()) {
        if (!allowed(a, state.name)) continue
        yield* memberships(a, true, state.name)
        yield* announcer.gained(a.ip, burst(a))
      }
    })

  const rescan = lock.withPermits(1)(Effect.gen(function*() {
    const found = yield* Interfaces.scan(options.excluded ?? Interfaces.defaultExcluded)
    const names = new Set(found.map((s) => s.name))
    for (const [name, r] of running) {
      const now = found.find((s) => s.name === name)
      const changed = now === undefined || now.arp !== r.state.arp || now.ndp !== r.state.ndp || now.index !== r.state.index
      if (!names.has(name) || changed) {
        running.delete(name)
        yield* Scope.close(r.scope, Exit.void)
      } else {
        running.set(name, { ...r, state: now })
      }
    }
    for (const state of found) {
      if (!running.has(state.name)) yield* startInterface(state)
    }
  }))

  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      owned.clear()
      refreshTables()
      for (const r of running.values()) yield* Scope.close(r.scope, Exit.void)
      running.clear()
    }))
  yield* rescan
  yield* rescan.pipe(Effect.repeat(Schedule.spaced(options.scanInterval ?? Duration.seconds(10))), Effect.forkScoped)

  return Layer2Speaker.of({
    set,
    rescan,
    interfaces: Effect.sync(() => [...running.values()].map((r) => r.state)),
    answers: ownership.answers
  })
})
