# Test fixture only (scripts/test-containers.sh): PostgreSQL 15 and Redis 7 from Debian's
# packages, for a machine that reaches no image registry. The postgres container keeps the
# official image's interface (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA,
# pg_isready) and the redis one runs compose.yaml's redis-server command, so both start
# from compose.yaml's settings unchanged.
ARG BASE_IMAGE=debian:bookworm-slim
# hadolint ignore=DL3006
FROM ${BASE_IMAGE}
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
# Debian's package would create and start a cluster of its own; the entrypoint makes one.
# hadolint ignore=DL3008
RUN mkdir -p /etc/postgresql-common \
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf \
 && apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15 redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql /data \
 && chown postgres:postgres /var/lib/postgresql/data /var/run/postgresql \
 && chown redis:redis /data
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
# The redis container runs as --user redis.
# hadolint ignore=DL3066
USER postgres
EXPOSE 5432 6379
CMD ["postgres-entrypoint"]
