// MetalLB's BGP e2e catalog (reference/metallb-behavior.md §8.5, §8.6), the ✅N cases no earlier suite covers, on
// the whole system (e2eLab.ts): the controller allocates, the speakers peer with FRR (AS 64512, dynamic eBGP
// neighbours), and the client behind FRR shows which nodes its traffic reaches. Communities, LOCAL_PREF and
// per-peer node selectors are covered by test/speaker/Desired.test.ts and the BGP lab suites.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { JsonObject } from "../../../src/testing/apiserver/Json.ts"
import * as Netns from "../../../src/testing/Netns.ts"
import { eventually, frrEbgp, notYet, throughout } from "../bgpLab.ts"
import { labGate } from "../prerequisites.ts"
import * as E2e from "./e2eLab.ts"

const gate = labGate(["ip", "arping", "curl", "kubectl", "vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra"])

const peer = (extra: JsonObject = {}): JsonObject => ({
  apiVersion: "metallb.io/v1beta2",
  kind: "BGPPeer",
  metadata: { name: "router", namespace: E2e.NS },
  spec: { myASN: 64500, peerASN: 64512, peerAddress: "192.0.2.1", holdTime: "9s", ...extra }
})

/** The nodes answering `n` HTTP requests from the client behind the router. */
const answering = (e: E2e.E2eLab, ip: string, n: number, port = 80) =>
  Effect.gen(function*() {
    const seen = new Set<string>()
    for (let i = 0; i < n; i++) seen.add(yield* e.reach(e.wan, ip, port))
    return [...seen].toSorted()
  })

describe.skipIf(gate.skip)("e2e: MetalLB's BGP catalog on the whole system", () => {
  it("has its prerequisites", () => {
    assert.isUndefined(gate.problem, gate.problem)
  })

  it.live(
    "§8.5 ETP=local IPV4; NetworkUnavailable; request IPv4 via custom annotation; overlapping IPs IPV4; peers with routerid IPV4",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const e = yield* E2e.make({ router: frrEbgp(), ports: [80, 8080] })
        yield* e.l.upsert(
          peer({ routerID: "10.10.10.1" }),
          E2e.pool("wan", ["203.0.113.0/28"]),
          E2e.advertisement("BGPAdvertisement", "wan", ["wan"]),
          E2e.service("local", { local: true }),
          E2e.endpoints("local", ["n2"])
        )
        // routerID: FRR sees every node's session with BGP identifier 10.10.10.1.
        const frr = e.frr
        assert.isDefined(frr)
        for (const n of E2e.nodeNames) {
          const address = `192.0.2.${E2e.nodes[n]}`
          yield* eventually(`${n}: session with router ID 10.10.10.1`, Effect.gen(function*() {
            const r = yield* (frr as NonNullable<typeof frr>).json<Record<string, { bgpState?: string; remoteRouterId?: string }>>(`show bgp neighbors ${address}`)
            const s = r[address]
            return s?.bgpState === "Established" && s.remoteRouterId === "10.10.10.1" ? true : yield* notYet(JSON.stringify(s ?? {}).slice(0, 200))
          }), E2e.WAIT)
        }

        // ETP Local: the next hops are exactly the endpoint nodes, and only they get traffic.
        const [local = ""] = yield* e.externalIps("local")
        yield* e.nexthops(local, ["n2"])
        assert.deepStrictEqual(yield* answering(e, local, 10), ["n2"])
        yield* e.l.upsert(E2e.endpoints("local", ["n1", "n3"]))
        yield* e.nexthops(local, ["n1", "n3"])
        assert.includeMembers(["n1", "n3"], yield* answering(e, local, 10))

        // metallb.io/loadBalancerIPs: the requested IP, announced from every node.
        yield* e.l.upsert(
          E2e.service("web", { annotations: { "metallb.io/loadBalancerIPs": "203.0.113.7" } }),
          E2e.endpoints("web", ["n1"])
        )
        assert.deepStrictEqual(yield* e.externalIps("web"), ["203.0.113.7"])
        yield* e.nexthops("203.0.113.7", ["n1", "n2", "n3"])
        // NetworkUnavailable on n1: its next hop goes, the others stay, and traffic avoids n1; cleared, it is back.
        yield* e.setNode("n1", {}, true)
        yield* e.nexthops("203.0.113.7", ["n2", "n3"])
        assert.includeMembers(["n2", "n3"], yield* answering(e, "203.0.113.7", 10))
        yield* e.setNode("n1", {}, false)
        yield* e.nexthops("203.0.113.7", ["n1", "n2", "n3"])

        // Two Services sharing one IP (key foo) on different ports: both reachable through the router.
        const shared = { "metallb.io/allow-shared-ip": "foo", "metallb.io/loadBalancerIPs": "203.0.113.9" }
        yield* e.l.upsert(
          E2e.service("ov-a", { annotations: shared }),
          E2e.endpoints("ov-a", ["n1"]),
          E2e.service("ov-b", { annotations: shared, ports: [{ name: "http", port: 8080, protocol: "TCP" }] }),
          E2e.endpoints("ov-b", ["n3"])
        )
        assert.deepStrictEqual(yield* e.externalIps("ov-a"), ["203.0.113.9"])
        assert.deepStrictEqual(yield* e.externalIps("ov-b"), ["203.0.113.9"])
        yield* e.nexthops("203.0.113.9", ["n1", "n2", "n3"])
        yield* e.reach(e.wan, "203.0.113.9", 80)
        yield* e.reach(e.wan, "203.0.113.9", 8080)
      })),
    240_000
  )

  it.live(
    "§8.5 two protocols IPV4: BGP throughout, layer 2 only while an L2Advertisement exists; Secret Ref for BGPPeer; §8.6 one advertisement with node selector, labeling node",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const e = yield* E2e.make({ router: frrEbgp({ password: "s3cret" }) })
        yield* e.l.upsert(
          // MD5 with the password from a basic-auth Secret: FRR accepts only sessions with the key.
          {
            apiVersion: "v1",
            kind: "Secret",
            metadata: { name: "bgp-password", namespace: E2e.NS },
            type: "kubernetes.io/basic-auth",
            data: { password: Buffer.from("s3cret").toString("base64") }
          },
          peer({ passwordSecret: { name: "bgp-password", namespace: E2e.NS } }),
          E2e.pool("lan", ["192.0.2.240-192.0.2.249"]),
          E2e.advertisement("BGPAdvertisement", "lan", ["lan"]),
          E2e.service("both"),
          E2e.endpoints("both", ["n1", "n2"])
        )
        const [ip = ""] = yield* e.externalIps("both")
        yield* e.nexthops(ip, ["n1", "n2", "n3"])
        yield* e.reach(e.wan, ip)
        // No L2Advertisement: the LAN client gets no ARP answer and no HTTP.
        yield* throughout("no ARP answer on the LAN", Effect.map(e.arpOwner(ip), (n) => n === undefined), "2 seconds")
        assert.isUndefined(yield* e.http(e.cli, ip))

        yield* e.l.upsert(E2e.advertisement("L2Advertisement", "lan", ["lan"]))
        const owner = yield* e.l2Owner("both", ip)
        assert.strictEqual(yield* e.reach(e.cli, ip), owner)

        yield* Effect.sync(() => e.l.server.objects.delete("metallb.io/v1beta1", "L2Advertisement", E2e.NS, "lan"))
        yield* eventually("layer 2 withdrawn", Effect.gen(function*() {
          const arp = yield* e.arpOwner(ip)
          const statuses = e.l2Nodes("both")
          return arp === undefined && statuses.length === 0 ? true : yield* notYet(`ARP ${arp ?? "none"}, statuses ${statuses.join(",") || "none"}`)
        }), E2e.WAIT)
        yield* Netns.nsExec(e.cli, ["ip", "neigh", "flush", "dev", "eth0"])
        assert.isUndefined(yield* e.http(e.cli, ip))
        yield* e.nexthops(ip, ["n1", "n2", "n3"])
        yield* e.reach(e.wan, ip)

        // An advertisement selecting a label no node has: nothing announced until a node gets it, then only it.
        yield* e.l.upsert(
          E2e.pool("picky", ["203.0.113.32/28"]),
          E2e.advertisement("BGPAdvertisement", "picky", ["picky"], [{ matchLabels: { "e2e/bgp": "yes" } }]),
          E2e.service("picky", { annotations: { "metallb.io/address-pool": "picky" } }),
          E2e.endpoints("picky", ["n1", "n2", "n3"])
        )
        const [picky = ""] = yield* e.externalIps("picky")
        yield* throughout("no route for the unselected Service", Effect.map(e.paths(`${picky}/32`), (ps) => ps.length === 0), "3 seconds")
        yield* e.setNode("n3", { "e2e/bgp": "yes" })
        yield* e.nexthops(picky, ["n3"])
        assert.deepStrictEqual(yield* answering(e, picky, 5), ["n3"])
      })),
    240_000
  )
})
