#!/usr/bin/env bash
# Runs the whole EventFlow stack in one process (`eventflow dev`) on this
# machine, and the dashboard beside it (port 3000) when Node is installed:
# makes sure PostgreSQL and Redis answer first (installing and starting them
# when missing). Extra arguments go to `eventflow dev`; EVENTFLOW_DEV_DASHBOARD=0
# leaves the dashboard out.
#
# The binary is built with the dev profile (optimised less, compiled much
# faster than --release; fine for local use); cargo shows its progress.
# EVENTFLOW_DEV_PROFILE=release builds the release binary instead.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh

profile=${EVENTFLOW_DEV_PROFILE:-dev}
case "$profile" in
  dev) out=debug ;;
  *) out=$profile ;;
esac
bin_dir=${CARGO_TARGET_DIR:-target}/$out

ensure_postgres
ensure_redis

# The dashboard (frontend/) beside the services, on http://127.0.0.1:3000.
dashboard_args=()
if [ "${EVENTFLOW_DEV_DASHBOARD:-1}" = 0 ]; then
  log "EVENTFLOW_DEV_DASHBOARD=0: the dashboard is not started"
elif command -v npm >/dev/null 2>&1; then
  log "starting the dashboard on http://127.0.0.1:3000 (log: .eventflow/dashboard.log)"
  mkdir -p .eventflow
  (cd frontend && { [ -d node_modules ] || npm_ci; } &&
    NEXT_TELEMETRY_DISABLED=1 EVENTFLOW_QUERY_URL=${EVENTFLOW_QUERY_URL:-http://127.0.0.1:8081} \
    exec npx next dev -p 3000) > .eventflow/dashboard.log 2>&1 &
  dashboard=$!
  trap 'kill "$dashboard" 2>/dev/null || true' EXIT
  dashboard_args=(--dashboard-url http://127.0.0.1:3000)
else
  log "Node is not installed: the dashboard (frontend/) is not started"
fi

log "building eventflow ($profile profile; the first build takes a few minutes, later ones seconds)"
cargo build --profile "$profile" -p eventflow-cli --bin eventflow
log "starting eventflow dev ($bin_dir/eventflow; scripts/install.sh puts it on your PATH)"
"$bin_dir/eventflow" dev "${dashboard_args[@]}" "$@"
