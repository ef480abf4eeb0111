"""Entry point of configs/train_decoder.yaml (see its header for usage)."""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="../configs", config_name="train_decoder")
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from speechrep.infomax.pipeline import train_decoder_from_config

    train_decoder_from_config(cfg, HydraConfig.get().runtime.output_dir)
    print(f"results: {HydraConfig.get().runtime.output_dir}/results.json")


if __name__ == "__main__":
    main()
