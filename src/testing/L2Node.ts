/**
 * One layer 2 node for labs and benchmarks, standing in for the speaker until the Kubernetes side exists:
 * Liveness + L2Election + Layer2Speaker driven by a static JSON spec (which nodes Kubernetes would allow, which
 * services with which IPs, the timing profile, the heartbeat key, whether the API server is reachable). The spec file
 * is re-read when it changes, so a test can remove a node (as NetworkUnavailable, the exclude label or a selector
 * change would) or take the API server away while the node runs.
 *
 * It prints one JSON line per event on stdout (`{"t":…,"event":…}`): `ready`, `view` (liveness on the interface),
 * `owners` (per IP, the owner this node computes and whether it announces), `spec` / `specError`, `stopped`.
 * SIGTERM is a graceful stop: three `leaving` heartbeats, then it stops answering and exits.
 *
 * Nodes accept the VIPs' traffic the IPVS/strictARP way ({@link acceptVips}): the VIPs sit on `lo` with
 * `arp_ignore=1` / `arp_announce=2`, so the kernel never answers ARP for them; only the elected speaker does.
 *
 * @since 0.1.0
 */
import { readFileSync, statSync } from "node:fs"
import { Context, Duration, Effect, Layer, Schedule, Schema, Semaphore, Stream, SubscriptionRef } from "effect"
import * as L2Election from "../election/L2Election.ts"
import * as Liveness from "../election/Liveness.ts"
import * as LV from "../election/LivenessView.ts"
import * as SpeakerDirectory from "../election/SpeakerDirectory.ts"
import { Announcer, metallbTiming } from "../layer2/Announcer.ts"
import { ArpResponder } from "../layer2/ArpResponder.ts"
import { Layer2Speaker } from "../layer2/Layer2Speaker.ts"
import { NdpResponder } from "../layer2/NdpResponder.ts"
import { PacketSockets } from "../layer2/PacketSocket.ts"
import { ResponderStats } from "../layer2/ResponderStats.ts"
import * as Netns from "./Netns.ts"

export const SpecService = Schema.Struct({
  name: Schema.String,
  /** Ingress IPs in status order (the first is the ranking key). */
  ips: Schema.Array(Schema.String),
  /** Eligible nodes for this service only (ETP Local endpoints, node selectors); default: the spec's `nodes`. */
  nodes: Schema.optional(Schema.Array(Schema.String))
})

export const Spec = Schema.Struct({
  /** Nodes Kubernetes allows to announce (not NetworkUnavailable, not excluded, selected). */
  nodes: Schema.Array(Schema.String),
  /** Speakers the directory lists (their Leases); default: `nodes`. */
  speakers: Schema.optional(Schema.Array(Schema.String)),
  services: Schema.Array(SpecService),
  interface: Schema.String,
  timing: Schema.Literals(["default", "fast"]),
  /** Shared heartbeat key (UTF-8); `keys` overrides it per node. Applies at once when changed. */
  key: Schema.optional(Schema.String),
  keys: Schema.optional(Schema.Record(Schema.String, Schema.String)),
  /** False: the API server is unreachable from every node (the directory freezes). */
  apiFresh: Schema.optional(Schema.Boolean)
})
export type Spec = typeof Spec.Type

const decodeSpec = Schema.decodeUnknownEffect(Schema.fromJsonString(Spec))

export const timingOf = (spec: Spec): LV.Timing => spec.timing === "fast" ? LV.fastTiming : LV.defaultTiming

const serviceInputs = (spec: Spec): Array<L2Election.ServiceInput> =>
  spec.services.map((s) => ({
    service: s.name,
    ips: s.ips,
    eligible: (s.nodes ?? spec.nodes).filter((n) => spec.nodes.includes(n)).map((node) => ({ node, weight: 0 })),
    interfaces: "all" as const
  }))

const speakersOf = (spec: Spec): Array<SpeakerDirectory.Speaker> =>
  (spec.speakers ?? spec.nodes).map((node) => ({ node, interfaces: new Set([spec.interface]) }))

const print = (o: object) => Effect.sync(() => void process.stdout.write(`${JSON.stringify({ t: Date.now(), ...o })}\n`))

const readSpec = (file: string) =>
  Effect.suspend(() => decodeSpec(readFileSync(file, "utf8"), { errors: "all" }))

/** Runs the node until interrupted; interruption is the graceful stop. */
export const run = (options: { readonly node: string; readonly specFile: string }) =>
  Effect.gen(function*() {
    const first = yield* readSpec(options.specFile)
    const directory = yield* SpeakerDirectory.makeInMemory(options.node, speakersOf(first))
    if (first.apiFresh === false) yield* directory.setFresh(false)
    const spec = yield* SubscriptionRef.make(first)

    const livenessLayer = Liveness.Liveness.layer({
      node: options.node,
      interfaces: [first.interface],
      timing: timingOf(first),
      key: () => {
        const s = SubscriptionRef.getUnsafe(spec)
        const text = s.keys?.[options.node] ?? s.key
        return text === undefined ? undefined : Buffer.from(text, "utf8")
      }
    }).pipe(Layer.provide([PacketSockets.layer, Layer.succeed(SpeakerDirectory.SpeakerDirectory, directory.directory)]))
    const statsContext = yield* Layer.build(ResponderStats.layer)
    const responderStats = Context.get(statsContext, ResponderStats)
    const speakerLayer = Layer2Speaker.layer().pipe(
      Layer.provide([
        ArpResponder.layer,
        NdpResponder.layer,
        Announcer.layer({ ...metallbTiming, confirm: Duration.millis(2 * timingOf(first).interval) })
      ]),
      Layer.provide([PacketSockets.layer, Layer.succeedContext(statsContext)])
    )
    const context = yield* Layer.build(Layer.merge(livenessLayer, speakerLayer))
    const liveness = Context.get(context, Liveness.Liveness)
    const speaker = Context.get(context, Layer2Speaker)

    const lock = yield* Semaphore.make(1)
    let lastOwners = ""
    let lastLinkUp: boolean | undefined
    const reconcile = lock.withPermits(1)(Effect.gen(function*() {
      const s = yield* SubscriptionRef.get(spec)
      const view = yield* SubscriptionRef.get(liveness.view)
      // The responders follow the link at once instead of at the next 10 s interface scan.
      const linkUp = view.interfaces.get(s.interface)?.linkUp
      if (linkUp !== lastLinkUp) {
        lastLinkUp = linkUp
        yield* speaker.rescan
      }
      const result = L2Election.elect({ self: options.node, services: serviceInputs(s), alive: Liveness.candidates(view) })
      yield* speaker.set(result.announcements)
      const owners = Object.fromEntries(result.ips.map((ip) => [ip.ip, ip.owners.get(s.interface) ?? null]))
      const announcing = result.announcements.map((a) => a.ip)
      const text = JSON.stringify({ owners, announcing })
      if (text !== lastOwners) {
        lastOwners = text
        yield* print({ event: "owners", node: options.node, owners, announcing })
      }
    }))

    yield* liveness.changes.pipe(
      Stream.runForEach((view) =>
        Effect.andThen(
          print({
            event: "view",
            node: options.node,
            ...Object.fromEntries([...view.interfaces].map(([i, v]) => [i, {
              candidates: [...v.candidates].toSorted(),
              alive: [...v.alive].toSorted(),
              isolated: v.isolated,
              linkUp: v.linkUp,
              selfReady: v.selfReady
            }]))
          }),
          reconcile
        )),
      Effect.forkScoped
    )

    // Re-read the spec when its mtime changes (fs.watch misses editors' rename-over writes).
    let mtime = statSync(options.specFile).mtimeMs
    yield* Effect.gen(function*() {
      const now = statSync(options.specFile, { throwIfNoEntry: false })?.mtimeMs
      if (now === undefined || now === mtime) return
      mtime = now
      const next = yield* readSpec(options.specFile).pipe(
        Effect.tapError((e) => print({ event: "specError", error: e.message })),
        Effect.option
      )
      if (next._tag === "None") return
      yield* SubscriptionRef.set(spec, next.value)
      yield* directory.set(speakersOf(next.value))
      yield* directory.setFresh(next.value.apiFresh !== false)
      yield* print({ event: "spec", node: options.node })
      yield* reconcile
    }).pipe(Effect.repeat(Schedule.spaced(Duration.millis(50))), Effect.forkScoped)

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* liveness.leave
        yield* lock.withPermits(1)(speaker.set([]))
        yield* print({
          event: "stopped",
          node: options.node,
          stats: yield* liveness.stats,
          responder: {
            requests: Object.fromEntries(responderStats.totals("requests")),
            responses: Object.fromEntries(responderStats.totals("responses"))
          },
          leaseWrites: yield* directory.directory.writes
        })
      }))
    yield* print({ event: "ready", node: options.node })
    return yield* Effect.never
  })

/**
 * Makes `ns` accept traffic for `vips` the way kube-proxy in IPVS mode does with strictARP: the VIPs on `lo`
 * (IPv6 without DAD) and ARP answered only for addresses of the receiving interface, so only the speaker answers.
 */
export const acceptVips = (ns: string, vips: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    yield* Netns.nsExec(ns, ["sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2"])
    for (const vip of vips) {
      yield* vip.includes(":")
        ? Netns.nsExec(ns, ["ip", "-6", "addr", "add", `${vip}/128`, "dev", "lo", "nodad"])
        : Netns.nsExec(ns, ["ip", "addr", "add", `${vip}/32`, "dev", "lo"])
    }
  })
