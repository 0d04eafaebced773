/**
 * Builders for `metallb.io` objects in tests: `pool("a", { addresses: [...] })` and friends.
 */
import { Result } from "effect"
import type { ConfigError } from "../../src/config/ConfigError.ts"
import { type ConfigInput, type ParseOptions, parseConfig, type Parsed } from "../../src/config/Parse.ts"

const ns = "metallb-system"

const make = (apiVersion: string, kind: string) =>
(name: string, spec: Record<string, unknown> = {}, meta: Record<string, unknown> = {}) => ({
  apiVersion,
  kind,
  metadata: { name, namespace: ns, ...meta },
  spec
})

export const pool = make("metallb.io/v1beta1", "IPAddressPool")
export const l2 = make("metallb.io/v1beta1", "L2Advertisement")
export const bgpAd = make("metallb.io/v1beta1", "BGPAdvertisement")
export const peer = make("metallb.io/v1beta2", "BGPPeer")
export const peerV1beta1 = make("metallb.io/v1beta1", "BGPPeer")
export const bfd = make("metallb.io/v1beta1", "BFDProfile")
export const community = make("metallb.io/v1beta1", "Community")

export const node = (name: string, labels: Record<string, string> = {}) => ({ metadata: { name, labels } })
export const namespace = node
export const secret = (name: string, type: string, data: Record<string, string>) => ({
  metadata: { name, namespace: ns },
  type,
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")]))
})

/** A minimal valid eBGP peer spec, to be extended by a test. */
export const peerSpec = (extra: Record<string, unknown> = {}) => ({
  myASN: 64500,
  peerASN: 64501,
  peerAddress: "192.0.2.1",
  ...extra
})

export const parseOk = (input: ConfigInput, options?: ParseOptions): Parsed => {
  const result = parseConfig(input, options)
  if (Result.isFailure(result)) {
    throw new Error(`expected a valid config, got:\n${result.failure.errors.map((e) => e.message).join("\n")}`)
  }
  return result.success
}

export const parseErrors = (input: ConfigInput, options?: ParseOptions): ReadonlyArray<ConfigError> => {
  const result = parseConfig(input, options)
  if (Result.isSuccess(result)) throw new Error("expected errors, the config was accepted")
  return result.failure.errors
}
