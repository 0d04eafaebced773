import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Credentials, defaultKubeconfigPath, fromKubeconfig, fromKubeconfigFile, inCluster, type NeedsClientNode } from "../../src/k8s/KubeCredentials.ts"

const kubeconfig = (cluster: Record<string, unknown>, user: Record<string, unknown>) => ({
  apiVersion: "v1",
  kind: "Config",
  "current-context": "ctx",
  contexts: [{ name: "other", context: { cluster: "nope", user: "nope" } }, { name: "ctx", context: { cluster: "c", user: "u" } }],
  clusters: [{ name: "c", cluster }],
  users: [{ name: "u", user }]
})

const credentials = (r: Result.Result<Credentials | NeedsClientNode, string>): Credentials => {
  if (Result.isFailure(r)) throw new Error(`unexpected failure: ${r.failure}`)
  if ("_tag" in r.success) throw new Error(`unexpected fallback: ${r.success.why}`)
  return r.success
}

const failure = <A>(r: Result.Result<A, string>): string => {
  if (Result.isSuccess(r)) throw new Error("expected a failure")
  return r.failure
}

describe("KubeCredentials", () => {
  it("reads the current context's server, token, inline CA and client certificate", () => {
    const c = credentials(fromKubeconfig(kubeconfig(
      { server: "https://192.0.2.10:6443/prefix/", "certificate-authority-data": Buffer.from("CA").toString("base64"), "tls-server-name": "kubernetes" },
      { token: "abc", "client-certificate-data": Buffer.from("CERT").toString("base64"), "client-key-data": Buffer.from("KEY").toString("base64") }
    ), "/nowhere"))
    assert.strictEqual(c.server, "https://192.0.2.10:6443/prefix")
    assert.strictEqual(c.token, "abc")
    assert.strictEqual(c.ca?.toString(), "CA")
    assert.strictEqual(c.cert?.toString(), "CERT")
    assert.strictEqual(c.key?.toString(), "KEY")
    assert.strictEqual(c.tlsServerName, "kubernetes")
    assert.isFalse(c.insecureSkipTLSVerify)
  })

  it("resolves file references relative to the kubeconfig's folder and reports a missing one by name", async () => {
    const dir = mkdtempSync(join(tmpdir(), "metallb-ts-creds-"))
    writeFileSync(join(dir, "ca.crt"), "CA-FILE")
    writeFileSync(join(dir, "config"), JSON.stringify(kubeconfig(
      { server: "https://192.0.2.10:6443", "certificate-authority": "ca.crt", "insecure-skip-tls-verify": true },
      { tokenFile: "token" }
    )))
    const c = credentials(await fromKubeconfigFile(join(dir, "config")))
    assert.strictEqual(c.ca?.toString(), "CA-FILE")
    assert.strictEqual(c.tokenFile, join(dir, "token"))
    assert.isTrue(c.insecureSkipTLSVerify)

    const missing = fromKubeconfig(kubeconfig({ server: "https://192.0.2.10" }, { "client-certificate": "nope.crt" }), dir)
    assert.include(failure(missing), "client-certificate nope.crt")
  })

  it("parses YAML kubeconfigs", async () => {
    const dir = mkdtempSync(join(tmpdir(), "metallb-ts-creds-"))
    const path = join(dir, "config")
    writeFileSync(path, [
      "apiVersion: v1",
      "current-context: ctx",
      "contexts: [{name: ctx, context: {cluster: c, user: u}}]",
      "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:8080'}}]",
      "users: [{name: u, user: {token: yaml-token}}]"
    ].join("\n"))
    const c = credentials(await fromKubeconfigFile(path))
    assert.strictEqual(c.token, "yaml-token")
    assert.include(failure(await fromKubeconfigFile(join(dir, "absent"))), "absent")
  })

  it("hands exec, auth-provider, basic auth and proxies to client-node", () => {
    for (const [cluster, user, what] of [
      [{}, { exec: { command: "aws" } }, "user.exec"],
      [{}, { "auth-provider": { name: "oidc" } }, "user.auth-provider"],
      [{}, { username: "a", password: "b" }, "user.username"],
      [{ "proxy-url": "http://192.0.2.1:3128" }, {}, "proxy-url"]
    ] as const) {
      const r = fromKubeconfig(kubeconfig({ server: "https://192.0.2.10", ...cluster }, user), "/")
      assert.isTrue(Result.isSuccess(r) && "_tag" in r.success && r.success.why.includes(what), what)
    }
  })

  it("names what is missing in a broken kubeconfig", () => {
    assert.include(failure(fromKubeconfig("text", "/")), "not a mapping")
    assert.include(failure(fromKubeconfig({ clusters: [] }, "/")), "current-context")
    assert.include(failure(fromKubeconfig({ "current-context": "x", contexts: [] }, "/")), `context "x"`)
    assert.include(failure(fromKubeconfig(kubeconfig({}, {}), "/")), "has no server")
  })

  it("in a pod: the service host and port, the token file and the CA", () => {
    const dir = mkdtempSync(join(tmpdir(), "metallb-ts-sa-"))
    writeFileSync(join(dir, "ca.crt"), "SA-CA")
    const c = Result.getOrUndefined(inCluster({ KUBERNETES_SERVICE_HOST: "2001:db8::1", KUBERNETES_SERVICE_PORT: "443" }, dir))
    assert.strictEqual(c?.server, "https://[2001:db8::1]:443")
    assert.strictEqual(c?.tokenFile, join(dir, "token"))
    assert.strictEqual(c?.ca?.toString(), "SA-CA")
    assert.include(failure(inCluster({}, dir)), "KUBERNETES_SERVICE_HOST")
  })

  it("finds the default kubeconfig: $KUBECONFIG, then ~/.kube/config; several files need client-node", () => {
    assert.deepStrictEqual(defaultKubeconfigPath({ KUBECONFIG: "/a/config" }, () => false), Result.succeed("/a/config"))
    assert.deepStrictEqual(defaultKubeconfigPath({ HOME: "/h" }, (p) => p === "/h/.kube/config"), Result.succeed("/h/.kube/config"))
    assert.deepStrictEqual(defaultKubeconfigPath({ HOME: "/h" }, () => false), Result.succeed(undefined))
    assert.isTrue(Result.isFailure(defaultKubeconfigPath({ KUBECONFIG: "/a:/b" }, () => true)))
  })
})
