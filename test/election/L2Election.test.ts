import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as L2Election from "../../src/election/L2Election.ts"

const nodes = ["n1", "n2", "n3", "n4", "n5"]
const ifaces = ["eth0", "eth1"]
const ipPool = ["192.0.2.200", "192.0.2.201", "192.0.2.202", "2001:db8:0:1::200", "2001:db8:0:1::201"]

const service = fc.record({
  service: fc.stringMatching(/^ns\/[a-z]{1,6}$/),
  ips: fc.uniqueArray(fc.constantFrom(...ipPool), { minLength: 1, maxLength: 2 }),
  eligible: fc.uniqueArray(
    fc.record({ node: fc.constantFrom(...nodes), weight: fc.constantFrom(0, 0, 10, 50) }),
    { selector: (c) => c.node, maxLength: nodes.length }
  ),
  interfaces: fc.constant<"all">("all")
})
const services = fc.uniqueArray(service, { selector: (s) => s.service, minLength: 1, maxLength: 6 })
const alive = fc.array(fc.subarray(nodes), { minLength: ifaces.length, maxLength: ifaces.length })
  .map((sets) => new Map(ifaces.map((i, k) => [i, new Set(sets[k] ?? [])])))

const announcers = (svcs: ReadonlyArray<L2Election.ServiceInput>, view: ReadonlyMap<string, ReadonlySet<string>>) => {
  const by = new Map<string, Array<string>>()
  for (const self of nodes) {
    for (const a of L2Election.elect({ self, services: svcs, alive: view }).announcements) {
      const where = a.interfaces === "all" ? ifaces : [...a.interfaces]
      for (const i of where) by.set(`${a.ip}@${i}`, [...(by.get(`${a.ip}@${i}`) ?? []), self])
    }
  }
  return by
}

describe("L2Election", () => {
  it("nodes with the same view agree: exactly one announcer per IP and interface when a live eligible node exists", () => {
    fc.assert(fc.property(services, alive, (svcs, view) => {
      const by = announcers(svcs, view)
      const result = L2Election.elect({ self: "n1", services: svcs, alive: view })
      for (const ip of result.ips) {
        for (const [iface, owner] of ip.owners) {
          const who = by.get(`${ip.ip}@${iface}`) ?? []
          if (owner === undefined) assert.deepStrictEqual(who, [])
          else assert.deepStrictEqual(who, [owner])
          // Every node computes the same owner.
          for (const self of nodes) {
            const other = L2Election.elect({ self, services: svcs, alive: view }).ips.find((x) => x.ip === ip.ip)
            assert.strictEqual(other?.owners.get(iface), owner)
          }
          const live = svcs.some((s) => s.ips.includes(ip.ip) && s.eligible.some((c) => view.get(iface)?.has(c.node)))
          assert.strictEqual(owner !== undefined, live)
        }
      }
    }))
  })

  it("removing a node that owns nothing never moves an IP", () => {
    fc.assert(fc.property(services, alive, fc.constantFrom(...nodes), fc.constantFrom(...ifaces), (svcs, view, removed, iface) => {
      const before = L2Election.elect({ self: "n1", services: svcs, alive: view })
      if (before.ips.some((ip) => ip.owners.get(iface) === removed)) return
      const smaller = new Map(view)
      smaller.set(iface, new Set([...(view.get(iface) ?? [])].filter((n) => n !== removed)))
      const after = L2Election.elect({ self: "n1", services: svcs, alive: smaller })
      for (const ip of before.ips) {
        assert.strictEqual(after.ips.find((x) => x.ip === ip.ip)?.owners.get(iface), ip.owners.get(iface))
      }
    }))
  })

  it("services sharing an IP have one owner, and both IPs of a dual-stack service land on one node", () => {
    fc.assert(fc.property(fc.subarray(nodes, { minLength: 1 }), (live) => {
      const eligible = nodes.map((node) => ({ node, weight: 0 }))
      const svcs: Array<L2Election.ServiceInput> = [
        { service: "ns/a", ips: ["192.0.2.200", "2001:db8:0:1::200"], eligible, interfaces: "all" },
        { service: "ns/b", ips: ["192.0.2.200"], eligible, interfaces: "all" }
      ]
      const view = new Map([["eth0", new Set(live)]])
      const result = L2Election.elect({ self: "n1", services: svcs, alive: view })
      const owners = result.ips.map((ip) => ip.owners.get("eth0"))
      assert.strictEqual(new Set(owners).size, 1)
      assert.deepStrictEqual(result.ips.find((ip) => ip.ip === "192.0.2.200")?.services, ["ns/a", "ns/b"])
      const by = announcers(svcs, view)
      assert.deepStrictEqual(by.get("192.0.2.200@eth0")?.length, 1)
    }))
  })

  it("a node whose advertisement does not allow an interface does not announce there, and nobody else does either", () => {
    const svcs: Array<L2Election.ServiceInput> = [
      { service: "ns/a", ips: ["192.0.2.200"], eligible: [{ node: "n1", weight: 0 }], interfaces: new Set(["eth1"]) }
    ]
    const view = new Map(ifaces.map((i) => [i, new Set(["n1"])]))
    const result = L2Election.elect({ self: "n1", services: svcs, alive: view })
    assert.deepStrictEqual(result.announcements.map((a) => [a.ip, a.interfaces === "all" ? "all" : [...a.interfaces]]), [["192.0.2.200", ["eth1"]]])
  })

  it("prefers a weighted node over the hash order, and ignores eligible nodes that are not alive", () => {
    const svcs: Array<L2Election.ServiceInput> = [
      { service: "ns/a", ips: ["192.0.2.200"], eligible: [{ node: "n1", weight: 0 }, { node: "n2", weight: 0 }, { node: "n3", weight: 5 }], interfaces: "all" }
    ]
    const all = L2Election.elect({ self: "n3", services: svcs, alive: new Map([["eth0", new Set(["n1", "n2", "n3"])]]) })
    assert.strictEqual(all.ips[0]?.owners.get("eth0"), "n3")
    const without = L2Election.elect({ self: "n3", services: svcs, alive: new Map([["eth0", new Set(["n1", "n2", "n4"])]]) })
    assert.include(["n1", "n2"], without.ips[0]?.owners.get("eth0"))
    assert.deepStrictEqual(without.announcements, [])
  })
})
