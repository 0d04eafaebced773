// The real `metallb speaker` program, BGP: three node namespaces peering with FRR (lab-harness.md §2, eBGP with
// dynamic neighbours), the in-memory API server in the test process (speakerLab.ts). FRR learns the Service's /32
// from all three speakers as ECMP paths; deleting the Service withdraws it everywhere and removes the statuses.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Routers from "../../src/testing/Routers.ts"
import { eventually, frrEbgp } from "./bgpLab.ts"
import { labGate } from "./prerequisites.ts"
import * as SpeakerLab from "./speakerLab.ts"

const gate = labGate(["ip", "vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra"])
const VIP = "203.0.113.10"
const nodes = { n1: 11, n2: 12, n3: 13 } as const

describe.skipIf(gate.skip)("metallb speaker, BGP, in namespaces", () => {
  it("has its prerequisites", () => {
    assert.isUndefined(gate.problem, gate.problem)
  })

  it.live("FRR sees the route from three speakers (ECMP) and the withdraw when the Service goes", () =>
    Effect.scoped(Effect.gen(function*() {
      const l = yield* SpeakerLab.make(nodes, { rtr: 1 })
      const frr = yield* Routers.startFrr(l.lab, l.others.rtr.ns, { bgpd: frrEbgp() })
      yield* l.upsert(
        SpeakerLab.pool("wan", ["203.0.113.0/28"]),
        { apiVersion: "metallb.io/v1beta1", kind: "BGPAdvertisement", metadata: { name: "wan", namespace: SpeakerLab.NS }, spec: { ipAddressPools: ["wan"], communities: ["64500:100"] } },
        {
          apiVersion: "metallb.io/v1beta2",
          kind: "BGPPeer",
          metadata: { name: "router", namespace: SpeakerLab.NS },
          spec: { myASN: 64500, peerASN: 64512, peerAddress: "192.0.2.1", holdTime: "9s" }
        },
        SpeakerLab.service("web", VIP),
        SpeakerLab.endpoints("web", ["n1"])
      )
      for (const n of Object.keys(nodes) as Array<keyof typeof nodes>) yield* l.startSpeaker(n)

      const paths = yield* eventually("three multipaths in FRR", Routers.frrPaths(frr, `${VIP}/32`).pipe(
        Effect.map((ps) => (ps.length === 3 && ps.every((p) => p.multipath) ? ps : undefined))
      ), "30 seconds")
      assert.deepStrictEqual(paths.map((p) => p.nexthop).toSorted(), ["192.0.2.11", "192.0.2.12", "192.0.2.13"])
      assert.isTrue(paths.every((p) => p.communities.includes("64500:100") && p.asPath === "64500"))
      const statuses = l.list("ServiceBGPStatus")
      assert.deepStrictEqual(statuses.map(SpeakerLab.nodeLabel).toSorted(), ["n1", "n2", "n3"])
      for (const s of statuses) assert.deepStrictEqual((s["status"] as { peers?: ReadonlyArray<string> }).peers, ["router"])

      yield* Effect.sync(() => l.server.objects.delete("v1", "Service", "default", "web"))
      yield* eventually("the route withdrawn", Routers.frrPaths(frr, `${VIP}/32`).pipe(
        Effect.map((ps) => (ps.length === 0 ? true : undefined))
      ), "15 seconds")
      yield* eventually("the statuses removed", Effect.sync(() => (l.list("ServiceBGPStatus").length === 0 ? true : undefined)))
    })), 120_000)
})
