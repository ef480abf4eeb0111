"""The entry scripts chained as the layer-wise recipe runs them: synthesise, sample, extract, report."""

from __future__ import annotations

import json

import numpy as np

from speechrep.data import Manifest
from speechrep.data.sampling import read_segment_list, read_utterance_list
from speechrep.store import FeatureStore
from tests.conftest import run_entry_script


def test_synthesize_sample_extract_report(tmp_path):
    corpus = tmp_path / "corpus"
    run_entry_script(
        "synthesize",
        f"out_dir={corpus}",
        "num_speakers=4",
        "utterances_per_speaker=3",
        f"hydra.run.dir={tmp_path / 'log1'}",
    )
    manifest = Manifest.load(corpus / "manifest.jsonl")
    assert len(manifest) == 12 and manifest.validate(check_audio=True) == []

    samples = tmp_path / "samples"
    run_entry_script(
        "sample_segments",
        "dataset=manifest",
        f"dataset.path={corpus / 'manifest.jsonl'}",
        f"out_dir={samples}",
        "num_utterances=5",
        "max_per_label.word=2",
        f"hydra.run.dir={tmp_path / 'log2'}",
    )
    words = read_segment_list(samples / "word_segments_seed0.tsv")
    utterances = read_utterance_list(samples / "utterances_5_seed0.tsv")
    assert len(utterances) == 5
    assert max(np.unique([w.label for w in words], return_counts=True)[1]) <= 2

    common = [
        "dataset=manifest",
        f"dataset.path={corpus / 'manifest.jsonl'}",
        f"store_root={tmp_path / 'st'}",
    ]
    out = run_entry_script(
        "extract_features",
        *common,
        "upstream=tiny_random",
        "extraction.span=word",
        f"segments_file={samples / 'word_segments_seed0.tsv'}",
        f"hydra.run.dir={tmp_path / 'log3'}",
    )
    word_store = FeatureStore(out.strip().splitlines()[-1].removeprefix("feature store: "))
    assert len(word_store.segments) == len(words)
    assert sorted(word_store.segments.label) == sorted(w.label for w in words)

    out = run_entry_script(
        "extract_features",
        *common,
        "upstream=mel",
        f"utterances_file={samples / 'utterances_5_seed0.tsv'}",
        f"hydra.run.dir={tmp_path / 'log4'}",
    )
    frame_store = FeatureStore(out.strip().splitlines()[-1].removeprefix("feature store: "))
    assert sorted(frame_store.utterance_ids) == sorted(utterances)

    out = run_entry_script(
        "extract_features",
        *common,
        "upstream=tiny_random",
        "extraction.span=phone",
        "extraction.middle_third=true",
        f"hydra.run.dir={tmp_path / 'log5'}",
    )
    phone_store = out.strip().splitlines()[-1].removeprefix("feature store: ")
    run_entry_script(
        "report",
        f"manifest={corpus / 'manifest.jsonl'}",
        f"stores=[{phone_store}]",
        f"out_dir={tmp_path / 'report'}",
        "seed=7",
        f"hydra.run.dir={tmp_path / 'log6'}",
    )
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert results["seed"] == 7 and results["config"]["stores"] == [phone_store]
    layers = results["results"]["random:wav2vec2"]
    assert set(layers) == set(FeatureStore(phone_store).layers)
    assert all(0.0 <= r["phone"] <= 1.0 and r["rows"] > 0 for r in layers.values())
    assert (tmp_path / "report" / "layerwise.png").stat().st_size > 10_000
    assert "| tf.0 |" in (tmp_path / "report" / "report.md").read_text()
