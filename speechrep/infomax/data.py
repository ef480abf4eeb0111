"""Training and evaluation datasets of raw-audio crops from a Manifest.

CPC, GIM and SIM train on fixed-length crops (20,480 samples = 1.28 s on LibriSpeech, as in
CPC): :class:`RandomCropDataset` draws a new crop start on every access, uniformly among the
multiples of ``crop_step`` (160 samples = one 10 ms label frame, so crops stay aligned with frame
labels) that keep the crop inside the utterance. The draw uses torch's global generator, which
:class:`speechrep.train.Trainer` seeds per item from (seed, epoch, index), so crops are
reproducible and independent of workers. :class:`FixedCropDataset` is the deterministic
counterpart for evaluation: the centred crop of every utterance (no random crops at test time,
unlike SIM's code). Utterances shorter than the crop are zero-padded on the right.

Items are ``{"wave": (crop,) float32, "index": int}``; the default collate stacks them.
Audio is read with :func:`speechrep.data.audio.load_audio` (resampled to ``sample_rate`` once per
read; ``preload`` keeps every resampled utterance in memory, worthwhile for small corpora such as
the syllables, whose published clips are 44.1 kHz).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from speechrep.data.audio import load_audio
from speechrep.data.manifest import Manifest

#: CPC's crop: 20,480 samples (1.28 s at 16 kHz), 128 frames at 100 Hz.
CPC_CROP = 20_480


class _ManifestAudio(Dataset):
    """Shared loading of a manifest's audio, optionally preloaded."""

    def __init__(
        self, manifest: Manifest, crop_samples: int, sample_rate: int = 16_000, preload: bool = False
    ) -> None:
        if len(manifest) == 0:
            raise ValueError("the manifest is empty: there is nothing to train or evaluate on")
        if crop_samples < 1:
            raise ValueError(f"crop_samples must be positive, got {crop_samples}")
        self.manifest = manifest
        self.crop_samples = int(crop_samples)
        self.sample_rate = int(sample_rate)
        self._cache = [self._read(i) for i in range(len(manifest))] if preload else None

    def __len__(self) -> int:
        return len(self.manifest)

    def _read(self, index: int) -> np.ndarray:
        return load_audio(self.manifest[index].audio_path, self.sample_rate)

    def wave(self, index: int) -> np.ndarray:
        """The whole utterance ``index`` at :attr:`sample_rate`."""
        return self._cache[index] if self._cache is not None else self._read(index)

    def _crop(self, wave: np.ndarray, start: int) -> torch.Tensor:
        out = torch.zeros(self.crop_samples)
        piece = torch.from_numpy(wave[start : start + self.crop_samples])
        out[: len(piece)] = piece
        return out


class RandomCropDataset(_ManifestAudio):
    """A random ``crop_samples`` crop of each utterance, redrawn on every access (see module doc).

    Args:
        manifest: the utterances.
        crop_samples: crop length in samples.
        crop_step: crop starts are multiples of this (160: aligned with 10 ms label frames).
        sample_rate: rate the audio is read at.
        preload: keep all utterances in memory.
    """

    def __init__(
        self,
        manifest: Manifest,
        crop_samples: int = CPC_CROP,
        crop_step: int = 160,
        sample_rate: int = 16_000,
        preload: bool = False,
    ) -> None:
        if crop_step < 1:
            raise ValueError(f"crop_step must be positive, got {crop_step}")
        self.crop_step = int(crop_step)
        super().__init__(manifest, crop_samples, sample_rate, preload)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        wave = self.wave(index)
        num_starts = max(len(wave) - self.crop_samples, 0) // self.crop_step + 1
        start = int(torch.randint(num_starts, ())) * self.crop_step
        return {"wave": self._crop(wave, start), "index": index}


class FixedCropDataset(_ManifestAudio):
    """The centred ``crop_samples`` crop of each utterance: deterministic evaluation batches."""

    def __init__(
        self,
        manifest: Manifest,
        crop_samples: int = CPC_CROP,
        sample_rate: int = 16_000,
        preload: bool = False,
    ) -> None:
        super().__init__(manifest, crop_samples, sample_rate, preload)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        wave = self.wave(index)
        start = max(len(wave) - self.crop_samples, 0) // 2
        return {"wave": self._crop(wave, start), "index": index}
