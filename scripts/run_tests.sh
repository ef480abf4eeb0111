#!/usr/bin/env bash
# Set up (or refresh) .venv, then run the whole test suite: lint, then pytest on 2 workers.
# Extra arguments go to pytest, e.g. `bash scripts/run_tests.sh tests/store -x`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
python=$(bash scripts/setup_env.sh)
"$python" -m ruff check --no-cache speechrep scripts tests $(ls -d modellib_addons 2>/dev/null)
export WANDB_MODE=disabled HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONHASHSEED=0 MPLBACKEND=Agg
exec "$python" -m pytest -n "${SPEECHREP_TEST_WORKERS:-2}" -p no:cacheprovider "$@"
