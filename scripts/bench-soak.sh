#!/usr/bin/env bash
# A soak run as BENCHMARKS.md quotes it: builds release binaries, creates a
# fresh `eventflow_soak` database, starts the gateway (127.0.0.1:8090) and a
# dispatcher, and runs `eventflow-bench soak` at RATE events/s for DURATION
# with FAILING failing endpoints beside the healthy one, printing throughput,
# p99, backlog and both services' RSS every SAMPLE.
#   scripts/bench-soak.sh [RATE=200] [DURATION=10m] [FAILING=2] [SAMPLE=30s]
# Extra arguments for eventflow-bench go in BENCH_ARGS; BIN_DIR=dir runs the
# binaries found there instead of building.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh
rate=${1:-200}
duration=${2:-10m}
failing=${3:-2}
sample=${4:-30s}

ensure_postgres
ensure_redis
release_binaries ingest-gateway dispatcher eventflow-cli eventflow-bench

export EVENTFLOW_DATABASE_URL=postgres://postgres@127.0.0.1:5432/eventflow_soak
export EVENTFLOW_REDIS_URL=redis://127.0.0.1:6379
export EVENTFLOW_REDIS_KEY_PREFIX=soak:
export EVENTFLOW_LOG=warn
export EVENTFLOW_ENDPOINT_ALLOW_NETS=127.0.0.0/8

fresh_database eventflow_soak soak:
$bin/eventflow migrate >/dev/null

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
log "starting ingest-gateway and dispatcher"
EVENTFLOW_HTTP_ADDR=127.0.0.1:8090 EVENTFLOW_GRPC_ADDR=127.0.0.1:50091 \
  $bin/ingest-gateway > /tmp/eventflow-soak-gateway.log 2>&1 &
gateway=$!
pids+=("$gateway")
EVENTFLOW_HTTP_ADDR=127.0.0.1:8092 EVENTFLOW_GRPC_ADDR=127.0.0.1:50093 \
  $bin/dispatcher > /tmp/eventflow-soak-dispatcher.log 2>&1 &
dispatcher=$!
pids+=("$dispatcher")
for _ in $(seq 1 100); do
  curl -sf http://127.0.0.1:8090/readyz >/dev/null && curl -sf http://127.0.0.1:8092/readyz >/dev/null && break
  sleep 0.2
done

log "soak: $rate events/s for $duration, $failing failing endpoints"
$bin/eventflow-bench soak --url http://127.0.0.1:8090 --rate "$rate" --duration "$duration" \
  --failing-endpoints "$failing" --sample-every "$sample" \
  --pid "gateway=$gateway" --pid "dispatcher=$dispatcher" ${BENCH_ARGS:-}
