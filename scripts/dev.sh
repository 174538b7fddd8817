#!/usr/bin/env bash
# Runs the whole EventFlow stack in one process (`eventflow dev`) on this
# machine: makes sure PostgreSQL and Redis answer first (installing and
# starting them when missing). Extra arguments go to `eventflow dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh

ensure_postgres
ensure_redis

log "building and starting eventflow dev"
exec cargo run --release --quiet -p eventflow-cli --bin eventflow -- dev "$@"
