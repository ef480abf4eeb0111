#!/usr/bin/env bash
# The layer-wise analysis of Pasad et al. (2021, 2023, 2024) for one checkpoint on LibriSpeech:
#   1. read the split with its MFA alignments into a manifest,
#   2. draw the seeded samples: utterances for frame-level analyses, up to 200 instances of every
#      phone and 15 of each of the 500 most frequent words,
#   3. extract frame stores (the model with CNN layers pooled to 10 ms, and log-mel), phone-segment
#      means (middle third) and word-segment means,
#   4. run the experiments: cca_mel, cca_intra, cca_phone, cca_word, mi_phone, mi_word, cka (phone
#      segments), abx, probe_phone, probe_word, probe_speaker; with the optional files below also
#      cca_glove, cca_agwe, wordsim and cca_inter,
#   5. combine them into one min-max normalised layer-wise figure.
#
# Usage: bash scripts/recipes/layerwise_librispeech.sh CHECKPOINT LIBRISPEECH_ROOT ALIGNMENTS [OUT]
#   CHECKPOINT        a hub id (facebook/wav2vec2-base, facebook/hubert-base-ls960, microsoft/wavlm-base),
#                     a local transformers model folder, or a fairseq .pt file
#   LIBRISPEECH_ROOT  the folder holding the split folders (dev-clean/...)
#   ALIGNMENTS        MFA TextGrids of the split (e.g. the Lugosch et al. LibriSpeech alignments)
#   OUT               output folder (default runs/layerwise_<checkpoint name>)
# Environment (optional): SPLIT (dev-clean), SEED (0), NUM_UTTERANCES (500), DEVICE (auto),
#   ABX_CONTEXT (triphone; phone for small samples), GLOVE (glove.840B.300d.txt), AGWE (.npz/.txt/.pkl
#   word -> vector), WORDSIM (folder of benchmark files), FINETUNED (a second checkpoint for cca_inter,
#   e.g. facebook/wav2vec2-base-960h).
set -euo pipefail
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
[[ ${1:-} == -h || ${1:-} == --help ]] && usage 0
[[ $# -ge 3 && $# -le 4 ]] || usage 2

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
python=$(bash scripts/setup_env.sh)
checkpoint=$1
librispeech=$(realpath "$2")
alignments=$(realpath "$3")
out=$(realpath -m "${4:-runs/layerwise_$(basename "$checkpoint" .pt)}")
split=${SPLIT:-dev-clean}
seed=${SEED:-0}
num_utterances=${NUM_UTTERANCES:-500}
device=${DEVICE:-null}
abx_context=${ABX_CONTEXT:-triphone}
export PYTHONHASHSEED=0 MPLBACKEND=Agg WANDB_MODE=${WANDB_MODE:-offline}

# the upstream overrides for a checkpoint: fairseq .pt files, else a hub id or a local folder
upstream_of() {
  if [[ $1 == *.pt ]]; then
    echo "upstream=fairseq_checkpoint upstream.path=$(realpath "$1")"
  else
    echo "upstream=wav2vec2_base upstream.name_or_path=$1"
  fi
}

# 1. manifest
manifest="$out/manifest.jsonl"
if [[ ! -f $manifest ]]; then
  "$python" - "$librispeech" "$split" "$alignments" "$manifest" <<'EOF'
import sys

from speechrep.data.corpora import read_librispeech

root, split, alignments, path = sys.argv[1:]
manifest = read_librispeech(root, split=split, alignments=alignments, on_missing="skip")  # reported
manifest.save(path)
print(f"manifest: {path} ({len(manifest)} utterances)")
EOF
fi

# 2. samples
samples="$out/samples"
"$python" scripts/sample_segments.py seed=$seed dataset=manifest dataset.path="$manifest" out_dir="$samples" \
  num_utterances=$num_utterances hydra.run.dir="$out/logs/sample"

# 3. feature stores
extract() {  # extract <name> <overrides...>: prints the store folder
  "$python" scripts/extract_features.py seed=$seed dataset=manifest dataset.path="$manifest" \
    store_root="$out/features" hydra.run.dir="$out/logs/extract_$1" "${@:2}" | tail -n 1 | sed 's/^feature store: //'
}
utterances="utterances_file=$samples/utterances_${num_utterances}_seed${seed}.tsv"
# shellcheck disable=SC2046  # upstream_of prints separate overrides
model_frames=$(extract model_frames $(upstream_of "$checkpoint") extraction.span=frame \
  extraction.cnn_to_10ms=true "$utterances")
mel_frames=$(extract mel_frames upstream=mel extraction.span=frame "$utterances")
# shellcheck disable=SC2046
phones=$(extract model_phones $(upstream_of "$checkpoint") extraction.span=phone extraction.middle_third=true \
  segments_file="$samples/phone_segments_seed${seed}.tsv")
# shellcheck disable=SC2046
words=$(extract model_words $(upstream_of "$checkpoint") extraction.span=word \
  segments_file="$samples/word_segments_seed${seed}.tsv")

# 4. experiments
failed=() succeeded=()  # an experiment that fails (its error is printed) does not stop the others
analyze() {  # analyze <experiment> <store> <overrides...>: results in $out/analysis/<experiment>
  if ! "$python" scripts/analyze.py seed=$seed experiment="$1" "stores=[$2]" device=$device \
    hydra.run.dir="$out/analysis/$1" "${@:3}" | tail -n 1; then
    failed+=("$1")
  else
    succeeded+=("$1")
  fi
}
analyze cca_mel "$model_frames" analysis.reference="$mel_frames"
analyze cca_intra "$model_frames"
analyze cca_phone "$phones"
analyze cca_word "$words"
analyze mi_phone "$phones"
analyze mi_word "$words"
analyze cka "$phones"
analyze abx "$model_frames" analysis.manifest="$manifest" analysis.context="$abx_context"
analyze probe_phone "$phones"
analyze probe_word "$words"
analyze probe_speaker "$phones" analysis.manifest="$manifest"
combined=(cca_mel cca_phone cca_word mi_phone mi_word)
if [[ -n ${GLOVE:-} ]]; then
  analyze cca_glove "$words" analysis.embeddings="$(realpath "$GLOVE")"
  combined+=(cca_glove)
fi
if [[ -n ${AGWE:-} ]]; then
  analyze cca_agwe "$words" analysis.embeddings="$(realpath "$AGWE")"
  combined+=(cca_agwe)
fi
if [[ -n ${WORDSIM:-} ]]; then
  analyze wordsim "$words" analysis.benchmarks="$(realpath "$WORDSIM")"
fi
if [[ -n ${FINETUNED:-} ]]; then
  # shellcheck disable=SC2046
  tuned_frames=$(extract finetuned_frames $(upstream_of "$FINETUNED") extraction.span=frame \
    extraction.cnn_to_10ms=true "$utterances")
  analyze cca_inter "$model_frames" analysis.reference="$tuned_frames"
fi

# 5. the combined figure (of the experiments that ran)
done_runs=()
for experiment in "${combined[@]}"; do
  [[ " ${succeeded[*]} " == *" $experiment "* ]] && done_runs+=("$out/analysis/$experiment")
done
results=$(printf '"%s",' "${done_runs[@]}")
"$python" scripts/plot_layerwise.py "results=[${results%,}]" normalise=true out="$out/layerwise.png" \
  "title='$(basename "$checkpoint"): layer-wise content ($split, min-max)'" hydra.run.dir="$out/logs/plot"
echo "layer-wise analysis finished: $out/layerwise.png; results per experiment in $out/analysis"
if ((${#failed[@]})); then
  echo "failed experiments (errors above): ${failed[*]}" >&2
  exit 1
fi
