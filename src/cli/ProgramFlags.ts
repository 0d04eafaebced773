/**
 * The flags the long-running programs (`metallb controller`, `metallb speaker`) share with MetalLB's binaries, and
 * the helpers that read them: one definition, one wording for errors ("flag --NAME: ...").
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import { readFileSync } from "node:fs"
import type { MetallbLogLevel } from "../observability/Logging.ts"
import type { FlagSpec, Parsed } from "./Args.ts"

export const commonFlags = {
  namespace: {
    type: "string",
    placeholder: "NS",
    description: "the MetalLB namespace (env METALLB_NAMESPACE; default: the service account's namespace, else metallb-system)"
  },
  kubeconfig: {
    type: "string",
    placeholder: "FILE",
    description: "kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, then the in-cluster service account)"
  },
  "log-level": { type: "string", placeholder: "LEVEL", description: "all, debug, info, warn, error or none (default info)" },
  port: { type: "string", placeholder: "PORT", description: "port of /metrics (plain HTTP); 0 disables (default 9120)" },
  "health-probe-port": { type: "string", placeholder: "PORT", description: "port of /healthz and /readyz (default 17472)" },
  "listen-address": { type: "string", placeholder: "ADDR", description: "address both ports listen on (default 0.0.0.0)" },
  "lb-class": {
    type: "string",
    placeholder: "CLASS",
    description: "handle only Services with this spec.loadBalancerClass (default: only Services without one)"
  }
} as const satisfies Record<string, FlagSpec>

/** A flag MetalLB's binaries have and metallb-ts does not need: accepted so MetalLB's manifests run unchanged. */
export const ignored = (description: string): FlagSpec => ({
  type: "string",
  description: `accepted for MetalLB compatibility, ignored (${description})`
})

export const stringFlag = (flags: Parsed["flags"], name: string): string | undefined => {
  const v = flags[name]
  return typeof v === "string" && v !== "" ? v : undefined
}

/** A whole number up to `max` (`what` names it in the error), or the fallback when the flag is absent. */
export const numberFlag = (
  flags: Parsed["flags"],
  name: string,
  fallback: number,
  max: number,
  what: string
): Result.Result<number, string> => {
  const text = stringFlag(flags, name)
  if (text === undefined) return Result.succeed(fallback)
  const n = Number(text)
  return /^\d+$/.test(text) && n <= max ? Result.succeed(n) : Result.fail(`flag --${name}: ${JSON.stringify(text)} is not ${what}`)
}

export const portFlag = (flags: Parsed["flags"], name: string, fallback: number): Result.Result<number, string> =>
  numberFlag(flags, name, fallback, 65535, "a port number (0-65535)")

const levels: ReadonlyArray<string> = ["all", "debug", "info", "warn", "error", "none"]

export const logLevelFlag = (flags: Parsed["flags"]): Result.Result<MetallbLogLevel, string> => {
  const level = stringFlag(flags, "log-level") ?? "info"
  return levels.includes(level)
    ? Result.succeed(level as MetallbLogLevel)
    : Result.fail(`flag --log-level: ${JSON.stringify(level)} is not one of ${levels.join(", ")}`)
}

const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

/** The namespace of the pod's service account, when running in a pod. */
export const readNamespaceFile = (): string | undefined => {
  try {
    const text = readFileSync(serviceAccountNamespace, "utf8").trim()
    return text === "" ? undefined : text
  } catch {
    return undefined
  }
}

/** `--namespace`, then METALLB_NAMESPACE, then the service account's namespace, then `metallb-system`. */
export const namespaceFlag = (
  flags: Parsed["flags"],
  env: Readonly<Record<string, string | undefined>>,
  namespaceFile: () => string | undefined
): Result.Result<string, string> => {
  const namespace = stringFlag(flags, "namespace") ?? (env["METALLB_NAMESPACE"] || undefined) ?? namespaceFile() ?? "metallb-system"
  return /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace) && namespace.length <= 63
    ? Result.succeed(namespace)
    : Result.fail(`flag --namespace: ${JSON.stringify(namespace)} is not a valid namespace name`)
}
