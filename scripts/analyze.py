"""Run one layer-wise analysis on feature stores; write results.json, results.csv and plots.

python scripts/analyze.py experiment=cca_phone 'stores=[data/features/wav2vec2-phone-...]'
python scripts/analyze.py experiment=cca_mel 'stores=[<model frames>]' analysis.reference=<mel frames>
"""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="../configs", config_name="analyze")
def main(cfg: DictConfig) -> None:
    from speechrep.analysis.experiments import run_analysis
    from speechrep.viz.experiments import plot_results

    results = run_analysis(cfg)
    plot_results(results)
    print(f"results: {results}")


if __name__ == "__main__":
    main()
