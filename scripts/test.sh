#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a used one: makes sure
# PostgreSQL and Redis answer (installing and starting them when missing),
# that Chromium and playwright-core are there for the browser checks,
# checks formatting and lints, runs every test, then drops the databases the
# tests created.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh

ensure_postgres
ensure_redis
ensure_browser

# The dispatcher's signature tests check deliveries with the Standard Webhooks
# reference library (Python), an implementation independent of ours.
# The query API's tests validate /openapi.json with openapi-spec-validator.
STANDARDWEBHOOKS_VERSION=1.1.0
OPENAPI_VALIDATOR_VERSION=0.7.2
if ! target/pyenv/bin/python -c "import sys, openapi_spec_validator, standardwebhooks as s; sys.exit(s.__version__ != '$STANDARDWEBHOOKS_VERSION')" 2>/dev/null; then
  log "installing standardwebhooks $STANDARDWEBHOOKS_VERSION and openapi-spec-validator $OPENAPI_VALIDATOR_VERSION into target/pyenv"
  python3 -m venv target/pyenv
  target/pyenv/bin/pip install --quiet "standardwebhooks==$STANDARDWEBHOOKS_VERSION" \
    "openapi-spec-validator==$OPENAPI_VALIDATOR_VERSION"
fi
export EVENTFLOW_TEST_PYTHON="$PWD/target/pyenv/bin/python"

log "cargo fmt --check"
cargo fmt --all --check

log "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

drop_test_databases() {
  log "dropping the databases the tests created"
  psql -h 127.0.0.1 -U postgres -d postgres -Atc \
    "SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE);', datname)
     FROM pg_database WHERE datname LIKE 'eventflow\_test\_%'" 2>/dev/null |
    psql -h 127.0.0.1 -U postgres -d postgres -q >/dev/null 2>&1 || true
}
trap drop_test_databases EXIT

if cargo nextest --version >/dev/null 2>&1; then
  log "cargo nextest run (workspace)"
  cargo nextest run --workspace
else
  log "cargo test (workspace; cargo-nextest not installed)"
  cargo test --workspace
fi
