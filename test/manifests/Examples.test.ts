/**
 * The example configurations validate with the configuration model, the legacy ConfigMaps through the converter,
 * and each ConfigMap means the same configuration as its CRD twin.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import * as Cidr from "../../src/net/Cidr.ts"
import * as Ip from "../../src/net/Ip.ts"
import type * as Config from "../../src/config/Config.ts"
import { toResources } from "../../src/config/legacy/Convert.ts"
import { isLegacyConfigMap, parseText } from "../../src/config/legacy/LegacyConfig.ts"
import { toConfigInput } from "../../src/config/Objects.ts"
import { parseConfig } from "../../src/config/Parse.ts"
import { parseObjects } from "../../src/manifests/Bundle.ts"

const dir = join(import.meta.dirname, "../../manifests")
const load = (file: string) => Result.getOrThrow(parseObjects(readFileSync(join(dir, file), "utf8"), file))

const parseCrs = (objects: ReadonlyArray<unknown>): Config.Config => {
  const { input, others } = toConfigInput(objects)
  assert.deepStrictEqual(others, [], "only metallb.io objects")
  const parsed = parseConfig(input)
  if (Result.isFailure(parsed)) assert.fail(parsed.failure.errors.map((e) => e.message).join("\n"))
  return parsed.success.config
}

const parseLegacy = (file: string): Config.Config => {
  const [cm] = load(file)
  assert.isTrue(isLegacyConfigMap(cm), `${file} is a legacy ConfigMap`)
  const text = isLegacyConfigMap(cm) ? cm.data.config : ""
  const legacy = parseText(text)
  if (Result.isFailure(legacy)) assert.fail(legacy.failure.map((i) => i.message).join("\n"))
  const resources = toResources(legacy.success)
  if (Result.isFailure(resources)) assert.fail(resources.failure.map((i) => i.message).join("\n"))
  return parseCrs(resources.success)
}

/** The converter names peers and advertisements by position (peer1, l2advertisement1, …); compare without names. */
const unnamed = (c: Config.Config) => ({
  pools: c.pools.map((p) => ({
    ...p,
    l2Advertisements: p.l2Advertisements.map((a) => ({ ...a, name: "" })),
    bgpAdvertisements: p.bgpAdvertisements.map((a) => ({ ...a, name: "" }))
  })),
  peers: c.peers.map((p) => ({ ...p, name: "" })),
  bfdProfiles: c.bfdProfiles
})

const documentation = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"].map((c) => Result.getOrThrow(Cidr.parse(c)))

const inside = (c: Cidr.Cidr) =>
  documentation.some((d) => d.family === c.family && d.prefix <= c.prefix && Cidr.contains(d, Ip.make(c.family, c.network)))

const spec = (o: unknown): Record<string, unknown> => (o as { spec: Record<string, unknown> }).spec

describe("manifests/examples", () => {
  for (const mode of ["layer2", "bgp"] as const) {
    it(`${mode}.yaml validates, and ${mode}-configmap.yaml converts to the same configuration`, () => {
      const crs = parseCrs(load(`examples/${mode}.yaml`))
      assert.isAbove(crs.pools.length, 0)
      const ads = crs.pools.map((p) => (mode === "layer2" ? p.l2Advertisements.length : p.bgpAdvertisements.length))
      assert.isTrue(ads.every((n) => n > 0), `every pool is advertised in ${mode} mode`)
      assert.deepStrictEqual(unnamed(parseLegacy(`examples/${mode}-configmap.yaml`)), unnamed(crs))
    })

    it(`${mode} examples use documentation addresses only`, () => {
      const crs = parseCrs(load(`examples/${mode}.yaml`))
      for (const c of crs.pools.flatMap((p) => p.cidrs)) assert.isTrue(inside(c), Cidr.format(c))
      for (const p of crs.peers) assert.isTrue(inside(Cidr.make(p.address, p.address.family === 4 ? 32 : 128)), Ip.format(p.address))
    })
  }

  it("tutorial-2.yaml: an nginx Deployment and a LoadBalancer Service selecting its pods", () => {
    const [deployment, service] = load("tutorial-2.yaml")
    assert.strictEqual(deployment?.["kind"], "Deployment")
    assert.strictEqual(service?.["kind"], "Service")
    assert.strictEqual(spec(service)["type"], "LoadBalancer")
    const labels = (spec(deployment)["template"] as { metadata: { labels: Record<string, string> } }).metadata.labels
    for (const [k, v] of Object.entries(spec(service)["selector"] as Record<string, string>)) assert.strictEqual(labels[k], v)
  })
})
