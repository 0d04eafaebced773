import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Community from "../../src/config/Community.ts"
import * as BgpDesired from "../../src/speaker/BgpDesired.ts"
import * as Model from "../../src/speaker/ClusterModel.ts"
import * as L2Desired from "../../src/speaker/L2Desired.ts"
import { bgpAd, l2, node, parseOk, peer, peerSpec, pool } from "../config/fixtures.ts"

const nodes = [node("node3", { zone: "a" }), node("node4", { zone: "b" }), node("node5", { zone: "b" })]
const nodeViews = new Map(nodes.map((n) => [n.metadata.name, Model.nodeView(n)]))

const service = (name: string, ips: ReadonlyArray<string>, extra: {
  labels?: Record<string, string>
  etp?: "Local" | "Cluster"
  share?: string
} = {}) =>
  Model.serviceView({
    metadata: {
      name,
      namespace: "default",
      labels: extra.labels ?? {},
      annotations: extra.share === undefined ? {} : { "metallb.io/allow-shared-ip": extra.share }
    },
    spec: { type: "LoadBalancer", externalTrafficPolicy: extra.etp ?? "Cluster" },
    status: { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } }
  })

const ready = (...onNodes: ReadonlyArray<string>): ReadonlyArray<Model.EndpointView> =>
  onNodes.map((n) => ({ node: n, serving: true, hasAddress: true }))

const l2Config = (ads: ReadonlyArray<ReturnType<typeof l2>>) =>
  parseOk({
    ipAddressPools: [pool("lan", { addresses: ["192.0.2.200-192.0.2.250", "2001:db8:0:1::200/120"] })],
    l2Advertisements: ads,
    nodes
  }).config

describe("L2Desired", () => {
  it("gives every eligible node as a candidate and all interfaces by default", () => {
    const config = l2Config([l2("all")])
    const p = L2Desired.plan({
      config,
      services: [service("web", ["192.0.2.200"])],
      endpoints: new Map([["default/web", ready("node3")]]),
      nodes: nodeViews,
      thisNode: "node4",
      ignoreExcludeLB: false
    })
    assert.strictEqual(p.ips.length, 1)
    assert.deepStrictEqual(p.ips[0]?.candidates.map((c) => c.node), ["node3", "node4", "node5"])
    assert.strictEqual(p.ips[0]?.interfaces, "all")
  })

  it("follows MetalLB's rules: endpoints, ETP Local, NetworkUnavailable, exclude label, sharing with selectors", () => {
    const config = l2Config([
      l2("zone-b", { nodeSelectors: [{ matchLabels: { zone: "b" } }], interfaces: ["eth1"] }),
      l2("web-only", { serviceSelectors: [{ matchLabels: { app: "web" } }], interfaces: ["eth0"] })
    ])
    const unavailable = new Map(nodeViews)
    unavailable.set("node5", { ...Model.nodeView(node("node5", { zone: "b" })), networkUnavailable: true })
    const base = { config, nodes: unavailable, thisNode: "node4", ignoreExcludeLB: false }
    const p = L2Desired.plan({
      ...base,
      services: [
        service("web", ["192.0.2.200"], { labels: { app: "web" } }),
        service("db", ["192.0.2.201"]),
        service("local", ["192.0.2.202"], { etp: "Local" }),
        service("idle", ["192.0.2.203"]),
        service("shared", ["192.0.2.204"], { labels: { app: "web" }, share: "k" }),
        service("elsewhere", ["198.51.100.7"])
      ],
      endpoints: new Map([
        ["default/web", ready("node3")],
        ["default/db", ready("node3")],
        ["default/local", ready("node3")],
        ["default/shared", ready("node3")],
        ["default/elsewhere", ready("node3")]
      ])
    })
    const byIp = new Map(p.ips.map((x) => [x.ip, x]))
    // web: both ads apply: node3 (web-only selects every node) and node4 (zone b); node5 is NetworkUnavailable.
    assert.deepStrictEqual(byIp.get("192.0.2.200")?.candidates.map((c) => c.node), ["node3", "node4"])
    const interfaces = byIp.get("192.0.2.200")?.interfaces
    assert.deepStrictEqual(interfaces === undefined || interfaces === "all" ? interfaces : [...interfaces].toSorted(), ["eth0", "eth1"])
    assert.deepStrictEqual(byIp.get("192.0.2.201")?.candidates.map((c) => c.node), ["node4"])
    const skipped = new Map(p.skipped.map((s) => [s.service, s.reason]))
    assert.strictEqual(skipped.get("default/local"), "noCandidates") // the endpoint is on node3, not selected
    assert.strictEqual(skipped.get("default/idle"), "noEndpoints")
    assert.strictEqual(skipped.get("default/shared"), "sharedIPWithServiceSelector")
    assert.strictEqual(skipped.get("default/elsewhere"), "notInPool")
  })

  it("sums preferred node weights across applicable ads", () => {
    const config = l2Config([
      l2("a", { preferredNodeSelectors: [{ weight: 60, preference: { matchLabels: { zone: "b" } } }] }),
      l2("b", { preferredNodeSelectors: [{ weight: 50, preference: { matchLabels: { zone: "a" } } }] })
    ])
    const p = L2Desired.plan({
      config,
      services: [service("web", ["192.0.2.200"])],
      endpoints: new Map([["default/web", ready("node3")]]),
      nodes: nodeViews,
      thisNode: "node3",
      ignoreExcludeLB: false
    })
    assert.deepStrictEqual(p.ips[0]?.candidates, [
      { node: "node3", weight: 50 },
      { node: "node4", weight: 60 },
      { node: "node5", weight: 60 }
    ])
  })

  it("plans services sharing an IP as one, with the common candidates", () => {
    fc.assert(fc.property(fc.subarray(["node3", "node4", "node5"], { minLength: 1 }),
      fc.subarray(["node3", "node4", "node5"], { minLength: 1 }), (a, b) => {
        const config = l2Config([l2("all")])
        const p = L2Desired.plan({
          config,
          services: [
            service("one", ["192.0.2.210"], { etp: "Local", share: "k" }),
            service("two", ["192.0.2.210"], { etp: "Local", share: "k" })
          ],
          endpoints: new Map([["default/one", ready(...a)], ["default/two", ready(...b)]]),
          nodes: nodeViews,
          thisNode: "node3",
          ignoreExcludeLB: false
        })
        assert.strictEqual(p.ips.length, 1)
        const common = a.filter((n) => b.includes(n))
        const expected = (common.length > 0 ? common : [...new Set([...a, ...b])]).toSorted()
        assert.deepStrictEqual(p.ips[0]?.candidates.map((c) => c.node), expected)
        assert.deepStrictEqual(p.ips[0]?.services, ["default/one", "default/two"])
      }))
  })
})

const bgpConfig = (ads: ReadonlyArray<ReturnType<typeof bgpAd>>, peers = [peer("peer1", peerSpec()), peer("peer2", peerSpec({ peerAddress: "192.0.2.2", peerASN: 64500 }))]) =>
  parseOk({
    ipAddressPools: [pool("bgp", { addresses: ["203.0.113.0/24", "2001:db8:ffff::/120"] })],
    bgpAdvertisements: ads,
    bgpPeers: peers,
    nodes
  }).config

describe("BgpDesired", () => {
  it("announces /32s to every peer with the ad's communities and localPref, aggregates when asked", () => {
    const config = bgpConfig([
      bgpAd("host", { communities: ["64500:100", "large:64500:1:2"], localPref: 200 }),
      bgpAd("agg", { aggregationLength: 24, aggregationLengthV6: 120, peers: ["peer2"] })
    ])
    const p = BgpDesired.plan({
      config,
      services: [service("web", ["203.0.113.10", "2001:db8:ffff::10"])],
      endpoints: new Map([["default/web", ready("node3")]]),
      node: nodeViews.get("node4"),
      thisNode: "node4",
      ignoreExcludeLB: false
    })
    const peer1 = p.routes.get("peer1") ?? []
    assert.deepStrictEqual(peer1.map((r) => r.prefix), ["2001:db8:ffff::10/128", "203.0.113.10/32"])
    // MetalLB order: a standard a:b sorts as the large tuple (a<<16|b):0:0, so this large community comes first.
    assert.deepStrictEqual(peer1[1]?.communities.map(Community.format), ["large:64500:1:2", "64500:100"])
    assert.strictEqual(peer1[1]?.localPref, 200)
    const peer2 = (p.routes.get("peer2") ?? []).map((r) => r.prefix)
    assert.deepStrictEqual(peer2, ["2001:db8:ffff::/120", "2001:db8:ffff::10/128", "203.0.113.0/24", "203.0.113.10/32"])
    assert.deepStrictEqual(p.servicePeers.get("default/web"), ["peer1", "peer2"])
  })

  it("unites communities of overlapping ads for the same prefix", () => {
    const config = bgpConfig([bgpAd("a", { communities: ["64500:1"] }), bgpAd("b", { communities: ["64500:2"] })])
    const p = BgpDesired.plan({
      config,
      services: [service("web", ["203.0.113.10"])],
      endpoints: new Map([["default/web", ready("node3")]]),
      node: nodeViews.get("node3"),
      thisNode: "node3",
      ignoreExcludeLB: false
    })
    assert.deepStrictEqual(p.routes.get("peer1")?.[0]?.communities.map(Community.format), ["64500:1", "64500:2"])
  })

  it("ETP Local announces only from nodes with a local endpoint; excluded nodes withdraw", () => {
    const config = bgpConfig([bgpAd("all")])
    const svc = service("local", ["203.0.113.11"], { etp: "Local" })
    const endpoints = new Map([["default/local", ready("node3")]])
    const on = (name: string, view = nodeViews.get(name)) =>
      BgpDesired.plan({ config, services: [svc], endpoints, node: view, thisNode: name, ignoreExcludeLB: false })
    assert.strictEqual(on("node3").routes.get("peer1")?.length, 1)
    assert.strictEqual(on("node4").routes.get("peer1")?.length, 0)
    assert.strictEqual(on("node4").skipped[0]?.reason, "noLocalEndpoints")
    const excluded = Model.nodeView(node("node3", { [Model.ExcludeFromLoadBalancersLabel]: "" }))
    assert.strictEqual(on("node3", excluded).skipped[0]?.reason, "nodeExcluded")
    const ignoring = BgpDesired.plan({ config, services: [svc], endpoints, node: excluded, thisNode: "node3", ignoreExcludeLB: true })
    assert.strictEqual(ignoring.routes.get("peer1")?.length, 1)
  })

  it("peers with nodeSelectors exist only on their nodes", () => {
    const config = bgpConfig([bgpAd("all")], [peer("zone-a", peerSpec({ nodeSelectors: [{ matchLabels: { zone: "a" } }] }))])
    const run = (name: string) => BgpDesired.plan({
      config,
      services: [service("web", ["203.0.113.12"])],
      endpoints: new Map([["default/web", ready("node3")]]),
      node: nodeViews.get(name),
      thisNode: name,
      ignoreExcludeLB: false
    })
    assert.deepStrictEqual([...run("node3").routes.keys()], ["zone-a"])
    assert.deepStrictEqual([...run("node4").routes.keys()], [])
  })
})
