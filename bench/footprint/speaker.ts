// Speaker stand-in for the footprint bench: `node bench/footprint/speaker.ts --kubeconfig K --node-name N`.
// Watches what the speaker watches (Services, EndpointSlices, Nodes, Namespaces, the config CRs), parses the config
// with the real parser, plans this node's BGP routes with the real planner and packs one RIB-out of UPDATEs per
// peer with the real packer (no TCP sessions: those are the speaker branch's), then idles.
import { Effect, Result } from "effect"
import * as Prefix from "../../src/bgp/Prefix.ts"
import * as UpdatePacker from "../../src/bgp/UpdatePacker.ts"
import { parseConfig } from "../../src/config/Parse.ts"
import { EndpointSlices, Namespaces, Nodes, Services } from "../../src/k8s/Resource.ts"
import * as BgpDesired from "../../src/speaker/BgpDesired.ts"
import * as ClusterModel from "../../src/speaker/ClusterModel.ts"
import * as L2Desired from "../../src/speaker/L2Desired.ts"
import { configKinds, configLists, flag, informers, run } from "./StandIn.ts"

const nodeName = flag("node-name") ?? "node-0"

run("speaker", Effect.gen(function*() {
  const cluster = yield* informers({ services: Services, slices: EndpointSlices, nodes: Nodes, namespaces: Namespaces, ...configKinds })
  const lists = yield* configLists(cluster)
  const nodes = yield* cluster.nodes.list
  const parsed = parseConfig({ ...lists, nodes, namespaces: yield* cluster.namespaces.list }, { node: nodeName })
  if (Result.isFailure(parsed)) return yield* Effect.die(new Error(`config rejected: ${parsed.failure.errors.map((e) => e.message).join("; ")}`))
  const config = parsed.success.config

  const services = (yield* cluster.services.list).map(ClusterModel.serviceView)
  const endpoints = new Map<string, Array<ClusterModel.EndpointView>>()
  for (const slice of yield* cluster.slices.list) {
    const key = ClusterModel.sliceServiceKey(slice)
    if (key !== undefined) endpoints.set(key, [...(endpoints.get(key) ?? []), ...ClusterModel.endpointViews(slice)])
  }
  const views = new Map(nodes.map(ClusterModel.nodeView).map((n) => [n.name, n]))
  const inputs = { config, services, endpoints, thisNode: nodeName, ignoreExcludeLB: false }
  const bgp = BgpDesired.plan({ ...inputs, node: views.get(nodeName) })
  const l2 = L2Desired.plan({ ...inputs, nodes: views })

  // One RIB-out per peer, as the BGP speaker keeps them.
  const ribOut = new Map<string, ReadonlyArray<unknown>>()
  for (const [peer, routes] of bgp.routes) {
    const prefixes = routes.flatMap((r) => Result.isSuccess(Prefix.parse(r.prefix)) ? [Result.getOrThrow(Prefix.parse(r.prefix))] : [])
    const updates = UpdatePacker.packAnnouncements(prefixes, {
      attributes: [{ _tag: "Origin", value: 0 }, { _tag: "AsPath", segments: [] }],
      nextHopIpv4: new Uint8Array([192, 0, 2, 1])
    }, { fourOctetAs: true })
    ribOut.set(peer, Result.getOrElse(updates, () => []))
  }
  return {
    services: services.length,
    peers: ribOut.size,
    bgpRoutes: [...bgp.routes.values()].reduce((n, r) => n + r.length, 0),
    updates: [...ribOut.values()].reduce((n, u) => n + u.length, 0),
    l2: l2.ips.length
  }
}))
