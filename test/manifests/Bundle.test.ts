import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { bundle, installDoc, parseObjects, RbacBegin, RbacEnd } from "../../src/manifests/Bundle.ts"
import { render, stale } from "../../src/manifests/Generate.ts"
import { type Manifest, Namespace } from "../../src/manifests/Names.ts"
import { grants } from "../../src/manifests/Rbac.ts"
import { bindingsFor } from "../../src/manifests/RbacCheck.ts"

const manifestsDir = join(import.meta.dirname, "../../manifests")
const objects = Result.getOrThrow(parseObjects(readFileSync(join(manifestsDir, "metallb.yaml"), "utf8"), "metallb.yaml"))

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : {})
const arr = (v: unknown): ReadonlyArray<unknown> => (Array.isArray(v) ? v : [])
const at = (v: unknown, ...keys: ReadonlyArray<string | number>): unknown =>
  keys.reduce<unknown>((o, k) => (typeof k === "number" ? arr(o)[k] : obj(o)[k]), v)
const find = (kind: string, name: string): Manifest => {
  const found = objects.find((o) => o["kind"] === kind && at(o, "metadata", "name") === name)
  assert.isDefined(found, `${kind} ${name} in metallb.yaml`)
  return found ?? {}
}

const clusterScoped = new Set(["Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration"])

describe("generated manifests", () => {
  it.effect("the committed files are what `npm run gen:manifests` writes", () =>
    Effect.gen(function*() {
      const out = yield* stale(manifestsDir)
      assert.deepStrictEqual(out, [], `out of date (run npm run gen:manifests): ${out.join(", ")}`)
    }))

  it.effect("metallb.yaml holds the CRDs of manifests/crds, the BGPPeer one with the conversion webhook", () =>
    Effect.gen(function*() {
      const files = yield* render(manifestsDir)
      const crdKustomization = files.find((f) => f.path === "crds/kustomization.yaml")?.content ?? ""
      const crdNames = objects.filter((o) => o["kind"] === "CustomResourceDefinition").map((o) => at(o, "metadata", "name"))
      assert.strictEqual(crdNames.length, 9)
      for (const name of crdNames) {
        const plural = String(name).split(".")[0] ?? ""
        assert.include(crdKustomization, `metallb.io_${plural}.yaml`)
      }
      assert.deepStrictEqual(at(find("CustomResourceDefinition", "bgppeers.metallb.io"), "spec", "conversion", "webhook", "clientConfig", "service"), {
        name: "metallb-webhook-service", namespace: Namespace, path: "/convert"
      })
      assert.isUndefined(at(find("CustomResourceDefinition", "ipaddresspools.metallb.io"), "spec", "conversion"))
    }))

  it("docs/install.md gets the RBAC tables between its markers, and the generator refuses a doc without them", () => {
    const rendered = Result.getOrThrow(installDoc(`intro\n${RbacBegin}\nstale\n${RbacEnd}\noutro\n`))
    assert.match(rendered, /^intro\n<!-- BEGIN[^\n]*-->\n\n\*\*controller\*\*, ClusterRole `metallb-system:controller`:/)
    assert.notInclude(rendered, "stale")
    assert.include(rendered, "| `leases` (coordination.k8s.io) | get, list, watch, create, update, delete | one layer 2 liveness Lease per speaker (deleted when it leaves); reads the others' |")
    assert.isTrue(rendered.endsWith(`${RbacEnd}\noutro\n`))
    assert.isTrue(Result.isFailure(installDoc("no markers")))
    assert.isTrue(Result.isFailure(installDoc(`${RbacEnd}\n${RbacBegin}`)))
  })

  it("refuses to render without CRDs, or without the BGPPeer CRD", () => {
    assert.deepStrictEqual(bundle([]), Result.fail("no CRD files (metallb.io_*.yaml): run `npm run gen` first"))
    const pool = readFileSync(join(manifestsDir, "crds/metallb.io_ipaddresspools.yaml"), "utf8")
    assert.deepStrictEqual(bundle([{ name: "metallb.io_ipaddresspools.yaml", content: pool }]), Result.fail("no bgppeers.metallb.io among the CRDs"))
    assert.isTrue(Result.isFailure(bundle([{ name: "metallb.io_x.yaml", content: "a: [" }])))
  })
})

/** Every YAML file under manifests/ but the kustomizations, relative paths. */
const yamlFiles = (readdirSync(manifestsDir, { recursive: true }) as Array<string>)
  .filter((f) => f.endsWith(".yaml") && !f.endsWith("kustomization.yaml"))
  .toSorted()

describe("every manifest file, lint level", () => {
  it("parses; every object has apiVersion, kind and a valid metadata.name; namespaced ones are in metallb-system", () => {
    assert.isAtLeast(yamlFiles.length, 20)
    for (const file of yamlFiles) {
      const parsed = parseObjects(readFileSync(join(manifestsDir, file), "utf8"), file)
      assert.isTrue(Result.isSuccess(parsed), file)
      const list = Result.getOrElse(parsed, () => [])
      assert.isAbove(list.length, 0, file)
      for (const o of list) {
        const id = `${file}: ${String(o["kind"])} ${String(at(o, "metadata", "name"))}`
        assert.match(String(o["apiVersion"]), /^([a-z0-9.-]+\/)?v[0-9]+((alpha|beta)[0-9]+)?$/, id)
        assert.match(String(o["kind"]), /^[A-Z][A-Za-z0-9]+$/, id)
        assert.match(String(at(o, "metadata", "name")), /^[a-z0-9]([-a-z0-9.:]*[a-z0-9])?$/, id)
        if (clusterScoped.has(String(o["kind"]))) assert.isUndefined(at(o, "metadata", "namespace"), id)
        // The walkthrough's app goes to the user's current namespace, as in MetalLB's tutorial.
        else if (file === "tutorial-2.yaml") assert.isUndefined(at(o, "metadata", "namespace"), id)
        else assert.strictEqual(at(o, "metadata", "namespace"), Namespace, id)
      }
    }
  })
})

describe("metallb.yaml, lint level", () => {
  it("no object appears twice; the Namespace comes first and the CRDs before any custom resource user", () => {
    const ids = objects.map((o) => `${String(o["kind"])}/${String(at(o, "metadata", "namespace") ?? "")}/${String(at(o, "metadata", "name"))}`)
    assert.strictEqual(new Set(ids).size, ids.length)
    assert.strictEqual(objects[0]?.["kind"], "Namespace")
    assert.deepStrictEqual(at(objects[0], "metadata", "labels"), {
      "pod-security.kubernetes.io/audit": "privileged",
      "pod-security.kubernetes.io/enforce": "privileged",
      "pod-security.kubernetes.io/warn": "privileged"
    })
  })

  it("the controller runs as 65534, non-root, read-only, without capabilities; probes and ports are on named ports", () => {
    const pod = at(find("Deployment", "controller"), "spec", "template", "spec")
    assert.strictEqual(at(find("Deployment", "controller"), "spec", "replicas"), 1)
    assert.deepStrictEqual(at(pod, "securityContext", "runAsUser"), 65534)
    assert.deepStrictEqual(at(pod, "securityContext", "runAsNonRoot"), true)
    const c = at(pod, "containers", 0)
    assert.deepStrictEqual(at(c, "securityContext"), { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, readOnlyRootFilesystem: true })
    const ports = arr(at(c, "ports")).map((p) => [at(p, "name"), at(p, "containerPort")])
    assert.deepStrictEqual(ports, [["monitoring", 7472], ["webhook-server", 9443], ["health", 17472]])
    assert.deepStrictEqual(at(c, "args"), ["controller", "--port=7472", "--health-probe-port=17472", "--log-level=info", "--cert-service-name=metallb-webhook-service", "--webhook-secret=metallb-webhook-cert"])
    assert.strictEqual(at(pod, "serviceAccountName"), "controller")
  })

  it("the speaker: hostNetwork, NET_RAW only, node and pod from the downward API, control-plane tolerations", () => {
    const pod = at(find("DaemonSet", "speaker"), "spec", "template", "spec")
    assert.strictEqual(at(pod, "hostNetwork"), true)
    const c = at(pod, "containers", 0)
    assert.deepStrictEqual(at(c, "securityContext", "capabilities"), { add: ["NET_RAW"], drop: ["ALL"] })
    assert.strictEqual(at(c, "securityContext", "allowPrivilegeEscalation"), false)
    assert.strictEqual(at(c, "securityContext", "readOnlyRootFilesystem"), true)
    const env = Object.fromEntries(arr(at(c, "env")).map((e) => [at(e, "name"), at(e, "valueFrom", "fieldRef", "fieldPath") ?? at(e, "value")]))
    assert.deepStrictEqual(env, {
      METALLB_NODE_NAME: "spec.nodeName",
      METALLB_NAMESPACE: "metadata.namespace",
      METALLB_POD_NAME: "metadata.name",
      METALLB_HOST: "status.hostIP",
      METALLB_ML_SECRET_KEY_PATH: "/etc/ml_secret_key"
    })
    assert.deepStrictEqual(arr(at(pod, "tolerations")).map((t) => at(t, "key")), ["node-role.kubernetes.io/master", "node-role.kubernetes.io/control-plane"])
    assert.isAtLeast(Number(at(pod, "terminationGracePeriodSeconds")), 10)
    assert.strictEqual(at(pod, "serviceAccountName"), "speaker")
  })

  it("pod references resolve: probe ports, mounts, ServiceAccounts, ConfigMaps and Secrets of the manifest", () => {
    for (const w of [find("Deployment", "controller"), find("DaemonSet", "speaker")]) {
      const pod = at(w, "spec", "template", "spec")
      assert.deepStrictEqual(at(w, "spec", "selector", "matchLabels"), at(w, "spec", "template", "metadata", "labels"))
      find("ServiceAccount", String(at(pod, "serviceAccountName")))
      const volumes = arr(at(pod, "volumes"))
      for (const c of arr(at(pod, "containers"))) {
        const portNames = arr(at(c, "ports")).map((p) => at(p, "name"))
        for (const probe of ["livenessProbe", "readinessProbe"]) assert.include(portNames, at(c, probe, "httpGet", "port"), probe)
        for (const m of arr(at(c, "volumeMounts"))) assert.isTrue(volumes.some((v) => at(v, "name") === at(m, "name")), String(at(m, "name")))
      }
      for (const v of volumes) {
        const cm = at(v, "configMap", "name")
        if (cm !== undefined) find("ConfigMap", String(cm))
        const secret = at(v, "secret", "secretName")
        if (secret !== undefined && at(v, "secret", "optional") !== true) find("Secret", String(secret))
      }
    }
  })

  it("the webhook Service reaches the controller's webhook port; every webhook points at it, failurePolicy Fail", () => {
    const svc = find("Service", "metallb-webhook-service")
    const controller = find("Deployment", "controller")
    const labels = obj(at(controller, "spec", "template", "metadata", "labels"))
    for (const [k, v] of Object.entries(obj(at(svc, "spec", "selector")))) assert.strictEqual(labels[k], v)
    assert.strictEqual(at(svc, "spec", "ports", 0, "port"), 443)
    const webhookPort = arr(at(controller, "spec", "template", "spec", "containers", 0, "ports")).find((p) => at(p, "name") === "webhook-server")
    assert.strictEqual(at(svc, "spec", "ports", 0, "targetPort"), at(webhookPort, "containerPort"))
    const vwc = find("ValidatingWebhookConfiguration", "metallb-webhook-configuration")
    const hooks = arr(at(vwc, "webhooks"))
    assert.deepStrictEqual(hooks.map((h) => [at(h, "name"), at(h, "clientConfig", "service", "path"), at(h, "rules", 0, "operations")]), [
      ["ipaddresspoolvalidationwebhook.metallb.io", "/validate-metallb-io-v1beta1-ipaddresspool", ["CREATE", "UPDATE"]],
      ["bgpadvertisementvalidationwebhook.metallb.io", "/validate-metallb-io-v1beta1-bgpadvertisement", ["CREATE", "UPDATE"]],
      ["l2advertisementvalidationwebhook.metallb.io", "/validate-metallb-io-v1beta1-l2advertisement", ["CREATE", "UPDATE"]],
      ["communityvalidationwebhook.metallb.io", "/validate-metallb-io-v1beta1-community", ["CREATE", "UPDATE"]],
      ["bgppeersvalidationwebhook.metallb.io", "/validate-metallb-io-v1beta2-bgppeer", ["CREATE", "UPDATE"]],
      ["bfdprofilevalidationwebhook.metallb.io", "/validate-metallb-io-v1beta1-bfdprofile", ["CREATE", "DELETE"]]
    ])
    const crdPlurals = objects.filter((o) => o["kind"] === "CustomResourceDefinition").map((o) => at(o, "spec", "names", "plural"))
    for (const h of hooks) {
      assert.strictEqual(at(h, "failurePolicy"), "Fail")
      assert.strictEqual(at(h, "sideEffects"), "None")
      assert.deepStrictEqual(at(h, "clientConfig", "service", "name"), "metallb-webhook-service")
      assert.deepStrictEqual(at(h, "clientConfig", "service", "namespace"), Namespace)
      assert.include(crdPlurals, at(h, "rules", 0, "resources", 0))
    }
  })

  it("the RBAC objects grant exactly the rules of src/manifests/Rbac.ts, to the right ServiceAccount", () => {
    for (const component of ["controller", "speaker"] as const) {
      const fromManifest = bindingsFor(objects, { namespace: Namespace, name: component })
      const fromList = grants.filter((g) => g.component === component)
      assert.deepStrictEqual(
        fromManifest.map((b) => ({ namespace: b.namespace, rules: b.rules })),
        fromList.map((g) => ({
          namespace: g.namespace,
          rules: g.rules.map((r) => ({ apiGroups: r.apiGroups, resources: r.resources, verbs: r.verbs, resourceNames: r.resourceNames ?? [] }))
        }))
      )
    }
  })
})
