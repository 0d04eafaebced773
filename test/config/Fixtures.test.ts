/**
 * The proof corpus, through the real command: MetalLB's own documentation samples are accepted (or rejected with
 * "not supported" where metallb-ts chose not to support a feature), every invalid case of MetalLB's webhook catalog
 * is rejected with MetalLB's message at the right file and line, and the legacy ConfigMaps of the walkthroughs
 * convert to custom resources that validate.
 */
import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { parseAllDocuments } from "yaml"
import { validateObjects } from "../../src/config/Objects.ts"
import { cliTimeout, fixture, runCli } from "../cli/runCli.ts"

const listYaml = (dir: string): Array<string> =>
  readdirSync(fixture(dir))
    .filter((f) => f.endsWith(".yaml"))
    .toSorted()
    .map((f) => fixture(dir, f))

/** The `# expect: …` / `# expect-warning: …` lines at the top of a fixture. */
const expectations = (file: string, tag: "expect" | "expect-warning"): Array<string> =>
  readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.startsWith(`# ${tag}: `))
    .map((l) => l.slice(`# ${tag}: `.length))

/**
 * Samples that are rejected, and the exact lines: `vrf` is not supported by metallb-ts (Parse.ts), and one sample of
 * the advanced L2 page misspells two fields (`ipaddresspools`, `nodeSelector`) that Kubernetes would prune or
 * kubectl refuse, leaving an advertisement for every pool on every node.
 */
const rejectedSamples: Record<string, ReadonlyArray<string>> = {
  [fixture("docs/configsamples/bgppeer_with_vrf.yaml")]: [
    ":11:3: BGPPeer metallb-system/peer spec.vrf: vrf is not supported by metallb-ts: BGP sessions always run in the default VRF"
  ],
  [fixture("docs/website/l2-5-interfaces-union.yaml")]: [
    ':17:3: L2Advertisement metallb-system/example-advertisement10 spec.ipaddresspools: unknown field "spec.ipaddresspools"',
    ':19:3: L2Advertisement metallb-system/example-advertisement10 spec.nodeSelector: unknown field "spec.nodeSelector"'
  ]
}

describe("MetalLB documentation samples", cliTimeout, () => {
  const samples = [...listYaml("docs/configsamples"), ...listYaml("docs/website")]

  it("has the whole corpus on disk, each file citing its source", () => {
    assert.isAtLeast(samples.length, 45)
    for (const file of samples) assert.match(readFileSync(file, "utf8"), /^# Source: github\.com\/metallb\/metallb /, file)
  })

  const supported = samples.filter((f) => !(f in rejectedSamples))
  const accepted = runCli(["config", "validate", "--each", ...supported])
  const rejected = Object.fromEntries(Object.keys(rejectedSamples).map((f) => [f, runCli(["config", "validate", f])]))

  it("config validate accepts every sample the backend supports, each on its own", async () => {
    const r = await accepted
    assert.strictEqual(r.code, 0, r.stderr)
    for (const file of supported) assert.include(r.stdout, `${file}:`, `no summary line for ${file}`)
    assert.notInclude(r.stdout, ": invalid")
    // The non-MetalLB objects of the deployment samples are listed, not judged.
    assert.include(r.stdout, "Deployment nginx: ignored (not MetalLB configuration)")
  })

  for (const [file, lines] of Object.entries(rejectedSamples)) {
    it(`rejects ${file}, saying why at the line`, async () => {
      const r = await rejected[file]
      assert.isDefined(r)
      if (r === undefined) return
      assert.strictEqual(r.code, 1)
      for (const line of lines) assert.include(r.stderr, `${file}${line}\n`)
    })
  }
})

describe("MetalLB webhook catalog (invalid cases)", cliTimeout, () => {
  const files = listYaml("invalid")
  const run = runCli(["config", "validate", "--each", ...files])

  it("exits 1 and reports every expected message, located in its file", async () => {
    const r = await run
    assert.strictEqual(r.code, 1)
    assert.isAtLeast(files.length, 21)
    const lines = r.stderr.split("\n")
    for (const file of files) {
      const expected = expectations(file, "expect")
      assert.isNotEmpty(expected, `${file} has no "# expect:" line`)
      for (const message of expected) {
        const hit = lines.find((l) => l.startsWith(`${file}:`) && l.includes(message))
        assert.isDefined(hit, `${file}: expected "${message}" in:\n${r.stderr}`)
        // FILE:LINE:COLUMN: every problem is located at a line of its file.
        assert.match(hit ?? "", /^[^:]+:\d+:\d+: /)
      }
    }
  })

  it("counts what it reports", async () => {
    const r = await run
    const reported = r.stderr.split("\n").filter((l) => /^test\/config\/fixtures\/invalid\/[^:]+:\d+:\d+: /.test(l)).length
    assert.include(r.stderr, `${reported} problem(s) found`)
  })
})

describe("accepted edge cases", cliTimeout, () => {
  const files = listYaml("valid")
  const run = runCli(["config", "validate", "--each", ...files])

  it("accepts them (exit 0), with the expected warnings for references to objects not in the files", async () => {
    const r = await run
    assert.strictEqual(r.code, 0, r.stderr)
    for (const file of files) {
      for (const message of expectations(file, "expect-warning")) {
        assert.isTrue(
          r.stderr.split("\n").some((l) => l.startsWith(`warning: ${file}:`) && l.includes(message) && l.includes("stale")),
          `${file}: expected warning "${message}" in:\n${r.stderr}`
        )
      }
    }
  })
})

/** The command's output: the generated comment, documents ending in `---`, objects that validate again. */
const converted = async (run: Promise<{ code: number | null; stdout: string; stderr: string }>, namespace?: string) => {
  const r = await run
  assert.strictEqual(r.code, 0, r.stderr)
  assert.isTrue(r.stdout.startsWith("# This was autogenerated by MetalLB's custom resource generator.\n"))
  assert.isTrue(r.stdout.endsWith("---\n"))
  // eslint-disable-next-line typescript/no-explicit-any -- parsed YAML, inspected field by field below
  const objects: Array<any> = parseAllDocuments(r.stdout).map((d) => d.toJS()).filter((o) => o !== null)
  assert.deepStrictEqual(validateObjects(objects, namespace === undefined ? {} : { namespace }).errors, [])
  return { yaml: r.stdout, objects }
}

describe("legacy ConfigMaps of the walkthroughs and docs", cliTimeout, () => {
  const configMaps = listYaml("legacy").filter((f) => !f.includes("docs-data-"))

  const validated = runCli(["config", "validate", "--each", ...configMaps])
  const converts = {
    layer2: runCli(["config", "convert", fixture("legacy/walkthrough-layer2.yaml")]),
    bgp: runCli(["config", "convert", fixture("legacy/docs-bgp.yaml")]),
    onlyData: runCli(["config", "convert", "--only-data", "--namespace", "lb", fixture("legacy/docs-data-bfd.yaml")])
  }

  it("validate as legacy configurations whose conversion validates", async () => {
    const r = await validated
    assert.strictEqual(r.code, 0, r.stderr)
    for (const file of configMaps) assert.match(r.stdout, new RegExp(`${file}:\\d+: ConfigMap metallb-system/config: valid legacy configuration`))
  })

  it("the converted YAML goes back through config validate on stdin", async () => {
    const { yaml } = await converted(converts.bgp)
    const r = await runCli(["config", "validate", "-"], yaml)
    assert.strictEqual(r.code, 0, r.stderr)
    assert.include(r.stdout, "-:2: BGPPeer metallb-system/peer1: valid")
  })

  it("the layer2 walkthrough converts to a pool and an L2Advertisement that validate", async () => {
    const { objects } = await converted(converts.layer2)
    assert.deepStrictEqual(objects, [
      {
        apiVersion: "metallb.io/v1beta1",
        kind: "IPAddressPool",
        metadata: { name: "my-ip-space", namespace: "metallb-system" },
        spec: { addresses: ["192.168.1.240/28"] }
      },
      {
        apiVersion: "metallb.io/v1beta1",
        kind: "L2Advertisement",
        metadata: { name: "l2advertisement1", namespace: "metallb-system" },
        spec: { ipAddressPools: ["my-ip-space"] }
      }
    ])
  })

  it("the BGP walkthrough converts to peer1 (holdTime 1m30s), the pool and an empty BGPAdvertisement", async () => {
    const { objects } = await converted(converts.bgp)
    assert.deepStrictEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`), [
      "BGPPeer/peer1",
      "IPAddressPool/default",
      "BGPAdvertisement/bgpadvertisement1"
    ])
    assert.deepStrictEqual(objects[0].spec, { holdTime: "1m30s", myASN: 64500, peerASN: 64501, peerAddress: "10.0.0.1" })
    assert.deepStrictEqual(objects[2].spec, { ipAddressPools: ["default"] })
  })

  it("--only-data takes a bare config document; --namespace moves the objects", async () => {
    const { objects } = await converted(converts.onlyData, "lb")
    assert.deepStrictEqual(objects.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`), [
      "BGPPeer/lb/peer1",
      "BFDProfile/lb/full1"
    ])
  })
})
