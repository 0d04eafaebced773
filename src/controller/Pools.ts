/**
 * The validated configuration's pools → the allocator's pool type. The allocator keeps its own structural view of a
 * pool (it does not depend on the configuration model); this is the one place the two meet.
 *
 * @since 0.1.0
 */
import type * as Pool from "../allocator/Pool.ts"
import type * as Config from "../config/Config.ts"
import * as LabelSelector from "../config/LabelSelector.ts"

/** A parsed selector as a metav1 LabelSelector (`a=b` becomes `a In [b]`). */
export const toLabelSelector = (selector: LabelSelector.Selector): Pool.LabelSelector => ({
  matchExpressions: selector.requirements.map((r) => ({
    key: r.key,
    operator: r.operator === "Equals" ? "In" : r.operator,
    values: r.values
  }))
})

const toServiceAllocation = (sa: Config.ServiceAllocation): Pool.ServiceAllocation => ({
  priority: sa.priority,
  namespaces: new Set(sa.namespaces),
  // The configuration spells "restricts nothing but priority" as one match-everything selector.
  serviceSelectors: sa.serviceSelectors.filter((s) => !LabelSelector.isEverything(s)).map(toLabelSelector),
  matchesEverything: sa.serviceSelectors.some(LabelSelector.isEverything)
})

export const toAllocatorPool = (pool: Config.Pool): Pool.Pool => ({
  name: pool.name,
  cidrs: pool.cidrs,
  autoAssign: pool.autoAssign,
  avoidBuggyIPs: pool.avoidBuggyIPs,
  ...(pool.serviceAllocation === undefined ? {} : { serviceAllocation: toServiceAllocation(pool.serviceAllocation) })
})

export const fromConfig = (config: Config.Config): ReadonlyArray<Pool.Pool> => config.pools.map(toAllocatorPool)
