#!/usr/bin/env bash
# SIM vs GIM vs CPC on the synthetic CVCVCV words: synthesise, train, compare each encoder with its
# random init on syllable/vowel probes, probe bias-free heads per module, train decoders, interpret.
#   bash scripts/recipes/sim_syllables.sh [DATA_DIR] [RUNS_DIR]
# Environment: PYTHON (default .venv/bin/python); METHODS (default "sim gim cpc"); VOICES (espeak-ng
# voices, default the corpus's four); extra Hydra overrides per stage in TRAIN_ARGS, PROBE_ARGS,
# DECODER_ARGS (space-separated), e.g. a smoke run:
#   METHODS=sim VOICES="it+m1 it+f2" TRAIN_ARGS="trainer.max_steps=20 +model.conv_channels=32" \
#     PROBE_ARGS="probe.epochs=5" DECODER_ARGS="trainer.max_steps=5 hidden_channels=32" \
#     bash scripts/recipes/sim_syllables.sh /tmp/syllables /tmp/runs
set -euo pipefail
DATA=$(realpath -m "${1:-data/syllables_synthetic}")
RUNS=$(realpath -m "${2:-runs/sim_syllables}")
PY=${PYTHON:-.venv/bin/python}
read -r -a train_args <<< "${TRAIN_ARGS:-}"
read -r -a probe_args <<< "${PROBE_ARGS:-}"
read -r -a decoder_args <<< "${DECODER_ARGS:-}"
read -r -a voices <<< "${VOICES:-}"
cache="feature_cache=$RUNS/features"  # encoded probe features, shared by the probes of one encoder

"$PY" - "$DATA" "${voices[@]}" <<'EOF'
import sys
from speechrep.data.synth.syllables import DEFAULT_SYLLABLE_VOICES, synthesize_syllables
synthesize_syllables(sys.argv[1], voices=sys.argv[2:] or DEFAULT_SYLLABLE_VOICES)
EOF
for method in ${METHODS:-sim gim cpc}; do
  out="$RUNS/$method"
  "$PY" scripts/train_infomax.py experiment=${method}_syllables dataset.root="$DATA" "${train_args[@]}" \
    hydra.run.dir="$out/encoder_run"
  enc="$out/encoder_run/encoder"
  # performance probes (mu, bias, last module) of the trained encoder and of its random init
  "$PY" scripts/compare_infomax.py encoder_dir="$enc" dataset.root="$DATA" "$cache" "${probe_args[@]}" \
    hydra.run.dir="$out/compare_random_init"
  # interpretability probes: bias-free heads on samples of each conv module (CPC: one module)
  modules=(0 1 2)
  [[ $method == cpc ]] && modules=(0)
  probes=()
  for module in "${modules[@]}"; do
    for task in syllable vowel; do
      run="$out/probe_${task}_module${module}_nobias"
      "$PY" scripts/probe.py encoder_dir="$enc" dataset.root="$DATA" task=$task dataset.level=syllable \
        module=$module probe.bias=false probe.standardize=false deterministic=false "$cache" "${probe_args[@]}" hydra.run.dir="$run"
      probes+=("$run")
    done
    "$PY" scripts/train_decoder.py encoder_dir="$enc" dataset.root="$DATA" module=$module \
      data.crop_samples=10240 data.preload=true "${decoder_args[@]}" hydra.run.dir="$out/decoder_module$module"
  done
  list=$(printf '"%s",' "${probes[@]}")
  "$PY" scripts/interpret_infomax.py encoder_dir="$enc" dataset.root="$DATA" "probes=[${list%,}]" \
    decoder_dir="$out/decoder_module${modules[-1]}" "$cache" hydra.run.dir="$out/interpret"
done
echo "comparisons with random init: $RUNS/*/compare_random_init/comparison.json"
