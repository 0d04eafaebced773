/**
 * The speaker in-process against the in-memory API server over HTTP, with the real BGP layer on loopback and layer 2
 * replaced by an in-memory plane (no packets: which nodes are alive is set by the test). Checks ServiceL2Status,
 * ServiceBGPStatus, Events (one per change, none on unchanged passes), metrics and the hand-over on stop.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope, Stream, SubscriptionRef } from "effect"
import { BgpSession } from "../../src/bgp/BgpSession.ts"
import { BgpSpeaker } from "../../src/bgp/BgpSpeaker.ts"
import type { L2Announcement } from "../../src/layer2/Layer2Speaker.ts"
import { KubeClient } from "../../src/k8s/KubeClient.ts"
import * as Logging from "../../src/observability/Logging.ts"
import { Layer2Plane } from "../../src/speaker/Layer2Plane.ts"
import * as Speaker from "../../src/speaker/Speaker.ts"
import type { JsonObject } from "../../src/testing/apiserver/Json.ts"
import type { ApiServer } from "../../src/testing/apiserver/Server.ts"
import { apiServer, edit, eventsOf, eventually, NS, pool, remove, service, stays, upsert } from "./controllerKit.ts"

/** Test stand-in for layer 2: `alive` is what the test says; `set` records what the speaker asked for. */
const memoryPlane = Effect.gen(function*() {
  const alive = yield* SubscriptionRef.make<ReadonlyMap<string, ReadonlySet<string>>>(new Map([["eth0", new Set(["node-a"])]]))
  const sets: Array<ReadonlyArray<L2Announcement>> = []
  let left = false
  const plane = Layer2Plane.of({
    alive: SubscriptionRef.get(alive),
    changes: SubscriptionRef.changes(alive).pipe(Stream.map(() => undefined)),
    set: (announcements) =>
      Effect.sync(() => {
        sets.push(announcements)
        return announcements.map((a) => ({ ip: a.ip, interfaces: ["eth0"] }))
      }),
    leave: Effect.sync(() => void (left = true, sets.push([])))
  })
  return { plane, alive, sets, left: () => left }
})

const objects = (server: ApiServer, kind: string) => server.objects.list("metallb.io/v1beta1", kind, NS)
const field = (o: JsonObject | undefined, ...path: ReadonlyArray<string>): unknown =>
  path.reduce<unknown>((v, k) => (typeof v === "object" && v !== null ? (v as Record<string, unknown>)[k] : undefined), o)

const endpointSlice = (name: string, nodeName: string): JsonObject => ({
  apiVersion: "discovery.k8s.io/v1",
  kind: "EndpointSlice",
  metadata: { name: `${name}-abc`, namespace: "default", labels: { "kubernetes.io/service-name": name } },
  addressType: "IPv4",
  endpoints: [{ addresses: ["10.0.0.5"], conditions: { ready: true }, nodeName }]
})

const withIngress = (o: JsonObject, ip: string): JsonObject => ({ ...o, status: { loadBalancer: { ingress: [{ ip }] } } })

const setup = (server: ApiServer) =>
  upsert(
    server,
    { apiVersion: "v1", kind: "Node", metadata: { name: "node-a", labels: { "kubernetes.io/hostname": "node-a" } } },
    { apiVersion: "v1", kind: "Node", metadata: { name: "node-b", labels: { "kubernetes.io/hostname": "node-b" } } },
    pool("l2pool", ["192.0.2.0/28"]),
    pool("bgppool", ["198.51.100.0/28"]),
    { apiVersion: "metallb.io/v1beta1", kind: "L2Advertisement", metadata: { name: "l2", namespace: NS }, spec: { ipAddressPools: ["l2pool"], interfaces: ["eth0"] } },
    { apiVersion: "metallb.io/v1beta1", kind: "BGPAdvertisement", metadata: { name: "bgp", namespace: NS }, spec: { ipAddressPools: ["bgppool"] } },
    {
      apiVersion: "metallb.io/v1beta2",
      kind: "BGPPeer",
      metadata: { name: "router", namespace: NS },
      // Nothing listens there: statuses are intent, not session state.
      spec: { myASN: 64500, peerASN: 64501, peerAddress: "127.0.0.1", peerPort: 1, connectTime: "1s" }
    },
    withIngress(service("web"), "192.0.2.3"),
    endpointSlice("web", "node-a"),
    withIngress(service("api"), "198.51.100.7"),
    endpointSlice("api", "node-b")
  )

const startSpeaker = (server: ApiServer, plane: Layer2Plane["Service"], options: Partial<Speaker.SpeakerOptions> = {}) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const layer = Layer.mergeAll(
      Layer.succeed(Layer2Plane, plane),
      BgpSpeaker.layer.pipe(Layer.provide(BgpSession.layer({ nodeName: "node-a", reconnectBase: "5 seconds" })))
    ).pipe(
      Layer.provideMerge(KubeClient.layerServer(server.url, "speaker")),
      Layer.provideMerge(Logging.layer("speaker", process.env["LOG"] === undefined ? "none" : "debug"))
    )
    const context = yield* Layer.build(layer).pipe(Scope.provide(scope))
    const bgp = Context.get(context, BgpSpeaker)
    const running = yield* Speaker.start({
      namespace: NS,
      node: "node-a",
      ignoreExcludeLB: false,
      metricsPort: 0,
      healthProbePort: 0,
      listenHost: "127.0.0.1",
      resync: "50 millis",
      ...options
    }).pipe(Effect.provide(context), Scope.provide(scope), Effect.orDie)
    return { running, bgp, stop: Scope.close(scope, Exit.void) }
  })

const metrics = (url: string) => Effect.promise(() => fetch(`${url}/metrics`).then((r) => r.text()))

describe("speaker against the in-memory API server", () => {
  it.live("writes statuses, one Event per change, metrics; hands over on stop", () =>
    Effect.gen(function*() {
      const server = yield* apiServer()
      yield* setup(server)
      const l2 = yield* memoryPlane
      const speaker = yield* startSpeaker(server, l2.plane)

      // Created, then its status written (status subresource): wait for both.
      const withStatus = (kind: string) => objects(server, kind).find((o) => field(o, "status", "node") !== undefined)
      const l2Status = yield* eventually("a ServiceL2Status", () => withStatus("ServiceL2Status"), 10_000)
      assert.strictEqual(field(l2Status, "metadata", "labels", "metallb.io/node"), "node-a")
      assert.strictEqual(field(l2Status, "metadata", "labels", "metallb.io/service-name"), "web")
      assert.strictEqual(field(l2Status, "metadata", "labels", "metallb.io/service-namespace"), "default")
      assert.match(String(field(l2Status, "metadata", "name")), /^l2-/)
      // The advertisement restricts interfaces, so the status lists where it is answered.
      assert.deepStrictEqual(field(l2Status, "status"), {
        node: "node-a",
        serviceName: "web",
        serviceNamespace: "default",
        interfaces: [{ name: "eth0" }]
      })
      assert.deepStrictEqual(l2.sets.at(-1)?.map((a) => a.ip), ["192.0.2.3"])

      // BGP: api has its endpoint on node-b, ETP Cluster: every selected node announces it.
      const bgpStatus = yield* eventually("a ServiceBGPStatus", () => withStatus("ServiceBGPStatus"))
      assert.deepStrictEqual(field(bgpStatus, "status", "peers"), ["router"])
      assert.strictEqual(field(bgpStatus, "status", "serviceName"), "api")
      assert.match(String(field(bgpStatus, "metadata", "name")), /^bgp-/)

      const url = speaker.running.metricsUrl ?? speaker.running.healthUrl
      const text = yield* metrics(url)
      assert.include(text, 'metallb_speaker_announced{service="default/web",protocol="layer2",node="node-a",ip="192.0.2.3"} 1')
      assert.include(text, 'metallb_speaker_announced{service="default/api",protocol="bgp",node="node-a",ip="198.51.100.7"} 1')

      // Many passes later (resync every 50 ms): still one Event per Service, one status object.
      const passes = yield* speaker.running.passes
      yield* eventually("10 more passes", () => Effect.runSync(speaker.running.passes) > passes + 10 ? true : undefined)
      assert.deepStrictEqual(eventsOf(server, "web"), ['nodeAssigned: announcing from node "node-a" with protocol "layer2"'])
      assert.deepStrictEqual(eventsOf(server, "api"), ['nodeAssigned: announcing from node "node-a" with protocol "bgp"'])
      assert.strictEqual(objects(server, "ServiceL2Status").length, 1)
      assert.strictEqual(objects(server, "ServiceBGPStatus").length, 1)
      // An unchanged cluster costs no writes at all (the status creates above were this speaker's writes).
      assert.isTrue(server.requests().some((r) => r.token === "speaker" && r.verb === "create" && r.resource === "servicel2statuses"))
      server.clearRequests()
      const quiet = yield* speaker.running.passes
      yield* eventually("10 quiet passes", () => Effect.runSync(speaker.running.passes) > quiet + 10 ? true : undefined)
      const writes = server.requests().filter((r) => r.token === "speaker" && !["get", "list", "watch"].includes(r.verb))
      assert.deepStrictEqual(writes.map((r) => `${r.verb} ${r.resource}/${r.subresource}`), [])
      const readyz = yield* Effect.promise(() => fetch(`${speaker.running.healthUrl}/readyz`).then((r) => r.status))
      assert.strictEqual(readyz, 200)

      // Another node's leftover status for a Service this node owns is removed by the owner.
      yield* upsert(server, {
        apiVersion: "metallb.io/v1beta1",
        kind: "ServiceL2Status",
        metadata: {
          name: "l2-stale",
          namespace: NS,
          labels: { "metallb.io/node": "node-b", "metallb.io/service-name": "web", "metallb.io/service-namespace": "default" }
        }
      })
      yield* eventually("the stale status removed", () =>
        objects(server, "ServiceL2Status").some((o) => field(o, "metadata", "name") === "l2-stale") ? undefined : true)

      // node-b alone alive: node-a stops owning web's IP; its status and metric go.
      yield* SubscriptionRef.set(l2.alive, new Map([["eth0", new Set(["node-b"])]]))
      yield* eventually("the ServiceL2Status deleted", () => objects(server, "ServiceL2Status").length === 0 ? true : undefined)
      assert.deepStrictEqual(l2.sets.at(-1), [])
      const after = yield* metrics(url)
      assert.notInclude(after, 'service="default/web",protocol="layer2"')

      // Service deleted: BGP withdrawn, status deleted, metric gone.
      yield* remove(server, "v1", "Service", "default", "api")
      yield* eventually("the ServiceBGPStatus deleted", () => objects(server, "ServiceBGPStatus").length === 0 ? true : undefined)
      assert.notInclude(yield* metrics(url), 'service="default/api"')

      yield* speaker.stop
      assert.isTrue(l2.left())
    }).pipe(Effect.scoped), { timeout: 30_000 })

  it.live("BGP sessions follow the BGPPeers: reopened on a change, closed with their statuses when removed", () =>
    Effect.gen(function*() {
      const server = yield* apiServer()
      yield* setup(server)
      const l2 = yield* memoryPlane
      const speaker = yield* startSpeaker(server, l2.plane)
      const peers = () => Effect.runSync(Effect.map(speaker.bgp.peers, (m) => [...m.values()]))
      const first = yield* eventually("a session", () => peers()[0])
      assert.strictEqual(first.session.config.holdTime, undefined)
      yield* edit(server, "metallb.io/v1beta2", "BGPPeer", NS, "router", (o) => ({ ...o, spec: { ...(o["spec"] as object), holdTime: "30s" } }))
      const second = yield* eventually("the session reopened", () => peers().find((p) => p.session.config.holdTime === 30))
      assert.notStrictEqual(second, first)
      yield* remove(server, "metallb.io/v1beta2", "BGPPeer", NS, "router")
      yield* eventually("no session", () => (peers().length === 0 ? true : undefined))
      yield* eventually("the ServiceBGPStatus removed", () => (objects(server, "ServiceBGPStatus").length === 0 ? true : undefined))
      yield* speaker.stop
    }).pipe(Effect.scoped), { timeout: 30_000 })

  it.live("--lb-class: Services of another class are not announced", () =>
    Effect.gen(function*() {
      const server = yield* apiServer()
      yield* setup(server)
      const l2 = yield* memoryPlane
      const speaker = yield* startSpeaker(server, l2.plane, { loadBalancerClass: "example.com/other" })
      yield* eventually("a few passes", () => Effect.runSync(speaker.running.passes) > 3 ? true : undefined)
      yield* stays("nothing announced", () => objects(server, "ServiceL2Status").length === 0 && objects(server, "ServiceBGPStatus").length === 0, 300)
      assert.deepStrictEqual(eventsOf(server, "web"), [])
      yield* speaker.stop
    }).pipe(Effect.scoped), { timeout: 30_000 })
})
