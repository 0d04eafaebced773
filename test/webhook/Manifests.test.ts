import { assert, describe, it } from "@effect/vitest"
import * as BGPPeer from "../../src/config/crds/BGPPeer.ts"
import * as IPAddressPool from "../../src/config/crds/IPAddressPool.ts"
import { crdObject } from "../../src/config/CrdGen.ts"
import {
  applyJsonPatch,
  caBundleJsonPatch,
  type JsonObject,
  PlaceholderCaBundle,
  routes,
  validatingWebhookConfiguration,
  webhookService,
  withConversionWebhook
} from "../../src/webhook/Manifests.ts"

const caPem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
const caB64 = Buffer.from(caPem).toString("base64")

type Webhook = {
  name: string
  clientConfig: { caBundle: string; service: { name: string; namespace: string; path: string } }
  rules: Array<{ apiGroups: Array<string>; apiVersions: Array<string>; operations: Array<string>; resources: Array<string> }>
  failurePolicy: string
  sideEffects: string
  timeoutSeconds: number
  admissionReviewVersions: Array<string>
}

const webhooksOf = (o: JsonObject): Array<Webhook> => (o as unknown as { webhooks: Array<Webhook> }).webhooks

describe("Manifests", () => {
  it("serves MetalLB's paths", () => {
    assert.deepStrictEqual(routes.map((r) => r.path), [
      "/validate-metallb-io-v1beta1-ipaddresspool",
      "/validate-metallb-io-v1beta1-bgpadvertisement",
      "/validate-metallb-io-v1beta1-l2advertisement",
      "/validate-metallb-io-v1beta1-community",
      "/validate-metallb-io-v1beta2-bgppeer",
      "/validate-metallb-io-v1beta1-bfdprofile"
    ])
  })

  it("the ValidatingWebhookConfiguration: one webhook per kind, Fail, None, 10 s, v1, the Service", () => {
    const vwc = validatingWebhookConfiguration({ namespace: "metallb-system" })
    assert.strictEqual(vwc["kind"], "ValidatingWebhookConfiguration")
    assert.deepStrictEqual(vwc["metadata"], { name: "metallb-webhook-configuration" })
    const webhooks = webhooksOf(vwc)
    assert.strictEqual(webhooks.length, 6)
    for (const w of webhooks) {
      assert.strictEqual(w.failurePolicy, "Fail")
      assert.strictEqual(w.sideEffects, "None")
      assert.strictEqual(w.timeoutSeconds, 10)
      assert.deepStrictEqual(w.admissionReviewVersions, ["v1"])
      assert.strictEqual(w.clientConfig.caBundle, PlaceholderCaBundle)
      assert.strictEqual(w.clientConfig.service.name, "metallb-webhook-service")
      assert.strictEqual(w.clientConfig.service.namespace, "metallb-system")
      assert.match(w.name, /validationwebhook\.metallb\.io$/)
    }
    const bfd = webhooks.find((w) => w.rules[0]?.resources[0] === "bfdprofiles")
    assert.deepStrictEqual(bfd?.rules[0]?.operations, ["CREATE", "DELETE"])
    const peers = webhooks.find((w) => w.rules[0]?.resources[0] === "bgppeers")
    assert.deepStrictEqual(peers?.rules[0]?.apiVersions, ["v1beta2"])
    assert.strictEqual(peers?.clientConfig.service.path, "/validate-metallb-io-v1beta2-bgppeer")
    const withCa = validatingWebhookConfiguration({ namespace: "lb", serviceName: "wh", caPem })
    assert.isTrue(webhooksOf(withCa).every((w) => w.clientConfig.caBundle === caB64 && w.clientConfig.service.name === "wh"))
  })

  it("the webhook Service maps 443 to the controller's 9443", () => {
    assert.deepStrictEqual(webhookService({ namespace: "metallb-system" }), {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "metallb-webhook-service", namespace: "metallb-system" },
      spec: { ports: [{ port: 443, targetPort: 9443 }], selector: { app: "metallb", component: "controller" } }
    })
  })

  it("adds the conversion webhook to the generated BGPPeer CRD only", () => {
    const crd = crdObject(BGPPeer.crd)
    const patched = withConversionWebhook(crd, { namespace: "metallb-system" })
    const spec = patched["spec"] as Record<string, unknown>
    assert.deepStrictEqual(spec["conversion"], {
      strategy: "Webhook",
      webhook: {
        clientConfig: {
          caBundle: PlaceholderCaBundle,
          service: { name: "metallb-webhook-service", namespace: "metallb-system", path: "/convert" }
        },
        conversionReviewVersions: ["v1"]
      }
    })
    assert.deepStrictEqual({ ...spec, conversion: undefined }, { ...(crd["spec"] as object), conversion: undefined })
    const pools = crdObject(IPAddressPool.crd)
    assert.strictEqual(withConversionWebhook(pools, { namespace: "metallb-system" }), pools)
  })

  it("caBundle JSON Patch: sets every webhook and the CRD, is empty once applied, guards against reordering", () => {
    const vwc = validatingWebhookConfiguration({ namespace: "metallb-system" })
    const ops = caBundleJsonPatch(vwc, caPem)
    assert.strictEqual(ops.length, 12)
    assert.deepStrictEqual(ops.slice(0, 2), [
      { op: "test", path: "/webhooks/0/name", value: "ipaddresspoolvalidationwebhook.metallb.io" },
      { op: "add", path: "/webhooks/0/clientConfig/caBundle", value: caB64 }
    ])
    const applied = applyJsonPatch(vwc, ops)
    assert.isDefined(applied)
    if (applied === undefined) return
    assert.isTrue(webhooksOf(applied).every((w) => w.clientConfig.caBundle === caB64))
    assert.deepStrictEqual(caBundleJsonPatch(applied, caPem), [])
    const reordered = { ...vwc, webhooks: webhooksOf(vwc).toReversed() } as unknown as JsonObject
    assert.isUndefined(applyJsonPatch(reordered, ops))

    const crd = withConversionWebhook(crdObject(BGPPeer.crd), { namespace: "metallb-system" })
    const crdOps = caBundleJsonPatch(crd, caPem)
    assert.deepStrictEqual(crdOps, [{ op: "add", path: "/spec/conversion/webhook/clientConfig/caBundle", value: caB64 }])
    const crdApplied = applyJsonPatch(crd, crdOps)
    assert.isDefined(crdApplied)
    if (crdApplied !== undefined) assert.deepStrictEqual(caBundleJsonPatch(crdApplied, caPem), [])
    assert.deepStrictEqual(caBundleJsonPatch(crdObject(BGPPeer.crd), caPem), [])
    assert.deepStrictEqual(caBundleJsonPatch({ kind: "Secret" }, caPem), [])
  })
})
