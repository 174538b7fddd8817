#!/usr/bin/env bash
# Runs the receiver examples (examples/receivers/{python,node,go,rust}) against
# a real delivery: the `receivers` tests of the eventflow CLI. Installs what is
# missing when it can (Debian's golang-go, python3, nodejs); a language that
# still cannot run is skipped by its test with a plain "skipped:" line.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh

for tool in go:golang-go python3:python3 node:nodejs; do
  program=${tool%%:*} package=${tool#*:}
  if ! command -v "$program" >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      apt_install "$package" || log "could not install $package: its receiver test is skipped"
    else
      log "$program is missing and cannot be installed here: its receiver test is skipped"
    fi
  fi
done

ensure_postgres
ensure_redis

log "running the receiver examples against real deliveries"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run -p eventflow-cli --no-capture receivers
else
  cargo test -p eventflow-cli --test cli receivers -- --nocapture
fi
