"""Simulate SimVowels: vowel sequences with known vowel, vocal-tract (speaker) and F0 factors.

python scripts/simulate_vowels.py out_dir=/tmp/simvowels 'num_utterances={train: 40, dev: 10, test: 10}'
"""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="../configs", config_name="simulate_vowels")
def main(cfg: DictConfig) -> None:
    from speechrep.data.simvowels.corpus import simulate_from_config

    manifest = simulate_from_config(cfg)
    print(f"manifest: {cfg.out_dir}/manifest.jsonl")
    minutes = manifest.total_duration / 60
    print(f"{len(manifest)} utterances, {len(manifest.speakers)} speakers, {minutes:.1f} min")


if __name__ == "__main__":
    main()
