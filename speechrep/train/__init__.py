"""The one training loop (accelerate), its checkpoints, schedules, seeded data loading and metric logs.

Used by every trainable method (CPC/GIM/SIM, VIB, DecVAE)::

    from speechrep.train import Trainer, TrainerConfig, load_model_weights

    summary = Trainer(TrainerConfig(out_dir="runs/x", max_steps=1000), model, train_set, val_set).fit()
    load_model_weights(model, summary["best_checkpoint"] or summary["last_checkpoint"])
"""

from speechrep.train.checkpoint import load_model_weights
from speechrep.train.config import TrainerConfig
from speechrep.train.loop import Trainer

__all__ = ["Trainer", "TrainerConfig", "load_model_weights"]
