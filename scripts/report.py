"""Write a layer-wise report (JSON, CSV, plot, markdown) for phone-span feature stores.

python scripts/report.py manifest=data/synthetic/manifest.jsonl 'stores=[data/features/mel-phone-...]'
"""

import hydra
from omegaconf import DictConfig, OmegaConf


@hydra.main(version_base="1.3", config_path="../configs", config_name="report")
def main(cfg: DictConfig) -> None:
    from speechrep.data import Manifest
    from speechrep.store import FeatureStore
    from speechrep.viz.report import write_layerwise_report

    stores = [FeatureStore(path) for path in cfg.stores]
    config = OmegaConf.to_container(cfg, resolve=True)
    report = write_layerwise_report(stores, Manifest.load(cfg.manifest), cfg.out_dir, config, cfg.title)
    print(f"report: {report}")


if __name__ == "__main__":
    main()
