"""Linear probes on cached frozen-encoder features (SIM's speaker, phone, syllable, vowel probes).

A probe is one linear layer ``y = W x (+ b)`` trained with softmax cross-entropy and Adam on
features that were computed once (:mod:`speechrep.infomax.features`), instead of re-encoding
every utterance every epoch. Utterance-level tasks (speaker, syllable, vowel) use the time mean
``x = (1/L) Σ_t h_t``; the phone task uses every frame with a label. Accuracy is the micro
accuracy over all test rows (frames or utterances), computed once, deterministically.

Which module is probed and whether the head has a bias are separate choices (SIM's code tied
both to one ``bias`` flag): the performance setting is a bias head on the last module, the
interpretability setting a bias-free head, whose weight matrix is then read by
:func:`speechrep.infomax.interpret.weight_density`.

``standardize`` z-scores every feature with the training rows' mean and standard deviation
before the head is trained. Performance probes need it to compare encoders fairly: an untrained
conv stack (BatchNorm at its initial statistics is the identity) gives time means whose spread
across clips is ~1e-4, which Adam at lr 1e-3 cannot scale up in 50 epochs, so an unstandardised
probe of it sits near chance whatever the features hold. The standardisation is folded into the
trained head, ``W' = W / σ``, ``b' = b - W' μ``, so the head applies to raw features; that needs
a bias, and it rescales the weights per dimension, so interpretability probes (bias-free, whose
weights are read as they are) leave it off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class ProbeConfig:
    """Training settings of a linear probe.

    Attributes:
        epochs: passes over the training rows.
        lr: Adam learning rate.
        batch_size: rows per step.
        bias: give the head a bias.
        standardize: train on z-scored features (module docstring); needs ``bias``.
        weight_decay: Adam's L2 weight decay.
        seed: seeds the initialisation and the row order.
    """

    epochs: int = 50
    lr: float = 1e-3
    batch_size: int = 64
    bias: bool = True
    standardize: bool = False
    weight_decay: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.standardize and not self.bias:
            raise ValueError(
                "a standardized probe folds the feature means into its bias: set bias=true, or "
                "standardize=false for a bias-free head (the interpretability setting)"
            )


@dataclass
class ProbeResult:
    """A trained head and its accuracies (micro, over rows)."""

    head: nn.Linear
    train_accuracy: float
    test_accuracy: float
    num_classes: int


def time_mean(features: Sequence[Tensor]) -> Tensor:
    """``(N, D)``: the time mean of each ``(L, D)`` utterance feature."""
    return torch.stack([f.mean(dim=0) for f in features])


def stack_frames(features: Sequence[Tensor], labels: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """All frames with a label (id >= 0): ``(F, D)`` features and ``(F,)`` ids."""
    for index, (f, y) in enumerate(zip(features, labels, strict=True)):
        if len(f) != len(y):
            raise ValueError(f"utterance {index}: {len(f)} frames but {len(y)} frame labels")
    x, y = torch.cat(list(features)), torch.cat(list(labels))
    keep = y >= 0
    return x[keep], y[keep]


def train_probe(x: Tensor, y: Tensor, num_classes: int, config: ProbeConfig) -> nn.Linear:
    """A linear head trained on ``(N, D)`` features and ``(N,)`` class ids (see the module docstring)."""
    if x.ndim != 2 or len(x) != len(y) or len(x) == 0:
        raise ValueError(f"need (N, D) features and N labels, got {tuple(x.shape)} and {tuple(y.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("the features hold NaN or infinite values")
    generator = torch.Generator().manual_seed(config.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        head = nn.Linear(x.shape[1], num_classes, bias=config.bias)
    if config.standardize:
        mean, std = x.mean(dim=0), x.std(dim=0, correction=0)
        std = torch.where(std > 0, std, 1.0)  # a constant dimension stays 0 after centring
        x = (x - mean) / std
    optimizer = torch.optim.Adam(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    for _ in range(config.epochs):
        order = torch.randperm(len(x), generator=generator)
        for batch in order.split(config.batch_size):
            optimizer.zero_grad()
            F.cross_entropy(head(x[batch]), y[batch]).backward()
            optimizer.step()
    if config.standardize:
        with torch.no_grad():
            head.weight /= std
            head.bias -= head.weight @ mean
    return head.eval()


@torch.no_grad()
def probe_accuracy(head: nn.Linear, x: Tensor, y: Tensor) -> float:
    """Micro accuracy of ``head`` on all rows."""
    return float((head(x).argmax(dim=1) == y).float().mean())


def run_probe(
    train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, num_classes: int, config: ProbeConfig
) -> ProbeResult:
    """Train on the first pair, score on both."""
    head = train_probe(train_x, train_y, num_classes, config)
    return ProbeResult(
        head, probe_accuracy(head, train_x, train_y), probe_accuracy(head, test_x, test_y), num_classes
    )
