#!/usr/bin/env bash
# The demo on built-in synthetic data, end to end, on CPU in a few minutes:
#   1. synthesise a corpus of 20 speakers with espeak-ng (phone and word alignments included),
#   2. extract phone-segment features of the mel pseudo-upstream and a random-init wav2vec2,
#   3. write a layer-wise report (markdown + plot + JSON/CSV results).
# Usage: bash scripts/recipes/demo.sh [output folder, default runs/demo]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
python=$(bash scripts/setup_env.sh)
out=$(realpath -m "${1:-runs/demo}")
export PYTHONHASHSEED=0 MPLBACKEND=Agg WANDB_MODE=${WANDB_MODE:-offline}
seed=0

"$python" scripts/synthesize.py seed=$seed out_dir="$out/corpus" num_speakers=20 utterances_per_speaker=6 \
  hydra.run.dir="$out/logs/synthesize"
manifest="$out/corpus/manifest.jsonl"

stores=()
for upstream in mel base_random; do
  line=$("$python" scripts/extract_features.py seed=$seed dataset=manifest dataset.path="$manifest" \
    upstream=$upstream extraction.span=phone extraction.middle_third=true store_root="$out/features" \
    hydra.run.dir="$out/logs/extract_$upstream" | tail -n 1)
  stores+=("${line#feature store: }")
done
list=$(printf '"%s",' "${stores[@]}")

"$python" scripts/report.py seed=$seed manifest="$manifest" "stores=[${list%,}]" out_dir="$out/report" \
  hydra.run.dir="$out/logs/report" "title='speechrep demo: synthetic speech, mel vs random-init wav2vec2'"
echo "demo finished: report at $out/report/report.md"
