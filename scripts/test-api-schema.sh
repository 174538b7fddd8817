#!/usr/bin/env bash
# Property-based test of the query API generated from its own /openapi.json
# (schemathesis, every check enabled, a bounded number of examples).
#
# Starts the query API (built with cargo) against a fresh PostgreSQL database
# and its own Redis key prefix (migrated with `eventflow migrate`), seeds a
# project and an API key through the API itself, then runs schemathesis twice: the operator routes
# (/v1/projects, /v1/api-keys) with the admin token, every other route with the
# project's key. Any finding fails the script.
#
# Settings (environment): EVENTFLOW_TEST_DATABASE_URL (default
# postgres://postgres@127.0.0.1:5432/postgres), EVENTFLOW_TEST_REDIS_URL
# (default redis://127.0.0.1:6379), BIN_DIR (prebuilt binaries; default: build
# debug ones), SCHEMA_MAX_EXAMPLES (default 25 per operation).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SCHEMATHESIS_VERSION=4.32.5
VENV="$ROOT/target/pyenv-schemathesis"
DATABASE_URL_ADMIN=${EVENTFLOW_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
REDIS_URL=${EVENTFLOW_TEST_REDIS_URL:-redis://127.0.0.1:6379}
MAX_EXAMPLES=${SCHEMA_MAX_EXAMPLES:-25}
ADMIN_TOKEN="schema-test-admin-$(date +%s)-$$"
WORK=$(mktemp -d)
API_PID=""
DB_NAME="ef_schema_$(date +%s)_$$"

log() { printf 'test-api-schema: [%s] %s\n' "$(date +%T)" "$*"; }
skip() { printf 'skipped: %s\n' "$*"; exit 0; }

cleanup() {
    if [ -n "$API_PID" ] && kill -0 "$API_PID" 2>/dev/null; then
        kill "$API_PID" 2>/dev/null || true
        wait "$API_PID" 2>/dev/null || true
    fi
    psql -q "$DATABASE_URL_ADMIN" -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# --- tools --------------------------------------------------------------------
command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 python3-venv; }
python3 -m venv --help >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq python3-venv; }
command -v psql >/dev/null || { apt-get update -qq && apt-get install -y -qq postgresql-client; }
if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION" ||
        skip "cannot install schemathesis $SCHEMATHESIS_VERSION from PyPI"
fi

psql -q "$DATABASE_URL_ADMIN" -c "SELECT 1" >/dev/null 2>&1 ||
    skip "PostgreSQL does not answer at $DATABASE_URL_ADMIN"
python3 - "$REDIS_URL" <<'EOF' || skip "Redis does not answer at $REDIS_URL"
import socket, sys, urllib.parse
url = urllib.parse.urlparse(sys.argv[1])
with socket.create_connection((url.hostname or "127.0.0.1", url.port or 6379), timeout=2) as s:
    s.sendall(b"PING\r\n")
    assert s.recv(16).startswith(b"+PONG")
EOF

if [ -n "${BIN_DIR:-}" ]; then
    BIN="$BIN_DIR"
else
    log "building query-api and eventflow (debug)"
    cargo build -q -p query-api -p eventflow-cli
    BIN="$ROOT/target/debug"
fi

# --- a fresh database, a project and a key ------------------------------------
psql -q "$DATABASE_URL_ADMIN" -c "CREATE DATABASE $DB_NAME" >/dev/null
DATABASE_URL=$(python3 -c 'import sys, urllib.parse as u; p = u.urlparse(sys.argv[1]); print(p._replace(path="/" + sys.argv[2]).geturl())' "$DATABASE_URL_ADMIN" "$DB_NAME")
# The key that seals endpoint signing secrets, shared by the CLI and the API.
EVENTFLOW_SECRETS_KEY=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
export EVENTFLOW_DATABASE_URL="$DATABASE_URL" EVENTFLOW_LOG=warn EVENTFLOW_SECRETS_KEY
"$BIN/eventflow" migrate >/dev/null
log "migrated database $DB_NAME"

# --- the query API ------------------------------------------------------------
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
EVENTFLOW_REDIS_URL="$REDIS_URL" \
    EVENTFLOW_REDIS_KEY_PREFIX="schema:$$:" \
    EVENTFLOW_HTTP_ADDR="127.0.0.1:$PORT" \
    EVENTFLOW_GRPC_ADDR="127.0.0.1:0" \
    EVENTFLOW_ADMIN_TOKEN="$ADMIN_TOKEN" \
    EVENTFLOW_INTERNAL_TOKEN="schema-test-internal-$$-0123456789" \
    EVENTFLOW_SECRETS_KEY="${EVENTFLOW_SECRETS_KEY:-$(head -c 32 /dev/urandom | base64)}" \
    EVENTFLOW_DISPATCHER_GRPC_URL="http://127.0.0.1:1" \
    EVENTFLOW_DATABASE_POOL_SIZE=4 \
    "$BIN/query-api" >"$WORK/query-api.log" 2>&1 &
API_PID=$!
for _ in $(seq 1 100); do
    if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$BASE/readyz" 2>/dev/null; then
        break
    fi
    kill -0 "$API_PID" 2>/dev/null || { cat "$WORK/query-api.log"; log "query-api exited"; exit 1; }
    sleep 0.1
done
log "query-api ready at $BASE"

# A project and a key with the read and admin scopes, made through the API.
seed() {
    python3 - "$BASE" "$ADMIN_TOKEN" <<'EOF'
import json, sys, urllib.request
base, admin = sys.argv[1], sys.argv[2]
def post(path, body):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": "Bearer " + admin, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)
project = post("/v1/projects", {"name": "schema-test"})["id"]
key = post("/v1/api-keys", {"project_id": project, "scopes": ["read", "admin"], "name": "schemathesis"})["key"]
print(project, key)
EOF
}
read -r PROJECT_ID API_KEY < <(seed)
log "seeded project $PROJECT_ID"

# --- schemathesis -------------------------------------------------------------
# Every check runs (one worker: with more, Python 3.11 sometimes fails in
# hypothesis with "AST constructor recursion depth mismatch").
# positive_data_acceptance expects a 2xx for every request the schema allows;
# these answers to schema-valid requests are deliberate and
# listed so (cross-field rules OpenAPI cannot state):
#   404  ids that match the id pattern but name nothing in the project;
#   409  conflicts with the resource's state (a paused or disabled endpoint);
#   422  a time range that is reversed or spans more than 10,000 buckets, and
#        the operations' own rules below;
#   503  replay, retry, recovery and test sends: no dispatcher runs here.
cat >"$WORK/schemathesis.toml" <<EOF
[warnings]
# A run whose credentials were refused, or whose patterns could not be used,
# tested nothing: fail it.
fail-on = ["missing_auth", "unsupported_regex", "method_not_allowed"]

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422", "503"]

# (Each block names whole operations: separate include-* keys would match
# every operation that has any of them.)
# Schema-valid requests these operations refuse with 422 on purpose, by rules
# OpenAPI cannot state:
# until must be later than since (a rule between two parameters);
[[operations]]
include-name = "GET /v1/events"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "422", "503"]

# project_id is required with the admin token and optional with an API key
# (a rule on the credentials); expires_at must lie in the future (a rule on
# the clock);
[[operations]]
include-name = ["GET /v1/api-keys", "POST /v1/api-keys"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "422", "503"]

# an endpoint URL must name a public host without user or password, headers
# must not be ones EventFlow or HTTP set, and payload_filter is a small
# language of its own (rules on the values' meaning).
[[operations]]
include-name = ["POST /v1/endpoints", "PATCH /v1/endpoints/{id}"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422", "503"]
EOF

# JSON Schema counts 13346.0 as an integer; the API's integer fields, like
# any typed JSON decoder's, take integers written without a fraction and
# answer 422 to 13346.0. Generated bodies send such numbers as integers.
cat >"$WORK/integral_numbers.py" <<'EOF'
import schemathesis


def _integral(value):
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


@schemathesis.hook
def before_call(context, case, kwargs):
    if isinstance(case.body, (dict, list, float)):
        case.body = _integral(case.body)
EOF

run_schemathesis() {
    local name=$1 token=$2
    shift 2
    log "schemathesis: $name"
    # From $WORK, so that schemathesis's .schemathesis cache stays out of the tree.
    (cd "$WORK" && PYTHONPATH="$WORK" SCHEMATHESIS_HOOKS=integral_numbers \
        "$VENV/bin/st" --config-file "$WORK/schemathesis.toml" run "$BASE/openapi.json" \
        --checks all \
        --phases examples,coverage,fuzzing \
        --max-examples "$MAX_EXAMPLES" \
        --workers 1 \
        --request-timeout 10 \
        --seed 20261207 \
        --suppress-health-check too_slow,filter_too_much \
        -H "Authorization: Bearer $token" \
        "$@")
}

passed=0
failed=0
# Project routes first: the operator run may revoke the seeded key (it can
# list the project's keys and delete what it finds).
if run_schemathesis "project routes (API key with read and admin)" "$API_KEY" \
    --exclude-path-regex '^/v1/(projects|api-keys)'; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi
if run_schemathesis "operator routes (admin token)" "$ADMIN_TOKEN" \
    --include-path-regex '^/v1/(projects|api-keys)'; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi
if [ "$failed" -gt 0 ]; then
    log "query-api log (last 40 lines):"
    tail -n 40 "$WORK/query-api.log"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
