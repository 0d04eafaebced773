// Least privilege, proven on the real programs (issue #6): `metallb controller` (webhook enabled as shipped, so it
// rotates its certificate Secret and injects the CA; with --leader-elect so its Lease calls are seen) and two
// `metallb speaker`s with layer 2 on (node namespaces: packet sockets, liveness Leases) run against the in-memory API
// server over HTTP, each with its own bearer token, through a scenario that touches everything they read and write:
// the legacy ConfigMap, then CRDs (L2 and BGP pools, advertisements, a BGPPeer with a password Secret and a BFD
// profile, a Community), Namespaces, Nodes, Services, EndpointSlices, an invalid config, an AdmissionReview per
// webhook, a Service delete and a graceful shutdown. Every call must be allowed by that ServiceAccount's bindings in
// manifests/metallb.yaml (RbacCheck, Kubernetes' matching: resourceNames, namespace scoping), and every granted verb
// must be used by some call, except the few listed in `unreachable` with the reason.
import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect, Result } from "effect"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { request as httpsRequest } from "node:https"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { parseObjects } from "../../src/manifests/Bundle.ts"
import { Namespace } from "../../src/manifests/Names.ts"
import { grantsOf } from "../../src/manifests/Rbac.ts"
import { type ApiCall, bindingsFor, check, formatCall } from "../../src/manifests/RbacCheck.ts"
import type { JsonObject } from "../../src/testing/apiserver/Json.ts"
import * as Netns from "../../src/testing/Netns.ts"
import { routes } from "../../src/webhook/Manifests.ts"
import { freePort, startCli } from "../cli/runCli.ts"
import { eventually } from "./bgpLab.ts"
import { labGate } from "./prerequisites.ts"
import * as SpeakerLab from "./speakerLab.ts"

const gate = labGate(["ip"])
const root = resolve(import.meta.dirname, "../..")
const manifest = readFileSync(join(root, "manifests/metallb.yaml"), "utf8")
const objects = Result.getOrThrow(parseObjects(manifest, "metallb.yaml"))
const nodes = { n1: 11, n2: 12 } as const
const L2_RANGE = "192.0.2.200-192.0.2.209"
const BGP_POOL = "203.0.113.0/28"

/**
 * Granted verbs no scenario here reaches, with the reason. The test fails if one of them is used after all (then it
 * is no longer unreachable) or if another granted verb goes unused (then the grant is too wide).
 */
const unreachable: Readonly<Record<"controller" | "speaker", ReadonlyArray<{ readonly rule: string; readonly verbs: ReadonlyArray<string>; readonly why: string }>>> = {
  controller: [{
    rule: "RoleBinding controller: secrets",
    verbs: ["create"],
    why: "the rotator creates the webhook Secret only when it is missing, and the manifest ships it (empty); " +
      "test/integration/Webhook.test.ts covers the create"
  }],
  speaker: []
}

const metallb = (kind: string, name: string, spec: JsonObject, version = "v1beta1"): JsonObject => ({
  apiVersion: `metallb.io/${version}`,
  kind,
  metadata: { name, namespace: Namespace },
  spec
})

const pod = (name: string, uid: string): JsonObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: Namespace, uid, labels: { app: "metallb" } },
  spec: { containers: [{ name: "c", image: "metallb-ts:0.1.0" }] }
})

const service = (name: string, annotations: Record<string, string> = {}): JsonObject => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: "default", annotations },
  spec: { type: "LoadBalancer", selector: { app: name }, ports: [{ port: 80, protocol: "TCP" }] }
})

const legacyConfig = `address-pools:
- name: legacy
  protocol: layer2
  addresses: [${L2_RANGE}]
`

/** The controller container of the shipped Deployment: its args (`controller`, flags), less the ports a test sets itself. */
const deploymentArgs = (): ReadonlyArray<string> => {
  const deployment = objects.find((o) => (o as { kind?: string }).kind === "Deployment") as
    | { spec: { template: { spec: { containers: ReadonlyArray<{ args?: ReadonlyArray<string> }> } } } }
    | undefined
  const args = deployment?.spec.template.spec.containers[0]?.args ?? []
  return args.filter((a) => !a.startsWith("--port") && !a.startsWith("--health-probe-port"))
}

const startController = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() => startCli(args, env)),
    (c) => Effect.promise(() => (c.process.exitCode === null && c.process.signalCode === null ? (c.process.kill("SIGKILL"), c.exited) : c.exited))
  )

/** What the API server would send the webhook: an AdmissionReview; the answer's `allowed`. */
const admit = (port: number, path: string, request: JsonObject): Promise<unknown> =>
  new Promise((done, fail) => {
    const body = JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request })
    const req = httpsRequest({
      host: "127.0.0.1", port, path, method: "POST", rejectUnauthorized: false,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) }
    }, (res) => {
      let text = ""
      res.on("data", (d: Buffer) => (text += d.toString()))
      res.on("end", () => {
        try {
          done((JSON.parse(text) as { response?: { allowed?: unknown } }).response?.allowed)
        } catch (e) {
          fail(e)
        }
      })
    })
    req.on("error", fail)
    req.end(body)
  })

const tail = (text: string) => text.split("\n").slice(-15).join("\n")

const labError = (what: string) => (e: unknown) => new Netns.LabError({ command: what, reason: String(e) })

const ingressOf = (o: JsonObject | undefined): string | undefined =>
  ((o?.["status"] as { loadBalancer?: { ingress?: ReadonlyArray<{ ip?: string }> } } | undefined)?.loadBalancer?.ingress ?? [])[0]?.ip

const toCall = (r: ApiCall): ApiCall => ({ verb: r.verb, group: r.group, resource: r.resource, subresource: r.subresource, namespace: r.namespace, name: r.name })

/** "denied" calls and the unused verbs not excused by `unreachable`, and excuses that no longer hold. */
const verdict = (component: "controller" | "speaker", calls: ReadonlyArray<ApiCall>) => {
  const bindings = bindingsFor(objects, { namespace: Namespace, name: component })
  const report = check(bindings, calls)
  const unusedRules = report.unused.flatMap((u) => u.verbs.map((v) => `${u.binding}: ${u.resources.join(",")} ${v}`))
  const excused = unreachable[component].flatMap((x) => x.verbs.map((v) => `${x.rule} ${v}`))
  return {
    denied: report.denied.map(formatCall),
    unexcused: unusedRules.filter((u) => !excused.includes(u)),
    staleExcuses: excused.filter((x) => !unusedRules.includes(x)),
    // The data the manifests are rendered from says the same as the manifests.
    sameAsData: JSON.stringify(check(grantsOf(component), calls).denied) === JSON.stringify(report.denied)
  }
}

describe.skipIf(gate.skip)("RBAC of manifests/metallb.yaml against the programs' API calls", () => {
  it("has its prerequisites", () => {
    assert.isUndefined(gate.problem, gate.problem)
  })

  it.live("every call of the controller and the speakers is granted, and every grant is used", () =>
    Effect.scoped(Effect.gen(function*() {
      const l = yield* SpeakerLab.make(nodes)
      const { server } = l
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "rbac-"))),
        (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true }))
      )
      server.objects.applyManifest(manifest)
      yield* l.upsert(
        pod("controller-0", "uid-controller"),
        pod("speaker-n1", "uid-speaker-n1"),
        pod("speaker-n2", "uid-speaker-n2"),
        { apiVersion: "v1", kind: "Namespace", metadata: { name: "team-a", labels: { team: "a" } } },
        { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "config", namespace: Namespace }, data: { config: legacyConfig } },
        { apiVersion: "v1", kind: "Secret", metadata: { name: "bgp-password", namespace: Namespace }, type: "kubernetes.io/basic-auth", data: { password: Buffer.from("s3cret").toString("base64") } },
        service("web"),
        SpeakerLab.endpoints("web", ["n1", "n2"]),
        // No such pool: AllocationFailed on every pass, so the Event's count is bumped (a patch).
        service("stuck", { "metallb.io/address-pool": "nowhere" })
      )
      server.clearRequests()

      // The controller as the Deployment runs it, on this machine's ports.
      const kubeconfigFor = (token: string) => {
        const path = join(dir, `kubeconfig-${token}`)
        writeFileSync(path, readFileSync(l.kubeconfig, "utf8").replaceAll("inmemory-token", token))
        return path
      }
      writeFileSync(join(dir, "api-kubeconfig"), server.kubeconfig.replaceAll("inmemory-token", "controller"))
      const webhookPort = yield* Effect.promise(freePort)
      const controller = yield* startController([
        ...deploymentArgs(),
        "--port", "0",
        "--health-probe-port", "0",
        "--listen-address", "127.0.0.1",
        "--webhook-port", String(webhookPort),
        "--cert-dir", join(dir, "certs"),
        "--kubeconfig", join(dir, "api-kubeconfig"),
        "--leader-elect"
      ], { METALLB_NAMESPACE: Namespace, METALLB_POD_NAME: "controller-0" })
      const speakers = [] as Array<Netns.LabProcess>
      for (const n of Object.keys(nodes) as Array<keyof typeof nodes>) {
        speakers.push(yield* l.startSpeaker(n, ["--pod-name", `speaker-${n}`], { kubeconfig: kubeconfigFor(`speaker-${n}`) }))
      }
      // On a timeout, the programs' last words.
      const until = <A>(what: string, probe: Effect.Effect<A | undefined>, timeout: Duration.Input = "20 seconds") =>
        eventually(what, probe, timeout).pipe(Effect.tapError(() => Effect.sync(() => {
          console.error(`controller:\n${tail((controller.stdout() + controller.stderr()))}\n${speakers.map((s) => `${s.name}:\n${tail(s.stdout() + s.stderr())}`).join("\n")}`)
        })))
      const get = (kind: string, name: string, namespace = "default") =>
        server.objects.get(kind === "Service" ? "v1" : "metallb.io/v1beta1", kind, namespace, name)

      // 1. The legacy ConfigMap: an IP from its pool, announced by layer 2.
      const ip = yield* until("web gets an IP from the legacy pool", Effect.sync(() => ingressOf(get("Service", "web"))), "30 seconds")
      assert.match(ip, /^192\.0\.2\.20\d$/)
      yield* until("a ServiceL2Status for web", Effect.sync(() => (l.list("ServiceL2Status").length === 1 ? true : undefined)))

      // 2. Configuration by CRDs (the ConfigMap is then ignored): layer 2 and BGP, a peer with a password and BFD.
      yield* l.upsert(
        metallb("IPAddressPool", "lan", { addresses: [L2_RANGE] }),
        metallb("L2Advertisement", "lan", { ipAddressPools: ["lan"] }),
        metallb("IPAddressPool", "wan", { addresses: [BGP_POOL], autoAssign: false, serviceAllocation: { namespaceSelectors: [{ matchLabels: { team: "a" } }], namespaces: ["default"] } }),
        metallb("Community", "communities", { communities: [{ name: "edge", value: "64500:100" }] }),
        metallb("BGPAdvertisement", "wan", { ipAddressPools: ["wan"], communities: ["edge"] }),
        metallb("BFDProfile", "fast", { receiveInterval: 300, transmitInterval: 300 }),
        metallb("BGPPeer", "router", { myASN: 64500, peerASN: 64512, peerAddress: "192.0.2.1", holdTime: "9s", passwordSecret: { name: "bgp-password" }, bfdProfile: "fast" }, "v1beta2"),
        service("web-bgp", { "metallb.io/address-pool": "wan" }),
        SpeakerLab.endpoints("web-bgp", ["n1"])
      )
      yield* until("web-bgp gets an IP from the BGP pool", Effect.sync(() => ingressOf(get("Service", "web-bgp"))))
      yield* until("ServiceBGPStatus of both speakers", Effect.sync(() => (l.list("ServiceBGPStatus").length === 2 ? true : undefined)))

      // Layer 2 withdrawn (no ready endpoint) and announced again: the same nodeAssigned Event, counted twice.
      const slice = SpeakerLab.endpoints("web", ["n1", "n2"])
      const endpointsReady = (ready: boolean): JsonObject => ({
        ...slice,
        endpoints: (slice["endpoints"] as ReadonlyArray<JsonObject>).map((e) => ({ ...e, conditions: { ready } }))
      })
      yield* l.upsert(endpointsReady(false))
      yield* until("web withdrawn", Effect.sync(() => (l.list("ServiceL2Status").length === 0 ? true : undefined)))
      yield* l.upsert(endpointsReady(true))
      yield* until("web announced again", Effect.sync(() => (l.list("ServiceL2Status").length === 1 ? true : undefined)))

      // 3. An invalid configuration: both say so in their ConfigurationState; then it is fixed.
      yield* l.upsert(metallb("IPAddressPool", "broken", { addresses: ["not-an-address"] }))
      const result = (name: string) => ((get("ConfigurationState", name, Namespace)?.["status"] as { result?: string } | undefined)?.result)
      yield* until("the controller reports Invalid", Effect.sync(() => (result("controller") === "Invalid" ? true : undefined)))
      yield* Effect.sync(() => server.objects.delete("metallb.io/v1beta1", "IPAddressPool", Namespace, "broken"))
      yield* until("the controller reports Valid again", Effect.sync(() => (result("controller") === "Valid" ? true : undefined)))

      // 4. The webhook: an AdmissionReview per validating webhook, as the API server would send.
      yield* until("the webhook serves", Effect.promise(() => admit(webhookPort, routes[0]?.path ?? "", {}).then(() => true, () => undefined)))
      for (const r of routes) {
        const operation = r.operations[0] ?? "CREATE"
        const object = server.objects.list(`metallb.io/${r.version}`, r.kind, Namespace)[0] ?? metallb(r.kind, "x", {}, r.version)
        const allowed = yield* Effect.tryPromise({
          try: () => admit(webhookPort, r.path, {
            uid: `uid-${r.kind}`,
            kind: { group: "metallb.io", version: r.version, kind: r.kind },
            resource: { group: "metallb.io", version: r.version, resource: r.resource },
            operation,
            namespace: Namespace,
            name: "x",
            ...(operation === "DELETE" ? { oldObject: object } : { object })
          }),
          catch: labError(`admission of ${r.kind}`)
        })
        assert.isBoolean(allowed, `${r.kind}: an AdmissionReview answer`)
      }

      // 5. A Service goes: its statuses go with it.
      yield* Effect.sync(() => server.objects.delete("v1", "Service", "default", "web-bgp"))
      yield* until("the BGP statuses removed", Effect.sync(() => (l.list("ServiceBGPStatus").length === 0 ? true : undefined)))

      // 6. Repeated Events are counted, not duplicated (a count bump at most every 10 s).
      const counted = (reason: string) =>
        Effect.sync(() => (server.objects.list("v1", "Event", "default").some((e) => e["reason"] === reason && Number(e["count"]) >= 2) ? true : undefined))
      yield* until("AllocationFailed counted twice", counted("AllocationFailed"), "30 seconds")
      yield* until("nodeAssigned counted twice", counted("nodeAssigned"), "30 seconds")

      // 7. Graceful shutdown.
      for (const s of speakers) assert.strictEqual(yield* s.stop("SIGTERM"), 0, `${s.name} exits 0 on SIGTERM`)
      controller.process.kill("SIGTERM")
      assert.strictEqual(yield* Effect.promise(() => controller.exited), 0, `controller exits 0 on SIGTERM:\n${(controller.stdout() + controller.stderr()).slice(-2000)}`)

      const callsOf = (prefix: string) => server.requests().filter((r) => r.token.startsWith(prefix)).map(toCall)
      const controllerCalls = callsOf("controller")
      const speakerCalls = callsOf("speaker-")
      assert.isAbove(controllerCalls.length, 20)
      assert.isAbove(speakerCalls.length, 20)
      assert.deepStrictEqual(server.requests().filter((r) => r.token !== "controller" && !r.token.startsWith("speaker-")).map((r) => r.token), [], "every call carries a component's token")
      for (const [component, calls] of [["controller", controllerCalls], ["speaker", speakerCalls]] as const) {
        const v = verdict(component, calls)
        assert.deepStrictEqual(v.denied, [], `${component}: calls its RBAC refuses`)
        assert.deepStrictEqual(v.unexcused, [], `${component}: granted verbs never used`)
        assert.deepStrictEqual(v.staleExcuses, [], `${component}: verbs listed as unreachable that were used`)
        assert.isTrue(v.sameAsData, `${component}: Rbac.grants and the manifest agree`)
      }
    })), 180_000)
})
