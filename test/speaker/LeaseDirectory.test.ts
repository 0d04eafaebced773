import { assert, describe, it } from "@effect/vitest"
import * as LeaseDirectory from "../../src/speaker/LeaseDirectory.ts"

const speaker = (node: string, interfaces: "all" | ReadonlySet<string> = new Set(["eth0"])) => ({ node, interfaces })
const seen = (entries: ReadonlyArray<[string, number]>) =>
  new Map(entries.map(([node, observedAt]) => [LeaseDirectory.leaseName(node), { resourceVersion: "1", observedAt, speaker: speaker(node) }]))

describe("LeaseDirectory", () => {
  it("counts speakers whose renewal was observed within the duration, self always", () => {
    const s = LeaseDirectory.snapshotOf(seen([["b", 1_000], ["c", 10_000]]), speaker("a"), 20_000, 15_000, true)
    assert.deepStrictEqual([...s.speakers.keys()].toSorted(), ["a", "c"])
    assert.isTrue(s.fresh)
  })

  it("presumes nobody gone while this node cannot renew", () => {
    const s = LeaseDirectory.snapshotOf(seen([["b", 1_000]]), speaker("a"), 60_000, 15_000, false)
    assert.deepStrictEqual([...s.speakers.keys()].toSorted(), ["a", "b"])
    assert.isFalse(s.fresh)
  })

  it("round-trips the interfaces annotation and reads speakers from Leases", () => {
    assert.strictEqual(LeaseDirectory.formatInterfaces("all"), "*")
    assert.strictEqual(LeaseDirectory.formatInterfaces(new Set(["eth1", "eth0"])), "eth0,eth1")
    assert.deepStrictEqual([...(LeaseDirectory.parseInterfaces("eth0,eth1") as ReadonlySet<string>)], ["eth0", "eth1"])
    assert.strictEqual(LeaseDirectory.parseInterfaces(undefined), "all")
    assert.deepStrictEqual(
      LeaseDirectory.speakerOf({ metadata: { name: "metallb-speaker-x", labels: { [LeaseDirectory.SpeakerLabel]: "x" }, annotations: { [LeaseDirectory.InterfacesAnnotation]: "*" } } }),
      { node: "x", interfaces: "all" }
    )
    assert.strictEqual(LeaseDirectory.speakerOf({ metadata: { name: "other" } }), undefined)
  })
})
