// The Lease-backed speaker directory against the in-memory API server over HTTP: a hanging API server makes the
// directory not fresh (nobody presumed gone) after one renew period instead of never.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { SpeakerDirectory } from "../../src/election/SpeakerDirectory.ts"
import { KubeClient } from "../../src/k8s/KubeClient.ts"
import * as LeaseDirectory from "../../src/speaker/LeaseDirectory.ts"
import { startApiServer } from "../../src/testing/apiserver/Server.ts"

/** Polls `check` every 20 ms until true, or dies after `ms`. */
const until = (what: string, check: Effect.Effect<boolean>, ms: number) =>
  check.pipe(
    Effect.repeat({ until: (ok) => ok, schedule: Schedule.spaced("20 millis") }),
    Effect.timeoutOrElse({ duration: ms, orElse: () => Effect.die(new Error(`not after ${ms} ms: ${what}`)) })
  )

describe("LeaseDirectory against the in-memory API server", () => {
  it.live("a hanging API server makes the directory stale within a renew period; it is fresh again after", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(Effect.promise(() => startApiServer()), (s) => Effect.promise(() => s.stop()))
      server.objects.upsert({ apiVersion: "v1", kind: "Namespace", metadata: { name: "metallb-system" } })
      yield* Effect.gen(function*() {
        const directory = yield* SpeakerDirectory
        assert.isTrue((yield* directory.snapshot).fresh)
        yield* Effect.promise(() => server.faults.pause("hang"))
        yield* until("stale while the server hangs", Effect.map(directory.snapshot, (s) => !s.fresh), 3_000)
        yield* Effect.promise(() => server.faults.resume())
        yield* until("fresh again", Effect.map(directory.snapshot, (s) => s.fresh), 3_000)
      }).pipe(
        Effect.provide(LeaseDirectory.layer({ namespace: "metallb-system", node: "n1", interfaces: "all", renew: "200 millis" })),
        Effect.provide(KubeClient.layerServer(server.url))
      )
    })))
})
