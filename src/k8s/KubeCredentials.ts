/**
 * Where the API server is and how to prove who we are, read from a kubeconfig or from the pod's service account
 * without @kubernetes/client-node (which costs ~60 MiB RSS just to import; docs/design/footprint.md).
 *
 * Covered: bearer token (inline or `tokenFile`), client certificate and key (file or `-data`), CA (file or `-data`),
 * `insecure-skip-tls-verify`, `tls-server-name`, a server URL with a path prefix. Not covered: `exec` and
 * `auth-provider` plugins, basic auth, proxies, several files in $KUBECONFIG: those answer `NeedsClientNode`, and
 * KubeClient then loads client-node, which implements them all. In a pod none of them applies.
 */
import { Predicate, Result } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { homedir } from "node:os"
import { dirname, isAbsolute, join } from "node:path"

export interface Credentials {
  /** `https://host:port[/prefix]` without a trailing slash */
  readonly server: string
  /** a fixed bearer token */
  readonly token?: string | undefined
  /** a file holding the bearer token, re-read as it rotates (service-account tokens expire after about an hour) */
  readonly tokenFile?: string | undefined
  readonly ca?: Buffer | undefined
  readonly cert?: Buffer | undefined
  readonly key?: Buffer | undefined
  readonly insecureSkipTLSVerify: boolean
  readonly tlsServerName?: string | undefined
}

/** The kubeconfig uses something only client-node implements; `why` names it. */
export interface NeedsClientNode {
  readonly _tag: "NeedsClientNode"
  readonly why: string
}

export const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

/** The pod's service account: KUBERNETES_SERVICE_HOST/PORT, its token file and CA. */
export const inCluster = (
  env: Readonly<Record<string, string | undefined>> = process.env,
  dir: string = serviceAccountDir
): Result.Result<Credentials, string> => {
  const host = env["KUBERNETES_SERVICE_HOST"]
  const port = env["KUBERNETES_SERVICE_PORT"]
  if (host === undefined || host === "") return Result.fail("KUBERNETES_SERVICE_HOST is not set")
  if (port === undefined || port === "") return Result.fail("KUBERNETES_SERVICE_PORT is not set")
  const ca = readOptional(join(dir, "ca.crt"))
  if (Result.isFailure(ca)) return Result.fail(ca.failure)
  return Result.succeed({
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    tokenFile: join(dir, "token"),
    ca: ca.success,
    insecureSkipTLSVerify: false
  })
}

/** The kubeconfig file to read without an explicit path: $KUBECONFIG, then ~/.kube/config; undefined if neither. */
export const defaultKubeconfigPath = (
  env: Readonly<Record<string, string | undefined>> = process.env,
  exists: (path: string) => boolean = existsSync
): Result.Result<string | undefined, NeedsClientNode> => {
  const fromEnv = env["KUBECONFIG"]
  if (fromEnv !== undefined && fromEnv !== "") {
    const paths = fromEnv.split(":").filter((p) => p !== "")
    if (paths.length > 1) return Result.fail({ _tag: "NeedsClientNode", why: "several files in $KUBECONFIG" })
    if (paths[0] !== undefined) return Result.succeed(paths[0])
  }
  const home = join(env["HOME"] ?? homedir(), ".kube", "config")
  return Result.succeed(exists(home) ? home : undefined)
}

/** Reads and resolves a kubeconfig file (YAML or JSON); relative file references are relative to its folder. */
export const fromKubeconfigFile = async (path: string): Promise<Result.Result<Credentials | NeedsClientNode, string>> => {
  let text: string
  try {
    text = readFileSync(path, "utf8")
  } catch (e) {
    return Result.fail(e instanceof Error ? e.message : String(e))
  }
  const document = await parseDocument(text)
  if (Result.isFailure(document)) return Result.fail(document.failure)
  return fromKubeconfig(document.success, dirname(path))
}

// JSON first (cheap); YAML, the usual kubeconfig format, through the `yaml` package loaded only when needed.
const parseDocument = async (text: string): Promise<Result.Result<unknown, string>> => {
  try {
    return Result.succeed(JSON.parse(text))
  } catch {
    try {
      const { parse } = await import("yaml")
      return Result.succeed(parse(text))
    } catch (e) {
      return Result.fail(`not YAML: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
}

/** A parsed kubeconfig document → the current context's credentials. */
export const fromKubeconfig = (doc: unknown, baseDir: string): Result.Result<Credentials | NeedsClientNode, string> => {
  if (!Predicate.isObject(doc)) return Result.fail("the kubeconfig is not a mapping")
  const currentContext = field(doc, "current-context")
  if (!Predicate.isString(currentContext) || currentContext === "") return Result.fail("no current-context")
  const context = named(doc, "contexts", currentContext, "context")
  if (context === undefined) return Result.fail(`context "${currentContext}" not found`)
  const clusterName = field(context, "cluster")
  const userName = field(context, "user")
  const cluster = Predicate.isString(clusterName) ? named(doc, "clusters", clusterName, "cluster") : undefined
  if (cluster === undefined) return Result.fail(`cluster of context "${currentContext}" not found`)
  const user = Predicate.isString(userName) ? (named(doc, "users", userName, "user") ?? {}) : {}

  const server = field(cluster, "server")
  if (!Predicate.isString(server) || server === "") return Result.fail(`cluster "${String(clusterName)}" has no server`)
  if (field(cluster, "proxy-url") !== undefined) return Result.succeed(needs("proxy-url"))
  for (const plugin of ["exec", "auth-provider", "username", "password"] as const) {
    if (field(user, plugin) !== undefined) return Result.succeed(needs(`user.${plugin}`))
  }

  const ca = material(cluster, "certificate-authority", baseDir)
  const cert = material(user, "client-certificate", baseDir)
  const key = material(user, "client-key", baseDir)
  for (const r of [ca, cert, key]) if (Result.isFailure(r)) return Result.fail(r.failure)
  const token = field(user, "token")
  const tokenFile = field(user, "tokenFile")
  const tlsServerName = field(cluster, "tls-server-name")
  return Result.succeed({
    server: server.replace(/\/+$/, ""),
    token: Predicate.isString(token) && token !== "" ? token : undefined,
    tokenFile: Predicate.isString(tokenFile) && tokenFile !== "" ? resolveIn(baseDir, tokenFile) : undefined,
    ca: Result.getOrUndefined(ca),
    cert: Result.getOrUndefined(cert),
    key: Result.getOrUndefined(key),
    insecureSkipTLSVerify: field(cluster, "insecure-skip-tls-verify") === true,
    tlsServerName: Predicate.isString(tlsServerName) && tlsServerName !== "" ? tlsServerName : undefined
  })
}

const needs = (what: string): NeedsClientNode => ({ _tag: "NeedsClientNode", why: `the kubeconfig uses ${what}` })

const field = (o: unknown, key: string): unknown => (Predicate.isObject(o) && key in o ? (o as Record<string, unknown>)[key] : undefined)

/** `clusters: [{ name, cluster: {...} }]` → the entry named `name`. */
const named = (doc: unknown, list: string, name: string, inner: string): unknown => {
  const entries = field(doc, list)
  if (!Array.isArray(entries)) return undefined
  const entry: unknown = entries.find((e) => field(e, "name") === name)
  return entry === undefined ? undefined : (field(entry, inner) ?? {})
}

const resolveIn = (baseDir: string, path: string) => (isAbsolute(path) ? path : join(baseDir, path))

/** `<name>-data` (base64 PEM) or `<name>` (a file). */
const material = (o: unknown, name: string, baseDir: string): Result.Result<Buffer | undefined, string> => {
  const data = field(o, `${name}-data`)
  if (Predicate.isString(data) && data !== "") return Result.succeed(Buffer.from(data, "base64"))
  const file = field(o, name)
  if (!Predicate.isString(file) || file === "") return Result.succeed(undefined)
  const read = readOptional(resolveIn(baseDir, file))
  if (Result.isFailure(read)) return read
  return read.success === undefined ? Result.fail(`${name} ${file}: no such file`) : Result.succeed(read.success)
}

/** The file's bytes; undefined when it does not exist; a failure naming the file for any other error. */
const readOptional = (path: string): Result.Result<Buffer | undefined, string> => {
  try {
    return Result.succeed(readFileSync(path))
  } catch (e) {
    if (Predicate.isObject(e) && "code" in e && e.code === "ENOENT") return Result.succeed(undefined)
    return Result.fail(`${path}: ${e instanceof Error ? e.message : String(e)}`)
  }
}
