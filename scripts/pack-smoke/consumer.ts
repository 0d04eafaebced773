// Type-level check of an installed metallb-ts: compiled with a consumer's tsconfig (no allowImportingTsExtensions,
// no skipLibCheck), so the shipped .d.ts files must resolve and type-check on their own. The @ts-expect-error lines
// fail the compile if a declaration silently degraded to `any`.
import { Effect } from "effect"
import { Allocator, Core, ServiceIntent } from "metallb-ts/allocator"
import { BgpSession, BgpSpeaker, Fsm, FsmArbitraries } from "metallb-ts/bgp"
import { Parse } from "metallb-ts/config"
import { LeaderElection } from "metallb-ts/election"
import { KubeClient, Resource } from "metallb-ts/k8s"
import { ArpResponder, Ndp } from "metallb-ts/layer2"
import { Cidr, Ip } from "metallb-ts/net"
import { InMemoryApiServer } from "metallb-ts/testing"

export const program: Effect.Effect<ReadonlyArray<Core.PoolStats>, never, Allocator.Allocator> = Effect.gen(function*() {
  const allocator = yield* Allocator.Allocator
  return yield* allocator.stats
})
export const state: Fsm.StateName = Fsm.step(Fsm.initial(Fsm.makeConfig({ localAsn: 1, localBgpId: 1, peerAsn: 2 })), {
  _tag: "ManualStart"
})[0].name
export const traces = FsmArbitraries.arbFsmTrace
export const session = BgpSession.BgpSession.layer
export const speaker = BgpSpeaker.BgpSpeaker.layer
export const parse = Parse.parseConfig
export const leader = LeaderElection.LeaderElection
export const services = Resource.Services
export const kube = KubeClient.KubeClient.layerServer
export const arp = ArpResponder.ArpResponder
export const ndp = Ndp.decodeFrame
export const api = InMemoryApiServer.InMemoryApiServer.layer
export const ip: Ip.IpAddress | undefined = Ip.parse("192.0.2.1")
export const cidr = Cidr.parse

// @ts-expect-error an allocator state is not a string (with `any` declarations this line would compile)
export const wrongState: string = Core.empty()
// @ts-expect-error ServiceIntent.fromService takes one argument
ServiceIntent.fromService({}, {})
// @ts-expect-error "Open" is not an FSM state name
export const wrongName: Fsm.StateName = "Open"
