#!/usr/bin/env bash
# SIM vs GIM vs CPC on the synthetic CVCVCV words: synthesise, train, probe syllables/vowels, decode.
#   bash scripts/recipes/sim_syllables.sh [DATA_DIR] [RUNS_DIR]
set -euo pipefail
DATA=${1:-data/syllables_synthetic}
RUNS=${2:-runs/sim_syllables}
PY=${PYTHON:-.venv/bin/python}

"$PY" -c "from speechrep.data.synth.syllables import synthesize_syllables; synthesize_syllables('$DATA')"
for method in sim gim cpc; do
  out="$RUNS/$method"
  "$PY" scripts/train_infomax.py experiment=${method}_syllables dataset.root="$DATA" hydra.run.dir="$out/encoder_run"
  enc="$out/encoder_run/encoder"
  for task in syllable vowel; do
    # performance probe (mu, bias, last module) and interpretability probe (bias-free, module 0)
    "$PY" scripts/probe.py encoder_dir="$enc" dataset.root="$DATA" task=$task dataset.level=syllable \
      hydra.run.dir="$out/probe_${task}"
    "$PY" scripts/probe.py encoder_dir="$enc" dataset.root="$DATA" task=$task dataset.level=syllable module=0 probe.bias=false \
      deterministic=false hydra.run.dir="$out/probe_${task}_module0_nobias"
  done
  for module in 0 1 2; do
    "$PY" scripts/train_decoder.py encoder_dir="$enc" dataset.root="$DATA" module=$module \
      data.crop_samples=10240 data.preload=true hydra.run.dir="$out/decoder_module$module"
  done
done
