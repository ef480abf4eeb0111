"""Entry point of configs/interpret_infomax.yaml (see its header for usage)."""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="../configs", config_name="interpret_infomax")
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from speechrep.infomax.interpretation import interpret_from_config
    from speechrep.viz.infomax import plot_interpretation

    out_dir = HydraConfig.get().runtime.output_dir
    results = interpret_from_config(cfg, out_dir)
    plot_interpretation(results, out_dir)
    print(f"results: {out_dir}/results.json")


if __name__ == "__main__":
    main()
