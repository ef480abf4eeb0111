"""Every analysis experiment runs from its Hydra config on the synthetic stores and writes sane numbers.

Exact expectations come from independent computations: a store compared with itself scores 1, a
benchmark whose gold scores are the layer's own cosines has rho 1, one cluster carries no
information; the rest are checked against chance levels and control tasks.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from omegaconf import open_dict

from speechrep.analysis.experiments import run_analysis
from speechrep.analysis.experiments.clusters import run_mi
from speechrep.analysis.experiments.inputs import align_rows
from speechrep.store import StoreError
from speechrep.viz.experiments import plot_results
from tests.conftest import run_entry_script
from tests.test_configs import compose_config

QUICK_CCA = ["analysis.max_pairs=2", "analysis.num_trials=2"]


def analyze(out: Path, experiment: str, stores: list, *overrides: str) -> dict[str, Any]:
    """Compose ``analyze`` with the experiment, run it, plot it; return results.json."""
    paths = ",".join(str(s.path) for s in stores)
    cfg = compose_config("analyze", [f"experiment={experiment}", f"stores=[{paths}]", *overrides])
    with open_dict(cfg):
        cfg.out_dir = str(out)
    results = run_analysis(cfg)
    plots = plot_results(results)
    assert all(p.stat().st_size > 5_000 for p in plots)
    record = json.loads(results.read_text())
    assert record["experiment"] == experiment and record["seed"] == 0
    assert record["config"]["analysis"]["_target_"].startswith("speechrep.analysis.experiments.")
    assert "torch" in record["versions"]
    with (out / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == sum(len(layers) for layers in record["layers"].values())
    return record


def scores(record: dict[str, Any], upstream: str, measure: str = "score") -> dict[str, float]:
    return {layer: values[measure] for layer, values in record["layers"][upstream].items()}


# -- CCA ----------------------------------------------------------------------------------------------
def test_cca_mel_pairs_layers_by_hop_and_truncates_frames(synthetic_stores, tmp_path):
    s = synthetic_stores
    record = analyze(
        tmp_path,
        "cca_mel",
        [s.tiny_frames],
        f"analysis.reference={s.mel_frames.path}",
        "layers=[cnn.0,cnn.6,tf.1]",
        *QUICK_CCA,
    )
    tiny = record["layers"]["random:wav2vec2"]
    assert tiny["cnn.0"]["against"] == "mel:mel" and tiny["tf.1"]["against"] == "mel:mel.20ms"
    assert tiny["cnn.6"]["against"] == "mel:mel.20ms"
    num_utterances = len(s.manifest)
    for layer, values in tiny.items():
        dropped_model, dropped_mel = values["rows_dropped"]
        assert dropped_model == 0 and 0 < dropped_mel <= 3 * num_utterances, layer
        assert len(values["eps_pairs"]) == 2 and all(len(pair) == 2 for pair in values["eps_pairs"])
        assert 0.0 < values["score"] <= 1.0 + 1e-9
    assert (tmp_path / "layerwise.png").is_file()


def test_cca_intra_and_inter(synthetic_stores, tmp_path):
    s = synthetic_stores
    intra = analyze(tmp_path / "intra", "cca_intra", [s.tiny_frames], *QUICK_CCA)
    # the base tf.0 is left out, and so are the layers of another hop (cnn.0-5 at 10 ms)
    assert set(intra["layers"]["random:wav2vec2"]) == {"cnn.6", "tf.1", "tf.2"}
    inter = analyze(
        tmp_path / "inter",
        "cca_inter",
        [s.tiny_frames],
        f"analysis.reference={s.tiny_frames.path}",
        "layers=[cnn.2,tf.2]",
        *QUICK_CCA,
    )
    assert scores(inter, "random:wav2vec2") == pytest.approx({"cnn.2": 1.0, "tf.2": 1.0}, abs=1e-6)


def test_cca_phone_beats_its_shuffled_label_control(synthetic_stores, tmp_path):
    record = analyze(
        tmp_path, "cca_phone", [synthetic_stores.mel_phones], "analysis.control=true", "layers=[mel]"
    )
    mel = record["layers"]["mel"]["mel"]
    assert abs(mel["control"]) < 0.15
    assert mel["score"] > mel["control"] + 0.3
    assert sum(mel["sizes"][0]) == mel["num_rows"] == len(synthetic_stores.mel_phones.segments)
    assert record["inputs"]["mel"]["num_labels"] == len(set(synthetic_stores.mel_phones.segments.label))
    assert record["measures"] == ["score", "control"]


def test_cca_word_and_embeddings_drop_words_without_vectors(synthetic_stores, tmp_path):
    words = synthetic_stores.tiny_words
    # 4 splits: PWCCA weights need more rows per scored split (48) than variates (one per word, 31)
    word = analyze(
        tmp_path / "word", "cca_word", [words], "layers=[cnn.1]", "analysis.num_splits=4", *QUICK_CCA
    )
    assert 0.0 < word["layers"]["random:wav2vec2"]["cnn.1"]["score"] <= 1.0

    labels = np.asarray([str(w).lower() for w in words.segments.label])
    vocabulary = sorted(set(labels))
    missing = vocabulary[:3]
    rng = np.random.default_rng(0)
    glove = tmp_path / "vectors.txt"
    lines = [f"{w} " + " ".join(f"{v:.4f}" for v in rng.standard_normal(8)) for w in vocabulary[3:]]
    glove.write_text("\n".join(lines) + "\n")
    record = analyze(
        tmp_path / "glove", "cca_glove", [words], f"analysis.embeddings={glove}", "layers=[cnn.1]", *QUICK_CCA
    )
    coverage = record["inputs"]["random:wav2vec2"]
    assert coverage["rows_dropped"] == int(np.isin(labels, missing).sum()) > 0
    assert coverage["types_missing"] == 3 and coverage["missing_examples"] == missing
    assert record["layers"]["random:wav2vec2"]["cnn.1"]["num_rows"] == coverage["rows_kept"]


# -- mutual information -------------------------------------------------------------------------------
def test_mi_phone_is_a_fraction_of_the_label_entropy(synthetic_stores, tmp_path):
    record = analyze(
        tmp_path,
        "mi_phone",
        [synthetic_stores.mel_phones],
        "analysis.n_clusters=12",
        "analysis.seeds=[0,1]",
        "analysis.batch_size=256",
    )
    for values in record["layers"]["mel"].values():
        assert 0.0 < values["score"] < 1.0
        assert len(values["per_seed"]) == 2 and values["n_clusters"] == 12
        assert values["train_rows"] + values["test_rows"] == len(synthetic_stores.mel_phones.segments)
    one = run_mi({"mel": synthetic_stores.mel_phones}, n_clusters=1, seeds=[0], layers=["mel"], device="cpu")
    assert one.layers["mel"]["mel"]["score"] == pytest.approx(0.0, abs=1e-12)  # one cluster: I(C;Y) = 0


def test_mi_word_fits_on_train_stores(synthetic_stores, tmp_path):
    words = synthetic_stores.tiny_words
    record = analyze(
        tmp_path,
        "mi_word",
        [words],
        f"analysis.train_stores=[{words.path}]",
        "analysis.n_clusters=8",
        "analysis.seeds=[0]",
        "layers=[tf.2]",
    )
    values = record["layers"]["random:wav2vec2"]["tf.2"]
    assert values["train_rows"] == values["test_rows"] == len(words.segments)
    assert 0.0 < values["score"] <= 1.0


# -- word similarity and STS --------------------------------------------------------------------------
def _unit_means(features: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    means = {w: features[labels == w].astype(np.float64).mean(axis=0) for w in np.unique(labels)}
    return {w: v / np.linalg.norm(v) for w, v in means.items()}


def test_wordsim_scores_benchmarks_built_from_the_layers_own_cosines(synthetic_stores, tmp_path):
    words = synthetic_stores.tiny_words
    labels = np.asarray([str(w).lower() for w in words.segments.label])
    unit = _unit_means(np.asarray(words.features("tf.2")), labels)
    vocabulary = sorted(unit)
    pairs = [(a, b) for i, a in enumerate(vocabulary) for b in vocabulary[i + 1 : i + 4]]
    gold = [float(unit[a] @ unit[b]) for a, b in pairs]
    folder = tmp_path / "benchmarks"
    folder.mkdir()
    same = [f"{a} {b} {g:.9f}" for (a, b), g in zip(pairs, gold)] + ["unknownword other 1.0"]
    (folder / "same.txt").write_text("\n".join(same) + "\n")
    (folder / "reversed.txt").write_text(
        "\n".join(f"{a}\t{b}\t{-g:.9f}" for (a, b), g in zip(pairs[:10], gold))
    )
    record = analyze(tmp_path / "out", "wordsim", [words], f"analysis.benchmarks={folder}", "layers=[tf.2]")
    values = record["layers"]["random:wav2vec2"]["tf.2"]
    assert values["benchmarks"]["same"]["spearman"] == pytest.approx(1.0)
    assert values["benchmarks"]["reversed"]["spearman"] == pytest.approx(-1.0)
    assert values["benchmarks"]["same"]["coverage"] == pytest.approx(len(pairs) / (len(pairs) + 1))
    assert values["macro"] == pytest.approx(0.0)
    assert values["score"] == values["micro"] == pytest.approx((len(pairs) - 10) / (len(pairs) + 10))


def test_sts_ranks_sentence_pairs_like_the_store_itself(synthetic_stores, tmp_path):
    s = synthetic_stores
    by_text: dict[str, list[str]] = {}
    for utt in s.manifest:
        by_text.setdefault(utt.text, []).append(utt.id)
    sentences = list(by_text)
    unit = {}
    for i, utt in enumerate(s.mel_frames.utterance_ids):
        offsets = s.mel_frames.offsets("mel")
        mean = np.asarray(s.mel_frames.features("mel")[offsets[i] : offsets[i + 1]], dtype=np.float64).mean(0)
        unit[utt] = mean / np.linalg.norm(mean)
    lines = ["pair_id\tutt_a\tutt_b\tscore"]
    for i, first in enumerate(sentences):
        for second in sentences[i + 1 :]:
            pairings = list(zip(by_text[first][:3], by_text[second][1:4]))
            gold = float(np.mean([unit[a] @ unit[b] for a, b in pairings]))
            lines += [f"{first[:8]}|{second[:8]}\t{a}\t{b}\t{gold!r}" for a, b in pairings]
    pairs = tmp_path / "sts.tsv"
    pairs.write_text("\n".join(lines) + "\n")
    record = analyze(tmp_path / "out", "sts", [s.mel_frames], f"analysis.pairs={pairs}")
    mel = record["layers"]["mel"]
    assert mel["mel"]["score"] == pytest.approx(1.0)
    assert (
        mel["mel"]["num_pairs"] == len(sentences) * (len(sentences) - 1) // 2 and mel["mel"]["missing"] == 0
    )
    assert -1.0 <= mel["mel.20ms"]["score"] <= 1.0


# -- CKA, ABX, probes ---------------------------------------------------------------------------------
def test_cka_within_and_across_stores_with_heatmaps(synthetic_stores, tmp_path):
    s = synthetic_stores
    record = analyze(
        tmp_path,
        "cka",
        [s.mel_phones, s.tiny_phones],
        "store_names=[mel,tiny]",
        "layers=[mel.20ms,mel,cnn.1,tf.2]",
    )
    within_mel, within_tiny, across = record["matrices"]
    mel = np.asarray(within_mel["values"])
    assert within_mel["rows"] == ["mel.20ms", "mel"] and within_tiny["cols"] == ["cnn.1", "tf.2"]
    assert np.allclose(np.diag(mel), 1.0) and np.allclose(mel, mel.T) and 0.5 < mel[0, 1] < 1.0
    assert (across["rows_from"], across["cols_from"]) == ("mel", "tiny")
    assert np.asarray(across["values"]).shape == (2, 2)
    assert np.all(np.abs(np.asarray(within_tiny["values"])) <= 1.0 + 1e-9)
    assert len(list(tmp_path.glob("heatmap_*.png"))) == 3

    frames = analyze(tmp_path / "frames", "cka", [s.tiny_frames], "layers=[cnn.0,cnn.5,tf.2]")
    matrix = frames["matrices"][0]["values"]
    assert matrix[0][2] is None and matrix[2][0] is None  # 10 ms and 20 ms layers share no rows
    assert matrix[0][1] == pytest.approx(matrix[1][0]) and matrix[2][2] == pytest.approx(1.0)


def test_abx_within_and_across_speakers_below_chance(synthetic_stores, tmp_path):
    s = synthetic_stores
    record = analyze(
        tmp_path,
        "abx",
        [s.mel_frames],
        f"analysis.manifest={s.manifest_path}",
        "analysis.context=phone",
        "analysis.max_items_per_cell=3",
        "analysis.max_x_speakers=1",
        "layers=[mel.20ms]",
    )
    values = record["layers"]["mel"]["mel.20ms"]
    assert values["within_triplets"] > 0 and values["across_triplets"] > 0
    assert 0.0 <= values["within"] < 0.35 and 0.0 <= values["across"] < 0.45
    assert record["chance"]["mel"] == {"within": 0.5, "across": 0.5}


@pytest.mark.filterwarnings("ignore:The number of unique classes:UserWarning")  # MDL's first, tiny block
def test_probes_beat_their_control_tasks(synthetic_stores, tmp_path):
    s = synthetic_stores
    phone = analyze(tmp_path / "phone", "probe_phone", [s.mel_phones], "layers=[mel]")
    values = phone["layers"]["mel"]["mel"]
    assert values["accuracy"] > values["control_accuracy"] + 0.3
    assert values["accuracy"] > phone["chance"]["mel"]["accuracy"] + 0.3
    assert math.isclose(values["selectivity"], values["accuracy"] - values["control_accuracy"])

    speaker = analyze(
        tmp_path / "speaker",
        "probe_speaker",
        [s.mel_phones],
        f"analysis.manifest={s.manifest_path}",
        "layers=[mel]",
    )
    values = speaker["layers"]["mel"]["mel"]
    assert values["num_classes"] == len(s.manifest.speakers)
    assert values["accuracy"] > max(values["control_accuracy"], values["majority"]) + 0.2

    word = analyze(tmp_path / "word", "probe_word", [s.tiny_words], "layers=[cnn.1]", "analysis.mdl=true")
    values = word["layers"]["random:wav2vec2"]["cnn.1"]
    assert 0.0 <= values["accuracy"] <= 1.0 and values["compression"] > 0.0
    assert word["measures"] == ["accuracy", "control_accuracy", "compression"]


def test_layer_names_no_store_holds_fail_before_any_work(synthetic_stores, tmp_path):
    with pytest.raises(StoreError, match=r"no store holds layer tf\.7"):
        analyze(tmp_path, "cka", [synthetic_stores.mel_phones], "layers=[mel,tf.7]")
    assert not (tmp_path / "results.json").exists()


def test_rows_of_different_hops_are_not_paired(synthetic_stores):
    s = synthetic_stores
    with pytest.raises(ValueError, match="different hops"):
        align_rows([(s.tiny_frames, "cnn.0"), (s.mel_frames, "mel.20ms")])


def test_entry_scripts_analyze_then_combine(synthetic_stores, tmp_path):
    def script(name: str, *overrides: str) -> str:
        stdout = run_entry_script(name, *overrides, env={"OMP_NUM_THREADS": "1"})
        return stdout.strip().splitlines()[-1]

    run_dir = tmp_path / "run"
    line = script(
        "analyze",
        "experiment=probe_phone",
        f"stores=[{synthetic_stores.mel_phones.path}]",
        "analysis.control=false",
        f"hydra.run.dir={run_dir}",
    )
    assert line == f"results: {run_dir / 'results.json'}"
    record = json.loads((run_dir / "results.json").read_text())
    assert record["config"]["task_name"] == "probe_phone" and record["measures"] == ["accuracy"]
    assert {p.name for p in run_dir.iterdir()} >= {"results.json", "results.csv", "layerwise.png"}

    figure = tmp_path / "combined.png"
    line = script(
        "plot_layerwise",
        f"results=[{run_dir},{run_dir / 'results.json'}]",
        "normalise=true",
        f"out={figure}",
        f"hydra.run.dir={tmp_path / 'plot'}",
    )
    assert line == f"figure: {figure}" and figure.stat().st_size > 10_000
