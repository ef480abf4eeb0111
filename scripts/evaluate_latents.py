"""Evaluate latents (baselines fitted on sampler draws, or saved codes) with the metric suite.

python scripts/evaluate_latents.py experiment=simvowels_baselines
python scripts/evaluate_latents.py codes_path=latents.npz
"""

import hydra
from omegaconf import DictConfig, OmegaConf


@hydra.main(version_base="1.3", config_path="../configs", config_name="evaluate_latents")
def main(cfg: DictConfig) -> None:
    from speechrep.decvae.latent_evaluation import evaluate_latents

    results = evaluate_latents(OmegaConf.to_container(cfg, resolve=True))
    print(f"results: {cfg.out_dir}/results.json")
    for name, entry in results["representations"].items():
        scores = {row["metric"] + "/" + row["score"]: row["value"] for row in entry["metrics"]["rows"]}
        shown = ", ".join(
            f"{k} {scores[k]:.3f}" for k in ("dci/disentanglement", "mig/discrete_mig") if k in scores
        )
        print(f"{name}: {shown}")


if __name__ == "__main__":
    main()
