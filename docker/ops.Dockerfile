# The operations image: the monthly restore drill (its default), and the backup and
# Redis snapshot scripts, with what they need: Python and the pinned PyPI tools of
# scripts/lifecycle/requirements.txt, the PostgreSQL client (pg_restore, psql),
# redis-server (the drill's dry-run dispatcher gets a private one) and the dispatcher.
#
#   docker build -f docker/ops.Dockerfile \
#     --build-arg DISPATCHER_IMAGE=<registry>/eventflow-staging/dispatcher:<sha> -t eventflow/ops .
#   docker run --rm eventflow/ops --s3 s3://bucket/postgres/ --admin-url postgres://...
#   docker run --rm --entrypoint scripts/backup-postgres eventflow/ops --database-url ... --s3 ...
#
# BINARIES chooses where the dispatcher comes from:
#   image     (default, the pipeline) copied out of the dispatcher image of the same
#             commit (DISPATCHER_IMAGE): the drill starts exactly the binary that is
#             deployed, and the pipeline compiles it once, not twice.
#   prebuilt  bin/dispatcher of the build context (scripts/test-ops-image.sh puts the
#             host's `cargo build --release` output there), as docker/Dockerfile does.
#
# PG_MAJOR is the PostgreSQL client's major version. pg_restore refuses dumps from a newer
# pg_dump, so it must be >= the server's (RDS runs 16). Bookworm itself ships 15; any other
# version comes from the PostgreSQL project's apt repository (apt.postgresql.org), set up
# with the signing key that Debian's postgresql-common carries. The offline test passes
# PG_MAJOR=15 (its server is 15 and only Debian's mirror is reachable there).

ARG BASE_IMAGE=debian:bookworm-slim
ARG DISPATCHER_IMAGE=eventflow/dispatcher:latest
ARG BINARIES=image

# hadolint ignore=DL3006
FROM ${DISPATCHER_IMAGE} AS dispatcher-image

FROM ${BASE_IMAGE} AS dispatcher-prebuilt
COPY bin/dispatcher /usr/local/bin/dispatcher

# hadolint ignore=DL3006
FROM dispatcher-${BINARIES} AS dispatcher

FROM ${BASE_IMAGE} AS ops
ARG PG_MAJOR=16
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="eventflow-ops" \
      org.opencontainers.image.description="EventFlow operations: the monthly restore drill, PostgreSQL backups, Redis snapshots" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.vendor="EventFlow" \
      org.opencontainers.image.licenses="Apache-2.0"
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]

# Debian's packages are whatever bookworm carries today (security updates included), so
# they are not version-pinned; the Python tools below are.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv redis-server \
 && if [ "$PG_MAJOR" != 15 ]; then \
      apt-get install -y --no-install-recommends postgresql-common \
      && /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y; \
    fi \
 && apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}" \
 && /usr/lib/postgresql/"${PG_MAJOR}"/bin/pg_restore --version \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/eventflow
# The requirements first: the virtualenv layer stays cached while only the scripts change.
# python-env.sh makes the venv and its stamp here, so the scripts find it ready at run time
# and never reach PyPI. A build behind a TLS-inspecting proxy passes its CA bundle as the
# optional build secret pip_cert (`--secret id=pip_cert,src=...`); it stays out of the image.
ENV EVENTFLOW_OPS_VENV=/opt/ops-venv
COPY scripts/lifecycle/requirements.txt scripts/lifecycle/python-env.sh scripts/lifecycle/
RUN --mount=type=secret,id=pip_cert,required=false \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi \
 && . scripts/lifecycle/python-env.sh \
 && "$OPS_PYTHON" -c 'import boto3, psycopg; print("boto3", boto3.__version__, "psycopg", psycopg.__version__)' \
 && find /opt/ops-venv -name __pycache__ -prune -exec rm -rf {} +
COPY scripts/restore-drill scripts/backup-postgres scripts/redis-snapshot scripts/
COPY scripts/lifecycle/ scripts/lifecycle/
COPY --from=dispatcher /usr/local/bin/dispatcher /usr/local/bin/dispatcher

ENV PG_BIN=/usr/lib/postgresql/${PG_MAJOR}/bin \
    EVENTFLOW_DISPATCHER_BIN=/usr/local/bin/dispatcher \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp
# A one-shot task: nothing listens, so nothing to probe.
HEALTHCHECK NONE
USER 65532:65532
ENTRYPOINT ["scripts/restore-drill"]
CMD ["--help"]
