import { Effect, Ref } from "effect"
import type { LeaseStoreShape } from "../../src/election/LeaseStore.ts"
import { KubeError } from "../../src/k8s/KubeError.ts"

export type LinkMode = "ok" | "fail" | "hang"

/** A replica's view of a lease store through a link that can fail or hang: a network partition for one replica. */
export const link = (store: LeaseStoreShape, mode: Ref.Ref<LinkMode>): LeaseStoreShape => {
  const gate = <A>(eff: Effect.Effect<A, KubeError>) =>
    Effect.flatMap(Ref.get(mode), (m) =>
      m === "ok"
        ? eff
        : m === "hang"
        ? Effect.never
        : Effect.fail(new KubeError({ reason: "Unavailable", request: "lease", message: "partitioned" })))
  return {
    get: gate(store.get),
    create: (r) => gate(store.create(r)),
    update: (r, v) => gate(store.update(r, v))
  }
}
