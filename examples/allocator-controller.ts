/**
 * A custom controller that embeds the Allocator layer: it watches Services, converges each LoadBalancer Service
 * through `Allocator.Allocator` and writes the result to `status.loadBalancer.ingress`. Here it runs against the
 * in-memory API server from `metallb-ts/testing`; against a real cluster swap that layer for
 * `KubeClient.KubeClient.layerKubeconfig()`.
 *
 *   node examples/allocator-controller.ts                                  (metallb-ts installed as a dependency)
 *   node --conditions=metallb-ts-source examples/allocator-controller.ts   (inside the metallb-ts repository)
 *
 * It prints one line per Service and exits 0 once every Service has its address, 1 otherwise.
 */
import { Console, Effect, Layer, Result, Schedule, Stream } from "effect"
import { Allocator, type Pool, ServiceIntent } from "metallb-ts/allocator"
import { KubeClient, Resource, Watch } from "metallb-ts/k8s"
import { Cidr, Ip } from "metallb-ts/net"
import { InMemoryApiServer } from "metallb-ts/testing"

/** Our own pool source: a fixed pool. A real controller would read its own CRD or the metallb.io IPAddressPools. */
const pools: ReadonlyArray<Pool.Pool> = [
  {
    name: "demo",
    cidrs: [Cidr.parse("198.51.100.8/30"), Cidr.parse("2001:db8::/126")].flatMap((r) => (Result.isSuccess(r) ? [r.success] : [])),
    autoAssign: true,
    avoidBuggyIPs: false
  }
]

/** The object type a typed resource descriptor stands for (here client-node's `V1Service`). */
type ObjectOf<R> = R extends Resource.Resource<infer T> ? T : never
type Service = ObjectOf<typeof Resource.Services>

/** One step of the loop: what should this Service's status say, and write it if it says something else. */
const reconcile = (service: Service) =>
  Effect.gen(function*() {
    const kube = yield* KubeClient.KubeClient
    const allocator = yield* Allocator.Allocator
    const parsed = ServiceIntent.fromService(service)
    if (Result.isFailure(parsed)) return yield* Console.error(`skipping an unreadable Service: ${parsed.failure}`)
    const intent = parsed.success
    if (!ServiceIntent.isHandledBy(intent, undefined)) return
    const result = yield* allocator.converge(intent)
    if (result.error !== undefined) yield* Console.error(`${intent.key}: ${result.error}`)
    const ingress = result.ips.map(Ip.format)
    if (ingress.join(",") === intent.ingress.join(",")) return
    yield* kube.updateStatus(Resource.Services, intent.name, intent.namespace, (current) => ({
      ...current,
      status: { ...current.status, loadBalancer: { ingress: ingress.map((ip) => ({ ip })) } }
    }))
    yield* Console.log(`${intent.key} -> ${ingress.join(", ") || "(none)"} from pool ${result.pool ?? "-"}`)
  })

/** The controller: list+watch Services (with resume and relist), converge each change, release deleted ones. */
const controller = Effect.gen(function*() {
  const kube = yield* KubeClient.KubeClient
  const allocator = yield* Allocator.Allocator
  yield* allocator.setPools(pools)
  yield* Watch.listWatch(Watch.fromClient(kube, Resource.Services)).pipe(
    Stream.runForEach((change) => {
      switch (change._tag) {
        case "Added":
        case "Modified":
          return reconcile(change.object).pipe(Effect.catch((e) => Console.error(`${e.request}: ${e.message}`)))
        case "Deleted":
          return allocator.release(Resource.keyOf(change.object)).pipe(Effect.asVoid)
        case "Synced":
          return Effect.void
      }
    })
  )
})

const service = (name: string, spec: Record<string, unknown> = {}): Service => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: "default" },
  spec: { type: "LoadBalancer", ports: [{ port: 80, protocol: "TCP" }], ...spec }
})

/** The demo: three Services, the controller in the background, wait until every one has its addresses. */
const main = Effect.gen(function*() {
  const kube = yield* KubeClient.KubeClient
  yield* kube.create(Resource.Services, service("web"))
  yield* kube.create(Resource.Services, service("api", { ipFamilyPolicy: "RequireDualStack", ipFamilies: ["IPv4", "IPv6"] }))
  yield* kube.create(Resource.Services, service("internal", { type: "ClusterIP" }))
  yield* Effect.forkScoped(controller)

  const addressesOf = (name: string) =>
    kube.get(Resource.Services, name, "default").pipe(
      Effect.map((s) => (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? ""))
    )
  const done = Effect.all([addressesOf("web"), addressesOf("api")]).pipe(
    Effect.filterOrFail(([web, api]) => web.length === 1 && api.length === 2, () => "not yet"),
    Effect.retry(Schedule.spaced("50 millis")),
    Effect.timeout("10 seconds")
  )
  const [web, api] = yield* done
  const internal = yield* addressesOf("internal")
  yield* Console.log(`web=${web.join(",")} api=${api.join(",")} internal=${internal.join(",") || "(none)"}`)
})

// The in-memory API server and a KubeClient pointed at it; the Allocator layer is independent of both.
const Cluster = Layer.unwrap(
  Effect.gen(function*() {
    const server = yield* InMemoryApiServer.InMemoryApiServer
    return KubeClient.KubeClient.layerServer(server.url)
  })
).pipe(Layer.provideMerge(InMemoryApiServer.InMemoryApiServer.layer()))

Effect.runPromise(main.pipe(Effect.scoped, Effect.provide([Allocator.Allocator.layer, Cluster]))).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
