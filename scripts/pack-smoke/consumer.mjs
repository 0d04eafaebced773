// What an installed metallb-ts must do for a plain-JavaScript consumer: every subpath resolves through the exports
// map to compiled JavaScript (Node refuses to strip types under node_modules) and does one real thing.
// Run from a project that has metallb-ts in its node_modules; prints one "ok" line per subpath.
import assert from "node:assert/strict"
import { Effect, Layer, Result } from "effect"
import { Allocator, ServiceIntent } from "metallb-ts/allocator"
import { Fsm } from "metallb-ts/bgp"
import { Objects } from "metallb-ts/config"
import { LeaseStore, OwnerRanking } from "metallb-ts/election"
import { KubeClient, Resource } from "metallb-ts/k8s"
import { Address, Arp } from "metallb-ts/layer2"
import { Cidr, Ip } from "metallb-ts/net"
import { InMemoryApiServer } from "metallb-ts/testing"

const ok = (subpath, detail) => console.log(`ok metallb-ts/${subpath}: ${detail}`)

const cidr = Result.getOrThrow(Cidr.parse("192.0.2.8/30"))
ok("net", `${Cidr.format(cidr)} holds ${Cidr.size(cidr)} addresses`)

const service = {
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "web", namespace: "default" },
  spec: { type: "LoadBalancer", clusterIP: "10.96.0.10", ports: [{ port: 80, protocol: "TCP" }] }
}
const assignment = await Effect.runPromise(
  Effect.gen(function*() {
    const allocator = yield* Allocator.Allocator
    yield* allocator.setPools([{ name: "demo", cidrs: [cidr], autoAssign: true, avoidBuggyIPs: false }])
    return yield* allocator.allocate(Result.getOrThrow(ServiceIntent.fromService(service)))
  }).pipe(Effect.provide(Allocator.Allocator.layer))
)
assert.equal(Ip.format(assignment.ips[0]), "192.0.2.8")
ok("allocator", `default/web got ${assignment.ips.map(Ip.format).join(",")} from ${assignment.pool}`)

const [connect, actions] = Fsm.step(Fsm.initial(Fsm.makeConfig({ localAsn: 64500, localBgpId: 1, peerAsn: 64501 })), {
  _tag: "ManualStart"
})
assert.equal(connect.name, "Connect")
ok("bgp", `Idle --ManualStart--> ${connect.name} [${actions.map((a) => a._tag).join(" ")}]`)

const pool = (addresses) => ({
  apiVersion: "metallb.io/v1beta1",
  kind: "IPAddressPool",
  metadata: { name: "p", namespace: "metallb-system" },
  spec: { addresses }
})
assert.equal(Objects.validateObjects([pool(["192.0.2.0/24"])]).errors.length, 0)
const invalid = Objects.validateObjects([pool(["not-an-ip"])]).errors
assert.ok(invalid.length > 0)
ok("config", `an invalid pool is rejected: ${invalid[0]?.reason}`)

const owner = OwnerRanking.owner("192.0.2.8", [{ node: "a", weight: 0 }, { node: "b", weight: 0 }])
assert.ok(owner === "a" || owner === "b")
const store = await Effect.runPromise(LeaseStore.makeMemoryStore())
assert.equal(typeof store, "object")
ok("election", `192.0.2.8 is owned by node ${owner}`)

const mac = Result.getOrThrow(Address.parseMac("02:00:00:00:00:01"))
const frame = Arp.gratuitous(Arp.OP_REQUEST, mac, Result.getOrThrow(Address.parseIpv4("192.0.2.8")))
const decoded = Result.getOrThrow(Arp.decodeFrame(frame))
assert.equal(Address.formatIpv4(decoded.arp.targetIp), "192.0.2.8")
ok("layer2", `gratuitous ARP for ${Address.formatIpv4(decoded.arp.senderIp)} round-trips (${frame.length} bytes)`)

const Cluster = Layer.unwrap(
  Effect.gen(function*() {
    const server = yield* InMemoryApiServer.InMemoryApiServer
    return KubeClient.KubeClient.layerServer(server.url)
  })
).pipe(Layer.provideMerge(InMemoryApiServer.InMemoryApiServer.layer()))
const created = await Effect.runPromise(
  Effect.gen(function*() {
    const kube = yield* KubeClient.KubeClient
    yield* kube.create(Resource.Services, service)
    return yield* kube.get(Resource.Services, "web", "default")
  }).pipe(Effect.provide(Cluster))
)
assert.equal(created.metadata.name, "web")
ok("testing", "in-memory API server started, served a Service, stopped")
ok("k8s", `KubeClient created and read Service ${Resource.keyOf(created)} (resourceVersion ${created.metadata.resourceVersion})`)
