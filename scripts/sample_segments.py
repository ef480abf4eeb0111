"""Draw the seeded utterance and phone/word samples of the layer-wise recipe into TSV files.

python scripts/sample_segments.py dataset.path=/tmp/synthetic/manifest.jsonl out_dir=/tmp/samples
"""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="../configs", config_name="sample_segments")
def main(cfg: DictConfig) -> None:
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from speechrep.data.sampling import sample_to_folder

    manifest = instantiate(cfg.dataset)
    written = sample_to_folder(
        manifest,
        cfg.out_dir,
        seed=cfg.seed,
        kinds=list(cfg.kinds),
        max_per_label=OmegaConf.to_container(cfg.max_per_label),
        min_per_label=cfg.min_per_label,
        top_k_labels=OmegaConf.to_container(cfg.top_k_labels),
        exclude=list(cfg.exclude) if cfg.exclude is not None else None,
        num_utterances=cfg.num_utterances,
    )
    for name, path in written.items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
