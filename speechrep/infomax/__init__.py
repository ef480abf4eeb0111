"""CPC / GIM / SIM / V-GIM: encoders split into gradient-isolated modules, InfoNCE and KL
objectives, training data, linear probes, decoders and interpretability analyses.

- :mod:`.config`: :class:`InfoMaxConfig` and the ``cpc`` / ``gim`` / ``sim`` / ``vgim`` presets;
- :mod:`.encoder`: :class:`InfoMaxEncoder` (modules ``module.0`` …, safetensors checkpoints);
- :mod:`.losses`: :class:`InfoNCE`, :func:`gaussian_kl`;
- :mod:`.model`: :class:`GreedyInfoMax` (the trainable model: encoder + InfoNCE heads).
"""

from speechrep.infomax.config import InfoMaxConfig, infomax_config
from speechrep.infomax.encoder import EncoderOutput, InfoMaxEncoder, ModuleOutput
from speechrep.infomax.losses import InfoNCE, InfoNCEOutput, gaussian_kl
from speechrep.infomax.model import GreedyInfoMax

__all__ = [
    "EncoderOutput",
    "GreedyInfoMax",
    "InfoMaxConfig",
    "InfoMaxEncoder",
    "InfoNCE",
    "InfoNCEOutput",
    "ModuleOutput",
    "gaussian_kl",
    "infomax_config",
]
