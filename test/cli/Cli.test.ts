import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as Args from "../../src/cli/Args.ts"
import { spec as convertSpec } from "../../src/cli/ConfigConvert.ts"
import { spec as validateSpec } from "../../src/cli/ConfigValidate.ts"
import { cliTimeout, fixture, runCli } from "./runCli.ts"

const parsed = (spec: Args.CommandSpec, args: ReadonlyArray<string>) => Result.getOrThrow(Args.parse(spec, args))
const failure = (spec: Args.CommandSpec, args: ReadonlyArray<string>) => {
  const r = Args.parse(spec, args)
  return Result.isFailure(r) ? r.failure : "parsed"
}

describe("Args", () => {
  it("reads boolean and string flags in every spelling, and positionals around them", () => {
    assert.deepStrictEqual(parsed(convertSpec, ["--only-data", "--namespace", "lb", "f.yaml"]), {
      flags: { "only-data": true, namespace: "lb" },
      positionals: ["f.yaml"],
      help: false
    })
    assert.deepStrictEqual(parsed(convertSpec, ["f.yaml", "--namespace=lb", "--only-data=false"]).flags, { namespace: "lb", "only-data": false })
    assert.deepStrictEqual(parsed(validateSpec, ["a", "--", "--each"]).positionals, ["a", "--each"])
    assert.deepStrictEqual(parsed(validateSpec, ["-"]).positionals, ["-"])
    assert.isTrue(parsed(convertSpec, ["-h"]).help)
  })

  it("names the flag in every error", () => {
    assert.strictEqual(failure(convertSpec, ["--bogus", "f"]), 'unknown flag --bogus for "config convert"')
    assert.strictEqual(failure(convertSpec, ["f", "--namespace"]), "flag --namespace needs a value (--namespace NS)")
    assert.strictEqual(failure(convertSpec, ["--only-data=yes", "f"]), 'flag --only-data takes no value or true/false, got "yes"')
    assert.strictEqual(failure(convertSpec, ["--only-data", "--only-data", "f"]), "flag --only-data given more than once")
    assert.strictEqual(failure(convertSpec, ["-x", "f"]), 'unknown flag "-x" (flags are spelled --name)')
    assert.strictEqual(failure(convertSpec, []), '"config convert" needs FILE')
    assert.strictEqual(failure(convertSpec, ["a", "b"]), '"config convert" takes FILE, got 2 arguments')
    assert.strictEqual(failure(validateSpec, []), '"config validate" needs FILE...')
  })

  it("writes the help from the same declaration", () => {
    const help = Args.help(validateSpec)
    assert.isTrue(help.startsWith("Usage: metallb config validate [flags] FILE...\n"))
    assert.include(help, "  --each          validate each FILE as a configuration of its own")
    assert.include(help, "  --namespace NS  ")
    assert.include(help, "  -h, --help      show this help")
  })
})

describe("metallb (child process)", cliTimeout, () => {
  const runs = {
    none: runCli([]),
    help: runCli(["--help"]),
    unknown: runCli(["frobnicate"]),
    group: runCli(["config"]),
    badFlag: runCli(["config", "convert", "--bogus", "x.yaml"]),
    convertHelp: runCli(["config", "convert", "--help"]),
    missing: runCli(["config", "validate", "does/not/exist.yaml", fixture("docs/configsamples/bgppeer_simple.yaml")]),
    syntax: runCli(["config", "validate", "-"], "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: [\n"),
    notConfigMap: runCli(["config", "convert", fixture("docs/configsamples/bgppeer_simple.yaml")]),
    emptyConfig: runCli(["config", "convert", "-"], "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config}\ndata:\n  config: ''\n"),
    otherConfigMap: runCli(["config", "validate", "-"], "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: web}\ndata:\n  config: 'x: 1'\n")
  }

  it("without arguments prints the usage and exits 2; --help exits 0", async () => {
    const none = await runs.none
    assert.strictEqual(none.code, 2)
    assert.include(none.stdout, "Usage: metallb COMMAND")
    assert.include(none.stdout, "config validate FILE...")
    assert.include(none.stdout, "config convert FILE")
    const help = await runs.help
    assert.strictEqual(help.code, 0)
    assert.strictEqual(help.stdout, none.stdout)
  })

  it("rejects unknown commands and incomplete command words with exit 2", async () => {
    const unknown = await runs.unknown
    assert.strictEqual(unknown.code, 2)
    assert.include(unknown.stderr, 'metallb: unknown command "frobnicate"')
    const group = await runs.group
    assert.strictEqual(group.code, 2)
    assert.include(group.stderr, '"config" needs one of: validate, convert')
  })

  it("names a bad flag and exits 2; command --help exits 0", async () => {
    const bad = await runs.badFlag
    assert.strictEqual(bad.code, 2)
    assert.include(bad.stderr, 'metallb config convert: unknown flag --bogus for "config convert"')
    const help = await runs.convertHelp
    assert.strictEqual(help.code, 0)
    assert.include(help.stdout, "--only-data")
  })

  it("reports a missing file and still validates the others", async () => {
    const r = await runs.missing
    assert.strictEqual(r.code, 1)
    assert.include(r.stderr, "does/not/exist.yaml: no such file")
    assert.include(r.stdout, "bgppeer_simple.yaml:2: BGPPeer metallb-system/peer: valid")
  })

  it("locates YAML syntax errors", async () => {
    const r = await runs.syntax
    assert.strictEqual(r.code, 1)
    assert.match(r.stderr, /^-:\d+:\d+: YAML: /m)
  })

  it("convert explains what it needs", async () => {
    const notConfigMap = await runs.notConfigMap
    assert.strictEqual(notConfigMap.code, 1)
    assert.include(notConfigMap.stderr, 'no ConfigMap with a "config" key in the file (found BGPPeer; use --only-data for a bare config document)')
    const empty = await runs.emptyConfig
    assert.strictEqual(empty.code, 1)
    assert.include(empty.stderr, "-:5:3: bad ConfigMap: no data")
  })

  it("leaves other applications' ConfigMaps with a config key alone", async () => {
    const r = await runs.otherConfigMap
    assert.strictEqual(r.code, 0, r.stderr)
    assert.include(r.stdout, "-:1: ConfigMap web/app: ignored (not MetalLB configuration)")
  })
})
