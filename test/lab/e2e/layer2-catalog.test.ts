// MetalLB's layer 2 e2e catalog (reference/metallb-behavior.md §8.2, §8.4), the ✅N cases no earlier suite covers,
// on the whole system (e2eLab.ts): the controller allocates, the speakers elect and answer ARP, and the LAN client's
// requests show which node the traffic reaches. Already covered elsewhere: NetworkUnavailable, the exclude label and
// speaker failover (speaker-layer2.test.ts), IP assignment and lb-class (test/integration/controller-*.test.ts).
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Netns from "../../../src/testing/Netns.ts"
import { eventually, notYet, throughout } from "../bgpLab.ts"
import { labGate } from "../prerequisites.ts"
import * as E2e from "./e2eLab.ts"

const gate = labGate(["ip", "arping", "curl", "kubectl"])

describe.skipIf(gate.skip)("e2e: MetalLB's layer 2 catalog on the whole system", () => {
  it("has its prerequisites", () => {
    assert.isUndefined(gate.problem, gate.problem)
  })

  it.live("§8.2 ETP=Local: the owner is the endpoint node and serves every request, and follows the endpoint; §8.2 IPV4 mixed protocol services", () =>
    Effect.scoped(Effect.gen(function*() {
      const e = yield* E2e.make()
      yield* e.l.upsert(
        E2e.pool("l2", ["192.0.2.240-192.0.2.249"]),
        E2e.advertisement("L2Advertisement", "l2", ["l2"]),
        E2e.service("local", { local: true }),
        E2e.endpoints("local", ["n3"]),
        E2e.service("mixed", { ports: [{ name: "tcp", port: 80, protocol: "TCP" }, { name: "udp", port: 80, protocol: "UDP" }] }),
        E2e.endpoints("mixed", ["n2"])
      )

      // ETP Local: only a node with a ready endpoint may announce, and every answer comes from it.
      const [local = ""] = yield* e.externalIps("local")
      assert.strictEqual(yield* e.l2Owner("local", local), "n3")
      for (let i = 0; i < 5; i++) assert.strictEqual(yield* e.reach(e.cli, local), "n3")
      // The endpoint moves to n1: so does the IP, and the client follows the new owner's gratuitous ARP.
      yield* e.l.upsert(E2e.endpoints("local", ["n1"]))
      assert.strictEqual(yield* e.l2Owner("local", local), "n1")
      yield* eventually("HTTP answered by n1", Effect.gen(function*() {
        const node = yield* e.http(e.cli, local)
        return node === "n1" ? node : yield* notYet(`answered by ${node ?? "nobody"}`)
      }), E2e.WAIT)

      // One Service with a TCP and a UDP port on the same number: both reach the owner.
      const [mixed = ""] = yield* e.externalIps("mixed")
      const owner = yield* e.l2Owner("mixed", mixed)
      assert.strictEqual(yield* e.reach(e.cli, mixed), owner)
      const udp = yield* eventually("a UDP answer", Effect.flatMap(e.udp(e.cli, mixed, 80), (n) => (n === undefined ? notYet("no answer") : Effect.succeed(n))), E2e.WAIT)
      assert.strictEqual(udp, owner)
    })), 240_000)

  it.live("§8.2 different services sharing the same ip advertise from the same node — IPV4; §8.4 Node Selector: should work when adding nodes, selecting one node", () =>
    Effect.scoped(Effect.gen(function*() {
      const e = yield* E2e.make({ ports: [80, 8080] })
      const shared = { "metallb.io/allow-shared-ip": "web", "metallb.io/loadBalancerIPs": "192.0.2.245" }
      yield* e.l.upsert(
        E2e.pool("l2", ["192.0.2.240-192.0.2.249"]),
        E2e.advertisement("L2Advertisement", "l2", ["l2"]),
        E2e.service("front", { annotations: shared }),
        E2e.endpoints("front", ["n1"]),
        E2e.service("admin", { annotations: shared, ports: [{ name: "http", port: 8080, protocol: "TCP" }] }),
        E2e.endpoints("admin", ["n2"])
      )
      // Two Services, one IP, backends on different nodes: one owner for both, named by both nodeAssigned Events.
      assert.deepStrictEqual(yield* e.externalIps("front"), ["192.0.2.245"])
      assert.deepStrictEqual(yield* e.externalIps("admin"), ["192.0.2.245"])
      const owner = yield* e.l2Owner("front", "192.0.2.245")
      const assigned = `nodeAssigned: announcing from node "${owner}" with protocol "layer2"`
      yield* eventually("the same node in both statuses and both nodeAssigned Events", Effect.gen(function*() {
        const events = [...e.events("front"), ...e.events("admin")].filter((x) => x.startsWith("nodeAssigned"))
        const admin = e.l2Nodes("admin")
        return events.length === 2 && events.every((x) => x === assigned) && admin.length === 1 && admin[0] === owner
          ? true
          : yield* notYet(`admin status ${admin.join(",") || "none"}, events ${JSON.stringify(events)}`)
      }), E2e.WAIT)
      assert.strictEqual(yield* e.reach(e.cli, "192.0.2.245", 80), owner)
      assert.strictEqual(yield* e.reach(e.cli, "192.0.2.245", 8080), owner)

      // An advertisement whose nodeSelector matches no node: the Service gets its IP but nobody announces it.
      yield* e.l.upsert(
        E2e.pool("picky", ["192.0.2.230-192.0.2.232"]),
        E2e.advertisement("L2Advertisement", "picky", ["picky"], [{ matchLabels: { "e2e/l2": "yes" } }]),
        E2e.service("picky", { annotations: { "metallb.io/address-pool": "picky" } }),
        E2e.endpoints("picky", ["n1", "n2", "n3"])
      )
      const [picky = ""] = yield* e.externalIps("picky")
      assert.strictEqual(picky, "192.0.2.230")
      yield* throughout("nobody announces the IP", Effect.map(e.arpOwner(picky), (n) => n === undefined && e.l2Nodes("picky").length === 0), "3 seconds")
      assert.isUndefined(yield* e.http(e.cli, picky))
      // Label a node: it announces and serves.
      yield* e.setNode("n2", { "e2e/l2": "yes" })
      assert.strictEqual(yield* e.l2Owner("picky", picky), "n2")
      assert.strictEqual(yield* e.reach(e.cli, picky), "n2")
      // An advertisement selecting one node by hostname: that node takes over.
      yield* e.l.upsert(E2e.advertisement("L2Advertisement", "picky", ["picky"], [{ matchLabels: { "kubernetes.io/hostname": "n3" } }]))
      assert.strictEqual(yield* e.l2Owner("picky", picky), "n3")
      yield* Netns.nsExec(e.cli, ["ip", "neigh", "flush", "dev", "eth0"])
      assert.strictEqual(yield* e.reach(e.cli, picky), "n3")
    })), 240_000)
})
