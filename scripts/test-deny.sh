#!/usr/bin/env bash
# Checks the dependency graph with cargo-deny against deny.toml: licences,
# bans, sources and, when the RustSec advisory database can be fetched
# (from GitHub), advisories. Installs cargo-deny when missing and fetches
# every package of the lock file (crates.io must be reachable).
# Where GitHub is out of reach the advisories check is skipped, and the script
# says so plainly; the other three need nothing but the lock file.
# Ends with "N passed, M failed" (one per check).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '==> %s\n' "$*" >&2; }
CARGO_DENY_VERSION=0.20.2

if ! cargo deny --version 2>/dev/null | grep -q "$CARGO_DENY_VERSION"; then
  log "installing cargo-deny $CARGO_DENY_VERSION"
  cargo install --locked "cargo-deny@$CARGO_DENY_VERSION"
fi

# cargo deny reads the whole graph with `cargo metadata --frozen`, which needs
# every package of the lock file on disk, including those of other platforms
# that no build here ever downloads (a fresh machine has none of them).
log "cargo fetch (every package of Cargo.lock)"
cargo fetch --locked

checks=(licenses bans sources)
log "fetching the RustSec advisory database"
if timeout 60 cargo deny fetch db >/dev/null 2>&1; then
  checks=(advisories "${checks[@]}")
else
  echo "skipped: advisories (the RustSec advisory database at github.com/rustsec/advisory-db cannot be fetched from this machine)"
fi

passed=0 failed=0
for check in "${checks[@]}"; do
  log "cargo deny check $check"
  if cargo deny --frozen check --hide-inclusion-graph "$check"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
