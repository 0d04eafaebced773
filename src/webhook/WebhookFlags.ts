/**
 * The controller's webhook flags, as MetalLB spells them (reference/metallb-behavior.md §10.1): `--webhook-mode`
 * enabled|disabled|onlywebhook, `--cert-dir`, `--cert-service-name`, `--webhook-secret`, `--disable-cert-rotation`,
 * `--tls-min-version` (default TLS 1.3). {@link webhookLayer} turns them into the running WebhookServer: with the
 * rotator (the default) or with the pair mounted in `--cert-dir`.
 *
 * @since 0.1.0
 */
import { Layer, Result } from "effect"
import type { KubeClientShape } from "../k8s/KubeClient.ts"
import { CertRotator, DefaultCertDir, DefaultSecretName, DefaultServiceName } from "./Certificates.ts"
import { certStore, readList } from "./ClusterAccess.ts"
import { DefaultPort } from "./Manifests.ts"
import { type TlsMinVersion, WebhookServer } from "./WebhookServer.ts"

export type WebhookMode = "enabled" | "disabled" | "onlywebhook"

export interface WebhookFlags {
  readonly mode: WebhookMode
  readonly certDir: string
  readonly certServiceName: string
  readonly secretName: string
  readonly disableCertRotation: boolean
  readonly tlsMinVersion: TlsMinVersion
}

export const defaultFlags: WebhookFlags = {
  mode: "enabled",
  certDir: DefaultCertDir,
  certServiceName: DefaultServiceName,
  secretName: DefaultSecretName,
  disableCertRotation: false,
  tlsMinVersion: "TLSv1.3"
}

/** The flag declarations, in the shape the `metallb` command's parser takes. */
export const flagSpecs = {
  "webhook-mode": { type: "string", placeholder: "MODE", description: "enabled (default), disabled, or onlywebhook (serve the webhook, run no reconcilers)" },
  "cert-dir": { type: "string", placeholder: "DIR", description: `where the serving certificate is written, or read with --disable-cert-rotation (default ${DefaultCertDir})` },
  "cert-service-name": { type: "string", placeholder: "NAME", description: `the webhook Service the certificate names (default ${DefaultServiceName})` },
  "webhook-secret": { type: "string", placeholder: "NAME", description: `the Secret holding the webhook certificates (default ${DefaultSecretName})` },
  "disable-cert-rotation": { type: "boolean", description: "do not generate or rotate certificates: serve the pair in --cert-dir" },
  "tls-min-version": { type: "string", placeholder: "VERSION", description: "VersionTLS12 or VersionTLS13 (default)" }
} as const

/** Go's names (as Kubernetes components take them) and the short forms. */
export const parseTlsMinVersion = (value: string): Result.Result<TlsMinVersion, string> => {
  switch (value) {
    case "VersionTLS12":
    case "TLSv1.2":
    case "1.2":
      return Result.succeed("TLSv1.2")
    case "VersionTLS13":
    case "TLSv1.3":
    case "1.3":
      return Result.succeed("TLSv1.3")
    default:
      return Result.fail(`--tls-min-version ${JSON.stringify(value)}: expected VersionTLS12 or VersionTLS13`)
  }
}

const modes: ReadonlyArray<WebhookMode> = ["enabled", "disabled", "onlywebhook"]

/** Reads the flags (as parsed from the command line); every bad flag is reported. */
export const decodeFlags = (flags: Readonly<Record<string, string | boolean | undefined>>): Result.Result<WebhookFlags, ReadonlyArray<string>> => {
  const errors: Array<string> = []
  const text = (name: string, fallback: string): string => {
    const v = flags[name]
    if (v === undefined) return fallback
    if (typeof v !== "string" || v === "") {
      errors.push(`--${name} needs a value`)
      return fallback
    }
    return v
  }
  const modeText = text("webhook-mode", defaultFlags.mode)
  const mode = modes.find((m) => m === modeText)
  if (mode === undefined) errors.push(`--webhook-mode ${JSON.stringify(modeText)}: expected ${modes.join(", ")}`)
  const tls = parseTlsMinVersion(text("tls-min-version", "VersionTLS13"))
  if (Result.isFailure(tls)) errors.push(tls.failure)
  const rotation = flags["disable-cert-rotation"]
  if (rotation !== undefined && typeof rotation !== "boolean" && rotation !== "true" && rotation !== "false") {
    errors.push(`--disable-cert-rotation ${JSON.stringify(rotation)}: expected true or false`)
  }
  const result: WebhookFlags = {
    mode: mode ?? defaultFlags.mode,
    certDir: text("cert-dir", defaultFlags.certDir),
    certServiceName: text("cert-service-name", defaultFlags.certServiceName),
    secretName: text("webhook-secret", defaultFlags.secretName),
    disableCertRotation: rotation === true || rotation === "true",
    tlsMinVersion: Result.isSuccess(tls) ? tls.success : defaultFlags.tlsMinVersion
  }
  return errors.length > 0 ? Result.fail(errors) : Result.succeed(result)
}

/** Whether the controller serves the webhook in this mode. */
export const servesWebhook = (mode: WebhookMode): boolean => mode !== "disabled"
/** Whether the controller runs its reconcilers in this mode (`onlywebhook` runs none). */
export const runsReconcilers = (mode: WebhookMode): boolean => mode !== "onlywebhook"

export interface WebhookLayerOptions {
  readonly namespace: string
  readonly client: KubeClientShape
  /** Default 9443. */
  readonly port?: number
  readonly host?: string
}

/**
 * The running webhook for these flags: rotated certificates (Secret, caBundles, `--cert-dir` copy) by default, or
 * the mounted pair with `--disable-cert-rotation`. The caller checks {@link servesWebhook} first.
 */
export const webhookLayer = (flags: WebhookFlags, options: WebhookLayerOptions) => {
  const serverOptions = {
    namespace: options.namespace,
    port: options.port ?? DefaultPort,
    ...(options.host !== undefined ? { host: options.host } : {}),
    tlsMinVersion: flags.tlsMinVersion,
    readList: readList(options.client, options.namespace)
  }
  if (flags.disableCertRotation) return WebhookServer.layerFromCertDir(serverOptions, flags.certDir)
  const rotator = CertRotator.layer(
    { namespace: options.namespace, serviceName: flags.certServiceName, certDir: flags.certDir },
    certStore(options.client, { namespace: options.namespace, secretName: flags.secretName })
  )
  return WebhookServer.layerWithRotation(serverOptions).pipe(Layer.provide(rotator))
}
