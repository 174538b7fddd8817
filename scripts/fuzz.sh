#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 20):
#   scripts/fuzz.sh [SECONDS]
# Installs cargo-fuzz when missing. cargo-fuzz passes nightly-only flags to
# rustc; only a stable toolchain is installed here, so RUSTC_BOOTSTRAP=1 lets
# stable accept them. Sanitizer: none. The code under test is safe Rust
# (unsafe_code is denied in the workspace), so AddressSanitizer would find
# nothing a panic does not show, and it slows both the build and the runs;
# debug assertions are on, so an arithmetic overflow is a crash too.
# A crash leaves its input in fuzz/artifacts/<target>/ and fails the script.
# Ends with "N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
log() { printf '==> %s\n' "$*" >&2; }

if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi
export RUSTC_BOOTSTRAP=1
flags=(--sanitizer none --release --debug-assertions)

log "building the fuzz targets"
cargo fuzz build "${flags[@]}"

passed=0 failed=0 failures=()
for target in $(cargo fuzz list); do
  log "fuzzing $target for ${seconds} s"
  mkdir -p "fuzz/corpus/$target"
  seeds=()
  [ -d "fuzz/seeds/$target" ] && seeds=("fuzz/seeds/$target")
  if cargo fuzz run "${flags[@]}" "$target" "fuzz/corpus/$target" "${seeds[@]}" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      2> "fuzz/$target.log"; then
    passed=$((passed + 1))
    grep -E '^(stat::number_of_executed_units|stat::new_units_added)' "fuzz/$target.log" | tr '\n' ' ' >&2
    echo >&2
  else
    failed=$((failed + 1))
    failures+=("$target")
    tail -n 30 "fuzz/$target.log" >&2
  fi
done
[ ${#failures[@]} -gt 0 ] && log "crashed: ${failures[*]} (inputs in fuzz/artifacts/)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
