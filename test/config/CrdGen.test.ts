import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { parse } from "yaml"
import { crdFiles, crdInfos, crdObject } from "../../src/config/CrdGen.ts"

const dir = join(import.meta.dirname, "../../manifests/crds")

type Node = { readonly [key: string]: unknown }

const isNode = (v: unknown): v is Node => typeof v === "object" && v !== null && !Array.isArray(v)

/** Every schema node with its path, walking properties, items and additionalProperties. */
const walk = (schema: Node, path: string, out: Array<[string, Node]> = []): Array<[string, Node]> => {
  out.push([path, schema])
  const props = schema["properties"]
  if (isNode(props)) for (const [k, v] of Object.entries(props)) if (isNode(v)) walk(v, `${path}.${k}`, out)
  if (isNode(schema["items"])) walk(schema["items"], `${path}[]`, out)
  if (isNode(schema["additionalProperties"])) walk(schema["additionalProperties"], `${path}{}`, out)
  return out
}

const versionSchema = (kind: string, version: string): Node => {
  const info = crdInfos.find((i) => i.kind === kind)
  if (info === undefined) throw new Error(kind)
  const crd = crdObject(info) as { spec: { versions: ReadonlyArray<Node> } }
  const v = crd.spec.versions.find((x) => x["name"] === version)
  const schema = (v?.["schema"] as { openAPIV3Schema?: Node } | undefined)?.openAPIV3Schema
  if (schema === undefined) throw new Error(`${kind} ${version}`)
  return schema
}

const at = (schema: Node, path: ReadonlyArray<string>): Node => {
  let node: Node = schema
  for (const key of path) {
    const props = node["properties"]
    const next = isNode(props) ? props[key] : undefined
    if (!isNode(next)) throw new Error(`no ${path.join(".")}`)
    node = next
  }
  return node
}

const rules = (node: Node) => (node["x-kubernetes-validations"] as ReadonlyArray<{ message: string }>).map((r) => r.message)

describe("CrdGen", () => {
  it("the committed manifests/crds match the Schemas (run `npm run gen` after changing a Schema)", () => {
    const files = crdFiles()
    // The kustomization and its conversion patch beside them belong to `npm run gen:manifests` (src/manifests).
    assert.deepStrictEqual(readdirSync(dir).filter((n) => n.startsWith("metallb.io_")).toSorted(), files.map((f) => f.name).toSorted())
    for (const file of files) assert.strictEqual(readFileSync(join(dir, file.name), "utf8"), file.content, file.name)
  })

  it("writes one CRD per kind, namespaced, with the status subresource", () => {
    assert.deepStrictEqual(crdInfos.map((i) => i.kind).toSorted(), [
      "BFDProfile",
      "BGPAdvertisement",
      "BGPPeer",
      "Community",
      "ConfigurationState",
      "IPAddressPool",
      "L2Advertisement",
      "ServiceBGPStatus",
      "ServiceL2Status"
    ])
    for (const file of crdFiles()) {
      const crd = parse(file.content) as { spec: { scope: string; group: string; versions: ReadonlyArray<Node> } }
      assert.strictEqual(crd.spec.scope, "Namespaced")
      assert.strictEqual(crd.spec.group, "metallb.io")
      for (const v of crd.spec.versions) assert.deepStrictEqual(v["subresources"], { status: {} })
      assert.strictEqual(crd.spec.versions.filter((v) => v["storage"] === true).length, 1)
    }
  })

  it("produces structural schemas: every node typed, no combinators or references", () => {
    for (const info of crdInfos) {
      for (const v of info.versions) {
        for (const [path, node] of walk(versionSchema(info.kind, v.name), info.kind)) {
          assert.isString(node["type"], `${path} has no type`)
          for (const key of ["allOf", "anyOf", "oneOf", "not", "$ref"]) assert.notProperty(node, key, path)
          if (node["additionalProperties"] !== undefined) assert.notProperty(node, "properties", path)
        }
      }
    }
  })

  it("carries MetalLB's defaults, ranges and enums", () => {
    const pool = versionSchema("IPAddressPool", "v1beta1")
    assert.deepStrictEqual(pool["required"], ["spec"])
    assert.strictEqual(at(pool, ["spec", "autoAssign"])["default"], true)
    assert.deepStrictEqual(at(pool, ["spec"])["required"], ["addresses"])
    const peer = versionSchema("BGPPeer", "v1beta2")
    const port = at(peer, ["spec", "peerPort"])
    assert.deepStrictEqual([port["default"], port["minimum"], port["maximum"]], [179, 1, 16384])
    assert.deepStrictEqual(at(peer, ["spec", "dynamicASN"])["enum"], ["internal", "external"])
    assert.deepStrictEqual(at(peer, ["spec"])["required"], ["myASN"])
    assert.deepStrictEqual([at(peer, ["spec", "myASN"])["minimum"], at(peer, ["spec", "myASN"])["maximum"]], [0, 4294967295])
    assert.strictEqual(at(peer, ["spec", "disableMP"])["default"], false)
    const ad = versionSchema("BGPAdvertisement", "v1beta1")
    assert.deepStrictEqual([at(ad, ["spec", "aggregationLength"])["default"], at(ad, ["spec", "aggregationLength"])["minimum"]], [32, 1])
    assert.strictEqual(at(ad, ["spec", "aggregationLengthV6"])["default"], 128)
    const bfd = versionSchema("BFDProfile", "v1beta1")
    assert.deepStrictEqual([at(bfd, ["spec", "detectMultiplier"])["minimum"], at(bfd, ["spec", "detectMultiplier"])["maximum"]], [2, 255])
    assert.deepStrictEqual([at(bfd, ["spec", "minimumTtl"])["minimum"], at(bfd, ["spec", "minimumTtl"])["maximum"]], [1, 254])
    const l2 = versionSchema("L2Advertisement", "v1beta1")
    const weight = (at(l2, ["spec", "preferredNodeSelectors"])["items"] as Node)["properties"] as Record<string, Node>
    assert.deepStrictEqual([weight["weight"]?.["minimum"], weight["weight"]?.["maximum"]], [1, 100])
    const state = versionSchema("ConfigurationState", "v1beta1")
    assert.deepStrictEqual(at(state, ["status", "result"])["enum"], ["Valid", "Invalid", "Unknown"])
  })

  it("carries MetalLB's CEL rules", () => {
    const peer = versionSchema("BGPPeer", "v1beta2")
    assert.deepStrictEqual(rules(at(peer, ["spec", "enableGracefulRestart"])), ["EnableGracefulRestart cannot be changed after creation"])
    assert.deepStrictEqual(rules(at(peer, ["spec", "connectTime"])), [
      "connect time should be between 1 seconds to 65535",
      "connect time should contain a whole number of seconds"
    ])
    const ad = versionSchema("BGPAdvertisement", "v1beta1")
    assert.match(rules(at(ad, ["spec"]))[0] ?? "", /^serviceSelectors and aggregationLength are mutually exclusive/)
  })

  it("serves BGPPeer v1beta1 deprecated and stores v1beta2, with the printer columns", () => {
    const info = crdInfos.find((i) => i.kind === "BGPPeer")
    assert.isDefined(info)
    if (info === undefined) return
    const crd = crdObject(info) as { spec: { versions: ReadonlyArray<Node> } }
    const [v1, v2] = crd.spec.versions
    assert.deepStrictEqual(
      [v1?.["name"], v1?.["served"], v1?.["storage"], v1?.["deprecated"], v1?.["deprecationWarning"]],
      ["v1beta1", true, false, true, "v1beta1 is deprecated, please use v1beta2"]
    )
    assert.deepStrictEqual([v2?.["name"], v2?.["served"], v2?.["storage"]], ["v1beta2", true, true])
    const columns = ((v2?.["additionalPrinterColumns"] ?? []) as ReadonlyArray<Node>).map((c) => c["name"])
    assert.deepStrictEqual(columns, ["Address", "ASN", "BFD Profile", "Multi Hops"])
  })
})
