/**
 * The KubeTransport on @kubernetes/client-node: requests signed by `KubeConfig.applySecurityAuthentication` (every
 * auth method client-node knows: exec and auth-provider plugins, OIDC, proxies) and sent by its own HTTP library.
 * KubeClient imports this module only when a kubeconfig needs it: client-node costs ~60 MiB RSS to load.
 */
import type * as k8s from "@kubernetes/client-node"
import type { KubeTransport } from "./KubeTransport.ts"

// A dynamic import, also inside a bundle: esbuild hoists a static import of an external package to the top of the
// bundle, which would load client-node at start-up even when no request ever uses it.
// The one place allowed to load client-node (lint rule no-restricted-imports).
// oxlint-disable-next-line no-restricted-imports
const load = () => import("@kubernetes/client-node")

/** Requests through client-node; the package is imported at the first request. */
export const make = (config: k8s.KubeConfig): KubeTransport => {
  let loaded: Promise<(ctx: k8s.RequestContext) => Promise<k8s.ResponseContext>> | undefined
  const send = async (ctx: k8s.RequestContext) => {
    loaded ??= load().then((m) => {
      const http = new m.IsomorphicFetchHttpLibrary()
      return (c: k8s.RequestContext) => http.send(c).toPromise()
    })
    return (await loaded)(ctx)
  }
  const cluster = config.getCurrentCluster()
  const server = cluster?.server.replace(/\/+$/, "") ?? ""
  let dispatcher: ReturnType<k8s.RequestContext["getDispatcher"]>

  const open: KubeTransport["open"] = async (method, path, signal, body, contentType) => {
    if (cluster === null) throw new Error("the kubeconfig has no current cluster")
    const { RequestContext } = await load()
    const ctx = new RequestContext(`${server}${path}`, method)
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
    const response = await send(ctx)
    return {
      status: response.httpStatusCode,
      text: () => response.body.text(),
      stream: () => response.body.stream()
    }
  }

  return { open, close: () => void dispatcher?.close() }
}

/** A kubeconfig file (or client-node's default order) loaded by client-node. */
export const fromFile = async (path: string | undefined): Promise<k8s.KubeConfig> => {
  const { KubeConfig } = await load()
  const config = new KubeConfig()
  if (path === undefined) config.loadFromDefault()
  else config.loadFromFile(path)
  if (config.getCurrentCluster() === null) throw new Error("no current context/cluster")
  return config
}
