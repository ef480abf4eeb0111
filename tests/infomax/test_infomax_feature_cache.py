"""The probes' on-disk feature cache: reused when nothing changed, recomputed when anything did."""

from __future__ import annotations

import pytest
import torch

from modellib_addons.infomax_upstream import infomax_upstream
from speechrep.data import Manifest
from speechrep.infomax import GreedyInfoMax, InfoMaxEncoder, infomax_config
from speechrep.infomax import feature_cache as cache_module
from speechrep.infomax.comparison import random_init_encoder
from speechrep.infomax.feature_cache import FeatureSettings, cached_encode
from speechrep.infomax.features import encode_manifest
from speechrep.utils.seeding import seed_everything

TINY = {"conv_channels": 8, "recurrent_dim": 4, "batch_norm": False}


@pytest.fixture
def encoder() -> InfoMaxEncoder:
    torch.manual_seed(0)
    return InfoMaxEncoder(infomax_config("sim", **TINY)).eval()


@pytest.fixture
def calls(monkeypatch) -> list[list[int]]:
    """The modules of every encode call the cache makes."""
    made: list[list[int]] = []

    def counting(encoder, manifest, modules, **kwargs):
        made.append(list(modules))
        return encode_manifest(encoder, manifest, modules, **kwargs)

    monkeypatch.setattr(cache_module, "encode_manifest", counting)
    return made


def _equal(a: dict[int, list[torch.Tensor]], b: dict[int, list[torch.Tensor]]) -> bool:
    return a.keys() == b.keys() and all(
        len(a[m]) == len(b[m]) and all(torch.equal(x, y) for x, y in zip(a[m], b[m])) for m in a
    )


def test_a_second_run_reads_the_cache_and_matches_encoding(encoder, noise_corpus, tmp_path, calls):
    settings = FeatureSettings()
    first = cached_encode(encoder, noise_corpus, [1, 3], settings, tmp_path)
    assert calls == [[1, 3]]  # both modules in one pass
    assert _equal(first, encode_manifest(encoder, noise_corpus, [1, 3]))
    again = cached_encode(encoder, noise_corpus, [3, 1], settings, tmp_path)
    assert calls == [[1, 3]]  # nothing encoded the second time
    assert _equal(again, first) and list(again) == [3, 1]
    assert len(list(tmp_path.glob("module.*/meta.json"))) == 2


def test_changed_weights_manifest_or_settings_recompute(encoder, noise_corpus, tmp_path, calls):
    cached_encode(encoder, noise_corpus, [2], FeatureSettings(), tmp_path)
    with torch.no_grad():
        encoder.conv_modules[0].convs[0].weight[0, 0, 0] += 1e-3
    changed = cached_encode(encoder, noise_corpus, [2], FeatureSettings(), tmp_path)
    assert len(calls) == 2
    assert _equal(changed, encode_manifest(encoder, noise_corpus, [2]))
    cached_encode(encoder, Manifest(noise_corpus.utterances[:3]), [2], FeatureSettings(), tmp_path)
    cached_encode(encoder, noise_corpus, [2], FeatureSettings(crop_samples=4000), tmp_path)
    assert len(calls) == 4


def test_sampled_features_are_seeded_and_keyed_by_seed(encoder, noise_corpus, tmp_path, calls):
    sampled = FeatureSettings(deterministic=False, seed=1)
    first = cached_encode(encoder, noise_corpus, [0], sampled, None)
    assert _equal(first, cached_encode(encoder, noise_corpus, [0], sampled, tmp_path))
    assert not _equal(first, cached_encode(encoder, noise_corpus, [0], FeatureSettings(), tmp_path))
    other = cached_encode(encoder, noise_corpus, [0], FeatureSettings(deterministic=False, seed=2), tmp_path)
    assert not _equal(first, other) and len(calls) == 4
    assert _equal(first, cached_encode(encoder, noise_corpus, [0], sampled, tmp_path)) and len(calls) == 4


def test_random_init_is_the_initial_weights_training_starts_from():
    config = infomax_config("sim", **TINY)
    seed_everything(3)
    start = GreedyInfoMax(config).encoder.state_dict()
    baseline = random_init_encoder(config, 3).state_dict()
    assert all(torch.equal(start[k], baseline[k]) for k in start)
    other = random_init_encoder(config, 4).state_dict()
    assert not all(torch.equal(start[k], other[k]) for k in start)
    upstream = infomax_upstream(None, config_overrides=TINY, seed=3).encoder.state_dict()
    assert all(torch.equal(upstream[k], baseline[k]) for k in start)  # upstream=infomax path=null
