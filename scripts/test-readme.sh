#!/usr/bin/env bash
# The README cannot rot: runs every ```sh block of README.md against a stack
# started with scripts/dev.sh, in the order they appear, each in its own bash
# with `set -euo pipefail` and `eventflow` on the PATH (installed by
# scripts/install.sh). A block preceded by `<!-- readme-test: skip (reason) -->`
# is listed as skipped with its reason. Uses its own database and Redis prefix,
# the default ports on 127.0.0.1 (8080-8083), and .eventflow/ in the checkout.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/services.sh

work=$(mktemp -d)
dev_pid=
cleanup() {
  [ -n "$dev_pid" ] && kill -TERM -- "-$dev_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

for port in 8080 8081 8082 8083; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "skipped: port $port on 127.0.0.1 is taken (another eventflow dev?); stop it and run this again"
    exit 0
  fi
done

log "installing eventflow into $work/bin (dev profile)"
PREFIX=$work EVENTFLOW_INSTALL_PROFILE=dev scripts/install.sh >"$work/install.log" 2>&1 || {
  cat "$work/install.log"; echo "0 passed, 1 failed"; exit 1; }
export PATH="$work/bin:$PATH"

log "starting the stack with scripts/dev.sh (log: $work/dev.log)"
export EVENTFLOW_DATABASE_URL=postgres://postgres@127.0.0.1:5432/eventflow_readme
export EVENTFLOW_REDIS_KEY_PREFIX="readme-$$:"
export EVENTFLOW_DEV_DASHBOARD=0
unset EVENTFLOW_KEY EVENTFLOW_URL EVENTFLOW_GATEWAY_URL EVENTFLOW_PROFILE
export XDG_CONFIG_HOME=$work/config
setsid scripts/dev.sh >"$work/dev.log" 2>&1 &
dev_pid=$!
for _ in $(seq 1 900); do
  curl -fsS http://127.0.0.1:8081/readyz >/dev/null 2>&1 &&
    curl -fsS http://127.0.0.1:8080/readyz >/dev/null 2>&1 &&
    grep -q 'dev stack is running' "$work/dev.log" && break
  kill -0 "$dev_pid" 2>/dev/null || { cat "$work/dev.log"; echo "0 passed, 1 failed"; exit 1; }
  sleep 1
done

# Extract the blocks: one file per block, and the skip reason when marked.
python3 - "$work" <<'PY'
import pathlib, re, sys
work = pathlib.Path(sys.argv[1])
lines = pathlib.Path("README.md").read_text().splitlines()
number, skip, block = 0, None, None
for index, line in enumerate(lines):
    if block is None:
        marker = re.match(r"<!-- readme-test: skip \((.*)\) -->", line)
        if marker:
            skip = marker.group(1)
        elif line.strip() == "```sh":
            number += 1
            block = []
            start = index + 1
        elif line.strip():
            skip = None if not line.startswith("```") else skip
    elif line.strip() == "```":
        name = work / f"block-{number:02d}.sh"
        name.write_text("\n".join(block) + "\n")
        (work / f"block-{number:02d}.meta").write_text(f"{start + 1}\n{skip or ''}\n")
        block, skip = None, None
    else:
        block.append(line)
PY

passed=0 failed=0 skipped=0
export -p >"$work/env"
for script in "$work"/block-*.sh; do
  meta=${script%.sh}.meta
  line=$(sed -n 1p "$meta") reason=$(sed -n 2p "$meta")
  if [ -n "$reason" ]; then
    echo "skipped: README.md line $line: $reason"
    skipped=$((skipped + 1))
    continue
  fi
  # Like a reader's terminal: what one block exports, the next one has.
  if bash -euo pipefail -c 'source "$1"; source "$2"; export -p >"$1"' _ "$work/env" "$script" \
    >"$script.out" 2>&1; then
    echo "passed: README.md line $line"
    passed=$((passed + 1))
  else
    echo "FAILED: README.md line $line:"
    sed 's/^/    /' "$script.out" | tail -20
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed ($skipped skipped)"
[ "$failed" = 0 ]
