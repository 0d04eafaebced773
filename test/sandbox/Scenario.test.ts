/**
 * The sandbox's configuration is a valid MetalLB configuration for every node of both modes (the same parser the
 * controller and the speakers run), and its peers select the right nodes with the right source addresses.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { parseConfig } from "../../src/config/Parse.ts"
import * as Ip from "../../src/net/Ip.ts"
import * as Scenario from "../../src/sandbox/Scenario.ts"

const byKind = (objects: ReadonlyArray<Record<string, unknown>>, kind: string) => objects.filter((o) => o["kind"] === kind)

const parse = (objects: ReadonlyArray<Record<string, unknown>>, nodes: ReadonlyArray<Scenario.SandboxNode>, node?: string) =>
  parseConfig(
    {
      ipAddressPools: byKind(objects, "IPAddressPool"),
      bgpAdvertisements: byKind(objects, "BGPAdvertisement"),
      l2Advertisements: byKind(objects, "L2Advertisement"),
      bgpPeers: byKind(objects, "BGPPeer"),
      communities: byKind(objects, "Community"),
      nodes: Scenario.nodeObjects(nodes)
    },
    node === undefined ? {} : { node }
  )

describe("sandbox scenario", () => {
  it("loopback mode: one peer per node, from the node's own loopback address, on a port the CRD accepts", () => {
    const objects = Scenario.bgpConfig({ address: "127.0.0.1", port: 16384 }, Scenario.loopbackNodes, true)
    for (const node of Scenario.loopbackNodes) {
      const parsed = parse(objects, Scenario.loopbackNodes, node.name)
      if (Result.isFailure(parsed)) assert.fail(parsed.failure.errors.map((e) => e.message).join("; "))
      const mine = parsed.success.config.peers.filter((p) => p.nodes.includes(node.name))
      assert.deepStrictEqual(mine.map((p) => [p.name, p.port, p.peerASN, p.myASN]), [[`router-${node.name}`, 16384, Scenario.routerAsn, Scenario.nodeAsn]])
      const source = mine[0]?.sourceAddress
      assert.strictEqual(source === undefined ? undefined : Ip.format(source), node.address)
    }
    assert.isTrue(Result.isFailure(parse(Scenario.bgpConfig({ address: "127.0.0.1", port: 16385 }, Scenario.loopbackNodes, true), Scenario.loopbackNodes)))
  })

  it("namespaces mode: one peer for all nodes, the BGP pool and the layer 2 pool (not auto-assigned)", () => {
    const objects = [...Scenario.bgpConfig({ address: "192.0.2.1", port: 179 }, Scenario.labNodes, false), ...Scenario.l2Config(Scenario.labNodes)]
    const parsed = parse(objects, Scenario.labNodes)
    if (Result.isFailure(parsed)) assert.fail(parsed.failure.errors.map((e) => e.message).join("; "))
    const config = parsed.success.config
    assert.deepStrictEqual(config.peers.map((p) => [p.name, [...p.nodes]]), [["router", ["node3", "node4", "node5"]]])
    assert.deepStrictEqual(config.pools.map((p) => [p.name, p.autoAssign]).toSorted(), [["sandbox-bgp", true], ["sandbox-l2", false]])
  })

  it("the nginx endpoints are ready on every node", () => {
    const slice = Scenario.endpointsFor("nginx", Scenario.labNodes) as { endpoints: ReadonlyArray<{ nodeName: string; conditions: { ready: boolean } }> }
    assert.deepStrictEqual(slice.endpoints.map((e) => [e.nodeName, e.conditions.ready]), [["node3", true], ["node4", true], ["node5", true]])
  })
})
