// Controller stand-in for the footprint bench: `node bench/footprint/controller.ts --kubeconfig K`. Watches what
// the controller watches (Services, Namespaces, the config CRs), parses the config with the real parser, then idles.
// No allocation: the allocator is the controller branch's.
import { Effect, Result } from "effect"
import { parseConfig } from "../../src/config/Parse.ts"
import { Namespaces, Services } from "../../src/k8s/Resource.ts"
import { configKinds, configLists, informers, run } from "./StandIn.ts"

run("controller", Effect.gen(function*() {
  const cluster = yield* informers({ services: Services, namespaces: Namespaces, ...configKinds })
  const lists = yield* configLists(cluster)
  const parsed = parseConfig({ ...lists, namespaces: yield* cluster.namespaces.list })
  if (Result.isFailure(parsed)) return yield* Effect.die(new Error(`config rejected: ${parsed.failure.errors.map((e) => e.message).join("; ")}`))
  return { services: (yield* cluster.services.list).length, pools: parsed.success.config.pools.length }
}))
