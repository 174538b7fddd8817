#!/usr/bin/env bash
# Measures the query API the way BENCHMARKS.md quotes it: builds release
# binaries, creates a fresh `eventflow_bench_query` database (unless KEEP=1 and
# it exists: the seed of 1,000,000 events takes minutes), starts the gateway on
# 127.0.0.1:8080 and the query API on 127.0.0.1:8081, and runs the query
# workload RUNS times (quote the medians).
#   scripts/bench-query.sh [RUNS] [SEED]
# BIN_DIR=dir runs the binaries found there instead of building.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh
runs=${1:-3}
seed=${2:-1000000}

ensure_postgres
ensure_redis

release_binaries ingest-gateway query-api eventflow-cli eventflow-bench

export EVENTFLOW_DATABASE_URL=postgres://postgres@127.0.0.1:5432/eventflow_bench_query
export EVENTFLOW_REDIS_URL=redis://127.0.0.1:6379
export EVENTFLOW_REDIS_KEY_PREFIX=benchq:
export EVENTFLOW_LOG=warn

if [ "${KEEP:-}" != 1 ] || ! psql -h 127.0.0.1 -U postgres -lqt | cut -d'|' -f1 | grep -qw eventflow_bench_query; then
  fresh_database eventflow_bench_query benchq:
else
  delete_redis_keys benchq:
fi
$bin/eventflow migrate >/dev/null

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
log "starting ingest-gateway and query-api"
EVENTFLOW_HTTP_ADDR=127.0.0.1:8080 EVENTFLOW_GRPC_ADDR=127.0.0.1:50051 \
  $bin/ingest-gateway > /tmp/eventflow-bench-gateway.log 2>&1 &
pids+=($!)
EVENTFLOW_HTTP_ADDR=127.0.0.1:8081 EVENTFLOW_GRPC_ADDR=127.0.0.1:50052 EVENTFLOW_ADMIN_TOKEN=bench-admin-token \
  $bin/query-api > /tmp/eventflow-bench-query-api.log 2>&1 &
pids+=($!)
for port in 8080 8081; do
  for _ in $(seq 1 50); do curl -sf http://127.0.0.1:$port/readyz >/dev/null && break; sleep 0.2; done
done

for run in $(seq 1 "$runs"); do
  log "eventflow-bench query, run $run of $runs"
  $bin/eventflow-bench query --database-url "$EVENTFLOW_DATABASE_URL" --query-url http://127.0.0.1:8081 \
    --seed "$seed" --readers 32 --duration 30s --ingest-url http://127.0.0.1:8080 --ingest-rate 1000 ${BENCH_ARGS:-}
done
