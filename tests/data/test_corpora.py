"""Corpus readers, each on a small fabricated tree in the corpus's real on-disk layout."""

import logging
from pathlib import Path

import numpy as np
import pytest

from speechrep.data import CorpusError, Manifest, Segment
from speechrep.data.alignments import segments_to_frames
from speechrep.data.corpora import (
    CORPUS_READERS,
    CORPUS_REPORT_READERS,
    read_commonvoice,
    read_commonvoice_with_report,
    read_corpus,
    read_corpus_with_report,
    read_cpc_librispeech100,
    read_cpc_librispeech100_with_report,
    read_iemocap,
    read_iemocap_with_report,
    read_librispeech,
    read_librispeech_with_report,
    read_syllables,
    read_syllables_with_report,
    read_timit,
    read_timit_with_report,
)


def check_manifest(manifest: Manifest, tmp_path: Path) -> None:
    """Valid against its audio, sorted by id, absolute paths, and unchanged by save + load."""
    assert manifest.validate(check_audio=True) == []
    assert manifest.ids == sorted(manifest.ids)
    assert all(Path(u.audio_path).is_absolute() for u in manifest)
    loaded = Manifest.load(manifest.save(tmp_path / "saved" / "manifest.jsonl"))
    assert [u.to_dict() for u in loaded] == [u.to_dict() for u in manifest]


def test_registry_lists_every_reader_twice():
    assert set(CORPUS_READERS) == set(CORPUS_REPORT_READERS)
    assert set(CORPUS_READERS) == {
        "librispeech",
        "cpc_librispeech100",
        "timit",
        "commonvoice",
        "iemocap",
        "syllables",
    }
    with pytest.raises(ValueError, match=r"unknown corpus 'wsj'; known corpora: \['commonvoice'"):
        read_corpus("wsj", root=".")


# ------------------------------------------------------------------------------------------------
# LibriSpeech (+ MFA TextGrids)
# ------------------------------------------------------------------------------------------------

LIBRI_SAMPLES = {"84-121123-0000": 8000, "84-121123-0001": 7200, "174-50561-0000": 9600}
LIBRI_TEXT = {
    "84-121123-0000": "GO DO YOU HEAR",
    "84-121123-0001": "BUT IN LESS",
    "174-50561-0000": "FORGOTTEN",
}


@pytest.fixture
def librispeech_tree(tmp_path, make_tone_wav, make_textgrid_text):
    root = tmp_path / "LibriSpeech"
    for utt_id, samples in LIBRI_SAMPLES.items():
        spk, chapter, _ = utt_id.split("-")
        make_tone_wav(root / "dev-clean" / spk / chapter / f"{utt_id}.flac", samples)
    (root / "dev-clean/84/121123/84-121123.trans.txt").write_text(
        "84-121123-0000 GO DO YOU HEAR\n84-121123-0001 BUT IN LESS\n"
    )
    (root / "dev-clean/174/50561/174-50561.trans.txt").write_text("174-50561-0000 FORGOTTEN\n")
    # MFA TextGrids: two mirror the corpus tree, one lies in the flat folder
    grids = tmp_path / "alignments"
    tiers = {
        "words": [("", 0.0, 0.1), ("go", 0.1, 0.25), ("<unk>", 0.25, 0.4), ("", 0.4, 0.45)],
        "phones": [
            ("sil", 0.0, 0.1),
            ("G", 0.1, 0.17),
            ("OW1", 0.17, 0.25),
            ("spn", 0.25, 0.4),
            ("sp", 0.4, 0.45),
        ],
    }
    for utt_id, samples in LIBRI_SAMPLES.items():
        spk, chapter, _ = utt_id.split("-")
        folder = grids if spk == "174" else grids / "dev-clean" / spk / chapter
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{utt_id}.TextGrid").write_text(make_textgrid_text(tiers, samples / 16000))
    return root, grids


def test_librispeech(librispeech_tree, tmp_path):
    root, grids = librispeech_tree
    manifest = read_librispeech(root, "dev-clean")
    assert manifest.ids == ["174-50561-0000", "84-121123-0000", "84-121123-0001"]
    assert manifest.name == "librispeech-dev-clean"
    for utt in manifest:
        assert utt.duration == LIBRI_SAMPLES[utt.id] / 16000 and utt.sample_rate == 16000
        assert utt.text == LIBRI_TEXT[utt.id]
        assert utt.audio_path == str(
            root / "dev-clean" / utt.speaker / utt.labels["chapter"] / f"{utt.id}.flac"
        )
        assert utt.phones == [] and utt.words == []
    assert manifest["84-121123-0001"].speaker == "84"
    assert manifest["84-121123-0001"].labels == {"chapter": "121123", "split": "dev-clean"}
    check_manifest(manifest, tmp_path)

    aligned = read_librispeech(root, "dev-clean", alignments=grids)
    for utt in aligned:  # nested and flat TextGrids both found, MFA conventions applied
        assert utt.phones == [Segment("SIL", 0.0, 0.1), Segment("g", 0.1, 0.17), Segment("ow", 0.17, 0.25)]
        assert utt.words == [Segment("go", 0.1, 0.25), Segment("<unk>", 0.25, 0.4)]
    check_manifest(aligned, tmp_path)

    assert read_librispeech(root, "dev-clean", limit=2).ids == ["174-50561-0000", "84-121123-0000"]
    assert read_corpus("librispeech", root=root, split="dev-clean").ids == manifest.ids


def test_librispeech_missing_parts(librispeech_tree, caplog):
    root, grids = librispeech_tree
    trans = root / "dev-clean/84/121123/84-121123.trans.txt"
    trans.write_text("84-121123-0000 GO DO YOU HEAR\n")
    with pytest.raises(CorpusError, match=r"84-121123-0001: .*84-121123\.trans\.txt \(no transcript line\)"):
        read_librispeech(root, "dev-clean")
    with caplog.at_level(logging.WARNING, logger="speechrep.data.corpora"):
        report = read_librispeech_with_report(root, "dev-clean", on_missing="skip")
    assert report.manifest.ids == ["174-50561-0000", "84-121123-0000"]
    assert [(s.utterance_id, Path(s.path).name) for s in report.skipped] == [
        ("84-121123-0001", "84-121123.trans.txt")
    ]
    assert "1 file(s) skipped: 84-121123-0001" in caplog.text

    trans.write_text("84-121123-0000 GO DO YOU HEAR\n84-121123-0001\n")
    with pytest.raises(
        CorpusError, match=r"84-121123\.trans\.txt:2: expected '<speaker>-<chapter>-<utterance>"
    ):
        read_librispeech(root, "dev-clean")

    trans.write_text("84-121123-0000 GO DO YOU HEAR\n84-121123-0001 BUT IN LESS\n")
    (grids / "174-50561-0000.TextGrid").unlink()
    with pytest.raises(CorpusError, match=r"174-50561-0000: .*174-50561-0000\.TextGrid \(no TextGrid"):
        read_librispeech(root, "dev-clean", alignments=grids)
    report = read_librispeech_with_report(root, "dev-clean", alignments=grids, on_missing="skip")
    assert report.manifest.ids == ["84-121123-0000", "84-121123-0001"]
    assert report.skipped[0].utterance_id == "174-50561-0000"

    grid = grids / "dev-clean/84/121123/84-121123-0000.TextGrid"
    grid.write_text(grid.read_text().replace("xmax = 0.1 ", "xmax = zero "))
    with pytest.raises(CorpusError, match=r"84-121123-0000\.TextGrid:\d+: unexpected text 'zero'"):
        read_librispeech(root, "dev-clean", alignments=grids, on_missing="skip")


# ------------------------------------------------------------------------------------------------
# CPC LibriSpeech-100
# ------------------------------------------------------------------------------------------------

CPC_FRAMES = {
    "19-198-0000": [0] * 10 + [5] * 12 + [0] * 8,  # 30 frames = 0.3 s
    "19-198-0001": [3] * 20,
    "26-495-0000": [7] * 5 + [1] * 20,
}


@pytest.fixture
def cpc_tree(tmp_path, make_tone_wav):
    root, split_dir = tmp_path / "LibriSpeech", tmp_path / "LibriSpeech100_labels_split"
    for utt_id, frames in CPC_FRAMES.items():
        spk, chapter, _ = utt_id.split("-")
        make_tone_wav(root / "train-clean-100" / spk / chapter / f"{utt_id}.flac", 160 * len(frames))
    (root / "train-clean-100/19/198/19-198.trans.txt").write_text(
        "19-198-0000 NORTHANGER\n19-198-0001 ABBEY\n"
    )
    split_dir.mkdir()
    (split_dir / "train_split.txt").write_text("19-198-0001\n26-495-0000\n19-198-0000\n")
    (split_dir / "test_split.txt").write_text("26-495-0000\n")
    lines = [" ".join([utt_id, *map(str, frames)]) for utt_id, frames in CPC_FRAMES.items()]
    (split_dir / "converted_aligned_phones.txt").write_text("\n".join(lines) + "\n")
    return root, split_dir


def test_cpc_librispeech100(cpc_tree, tmp_path):
    root, split_dir = cpc_tree
    manifest = read_cpc_librispeech100(root, split_dir)
    assert manifest.ids == ["19-198-0000", "19-198-0001", "26-495-0000"]
    first = manifest["19-198-0000"]
    assert first.phones == [Segment("0", 0.0, 0.1), Segment("5", 0.1, 0.22), Segment("0", 0.22, 0.3)]
    assert first.duration == 0.3 and first.speaker == "19" and first.text == "NORTHANGER"
    assert first.labels == {"chapter": "198", "split": "train"}
    assert manifest["26-495-0000"].text is None  # no .trans.txt in that chapter
    for utt in manifest:
        np.testing.assert_array_equal(segments_to_frames(utt.phones), CPC_FRAMES[utt.id])
    check_manifest(manifest, tmp_path)

    test = read_cpc_librispeech100(root, split_dir, split="test", phone_labels=False)
    assert test.ids == ["26-495-0000"] and test[0].phones == [] and test[0].labels["split"] == "test"


def test_cpc_missing_audio_labels_and_bad_lines(cpc_tree):
    root, split_dir = cpc_tree
    (split_dir / "train_split.txt").write_text("19-198-0000\n19-198-0002\n")
    with pytest.raises(CorpusError, match=r"19-198-0002: .*19-198-0002\.flac \(audio missing\)"):
        read_cpc_librispeech100(root, split_dir)
    report = read_cpc_librispeech100_with_report(root, split_dir, on_missing="skip")
    assert report.manifest.ids == ["19-198-0000"]
    assert [s.utterance_id for s in report.skipped] == ["19-198-0002"]

    labels = split_dir / "converted_aligned_phones.txt"
    labels.write_text("19-198-0000 " + " ".join(map(str, CPC_FRAMES["19-198-0000"])) + "\n")
    (split_dir / "train_split.txt").write_text("19-198-0000\n19-198-0001\n")
    with pytest.raises(
        CorpusError, match=r"19-198-0001: .*converted_aligned_phones\.txt \(no frame labels\)"
    ):
        read_cpc_librispeech100(root, split_dir)

    labels.write_text("19-198-0000 0 0 1\n19-198-0001 0 1.5 1\n")
    with pytest.raises(CorpusError, match=r"converted_aligned_phones\.txt:2: frame label '1\.5'"):
        read_cpc_librispeech100(root, split_dir)
    (split_dir / "train_split.txt").write_text("19-198-0000\n19_198_0001\n")
    with pytest.raises(CorpusError, match=r"train_split\.txt:2: expected an utterance id"):
        read_cpc_librispeech100(root, split_dir)


# ------------------------------------------------------------------------------------------------
# TIMIT
# ------------------------------------------------------------------------------------------------

TIMIT_PHN = "0 2400 h#\n2400 3200 sh\n3200 4000 iy\n4000 4400 q\n4400 5600 ao\n5600 6400 h#\n"
TIMIT_WRD = "2400 4000 she\n4000 5600 awe\n"  # the glottal stop q opens "awe"


def write_timit_sentence(folder: Path, sentence: str, make_tone_wav, upper: bool = True) -> None:
    def name(suffix: str) -> Path:
        return folder / (f"{sentence}.{suffix}" if upper else f"{sentence}.{suffix}".lower())

    make_tone_wav(name("WAV"), 6400, audio_format="NIST")
    name("PHN").write_text(TIMIT_PHN)
    name("WRD").write_text(TIMIT_WRD)
    name("TXT").write_text("0 6400 She awe.\n")


@pytest.fixture
def timit_tree(tmp_path, make_tone_wav):
    root = tmp_path / "TIMIT"
    for sentence in ("SA1", "SX53"):
        write_timit_sentence(root / "TRAIN/DR1/MJSW0", sentence, make_tone_wav)
    write_timit_sentence(root / "TRAIN/DR4/FCJF0", "SI1027", make_tone_wav)
    (root / "TRAIN/DR1/MJSW0/SA1.WAV.wav").write_bytes(b"a RIFF copy some distributions add")
    write_timit_sentence(root / "test/dr2/mrjo0", "SA1", make_tone_wav, upper=False)  # lower-case copy
    return root


def test_timit(timit_tree, tmp_path):
    manifest = read_timit(timit_tree, "TRAIN")
    assert manifest.ids == ["FCJF0_SI1027", "MJSW0_SA1", "MJSW0_SX53"]
    utt = manifest["MJSW0_SA1"]
    assert utt.audio_path == str(timit_tree / "TRAIN/DR1/MJSW0/SA1.WAV")
    assert (utt.sample_rate, utt.duration, utt.speaker, utt.text) == (16000, 0.4, "MJSW0", "She awe.")
    assert utt.labels == {"split": "TRAIN", "dialect_region": "DR1", "gender": "M", "sentence_type": "SA"}
    assert manifest["FCJF0_SI1027"].labels["gender"] == "F"
    assert manifest["FCJF0_SI1027"].labels["sentence_type"] == "SI"
    assert [p.label for p in utt.phones] == ["h#", "sh", "iy", "q", "ao", "h#"]
    assert utt.phones[1] == Segment("sh", 0.15, 0.2)
    assert utt.words == [Segment("she", 0.15, 0.25), Segment("awe", 0.25, 0.35)]
    check_manifest(manifest, tmp_path)

    folded = read_timit(timit_tree, "TRAIN", fold_39=True)["MJSW0_SA1"]
    assert [p.label for p in folded.phones] == ["sil", "sh", "iy", "aa", "sil"]  # q deleted, ao → aa

    test = read_timit(timit_tree, "TEST")  # lower-case tree and file names
    assert test.ids == ["MRJO0_SA1"]
    assert test[0].labels == {"split": "TEST", "dialect_region": "DR2", "gender": "M", "sentence_type": "SA"}
    assert read_corpus("timit", root=timit_tree, split="test").ids == ["MRJO0_SA1"]


def test_timit_missing_and_bad_files(timit_tree):
    (timit_tree / "TRAIN/DR1/MJSW0/SX53.WRD").unlink()
    with pytest.raises(CorpusError, match=r"MJSW0_SX53: .*MJSW0/SX53\.WRD \(annotation file missing\)"):
        read_timit(timit_tree)
    report = read_timit_with_report(timit_tree, on_missing="skip")
    assert report.manifest.ids == ["FCJF0_SI1027", "MJSW0_SA1"]
    assert [s.utterance_id for s in report.skipped] == ["MJSW0_SX53"]
    (timit_tree / "TRAIN/DR4/FCJF0/SI1027.PHN").write_text("0 2400 h#\n2400 x sh\n")
    with pytest.raises(CorpusError, match=r"SI1027\.PHN:2: expected '<start sample> <end sample> <label>'"):
        read_timit(timit_tree, on_missing="skip")
    with pytest.raises(CorpusError, match=r"has no TRAIN folder"):
        read_timit(timit_tree / "TRAIN")


# ------------------------------------------------------------------------------------------------
# Common Voice
# ------------------------------------------------------------------------------------------------

CV_COLUMNS = "client_id path sentence_id sentence sentence_domain up_votes down_votes age gender accents"
CV_HEADER = "\t".join([*CV_COLUMNS.split(), "variant", "locale", "segment"])
CV_ROWS = [
    'c1\tcommon_voice_en_1.mp3\ts1\tHe said "hi" to me.\t\t2\t0\ttwenties\tmale_masculine\tIndia\t\ten\t',
    'c2\tcommon_voice_en_2.mp3\ts2\t"Quoted" start\t\t3\t1\t\t\t\t\ten\t',
    "c1\tcommon_voice_en_3.wav\ts3\tPlain text.\t\t2\t0\ttwenties\tmale_masculine\tIndia\t\ten\t",
    "c3\tcommon_voice_en_4.mp3\ts4\tGone.\t\t2\t0\t\t\t\t\ten\t",
]


@pytest.fixture
def commonvoice_tree(tmp_path, make_tone_wav):
    root = tmp_path / "cv-corpus-17.0" / "en"
    make_tone_wav(root / "clips/common_voice_en_1.mp3", 8000, audio_format="MP3")
    make_tone_wav(root / "clips/common_voice_en_2.wav", 5600)  # converted from mp3: found by its stem
    make_tone_wav(root / "clips/common_voice_en_3.wav", 4800)
    (root / "validated.tsv").write_text("\n".join([CV_HEADER, *CV_ROWS]) + "\n", encoding="utf-8")
    return root


def test_commonvoice(commonvoice_tree, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="speechrep.data.corpora"):
        report = read_commonvoice_with_report(commonvoice_tree)
    manifest = report.manifest
    assert manifest.ids == ["common_voice_en_1", "common_voice_en_2", "common_voice_en_3"]
    first = manifest["common_voice_en_1"]
    assert (first.speaker, first.text, first.duration) == ("c1", 'He said "hi" to me.', 0.5)
    assert first.labels == {"age": "twenties", "gender": "male_masculine", "accent": "India", "locale": "en"}
    second = manifest["common_voice_en_2"]
    assert second.text == '"Quoted" start' and second.labels == {"locale": "en"}
    assert second.audio_path.endswith("clips/common_voice_en_2.wav") and second.duration == 0.35
    check_manifest(manifest, tmp_path)

    # the missing clip is reported, not fatal
    assert [(s.utterance_id, Path(s.path).name) for s in report.skipped] == [
        ("common_voice_en_4", "common_voice_en_4.mp3")
    ]
    assert "3 utterance(s) read, 1 file(s) skipped: common_voice_en_4" in caplog.text
    assert read_commonvoice(commonvoice_tree).ids == manifest.ids
    with pytest.raises(
        CorpusError, match=r"common_voice_en_4: .*\(clip missing \(listed in .*validated\.tsv:5\)\)"
    ):
        read_commonvoice(commonvoice_tree, on_missing="error")
    assert read_commonvoice(commonvoice_tree, limit=2).ids == ["common_voice_en_1", "common_voice_en_2"]


def test_commonvoice_old_header_and_bad_tables(commonvoice_tree):
    table = commonvoice_tree / "train.tsv"
    table.write_text(
        "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccent\n"
        "c9\tcommon_voice_en_3.mp3\tOld release.\t2\t0\tfifties\tfemale\tscotland\n"
    )
    manifest = read_corpus("commonvoice", root=commonvoice_tree, table="train.tsv")
    assert manifest[0].labels == {"age": "fifties", "gender": "female", "accent": "scotland"}
    assert manifest.name == "commonvoice-train"

    table.write_text("client_id\tfilename\tsentence\nc9\tx.mp3\tHi.\n")
    with pytest.raises(CorpusError, match=r"train\.tsv:1: missing column\(s\) \['path'\]"):
        read_commonvoice(commonvoice_tree, table="train.tsv")
    table.write_text("client_id\tpath\tsentence\nc9\tcommon_voice_en_3.wav\n")
    with pytest.raises(CorpusError, match=r"train\.tsv:2: 2 tab-separated fields, but the header has 3"):
        read_commonvoice(commonvoice_tree, table="train.tsv")


# ------------------------------------------------------------------------------------------------
# IEMOCAP
# ------------------------------------------------------------------------------------------------

IEMOCAP_EVAL = {
    "Ses01F_impro01": [
        ("Ses01F_impro01_F000", "neu", "[2.5000, 2.5000, 2.5000]"),
        ("Ses01F_impro01_M000", "exc", "[3.5000, 4.0000, 3.0000]"),
    ],
    "Ses01F_script01_1": [
        ("Ses01F_script01_1_F000", "ang", "[1.5000, 4.0000, 4.5000]"),
        ("Ses01F_script01_1_M001", "fru", "[2.0000, 3.5000, 3.0000]"),
    ],
    "Ses02M_impro03": [("Ses02M_impro03_F002", "sad", "[1.0000, 2.0000, 1.5000]")],
}


@pytest.fixture
def iemocap_tree(tmp_path, make_tone_wav):
    root = tmp_path / "IEMOCAP_full_release"
    for dialog, entries in IEMOCAP_EVAL.items():
        session = root / f"Session{int(dialog[3:5])}"
        evaluation = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
        transcript = []
        for k, (utt_id, emotion, vad) in enumerate(entries):
            make_tone_wav(session / "sentences/wav" / dialog / f"{utt_id}.wav", 4000 + 800 * k)
            start, end = 1.5 * k, 1.5 * k + 1.2
            evaluation += [
                f"[{start:.4f} - {end:.4f}]\t{utt_id}\t{emotion}\t{vad}",
                "C-E2:\tNeutral;\t()",
                "",
            ]
            transcript.append(f"{utt_id} [{start:08.4f}-{end:08.4f}]: Line {k} of {dialog}.")
        transcript.append("M: [LAUGHTER]")
        (session / "dialog/EmoEvaluation").mkdir(parents=True, exist_ok=True)
        (session / "dialog/transcriptions").mkdir(parents=True, exist_ok=True)
        (session / "dialog/EmoEvaluation" / f"{dialog}.txt").write_text("\n".join(evaluation) + "\n")
        (session / "dialog/transcriptions" / f"{dialog}.txt").write_text("\n".join(transcript) + "\n")
    # macOS archive companions are not audio
    (root / "Session1/sentences/wav/Ses01F_impro01/._Ses01F_impro01_F000.wav").write_bytes(b"\0\5\26\7")
    return root


def test_iemocap(iemocap_tree, tmp_path):
    manifest = read_iemocap(iemocap_tree, sessions=(1, 2))
    assert manifest.ids == [
        "Ses01F_impro01_F000",
        "Ses01F_impro01_M000",
        "Ses01F_script01_1_F000",
        "Ses01F_script01_1_M001",
        "Ses02M_impro03_F002",
    ]
    male = manifest["Ses01F_impro01_M000"]
    assert male.speaker == "Ses01M" and male.text == "Line 1 of Ses01F_impro01." and male.duration == 0.3
    assert male.labels == {
        "emotion": "exc",
        "valence": 3.5,
        "activation": 4.0,
        "dominance": 3.0,
        "gender": "M",
        "session": 1,
        "mode": "improvised",
        "dialog": "Ses01F_impro01",
    }
    scripted = manifest["Ses01F_script01_1_F000"]
    assert scripted.speaker == "Ses01F" and scripted.labels["mode"] == "scripted"
    assert scripted.labels["dialog"] == "Ses01F_script01_1"
    assert manifest["Ses02M_impro03_F002"].speaker == "Ses02F"
    assert manifest.speakers == ["Ses01F", "Ses01M", "Ses02F"]
    check_manifest(manifest, tmp_path)

    four = read_iemocap(
        iemocap_tree, sessions=(1, 2), emotions=("neu", "hap", "sad", "ang"), merge_excited=True
    )
    assert {u.id: u.labels["emotion"] for u in four} == {
        "Ses01F_impro01_F000": "neu",
        "Ses01F_impro01_M000": "hap",
        "Ses01F_script01_1_F000": "ang",
        "Ses02M_impro03_F002": "sad",
    }
    assert read_iemocap(iemocap_tree, sessions=(1, 2), emotions=("exc",)).ids == ["Ses01F_impro01_M000"]
    with pytest.raises(ValueError, match=r"unknown IEMOCAP emotion code\(s\) \['happy'\]"):
        read_iemocap(iemocap_tree, sessions=(1,), emotions=("happy",))
    with pytest.raises(CorpusError, match=r"has no Session3 folder"):
        read_iemocap(iemocap_tree)


def test_iemocap_missing_and_bad_evaluations(iemocap_tree):
    evaluation = iemocap_tree / "Session2/dialog/EmoEvaluation/Ses02M_impro03.txt"
    evaluation.write_text("% header\n")
    with pytest.raises(
        CorpusError, match=r"Ses02M_impro03_F002: .*Ses02M_impro03\.txt \(no evaluation line\)"
    ):
        read_iemocap(iemocap_tree, sessions=(2,))
    report = read_iemocap_with_report(iemocap_tree, sessions=(1, 2), on_missing="skip")
    assert len(report.manifest) == 4 and [s.utterance_id for s in report.skipped] == ["Ses02M_impro03_F002"]
    evaluation.write_text("[0.0000 - 1.2000]\tSes02M_impro03_F002\tsad\t[1.0000, 2.0000]\n")
    with pytest.raises(CorpusError, match=r"Ses02M_impro03\.txt:1: expected '\[start - end\]"):
        read_iemocap(iemocap_tree, sessions=(2,))


# ------------------------------------------------------------------------------------------------
# Syllables (Artificial Speech Dataset)
# ------------------------------------------------------------------------------------------------


def test_syllable_dataset_words(tmp_path, make_tone_wav, caplog):
    folder = tmp_path / "reshuffledv2" / "train"
    make_tone_wav(folder / "babagu_1.wav", 44100 // 2, rate=44100)
    make_tone_wav(folder / "dagiba_2.wav", 30870, rate=44100)
    make_tone_wav(folder / "hello_1.wav", 4410, rate=44100)
    (folder / "notes.txt").write_text("not audio")
    with caplog.at_level(logging.WARNING, logger="speechrep.data.corpora"):
        report = read_syllables_with_report(folder, level="word")
    manifest = report.manifest
    assert manifest.ids == ["babagu_1", "dagiba_2"]
    utt = manifest["dagiba_2"]
    assert (utt.sample_rate, utt.duration, utt.text, utt.speaker) == (44100, 0.7, "dagiba", None)
    assert utt.labels == {
        "word": "dagiba",
        "take": 2,
        "syllable_1": "da",
        "syllable_2": "gi",
        "syllable_3": "ba",
    }
    assert sorted(Path(s.path).name for s in report.skipped) == ["hello_1.wav", "notes.txt"]
    assert "2 file(s) skipped" in caplog.text
    check_manifest(manifest, tmp_path)


def test_syllable_dataset_syllables(tmp_path, make_tone_wav):
    folder = tmp_path / "split up data padded" / "test"
    for name in ("babagu_1_1_ba", "babagu_1_3_gu", "gudugi_2_2_du", "babagu_1_2_gu"):
        make_tone_wav(folder / f"{name}.wav", 12156, rate=22050)
    report = read_syllables_with_report(folder, level="syllable")
    manifest = report.manifest
    assert manifest.ids == ["babagu_1_1_ba", "babagu_1_3_gu", "gudugi_2_2_du"]
    assert manifest["gudugi_2_2_du"].labels == {
        "word": "gudugi",
        "take": 2,
        "syllable": "du",
        "position": 2,
        "vowel": "u",
        "consonant": "d",
    }
    assert manifest["babagu_1_1_ba"].text == "ba" and manifest["babagu_1_1_ba"].sample_rate == 22050
    assert [(Path(s.path).name, s.reason) for s in report.skipped] == [
        ("babagu_1_2_gu.wav", "'gu' is not syllable 2 (1-based) of 'babagu'")
    ]
    check_manifest(manifest, tmp_path)
    assert read_corpus("syllables", root=folder, level="syllable").ids == manifest.ids
    assert read_corpus_with_report("syllables", root=folder, level="syllable").skipped == report.skipped
    with pytest.raises(CorpusError, match=r"no word clips named <word>_<take>\.wav in .*test \(e\.g\. "):
        read_syllables(folder, level="word")
