#!/usr/bin/env bash
# Runs the whole EventFlow stack in one process (`eventflow dev`) on this
# machine, and the dashboard beside it (port 3000) when Node is installed:
# makes sure PostgreSQL and Redis answer first (installing and starting them
# when missing). Extra arguments go to `eventflow dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh

ensure_postgres
ensure_redis

# The dashboard (frontend/) beside the services, on http://127.0.0.1:3000.
if command -v npm >/dev/null 2>&1; then
  log "starting the dashboard on http://127.0.0.1:3000 (log: .eventflow/dashboard.log)"
  mkdir -p .eventflow
  (cd frontend && { [ -d node_modules ] || npm ci --silent --no-audit --no-fund; } &&
    NEXT_TELEMETRY_DISABLED=1 EVENTFLOW_QUERY_URL=${EVENTFLOW_QUERY_URL:-http://127.0.0.1:8081} \
    exec npx next dev -p 3000) > .eventflow/dashboard.log 2>&1 &
  dashboard=$!
  trap 'kill "$dashboard" 2>/dev/null || true' EXIT
else
  log "Node is not installed: the dashboard (frontend/) is not started"
fi

log "building and starting eventflow dev"
cargo run --release --quiet -p eventflow-cli --bin eventflow -- dev "$@"
