#!/usr/bin/env bash
# Checks with cargo-machete that no crate of the workspace (nor fuzz/ or the
# Rust receiver example) declares a dependency its code does not use.
# Installs cargo-machete when missing. Where machete cannot see a use (code
# generated into OUT_DIR, a dependency kept only for a feature), the crate's
# Cargo.toml lists it under [package.metadata.cargo-machete] with the reason.
# Ends with "N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '==> %s\n' "$*" >&2; }
CARGO_MACHETE_VERSION=0.9.2

if ! cargo machete --version 2>/dev/null | grep -qx "$CARGO_MACHETE_VERSION"; then
  log "installing cargo-machete $CARGO_MACHETE_VERSION"
  cargo install --locked "cargo-machete@$CARGO_MACHETE_VERSION"
fi

log "cargo machete"
# target/ holds unpacked crates (build scripts, the Python venv): not ours.
if cargo machete --skip-target-dir; then
  echo "1 passed, 0 failed"
else
  echo "0 passed, 1 failed"
  exit 1
fi
