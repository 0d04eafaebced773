import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as Args from "../../src/cli/Args.ts"
import { options, spec } from "../../src/cli/Controller.ts"
import * as WebhookFlags from "../../src/webhook/WebhookFlags.ts"

const parse = (args: ReadonlyArray<string>, env: Record<string, string> = {}, file?: string) =>
  Result.flatMap(Args.parse(spec, args), (parsed) => options(parsed, env, () => file))

const ok = (args: ReadonlyArray<string>, env: Record<string, string> = {}, file?: string) => Result.getOrThrow(parse(args, env, file))
const error = (args: ReadonlyArray<string>) => {
  const r = parse(args)
  return Result.isFailure(r) ? r.failure : "parsed"
}

describe("metallb controller flags", () => {
  it("defaults as MetalLB's controller", () => {
    assert.deepStrictEqual(ok([]), {
      namespace: "metallb-system",
      logLevel: "info",
      metricsPort: 9120,
      healthProbePort: 17472,
      listenHost: "0.0.0.0",
      loadBalancerClass: undefined,
      kubeconfig: undefined,
      podName: undefined,
      leaderElect: false,
      // MetalLB's default: the controller serves the webhook.
      webhook: WebhookFlags.defaultFlags,
      webhookPort: 9443
    })
  })

  it("namespace: flag, then METALLB_NAMESPACE, then the service account's namespace file", () => {
    assert.strictEqual(ok(["--namespace", "lb"], { METALLB_NAMESPACE: "env" }, "file").namespace, "lb")
    assert.strictEqual(ok([], { METALLB_NAMESPACE: "env" }, "file").namespace, "env")
    assert.strictEqual(ok([], {}, "file").namespace, "file")
    assert.strictEqual(ok([], { METALLB_NAMESPACE: "" }).namespace, "metallb-system")
  })

  it("reads every flag; pod name also from METALLB_POD_NAME; MetalLB's webhook/TLS flags", () => {
    const o = ok([
      "--log-level=debug", "--port", "0", "--health-probe-port=8081", "--lb-class", "metallb", "--kubeconfig", "/k",
      "--leader-elect", "--listen-address", "127.0.0.1", "--tls-min-version=VersionTLS12", "--webhook-mode", "disabled",
      "--disable-cert-rotation"
    ], { METALLB_POD_NAME: "controller-abc" })
    assert.deepStrictEqual(o, {
      namespace: "metallb-system",
      logLevel: "debug",
      metricsPort: 0,
      healthProbePort: 8081,
      listenHost: "127.0.0.1",
      loadBalancerClass: "metallb",
      kubeconfig: "/k",
      podName: "controller-abc",
      leaderElect: true,
      webhook: { ...WebhookFlags.defaultFlags, mode: "disabled", tlsMinVersion: "TLSv1.2", disableCertRotation: true },
      webhookPort: 9443
    })
    assert.strictEqual(ok(["--pod-name", "flag"], { METALLB_POD_NAME: "env" }).podName, "flag")
  })

  it("names the flag in every error", () => {
    assert.strictEqual(error(["--port", "http"]), 'flag --port: "http" is not a port number (0-65535)')
    assert.strictEqual(error(["--port", "-1"]), 'flag --port: "-1" is not a port number (0-65535)')
    assert.strictEqual(error(["--health-probe-port", "70000"]), 'flag --health-probe-port: "70000" is not a port number (0-65535)')
    assert.strictEqual(error(["--log-level", "loud"]), 'flag --log-level: "loud" is not one of all, debug, info, warn, error, none')
    assert.strictEqual(error(["--namespace", "Bad_NS"]), 'flag --namespace: "Bad_NS" is not a valid namespace name')
    assert.strictEqual(error(["--bogus"]), 'unknown flag --bogus for "controller"')
    assert.include(error(["extra"]), "got 1 arguments")
  })
})
