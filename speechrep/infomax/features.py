"""Frozen-encoder features of a Manifest, computed once and reused (cached) by probes and analyses.

Each utterance is encoded whole (or as its centred crop), alone, with the encoder in eval mode
and without gradients, so a feature never depends on its batch neighbours. ``deterministic``
gives μ (the probe setting of SIM); otherwise each module outputs one sample.

Labels:

- utterance labels (:func:`utterance_labels`): ``"speaker"`` or any key of ``Utterance.labels``
  (``syllable``, ``vowel``, ...), for time-mean probes;
- frame labels (:func:`frame_labels`): frame ``i`` takes the phone whose span contains the centre
  of its receptive field, ``(hop · i + offset + (R - 1) / 2) / sample_rate`` seconds (see
  :mod:`speechrep.infomax.geometry`); for CPC's 10 ms labels and the 100 Hz module, frame ``i``
  gets label frame ``i`` (not SIM's alignment from the end).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from speechrep.data.audio import load_audio
from speechrep.data.manifest import Manifest, Utterance
from speechrep.infomax.encoder import InfoMaxEncoder
from speechrep.infomax.geometry import FrameGeometry


def encode_manifest(
    encoder: InfoMaxEncoder,
    manifest: Manifest,
    modules: Sequence[int],
    deterministic: bool = True,
    crop_samples: int | None = None,
    sample_rate: int = 16_000,
    seed: int | None = None,
) -> dict[int, list[Tensor]]:
    """module -> one ``(L, D)`` float32 CPU tensor per utterance (manifest order).

    ``seed`` (with ``deterministic=False``) draws the samples from a generator seeded with it, so
    the features are a function of their inputs (and cacheable); the global state is left as it was.
    """
    encoder.eval()
    device = next(encoder.parameters()).device
    stop = max(modules) + 1
    out: dict[int, list[Tensor]] = {m: [] for m in modules}
    with torch.no_grad(), torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        if seed is not None:
            torch.manual_seed(seed)
        for utt in manifest:
            wave = load_audio(utt.audio_path, sample_rate)
            if crop_samples is not None:
                start = max(len(wave) - crop_samples, 0) // 2
                wave = wave[start : start + crop_samples]
            x = torch.from_numpy(np.ascontiguousarray(wave)).to(device).view(1, -1)
            result = encoder(x, sample=not deterministic, two_samples=False, num_modules=stop)
            for m in modules:
                out[m].append(result.modules[m].latent[0].float().cpu())
    return out


def utterance_labels(manifest: Manifest, key: str) -> list[str]:
    """The ``key`` label of every utterance (``"speaker"`` or a key of ``labels``); fails naming the id."""
    values = []
    for utt in manifest:
        value = utt.speaker if key == "speaker" else utt.labels.get(key)
        if value is None:
            raise ValueError(f"utterance {utt.id} has no {key!r} label")
        values.append(str(value))
    return values


def frame_labels(
    utt: Utterance, geometry: FrameGeometry, num_frames: int, sample_rate: int = 16_000
) -> list[str | None]:
    """The phone label at the centre of each of ``num_frames`` frames (``None`` outside all phones)."""
    labels: list[str | None] = []
    phones = utt.phones
    p = 0
    for i in range(num_frames):
        t = geometry.center(i) / sample_rate
        while p < len(phones) and phones[p].end <= t:
            p += 1
        labels.append(phones[p].label if p < len(phones) and phones[p].start <= t else None)
    return labels


class LabelIndex:
    """Class ids of string labels, in sorted order of the labels seen at :meth:`fit`."""

    def fit(self, *label_lists: Sequence[str | None]) -> LabelIndex:
        self.classes_ = sorted({label for labels in label_lists for label in labels if label is not None})
        self._ids = {label: i for i, label in enumerate(self.classes_)}
        return self

    def transform(self, labels: Sequence[str | None]) -> Tensor:
        """int64 ids; ``None`` becomes -1 (ignored by the probes)."""
        return torch.tensor([-1 if label is None else self._ids[label] for label in labels], dtype=torch.long)
