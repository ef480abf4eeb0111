"""SimVowels: formants at F_k / vt, F0 in the excitation, exact SNR, disjoint splits, reproducibility,
traversal sets and the interventional sampler."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import scipy.signal

from speechrep.data import Manifest, load_audio
from speechrep.data.simvowels import (
    FACTOR_NAMES,
    SimVowelsSampler,
    SimVowelsSettings,
    SpeakerLayout,
    TraversalSet,
    segment_factors,
    simulate_corpus,
    traversal_set,
)
from speechrep.data.simvowels.corpus import draw_utterance, load_description
from speechrep.data.simvowels.synthesis import add_noise, clean_segment, snr_db
from speechrep.data.simvowels.traversal import REFERENCE_VT_GRID
from speechrep.data.simvowels.vowels import VOWEL_SETS, vowel_inventory
from speechrep.metrics.utils import Sampler
from tests.conftest import run_entry_script

SIZES = {"train": 2, "dev": 1, "test": 1}
FS = 16000


def lpc_formants(signals: list[np.ndarray], order: int = 14) -> np.ndarray:
    """Frequencies (Hz) of the narrow LPC poles of the pooled autocorrelation of ``signals``.

    Autocorrelation method with pre-emphasis and a Hamming window (order 14: the steep spectral tilt of
    the glottal source needs poles too, and a lower order drops the weak F3 of back vowels). Pooling
    segments at several F0s smooths the harmonic structure: LPC of a single segment at a high F0 is
    pulled towards the nearest harmonic (tens of Hz at F0 = 200 Hz), an estimator bias, not a property
    of the synthesis.
    """
    r = np.zeros(order + 1)
    for x in signals:
        x = scipy.signal.lfilter([1.0, -0.97], [1.0], x) * np.hamming(len(x))
        r += np.correlate(x, x, "full")[len(x) - 1 : len(x) + order]
    a = np.concatenate([[1.0], -scipy.linalg.solve_toeplitz(r[:-1], r[1:])])
    poles = np.roots(a)
    poles = poles[np.imag(poles) > 0]
    freqs = np.angle(poles) * FS / (2 * np.pi)
    bandwidths = -np.log(np.abs(poles)) * FS / np.pi
    return np.sort(freqs[(bandwidths < 500) & (freqs > 150)])


def autocorrelation_period(x: np.ndarray, low_hz: float = 60.0, high_hz: float = 400.0) -> int:
    """Lag (samples) of the highest autocorrelation peak within the pitch range."""
    x = x - x.mean()
    r = np.correlate(x, x, "full")[len(x) - 1 :]
    lags = np.arange(int(FS / high_hz), int(FS / low_hz) + 1)
    return int(lags[np.argmax(r[lags])])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, Manifest]:
    folder = tmp_path_factory.mktemp("simvowels")
    return folder, simulate_corpus(folder, SIZES, seed=7)


def file_hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "simvowels.json"  # which records package versions
    }


def test_seeded_runs_are_bit_identical_and_seeds_differ(corpus, tmp_path):
    folder, _ = corpus
    simulate_corpus(tmp_path / "again", SIZES, seed=7)
    simulate_corpus(tmp_path / "other", SIZES, seed=8)
    assert file_hashes(tmp_path / "again") == file_hashes(folder)
    other = file_hashes(tmp_path / "other")
    assert other.keys() == file_hashes(folder).keys() and other != file_hashes(folder)


def test_utterances_are_4s_of_40_labelled_segments_of_one_speaker(corpus):
    folder, manifest = corpus
    assert len(manifest) == 4 and manifest.validate(check_audio=True) == []
    settings, layout, seed = load_description(folder)
    assert (settings, layout, seed) == (SimVowelsSettings(), SpeakerLayout(), 7)
    for utt in manifest:
        assert load_audio(utt.audio_path).shape == (64000,)
        assert len(utt.phones) == 40 and len(utt.labels["f0_hz"]) == 40
        assert [round(s.start, 6) for s in utt.phones] == [round(0.1 * k, 6) for k in range(40)]
        assert utt.labels["vt"] == pytest.approx(layout.centres()[utt.labels["speaker_index"]])
    factors, owner = segment_factors(manifest, settings)
    assert factors.shape == (160, len(FACTOR_NAMES)) and np.array_equal(owner, np.repeat(np.arange(4), 40))
    assert set(factors[:, 0]) <= set(range(5)) and set(factors[:, 2]) <= set(range(6))
    assert len(set(factors[:, 0])) > 1 and len(set(factors[:, 2])) > 1  # drawn per segment
    per_split = {split: Manifest.load(folder / f"{split}.jsonl") for split in SIZES}
    assert {split: len(m) for split, m in per_split.items()} == SIZES


def test_stored_audio_is_the_replayed_synthesis(corpus):
    """The wav holds exactly draw_utterance's output for the documented generator (to 16-bit precision)."""
    _, manifest = corpus
    settings, layout = SimVowelsSettings(), SpeakerLayout()
    utt = manifest["dev_00000"]
    factors, audio = draw_utterance(
        utt.labels["speaker_index"], settings, layout, np.random.default_rng([7, 1, 0])
    )
    assert np.max(np.abs(load_audio(utt.audio_path) - audio)) <= 1 / 32768
    assert [settings.vowels[v].symbol for v in factors.vowels] == [s.label for s in utt.phones]


@pytest.mark.parametrize("vowel_set", sorted(VOWEL_SETS))
@pytest.mark.parametrize("vt", [0.71475, 1.27525])  # the first and last speaker of the default layout
def test_spectral_peaks_lie_within_60_hz_of_scaled_formants(vowel_set, vt):
    settings = SimVowelsSettings(vowel_set=vowel_set)
    other = 1.27525 if vt < 1 else 0.71475
    for index, vowel in enumerate(settings.vowels):
        peaks = lpc_formants([clean_segment(index, vt, f0, settings) for f0 in settings.f0_levels])
        for target in vowel.scaled_formants(vt):
            assert np.min(np.abs(peaks - target)) < 60, (vowel.symbol, vt, target, peaks)
        # the check can fail: the other speaker's formants are not all there
        assert max(np.min(np.abs(peaks - f)) for f in vowel.scaled_formants(other)) > 60


def test_eight_vowel_set_extends_the_five():
    assert [v.symbol for v in vowel_inventory("eight")[:5]] == [v.symbol for v in vowel_inventory("five")]
    assert vowel_inventory("eight")[5].formants == (280.0, 2250.0, 2890.0)
    with pytest.raises(ValueError, match="unknown vowel set"):
        SimVowelsSettings(vowel_set="nine")


@pytest.mark.parametrize("f0", [100.0, 120.0, 155.0, 200.0])
def test_f0_is_the_autocorrelation_period(f0):
    settings = SimVowelsSettings()
    rng = np.random.default_rng(0)
    for vowel in range(len(settings.vowels)):
        clean = clean_segment(vowel, 1.0, f0, settings)
        for signal in (clean, add_noise(clean, 15.0, rng)):
            assert abs(autocorrelation_period(signal) - FS / f0) <= 1, (vowel, f0)


def test_f0_changes_the_waveform_but_not_the_level():
    settings = SimVowelsSettings()
    low, high = clean_segment(0, 1.0, 100.0, settings), clean_segment(0, 1.0, 200.0, settings)
    assert not np.allclose(low, high)
    assert np.sqrt(np.mean(low**2)) == pytest.approx(np.sqrt(np.mean(high**2))) == pytest.approx(0.05)


@pytest.mark.parametrize("target", [0.0, 15.0, 30.0])
def test_snr_of_segments_and_of_a_stored_utterance(target, tmp_path):
    settings = SimVowelsSettings(snr_db=target, segments_per_utterance=4)
    rng = np.random.default_rng(3)
    clean = clean_segment(2, 0.9, 140.0, settings)
    assert abs(snr_db(clean, add_noise(clean, target, rng)) - target) < 0.1
    manifest = simulate_corpus(tmp_path, {"train": 1}, settings, seed=1)
    utt = manifest[0]
    factors, _ = segment_factors(manifest, settings)
    clean_utterance = np.concatenate(
        [clean_segment(v, utt.labels["vt"], settings.f0_levels[f], settings) for v, _, f in factors]
    )
    assert abs(snr_db(clean_utterance, load_audio(utt.audio_path)) - target) < 0.1


def test_speaker_splits_are_disjoint():
    layout = SpeakerLayout()
    splits = {name: set(layout.speakers_of(name)) for name in layout.split_names}
    assert [len(s) for s in splits.values()] == [10, 5, 5]
    assert set.union(*splits.values()) == set(range(20))
    assert sum(len(s) for s in splits.values()) == 20
    centres = layout.centres()
    assert centres[0] == pytest.approx(0.71475) and centres[-1] == pytest.approx(1.27525)
    for name, speakers in splits.items():  # interleaved: every split spans most of the range
        assert centres[max(speakers)] - centres[min(speakers)] > 0.4, name


def test_continuous_speakers_stay_in_disjoint_cells(tmp_path):
    layout = SpeakerLayout(num_speakers=6, continuous=True)
    settings = SimVowelsSettings(segments_per_utterance=2)
    manifest = simulate_corpus(tmp_path, {"train": 6, "dev": 3, "test": 3}, settings, layout, seed=0)
    edges = layout.cell_edges()
    vts = {
        split: [u.labels["vt"] for u in manifest if u.labels["split"] == split]
        for split in layout.split_names
    }
    for split, values in vts.items():
        cells = {int(np.searchsorted(edges[:, 1], vt)) for vt in values}
        assert cells <= set(layout.speakers_of(split)), split
    assert len({vt for values in vts.values() for vt in values}) == 12  # one vt per utterance
    speakers = {split: {u.speaker for u in manifest if u.labels["split"] == split} for split in vts}
    assert not (speakers["train"] & speakers["dev"]) and not (speakers["dev"] & speakers["test"])


def test_layout_rejects_inconsistent_splits():
    with pytest.raises(ValueError, match="sum to 1"):
        SpeakerLayout(splits={"train": 0.5, "test": 0.2})
    with pytest.raises(ValueError, match="cannot fill"):
        SpeakerLayout(num_speakers=2)
    with pytest.raises(ValueError, match="get no speaker"):
        SpeakerLayout(num_speakers=3, splits={"train": 0.9, "dev": 0.05, "test": 0.05}).speakers_of("train")


@pytest.mark.parametrize("varying", ["vowel", "vt", "f0"])
def test_traversal_varies_exactly_one_factor(varying, tmp_path):
    settings = SimVowelsSettings(vowel_set="eight")
    chosen = traversal_set(varying, settings, vowel=3, vt=0.9, f0=150.0, repeats=2)
    values = {"vowel": chosen.vowel, "vt": chosen.vt, "f0": chosen.f0}
    sizes = {"vowel": 8, "vt": 60, "f0": len(settings.f0_levels)}
    for name, column in values.items():
        assert len(np.unique(column)) == (sizes[name] if name == varying else 1), name
    assert chosen.audio.shape == (2 * sizes[varying], 400)
    chosen.save(tmp_path / "t.npz")
    loaded = TraversalSet.load(tmp_path / "t.npz")
    assert loaded.varying == varying and np.array_equal(loaded.audio, chosen.audio)


def test_reference_vt_grid():
    assert len(REFERENCE_VT_GRID) == 60
    assert REFERENCE_VT_GRID[0] == 0.705 and REFERENCE_VT_GRID[-1] == 1.295


def test_sampler_follows_the_protocol_and_is_deterministic():
    sampler = SimVowelsSampler(split="dev")
    assert isinstance(sampler, Sampler) and sampler.factor_sizes == (5, 5, 6)
    factors = sampler.sample_factors(200, np.random.default_rng(0))
    assert factors.shape == (200, 3) and factors.dtype == np.int64
    assert all(set(np.unique(factors[:, k])) == set(range(n)) for k, n in enumerate(sampler.factor_sizes))
    first = sampler.sample_observations_from_factors(factors[:5], np.random.default_rng(1))
    again = sampler.sample_observations_from_factors(factors[:5], np.random.default_rng(1))
    assert first.shape == (5, 400) and first.dtype == np.float32 and np.array_equal(first, again)
    with pytest.raises(ValueError, match="factor values"):
        sampler.sample_observations_from_factors(np.array([[0, 5, 0]]), np.random.default_rng(0))


def test_sampler_observations_have_their_factors_properties():
    """Round trip: the F0 level sets the period; the vowel and speaker set the formants (read from the
    observations of an intervention that sweeps F0 with the vowel and speaker held)."""
    settings = SimVowelsSettings(snr_db=None)
    layout = SpeakerLayout()
    sampler = SimVowelsSampler(settings, layout, split="test", observation="segment")
    rng = np.random.default_rng(5)
    factors = sampler.sample_factors(8, rng)
    observations = sampler.sample_observations_from_factors(factors, rng)
    assert observations.shape == (8, 1600)
    for (vowel, speaker, f0), x in zip(factors, observations.astype(np.float64)):
        assert abs(autocorrelation_period(x) - FS / settings.f0_levels[f0]) <= 1
        sweep = np.array([[vowel, speaker, level] for level in range(len(settings.f0_levels))])
        peaks = lpc_formants(list(sampler.sample_observations_from_factors(sweep, rng).astype(np.float64)))
        vt = layout.centres()[layout.speakers_of("test")[speaker]]
        assert all(np.min(np.abs(peaks - f)) < 60 for f in settings.vowels[vowel].scaled_formants(vt))


def test_simulate_vowels_entry_script(tmp_path):
    out = tmp_path / "sv"
    run_entry_script(
        "simulate_vowels",
        f"out_dir={out}",
        "num_utterances={train: 2, dev: 1, test: 1}",
        "settings.segments_per_utterance=3",
        "traversal.factors=[f0]",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    manifest = Manifest.load(out / "manifest.jsonl")
    assert len(manifest) == 4 and manifest[0].duration == pytest.approx(0.3)
    description = json.loads((out / "simvowels.json").read_text())
    assert description["seed"] == 0 and description["settings"]["segments_per_utterance"] == 3
    assert "numpy" in description["versions"]
    assert TraversalSet.load(out / "traversal_f0.npz").varying == "f0"
    assert not (out / "traversal_vt.npz").exists()
