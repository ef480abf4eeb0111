"""Synthesise a multi-speaker espeak-ng corpus with exact phone/word alignments and known factors.

python scripts/synthesize.py out_dir=/tmp/synthetic num_speakers=20 utterances_per_speaker=3
"""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="../configs", config_name="synthesize")
def main(cfg: DictConfig) -> None:
    from speechrep.data.synth.corpus import synthesize_from_config

    manifest = synthesize_from_config(cfg)
    print(f"manifest: {cfg.out_dir}/manifest.jsonl")
    print(
        f"{len(manifest)} utterances, {len(manifest.speakers)} speakers, "
        f"{manifest.total_duration / 60:.1f} min, "
        f"{sum(len(u.words) for u in manifest)} words, {sum(len(u.phones) for u in manifest)} phones"
    )


if __name__ == "__main__":
    main()
