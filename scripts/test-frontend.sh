#!/usr/bin/env bash
# Tests the dashboard (frontend/): type check, Vitest component tests, the
# production build, then end-to-end tests in Debian's Chromium (driven by
# playwright-core; never a downloaded browser) against a real stack started
# by the test: PostgreSQL, Redis, gateway, dispatcher and query API (debug
# binaries from the shared target/), a local receiver and the standalone
# dashboard. Axe-core checks every page in both themes; screenshots of each
# page (light/dark, phone/desktop) land in frontend/test-results/screenshots.
# Installs what is missing (PostgreSQL, Redis, Node, Chromium) on Debian.
#   scripts/test-frontend.sh
# BIN_DIR=dir uses service binaries found there instead of building them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh
started=$(date +%s)

ensure_postgres
ensure_redis
command -v node >/dev/null 2>&1 || apt_install nodejs npm
command -v chromium >/dev/null 2>&1 || apt_install chromium
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "skipped: the dashboard needs Node 20 or newer (found $(node --version))"
  exit 0
fi

if [ -z "${BIN_DIR:-}" ]; then
  log "building the services (debug)"
  cargo build --quiet -p ingest-gateway -p dispatcher -p query-api -p eventflow-cli
  export BIN_DIR=$PWD/target/debug
else
  export BIN_DIR=$(cd "$BIN_DIR" && pwd)
fi

export NEXT_TELEMETRY_DISABLED=1
cd frontend
log "npm ci (frontend)"
npm_ci

passed=0
failed=0
step() {
  local name=$1
  shift
  log "$name"
  if "$@"; then
    passed=$((passed + 1))
  else
    echo "FAILED: $name" >&2
    failed=$((failed + 1))
  fi
}

step "type check" npx tsc --noEmit
step "component tests (vitest)" npx vitest run
if step "production build" npx next build; then
  step "end-to-end tests in Chromium (playwright-core, axe-core)" node e2e/run.mjs
else
  failed=$((failed + 1))
  echo "FAILED: end-to-end tests not run (no build)" >&2
fi

echo "screenshots: frontend/test-results/screenshots/"
echo "frontend: $passed passed, $failed failed ($(( $(date +%s) - started )) s)"
[ "$failed" -eq 0 ]
