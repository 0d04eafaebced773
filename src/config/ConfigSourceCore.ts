/**
 * The decisions behind `ConfigSource`, as pure functions: which source the configuration comes from (the
 * `metallb.io` custom resources or the legacy `config` ConfigMap), what a component parses, what a parse result
 * does to the component's state (keep the last good config on invalid input), and the `ConfigurationState` status
 * a component reports (reference metallb-behavior.md §1.3, §1.7).
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import * as Config from "./Config.ts"
import type { ConfigError } from "./ConfigError.ts"
import type { ConfigInput, Parsed, Rejected } from "./Parse.ts"

/** The name of the legacy ConfigMap. */
export const LegacyConfigMapName = "config"

/** Who reads the configuration: the controller needs pools only; a speaker needs everything that targets its node. */
export type Component =
  | { readonly _tag: "Controller" }
  | { readonly _tag: "Speaker"; readonly node: string }

export const controller: Component = { _tag: "Controller" }
export const speaker = (node: string): Component => ({ _tag: "Speaker", node })

/** `controller` or `speaker-<node>`: the name of the component's ConfigurationState. */
export const stateName = (component: Component): string =>
  component._tag === "Controller" ? "controller" : `speaker-${component.node}`

/** The condition each component owns (MetalLB's reconciler names). */
export const conditionType = (component: Component): string =>
  component._tag === "Controller" ? "poolReconcilerValid" : "configReconcilerValid"

/** Labels of the ConfigurationState (§1.3, §10.4). */
export const stateLabels = (component: Component): Readonly<Record<string, string>> =>
  component._tag === "Controller"
    ? { "metallb.io/component-type": "controller" }
    : { "metallb.io/component-type": "speaker", "metallb.io/node-name": component.node }

/** The configuration objects as listed from the cluster, by kind. */
export interface Objects {
  readonly ipAddressPools: ReadonlyArray<unknown>
  readonly l2Advertisements: ReadonlyArray<unknown>
  readonly bgpAdvertisements: ReadonlyArray<unknown>
  readonly bgpPeers: ReadonlyArray<unknown>
  readonly bfdProfiles: ReadonlyArray<unknown>
  readonly communities: ReadonlyArray<unknown>
  readonly nodes: ReadonlyArray<unknown>
  readonly namespaces: ReadonlyArray<unknown>
  readonly secrets: ReadonlyArray<unknown>
  /** The `data.config` text of the legacy ConfigMap `config`, when that ConfigMap exists. */
  readonly legacy: string | undefined
}

export type Source = "crds" | "legacy"

/**
 * The rule when both exist: the custom resources win. Any `metallb.io` configuration object (pool, advertisement,
 * peer, BFD profile, community) means the cluster has been converted, and the ConfigMap is then ignored (with a
 * warning): MetalLB ≥ 0.13 reads only the CRs. The ConfigMap is used only while no such object exists.
 */
export const chooseSource = (objects: Objects): Source => {
  const anyCr = objects.ipAddressPools.length + objects.l2Advertisements.length + objects.bgpAdvertisements.length +
      objects.bgpPeers.length + objects.bfdProfiles.length + objects.communities.length > 0
  return anyCr || objects.legacy === undefined ? "crds" : "legacy"
}

/** Whether the legacy ConfigMap is present but ignored because custom resources exist. */
export const legacyIgnored = (objects: Objects): boolean => objects.legacy !== undefined && chooseSource(objects) === "crds"

/**
 * What a component parses. The controller validates only what it uses (pools, with Namespaces for their
 * namespaceSelectors), as MetalLB's pool reconciler does: a broken BGPPeer makes the speakers Invalid, not the
 * controller. A speaker parses everything, and `parseConfig` keeps only the BGP objects that target its node.
 */
export const inputFor = (component: Component, objects: Omit<Objects, "legacy">): ConfigInput =>
  component._tag === "Controller"
    ? { ipAddressPools: objects.ipAddressPools, namespaces: objects.namespaces }
    : {
      ipAddressPools: objects.ipAddressPools,
      l2Advertisements: objects.l2Advertisements,
      bgpAdvertisements: objects.bgpAdvertisements,
      bgpPeers: objects.bgpPeers,
      bfdProfiles: objects.bfdProfiles,
      communities: objects.communities,
      nodes: objects.nodes,
      namespaces: objects.namespaces,
      secrets: objects.secrets
    }

/** The state of a component's configuration. */
export interface Status {
  /** The config in use: the last one that parsed (`undefined` until one has). */
  readonly config: Config.Config | undefined
  /** A config has been loaded at least once (`metallb_k8s_client_config_loaded_bool`). */
  readonly loaded: boolean
  /** The latest input was rejected; `config` is the last good one (`metallb_k8s_client_config_stale_bool`). */
  readonly stale: boolean
  /** Why the latest input was rejected (empty when it was accepted). */
  readonly errors: ReadonlyArray<string>
  /** Where the config in use came from. */
  readonly source: Source | undefined
}

export const initial: Status = { config: undefined, loaded: false, stale: false, errors: [], source: undefined }

/** What a parse result means for the component. */
export type Step =
  /** a new config: hand it to the component */
  | { readonly _tag: "Apply"; readonly status: Status }
  /** parsed to what is already in use (deep equality): nothing to hand over, but the status may change */
  | { readonly _tag: "Unchanged"; readonly status: Status }
  /** rejected: keep the last good config, report why */
  | { readonly _tag: "Reject"; readonly status: Status }

/** The outcome of reading the input, before it is judged against the state. */
export type Outcome = Result.Result<Parsed, Pick<Rejected, "errors"> | { readonly messages: ReadonlyArray<string> }>

const messagesOf = (failure: Pick<Rejected, "errors"> | { readonly messages: ReadonlyArray<string> }): ReadonlyArray<string> =>
  "messages" in failure ? failure.messages : failure.errors.map((e: ConfigError) => e.message)

/** MetalLB §1.7: invalid → keep the last good config and say why; equal to the current one → ignored. */
export const step = (status: Status, outcome: Outcome, source: Source): Step => {
  if (Result.isFailure(outcome)) {
    return { _tag: "Reject", status: { ...status, stale: true, errors: messagesOf(outcome.failure) } }
  }
  const config = outcome.success.config
  const next: Status = { config, loaded: true, stale: false, errors: [], source }
  if (status.config !== undefined && Config.equals(status.config, config)) {
    return { _tag: "Unchanged", status: { ...next, config: status.config } }
  }
  return { _tag: "Apply", status: next }
}

/** One `metav1.Condition`. */
export interface Condition {
  readonly type: string
  readonly status: "True" | "False" | "Unknown"
  readonly reason: string
  readonly message: string
  readonly lastTransitionTime: string
}

export interface StateStatus {
  readonly result: "Valid" | "Invalid" | "Unknown"
  readonly errorSummary: string
  readonly conditions: ReadonlyArray<Condition>
}

/**
 * The ConfigurationState status of a component (§1.3): no config judged yet → `Unknown` without conditions;
 * rejected → condition False / `ConfigurationError` and `Invalid` with the messages joined by newlines; accepted →
 * condition True / `Reconciled` and `Valid`. `lastTransitionTime` moves only when the condition's status changes.
 */
export const stateStatus = (
  component: Component,
  status: Status,
  judged: boolean,
  previous: ReadonlyArray<Condition>,
  now: string
): StateStatus => {
  if (!judged) return { result: "Unknown", errorSummary: "", conditions: [] }
  const type = conditionType(component)
  const valid = !status.stale
  const conditionStatus = valid ? "True" : "False"
  const before = previous.find((c) => c.type === type)
  const condition: Condition = {
    type,
    status: conditionStatus,
    reason: valid ? "Reconciled" : "ConfigurationError",
    message: valid ? "" : status.errors.join("\n"),
    lastTransitionTime: before !== undefined && before.status === conditionStatus ? before.lastTransitionTime : now
  }
  const others = previous.filter((c) => c.type !== type)
  const conditions = [...others, condition].toSorted((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0))
  return aggregate(conditions)
}

/** MetalLB's aggregation over every condition: Invalid if any is False with ConfigurationError, Unknown if none. */
export const aggregate = (conditions: ReadonlyArray<Condition>): StateStatus => {
  if (conditions.length === 0) return { result: "Unknown", errorSummary: "", conditions }
  const failed = conditions.filter((c) => c.status === "False" && c.reason === "ConfigurationError")
  return failed.length > 0
    ? { result: "Invalid", errorSummary: failed.map((c) => c.message).join("\n"), conditions }
    : { result: "Valid", errorSummary: "", conditions }
}

/** Whether the status written on the object already says what we would write (ignoring timestamps' origin). */
export const sameStateStatus = (a: StateStatus, b: unknown): boolean => {
  if (typeof b !== "object" || b === null) return false
  const o = b as { result?: unknown; errorSummary?: unknown; conditions?: unknown }
  if (o.result !== a.result || (o.errorSummary ?? "") !== a.errorSummary) return false
  const conditions = Array.isArray(o.conditions) ? (o.conditions as ReadonlyArray<Partial<Condition>>) : []
  return conditions.length === a.conditions.length &&
    a.conditions.every((c, i) => {
      const w = conditions[i]
      return w !== undefined && w.type === c.type && w.status === c.status && w.reason === c.reason &&
        (w.message ?? "") === c.message
    })
}

/** Reads the conditions of a ConfigurationState object (to keep lastTransitionTime and others' conditions). */
export const conditionsOf = (object: unknown): ReadonlyArray<Condition> => {
  const status = typeof object === "object" && object !== null ? (object as { status?: unknown }).status : undefined
  const list = typeof status === "object" && status !== null ? (status as { conditions?: unknown }).conditions : undefined
  if (!Array.isArray(list)) return []
  return list.flatMap((c: unknown): Array<Condition> => {
    if (typeof c !== "object" || c === null) return []
    const r = c as Record<string, unknown>
    const s = r["status"]
    if (typeof r["type"] !== "string" || (s !== "True" && s !== "False" && s !== "Unknown")) return []
    return [{
      type: r["type"],
      status: s,
      reason: typeof r["reason"] === "string" ? r["reason"] : "",
      message: typeof r["message"] === "string" ? r["message"] : "",
      lastTransitionTime: typeof r["lastTransitionTime"] === "string" ? r["lastTransitionTime"] : ""
    }]
  })
}
