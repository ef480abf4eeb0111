"""Data loading whose every random choice is a function of (seed, epoch, index).

- :class:`EpochSampler` fixes the order of an epoch from (seed, epoch) alone and can start
  part-way through it, so a run resumed mid-epoch sees exactly the batches it had not seen yet.
- :class:`SeededItems` makes item ``i`` of epoch ``e`` draw its random numbers (random crops,
  augmentation) from generators seeded by (seed, e, i). Items are then the same whichever worker
  loads them, however many processes share the batch, and whether or not the run was resumed; in
  the main process the training stream is left untouched (its state is saved and restored around
  the item).

Datasets are map-style (``__len__`` and ``__getitem__``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler, get_worker_info

from speechrep.train.rng import capture_rng_state, derived_seed, restore_rng_state, seed_process


class EpochSampler(Sampler[int]):
    """Indices of one epoch: a permutation fixed by (seed, epoch), or ``0 … n-1`` without shuffling.

    ``start`` skips the first indices of the epoch (a multiple of the batch size when resuming).
    ``set_epoch`` is also what accelerate's prepared loader calls before iterating.
    """

    def __init__(self, size: int, seed: int, shuffle: bool) -> None:
        self.size = size
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def order(self) -> list[int]:
        """The full order of the current epoch."""
        if not self.shuffle:
            return list(range(self.size))
        generator = torch.Generator().manual_seed(derived_seed(self.seed, self.epoch))
        return torch.randperm(self.size, generator=generator).tolist()

    def __iter__(self) -> Iterator[int]:
        return iter(self.order()[self.start :])

    def __len__(self) -> int:
        return self.size - self.start


class SeededItems(Dataset):
    """View of ``dataset`` whose item ``i`` of epoch ``e`` loads under generators seeded by (seed, e, i)."""

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset = dataset
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: list[int]) -> list[Any]:
        """Load a batch's items (torch's loaders call this once per batch when it exists).

        In the main process the caller's generator states are saved once per batch, not per item:
        saving numpy's costs ~0.1 ms.
        """
        saved = capture_rng_state() if get_worker_info() is None else None  # a worker serves nothing else
        try:
            items = []
            for index in indices:
                seed_process(derived_seed(self.seed, self.epoch, index))
                items.append(self.dataset[index])
            return items
        finally:
            if saved is not None:
                restore_rng_state(saved)


def steps_per_epoch(num_items: int, batch_size: int, drop_last: bool) -> int:
    """Number of (global) batches in one pass over ``num_items``."""
    return num_items // batch_size if drop_last else -(-num_items // batch_size)


def make_loader(
    items: SeededItems,
    sampler: EpochSampler,
    batch_size: int,
    *,
    collate_fn: Callable[[list[Any]], Any] | None,
    num_workers: int,
    drop_last: bool,
    pin_memory: bool,
) -> DataLoader:
    """A loader of global batches, to be sharded across processes by ``accelerator.prepare``.

    It owns a private generator: creating an iterator draws a worker base seed from it instead of
    from torch's global generator, which training (and resumption) must not see move.
    """
    return DataLoader(
        items,
        batch_size=batch_size,
        sampler=sampler,
        collate_fn=collate_fn,
        num_workers=num_workers,
        drop_last=drop_last,
        pin_memory=pin_memory,
        generator=torch.Generator().manual_seed(sampler.seed),
    )
