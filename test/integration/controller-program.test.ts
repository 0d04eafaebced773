/**
 * `metallb controller` as an operator runs it: a child process with the project's Node 24, against the in-memory
 * API server; the pool and the Service applied with the real kubectl, `kubectl get svc` showing the EXTERNAL-IP;
 * JSON logs; /healthz, /readyz (ready after the first pass), /metrics; SIGTERM → exit 0; flag errors name the flag.
 * kubectl is needed for the first case: without it that case is skipped, except in CI where it must fail.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { existsSync } from "node:fs"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { request as httpsRequest } from "node:https"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { crdFiles } from "../../src/config/CrdGen.ts"
import { type ApiServer, startApiServer } from "../../src/testing/apiserver/Server.ts"
import { freePort, startCli } from "../cli/runCli.ts"

const kubectlPath = ["/usr/bin/kubectl", "/usr/local/bin/kubectl"].find((p) => existsSync(p))
const inCi = process.env["CI"] === "true"

/** POSTs an AdmissionReview to the controller's webhook (its CA is self-made; the test does not pin it). */
const admit = (port: number, path: string, object: Record<string, unknown>): Promise<Record<string, unknown>> =>
  new Promise((resolve, reject) => {
    const body = JSON.stringify({
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      request: {
        uid: "test-uid",
        kind: { group: "metallb.io", version: "v1beta1", kind: "IPAddressPool" },
        resource: { group: "metallb.io", version: "v1beta1", resource: "ipaddresspools" },
        operation: "CREATE",
        namespace: "metallb-system",
        name: "bad",
        object
      }
    })
    const req = httpsRequest({ host: "127.0.0.1", port, path, method: "POST", rejectUnauthorized: false,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      let text = ""
      res.on("data", (d: Buffer) => (text += d.toString()))
      res.on("end", () => resolve(JSON.parse(text) as Record<string, unknown>))
    })
    req.on("error", reject)
    req.end(body)
  })

const until = async <A>(what: string, probe: () => Promise<A | undefined>, ms = 15_000): Promise<A> => {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const v = await probe().catch(() => undefined)
    if (v !== undefined) return v
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

const manifest = `
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: first-pool, namespace: metallb-system}
spec:
  addresses: [192.0.2.100-192.0.2.110]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 80, protocol: TCP}]
`

describe("metallb controller (the program)", () => {
  let server: ApiServer
  let dir: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "controller-program-"))
    server = await startApiServer()
    for (const crd of crdFiles()) server.objects.applyManifest(crd.content)
    server.objects.upsert({ apiVersion: "v1", kind: "Namespace", metadata: { name: "metallb-system" } })
    await writeFile(join(dir, "manifest.yaml"), manifest)
  })
  afterAll(async () => {
    await server.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it.skipIf(kubectlPath === undefined && !inCi)(
    "kubectl apply of a pool and a Service → kubectl get svc shows the EXTERNAL-IP; probes, metrics, JSON logs, SIGTERM exits 0",
    async () => {
      const kubectl = (...args: ReadonlyArray<string>) =>
        new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
          execFile(kubectlPath ?? "kubectl", [...args], {
            env: { ...process.env, KUBECONFIG: server.kubeconfigPath, KUBECACHEDIR: join(dir, "cache"), HOME: dir },
            timeout: 20_000
          }, (error, stdout, stderr) => done({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr }))
        })
      const [metricsPort, healthPort, webhookPort] = [await freePort(), await freePort(), await freePort()]
      const child = startCli([
        "controller",
        "--kubeconfig", server.kubeconfigPath,
        "--port", String(metricsPort),
        "--health-probe-port", String(healthPort),
        "--webhook-port", String(webhookPort),
        "--listen-address", "127.0.0.1",
        "--log-level", "debug",
        "--tls-min-version", "VersionTLS12"
      ], { METALLB_NAMESPACE: "metallb-system" })
      try {
        await until("/healthz", async () => ((await fetch(`http://127.0.0.1:${healthPort}/healthz`)).status === 200 ? true : undefined))
        // The controller serves MetalLB's validating webhook (default --webhook-mode enabled) over TLS.
        const review = await until("webhook", () =>
          admit(webhookPort, "/validate-metallb-io-v1beta1-ipaddresspool", {
            apiVersion: "metallb.io/v1beta1",
            kind: "IPAddressPool",
            metadata: { name: "bad", namespace: "metallb-system" },
            spec: { addresses: ["192.0.2.10-192.0.2.1"] }
          }).catch(() => undefined))
        const response = review["response"] as { allowed?: boolean; status?: { message?: string } } | undefined
        assert.isFalse(response?.allowed)
        assert.match(String(response?.status?.message), /192\.0\.2\.10-192\.0\.2\.1/)
        const applied = await kubectl("apply", "-f", join(dir, "manifest.yaml"))
        assert.strictEqual(applied.code, 0, applied.stderr)
        await until("/readyz", async () => ((await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status === 200 ? true : undefined))
        const row = await until("EXTERNAL-IP", async () => {
          const r = await kubectl("get", "svc", "web", "--no-headers")
          return r.stdout.includes("192.0.2.100") ? r.stdout : undefined
        })
        assert.match(row, /^web\s+LoadBalancer\s+\S+\s+192\.0\.2\.100\s+80:\d+\/TCP/)

        const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
        assert.match(metrics, /metallb_allocator_addresses_in_use_total\{pool="first-pool"\} 1/)
        assert.match(metrics, /metallb_allocator_addresses_total\{pool="first-pool"\} 11/)
        assert.match(metrics, /metallb_k8s_client_config_loaded_bool 1/)

        const lines = child.stdout().trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
        const assigned = lines.find((l) => l["event"] === "ipAllocated")
        assert.isDefined(assigned)
        assert.strictEqual(assigned?.["service"], "default/web")
        assert.deepStrictEqual(assigned?.["ip"], ["192.0.2.100"])
        for (const l of lines) assert.containsAllKeys(l, ["caller", "level", "msg", "ts"])

        child.process.kill("SIGTERM")
        assert.strictEqual(await child.exited, 0, child.stderr())
      } finally {
        child.process.kill("SIGKILL")
      }
    },
    60_000
  )

  // Every flag rule is unit-tested in test/cli/Controller.test.ts; here only that the program says it and exits 2.
  it("rejects bad flags naming the flag (exit 2)", async () => {
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp]> = [
      [["--port", "http"], /flag --port: "http" is not a port number/],
      [["--bogus"], /unknown flag --bogus/]
    ]
    for (const [args, message] of cases) {
      const child = startCli(["controller", ...args])
      assert.strictEqual(await child.exited, 2, args.join(" "))
      assert.match(child.stderr(), message)
    }
  }, 60_000)

  it("exits 1 with a JSON error line when the kubeconfig cannot be loaded", async () => {
    const child = startCli(["controller", "--kubeconfig", join(dir, "missing.yaml"), "--port", "0", "--health-probe-port", "0", "--webhook-mode", "disabled"])
    assert.strictEqual(await child.exited, 1)
    const last = JSON.parse(child.stdout().trim().split("\n").at(-1) ?? "{}") as Record<string, unknown>
    assert.strictEqual(last["msg"], "controller stopped")
    assert.match(String(last["error"]), /missing\.yaml/)
  }, 30_000)
})
