"""Content hashes of files and module weights: equal for equal content, different otherwise."""

from __future__ import annotations

import hashlib

import torch
from torch import nn

from speechrep.utils.hashing import file_sha256, state_dict_sha256


def test_file_sha256_reads_in_chunks_and_equals_hashlib(tmp_path):
    path = tmp_path / "weights.bin"
    data = bytes(range(256)) * 1000
    path.write_bytes(data)
    assert file_sha256(path, chunk_size=1000) == file_sha256(path) == hashlib.sha256(data).hexdigest()


def test_state_dict_sha256_follows_the_values_not_the_object():
    torch.manual_seed(0)
    a = nn.Linear(4, 3)
    b = nn.Linear(4, 3)
    b.load_state_dict(a.state_dict())
    assert state_dict_sha256(a) == state_dict_sha256(b)
    with torch.no_grad():
        b.bias[0] += 1e-6
    assert state_dict_sha256(a) != state_dict_sha256(b)
    as_float32 = state_dict_sha256(a)
    assert state_dict_sha256(a.double()) != as_float32  # same values, other dtype: another identity
