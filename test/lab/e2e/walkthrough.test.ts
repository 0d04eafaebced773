// The MetalLB 0.7.3 walkthrough, end to end (issue #6): the controller and three speakers run, an operator
// `kubectl apply`s the legacy ConfigMap `config` (manifests/examples/*-configmap.yaml) and manifests/tutorial-2.yaml,
// and a client's HTTP request to the Service IP reaches a node. Then the operator moves to the custom resources
// (manifests/examples/layer2.yaml, bgp.yaml), deletes the ConfigMap, and the walkthrough's Service, applied again,
// is served from them.
// Layer 2: the client on the LAN reaches the one owner (the node of the ServiceL2Status, whose MAC answers ARP).
// BGP: the client behind FRR reaches the nodes through the ECMP route FRR learnt from all three speakers.
// The test plays the parts of a cluster that metallb-ts does not: the endpoints controller (an EndpointSlice for the
// Deployment's pods) and kube-proxy (the nodes accept the Service IP; e2eLab.ts).
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Netns from "../../../src/testing/Netns.ts"
import { eventually, frrEbgp, notYet } from "../bgpLab.ts"
import { labGate } from "../prerequisites.ts"
import * as E2e from "./e2eLab.ts"

const gate = labGate(["ip", "arping", "curl", "kubectl", "vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra"])

const metricValue = (text: string, name: string, labels: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels))
  return line === undefined ? undefined : Number(line.split(" ").at(-1))
}

/** What an operator types to install the walkthrough's Service; the test adds the pods' EndpointSlice. */
const applyTutorial = (e: E2e.E2eLab) =>
  Effect.gen(function*() {
    yield* e.kubectl("apply", "-f", E2e.manifest("tutorial-2.yaml"))
    yield* e.l.upsert(E2e.endpoints("nginx", ["n1", "n2"]))
  })

/** The legacy ConfigMap gives way to the custom resources: apply them, delete the ConfigMap and the Service. */
const migrate = (e: E2e.E2eLab, resources: string) =>
  Effect.gen(function*() {
    yield* e.kubectl("apply", "-f", E2e.manifest(resources))
    yield* e.kubectl("delete", "configmap", "config", "-n", E2e.NS)
    yield* e.kubectl("delete", "-f", E2e.manifest("tutorial-2.yaml"))
  })

describe.skipIf(gate.skip)("e2e: the walkthrough with kubectl, controller, speakers and traffic", () => {
  it("has its prerequisites", () => {
    assert.isUndefined(gate.problem, gate.problem)
  })

  it.live("layer 2, legacy ConfigMap then custom resources: the owner serves http://IP/ — §8.2 ETP=Cluster, L2ServiceStatus, metrics IPV4", () =>
    Effect.scoped(Effect.gen(function*() {
      const e = yield* E2e.make()
      yield* e.kubectl("apply", "-f", E2e.manifest("examples/layer2-configmap.yaml"))
      yield* applyTutorial(e)
      const [ip = ""] = yield* e.externalIps("nginx")
      assert.strictEqual(ip, "192.0.2.240")

      // §8.2 "should process the status as L2ServiceStatus": exactly one, naming the node whose MAC answers ARP,
      // stable for 5 s.
      const owner = yield* e.l2Owner("nginx", ip, "5 seconds")

      // §8.2 "should work for ExternalTrafficPolicy=Cluster": HTTP on the Service IP, answered by the owner.
      const servedByOwner = (owner: E2e.NodeName) =>
        Effect.gen(function*() {
          for (let i = 0; i < 5; i++) {
            const node = yield* e.reach(e.cli, ip)
            if (node !== owner) {
              const neigh = (yield* Netns.nsExec(e.cli, ["ip", "neigh", "show", ip])).stdout.trim()
              assert.fail(`HTTP answered by ${node}, owner ${owner} (statuses ${e.l2Nodes("nginx").join(",")}; client: ${neigh})`)
            }
          }
        })
      yield* servedByOwner(owner)

      // §8.2 "metrics ... should be exposed": the allocator's gauges; the owner's speaker announces and answered.
      const controllerMetrics = (yield* Netns.nsExec(e.l.hosts.api.ns, ["curl", "-s", "--max-time", "2", `http://127.0.0.1:${E2e.METRICS_PORT}/metrics`])).stdout
      assert.strictEqual(metricValue(controllerMetrics, "metallb_allocator_addresses_in_use_total", 'pool="first-pool"'), 1)
      assert.strictEqual(metricValue(controllerMetrics, "metallb_allocator_ipv4_addresses_total", 'pool="first-pool"'), 11)
      const announced = `ip="${ip}"`
      for (const n of E2e.nodeNames) {
        const text = yield* e.metrics(n)
        const value = metricValue(text, "metallb_speaker_announced", announced)
        if (n === owner) {
          assert.strictEqual(value, 1, `${n}: metallb_speaker_announced`)
          assert.isAtLeast(metricValue(text, "metallb_layer2_requests_received", announced) ?? 0, 1, `${n}: requests`)
          assert.isAtLeast(metricValue(text, "metallb_layer2_responses_sent", announced) ?? 0, 1, `${n}: responses`)
          assert.isAtLeast(metricValue(text, "metallb_layer2_gratuitous_sent", announced) ?? 0, 1, `${n}: gratuitous`)
        } else {
          assert.notStrictEqual(value, 1, `${n} is not the owner but announces`)
        }
      }

      // To the custom resources; deleting the Service ends it all: no status, no ARP answer, no announced series.
      yield* migrate(e, "examples/layer2.yaml")
      yield* eventually("status, ARP and metrics gone", Effect.gen(function*() {
        const statuses = e.l2Nodes("nginx")
        const arp = yield* e.arpOwner(ip)
        const series = metricValue(yield* e.metrics(owner), "metallb_speaker_announced", announced)
        return statuses.length === 0 && arp === undefined && series === undefined
          ? true
          : yield* notYet(`statuses ${statuses.join(",") || "none"}, ARP ${arp ?? "none"}, announced ${series ?? "gone"}`)
      }), E2e.WAIT)
      // A client that has not cached the owner's MAC (kube-proxy would also drop the IP) cannot reach it any more.
      yield* Netns.nsExec(e.cli, ["ip", "neigh", "flush", "dev", "eth0"])
      assert.isUndefined(yield* e.http(e.cli, ip))

      // The walkthrough again, now on the custom resources alone.
      yield* applyTutorial(e)
      assert.deepStrictEqual(yield* e.externalIps("nginx"), [ip])
      yield* servedByOwner(yield* e.l2Owner("nginx", ip))
    })), 240_000)

  it.live("BGP, legacy ConfigMap then custom resources: a client behind FRR reaches the nodes over ECMP — §8.5 ETP=cluster IPV4, ServiceBGPStatus IPV4", () =>
    Effect.scoped(Effect.gen(function*() {
      // The examples peer with 198.51.100.1 in AS 64501: the router's far side (e2eLab.ts).
      const e = yield* E2e.make({ router: frrEbgp({ asn: 64501 }) })
      yield* e.kubectl("apply", "-f", E2e.manifest("examples/bgp-configmap.yaml"))
      yield* applyTutorial(e)
      const [ip = ""] = yield* e.externalIps("nginx")
      assert.match(ip, /^203\.0\.113\.\d+$/)

      const servedOverEcmp = Effect.gen(function*() {
        // The route from every node, ORIGIN IGP, our AS, the advertisement's community, all multipath.
        const paths = yield* eventually("three multipaths in FRR", Effect.gen(function*() {
          const ps = yield* e.paths(`${ip}/32`)
          return ps.length === 3 && ps.every((p) => p.multipath) ? ps : yield* notYet(`paths ${JSON.stringify(ps.map((p) => [p.nexthop, p.multipath]))}`)
        }), E2e.WAIT)
        assert.deepStrictEqual(paths.map((p) => p.nexthop).toSorted(), ["192.0.2.11", "192.0.2.12", "192.0.2.13"])
        for (const p of paths) {
          assert.strictEqual(p.origin, "IGP")
          assert.strictEqual(p.asPath, "64500")
          assert.deepStrictEqual(p.communities, ["64500:100"])
        }
        // HTTP from behind the router: every answer from a node, and the flows spread over more than one.
        const answers = new Set<string>()
        for (let i = 0; i < 30; i++) answers.add(yield* e.reach(e.wan, ip))
        assert.isAtLeast(answers.size, 2, `answering nodes: ${[...answers].join(",")}`)
      })
      // §8.5 ServiceBGPStatus: one per node, listing the peer (the legacy peer is named as its conversion names it).
      const statusesName = (peer: string) =>
        eventually(`a ServiceBGPStatus per node naming ${peer}`, Effect.gen(function*() {
          const statuses = e.l.list("ServiceBGPStatus").map((s) => s["status"] as { node?: string; peers?: ReadonlyArray<string> })
          const nodes = statuses.map((s) => String(s.node)).toSorted()
          return JSON.stringify(nodes) === JSON.stringify(E2e.nodeNames) && statuses.every((s) => JSON.stringify(s.peers) === JSON.stringify([peer]))
            ? true
            : yield* notYet(`statuses ${JSON.stringify(statuses)}`)
        }), E2e.WAIT)
      yield* servedOverEcmp
      yield* statusesName("peer1")

      // To the custom resources; deleting the Service withdraws the route and removes the statuses.
      yield* migrate(e, "examples/bgp.yaml")
      yield* eventually("the route withdrawn and the statuses gone", Effect.gen(function*() {
        const ps = yield* e.paths(`${ip}/32`)
        const left = e.l.list("ServiceBGPStatus").length
        return ps.length === 0 && left === 0 ? true : yield* notYet(`${ps.length} paths, ${left} statuses`)
      }), E2e.WAIT)
      assert.isUndefined(yield* e.http(e.wan, ip))

      // The walkthrough again, now on the custom resources alone.
      yield* applyTutorial(e)
      assert.deepStrictEqual(yield* e.externalIps("nginx"), [ip])
      yield* servedOverEcmp
      yield* statusesName("router")
    })), 240_000)
})
