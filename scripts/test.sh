#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a used one: makes sure
# PostgreSQL and Redis answer (installing and starting them when missing),
# that Chromium and playwright-core are there for the browser checks,
# checks formatting and lints, runs every cargo test, then the suites of
# scripts/test-*.sh (API schema, dependencies, unused dependencies, data
# lifecycle, Terraform, dashboard, containers), and drops the databases the
# tests created.
# Ends with "suites: N passed, M failed"; exits non-zero when any failed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh

ensure_postgres
ensure_redis
ensure_browser
# The receiver examples (examples/receivers) run against real deliveries in
# the CLI's tests; Go is the one toolchain the machine may lack.
command -v go >/dev/null 2>&1 || apt_install golang-go

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

passed=0
failed=()
if cargo nextest --version >/dev/null 2>&1; then
  log "cargo nextest run (workspace)"
  cargo nextest run --workspace && passed=1 || failed+=("cargo tests")
else
  log "cargo test (workspace; cargo-nextest not installed)"
  cargo test --workspace && passed=1 || failed+=("cargo tests")
fi

# The suites beyond cargo's: each script installs and starts what it needs,
# and says plainly when something cannot run on this machine.
#   test-api-schema  schemathesis against the query API's /openapi.json
#   test-deny        cargo deny: licences, bans, sources (advisories when reachable)
#   test-machete     cargo machete: no crate declares a dependency it does not use
#   test-lifecycle   backup, restore drill, Redis snapshot, rollback, PITR resume (moto)
#   test-terraform   terraform fmt/validate/plan/apply against moto, checkov, actionlint, drift
#   test-frontend    the dashboard: Vitest, build, end-to-end in Debian's Chromium
#   test-containers  every image built and the stack run in a real container engine
#   test-ops-image   the restore drill's image runs a real drill
#   test-readme      every sh block of README.md against scripts/dev.sh
# The fuzz targets run by hand or on a schedule: scripts/fuzz.sh [SECONDS].
# EVENTFLOW_SKIP_SUITES="test-frontend …" leaves suites out (the GitHub CI
# workflow runs some of them as jobs of their own).
for suite in test-api-schema test-deny test-machete test-lifecycle test-terraform test-frontend test-containers test-ops-image test-readme; do
  case " ${EVENTFLOW_SKIP_SUITES:-} " in
    *" $suite "*) log "skipped: $suite (EVENTFLOW_SKIP_SUITES)"; continue ;;
  esac
  log "scripts/$suite.sh"
  started=$SECONDS
  if bash "scripts/$suite.sh"; then
    passed=$((passed + 1))
    log "$suite passed in $((SECONDS - started)) s"
  else
    failed+=("$suite")
    log "$suite FAILED after $((SECONDS - started)) s"
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then log "failed: ${failed[*]}"; fi
echo "suites: $passed passed, ${#failed[@]} failed"
[ "${#failed[@]}" -eq 0 ]
