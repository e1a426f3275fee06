# syntax=docker/dockerfile:1
#
# kube-log-enricher container image.
#
#   docker build -t kube-log-enricher .
#   docker run --rm -p 8080:8080 -e KLE_SERVER_LISTEN=0.0.0.0:8080 kube-log-enricher demo
# (demo needs no cluster; the service binds 127.0.0.1 unless told otherwise.)
#
# Base image: the official Node 24 image, Debian slim variant, for every stage.
# - Official image: security rebuilds from the Node and Debian teams, same Node the
#   project tests on (package.json pins the `node` dev dependency to 24.21.0).
# - Slim glibc rather than Alpine (musl) or distroless: the image stays on the
#   toolchain the project is tested with, and keeps a shell and coreutils, which the
#   Helm chart's data-dir init container (`chown`) and `kubectl exec` debugging use.
#   The agent runs with a read-only root file system, so the extra tools cannot be
#   used to modify the image at run time.
# Release builds pin the digest: --build-arg NODE_IMAGE=node:24.21-bookworm-slim@sha256:...
ARG NODE_IMAGE=node:24.21-bookworm-slim

# --- production dependencies only --------------------------------------------
# A stage of its own, so the runtime never sees a dev dependency (tsc, tap, and the
# `node` package, which is a second Node binary). No dependency needs an install
# script that matters (protobufjs' postinstall only prints a version hint), so none is run.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- compile TypeScript to dist/ ---------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the `node` dev dependency downloads a Node binary in its
# preinstall script (outside the lockfile's integrity checks). Skipped, it links no
# node_modules/.bin/node, so `npm run build` runs tsc on this image's Node 24.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund
# Everything .dockerignore lets through: sources, bin/, tsconfigs, openapi/, proto/.
COPY . .
# openapi/ may not exist in a fresh clone before the document is committed; the
# runtime stage copies it either way.
RUN npm run build && mkdir -p openapi

# --- runtime -----------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
# A smaller young generation: measured (bench/agent.bench.ts) to cut peak RSS at no throughput
# cost. The Helm chart also caps the old space (its nodeOptions value), sized to its memory limit.
ENV NODE_OPTIONS=--max-semi-space-size=8
# Two malloc arenas instead of glibc's up to 8 per core: 5-7 MiB less peak RSS with 2,000
# followed files, same throughput (bench/memory.bench.ts; the chart's mallocArenaMax value).
ENV MALLOC_ARENA_MAX=2
# A dedicated numeric user (65532, the "nonroot" convention), not the image's `node`
# user (1000), which is often a real person's UID on the host whose /var/log we mount.
# Reading /var/log/pods as non-root: containerd writes log files 0640 root:root, so
# group 0 is enough (the Helm chart adds supplementalGroups [0]); CRI-O writes 0600
# and needs UID 0 (chart: securityContext.runAsUser=0). The checkpoint directory
# below exists for plain `docker run`; in Kubernetes it is a hostPath volume.
RUN groupadd --gid 65532 kle \
 && useradd --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin kle \
 && mkdir -p /var/lib/kube-log-enricher \
 && chown 65532:65532 /var/lib/kube-log-enricher
WORKDIR /app
# Root-owned, read-only to the service: it writes only to the data dir and /tmp.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
COPY --from=build /app/openapi ./openapi
# The live-tail page's static files, served at / (src/server/ui/assets.ts finds them beside dist/).
COPY --from=build /app/ui ./ui
# The protocol definitions the OTLP receiver loads at run time (src/otlp/proto.ts).
COPY --from=build /app/proto ./proto
USER 65532:65532
# The API port. The service binds 127.0.0.1:8080 unless configured otherwise; the
# Helm chart sets KLE_SERVER_LISTEN=0.0.0.0:8080 so the Service and probes reach it.
EXPOSE 8080
# No HEALTHCHECK: Kubernetes probes GET /healthz and /readyz.
# Node runs as PID 1 and handles SIGTERM itself (graceful flush and checkpoint);
# it starts no child processes, so no init process is needed to reap zombies.
ENTRYPOINT ["node", "/app/bin/kube-log-enricher.js"]
CMD ["agent"]
