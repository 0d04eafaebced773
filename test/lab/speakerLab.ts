// The speaker lab: the real `metallb speaker` program in node namespaces on one LAN, against the in-memory API server
// running in the test process. The server is reached through a forwarder in an `api` host on the LAN
// (fixtures/tcp-to-unix.ts → a Unix socket → 127.0.0.1), so the speakers use a plain kubeconfig at 192.0.2.250.
import { type Duration, Effect, type Scope } from "effect"
import { writeFileSync } from "node:fs"
import { connect, createServer, type Server, type Socket } from "node:net"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { crdFiles } from "../../src/config/CrdGen.ts"
import type { JsonObject } from "../../src/testing/apiserver/Json.ts"
import { type ApiServer, startApiServer } from "../../src/testing/apiserver/Server.ts"
import * as Netns from "../../src/testing/Netns.ts"

export const NS = "metallb-system"
const root = resolve(fileURLToPath(new URL("../..", import.meta.url)))
const forwarder = fileURLToPath(new URL("fixtures/tcp-to-unix.ts", import.meta.url))
const API_HOST = 250

export interface SpeakerLab<K extends string> {
  readonly lab: Netns.Lab
  readonly hosts: Record<K | "api", Netns.Host>
  readonly server: ApiServer
  readonly kubeconfig: string
  /**
   * Starts `metallb speaker --node-name NODE` in the node's namespace; waits until it has started. `args` may override
   * the lab's defaults (`--bfd-port 3784` turns BFD on, `--port N` metrics); `kubeconfig` replaces the lab's; it must
   * start within `startupTimeout` (default 60 s: a loaded 2-core machine can take long to start a node process).
   */
  readonly startSpeaker: (
    node: K,
    args?: ReadonlyArray<string>,
    options?: { readonly kubeconfig?: string; readonly startupTimeout?: Duration.Input }
  ) => Effect.Effect<Netns.LabProcess, Netns.LabError>
  readonly upsert: (...objects: ReadonlyArray<JsonObject>) => Effect.Effect<void>
  readonly list: (kind: "ServiceL2Status" | "ServiceBGPStatus") => ReadonlyArray<JsonObject>
}

const unixToTcp = (path: string, port: number) => {
  const open = new Set<Socket>()
  return Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<Server>((done) => {
        const s = createServer((client) => {
          const upstream = connect(port, "127.0.0.1")
          for (const socket of [client, upstream]) {
            open.add(socket)
            socket.on("close", () => open.delete(socket))
          }
          client.pipe(upstream)
          upstream.pipe(client)
          client.on("error", () => upstream.destroy())
          upstream.on("error", () => client.destroy())
        })
        s.listen(path, () => done(s))
      })
    ),
    // close() waits for open connections: the speakers' watches would hold it forever.
    (s) => Effect.promise(() => new Promise<void>((done) => {
      s.close(() => done())
      for (const socket of open) socket.destroy()
    }))
  )
}

/** The lab's speaker flags; `startSpeaker(node, args)` overrides any of them. */
const speakerDefaults: Readonly<Record<string, string>> = {
  "--port": "0",
  "--health-probe-port": "0",
  "--log-level": "debug",
  "--bfd-port": "0"
}

/** `nodes` get Node objects and run speakers; `others` (clients, routers) are plain hosts on the LAN. */
export const make = <const K extends string, const O extends string = never>(
  nodes: Readonly<Record<K, number>>,
  others: Readonly<Record<O, number>> = {} as Readonly<Record<O, number>>
): Effect.Effect<SpeakerLab<K> & { readonly others: Record<O, Netns.Host> }, Netns.LabError, Scope.Scope> =>
  Effect.gen(function*() {
    // The server first: it stops last, after the lab has killed the speakers (it waits for their watches to end).
    const server = yield* Effect.acquireRelease(
      Effect.promise(async () => {
        const s = await startApiServer({})
        for (const crd of crdFiles()) s.objects.applyManifest(crd.content)
        s.objects.upsert({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } })
        return s
      }),
      (s) => Effect.promise(() => s.stop())
    )
    const lab = yield* Netns.make()
    const all = yield* lab.lan({ ...nodes, ...others, api: API_HOST } as Readonly<Record<K | O | "api", number>>)
    const hosts = all as Record<K | "api", Netns.Host>
    const socket = join(lab.dir, "api.sock")
    yield* unixToTcp(socket, Number(new URL(server.url).port))
    const fwd = yield* lab.spawn(hosts.api.ns, [process.execPath, forwarder, hosts.api.ipv4, "6443", socket], { name: "api forwarder" })
    yield* fwd.waitFor(/listening/)
    const kubeconfig = join(lab.dir, "kubeconfig")
    writeFileSync(kubeconfig, server.kubeconfig.replaceAll(server.url, `http://${hosts.api.ipv4}:6443`))
    for (const [name] of Object.entries(nodes)) {
      server.objects.upsert({ apiVersion: "v1", kind: "Node", metadata: { name, labels: { "kubernetes.io/hostname": name } } })
    }

    const startSpeaker: SpeakerLab<K>["startSpeaker"] = (node, args = [], options = {}) =>
      Effect.gen(function*() {
        // The program refuses a flag given twice: a default goes when `args` sets that flag.
        const given = new Set(args.filter((a) => a.startsWith("--")).map((a) => a.split("=")[0]))
        const defaults = Object.entries(speakerDefaults).filter(([flag]) => !given.has(flag)).flat()
        const p = yield* lab.spawn(hosts[node].ns, [
          process.execPath,
          join(root, "src/cli/main.ts"),
          "speaker",
          "--node-name", node,
          "--namespace", NS,
          "--kubeconfig", options.kubeconfig ?? kubeconfig,
          ...defaults,
          ...args
        ], { name: `speaker ${node}` })
        yield* p.waitFor(/"event":"startup"/, { timeout: options.startupTimeout ?? "60 seconds" })
        return p
      })

    return {
      lab,
      hosts,
      others: all as Record<O, Netns.Host>,
      server,
      kubeconfig,
      startSpeaker,
      upsert: (...objects) => Effect.sync(() => void objects.forEach((o) => server.objects.upsert(o))),
      list: (kind) => server.objects.list("metallb.io/v1beta1", kind, NS)
    }
  })

export const service = (name: string, ip: string): JsonObject => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: "default" },
  spec: { type: "LoadBalancer", selector: { app: name }, ports: [{ port: 80, protocol: "TCP" }] },
  status: { loadBalancer: { ingress: [{ ip }] } }
})

export const endpoints = (name: string, nodes: ReadonlyArray<string>): JsonObject => ({
  apiVersion: "discovery.k8s.io/v1",
  kind: "EndpointSlice",
  metadata: { name: `${name}-1`, namespace: "default", labels: { "kubernetes.io/service-name": name } },
  addressType: "IPv4",
  endpoints: nodes.map((nodeName, i) => ({ addresses: [`10.0.0.${i + 1}`], conditions: { ready: true }, nodeName }))
})

export const pool = (name: string, addresses: ReadonlyArray<string>): JsonObject => ({
  apiVersion: "metallb.io/v1beta1",
  kind: "IPAddressPool",
  metadata: { name, namespace: NS },
  spec: { addresses: [...addresses] }
})

export const nodeLabel = (o: JsonObject): string | undefined =>
  ((o["metadata"] as { labels?: Record<string, string> } | undefined)?.labels ?? {})["metallb.io/node"]
