/**
 * What the speaker needs of layer 2, as one service: who is alive on each announcing interface (liveness), a way to
 * answer for the IPs this node owns (Layer2Speaker), and the graceful hand-over. The live layer composes Liveness
 * (heartbeats on the node's announcing interfaces), the Lease-backed SpeakerDirectory and Layer2Speaker (ARP/NDP
 * responders and gratuitous bursts).
 *
 * @since 0.1.0
 */
import { readFileSync } from "node:fs"
import { Context, Duration, Effect, Layer, Schedule, Stream, SubscriptionRef } from "effect"
import * as Liveness from "../election/Liveness.ts"
import type * as LV from "../election/LivenessView.ts"
import { Announcer, metallbTiming } from "../layer2/Announcer.ts"
import { ArpResponder } from "../layer2/ArpResponder.ts"
import * as Interfaces from "../layer2/Interfaces.ts"
import { type L2Announcement, type L2AnnouncementStatus, Layer2Speaker } from "../layer2/Layer2Speaker.ts"
import { NdpResponder } from "../layer2/NdpResponder.ts"
import { PacketSockets } from "../layer2/PacketSocket.ts"
import { ResponderStats } from "../layer2/ResponderStats.ts"
import type { KubeClient } from "../k8s/KubeClient.ts"
import * as LeaseDirectory from "./LeaseDirectory.ts"

export class Layer2Plane extends Context.Service<Layer2Plane, {
  /** Per announcing interface, the nodes that may own IPs there now (the election's `alive`). */
  readonly alive: Effect.Effect<ReadonlyMap<string, ReadonlySet<string>>>
  /** Emits whenever `alive` may have changed. */
  readonly changes: Stream.Stream<unknown>
  /** Answer for exactly these IPs; returns where each is answered. */
  readonly set: (announcements: ReadonlyArray<L2Announcement>) => Effect.Effect<ReadonlyArray<L2AnnouncementStatus>>
  /** Graceful hand-over: stop counting self (peers take over at once) and stop answering. */
  readonly leave: Effect.Effect<void>
}>()("metallb/speaker/Layer2Plane") {}

export interface Layer2PlaneOptions {
  readonly namespace: string
  readonly node: string
  /** Interface name patterns never used (MetalLB's `announcedInterfacesToExclude`). */
  readonly excluded: ReadonlyArray<string>
  readonly timing: LV.Timing
  /** Directory holding `secretkey` (the heartbeat HMAC key, MetalLB's memberlist secret); re-read every 10 s. */
  readonly secretKeyPath?: string | undefined
}

/** The key file's bytes, or undefined when absent or empty. */
export const readKey = (dir: string | undefined): Uint8Array | undefined => {
  if (dir === undefined) return undefined
  try {
    const bytes = readFileSync(`${dir}/secretkey`)
    return bytes.length === 0 ? undefined : bytes
  } catch {
    return undefined
  }
}

export class NoAnnouncingInterface extends Error {
  override readonly name = "NoAnnouncingInterface"
}

/**
 * No layer 2 at all (speaker --disable-layer2): nobody is alive on any interface, so this node owns no layer 2 IP,
 * and an announcement is answered nowhere. Needs no packet sockets (no root), sends nothing.
 */
export const disabled: Layer.Layer<Layer2Plane> = Layer.succeed(Layer2Plane, Layer2Plane.of({
  alive: Effect.succeed(new Map()),
  changes: Stream.never,
  set: (announcements) => Effect.succeed(announcements.map((a) => ({ ip: a.ip, interfaces: [] }))),
  leave: Effect.void
}))

/** Liveness + Lease directory + Layer2Speaker on this node's announcing interfaces (found at start). */
export const layer = (options: Layer2PlaneOptions): Layer.Layer<Layer2Plane, unknown, KubeClient> =>
  Layer.effect(
    Layer2Plane,
    Effect.gen(function*() {
      const found = yield* Interfaces.scan(options.excluded)
      const interfaces = found.filter((i) => i.arp || i.ndp).map((i) => i.name)
      if (interfaces.length === 0) {
        return yield* Effect.fail(new NoAnnouncingInterface(
          `no interface to announce on (all excluded by ${JSON.stringify(options.excluded)} or without ARP/NDP)`
        ))
      }
      let key = readKey(options.secretKeyPath)
      if (options.secretKeyPath !== undefined) {
        yield* Effect.sync(() => void (key = readKey(options.secretKeyPath))).pipe(
          Effect.repeat(Schedule.spaced("10 seconds")),
          Effect.forkScoped
        )
      }
      const directory = LeaseDirectory.layer({
        namespace: options.namespace,
        node: options.node,
        interfaces: new Set(interfaces)
      })
      const liveness = Liveness.Liveness.layer({ node: options.node, interfaces, timing: options.timing, key: () => key })
        .pipe(Layer.provide([PacketSockets.layer, directory]))
      const speaker = Layer2Speaker.layer({ excluded: options.excluded }).pipe(
        // A confirming burst two heartbeats after a gain: the previous owner may burst once more during the
        // hand-over overlap and pull clients back (docs/design/l2-liveness.md).
        Layer.provide([ArpResponder.layer, NdpResponder.layer, Announcer.layer({ ...metallbTiming, confirm: Duration.millis(2 * options.timing.interval) })]),
        Layer.provide([PacketSockets.layer, ResponderStats.layer])
      )
      const context = yield* Layer.build(Layer.merge(liveness, speaker))
      const live = Context.get(context, Liveness.Liveness)
      const l2 = Context.get(context, Layer2Speaker)
      yield* Effect.logInfo("layer 2 liveness started").pipe(
        Effect.annotateLogs({ event: "l2Liveness", interfaces: interfaces.join(","), interval: options.timing.interval })
      )
      // The responders follow a link change at once instead of at the next 10 s scan. Who counts as a candidate on
      // an interface is logged when it changes (MetalLB logs memberlist joins and leaves): it decides ownership.
      let linkState = ""
      const candidates = new Map<string, string>()
      yield* live.changes.pipe(
        Stream.runForEach((view) =>
          Effect.gen(function*() {
            for (const [iface, v] of view.interfaces) {
              const now = [...v.candidates].toSorted().join(",")
              if (candidates.get(iface) === now) continue
              candidates.set(iface, now)
              yield* Effect.logInfo("layer 2 candidates changed").pipe(
                Effect.annotateLogs({ event: "l2Candidates", interface: iface, candidates: now })
              )
            }
            const links = [...view.interfaces].map(([i, v]) => `${i}:${v.linkUp}`).join(",")
            if (links === linkState) return
            linkState = links
            yield* l2.rescan
          })),
        Effect.forkScoped
      )
      return Layer2Plane.of({
        alive: Effect.map(SubscriptionRef.get(live.view), Liveness.candidates),
        changes: live.changes,
        set: l2.set,
        leave: Effect.andThen(live.leave, l2.set([]))
      })
    })
  )
