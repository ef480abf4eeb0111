#!/usr/bin/env bash
# SIM vs GIM vs CPC on LibriSpeech train-clean-100 (CPC split): train, probe speakers and phones, decode.
#   bash scripts/recipes/sim_librispeech.sh /data/LibriSpeech /data/LibriSpeech100_labels_split [RUNS_DIR]
# Environment: PYTHON (default .venv/bin/python); METHODS (default "sim gim cpc"); extra Hydra
# overrides per stage in TRAIN_ARGS, PROBE_ARGS, DECODER_ARGS (space-separated), e.g. a smoke run:
#   METHODS=sim TRAIN_ARGS="trainer.max_steps=20" PROBE_ARGS="probe.epochs=2" \
#     DECODER_ARGS="trainer.max_steps=5" bash scripts/recipes/sim_librispeech.sh ROOT SPLIT /tmp/runs
set -euo pipefail
ROOT=$(realpath "$1")
SPLIT=$(realpath "$2")
RUNS=$(realpath -m "${3:-runs/sim_librispeech}")
PY=${PYTHON:-.venv/bin/python}
read -r -a train_args <<< "${TRAIN_ARGS:-}"
read -r -a probe_args <<< "${PROBE_ARGS:-}"
read -r -a decoder_args <<< "${DECODER_ARGS:-}"
DATA=(dataset=cpc_librispeech100 dataset.root="$ROOT" dataset.split_dir="$SPLIT")
cache="feature_cache=$RUNS/features"  # encoded probe features, shared by the probes of one encoder

for method in ${METHODS:-sim gim cpc}; do
  out="$RUNS/$method"
  # the experiment selects the dataset; only its paths are given here
  "$PY" scripts/train_infomax.py experiment=${method}_librispeech100 "${DATA[@]:1}" "${train_args[@]}" \
    hydra.run.dir="$out/encoder_run"
  enc="$out/encoder_run/encoder"
  # speakers: time-mean of centred 1.28 s crops; phones: every 10 ms frame of whole utterances
  "$PY" scripts/probe.py encoder_dir="$enc" "${DATA[@]}" "$cache" task=speaker crop_samples=20480 \
    probe.epochs=10 "${probe_args[@]}" hydra.run.dir="$out/probe_speaker"
  "$PY" scripts/probe.py encoder_dir="$enc" "${DATA[@]}" "$cache" task=phone probe.epochs=20 probe.lr=1e-4 \
    "${probe_args[@]}" hydra.run.dir="$out/probe_phone"
  modules=(0 1 2)
  [[ $method == cpc ]] && modules=(0)  # end-to-end CPC is one module
  for module in "${modules[@]}"; do
    "$PY" scripts/probe.py encoder_dir="$enc" "${DATA[@]}" "$cache" task=speaker crop_samples=20480 module=$module \
      probe.bias=false probe.standardize=false deterministic=false probe.epochs=10 "${probe_args[@]}" \
      hydra.run.dir="$out/probe_speaker_module${module}_nobias"
    "$PY" scripts/train_decoder.py encoder_dir="$enc" "${DATA[@]}" module=$module trainer.max_steps=50000 \
      "${decoder_args[@]}" hydra.run.dir="$out/decoder_module$module"
  done
done
echo "finished: runs in $RUNS (results.json in every stage folder)"
