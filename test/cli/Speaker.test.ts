import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as Args from "../../src/cli/Args.ts"
import * as Speaker from "../../src/cli/Speaker.ts"

const io = (files: Record<string, string> = {}) => ({
  namespaceFile: () => undefined,
  readFile: (path: string) => files[path],
  defaultExcluded: ["^lo$"]
})

const parse = (argv: ReadonlyArray<string>, env: Record<string, string> = {}, files: Record<string, string> = {}) => {
  const args = Args.parse(Speaker.spec, argv)
  if (Result.isFailure(args)) return Result.fail(args.failure)
  return Speaker.options(args.success, env, io(files))
}

const ok = (r: Result.Result<Speaker.Options, string>) => {
  if (Result.isFailure(r)) throw new Error(r.failure)
  return r.success
}
const err = (r: Result.Result<Speaker.Options, string>) => (Result.isFailure(r) ? r.failure : "no error")

describe("metallb speaker flags", () => {
  it("needs the node name, from the flag or METALLB_NODE_NAME", () => {
    assert.match(err(parse([])), /--node-name: required \(or env METALLB_NODE_NAME\)/)
    assert.strictEqual(ok(parse([], { METALLB_NODE_NAME: "n1" })).node, "n1")
    assert.strictEqual(ok(parse(["--node-name", "n2"], { METALLB_NODE_NAME: "n1" })).node, "n2")
  })

  it("runs layer 2 unless --disable-layer2 (BGP only, for the sandbox)", () => {
    assert.isTrue(ok(parse(["--node-name", "n"])).layer2)
    assert.isFalse(ok(parse(["--node-name", "n", "--disable-layer2"])).layer2)
  })

  it("has MetalLB's defaults", () => {
    const o = ok(parse(["--node-name", "n"]))
    assert.strictEqual(o.namespace, "metallb-system")
    assert.strictEqual(o.metricsPort, 9120)
    assert.strictEqual(o.healthProbePort, 17472)
    assert.strictEqual(o.loadBalancerClass, undefined)
    assert.isFalse(o.ignoreExcludeLB)
    assert.deepStrictEqual(o.timing, { interval: 200, deadAfter: 800, rejoinAfter: 2000 })
    assert.deepStrictEqual(o.excluded, ["^lo$"])
    assert.strictEqual(o.bgpListenPort, undefined)
  })

  it("reads the environment and the flags", () => {
    const o = ok(parse(
      ["--node-name", "n", "--lb-class", "x/y", "--ignore-exclude-lb", "--port", "0", "--l2-profile", "fast", "--l2-dead-after", "300", "--bgp-listen-port", "1179"],
      { METALLB_NAMESPACE: "lb", METALLB_POD_NAME: "speaker-abc", METALLB_ML_SECRET_KEY_PATH: "/etc/ml" }
    ))
    assert.strictEqual(o.namespace, "lb")
    assert.strictEqual(o.podName, "speaker-abc")
    assert.strictEqual(o.secretKeyPath, "/etc/ml")
    assert.strictEqual(o.loadBalancerClass, "x/y")
    assert.isTrue(o.ignoreExcludeLB)
    assert.strictEqual(o.metricsPort, 0)
    assert.deepStrictEqual(o.timing, { interval: 50, deadAfter: 300, rejoinAfter: 500 })
    assert.strictEqual(o.bgpListenPort, 1179)
  })

  it("names the flag that is wrong", () => {
    assert.match(err(parse(["--node-name", "n", "--port", "http"])), /^flag --port: "http" is not a port number/)
    assert.match(err(parse(["--node-name", "n", "--l2-profile", "slow"])), /^flag --l2-profile: "slow" is not one of default, fast/)
    assert.match(err(parse(["--node-name", "n", "--l2-dead-after", "100"])), /^flag --l2-dead-after: 100 ms must be at least twice/)
    assert.match(err(parse(["--node-name", "n", "--namespace", "Bad_NS"])), /^flag --namespace:/)
    assert.match(err(parse(["--node-name", "n", "--log-level", "loud"])), /^flag --log-level:/)
    assert.match(err(parse(["--node-name", "n", "--excluded-interfaces", "/nope"])), /^flag --excluded-interfaces: \/nope: no such file/)
  })

  it("reads MetalLB's excludel2.yaml", () => {
    const text = "announcedInterfacesToExclude:\n  - ^docker.*\n  - ^eth9$\n"
    assert.deepStrictEqual(ok(parse(["--node-name", "n"], {}, { [Speaker.defaultExcludeFile]: text })).excluded, ["^docker.*", "^eth9$"])
    assert.deepStrictEqual(ok(parse(["--node-name", "n", "--excluded-interfaces", "/x.yaml"], {}, { "/x.yaml": "announcedInterfacesToExclude: []\n" })).excluded, [])
    assert.match(err(parse(["--node-name", "n", "--excluded-interfaces", "/x.yaml"], {}, { "/x.yaml": "announcedInterfacesToExclude: ['(']\n" })), /is not a regular expression/)
    assert.match(err(parse(["--node-name", "n", "--excluded-interfaces", "/x.yaml"], {}, { "/x.yaml": "announcedInterfacesToExclude: 3\n" })), /must be a list of strings/)
  })
})
