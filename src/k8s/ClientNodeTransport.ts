/**
 * The KubeTransport on @kubernetes/client-node: requests signed by `KubeConfig.applySecurityAuthentication` (every
 * auth method client-node knows: exec and auth-provider plugins, OIDC, proxies) and sent by its own HTTP library.
 * KubeClient imports this module only when a kubeconfig needs it: client-node costs ~60 MiB RSS to load.
 */
import * as k8s from "@kubernetes/client-node"
import type { KubeTransport } from "./KubeTransport.ts"

export const make = (config: k8s.KubeConfig): KubeTransport => {
  const http = new k8s.IsomorphicFetchHttpLibrary()
  const cluster = config.getCurrentCluster()
  const server = cluster?.server.replace(/\/+$/, "") ?? ""
  let dispatcher: ReturnType<k8s.RequestContext["getDispatcher"]>

  const open: KubeTransport["open"] = async (method, path, signal, body, contentType) => {
    if (cluster === null) throw new Error("the kubeconfig has no current cluster")
    const ctx = new k8s.RequestContext(`${server}${path}`, method)
    ctx.setHeaderParam("Accept", "application/json")
    if (body !== undefined) {
      ctx.setHeaderParam("Content-Type", contentType ?? "application/json")
      ctx.setBody(body)
    }
    ctx.setSignal(signal)
    await config.applySecurityAuthentication(ctx)
    // client-node builds a fresh connection pool per request; keep the first one so connections are reused.
    // Credentials (headers) are still applied per request, so rotated tokens are picked up.
    const fresh = ctx.getDispatcher()
    if (dispatcher === undefined) dispatcher = fresh
    else if (fresh !== undefined && fresh !== dispatcher) {
      ctx.setDispatcher(dispatcher)
      void fresh.close()
    }
    const response = await http.send(ctx).toPromise()
    return {
      status: response.httpStatusCode,
      text: () => response.body.text(),
      stream: () => response.body.stream()
    }
  }

  return { open, close: () => void dispatcher?.close() }
}

/** A kubeconfig file (or client-node's default order) loaded by client-node. */
export const fromFile = (path: string | undefined): k8s.KubeConfig => {
  const config = new k8s.KubeConfig()
  if (path === undefined) config.loadFromDefault()
  else config.loadFromFile(path)
  if (config.getCurrentCluster() === null) throw new Error("no current context/cluster")
  return config
}
