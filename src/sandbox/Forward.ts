/**
 * A TCP → Unix-socket forwarder, the sandbox's way into the API server from a node's network namespace: run inside
 * the namespace (`ip netns exec NS node Forward.ts HOST PORT SOCKET`), it listens on HOST:PORT there and pipes every
 * connection to SOCKET, a Unix socket (namespace-agnostic) served by the sandbox next to its API server. The
 * speakers' kubeconfig (http://127.0.0.1:PORT) then works unchanged in every namespace, and the host's network is
 * left alone.
 *
 * @since 0.1.0
 */
import * as net from "node:net"

/** Serves `listen` → `target` until the process ends; resolves once listening. */
export const forward = (listen: net.ListenOptions, target: net.NetConnectOpts): Promise<net.Server> =>
  new Promise((resolve, reject) => {
    const server = net.createServer((client) => {
      const upstream = net.connect(target)
      client.pipe(upstream).pipe(client)
      const end = () => {
        client.destroy()
        upstream.destroy()
      }
      client.on("error", end)
      upstream.on("error", end)
      client.on("close", end)
      upstream.on("close", end)
    })
    server.once("error", reject)
    server.listen(listen, () => resolve(server))
  })

if (import.meta.main) {
  const [host = "127.0.0.1", port = "0", socket = ""] = process.argv.slice(2)
  forward({ host, port: Number(port) }, { path: socket }).then(
    () => process.stdout.write(`forwarding ${host}:${port} -> ${socket}\n`),
    (error: unknown) => {
      process.stderr.write(`forward: ${String(error)}\n`)
      process.exit(1)
    }
  )
}
