#!/usr/bin/env bash
# Set up (or refresh) .venv, then run the whole test suite: lint, then pytest on 2 workers.
# Extra arguments go to pytest, e.g. `bash scripts/run_tests.sh tests/store -x`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
python=$(bash scripts/setup_env.sh)
"$python" -m ruff check --no-cache speechrep scripts tests modellib_addons
# one BLAS/torch thread per pytest worker: 2 workers on 2 cores, no oversubscription
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
export WANDB_MODE=disabled HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONHASHSEED=0 MPLBACKEND=Agg
exec "$python" -m pytest -n "${SPEECHREP_TEST_WORKERS:-2}" -p no:cacheprovider "$@"
