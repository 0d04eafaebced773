import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { decodeFlags, defaultFlags, parseTlsMinVersion, runsReconcilers, servesWebhook } from "../../src/webhook/WebhookFlags.ts"

describe("WebhookFlags", () => {
  it("defaults to MetalLB's: enabled, rotation on, TLS 1.3, its Secret, Service and cert dir", () => {
    assert.deepStrictEqual(decodeFlags({}), Result.succeed(defaultFlags))
    assert.deepStrictEqual(defaultFlags, {
      mode: "enabled",
      certDir: "/tmp/k8s-webhook-server/serving-certs",
      certServiceName: "metallb-webhook-service",
      secretName: "metallb-webhook-cert",
      disableCertRotation: false,
      tlsMinVersion: "TLSv1.3"
    })
  })

  it("reads every flag", () => {
    const r = decodeFlags({
      "webhook-mode": "onlywebhook",
      "cert-dir": "/certs",
      "cert-service-name": "wh",
      "webhook-secret": "wh-cert",
      "disable-cert-rotation": true,
      "tls-min-version": "VersionTLS12"
    })
    assert.deepStrictEqual(r, Result.succeed({
      mode: "onlywebhook" as const,
      certDir: "/certs",
      certServiceName: "wh",
      secretName: "wh-cert",
      disableCertRotation: true,
      tlsMinVersion: "TLSv1.2" as const
    }))
  })

  it("reports every bad flag by name", () => {
    const r = decodeFlags({ "webhook-mode": "sometimes", "tls-min-version": "VersionTLS10", "cert-dir": true, "disable-cert-rotation": "maybe" })
    assert.isTrue(Result.isFailure(r))
    if (Result.isFailure(r)) {
      assert.sameMembers([...r.failure], [
        `--cert-dir needs a value`,
        `--webhook-mode "sometimes": expected enabled, disabled, onlywebhook`,
        `--tls-min-version "VersionTLS10": expected VersionTLS12 or VersionTLS13`,
        `--disable-cert-rotation "maybe": expected true or false`
      ])
    }
  })

  it("accepts Go's and the short TLS version names", () => {
    for (const v of ["VersionTLS13", "TLSv1.3", "1.3"]) assert.deepStrictEqual(parseTlsMinVersion(v), Result.succeed("TLSv1.3"))
    for (const v of ["VersionTLS12", "TLSv1.2", "1.2"]) assert.deepStrictEqual(parseTlsMinVersion(v), Result.succeed("TLSv1.2"))
  })

  it("modes: disabled serves no webhook, onlywebhook runs no reconcilers", () => {
    assert.deepStrictEqual(
      (["enabled", "disabled", "onlywebhook"] as const).map((m) => [servesWebhook(m), runsReconcilers(m)]),
      [[true, true], [false, true], [true, false]]
    )
  })
})
