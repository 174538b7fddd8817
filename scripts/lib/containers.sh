# Shared by the container suites (test-containers.sh, test-ops-image.sh): their
# pass/fail tally and a container engine, started here when none answers.
# The caller sets WORK (where dockerd logs), PASSED=0, FAILED=0 and
# STARTED_DOCKERD="", and calls stop_started_dockerd when it cleans up.

pass() { PASSED=$((PASSED + 1)); printf 'ok     %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAILED %s\n' "$*"; }
# check NAME COMMAND...: one pass or fail, the command's output shown on failure.
check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then pass "$name"; else fail "$name"; printf '%s\n' "$out" | tail -n 20 | sed 's/^/       /'; fi
}
# wait_for SECONDS COMMAND...: polls the command until it succeeds or the deadline passes.
wait_for() {
  local deadline=$(($(date +%s) + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# Debian's docker client builds with BuildKit by itself; a newer client needs buildx for it.
if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
export DOCKER_BUILDKIT=1

engine_answers() { "$DOCKER" info >/dev/null 2>&1; }

start_dockerd() {
  local driver
  for driver in overlay2 fuse-overlayfs vfs; do
    log "starting dockerd (storage driver $driver)"
    dockerd --storage-driver "$driver" -H unix:///var/run/docker.sock >"$WORK/dockerd.log" 2>&1 &
    STARTED_DOCKERD=$!
    if wait_for 30 engine_answers; then return 0; fi
    kill "$STARTED_DOCKERD" 2>/dev/null || true
    wait "$STARTED_DOCKERD" 2>/dev/null || true
    STARTED_DOCKERD=""
  done
  return 1
}

ensure_engine() {
  engine_answers && return 0
  if ! command -v dockerd >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
    apt_install docker.io || return 1
    [ -x /usr/bin/docker ] && DOCKER=/usr/bin/docker
  fi
  [ "$(id -u)" = 0 ] || return 1
  start_dockerd
}

stop_started_dockerd() {
  if [ -n "$STARTED_DOCKERD" ]; then
    log "stopping the dockerd this test started"
    kill "$STARTED_DOCKERD" 2>/dev/null
    wait "$STARTED_DOCKERD" 2>/dev/null
  fi
}
