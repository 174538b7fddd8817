# Shared by scripts/test.sh and scripts/dev.sh: make sure PostgreSQL and Redis
# answer on 127.0.0.1, using running servers as they are, starting installed
# ones, and installing them with apt on a machine that has neither.

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# The key the services these scripts start (and the bench's provisioning)
# encrypt endpoint signing secrets with. A fixed, public default: local runs
# only; deployments set their own from a secret store.
export EVENTFLOW_SECRETS_KEY="${EVENTFLOW_SECRETS_KEY:-ZXZlbnRmbG93LWxvY2FsLXNjcmlwdHMta2V5LTAwMDA=}"

apt_install() {
  if [ -z "${EVENTFLOW_APT_UPDATED:-}" ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    export EVENTFLOW_APT_UPDATED=1
  fi
  log "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# `npm ci` in the current folder. A registry connection can stall without
# ever timing out (seen here: no byte for half an hour, npm's own
# fetch-timeout never fired), so each attempt is bounded and retried; the
# packages fetched so far stay in npm's cache. A stalled npm ignores SIGTERM,
# hence --kill-after.
npm_ci() {
  local attempt
  for attempt in 1 2 3; do
    if timeout --kill-after=30 600 npm ci --silent --no-audit --no-fund --fetch-timeout=60000; then
      return 0
    fi
    log "npm ci in $PWD did not finish (attempt $attempt of 3)"
  done
  return 1
}

postgres_answers() {
  command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432
}

ensure_postgres() {
  if postgres_answers; then
    log "PostgreSQL answers on 127.0.0.1:5432"
    return
  fi
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql postgresql-client
    # Tests and `eventflow dev` connect as postgres over loopback without a
    # password, as on the project's machines.
    for hba in /etc/postgresql/*/main/pg_hba.conf; do
      sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
    done
  fi
  log "starting PostgreSQL"
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 60); do postgres_answers && return; sleep 0.5; done
  echo "PostgreSQL did not start; see /var/log/postgresql" >&2
  exit 1
}

redis_answers() {
  command -v redis-cli >/dev/null 2>&1 && [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]
}

ensure_redis() {
  if redis_answers; then
    log "Redis answers on 127.0.0.1:6379"
    return
  fi
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server redis-tools
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/eventflow.log
  for _ in $(seq 1 60); do redis_answers && return; sleep 0.5; done
  echo "Redis did not start; see /var/log/redis/eventflow.log" >&2
  exit 1
}

# Headless browser checks use Debian's Chromium driven by playwright-core
# (never a downloaded browser).
ensure_browser() {
  command -v node >/dev/null 2>&1 || apt_install nodejs npm
  command -v chromium >/dev/null 2>&1 || apt_install chromium
  if [ ! -d tests/browser/node_modules/playwright-core ]; then
    log "installing playwright-core (tests/browser)"
    (cd tests/browser && npm_ci)
  fi
}

# Benchmarks: an empty database $1 (recreated) and no Redis keys under prefix $2.
fresh_database() {
  log "fresh database $1"
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1"
  delete_redis_keys "$2"
}

# Deletes every Redis key under prefix $1.
delete_redis_keys() {
  redis-cli -h 127.0.0.1 --scan --pattern "$1*" | xargs -r redis-cli -h 127.0.0.1 del >/dev/null
}

# Sets $bin: BIN_DIR when given (prebuilt binaries, e.g. to compare two builds
# in one sitting), otherwise target/release after building the packages named.
release_binaries() {
  bin=${BIN_DIR:-target/release}
  if [ -z "${BIN_DIR:-}" ]; then
    log "building release binaries"
    local packages=()
    for package in "$@"; do packages+=(-p "$package"); done
    cargo build --release --quiet "${packages[@]}"
  fi
}
