# The EventFlow dashboard image (Next.js `output: "standalone"`):
#
#   docker build -f docker/dashboard.Dockerfile -t eventflow/dashboard .
#
# DASHBOARD chooses where the built app comes from; everything after that is shared:
#   npm       (default, the pipeline) `npm ci` and `npm run build` of frontend/ here, the
#             dependencies in a layer of their own (keyed on package-lock.json).
#   prebuilt  copied from the build context: app/ (the contents of frontend/.next/standalone
#             with .next/static and public/ added) and node (a node binary), as laid out by
#             scripts/test-containers.sh from the host's `npm run build` and the host's node.
#             The build stage is then BASE_IMAGE (Debian bookworm with CA certificates).
#
# The runtime starts FROM scratch: node, the shared libraries `ldd` lists for it, the CA
# bundle when the build stage has one (node also carries its own), passwd/group for the non-root user, and the standalone server. No shell, no npm.
# The app reads EVENTFLOW_QUERY_URL (the query API, server side only) at run time.
# BuildKit is required (it builds only the stages the target needs).

ARG NODE_IMAGE=node:20-bookworm-slim
ARG BASE_IMAGE=debian:bookworm-slim
ARG DASHBOARD=npm

# ---- build: the pipeline's path ---------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /src
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM deps AS app-npm
ENV NEXT_TELEMETRY_DISABLED=1
COPY frontend/ ./
RUN npm run build \
 && mkdir -p /out \
 && cp -R .next/standalone /out/app \
 && cp -R .next/static /out/app/.next/static \
 && if [ -d public ]; then cp -R public /out/app/public; fi \
 && cp "$(command -v node)" /out/node

# ---- build: app built on the host (the test's path) -------------------------------------
FROM ${BASE_IMAGE} AS app-prebuilt
COPY app/ /out/app/
COPY node /out/node

# ---- the runtime filesystem -------------------------------------------------------------
# hadolint ignore=DL3006
FROM app-${DASHBOARD} AS rootfs
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
RUN mkdir -p /rootfs/etc/ssl/certs /rootfs/usr/local/bin /rootfs/tmp \
 && ldd /out/node | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $2 ~ /^\(0x/ { print $1 }' \
      | sort -u | while read -r lib; do cp --parents -L "$lib" /rootfs/; done \
 && if ldd /out/node | grep 'not found'; then exit 1; fi \
 && if [ -f /etc/ssl/certs/ca-certificates.crt ]; then cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/; fi \
 && echo 'nonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin' > /rootfs/etc/passwd \
 && echo 'nonroot:x:65532:' > /rootfs/etc/group \
 && printf 'hosts: files dns\n' > /rootfs/etc/nsswitch.conf \
 && cp /out/node /rootfs/usr/local/bin/node \
 && chmod 1777 /rootfs/tmp

# ---- runtime ------------------------------------------------------------------------------
FROM scratch AS dashboard
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=unknown
LABEL org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.vendor="EventFlow" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.title="dashboard" \
      org.opencontainers.image.description="EventFlow dashboard (Next.js standalone server)"
COPY --from=rootfs /rootfs/ /
# Next.js writes its cache under .next/: the app belongs to the user it runs as.
COPY --from=rootfs --chown=65532:65532 /out/app /app
WORKDIR /app
# HOSTNAME is the address server.js binds; Docker sets it to the container id otherwise.
ENV NODE_ENV=production \
    NEXT_TELEMETRY_DISABLED=1 \
    HOSTNAME=0.0.0.0 \
    PORT=3000 \
    EVENTFLOW_QUERY_URL=http://query-api:8081
USER 65532:65532
EXPOSE 3000
STOPSIGNAL SIGTERM
# No curl and no shell: node itself asks. Any answer below 500 means the server is up
# (pages may redirect to sign-in); a refused connection or a 5xx is unhealthy.
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/node", "-e", "require('http').get({host:'127.0.0.1',port:process.env.PORT||3000,path:'/',timeout:2500},r=>process.exit(r.statusCode<500?0:1)).on('error',()=>process.exit(1)).on('timeout',()=>process.exit(1))"]
ENTRYPOINT ["/usr/local/bin/node", "server.js"]
