"""Decompose a corpus with a DecVAE decomposition model into the feature store; print its quality.

python scripts/decompose.py decomposition=vmd dataset=synthetic_speech
python scripts/decompose.py decomposition=filter decomposition.n_components=4 upstream.level=utterance
"""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="../configs", config_name="decompose")
def main(cfg: DictConfig) -> None:
    from speechrep.decvae.decomposition.cache import decompose_from_config

    store, report = decompose_from_config(cfg)
    print(f"decomposition store: {store.path}")
    for name, value in report.as_dict().items():
        print(f"  {name:<22} {value:.6g}" if isinstance(value, float) else f"  {name:<22} {value}")


if __name__ == "__main__":
    main()
