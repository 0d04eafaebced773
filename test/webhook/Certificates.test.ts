import { assert, describe, it } from "@effect/vitest"
import { Effect, Ref } from "effect"
import { TestClock } from "effect/testing"
import { spawnSync } from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Certificates from "../../src/webhook/Certificates.ts"

const day = 24 * 60 * 60 * 1000
const namespace = "metallb-system"
const names = Certificates.dnsNames("metallb-webhook-service", namespace)
const start = new Date("2026-11-26T00:00:00Z")
const bundle = Effect.runSync(Certificates.generate({ dnsNames: names, now: start, validityMs: 365 * day }))

const openssl = (args: ReadonlyArray<string>, input?: string) => {
  const out = spawnSync("openssl", args, { input, encoding: "utf8" })
  assert.strictEqual(out.status, 0, out.stderr)
  return out.stdout
}

const tmp = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "metallb-webhook-"))

describe("Certificates", () => {
  it("names the webhook Service as the API server dials it", () => {
    assert.deepStrictEqual(names, [
      "metallb-webhook-service.metallb-system.svc",
      "metallb-webhook-service.metallb-system.svc.cluster.local"
    ])
  })

  it("issues a CA and a serving certificate that openssl reads and verifies", () => {
    const serving = openssl(["x509", "-noout", "-text"], bundle.serving.cert)
    assert.include(serving, "Version: 3 (0x2)")
    assert.include(serving, "Issuer: O = metallb, CN = cert")
    assert.include(serving, "Subject: CN = metallb-webhook-service.metallb-system.svc")
    assert.include(serving, "DNS:metallb-webhook-service.metallb-system.svc, DNS:metallb-webhook-service.metallb-system.svc.cluster.local")
    assert.include(serving, "CA:FALSE")
    assert.include(serving, "TLS Web Server Authentication")
    assert.include(serving, "Digital Signature, Key Encipherment")
    assert.include(serving, "Not After : Nov 26 00:00:00 2027 GMT")
    const ca = openssl(["x509", "-noout", "-text"], bundle.ca.cert)
    assert.include(ca, "Subject: O = metallb, CN = cert")
    assert.include(ca, "CA:TRUE")
    assert.include(ca, "Certificate Sign, CRL Sign")
    const dir = tmp()
    try {
      Fs.writeFileSync(Path.join(dir, "ca.crt"), bundle.ca.cert)
      Fs.writeFileSync(Path.join(dir, "tls.crt"), bundle.serving.cert)
      const verified = openssl([
        "verify",
        "-attime",
        String(Math.floor(start.getTime() / 1000) + day / 1000),
        "-purpose",
        "sslserver",
        "-CAfile",
        Path.join(dir, "ca.crt"),
        Path.join(dir, "tls.crt")
      ])
      assert.include(verified, "OK")
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("node:crypto agrees: CA flag, signature, key pairs, host names", () => {
    const ca = new Crypto.X509Certificate(bundle.ca.cert)
    const cert = new Crypto.X509Certificate(bundle.serving.cert)
    assert.isTrue(ca.ca)
    assert.isFalse(cert.ca)
    assert.isTrue(cert.verify(ca.publicKey))
    assert.isTrue(ca.verify(ca.publicKey))
    assert.isTrue(cert.checkPrivateKey(Crypto.createPrivateKey(bundle.serving.key)))
    for (const n of names) assert.strictEqual(cert.checkHost(n), n)
    assert.isUndefined(cert.checkHost("metallb-webhook-service.default.svc"))
    assert.isTrue(cert.checkIssued(ca))
    assert.strictEqual(new Date(cert.validFrom).getTime(), start.getTime() - 60 * 60 * 1000)
  })

  it("check: valid, then serving-only or full renewal with the reason", () => {
    const at = (d: number) => ({ dnsNames: names, now: new Date(start.getTime() + d * day), lookaheadMs: 90 * day })
    assert.deepStrictEqual(Certificates.check(bundle, at(1)), { _tag: "Valid" })
    const late = Certificates.check(bundle, at(300))
    assert.strictEqual(late._tag, "All")
    const otherNames = Certificates.check(bundle, { ...at(1), dnsNames: Certificates.dnsNames("webhook", namespace) })
    assert.strictEqual(otherNames._tag, "Serving")
    if (otherNames._tag === "Serving") assert.include(otherNames.reason, "does not name webhook.metallb-system.svc")
    const foreign = Effect.runSync(Certificates.generate({ dnsNames: names, now: start }))
    assert.strictEqual(Certificates.check({ ...bundle, serving: foreign.serving }, at(1))._tag, "Serving")
    assert.strictEqual(Certificates.check({ ...bundle, serving: { ...bundle.serving, key: foreign.serving.key } }, at(1))._tag, "Serving")
    assert.strictEqual(Certificates.check({ ...bundle, ca: { ...bundle.ca, key: foreign.ca.key } }, at(1))._tag, "All")
    assert.strictEqual(Certificates.check({ ...bundle, ca: { ...bundle.ca, cert: "garbage" } }, at(1))._tag, "All")
    assert.strictEqual(Certificates.check({ ca: bundle.serving, serving: bundle.serving }, at(1))._tag, "All")
  })

  it("re-issues a serving certificate under an existing CA", () => {
    const renewed = Effect.runSync(Certificates.generate({ dnsNames: names, now: start, ca: bundle.ca }))
    assert.strictEqual(renewed.ca, bundle.ca)
    assert.notStrictEqual(renewed.serving.cert, bundle.serving.cert)
    assert.deepStrictEqual(Certificates.check(renewed, { dnsNames: names, now: start }), { _tag: "Valid" })
  })

  it("stores the bundle in the Secret's data and reads it back; a partial Secret holds none", () => {
    const data = Certificates.toSecretData(bundle)
    assert.deepStrictEqual(Object.keys(data).toSorted(), ["ca.crt", "ca.key", "tls.crt", "tls.key"])
    assert.strictEqual(Buffer.from(data["tls.crt"] ?? "", "base64").toString(), bundle.serving.cert)
    assert.deepStrictEqual(Certificates.fromSecretData(data), bundle)
    const { "ca.key": _dropped, ...partial } = data
    assert.isUndefined(Certificates.fromSecretData(partial))
    assert.isUndefined(Certificates.fromSecretData(undefined))
  })

  it.effect("writes and reads the cert dir", () =>
    Effect.gen(function*() {
      const dir = Path.join(tmp(), "serving-certs")
      yield* Certificates.writeCertDir(dir, bundle.serving)
      assert.deepStrictEqual(yield* Certificates.readCertDir(dir), bundle.serving)
      assert.strictEqual(Fs.statSync(Path.join(dir, "tls.key")).mode & 0o777, 0o600)
      Fs.rmSync(Path.dirname(dir), { recursive: true, force: true })
      const missing = yield* Certificates.readCertDir(dir).pipe(Effect.flip)
      assert.include(missing.message, "cannot read the webhook certificate")
    }))
})

describe("CertRotator", () => {
  /** An in-memory Secret with a version, like the API server's resourceVersion. */
  const makeStore = Effect.gen(function*() {
    const secret = yield* Ref.make<Certificates.StoredSecret | undefined>(undefined)
    const writes = yield* Ref.make(0)
    const injected = yield* Ref.make<ReadonlyArray<string>>([])
    const failNext = yield* Ref.make(false)
    /** Runs just before the next write lands: another replica writing first. */
    const beforeWrite = yield* Ref.make<Effect.Effect<void>>(Effect.void)
    const put = (data: Certificates.SecretData) =>
      Ref.update(secret, (s) => ({ data, version: String(Number(s?.version ?? "0") + 1) }))
    const store: Certificates.CertStore = {
      read: Effect.gen(function*() {
        if (yield* Ref.getAndSet(failNext, false)) return yield* new Certificates.CertificateError({ message: "API server down" })
        return yield* Ref.get(secret)
      }),
      write: (data, version) =>
        Effect.gen(function*() {
          yield* Effect.flatten(Ref.getAndSet(beforeWrite, Effect.void))
          if ((yield* Ref.get(secret))?.version !== version) {
            return yield* new Certificates.CertificateConflict({ message: "written concurrently" })
          }
          yield* put(data)
          yield* Ref.update(writes, (n) => n + 1)
        }),
      injectCaBundle: (ca) => Ref.update(injected, (l) => [...l, ca])
    }
    return { store, secret, writes, injected, failNext, beforeWrite, put }
  })

  const options = { namespace, validityMs: 10 * day, lookaheadMs: 2 * day, checkInterval: 60 * 60 * 1000 }

  /** The clock at `start`, an in-memory store (optionally holding a Secret) and a rotator on it. */
  const setup = (extra: Partial<Certificates.RotatorOptions> = {}, secret?: Certificates.SecretData) =>
    Effect.gen(function*() {
      yield* TestClock.setTime(start.getTime())
      const s = yield* makeStore
      if (secret !== undefined) yield* s.put(secret)
      const rotator = yield* Certificates.CertRotator.pipe(
        Effect.provide(Certificates.CertRotator.layer({ ...options, ...extra }, s.store))
      )
      return { s, rotator }
    })

  it.effect("creates the Secret once, keeps a valid one, and re-injects the CA on every check", () =>
    Effect.gen(function*() {
      const { s, rotator } = yield* setup()
      const first = yield* rotator.ensure
      const again = yield* rotator.ensure
      assert.deepStrictEqual(again, first)
      assert.strictEqual(yield* Ref.get(s.writes), 1)
      const stored = Certificates.fromSecretData((yield* Ref.get(s.secret))?.data)
      assert.deepStrictEqual(stored?.serving, first)
      const ca = stored?.ca.cert ?? "missing"
      assert.deepStrictEqual(yield* Ref.get(s.injected), [ca, ca])
    }))

  it.effect("renews before expiry on Effect's clock and hands the new pair over; a failed check is retried", () =>
    Effect.gen(function*() {
      const { s, rotator } = yield* setup()
      const first = yield* rotator.ensure
      const applied = yield* Ref.make<ReadonlyArray<Certificates.Credentials>>([])
      yield* Effect.forkChild(rotator.run((c) => Ref.update(applied, (l) => [...l, c]), first))
      yield* TestClock.adjust(7 * day)
      assert.deepStrictEqual(yield* Ref.get(applied), [])
      assert.strictEqual(yield* Ref.get(s.writes), 1)
      yield* Ref.set(s.failNext, true)
      yield* TestClock.adjust(60 * 60 * 1000)
      yield* TestClock.adjust(2 * day)
      const renewed = yield* Ref.get(applied)
      assert.strictEqual(renewed.length, 1)
      assert.notStrictEqual(renewed[0]?.cert, first.cert)
      assert.strictEqual(yield* Ref.get(s.writes), 2)
      const now = new Date(start.getTime() + 9 * day + 60 * 60 * 1000)
      const stored = Certificates.fromSecretData((yield* Ref.get(s.secret))?.data)
      assert.isDefined(stored)
      if (stored !== undefined) assert.deepStrictEqual(Certificates.check(stored, { dnsNames: names, now, lookaheadMs: 2 * day }), { _tag: "Valid" })
      assert.strictEqual((yield* Ref.get(s.injected)).at(-1), stored?.ca.cert)
    }))

  it.effect("keeps the CA when only the serving certificate must change", () =>
    Effect.gen(function*() {
      const { s, rotator } = yield* setup({ serviceName: "webhook" }, Certificates.toSecretData(bundle))
      const serving = yield* rotator.ensure
      const cert = new Crypto.X509Certificate(serving.cert)
      assert.strictEqual(cert.checkHost("webhook.metallb-system.svc"), "webhook.metallb-system.svc")
      assert.strictEqual(Certificates.fromSecretData((yield* Ref.get(s.secret))?.data)?.ca.cert, bundle.ca.cert)
    }))

  it.effect("adopts the certificates of a replica that wrote first instead of overwriting them", () =>
    Effect.gen(function*() {
      const { s, rotator } = yield* setup()
      const theirs = yield* Certificates.generate({ dnsNames: names, now: start, validityMs: 10 * day })
      yield* Ref.set(s.beforeWrite, s.put(Certificates.toSecretData(theirs)))
      const served = yield* rotator.ensure
      assert.deepStrictEqual(served, theirs.serving)
      assert.strictEqual(yield* Ref.get(s.writes), 0)
      assert.deepStrictEqual(yield* Ref.get(s.injected), [theirs.ca.cert])
    }))

  it.effect("keeps other keys of the Secret and survives an unwritable cert dir", () =>
    Effect.gen(function*() {
      // A directory below a regular file cannot be created, even by root.
      const file = Path.join(tmp(), "file")
      Fs.writeFileSync(file, "")
      const { s, rotator } = yield* setup({ certDir: Path.join(file, "certs") }, { note: "kept" })
      yield* rotator.ensure
      const data = (yield* Ref.get(s.secret))?.data ?? {}
      assert.strictEqual(data["note"], "kept")
      assert.isDefined(Certificates.fromSecretData(data))
      Fs.rmSync(Path.dirname(file), { recursive: true, force: true })
    }))
})
