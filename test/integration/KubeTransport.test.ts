// The lean transport over real TLS (a CA, a server certificate for 127.0.0.1, a client certificate, all made by
// openssl here), token-file rotation, and the client-node fallback for an exec-plugin kubeconfig.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as k8s from "@kubernetes/client-node"
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import * as Https from "node:https"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { TLSSocket } from "node:tls"
import { KubeClient } from "../../src/k8s/KubeClient.ts"
import * as KubeTransport from "../../src/k8s/KubeTransport.ts"
import { ConfigMaps } from "../../src/k8s/Resource.ts"
import { startApiServer } from "../../src/testing/apiserver/Server.ts"

const openssl = (dir: string, ...args: Array<string>) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" })

/** A CA, a server certificate for 127.0.0.1 and a client certificate with CN metallb-test, in a fresh folder. */
const pki = () => {
  const dir = mkdtempSync(join(tmpdir(), "metallb-ts-pki-"))
  openssl(dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=test-ca")
  writeFileSync(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1\n")
  for (const [name, cn, ext] of [["server", "127.0.0.1", ["-extfile", "san.ext"]], ["client", "metallb-test", []]] as const) {
    openssl(dir, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`)
    openssl(dir, "x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", "1", ...ext)
  }
  return dir
}

interface Seen {
  readonly cn: string
  readonly authorization: string
  readonly path: string
}

/** An HTTPS server that demands a client certificate and answers every GET with a ConfigMap. */
const tlsServer = (dir: string) =>
  Effect.acquireRelease(
    Effect.callback<{ server: Https.Server; url: string; seen: Array<Seen> }>((resume) => {
      const seen: Array<Seen> = []
      const server = Https.createServer({
        key: readFileSync(join(dir, "server.key")),
        cert: readFileSync(join(dir, "server.crt")),
        ca: readFileSync(join(dir, "ca.crt")),
        requestCert: true,
        rejectUnauthorized: true
      }, (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate()
        seen.push({ cn: String(peer.subject?.CN ?? ""), authorization: req.headers.authorization ?? "", path: req.url ?? "" })
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x", namespace: "default", resourceVersion: "1" } }))
      })
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({ server, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, seen })))
    }),
    ({ server }) => Effect.callback<void>((resume) => {
      server.close(() => resume(Effect.void))
      server.closeAllConnections()
    })
  )

const writeKubeconfig = (dir: string, name: string, cluster: Record<string, unknown>, user: Record<string, unknown>) => {
  const path = join(dir, name)
  writeFileSync(path, JSON.stringify({
    apiVersion: "v1",
    "current-context": "ctx",
    contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
    clusters: [{ name: "c", cluster }],
    users: [{ name: "u", user }]
  }))
  return path
}

const getConfigMap = Effect.flatMap(KubeClient, (k) => k.get(ConfigMaps, "x", "default"))

describe("KubeTransport", () => {
  it.live("verifies the server against the CA, presents the client certificate and the token file's token", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = pki()
      const { url, seen } = yield* tlsServer(dir)
      writeFileSync(join(dir, "token"), "file-token\n")
      const path = writeKubeconfig(dir, "config", { server: `${url}/`, "certificate-authority": "ca.crt" }, {
        "client-certificate": "client.crt",
        "client-key": "client.key",
        tokenFile: "token"
      })
      const object = yield* getConfigMap.pipe(Effect.provide(KubeClient.layerKubeconfig(path)))
      assert.strictEqual(object.metadata.name, "x")
      assert.deepStrictEqual(seen, [{ cn: "metallb-test", authorization: "Bearer file-token", path: "/api/v1/namespaces/default/configmaps/x" }])

      // Without the CA the self-signed chain is refused (KubeClient turns this into a retried `Unavailable`).
      const untrusted = KubeTransport.make({
        server: url,
        cert: readFileSync(join(dir, "client.crt")),
        key: readFileSync(join(dir, "client.key")),
        insecureSkipTLSVerify: false
      })
      const refused = yield* Effect.flip(Effect.tryPromise(() => untrusted.open("GET", "/api", new AbortController().signal)))
      untrusted.close()
      assert.include(String(refused.cause), "certificate")
      assert.strictEqual(seen.length, 1)
    })))

  it.live("re-reads a rotated token file once a minute", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = pki()
      const { url, seen } = yield* tlsServer(dir)
      const tokenFile = join(dir, "token")
      writeFileSync(tokenFile, "first")
      let now = 0
      const transport = KubeTransport.make({
        server: url,
        tokenFile,
        ca: readFileSync(join(dir, "ca.crt")),
        cert: readFileSync(join(dir, "client.crt")),
        key: readFileSync(join(dir, "client.key")),
        insecureSkipTLSVerify: false
      }, () => now)
      yield* Effect.addFinalizer(() => Effect.sync(() => transport.close()))
      const get = Effect.promise(async () => (await transport.open("GET", "/api/v1/namespaces", new AbortController().signal)).text())
      yield* get
      writeFileSync(tokenFile, "second")
      now = 59_000
      yield* get
      now = 60_000
      yield* get
      assert.deepStrictEqual(seen.map((s) => s.authorization), ["Bearer first", "Bearer first", "Bearer second"])
    })))

  it.live("an exec-plugin kubeconfig goes through client-node", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(Effect.promise(() => startApiServer()), (s) => Effect.promise(() => s.stop()))
      const dir = mkdtempSync(join(tmpdir(), "metallb-ts-exec-"))
      const credential = JSON.stringify({
        apiVersion: "client.authentication.k8s.io/v1",
        kind: "ExecCredential",
        status: { token: "exec-token" }
      })
      const path = writeKubeconfig(dir, "config", { server: server.url, "insecure-skip-tls-verify": true }, {
        exec: { apiVersion: "client.authentication.k8s.io/v1", command: "sh", args: ["-c", `echo '${credential}'`], interactiveMode: "Never" }
      })
      server.clearRequests()
      yield* Effect.flatMap(KubeClient, (k) => k.list(ConfigMaps)).pipe(Effect.provide(KubeClient.layerKubeconfig(path)))
      assert.deepStrictEqual(server.requests().map((r) => r.token), ["exec-token"])
    })))

  it.live("a client-node KubeConfig (layerConfig) is served by client-node, loaded at the first request", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(Effect.promise(() => startApiServer()), (s) => Effect.promise(() => s.stop()))
      const config = new k8s.KubeConfig()
      config.loadFromOptions({
        clusters: [{ name: "c", server: server.url, skipTLSVerify: true }],
        users: [{ name: "u", token: "kc-token" }],
        contexts: [{ name: "ctx", cluster: "c", user: "u" }],
        currentContext: "ctx"
      })
      server.clearRequests()
      yield* Effect.flatMap(KubeClient, (k) => k.list(ConfigMaps)).pipe(Effect.provide(KubeClient.layerConfig(config)))
      assert.deepStrictEqual(server.requests().map((r) => r.token), ["kc-token"])
    })))
})
