"""Loader randomness is a function of (seed, epoch, index) and leaves the training stream alone."""

from __future__ import annotations

import random

import numpy as np
import torch

from speechrep.train.data import EpochSampler, SeededItems, steps_per_epoch
from speechrep.train.rng import capture_rng_state, isolated_rng, restore_rng_state
from tests.train.toys import ToyData


def test_epoch_order_depends_on_seed_and_epoch_and_can_start_part_way():
    sampler = EpochSampler(20, seed=5, shuffle=True)
    first = list(sampler)
    assert sorted(first) == list(range(20)) and first != list(range(20))
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first
    sampler.start = 8
    assert list(sampler) == second[8:] and len(sampler) == 12
    sampler.set_epoch(0)
    sampler.start = 0
    assert list(sampler) == first and list(EpochSampler(20, seed=6, shuffle=True)) != first
    assert list(EpochSampler(5, seed=5, shuffle=False)) == [0, 1, 2, 3, 4]


def test_items_depend_on_seed_epoch_index_only_and_leave_global_generators_alone():
    items = SeededItems(ToyData(6, seed=1), seed=3)
    torch.manual_seed(0)
    np.random.seed(0)  # noqa: NPY002
    random.seed(0)
    before = capture_rng_state()
    batch = items.__getitems__([4, 2])
    after = capture_rng_state()
    assert torch.equal(before["torch"], after["torch"]) and before["python"] == after["python"]
    assert torch.equal(before["numpy"]["key"], after["numpy"]["key"])

    torch.manual_seed(123)  # other global state, other order, one at a time: the same items
    assert torch.equal(items[2]["x"], batch[1]["x"]) and torch.equal(items[4]["x"], batch[0]["x"])
    items.epoch = 1
    assert not torch.equal(items[2]["x"], batch[1]["x"])  # fresh noise next epoch


def test_rng_state_round_trip_and_isolation():
    state = capture_rng_state()
    expected = (random.random(), np.random.standard_normal(), torch.rand(1))  # noqa: NPY002
    restore_rng_state(state)
    with isolated_rng(99):
        inside = torch.rand(1)
    assert (random.random(), np.random.standard_normal()) == expected[:2]  # noqa: NPY002
    assert torch.equal(torch.rand(1), expected[2])
    with isolated_rng(99):
        assert torch.equal(torch.rand(1), inside)


def test_steps_per_epoch():
    assert steps_per_epoch(44, 8, drop_last=True) == 5
    assert steps_per_epoch(44, 8, drop_last=False) == 6
    assert steps_per_epoch(5, 8, drop_last=True) == 0
