"""Entry point of configs/compare_infomax.yaml (see its header for usage)."""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="../configs", config_name="compare_infomax")
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from speechrep.infomax.comparison import compare_with_random_init

    out_dir = HydraConfig.get().runtime.output_dir
    result = compare_with_random_init(cfg, out_dir)
    for task, per_module in result["tasks"].items():
        for module, scores in per_module.items():
            print(
                f"{task} ({module}): trained {scores['trained']['test_accuracy']:.3f}, "
                f"random init {scores['random_init']['test_accuracy']:.3f}, chance {scores['chance']:.3f}"
            )
    print(f"comparison: {out_dir}/comparison.json")


if __name__ == "__main__":
    main()
