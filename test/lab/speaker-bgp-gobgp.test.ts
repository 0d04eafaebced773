// The real `metallb speaker` program in three node namespaces against GoBGP 3 as the router (lab-harness.md §3),
// configured only through metallb.io objects, Secrets, Services and EndpointSlices in the in-memory API server
// (speakerLab.ts, speakerBgpScenarios.ts). Checked in GoBGP's RIB (`gobgp global rib -j`, `-a ipv6`): eBGP over IPv4
// and IPv6 with dynamic neighbours, ECMP (three paths), communities, a Community alias and aggregation, withdraw on
// Service delete; iBGP over IPv4 and IPv6 with LOCAL_PREF and MD5 on explicit neighbours (GoBGP cannot do MD5 with
// dynamic ones), where a wrong key never gets a session. GoBGP has no BFD: the BIRD lab covers it.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type * as Netns from "../../src/testing/Netns.ts"
import * as Routers from "../../src/testing/Routers.ts"
import { gobgpDynamicGroup, gobgpGlobal, gobgpNeighbor } from "./bgpLab.ts"
import { labGate } from "./prerequisites.ts"
import * as Rib from "./routerRib.ts"
import { ebgp, ibgpMd5, MD5_KEY, names, runEbgp, runIbgpMd5, type RouterView, setup, v4, v6 } from "./speakerBgpScenarios.ts"

const gate = labGate(["ip", "gobgpd", "gobgp", "nstat"])

/** eBGP: a passive peer group per family for the nodes' AS, dynamic neighbours over the LAN. */
const ebgpConf = gobgpGlobal + gobgpDynamicGroup("nodes", 64500, "ipv4-unicast", "192.0.2.0/24") +
  gobgpDynamicGroup("nodes6", 64500, "ipv6-unicast", "2001:db8:0:1::/64")

/** iBGP with MD5: explicit passive neighbours (every node, n3 included: its key is the wrong one). */
const ibgpMd5Conf = gobgpGlobal + [...names.map(v4), ...names.map(v6)].map((address) => gobgpNeighbor(address, 64512, MD5_KEY)).join("")

const startGobgp = (config: string) => (l: { readonly lab: Netns.Lab; readonly others: Record<"rtr", Netns.Host> }) =>
  Routers.startGobgp(l.lab, l.others.rtr.ns, config)

const view = (g: Routers.Gobgp): RouterView => ({
  name: "GoBGP",
  paths: (prefix) => Rib.gobgpPaths(g, prefix),
  sessions: Rib.gobgpSessions(g)
})

describe.skipIf(gate.skip)("metallb speaker against GoBGP 3", () => {
  it("has its prerequisites", () => {
    assert.isUndefined(gate.problem, gate.problem)
  })

  it.live("eBGP over IPv4 and IPv6: ECMP from three speakers, communities, aggregation, withdraw on Service delete", () =>
    Effect.scoped(Effect.gen(function*() {
      const r = yield* setup(startGobgp(ebgpConf), ebgp.objects())
      yield* runEbgp(r, view(r.router), Effect.gen(function*() {
        // GoBGP has no FIB here: ECMP shows as three paths, each with its node as next hop, and no LOCAL_PREF on eBGP.
        for (const p of yield* Rib.gobgpPaths(r.router, ebgp.web.prefix)) assert.isUndefined(p.localPref, "eBGP carries no LOCAL_PREF")
      }))
    })), 150_000)

  it.live("iBGP over IPv4 and IPv6 with MD5: LOCAL_PREF, empty AS_PATH; a wrong key never gets a session", () =>
    Effect.scoped(Effect.gen(function*() {
      const r = yield* setup(startGobgp(ibgpMd5Conf), ibgpMd5.objects())
      yield* runIbgpMd5(r, view(r.router))
    })), 150_000)
})
