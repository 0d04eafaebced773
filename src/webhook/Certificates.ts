/**
 * The webhook's own certificates, as MetalLB's OPA cert-controller rotator manages them: a self-signed CA
 * (`CN=cert, O=metallb`) and a serving certificate for `metallb-webhook-service.<ns>.svc` (and `.cluster.local`),
 * stored in the Secret `metallb-webhook-cert` (`ca.crt`, `ca.key`, `tls.crt`, `tls.key`), re-issued before they
 * expire, with the CA injected as `caBundle` into the ValidatingWebhookConfiguration and the BGPPeer CRD
 * conversion (see Manifests.ts).
 *
 * Keys are ECDSA P-256 from `node:crypto`; certificates are built with the small DER encoder in Der.ts and read
 * back with `crypto.X509Certificate`. The {@link CertRotator} reaches the cluster only through the functions it is
 * given, so it runs against the real API server, the in-memory one, or plain Refs in tests; its schedule runs on
 * Effect's Clock.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Ref, Schema } from "effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import * as Der from "./Der.ts"

export class CertificateError extends Schema.TaggedError<CertificateError>()("CertificateError", {
  message: Schema.String
}) {}

/** Another writer changed the Secret between our read and our write: re-read and adopt theirs. */
export class CertificateConflict extends Schema.TaggedError<CertificateConflict>()("CertificateConflict", {
  message: Schema.String
}) {}

/** A key pair and its certificate, PEM. */
export interface Credentials {
  readonly cert: string
  readonly key: string
}

/** Everything the Secret holds: the CA (with its key, to re-issue serving certificates) and the serving pair. */
export interface CertBundle {
  readonly ca: Credentials
  readonly serving: Credentials
}

export const DefaultSecretName = "metallb-webhook-cert"
export const DefaultServiceName = "metallb-webhook-service"
export const DefaultCertDir = "/tmp/k8s-webhook-server/serving-certs"
export const CaName = "cert"
export const CaOrganization = "metallb"

const day = 24 * 60 * 60 * 1000
/** The validity and renewal margins of OPA's cert-controller: 10 years, renewed 90 days before the end. */
export const DefaultValidityMs = 10 * 365 * day
export const DefaultLookaheadMs = 90 * day

/** The names the API server dials: `<service>.<namespace>.svc` (what MetalLB issues) and its FQDN form. */
export const dnsNames = (serviceName: string, namespace: string): ReadonlyArray<string> => [
  `${serviceName}.${namespace}.svc`,
  `${serviceName}.${namespace}.svc.cluster.local`
]

// ---------------------------------------------------------------------------------------------------------------
// X.509 construction.

const Oid = {
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  serverAuth: "1.3.6.1.5.5.7.3.1"
} as const

const KeyUsage = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const

interface Subject {
  readonly commonName: string
  readonly organization?: string
}

const name = (s: Subject): Der.Der =>
  Der.sequence(
    ...(s.organization !== undefined ? [Der.set(Der.sequence(Der.oid(Oid.organization), Der.utf8String(s.organization)))] : []),
    Der.set(Der.sequence(Der.oid(Oid.commonName), Der.utf8String(s.commonName)))
  )

const extension = (id: string, critical: boolean, value: Der.Der): Der.Der =>
  Der.sequence(Der.oid(id), ...(critical ? [Der.boolean(true)] : []), Der.octetString(value))

const keyId = (spki: Uint8Array): Uint8Array => Crypto.createHash("sha1").update(spki).digest()

interface IssueOptions {
  readonly subject: Subject
  readonly issuer: Subject
  readonly publicKey: Crypto.KeyObject
  readonly signingKey: Crypto.KeyObject
  /** The issuer's SubjectPublicKeyInfo, for the authority key identifier (itself when self-signed). */
  readonly issuerSpki: Uint8Array
  readonly notBefore: Date
  readonly notAfter: Date
  readonly isCa: boolean
  readonly dnsNames: ReadonlyArray<string>
}

/** A signed X.509 v3 certificate (RFC 5280 §4.1), PEM. */
const issue = (o: IssueOptions): string => {
  const spki = o.publicKey.export({ type: "spki", format: "der" })
  const serial = Crypto.randomBytes(16)
  serial[0] = (serial[0] ?? 0) & 0x7f
  const algorithm = Der.sequence(Der.oid(Oid.ecdsaWithSha256))
  const extensions = [
    extension(Oid.basicConstraints, true, o.isCa ? Der.sequence(Der.boolean(true)) : Der.sequence()),
    extension(
      Oid.keyUsage,
      true,
      Der.namedBits(o.isCa ? [KeyUsage.digitalSignature, KeyUsage.keyCertSign, KeyUsage.cRLSign] : [KeyUsage.digitalSignature, KeyUsage.keyEncipherment])
    ),
    extension(Oid.subjectKeyIdentifier, false, Der.octetString(keyId(spki))),
    ...(o.isCa
      ? []
      : [
        extension(Oid.extKeyUsage, false, Der.sequence(Der.oid(Oid.serverAuth))),
        extension(Oid.authorityKeyIdentifier, false, Der.sequence(Der.implicit(0, keyId(o.issuerSpki)))),
        extension(Oid.subjectAltName, false, Der.sequence(...o.dnsNames.map((n) => Der.implicit(2, new TextEncoder().encode(n)))))
      ])
  ]
  const tbs = Der.sequence(
    Der.explicit(0, Der.integer(2)),
    Der.integer(serial),
    algorithm,
    name(o.issuer),
    Der.sequence(Der.time(o.notBefore), Der.time(o.notAfter)),
    name(o.subject),
    spki,
    Der.explicit(3, Der.sequence(...extensions))
  )
  const signature = Crypto.sign("sha256", tbs, { key: o.signingKey, dsaEncoding: "der" })
  return Der.pem("CERTIFICATE", Der.sequence(tbs, algorithm, Der.bitString(signature)))
}

const newKey = (): Crypto.KeyPairKeyObjectResult => Crypto.generateKeyPairSync("ec", { namedCurve: "P-256" })

const pemKey = (key: Crypto.KeyObject): string => key.export({ type: "pkcs8", format: "pem" }).toString()

export interface GenerateOptions {
  readonly dnsNames: ReadonlyArray<string>
  readonly now: Date
  readonly validityMs?: number
  /** Re-issue only the serving pair under this CA. */
  readonly ca?: Credentials
}

/** Back-dated by an hour so that a skewed API server clock accepts a fresh certificate. */
const clockSkewMs = 60 * 60 * 1000

/** A new CA (unless one is given) and a serving certificate for `dnsNames`. */
export const generate = (options: GenerateOptions): Effect.Effect<CertBundle, CertificateError> =>
  Effect.try({
    try: () => {
      const notBefore = new Date(options.now.getTime() - clockSkewMs)
      const notAfter = new Date(options.now.getTime() + (options.validityMs ?? DefaultValidityMs))
      const caSubject: Subject = { commonName: CaName, organization: CaOrganization }
      let ca: Credentials
      let caPrivate: Crypto.KeyObject
      let caPublic: Crypto.KeyObject
      if (options.ca !== undefined) {
        ca = options.ca
        caPrivate = Crypto.createPrivateKey(options.ca.key)
        caPublic = Crypto.createPublicKey(caPrivate)
      } else {
        const pair = newKey()
        caPrivate = pair.privateKey
        caPublic = pair.publicKey
        const caSpki = caPublic.export({ type: "spki", format: "der" })
        ca = {
          cert: issue({
            subject: caSubject,
            issuer: caSubject,
            publicKey: caPublic,
            signingKey: caPrivate,
            issuerSpki: caSpki,
            notBefore,
            notAfter,
            isCa: true,
            dnsNames: []
          }),
          key: pemKey(caPrivate)
        }
      }
      const pair = newKey()
      const cert = issue({
        subject: { commonName: options.dnsNames[0] ?? CaName },
        issuer: caSubject,
        publicKey: pair.publicKey,
        signingKey: caPrivate,
        issuerSpki: caPublic.export({ type: "spki", format: "der" }),
        notBefore,
        notAfter,
        isCa: false,
        dnsNames: options.dnsNames
      })
      return { ca, serving: { cert, key: pemKey(pair.privateKey) } }
    },
    catch: (e) => new CertificateError({ message: `cannot generate the webhook certificates: ${String(e)}` })
  })

// ---------------------------------------------------------------------------------------------------------------
// Checking a stored bundle.

export interface CheckOptions {
  readonly dnsNames: ReadonlyArray<string>
  readonly now: Date
  readonly lookaheadMs?: number
}

/** What to renew: nothing, only the serving pair (the CA is fine), or everything. */
export type Renewal =
  | { readonly _tag: "Valid" }
  | { readonly _tag: "Serving"; readonly reason: string }
  | { readonly _tag: "All"; readonly reason: string }

const expiresSoon = (cert: Crypto.X509Certificate, now: Date, lookaheadMs: number): boolean =>
  cert.validToDate.getTime() - lookaheadMs <= now.getTime() || cert.validFromDate.getTime() > now.getTime()

/**
 * Whether a stored bundle can still be served at `now`: the CA is a CA, matches its key and is not about to expire;
 * the serving certificate is signed by it, matches its key, names every DNS name and is not about to expire.
 */
export const check = (bundle: CertBundle, options: CheckOptions): Renewal => {
  const lookahead = options.lookaheadMs ?? DefaultLookaheadMs
  let ca: Crypto.X509Certificate
  try {
    ca = new Crypto.X509Certificate(bundle.ca.cert)
    if (!ca.ca) return { _tag: "All", reason: "the CA certificate is not a CA" }
    if (!ca.checkPrivateKey(Crypto.createPrivateKey(bundle.ca.key))) return { _tag: "All", reason: "the CA key does not match" }
  } catch (e) {
    return { _tag: "All", reason: `unreadable CA: ${String(e)}` }
  }
  if (expiresSoon(ca, options.now, lookahead)) return { _tag: "All", reason: `the CA expires on ${ca.validTo}` }
  try {
    const cert = new Crypto.X509Certificate(bundle.serving.cert)
    if (!cert.verify(ca.publicKey)) return { _tag: "Serving", reason: "the serving certificate is not signed by the CA" }
    if (!cert.checkPrivateKey(Crypto.createPrivateKey(bundle.serving.key))) {
      return { _tag: "Serving", reason: "the serving key does not match" }
    }
    const missing = options.dnsNames.filter((n) => cert.checkHost(n, { wildcards: false }) === undefined)
    if (missing.length > 0) return { _tag: "Serving", reason: `the serving certificate does not name ${missing.join(", ")}` }
    if (expiresSoon(cert, options.now, lookahead)) return { _tag: "Serving", reason: `the serving certificate expires on ${cert.validTo}` }
  } catch (e) {
    return { _tag: "Serving", reason: `unreadable serving certificate: ${String(e)}` }
  }
  return { _tag: "Valid" }
}

// ---------------------------------------------------------------------------------------------------------------
// The Secret and the cert dir.

/** The Secret's `data` (base64 values, as the API serves them). */
export type SecretData = Readonly<Record<string, string>>

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64")

export const toSecretData = (bundle: CertBundle): SecretData => ({
  "ca.crt": b64(bundle.ca.cert),
  "ca.key": b64(bundle.ca.key),
  "tls.crt": b64(bundle.serving.cert),
  "tls.key": b64(bundle.serving.key)
})

/** The bundle in a Secret's data, or undefined when a key is missing (a fresh or foreign Secret). */
export const fromSecretData = (data: SecretData | undefined): CertBundle | undefined => {
  const get = (k: string): string | undefined => {
    const v = data?.[k]
    return v === undefined || v === "" ? undefined : Buffer.from(v, "base64").toString("utf8")
  }
  const [caCert, caKey, cert, key] = [get("ca.crt"), get("ca.key"), get("tls.crt"), get("tls.key")]
  if (caCert === undefined || caKey === undefined || cert === undefined || key === undefined) return undefined
  return { ca: { cert: caCert, key: caKey }, serving: { cert, key } }
}

/** Reads `tls.crt` and `tls.key` from a directory (a mounted Secret when rotation is disabled). */
export const readCertDir = (dir: string): Effect.Effect<Credentials, CertificateError> =>
  Effect.tryPromise({
    try: async () => ({
      cert: await Fs.readFile(Path.join(dir, "tls.crt"), "utf8"),
      key: await Fs.readFile(Path.join(dir, "tls.key"), "utf8")
    }),
    catch: (e) => new CertificateError({ message: `cannot read the webhook certificate in ${dir}: ${String(e)}` })
  })

/** Writes the serving pair to a directory, as the OPA rotator does for tools that read `--cert-dir`. */
export const writeCertDir = (dir: string, credentials: Credentials): Effect.Effect<void, CertificateError> =>
  Effect.tryPromise({
    try: async () => {
      await Fs.mkdir(dir, { recursive: true })
      await Fs.writeFile(Path.join(dir, "tls.crt"), credentials.cert, { mode: 0o644 })
      await Fs.writeFile(Path.join(dir, "tls.key"), credentials.key, { mode: 0o600 })
    },
    catch: (e) => new CertificateError({ message: `cannot write the webhook certificate to ${dir}: ${String(e)}` })
  })

// ---------------------------------------------------------------------------------------------------------------
// The rotator.

/** The Secret as read: its data and the version a write must start from (its resourceVersion). */
export interface StoredSecret {
  readonly data: SecretData
  readonly version: string
}

/** How the rotator reaches the cluster; each error is reported and the next check retries. */
export interface CertStore {
  /** The Secret, or undefined when it does not exist. */
  readonly read: Effect.Effect<StoredSecret | undefined, CertificateError>
  /**
   * Writes the Secret if it is still as read: creates it when `version` is undefined, else replaces that version.
   * Fails with {@link CertificateConflict} when someone else wrote first (another controller replica), so that two
   * writers never serve different CAs.
   */
  readonly write: (data: SecretData, version: string | undefined) => Effect.Effect<void, CertificateError | CertificateConflict>
  /** Sets `caBundle` in the ValidatingWebhookConfiguration and the BGPPeer CRD (Manifests.caBundleJsonPatch). */
  readonly injectCaBundle: (caPem: string) => Effect.Effect<void, CertificateError>
}

export interface RotatorOptions {
  readonly namespace: string
  readonly serviceName?: string
  readonly validityMs?: number
  readonly lookaheadMs?: number
  /** How often the Secret and the caBundles are checked. Default 10 minutes. */
  readonly checkInterval?: number
  /**
   * Also copy the serving pair here, for tools that read it; best effort, since MetalLB's manifests mount the
   * Secret read-only at `--cert-dir` (the server itself serves from memory).
   */
  readonly certDir?: string
}

export const DefaultCheckIntervalMs = 10 * 60 * 1000

export class CertRotator extends Context.Service<CertRotator, {
  /** One check: renews what needs renewing, stores it, injects the CA; returns the serving pair to use. */
  readonly ensure: Effect.Effect<Credentials, CertificateError>
  /**
   * Checks every interval forever (the first check one interval from now: call `ensure` first) and hands each new
   * serving pair to `apply` (the server's setCredentials). `initial` is the pair already in use. Failures are logged
   * and retried at the next check.
   */
  readonly run: (apply: (credentials: Credentials) => Effect.Effect<void>, initial?: Credentials) => Effect.Effect<never>
}>()("metallb/webhook/CertRotator") {
  static readonly layer = (options: RotatorOptions, store: CertStore): Layer.Layer<CertRotator> =>
    Layer.succeed(CertRotator, makeRotator(options, store))
}

const makeRotator = (options: RotatorOptions, store: CertStore): CertRotator["Service"] => {
  const names = dnsNames(options.serviceName ?? DefaultServiceName, options.namespace)
  const lookaheadMs = options.lookaheadMs ?? DefaultLookaheadMs
  const validityMs = options.validityMs ?? DefaultValidityMs

  const attempt = Effect.gen(function*() {
    const now = new Date(yield* Effect.clockWith((clock) => clock.currentTimeMillis))
    const secret = yield* store.read
    const stored = fromSecretData(secret?.data)
    const renewal: Renewal = stored === undefined
      ? { _tag: "All", reason: `the Secret holds no certificates` }
      : check(stored, { dnsNames: names, now, lookaheadMs })
    if (renewal._tag === "Valid" && stored !== undefined) return stored
    yield* Effect.logInfo(`renewing the webhook certificates: ${renewal._tag === "Valid" ? "" : renewal.reason}`)
    const bundle = yield* generate({
      dnsNames: names,
      now,
      validityMs,
      ...(renewal._tag === "Serving" && stored !== undefined ? { ca: stored.ca } : {})
    })
    yield* store.write({ ...secret?.data, ...toSecretData(bundle) }, secret?.version)
    return bundle
  })

  const ensure = Effect.gen(function*() {
    // A conflict means another replica renewed first: the next attempt reads and adopts its certificates.
    const bundle = yield* attempt.pipe(
      Effect.retry({ while: (e) => e._tag === "CertificateConflict", times: 3 }),
      Effect.catchTag("CertificateConflict", (e) => Effect.fail(new CertificateError({ message: e.message })))
    )
    // Re-injected on every check: re-applying the manifests resets the caBundle placeholders.
    yield* store.injectCaBundle(bundle.ca.cert)
    if (options.certDir !== undefined) {
      yield* writeCertDir(options.certDir, bundle.serving).pipe(
        Effect.catch((e) => Effect.logDebug(`not copied to the cert dir: ${e.message}`))
      )
    }
    return bundle.serving
  }).pipe(Effect.annotateLogs({ op: "certRotation" }))

  const run = (apply: (credentials: Credentials) => Effect.Effect<void>, initial?: Credentials): Effect.Effect<never> =>
    Effect.gen(function*() {
      const applied = yield* Ref.make(initial?.cert)
      const once = ensure.pipe(
        Effect.flatMap((creds) =>
          Effect.gen(function*() {
            if ((yield* Ref.get(applied)) === creds.cert) return
            yield* apply(creds)
            yield* Ref.set(applied, creds.cert)
          })
        ),
        Effect.catch((e) => Effect.logError(`webhook certificate check failed: ${e.message}`))
      )
      return yield* Effect.forever(Effect.andThen(Effect.sleep(options.checkInterval ?? DefaultCheckIntervalMs), once))
    })

  return CertRotator.of({ ensure, run })
}
