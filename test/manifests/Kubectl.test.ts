/**
 * What an operator runs, with the real kubectl against the in-memory API server: `kubectl apply -f
 * manifests/metallb.yaml`, `kubectl apply -k manifests/`, the examples and the walkthrough's tutorial-2.yaml.
 *
 * Needs the kubectl binary; without it the suite is skipped, except in CI where it must fail.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { readFileSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach } from "vitest"
import { parseObjects } from "../../src/manifests/Bundle.ts"
import type { Manifest } from "../../src/manifests/Names.ts"
import { type ApiServer, startApiServer } from "../../src/testing/InMemoryApiServer.ts"
import { type KubectlResult, kubectlPath, runKubectl } from "../../src/testing/Kubectl.ts"

const inCi = process.env["CI"] === "true"
const manifests = join(import.meta.dirname, "../../manifests")
const allInOne = Result.getOrThrow(parseObjects(readFileSync(join(manifests, "metallb.yaml"), "utf8"), "metallb.yaml"))

const id = (o: Manifest): string => {
  const meta = (o["metadata"] ?? {}) as { name?: string; namespace?: string }
  return `${String(o["kind"])}/${meta.namespace ?? ""}/${meta.name ?? ""}`
}
const byId = (objects: ReadonlyArray<Manifest>) => new Map(objects.map((o) => [id(o), o]))

describe.skipIf(kubectlPath === undefined && !inCi)("installing with kubectl", () => {
  let server: ApiServer
  let dir: string
  const kubectl = (...args: ReadonlyArray<string>): Promise<KubectlResult> => runKubectl(server.kubeconfigPath, dir, args)
  const ok = async (...args: ReadonlyArray<string>): Promise<ReadonlyArray<string>> => {
    const r = await kubectl(...args)
    assert.strictEqual(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`)
    return r.stdout.trim().split("\n").filter((l) => l !== "")
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "manifests-kubectl-"))
    server = await startApiServer()
  })
  afterEach(async () => {
    await server.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it("apply -f metallb.yaml creates every object; the CRDs, workloads and ServiceAccounts are there", async () => {
    const applied = await ok("apply", "-f", join(manifests, "metallb.yaml"))
    assert.strictEqual(applied.length, allInOne.length)
    for (const line of applied) assert.match(line, / created$/)
    await ok("wait", "--for=condition=Established", "crd", "--all", "--timeout=10s")
    assert.deepStrictEqual((await ok("get", "crd", "-o", "name")).toSorted(), [
      "bfdprofiles", "bgpadvertisements", "bgppeers", "communities", "configurationstates", "ipaddresspools",
      "l2advertisements", "servicebgpstatuses", "servicel2statuses"
    ].map((p) => `customresourcedefinition.apiextensions.k8s.io/${p}.metallb.io`))
    assert.deepStrictEqual(await ok("get", "-n", "metallb-system", "deploy,ds,sa", "-o", "name"), [
      "deployment.apps/controller",
      "daemonset.apps/speaker",
      "serviceaccount/controller",
      "serviceaccount/speaker"
    ])
    assert.deepStrictEqual(await ok("get", "validatingwebhookconfiguration", "-o", "name"), [
      "validatingwebhookconfiguration.admissionregistration.k8s.io/metallb-webhook-configuration"
    ])
    // Applying again changes nothing.
    for (const line of await ok("apply", "-f", join(manifests, "metallb.yaml"))) assert.match(line, / unchanged$/)
  })

  it("then the examples and tutorial-2.yaml apply; the walkthrough's Service is pending until metallb-ts runs", async () => {
    await ok("apply", "-f", join(manifests, "metallb.yaml"))
    await ok("wait", "--for=condition=Established", "crd", "--all", "--timeout=10s")
    assert.deepStrictEqual(await ok("apply", "-f", join(manifests, "examples/layer2.yaml")), [
      "ipaddresspool.metallb.io/first-pool created",
      "l2advertisement.metallb.io/first-pool created"
    ])
    assert.deepStrictEqual(await ok("apply", "-f", join(manifests, "examples/bgp.yaml")), [
      "bgppeer.metallb.io/router created",
      "ipaddresspool.metallb.io/bgp-pool created",
      "community.metallb.io/communities created",
      "bgpadvertisement.metallb.io/bgp-pool created"
    ])
    assert.deepStrictEqual(await ok("apply", "-f", join(manifests, "examples/layer2-configmap.yaml")), ["configmap/config created"])
    assert.deepStrictEqual(await ok("apply", "-f", join(manifests, "tutorial-2.yaml")), ["deployment.apps/nginx created", "service/nginx created"])
    const svc = await ok("get", "svc", "nginx", "-o", "jsonpath={.spec.type} {.status.loadBalancer}")
    assert.deepStrictEqual(svc, ["LoadBalancer {}"])
  })

  it("the controller-ha overlay: two replicas with --leader-elect, everything else as in metallb.yaml", async () => {
    const rendered = await ok("kustomize", join(manifests, "examples/controller-ha"))
    const objects = Result.getOrThrow(parseObjects(rendered.join("\n"), "controller-ha"))
    const expected = byId(allInOne)
    assert.strictEqual(objects.length, allInOne.length)
    for (const o of objects) {
      if (o["kind"] !== "Deployment") assert.deepStrictEqual(o, expected.get(id(o)), id(o))
    }
    const deployment = objects.find((o) => o["kind"] === "Deployment") as { spec: { replicas: number; template: { spec: { containers: Array<{ args: Array<string> }> } } } } | undefined
    assert.strictEqual(deployment?.spec.replicas, 2)
    assert.strictEqual(deployment?.spec.template.spec.containers[0]?.args.at(-1), "--leader-elect")
  })

  it("apply -k manifests/ installs the same objects as metallb.yaml", async () => {
    const rendered = await ok("kustomize", join(manifests))
    const fromKustomize = Result.getOrThrow(parseObjects(rendered.join("\n"), "kubectl kustomize"))
    const expected = byId(allInOne)
    assert.deepStrictEqual([...byId(fromKustomize).keys()].toSorted(), [...expected.keys()].toSorted())
    for (const o of fromKustomize) assert.deepStrictEqual(o, expected.get(id(o)), id(o))

    const applied = await ok("apply", "-k", manifests)
    assert.strictEqual(applied.length, allInOne.length)
    for (const line of applied) assert.match(line, / created$/)
    // The all-in-one over the kustomize install: nothing to change.
    for (const line of await ok("apply", "-f", join(manifests, "metallb.yaml"))) assert.match(line, / unchanged$/)
  })
})
