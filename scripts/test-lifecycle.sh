#!/usr/bin/env bash
# Data lifecycle tests (issue #13): backup and restore drill (and the damage it
# must catch), S3 / RDS snapshot / ECS rollback against moto on loopback, Redis
# restarted empty and PostgreSQL restored from an older dump each ending with
# every committed event delivered to a receiver that verifies signatures.
#
# Self-contained: a private PostgreSQL (initdb under target/), a private
# redis-server and moto_server on free loopback ports, the pinned Python tools
# in target/ops-venv-test; the shared PostgreSQL and Redis are not touched.
# Ends with "N passed, M failed". BIN_DIR=<dir with dispatcher, ingest-gateway,
# query-api, eventflow> skips the cargo build.
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$ROOT/scripts/lib/services.sh"
WORK="$ROOT/target/lifecycle-test"
PASSED=0
FAILED=0
PIDS=()

step() { printf '\n--- %s\n' "$*"; }
ok() { PASSED=$((PASSED + 1)); echo "ok: $*"; }
not_ok() { FAILED=$((FAILED + 1)); echo "FAILED: $*"; }
check() { # check "name" command...
  local name="$1"; shift
  if "$@"; then ok "$name"; else not_ok "$name"; fi
}
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  [ -n "${PGDATA_DIR:-}" ] && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m immediate stop >/dev/null 2>&1
  wait 2>/dev/null
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_for SECONDS command...: polls until the command succeeds.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.2
  done
}

# --- prerequisites ------------------------------------------------------------
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
if [ -z "$PG_BIN" ]; then apt_install postgresql postgresql-client; PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"; fi
command -v redis-server >/dev/null || apt_install redis-server
command -v python3 >/dev/null || apt_install python3 python3-venv
python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
command -v jq >/dev/null || apt_install jq
command -v curl >/dev/null || apt_install curl
export PG_BIN
if [ -z "${BIN_DIR:-}" ]; then
  step "building dispatcher, ingest-gateway, eventflow"
  (cd "$ROOT" && cargo build -q -p dispatcher -p ingest-gateway -p query-api -p eventflow-cli) || { echo "0 passed, 1 failed"; exit 1; }
  BIN_DIR="$ROOT/target/debug"
fi
export EVENTFLOW_DISPATCHER_BIN="$BIN_DIR/dispatcher"
export EVENTFLOW_OPS_VENV="$ROOT/target/ops-venv-test"
export EVENTFLOW_OPS_REQUIREMENTS="$ROOT/scripts/lifecycle/requirements-test.txt"
. "$ROOT/scripts/lifecycle/python-env.sh"
PY="$OPS_PYTHON"

rm -rf "$WORK"; mkdir -p "$WORK/backups"
started_at=$SECONDS

# --- private PostgreSQL, Redis, moto ------------------------------------------
step "private PostgreSQL, Redis and moto_server"
PG_PORT=$(free_port)
PGDATA_DIR="$WORK/pg"
# PostgreSQL refuses to run as root: as root, its files belong to the postgres user.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
mkdir -p "$PGDATA_DIR" "$WORK/pgsock"
[ "$(id -u)" = 0 ] && chown postgres "$PGDATA_DIR" "$WORK/pgsock" "$WORK"
as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres -A trust >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$WORK/pg.log" -w -o "-p $PG_PORT -k $WORK/pgsock -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
ADMIN_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
DB_URL="postgres://postgres@127.0.0.1:$PG_PORT/eventflow"
export EVENTFLOW_DRILL_ADMIN_URL="$ADMIN_URL"
psql_q() { "$PG_BIN/psql" -X -qAt "$DB_URL" -c "$1"; }

REDIS_PORT=$(free_port)
start_redis() {
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
  REDIS_PID=$!; PIDS+=("$REDIS_PID")
  wait_for 10 sh -c "redis-cli -p $REDIS_PORT ping >/dev/null 2>&1"
}
start_redis
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

MOTO_PORT=$(free_port)
"$(dirname "$PY")/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
PIDS+=($!)
export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
wait_for 20 curl -fs -o /dev/null "$AWS_ENDPOINT_URL/moto-api/" || echo "moto_server did not start"
aws() { "$(dirname "$PY")/aws" --endpoint-url "$AWS_ENDPOINT_URL" "$@"; }
aws s3 mb s3://eventflow-backups >/dev/null

# --- the stack: database, project, key, endpoint, receiver, gateway, dispatcher --
step "EventFlow on the private servers"
"$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres eventflow
"$BIN_DIR/eventflow" --database-url "$DB_URL" migrate >/dev/null
# Endpoint secrets are encrypted at rest with this key (every service and the drill).
EVENTFLOW_SECRETS_KEY="$("$PY" -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')"
ADMIN_TOKEN="lifecycle-admin-token-0123456789"
export EVENTFLOW_SECRETS_KEY
# Set-up goes through the query API, as an operator would.
QUERY_PORT=$(free_port)
EVENTFLOW_DATABASE_URL="$DB_URL" EVENTFLOW_REDIS_URL="$REDIS_URL" EVENTFLOW_LOG=warn EVENTFLOW_ADMIN_TOKEN="$ADMIN_TOKEN" \
  EVENTFLOW_ENDPOINT_ALLOW_NETS=127.0.0.0/8 EVENTFLOW_HTTP_ADDR="127.0.0.1:$QUERY_PORT" EVENTFLOW_GRPC_ADDR=127.0.0.1:0 "$BIN_DIR/query-api" >"$WORK/query-api.log" 2>&1 &
QUERY_PID=$!; PIDS+=("$QUERY_PID")
wait_for 30 curl -fs -o /dev/null "http://127.0.0.1:$QUERY_PORT/readyz"
api() { # api TOKEN PATH JSON
  curl -fsS -H "authorization: Bearer $1" -H 'content-type: application/json' -d "$3" "http://127.0.0.1:$QUERY_PORT$2"
}
PROJECT=$(api "$ADMIN_TOKEN" /v1/projects '{"name": "lifecycle"}' | jq -r .id)
KEY=$(api "$ADMIN_TOKEN" /v1/api-keys "{\"project_id\": \"$PROJECT\", \"scopes\": [\"ingest\", \"read\", \"admin\"]}" | jq -r .key)
RECEIVER_PORT=$(free_port)
SECRET=$(api "$KEY" /v1/endpoints "{\"url\": \"http://127.0.0.1:$RECEIVER_PORT/hook\"}" | jq -r .secret)
kill "$QUERY_PID"; wait "$QUERY_PID" 2>/dev/null
echo "project $PROJECT, endpoint secret ${SECRET:0:10}…"
"$PY" "$ROOT/scripts/lifecycle/test_receiver.py" "$RECEIVER_PORT" "$SECRET" >"$WORK/receiver.log" 2>&1 &
PIDS+=($!)
wait_for 10 curl -fs -o /dev/null "http://127.0.0.1:$RECEIVER_PORT/stats"
receiver() { curl -fs "http://127.0.0.1:$RECEIVER_PORT/stats"; }

GATEWAY_PORT=$(free_port)
common_env=(EVENTFLOW_DATABASE_URL="$DB_URL" EVENTFLOW_REDIS_URL="$REDIS_URL" EVENTFLOW_LOG=warn
  EVENTFLOW_SHUTDOWN_TIMEOUT=3s)
# Many short retries: a delivery stays pending while the receiver fails.
RETRY_SCHEDULE="0s,300ms,$(printf '1s,%.0s' $(seq 300))1s"
start_stack() {
  env "${common_env[@]}" EVENTFLOW_HTTP_ADDR="127.0.0.1:$GATEWAY_PORT" EVENTFLOW_GRPC_ADDR=127.0.0.1:0 \
    EVENTFLOW_OUTBOX_RELAY_INTERVAL=200ms "$BIN_DIR/ingest-gateway" >>"$WORK/gateway.log" 2>&1 &
  GATEWAY_PID=$!; PIDS+=("$GATEWAY_PID")
  env "${common_env[@]}" EVENTFLOW_HTTP_ADDR=127.0.0.1:0 EVENTFLOW_GRPC_ADDR=127.0.0.1:0 \
    EVENTFLOW_ENDPOINT_ALLOW_NETS=127.0.0.0/8 EVENTFLOW_RETRY_SCHEDULE="$RETRY_SCHEDULE" \
    EVENTFLOW_RETRY_POLL_INTERVAL=100ms EVENTFLOW_RECOVERY_INTERVAL=300ms EVENTFLOW_RECOVERY_GRACE=1s \
    EVENTFLOW_CLAIM_TIMEOUT=5s EVENTFLOW_DELIVERY_TIMEOUT=2s EVENTFLOW_CIRCUIT_FAILURE_THRESHOLD=1000 \
    "$BIN_DIR/dispatcher" >>"$WORK/dispatcher.log" 2>&1 &
  DISPATCHER_PID=$!; PIDS+=("$DISPATCHER_PID")
  wait_for 30 curl -fs -o /dev/null "http://127.0.0.1:$GATEWAY_PORT/readyz"
}
stop_stack() {
  kill "$GATEWAY_PID" "$DISPATCHER_PID" 2>/dev/null
  wait "$GATEWAY_PID" "$DISPATCHER_PID" 2>/dev/null
}
# send N: posts N events; prints how many were acknowledged (202).
send() {
  local acked=0
  for _ in $(seq "$1"); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
      -d '{"type":"order.created","payload":{"n":1}}' "http://127.0.0.1:$GATEWAY_PORT/v1/events")
    [ "$code" = 202 ] && acked=$((acked + 1))
  done
  echo "$acked"
}
# every_committed_event_delivered: each event id in the database was received, verified.
committed_ids() { psql_q "SELECT 'evt_' || replace(id::text, '-', '') FROM events ORDER BY 1"; }
every_committed_event_delivered() {
  local committed
  committed=$(committed_ids) && [ -n "$committed" ] || return 1
  ! comm -23 <(echo "$committed") <(receiver | jq -r '.ids[]' | sort) | grep -q .
}
start_stack

step "events delivered, then deliveries left pending"
acked=$(send 40)
check "40 events acknowledged" [ "$acked" = 40 ]
check "the first 40 delivered, signatures verified" wait_for 60 every_committed_event_delivered
duplicates() {
  echo "duplicates the receiver dropped by webhook-id so far ($1): $(receiver | jq .duplicates)," \
    "successful attempts recorded: $(psql_q "SELECT count(*) FROM attempts WHERE status_code BETWEEN 200 AND 299")," \
    "deliveries: $(psql_q "SELECT count(*) FROM deliveries")"
}
curl -fs -X POST "http://127.0.0.1:$RECEIVER_PORT/mode?fail=1"
acked=$(send 20)
has_pending_attempts() { [ "$(psql_q "SELECT count(*) FROM deliveries WHERE status = 'pending' AND attempt_count >= 1")" -ge 20 ] 2>/dev/null; }
check "20 more acknowledged and pending with failed attempts" wait_for 60 has_pending_attempts

# --- backup and restore drill --------------------------------------------------
step "backup (local and S3) and restore drill"
t0=$SECONDS
backup_json=$("$ROOT/scripts/backup-postgres" --database-url "$DB_URL" --out "$WORK/backups" --s3 s3://eventflow-backups/postgres/)
echo "$backup_json"
BACKUP_SECONDS=$((SECONDS - t0))
DUMP=$(ls "$WORK/backups"/eventflow-*.dump | head -1)
MANIFEST="${DUMP%.dump}.manifest.json"
manifest_rows() { jq -r ".tables.$1.rows" "$MANIFEST"; }
check "manifest counts events, deliveries and attempts" \
  test "$(manifest_rows events)" = 60 -a "$(manifest_rows deliveries)" = 60 -a "$(manifest_rows attempts)" -ge 60
uploaded() { aws s3 ls "$1" | grep -Eq "$2"; }
check "backup uploaded to S3" uploaded s3://eventflow-backups/postgres/ 'eventflow-[0-9]{8}T[0-9]{6}Z.manifest.json' 
t0=$SECONDS
"$ROOT/scripts/restore-drill" --s3 s3://eventflow-backups/postgres/ --report "$WORK/drill.json" | tee "$WORK/drill.out"
drill_rc=${PIPESTATUS[0]}
DRILL_SECONDS=$((SECONDS - t0))
check "restore drill of the newest S3 backup passes" [ "$drill_rc" = 0 ]
check "drill reports the rows and what a dispatcher would resume" \
  test "$(jq -r '.rows_by_table.events' "$WORK/drill.json")" = 60 -a "$(jq -r '.would_resume.pending_deliveries' "$WORK/drill.json")" -ge 20

# drill_fails NAME PATTERN ARGS...: the drill exits non-zero and says PATTERN.
drill_fails() {
  local pattern="$1"; shift
  "$ROOT/scripts/restore-drill" --no-dispatcher "$@" >"$WORK/bad.out" 2>&1
  local rc=$?
  cat "$WORK/bad.out" | grep -E "PROBLEM|FAILED" | head -5
  [ "$rc" -ne 0 ] && grep -q -- "$pattern" "$WORK/bad.out"
}
mkdir -p "$WORK/damaged"
cp "$MANIFEST" "$WORK/damaged/truncated.manifest.json"
head -c $(( $(stat -c %s "$DUMP") * 2 / 3 )) "$DUMP" >"$WORK/damaged/truncated.dump"
check "a truncated dump fails the drill, named" drill_fails "dump damaged" --dump "$WORK/damaged/truncated.dump"

"$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres altered
"$PG_BIN/pg_restore" --no-owner -d "postgres://postgres@127.0.0.1:$PG_PORT/altered" "$DUMP"
"$PG_BIN/psql" -X -q "postgres://postgres@127.0.0.1:$PG_PORT/altered" -c \
  "UPDATE events SET payload = '{\"n\":2}' WHERE id = (SELECT min(id::text)::uuid FROM events)"
"$PG_BIN/pg_dump" -Fc -f "$WORK/damaged/altered.dump" "postgres://postgres@127.0.0.1:$PG_PORT/altered"
cp "$MANIFEST" "$WORK/damaged/altered.manifest.json"
check "a dump with one altered row fails the drill, naming the table" \
  drill_fails "table events: content checksum differs" --dump "$WORK/damaged/altered.dump"

cp "$DUMP" "$WORK/damaged/mismatch.dump"
jq '.tables.deliveries.rows += 1' "$MANIFEST" >"$WORK/damaged/mismatch.manifest.json"
check "a manifest that does not match fails the drill, naming the table" \
  drill_fails "table deliveries: 60 rows restored, manifest says 61" --dump "$WORK/damaged/mismatch.dump"

# --- deliveries resume; Redis restarted empty ---------------------------------
step "receiver back; Redis killed and restarted empty"
curl -fs -X POST "http://127.0.0.1:$RECEIVER_PORT/mode?fail=0"
check "the 20 pending deliveries are sent once the receiver answers" wait_for 60 every_committed_event_delivered
duplicates "before the Redis loss"
redis_lost_at=$(psql_q "SELECT eventflow_uuid_floor(now())")
kill -9 "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null
acked_down=$(send 10)
start_redis
acked_up=$(send 10)
echo "acknowledged while Redis was down: $acked_down, after its restart: $acked_up"
check "after Redis restarted empty every committed event is delivered" wait_for 90 every_committed_event_delivered
check "events were committed on both sides of the Redis loss" test "$(psql_q 'SELECT count(*) FROM events')" -ge 70
duplicates "after the Redis loss"
echo "deliveries sent successfully more than once (created before the loss / all):" \
  "$(psql_q "SELECT count(*) FILTER (WHERE delivery_id < '$redis_lost_at') || ' / ' || count(*) FROM (
     SELECT delivery_id FROM attempts WHERE status_code BETWEEN 200 AND 299 GROUP BY 1 HAVING count(*) > 1) AS again")"

# --- point-in-time restore: the older dump becomes the database ---------------
step "PostgreSQL restored from the older dump, Redis restarted empty"
stop_stack
kill -9 "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null
t0=$SECONDS
"$PG_BIN/dropdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres --force eventflow
"$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres eventflow
"$PG_BIN/pg_restore" --no-owner --jobs 2 -d "$DB_URL" "$DUMP"
RESTORE_SECONDS=$((SECONDS - t0))
pending_at_restore=$(psql_q "SELECT count(*) FROM deliveries WHERE status = 'pending'")
echo "restored in ${RESTORE_SECONDS}s; pending deliveries in the restored database: $pending_at_restore"
curl -fs -X POST "http://127.0.0.1:$RECEIVER_PORT/mark"
start_redis
t0=$SECONDS
start_stack
pending_resent() { [ "$(receiver | jq '.since_mark | length')" -ge "$pending_at_restore" ] 2>/dev/null; }
check "deliveries pending in the restored database are sent again without a re-queue" wait_for 90 pending_resent
RESUME_SECONDS=$((SECONDS - t0))
check "every event of the restored database is delivered" every_committed_event_delivered
duplicates "after the restore"
acked=$(send 5)
check "new events after the restore are delivered" wait_for 60 every_committed_event_delivered
check "every request carried a valid signature" test "$(receiver | jq '.rejected')" = 0

# --- S3 and RDS snapshot, Redis snapshot --------------------------------------
step "RDS snapshot and Redis snapshot against moto"
aws rds create-db-instance --db-instance-identifier eventflow-db --db-instance-class db.t3.micro \
  --engine postgres --allocated-storage 20 --master-username eventflow --master-user-password secret123456 >/dev/null
"$ROOT/scripts/backup-postgres" --rds-snapshot eventflow-db --snapshot-id pre-deploy-1 >"$WORK/rds.out"
snapshot_available() {
  grep -q '"available"' "$WORK/rds.out" &&
    [ "$(aws rds describe-db-snapshots --db-snapshot-identifier pre-deploy-1 | jq -r '.DBSnapshots[0].Status')" = available ]
}
check "backup-postgres --rds-snapshot waits for an available snapshot" snapshot_available
"$ROOT/scripts/redis-snapshot" --redis-url "$REDIS_URL" --s3 s3://eventflow-backups/redis/ >"$WORK/redis-snap.out"
check "redis-snapshot uploads a dated RDB" uploaded s3://eventflow-backups/redis/ 'redis-[0-9]{8}T[0-9]{6}Z.rdb' 

# --- rollback against moto ECS --------------------------------------------------
step "rollback against moto ECS"
aws ecs create-cluster --cluster-name eventflow >/dev/null
register() { # register SCHEMA_VERSION: a new revision of eventflow-dispatcher
  aws ecs register-task-definition --family eventflow-dispatcher --requires-compatibilities FARGATE \
    --network-mode awsvpc --cpu 256 --memory 512 --container-definitions \
    "[{\"name\":\"dispatcher\",\"image\":\"eventflow/dispatcher:v$1\",\"essential\":true,\"dockerLabels\":{\"eventflow.schema-version\":\"$1\"}}]" \
    | jq -r .taskDefinition.taskDefinitionArn
}
rev1=$(register 4); rev2=$(register 4)
aws ecs create-service --cluster eventflow --service-name dispatcher --task-definition "$rev2" --desired-count 1 >/dev/null
service_td() { aws ecs describe-services --cluster eventflow --services dispatcher | jq -r '.services[0].taskDefinition'; }
"$ROOT/scripts/rollback" --cluster eventflow --service dispatcher --dry-run >"$WORK/rollback-dry.out"
dry_run_planned() { grep -q '"to": "eventflow-dispatcher:1"' "$WORK/rollback-dry.out" && [ "$(service_td)" = "$rev2" ]; }
check "rollback --dry-run prints the plan and changes nothing" dry_run_planned
"$ROOT/scripts/rollback" --cluster eventflow --service dispatcher --timeout 60 >"$WORK/rollback.out" 2>&1
check "rollback points the service at the previous revision" [ "$(service_td)" = "$rev1" ]
rev3=$(register 4); rev4=$(register 5)
aws ecs update-service --cluster eventflow --service dispatcher --task-definition "$rev4" >/dev/null
"$ROOT/scripts/rollback" --cluster eventflow --service dispatcher --timeout 60 >"$WORK/rollback-refused.out" 2>&1
refused_rc=$?
refused() { [ "$refused_rc" = 2 ] && grep -q 'built for schema version 4, the database is at 5' "$WORK/rollback-refused.out" && [ "$(service_td)" = "$rev4" ]; }
check "rollback refuses a revision older than the schema" refused
"$ROOT/scripts/rollback" --cluster eventflow --service dispatcher --database-url "$DB_URL" --dry-run >"$WORK/rollback-db.out" 2>&1
check "rollback reads the schema version from the database when given" grep -q '"schema_version_source": "database"' "$WORK/rollback-db.out"

echo
echo "timings: backup ${BACKUP_SECONDS}s, drill ${DRILL_SECONDS}s, restore into the live database ${RESTORE_SECONDS}s, resume after restore ${RESUME_SECONDS}s, total $((SECONDS - started_at))s"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
