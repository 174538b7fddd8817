#!/usr/bin/env bash
# Measures the ingest gateway the way BENCHMARKS.md quotes it: builds release
# binaries, creates a fresh `eventflow_bench` database and a project without
# a practical rate limit, starts the gateway on 127.0.0.1:8080 and runs the
# benchmark's ingest workloads (each RUNS times; quote the medians).
#   scripts/bench-ingest.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh
runs=${1:-3}

ensure_postgres
ensure_redis

release_binaries ingest-gateway query-api eventflow-cli eventflow-bench

export EVENTFLOW_DATABASE_URL=postgres://postgres@127.0.0.1:5432/eventflow_bench
export EVENTFLOW_REDIS_URL=redis://127.0.0.1:6379
export EVENTFLOW_REDIS_KEY_PREFIX=bench:
export EVENTFLOW_HTTP_ADDR=127.0.0.1:8080
export EVENTFLOW_GRPC_ADDR=127.0.0.1:50051
export EVENTFLOW_LOG=warn

fresh_database eventflow_bench bench:
$bin/eventflow migrate >/dev/null

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

# The CLI manages through the query API, so one runs (with an operator token)
# just long enough to create the project and its key, then stops: the
# measurement is the gateway's alone.
log "starting query-api to create the bench's project and key"
EVENTFLOW_HTTP_ADDR=127.0.0.1:8081 EVENTFLOW_GRPC_ADDR=127.0.0.1:50052 EVENTFLOW_ADMIN_TOKEN=bench-admin-token \
  $bin/query-api > /tmp/eventflow-bench-query-api.log 2>&1 &
query_api=$!
pids+=($query_api)
for _ in $(seq 1 50); do curl -sf http://127.0.0.1:8081/readyz >/dev/null && break; sleep 0.2; done
manage() { $bin/eventflow --json --api-url http://127.0.0.1:8081 --key bench-admin-token "$@"; }
project=$(manage projects create bench --rate-limit 1000000 --burst 1000000 | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
key=$(manage keys create --project "$project" --scopes ingest | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
kill $query_api
wait $query_api 2>/dev/null || true

log "starting ingest-gateway"
$bin/ingest-gateway > /tmp/eventflow-bench-gateway.log 2>&1 &
gateway=$!
pids+=($gateway)
for _ in $(seq 1 50); do curl -sf http://127.0.0.1:8080/readyz >/dev/null && break; sleep 0.2; done

bench() {
  log "eventflow-bench ingest $*"
  for run in $(seq 1 "$runs"); do
    $bin/eventflow-bench ingest --url http://127.0.0.1:8080 --key "$key" --payload-bytes 1024 --duration 20s "$@" 2>/dev/null \
      | grep -E "events/s|latency" | tr '\n' ' '
    echo " rss_kb=$(ps -o rss= -p $gateway)"
  done
}

bench --concurrency 64
bench --concurrency 64 --batch 100
bench --concurrency 64 --rate 2000
bench --concurrency 64 --rate 5000
