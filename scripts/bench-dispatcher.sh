#!/usr/bin/env bash
# Measures the dispatcher the way BENCHMARKS.md quotes it: builds release
# binaries, creates a fresh `eventflow_bench` database, starts the gateway on
# 127.0.0.1:8080 and runs one of the dispatcher workloads, starting the
# dispatcher itself (and sampling its RSS) where the workload needs it.
#   scripts/bench-dispatcher.sh drain   [EVENTS]   the dispatcher alone draining a backlog
#   scripts/bench-dispatcher.sh requeue [EVENTS]   the same after Redis lost the stream
#   scripts/bench-dispatcher.sh e2e     RATE [DURATION]
#   scripts/bench-dispatcher.sh fanout  ENDPOINTS RATE [DURATION]
# Extra arguments for eventflow-bench go in BENCH_ARGS. BIN_DIR=dir runs the
# binaries found there instead of building: two builds compared in one sitting.
# ENDPOINT_CONCURRENCY=N caps the bench endpoint's deliveries in flight (default
# 16): a slower drain, e.g. to compare memory with backlogs of different sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh
workload=${1:?usage: scripts/bench-dispatcher.sh drain|requeue|e2e|fanout ...}
shift

ensure_postgres
ensure_redis

release_binaries ingest-gateway dispatcher eventflow-cli eventflow-bench

export EVENTFLOW_DATABASE_URL=postgres://postgres@127.0.0.1:5432/eventflow_bench
export EVENTFLOW_REDIS_URL=redis://127.0.0.1:6379
export EVENTFLOW_REDIS_KEY_PREFIX=bench:
export EVENTFLOW_LOG=warn
export EVENTFLOW_ENDPOINT_ALLOW_NETS=127.0.0.0/8

fresh_database eventflow_bench bench:
$bin/eventflow migrate >/dev/null

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
log "starting ingest-gateway"
EVENTFLOW_HTTP_ADDR=127.0.0.1:8080 EVENTFLOW_GRPC_ADDR=127.0.0.1:50051 \
  $bin/ingest-gateway > /tmp/eventflow-bench-gateway.log 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do curl -sf http://127.0.0.1:8080/readyz >/dev/null && break; sleep 0.2; done

start_dispatcher() {
  log "starting dispatcher"
  EVENTFLOW_HTTP_ADDR=127.0.0.1:8082 EVENTFLOW_GRPC_ADDR=127.0.0.1:50053 \
    $bin/dispatcher > /tmp/eventflow-bench-dispatcher.log 2>&1 &
  dispatcher=$!
  pids+=("$dispatcher")
}

# Prints the dispatcher's RSS every 2 s to /tmp/eventflow-bench-dispatcher-rss.txt.
sample_rss() {
  : > /tmp/eventflow-bench-dispatcher-rss.txt
  while kill -0 "$dispatcher" 2>/dev/null; do
    echo "$(date +%s) $(ps -o rss= -p "$dispatcher" 2>/dev/null)" >> /tmp/eventflow-bench-dispatcher-rss.txt
    sleep 2
  done &
  pids+=($!)
}

# Deletes every key of the prefix, as a Redis restarting empty would: the
# stream and its consumer group vanish with the backlog still undelivered.
lose_stream() {
  log "deleting the bench:* keys (Redis restarting empty) with the backlog undelivered"
  delete_redis_keys bench:
  # Recovery re-publishes only events committed more than recovery_grace (10 s)
  # ago; waiting it out measures the re-queueing, not the clock.
  log "waiting 11 s (recovery_grace) so the whole backlog is due for recovery"
  sleep 11
}

# Samples the stream's length every 100 ms until it holds $1 entries again and
# prints how fast recovery re-appended them.
measure_requeue() {
  local want=$1 start now len first=""
  start=$(date +%s.%N)
  while :; do
    len=$(redis-cli -h 127.0.0.1 xlen bench:stream:events)
    now=$(date +%s.%N)
    [ -z "$first" ] && [ "$len" -gt 0 ] && first=$now
    [ "$len" -ge "$want" ] && break
    kill -0 "$dispatcher" 2>/dev/null || return 1
    sleep 0.1
  done
  python3 -c "import sys; s,f,n,w=map(float,sys.argv[1:]); print(f're-queued {int(w)} events in {n-f:.2f} s after the first ({n-s:.2f} s after start): {w/max(n-f,0.1):,.0f} events/s')" \
    "$start" "$first" "$now" "$want" | tee /tmp/eventflow-bench-requeue.txt >&2
}

# Runs a backlog workload: the dispatcher starts once the bench says the backlog
# is ready (after losing the stream, with REQUEUE=N).
backlog() {
  local stderr=/tmp/eventflow-bench-backlog.err
  : > "$stderr"
  $bin/eventflow-bench "$@" --database-url "$EVENTFLOW_DATABASE_URL" ${BENCH_ARGS:-} 2> >(tee "$stderr" >&2) &
  local bench=$!
  until grep -q "backlog ready" "$stderr"; do
    kill -0 $bench 2>/dev/null || { wait $bench; exit 1; }
    sleep 0.2
  done
  local entries bytes
  entries=$(redis-cli -h 127.0.0.1 xlen bench:stream:events)
  bytes=$(redis-cli -h 127.0.0.1 memory usage bench:stream:events samples 0)
  echo "stream holds $entries entries in ${bytes:-0} bytes of Redis memory ($(( ${bytes:-0} / (entries > 0 ? entries : 1) )) bytes per entry)" | tee /tmp/eventflow-bench-stream.txt >&2
  [ -n "${REQUEUE:-}" ] && lose_stream
  if [ -n "${ENDPOINT_CONCURRENCY:-}" ]; then
    psql -q -h 127.0.0.1 -U postgres eventflow_bench -c "UPDATE endpoints SET max_concurrency = $ENDPOINT_CONCURRENCY"
  fi
  start_dispatcher
  sample_rss
  [ -n "${REQUEUE:-}" ] && measure_requeue "$REQUEUE"
  wait $bench
  # RSS 10 s into the drain (connections and caches warm), its peak, and at the end.
  awk 'NR==1{t0=$1} $1-t0>=10 && !warm{warm=$2} $2>max{max=$2} {last=$2}
       END{printf "dispatcher RSS: %d MB 10 s into the drain, peak %d MB, %d MB at the end\n", warm/1024, max/1024, last/1024}' \
    /tmp/eventflow-bench-dispatcher-rss.txt
}

case "$workload" in
  drain) backlog drain --events "${1:-100000}" ;;
  requeue) REQUEUE=${1:-100000} backlog drain --events "${1:-100000}" --wait 20m ;;
  e2e)
    start_dispatcher
    $bin/eventflow-bench e2e --database-url "$EVENTFLOW_DATABASE_URL" --rate "${1:?RATE}" --duration "${2:-20s}" ${BENCH_ARGS:-}
    ;;
  fanout)
    start_dispatcher
    $bin/eventflow-bench fanout --database-url "$EVENTFLOW_DATABASE_URL" --endpoints "${1:?ENDPOINTS}" --rate "${2:?RATE}" --duration "${3:-20s}" ${BENCH_ARGS:-}
    ;;
  *) echo "unknown workload $workload" >&2; exit 2 ;;
esac
