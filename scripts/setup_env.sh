#!/usr/bin/env bash
# Create or refresh the project's virtual environment in .venv (Python 3.11) and install
# speechrep with its pinned dependencies. Idempotent: a stamp keyed by the hash of
# pyproject.toml + constraints.txt skips the install when nothing changed.
# Usage: source-free; prints the path of the environment's python on its last line.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
python=${SPEECHREP_PYTHON:-}
if [[ -z $python ]]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      python=$candidate; break
    fi
  done
fi
[[ -n $python ]] || { echo "setup_env: Python 3.11 is required (set SPEECHREP_PYTHON)" >&2; exit 1; }
[[ -x .venv/bin/python ]] || "$python" -m venv .venv
stamp=.venv/.speechrep-install-stamp
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "setup_env: installing speechrep and pinned dependencies into .venv (first time: a few minutes)" >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]" >&2
  echo "$want" > "$stamp"
fi
echo "$root/.venv/bin/python"
