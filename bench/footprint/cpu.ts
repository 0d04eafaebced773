// CPU cost of V8 memory flags on our hot pure code: `node [flags] bench/footprint/cpu.ts` packs, encodes and decodes
// 10,000 IPv6 /128s 30 times and parses a 10,000-object JSON list 20 times; prints the wall time in ms.
import { Result } from "effect"
import * as Prefix from "../../src/bgp/Prefix.ts"
import * as UpdatePacker from "../../src/bgp/UpdatePacker.ts"
import * as Codec from "../../src/bgp/Codec.ts"
const prefixes = Array.from({ length: 10000 }, (_, i) => Result.getOrThrow(Prefix.parse(`2001:db8:1::${(i + 1).toString(16)}/128`)))
const t = performance.now()
let bytes = 0
for (let r = 0; r < 30; r++) {
  const ups = Result.getOrThrow(UpdatePacker.packAnnouncements(prefixes, { attributes: [{ _tag: "Origin", value: 0 }, { _tag: "AsPath", segments: [] }], nextHopIpv6: new Uint8Array(16) }, { fourOctetAs: true }))
  for (const u of ups) { const b = Codec.encodeMessage(u, { fourOctetAs: true }); bytes += b.length; Codec.decodeMessage(b, { fourOctetAs: true }) }
}
const j = JSON.stringify(Array.from({ length: 10000 }, (_, i) => ({ metadata: { name: `s${i}`, labels: { a: "b" } }, spec: { ports: [{ port: 80 }] } })))
for (let r = 0; r < 20; r++) JSON.parse(j)
console.log(`${Math.round(performance.now() - t)} ms (${bytes} bytes of UPDATEs)`)
