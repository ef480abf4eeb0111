"""Extract layer-wise features of an upstream for a dataset into a feature store.

python scripts/extract_features.py upstream=tiny_random dataset=synthetic_speech extraction.span=phone
accelerate launch --multi_gpu --num_processes 2 scripts/extract_features.py ...
"""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="../configs", config_name="extract_features")
def main(cfg: DictConfig) -> None:
    from speechrep.store.extract import extract_from_config

    store = extract_from_config(cfg)
    print(f"feature store: {store.path}")


if __name__ == "__main__":
    main()
