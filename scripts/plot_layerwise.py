"""Combine several experiments' results.json into one layer-wise figure (a panel per upstream).

python scripts/plot_layerwise.py 'results=[runs/cca_mel/.../results.json,runs/cca_phone/...]' normalise=true
"""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="../configs", config_name="plot_layerwise")
def main(cfg: DictConfig) -> None:
    from speechrep.viz.experiments import combine_layerwise

    figure = combine_layerwise(list(cfg.results), cfg.out, cfg.normalise, cfg.measure, cfg.title)
    print(f"figure: {figure}")


if __name__ == "__main__":
    main()
