#!/usr/bin/env bash
# SIM vs GIM vs CPC on LibriSpeech train-clean-100 (CPC split): train, probe speakers and phones, decode.
#   bash scripts/recipes/sim_librispeech.sh /data/LibriSpeech /data/LibriSpeech100_labels_split [RUNS_DIR]
set -euo pipefail
ROOT=$1
SPLIT=$2
RUNS=${3:-runs/sim_librispeech}
PY=${PYTHON:-.venv/bin/python}
DATA=(dataset=cpc_librispeech100 dataset.root="$ROOT" dataset.split_dir="$SPLIT")

for method in sim gim cpc; do
  out="$RUNS/$method"
  "$PY" scripts/train_infomax.py experiment=${method}_librispeech100 "${DATA[@]:1}" hydra.run.dir="$out/encoder_run"
  enc="$out/encoder_run/encoder"
  # speakers: time-mean of centred 1.28 s crops; phones: every 10 ms frame of whole utterances
  "$PY" scripts/probe.py encoder_dir="$enc" "${DATA[@]}" task=speaker crop_samples=20480 probe.epochs=10 \
    hydra.run.dir="$out/probe_speaker"
  "$PY" scripts/probe.py encoder_dir="$enc" "${DATA[@]}" task=phone probe.epochs=20 probe.lr=1e-4 \
    hydra.run.dir="$out/probe_phone"
  for module in 0 1 2; do
    "$PY" scripts/probe.py encoder_dir="$enc" "${DATA[@]}" task=speaker crop_samples=20480 module=$module \
      probe.bias=false probe.standardize=false deterministic=false probe.epochs=10 hydra.run.dir="$out/probe_speaker_module${module}_nobias"
    "$PY" scripts/train_decoder.py encoder_dir="$enc" "${DATA[@]}" module=$module trainer.max_steps=50000 \
      hydra.run.dir="$out/decoder_module$module"
  done
done
