#!/usr/bin/env bash
# The demo on built-in synthetic data, end to end, on CPU in a few minutes:
#   1. synthesise a corpus of 20 speakers with espeak-ng (phone and word alignments included),
#   2. extract phone-segment features of the mel pseudo-upstream and a random-init wav2vec2,
#   3. write a layer-wise report (markdown + plot + JSON/CSV results),
#   4. run layer-wise analyses on those stores (cca_phone, mi_phone, cka, probe_phone; abx on the
#      frames of 30 utterances), each into its own folder, and combine them into one figure,
#   5. Smooth InfoMax: synthesise the 729 CVCVCV words with two voices, train a small SIM (a few
#      minutes), compare it with its random init on vowel and syllable probes (comparison.json),
#      and probe its modules for phones layer by layer on the corpus of step 1 (feature store).
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

# 4. analyses (small settings for a quick CPU run; the experiments' defaults are the papers')
analyze() {  # analyze <experiment> <overrides...>: results in $out/analysis/<experiment>
  "$python" scripts/analyze.py seed=$seed experiment="$1" hydra.run.dir="$out/analysis/$1" "${@:2}" | tail -n 1
}
phones="stores=[${list%,}]"
some='layers=[mel,mel.20ms,cnn.0,cnn.6,tf.0,tf.3,tf.6,tf.9,tf.12]'  # of the mel and model stores
analyze cca_phone "$phones" "$some" analysis.max_pairs=3
analyze mi_phone "$phones" "$some" analysis.n_clusters=50 'analysis.seeds=[0]' analysis.batch_size=512
analyze cka "$phones" "$some"
analyze probe_phone "$phones" "$some" analysis.max_iter=50 analysis.C=0.1

# ABX compares frames: extract them for 30 sampled utterances (a few layers of the random model)
"$python" scripts/sample_segments.py seed=$seed dataset=manifest dataset.path="$manifest" out_dir="$out/samples" \
  num_utterances=30 'kinds=[phone]' hydra.run.dir="$out/logs/sample" > /dev/null
frames=()
for upstream in mel base_random; do
  layers=null
  [[ $upstream == base_random ]] && layers='[cnn.6,tf.0,tf.6,tf.12]'
  line=$("$python" scripts/extract_features.py seed=$seed dataset=manifest dataset.path="$manifest" \
    upstream=$upstream extraction.span=frame "extraction.layers=$layers" store_root="$out/features" \
    utterances_file="$out/samples/utterances_30_seed$seed.tsv" hydra.run.dir="$out/logs/extract_frames_$upstream" \
    | tail -n 1)
  frames+=("${line#feature store: }")
done
framelist=$(printf '"%s",' "${frames[@]}")
analyze abx "stores=[${framelist%,}]" analysis.manifest="$manifest" analysis.context=phone \
  analysis.max_items_per_cell=4 analysis.max_x_speakers=2

results=$(printf '"%s",' "$out"/analysis/{cca_phone,mi_phone,probe_phone})
"$python" scripts/plot_layerwise.py "results=[${results%,}]" normalise=true out="$out/analysis/layerwise.png" \
  "title='synthetic speech: phone content per layer (min-max)'" \
  hydra.run.dir="$out/logs/plot_layerwise"

# 5. Smooth InfoMax on synthetic CVCVCV words (experiment sim_syllables_small)
"$python" - "$out/syllables" it+m1 it+f2 <<'EOF'
import sys
from speechrep.data.synth.syllables import synthesize_syllables
synthesize_syllables(sys.argv[1], voices=sys.argv[2:])
EOF
"$python" scripts/compare_infomax.py seed=$seed experiment=sim_syllables_small dataset.root="$out/syllables" \
  'modules=null' feature_cache="$out/features/infomax" hydra.run.dir="$out/sim" | sed -n '/): trained /p'
line=$("$python" scripts/extract_features.py seed=$seed dataset=manifest dataset.path="$manifest" \
  upstream=infomax upstream.path="$out/sim/train/encoder" extraction.span=phone extraction.middle_third=true \
  store_root="$out/features" hydra.run.dir="$out/logs/extract_sim" | tail -n 1)
"$python" scripts/analyze.py seed=$seed experiment=probe_phone "stores=[\"${stores[0]}\",\"${line#feature store: }\"]" \
  'store_names=[mel,sim]' analysis.max_iter=50 analysis.C=0.1 hydra.run.dir="$out/analysis/probe_phone_sim" | tail -n 1

echo "demo finished: report at $out/report/report.md, analyses and figure in $out/analysis"
echo "SIM vs its random init (vowel and syllable probes): $out/sim/comparison.json"
