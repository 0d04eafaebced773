/**
 * Real kubectl against the in-memory API server: apply (client-side and server-side), get with server-side
 * Tables, -o yaml, describe, patch --subresource=status, wait, delete.
 *
 * Needs the kubectl binary; without it the suite is skipped, except in CI where it must fail.
 */
import { spawn } from "node:child_process"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { afterAll, beforeAll } from "vitest"
import { parse as parseYaml } from "yaml"
import { type ApiServer, startApiServer } from "../../src/testing/InMemoryApiServer.ts"
import { type KubectlResult, kubectlEnv, kubectlPath, runKubectl } from "../../src/testing/Kubectl.ts"

const inCi = process.env["CI"] === "true"

/** A printed table as cells (kubectl separates columns by at least two spaces). */
const rows = (table: string) => table.trim().split("\n").map((l) => l.trim().split(/\s{2,}/))

const base = `
apiVersion: v1
kind: Namespace
metadata: {name: metallb-system}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ipaddresspools.metallb.io}
spec:
  group: metallb.io
  names: {kind: IPAddressPool, listKind: IPAddressPoolList, plural: ipaddresspools, singular: ipaddresspool}
  scope: Namespaced
  versions:
  - name: v1beta1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Auto Assign, type: boolean, jsonPath: .spec.autoAssign}
    - {name: Addresses, type: string, jsonPath: .spec.addresses}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              addresses: {type: array, items: {type: string}}
              autoAssign: {type: boolean, default: true}
`

const pool = `
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: pool1, namespace: metallb-system}
spec:
  addresses: [192.0.2.0/24]
`

describe.skipIf(kubectlPath === undefined && !inCi)("kubectl against the in-memory API server", () => {
  let server: ApiServer
  let dir: string
  const kubectl = (...args: ReadonlyArray<string>): Promise<KubectlResult> => runKubectl(server.kubeconfigPath, dir, args, 20_000)
  const ok = async (...args: ReadonlyArray<string>): Promise<string> => {
    const r = await kubectl(...args)
    assert.strictEqual(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`)
    return r.stdout
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "kubectl-test-"))
    await writeFile(join(dir, "base.yaml"), base)
    await writeFile(join(dir, "pool.yaml"), pool)
    server = await startApiServer()
  })
  afterAll(async () => {
    await server.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it("applies a Namespace, a Service, a CRD, then a custom resource", async () => {
    assert.deepStrictEqual((await ok("apply", "-f", join(dir, "base.yaml"))).trim().split("\n"), [
      "namespace/metallb-system created",
      "service/web created",
      "customresourcedefinition.apiextensions.k8s.io/ipaddresspools.metallb.io created"
    ])
    await ok("wait", "--for=condition=Established", "crd/ipaddresspools.metallb.io", "--timeout=10s")
    assert.strictEqual((await ok("apply", "-f", join(dir, "pool.yaml"))).trim(), "ipaddresspool.metallb.io/pool1 created")
    assert.deepStrictEqual(rows(await ok("get", "ipaddresspools", "-n", "metallb-system")), [
      ["NAME", "AUTO ASSIGN", "ADDRESSES"],
      ["pool1", "true", '["192.0.2.0/24"]']
    ])
    assert.strictEqual((await ok("apply", "-f", join(dir, "base.yaml"))).trim().split("\n")[1], "service/web unchanged")
  })

  it("shows the Service table, and EXTERNAL-IP after a status patch", async () => {
    const before = rows(await ok("get", "svc"))
    assert.deepStrictEqual(before[0], ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"])
    const web = before.find((r) => r[0] === "web")
    assert.deepStrictEqual(web?.slice(1, 5), ["LoadBalancer", "10.96.0.10", "<pending>", "80:30000/TCP"])
    const patched = await ok("patch", "svc", "web", "--subresource=status", "--type=merge", "-p", '{"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.10"}]}}}')
    assert.strictEqual(patched.trim(), "service/web patched")
    const after = rows(await ok("get", "svc", "web", "-o", "wide"))
    assert.deepStrictEqual(after[0], ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"])
    assert.deepStrictEqual([after[1]?.[3], after[1]?.[6]], ["192.0.2.10", "app=web"])
    const all = rows(await ok("get", "svc", "-A"))
    assert.deepStrictEqual(all[0]?.slice(0, 2), ["NAMESPACE", "NAME"])
  })

  it("prints the stored object with -o yaml and describes the Service", async () => {
    const svc = parseYaml(await ok("get", "svc", "web", "-o", "yaml")) as {
      metadata: { annotations: Record<string, string>; resourceVersion: string }
      spec: { clusterIPs: Array<string>; ipFamilies: Array<string>; ports: Array<{ nodePort: number }> }
      status: unknown
    }
    assert.deepStrictEqual(svc.status, { loadBalancer: { ingress: [{ ip: "192.0.2.10" }] } })
    assert.deepStrictEqual([svc.spec.clusterIPs, svc.spec.ipFamilies], [["10.96.0.10"], ["IPv4"]])
    assert.property(svc.metadata.annotations, "kubectl.kubernetes.io/last-applied-configuration")
    const described = await ok("describe", "svc", "web")
    for (const line of [/^Type:\s+LoadBalancer$/m, /^IP:\s+10\.96\.0\.10$/m, /^LoadBalancer Ingress:\s+192\.0\.2\.10/m, /^NodePort:\s+http\s+30000\/TCP$/m, /^TargetPort:\s+8080\/TCP$/m, /^External Traffic Policy:\s+Cluster$/m]) {
      assert.match(described, line)
    }
  })

  it("re-applies changes with a strategic merge patch and server-side apply", async () => {
    await writeFile(join(dir, "base.yaml"), base.replace("port: 80, targetPort: 8080", "port: 8080"))
    assert.include(await ok("apply", "-f", join(dir, "base.yaml")), "service/web configured")
    assert.strictEqual(await ok("get", "svc", "web", "-o", "jsonpath={.spec.ports[*].port} {.metadata.generation}"), "8080 2")
    await writeFile(join(dir, "pool.yaml"), `${pool}  autoAssign: false\n`)
    assert.strictEqual((await ok("apply", "--server-side", "-f", join(dir, "pool.yaml"))).trim(), "ipaddresspool.metallb.io/pool1 serverside-applied")
    assert.strictEqual(await ok("get", "ipaddresspool", "pool1", "-n", "metallb-system", "-o", "jsonpath={.spec.autoAssign}"), "false")
    const smpOnCr = await kubectl("patch", "ipaddresspool", "pool1", "-n", "metallb-system", "-p", '{"spec":{"autoAssign":true}}')
    assert.strictEqual(smpOnCr.code, 1)
    assert.include(smpOnCr.stderr, "application/strategic-merge-patch+json is not supported")
    server.objects.upsert({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "plain", namespace: "default" }, data: { a: "1" } })
    const noStatus = await kubectl("patch", "cm", "plain", "--subresource=status", "--type=merge", "-p", "{}")
    assert.strictEqual(noStatus.code, 1)
    assert.include(noStatus.stderr, "the server could not find the requested resource", "ConfigMaps have no status subresource")
  })

  it("streams watch events as Table rows (get -w)", async () => {
    const child = spawn(kubectlPath ?? "kubectl", ["get", "svc", "-w", "--output-watch-events"], {
      env: kubectlEnv(server.kubeconfigPath, dir)
    })
    let out = ""
    child.stdout.on("data", (d: Buffer) => (out += d.toString()))
    const waitFor = async (re: RegExp) => {
      for (let i = 0; i < 200 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 25))
      assert.match(out, re)
    }
    try {
      await waitFor(/^ADDED\s+web\s+LoadBalancer/m)
      server.objects.upsert({ apiVersion: "v1", kind: "Service", metadata: { name: "watched", namespace: "default" }, spec: { ports: [{ port: 53, protocol: "UDP" }] } })
      await waitFor(/^ADDED\s+watched\s+ClusterIP\s+10\.96\.\S+\s+<none>\s+53\/UDP/m)
      server.objects.delete("v1", "Service", "default", "watched")
      await waitFor(/^DELETED\s+watched/m)
      assert.strictEqual(out.split("\n")[0]?.split(/\s+/).slice(0, 3).join(" "), "EVENT NAME TYPE")
    } finally {
      child.kill()
    }
  })

  it("accepts the protobuf bodies of kubectl create namespace|secret|configmap", async () => {
    assert.strictEqual((await ok("create", "namespace", "made-by-kubectl")).trim(), "namespace/made-by-kubectl created")
    assert.strictEqual((await ok("create", "secret", "generic", "memberlist", "-n", "made-by-kubectl", "--from-literal=secretkey=abc")).trim(), "secret/memberlist created")
    assert.strictEqual((await ok("create", "configmap", "cfg", "--from-literal=a=b")).trim(), "configmap/cfg created")
    const secret = server.objects.get("v1", "Secret", "made-by-kubectl", "memberlist")
    assert.deepStrictEqual([secret?.["type"], secret?.["data"]], ["Opaque", { secretkey: Buffer.from("abc").toString("base64") }])
    assert.deepStrictEqual(server.objects.get("v1", "ConfigMap", "default", "cfg")?.["data"], { a: "b" })
    const deploy = await kubectl("create", "deployment", "d", "--image=x")
    assert.strictEqual(deploy.code, 1)
    assert.include(deploy.stderr, "the body of the request was in an unknown format")
  })

  it("deletes objects and reports missing ones", async () => {
    assert.strictEqual((await ok("delete", "-f", join(dir, "pool.yaml"))).trim(), 'ipaddresspool.metallb.io "pool1" deleted')
    assert.strictEqual((await ok("delete", "svc", "web")).trim(), 'service "web" deleted')
    const gone = await kubectl("get", "svc", "web")
    assert.strictEqual(gone.code, 1)
    assert.include(gone.stderr, 'Error from server (NotFound): services "web" not found')
    const created = await kubectl("apply", "-f", join(dir, "base.yaml"))
    assert.strictEqual(created.code, 0)
    const dup = await kubectl("create", "-f", join(dir, "pool.yaml"))
    assert.strictEqual(dup.code, 0)
    const again = await kubectl("create", "-f", join(dir, "pool.yaml"))
    assert.include(again.stderr, "AlreadyExists")
  })
})
