// The metallb.io objects (and Secrets, Services, EndpointSlices) the speaker BGP labs configure the real program with.
import type { JsonObject } from "../../src/testing/apiserver/Json.ts"
import * as SpeakerLab from "./speakerLab.ts"

const meta = (name: string) => ({ name, namespace: SpeakerLab.NS })

export interface PeerSpec {
  readonly myASN: number
  readonly peerASN: number
  readonly peerAddress: string
  readonly holdTime?: string
  readonly password?: string
  readonly passwordSecret?: string
  readonly bfdProfile?: string
  /** Only these nodes peer (a `kubernetes.io/hostname In [...]` selector). */
  readonly nodes?: ReadonlyArray<string>
}

export const bgpPeer = (name: string, spec: PeerSpec): JsonObject => ({
  apiVersion: "metallb.io/v1beta2",
  kind: "BGPPeer",
  metadata: meta(name),
  spec: {
    myASN: spec.myASN,
    peerASN: spec.peerASN,
    peerAddress: spec.peerAddress,
    holdTime: spec.holdTime ?? "9s",
    ...(spec.password === undefined ? {} : { password: spec.password }),
    ...(spec.passwordSecret === undefined ? {} : { passwordSecret: { name: spec.passwordSecret, namespace: SpeakerLab.NS } }),
    ...(spec.bfdProfile === undefined ? {} : { bfdProfile: spec.bfdProfile }),
    ...(spec.nodes === undefined
      ? {}
      : { nodeSelectors: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [...spec.nodes] }] }] })
  }
})

export interface AdvertisementSpec {
  readonly pools: ReadonlyArray<string>
  readonly communities?: ReadonlyArray<string>
  readonly localPref?: number
  readonly aggregationLength?: number
  readonly aggregationLengthV6?: number
  readonly peers?: ReadonlyArray<string>
}

export const bgpAdvertisement = (name: string, spec: AdvertisementSpec): JsonObject => ({
  apiVersion: "metallb.io/v1beta1",
  kind: "BGPAdvertisement",
  metadata: meta(name),
  spec: {
    ipAddressPools: [...spec.pools],
    ...(spec.communities === undefined ? {} : { communities: [...spec.communities] }),
    ...(spec.localPref === undefined ? {} : { localPref: spec.localPref }),
    ...(spec.aggregationLength === undefined ? {} : { aggregationLength: spec.aggregationLength }),
    ...(spec.aggregationLengthV6 === undefined ? {} : { aggregationLengthV6: spec.aggregationLengthV6 }),
    ...(spec.peers === undefined ? {} : { peers: [...spec.peers] })
  }
})

export const community = (name: string, aliases: Readonly<Record<string, string>>): JsonObject => ({
  apiVersion: "metallb.io/v1beta1",
  kind: "Community",
  metadata: meta(name),
  spec: { communities: Object.entries(aliases).map(([alias, value]) => ({ name: alias, value })) }
})

export const bfdProfile = (name: string, spec: { readonly receiveInterval: number; readonly transmitInterval: number; readonly detectMultiplier: number }): JsonObject => ({
  apiVersion: "metallb.io/v1beta1",
  kind: "BFDProfile",
  metadata: meta(name),
  spec: { ...spec }
})

/** A `kubernetes.io/basic-auth` Secret holding a BGP password (what `passwordSecret` names). */
export const passwordSecret = (name: string, password: string): JsonObject => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: meta(name),
  type: "kubernetes.io/basic-auth",
  data: { password: Buffer.from(password).toString("base64") }
})

/** A Service with its IP already assigned (no controller in these labs) and a ready endpoint on `node`. */
export const serviceWithEndpoint = (name: string, ip: string, node = "n1"): ReadonlyArray<JsonObject> => [
  SpeakerLab.service(name, ip),
  SpeakerLab.endpoints(name, [node])
]

/** `ConfigurationState` results, for failure messages: `speaker-n1 Invalid: ...`. */
export const configStates = (l: { readonly server: SpeakerLab.SpeakerLab<string>["server"] }): string =>
  l.server.objects.list("metallb.io/v1beta1", "ConfigurationState", SpeakerLab.NS).map((o) => {
    const status = (o["status"] ?? {}) as { result?: string; errorSummary?: string }
    const name = (o["metadata"] as { name?: string } | undefined)?.name ?? "?"
    return `${name} ${status.result ?? "?"}${status.errorSummary === undefined || status.errorSummary === "" ? "" : `: ${status.errorSummary}`}`
  }).join("; ") || "no ConfigurationState yet"
