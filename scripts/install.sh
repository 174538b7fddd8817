#!/usr/bin/env bash
# Puts `eventflow` on the PATH: builds it (release profile: small and fast;
# EVENTFLOW_INSTALL_PROFILE=dev reuses a dev build) and copies it to
# $PREFIX/bin (default /usr/local when writable, else ~/.local), with bash
# completions beside it. Run from anywhere in the checkout:
#   scripts/install.sh            # or: PREFIX=$HOME/.local scripts/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

profile=${EVENTFLOW_INSTALL_PROFILE:-release}
case "$profile" in
  dev) out=debug ;;
  *) out=$profile ;;
esac
target=${CARGO_TARGET_DIR:-target}

if [ -z "${PREFIX:-}" ]; then
  if [ -w /usr/local/bin ]; then PREFIX=/usr/local; else PREFIX=$HOME/.local; fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is not installed: get Rust from https://rustup.rs, then run this again" >&2
  exit 1
fi

log "building eventflow ($profile profile)"
cargo build --profile "$profile" -p eventflow-cli --bin eventflow

mkdir -p "$PREFIX/bin"
install -m 755 "$target/$out/eventflow" "$PREFIX/bin/eventflow"
log "installed $PREFIX/bin/eventflow"

completions=$PREFIX/share/bash-completion/completions
mkdir -p "$completions"
"$PREFIX/bin/eventflow" completions bash > "$completions/eventflow"
log "bash completions in $completions/eventflow (zsh, fish: eventflow completions --help)"

case ":$PATH:" in
  *":$PREFIX/bin:"*) ;;
  *) echo "add $PREFIX/bin to your PATH, e.g.: export PATH=\"$PREFIX/bin:\$PATH\"" >&2 ;;
esac
"$PREFIX/bin/eventflow" --version
