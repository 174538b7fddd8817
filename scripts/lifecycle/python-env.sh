# Sourced by the lifecycle scripts: makes sure the pinned Python tools exist in
# a virtualenv (target/ops-venv, or $EVENTFLOW_OPS_VENV) and sets $OPS_PYTHON.
# Plain `pip install` from PyPI; nothing else is downloaded.
lifecycle_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$lifecycle_dir/../.." && pwd)"
venv="${EVENTFLOW_OPS_VENV:-$repo_root/target/ops-venv}"
requirements="${EVENTFLOW_OPS_REQUIREMENTS:-$lifecycle_dir/requirements.txt}"
stamp="$venv/.installed-$(sha256sum "$requirements" "$lifecycle_dir/requirements.txt" | sha256sum | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  echo "==> preparing $venv from $(basename "$requirements")" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements" >&2
  touch "$stamp"
fi
OPS_PYTHON="$venv/bin/python"
export PYTHONPATH="$lifecycle_dir${PYTHONPATH:+:$PYTHONPATH}"
