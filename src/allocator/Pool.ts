/**
 * The allocator's view of an address pool: structural and minimal, so a validated `IPAddressPool` (or a legacy
 * ConfigMap pool) maps onto it without the allocator depending on the configuration model.
 *
 * @since 0.1.0
 */
import type * as Cidr from "../net/Cidr.ts"

/** One metav1 `LabelSelectorRequirement`. */
export interface LabelSelectorRequirement {
  readonly key: string
  readonly operator: "In" | "NotIn" | "Exists" | "DoesNotExist"
  readonly values?: ReadonlyArray<string>
}

/** A metav1 `LabelSelector`: all `matchLabels` and all `matchExpressions` must hold; an empty one matches all. */
export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>
  readonly matchExpressions?: ReadonlyArray<LabelSelectorRequirement>
}

/** `spec.serviceAllocation` of an IPAddressPool, with namespace selectors already resolved to names. */
export interface ServiceAllocation {
  /** Lower is preferred; 0 means "no priority" and sorts after every positive priority. */
  readonly priority: number
  /** Namespaces from `namespaces` plus those matched by `namespaceSelectors`; empty = no namespace restriction. */
  readonly namespaces: ReadonlySet<string>
  /** Any one must match the Service's labels; empty = no label restriction. */
  readonly serviceSelectors: ReadonlyArray<LabelSelector>
  /**
   * The pool takes part in the selector-pinned phase for every Service. MetalLB gives a `serviceAllocation` that
   * restricts nothing (only `priority`) a selector that matches everything, so such pools are tried, by priority,
   * before the ordinary pools.
   */
  readonly matchesEverything: boolean
}

/** An address pool as the allocator sees it (a validated `IPAddressPool`, mapped as docs/allocation.md says). */
export interface Pool {
  readonly name: string
  /** In `spec.addresses` order; ranges already summarised into CIDRs. Pools never overlap (config rejects it). */
  readonly cidrs: ReadonlyArray<Cidr.Cidr>
  readonly autoAssign: boolean
  /** Skip IPv4 addresses ending in .0 or .255. */
  readonly avoidBuggyIPs: boolean
  readonly serviceAllocation?: ServiceAllocation
}

const requirementMatches = (req: LabelSelectorRequirement, labels: Readonly<Record<string, string>>): boolean => {
  const has = Object.hasOwn(labels, req.key)
  const value = labels[req.key]
  switch (req.operator) {
    case "In":
      return has && value !== undefined && (req.values ?? []).includes(value)
    case "NotIn":
      return !has || value === undefined || !(req.values ?? []).includes(value)
    case "Exists":
      return has
    case "DoesNotExist":
      return !has
  }
}

/** metav1 label-selector semantics (`LabelSelectorAsSelector(...).Matches`). */
export const selectorMatches = (selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean => {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false
  }
  return (selector.matchExpressions ?? []).every((req) => requirementMatches(req, labels))
}

/**
 * MetalLB's `isPoolCompatibleWithService`: the namespace restriction (if any) and the label restriction (if any)
 * must both hold. Applies to automatic allocation, explicit requests and re-validation alike.
 */
export const isCompatible = (
  pool: Pool,
  service: { readonly namespace: string; readonly labels: Readonly<Record<string, string>> }
): boolean => {
  const sa = pool.serviceAllocation
  if (sa === undefined) return true
  if (sa.namespaces.size > 0 && !sa.namespaces.has(service.namespace)) return false
  if (sa.serviceSelectors.length > 0) return sa.serviceSelectors.some((s) => selectorMatches(s, service.labels))
  return true
}

/** Pools tried in the pinned phase for this Service's namespace (before any selector match is checked). */
export const isPinnedCandidate = (pool: Pool, namespace: string): boolean => {
  const sa = pool.serviceAllocation
  if (sa === undefined) return false
  return sa.namespaces.has(namespace) || sa.serviceSelectors.length > 0 || sa.matchesEverything
}

/**
 * Pinned-pool order: positive priorities ascending, then priority 0. MetalLB's sort is unstable (its docs: "the
 * choice will be random"); ties here go by pool name so allocation is reproducible.
 */
export const comparePinned = (a: Pool, b: Pool): number => {
  const pa = a.serviceAllocation?.priority ?? 0
  const pb = b.serviceAllocation?.priority ?? 0
  if (pa !== pb) {
    if (pa === 0) return 1
    if (pb === 0) return -1
    return pa - pb
  }
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0
}
