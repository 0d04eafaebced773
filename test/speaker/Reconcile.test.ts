import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Prefix from "../../src/bgp/Prefix.ts"
import * as OwnerRanking from "../../src/election/OwnerRanking.ts"
import * as Model from "../../src/speaker/ClusterModel.ts"
import * as Reconcile from "../../src/speaker/Reconcile.ts"
import { bfd, bgpAd, l2, node, parseOk, peer, peerSpec, pool } from "../config/fixtures.ts"

const nodeNames = ["node-a", "node-b", "node-c"]
const nodes = nodeNames.map((n) => node(n, { "kubernetes.io/hostname": n }))
const nodeViews = new Map(nodes.map((n) => [n.metadata.name, Model.nodeView(n)]))

const service = (name: string, ips: ReadonlyArray<string>, extra: { lbClass?: string } = {}) =>
  Model.serviceView({
    metadata: { name, namespace: "default" },
    spec: { type: "LoadBalancer", ...(extra.lbClass === undefined ? {} : { loadBalancerClass: extra.lbClass }) },
    status: { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } }
  })

const ready = (...onNodes: ReadonlyArray<string>): ReadonlyArray<Model.EndpointView> =>
  onNodes.map((n) => ({ node: n, serving: true, hasAddress: true }))

const config = (l2Ads: ReadonlyArray<ReturnType<typeof l2>> = [l2("all", { ipAddressPools: ["lan"] })]) =>
  parseOk({
    ipAddressPools: [pool("lan", { addresses: ["192.0.2.0/28"] }), pool("wan", { addresses: ["203.0.113.0/28"] })],
    l2Advertisements: l2Ads,
    bgpAdvertisements: [bgpAd("wan", { ipAddressPools: ["wan"], communities: ["64500:7"], localPref: 50 })],
    bgpPeers: [peer("router", peerSpec({ holdTime: "9s", bfdProfile: "quick", enableGracefulRestart: true }))],
    bfdProfiles: [bfd("quick", { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 5 })],
    nodes
  }).config

const inputs = (overrides: Partial<Reconcile.Inputs> = {}): Reconcile.Inputs => ({
  config: config(),
  services: [service("web", ["192.0.2.3"]), service("api", ["203.0.113.4"])],
  endpoints: new Map([["default/web", ready("node-b")], ["default/api", ready("node-c")]]),
  nodes: nodeViews,
  thisNode: "node-a",
  loadBalancerClass: undefined,
  ignoreExcludeLB: false,
  alive: new Map([["eth0", new Set(nodeNames)]]),
  ...overrides
})

const owner = (ip: string, alive: ReadonlyArray<string>) =>
  OwnerRanking.owner(ip, alive.map((n) => ({ node: n, weight: 0 })))

describe("Reconcile.desired", () => {
  it("announces layer 2 only on the ranked owner among the live candidates, BGP on every selected node", () => {
    for (const self of nodeNames) {
      const d = Reconcile.desired(inputs({ thisNode: self }))
      const mine = owner("192.0.2.3", nodeNames) === self
      assert.strictEqual(d.announced.has("layer2 default/web"), mine, self)
      assert.deepStrictEqual(d.l2.map((a) => a.ip), mine ? ["192.0.2.3"] : [])
      const bgp = d.announced.get("bgp default/api")
      assert.deepStrictEqual(bgp?.peers, ["router"])
      assert.deepStrictEqual(bgp?.ips, ["203.0.113.4"])
      assert.strictEqual(bgp?.pool, "wan")
    }
  })

  it("moves ownership when the owner is no longer alive", () => {
    const first = owner("192.0.2.3", nodeNames)
    const rest = nodeNames.filter((n) => n !== first)
    const next = owner("192.0.2.3", rest)
    const d = Reconcile.desired(inputs({ thisNode: next ?? "", alive: new Map([["eth0", new Set(rest)]]) }))
    assert.deepStrictEqual(d.l2.map((a) => a.ip), ["192.0.2.3"])
    const gone = Reconcile.desired(inputs({ thisNode: first ?? "", alive: new Map([["eth0", new Set(rest)]]) }))
    assert.deepStrictEqual(gone.l2, [])
  })

  it("hands the BGP layer the peer config, BFD profile and routes", () => {
    const d = Reconcile.desired(inputs())
    assert.strictEqual(d.bgp.length, 1)
    const p = d.bgp[0]
    assert.deepStrictEqual(p?.peer, {
      address: "192.0.2.1",
      localAsn: 64500,
      peerAsn: 64501,
      holdTime: 9,
      keepaliveTime: 3,
      gracefulRestart: { restartTime: 120 }
    })
    assert.deepStrictEqual(p?.bfd, { desiredMinTx: 100_000, requiredMinRx: 100_000, detectMult: 5, passive: false })
    assert.deepStrictEqual(p?.routes.map((r) => [Prefix.format(r.prefix), r.communities, r.localPref]), [
      ["203.0.113.4/32", [64500 * 65536 + 7], 50]
    ])
  })

  it("respects --lb-class", () => {
    const services = [service("web", ["192.0.2.3"], { lbClass: "example.com/x" }), service("api", ["203.0.113.4"])]
    const none = Reconcile.desired(inputs({ services, thisNode: owner("192.0.2.3", nodeNames) ?? "" }))
    assert.deepStrictEqual([...none.announced.keys()], ["bgp default/api"])
    const classed = Reconcile.desired(inputs({ services, loadBalancerClass: "example.com/x", thisNode: owner("192.0.2.3", nodeNames) ?? "" }))
    assert.deepStrictEqual([...classed.announced.keys()], ["layer2 default/web"])
  })

  it("reports announceFailed when the elected node has none of the allowed interfaces", () => {
    const c = config([l2("eth9", { ipAddressPools: ["lan"], interfaces: ["eth9"] })])
    const self = owner("192.0.2.3", nodeNames) ?? ""
    const d = Reconcile.desired(inputs({ config: c, thisNode: self }))
    assert.deepStrictEqual(d.failed, [{ service: "default/web", ip: "192.0.2.3" }])
    assert.isFalse(d.announced.has("layer2 default/web"))
    const other = Reconcile.desired(inputs({ config: c, thisNode: nodeNames.find((n) => n !== self) ?? "" }))
    assert.deepStrictEqual(other.failed, [])
  })

  it("lists the restricting interfaces of a layer 2 announcement", () => {
    const c = config([l2("eth0", { ipAddressPools: ["lan"], interfaces: ["eth0"] })])
    const d = Reconcile.desired(inputs({ config: c, thisNode: owner("192.0.2.3", nodeNames) ?? "" }))
    assert.deepStrictEqual(d.announced.get("layer2 default/web")?.interfaces, ["eth0"])
  })

  it("property: exactly one live candidate announces each layer 2 IP; everyone agrees", () => {
    fc.assert(fc.property(fc.subarray(nodeNames, { minLength: 1 }), fc.integer({ min: 1, max: 14 }), (alive, host) => {
      const ip = `192.0.2.${host}`
      const announcers = nodeNames.filter((self) =>
        Reconcile.desired(inputs({
          thisNode: self,
          services: [service("web", [ip])],
          alive: new Map([["eth0", new Set(alive)]])
        })).l2.some((a) => a.ip === ip))
      assert.strictEqual(announcers.length, 1)
      assert.include(alive, announcers[0])
    }))
  })
})

const a = (service: string, ips: ReadonlyArray<string>): Reconcile.ServiceAnnouncement => ({ service, protocol: "layer2", ips, pool: "lan" })
const map = (...list: ReadonlyArray<Reconcile.ServiceAnnouncement>) => new Map(list.map((x) => [Reconcile.announcementKey(x), x]))

describe("Reconcile.diff", () => {

  it("sees added, withdrawn and changed announcements, and nothing when unchanged", () => {
    const before = map(a("x", ["192.0.2.1"]), a("y", ["192.0.2.2"]))
    const after = map(a("y", ["192.0.2.9"]), a("z", ["192.0.2.3"]))
    const d = Reconcile.diff(before, after)
    assert.deepStrictEqual(d.added.map((x) => x.service), ["z"])
    assert.deepStrictEqual(d.withdrawn.map((x) => x.service), ["x"])
    assert.deepStrictEqual(d.changed.map((x) => x.service), ["y"])
    const same = Reconcile.diff(after, map(a("y", ["192.0.2.9"]), a("z", ["192.0.2.3"])))
    assert.deepStrictEqual([same.added, same.withdrawn, same.changed], [[], [], []])
  })
})
