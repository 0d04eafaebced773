/**
 * How KubeClient sends one request: `open(method, path, signal, body?, contentType?)` → status and body. Two
 * implementations: `make(credentials)` here, on `node:http`/`node:https` with one keep-alive agent (no
 * @kubernetes/client-node in memory), and `ClientNodeTransport` for what only client-node implements (exec and
 * auth-provider plugins, proxies), loaded on demand.
 */
import * as Https from "node:https"
import { readFile } from "node:fs/promises"
import { Readable } from "node:stream"
import { http } from "../platform/NodeHttp.ts"
import type { Credentials } from "./KubeCredentials.ts"

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE"

export interface KubeResponse {
  readonly status: number
  /** the whole body as text */
  readonly text: () => Promise<string>
  /** the body as a stream (watches); null when there is none */
  readonly stream: () => ReadableStream<Uint8Array> | null
}

export interface KubeTransport {
  readonly open: (
    method: Method,
    path: string,
    signal: AbortSignal,
    body?: string,
    contentType?: string
  ) => Promise<KubeResponse>
  /** closes idle connections (scope end) */
  readonly close: () => void
}

/** A token file is re-read at most this often (client-go and client-node use one minute as well). */
const tokenFileRefreshMs = 60_000

/** The lean transport: requests through one keep-alive `http(s).Agent` carrying the CA and client certificate. */
export const make = (credentials: Credentials, now: () => number = Date.now): KubeTransport => {
  const base = new URL(credentials.server)
  const secure = base.protocol === "https:"
  const prefix = base.pathname.replace(/\/+$/, "")
  const agent = secure
    ? new Https.Agent({
      keepAlive: true,
      ca: credentials.ca,
      cert: credentials.cert,
      key: credentials.key,
      rejectUnauthorized: !credentials.insecureSkipTLSVerify,
      ...(credentials.tlsServerName === undefined ? {} : { servername: credentials.tlsServerName })
    })
    : new http.Agent({ keepAlive: true })
  const request = secure ? Https.request : http.request

  let cached: { token: string; at: number } | undefined
  const token = async (): Promise<string | undefined> => {
    if (credentials.tokenFile === undefined) return credentials.token
    if (cached !== undefined && now() - cached.at < tokenFileRefreshMs) return cached.token
    const text = (await readFile(credentials.tokenFile, "utf8")).trim()
    cached = { token: text, at: now() }
    return text
  }

  const open: KubeTransport["open"] = async (method, path, signal, body, contentType) => {
    const bearer = await token()
    const headers: Record<string, string | number> = { Accept: "application/json" }
    if (bearer !== undefined && bearer !== "") headers["Authorization"] = `Bearer ${bearer}`
    if (body !== undefined) {
      headers["Content-Type"] = contentType ?? "application/json"
      headers["Content-Length"] = Buffer.byteLength(body)
    }
    return new Promise<KubeResponse>((resolve, reject) => {
      const req = request({
        protocol: base.protocol,
        hostname: base.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: base.port,
        path: `${prefix}${path}`,
        method,
        headers,
        agent,
        signal
      }, (res) => {
        resolve({
          status: res.statusCode ?? 0,
          text: async () => {
            const chunks: Array<Buffer> = []
            for await (const chunk of res) chunks.push(chunk as Buffer)
            return Buffer.concat(chunks).toString("utf8")
          },
          stream: () => Readable.toWeb(res) as ReadableStream<Uint8Array>
        })
      })
      req.once("error", reject)
      req.end(body)
    })
  }

  return { open, close: () => agent.destroy() }
}
