"""Alignment parsers: TextGrid (long/short, UTF-8/UTF-16), MFA conventions, TIMIT, CPC frame labels."""

import codecs

import numpy as np
import pytest

from speechrep.data import CorpusError, Segment
from speechrep.data.alignments import (
    TIMIT_61_TO_39,
    clean_mfa_alignment,
    fold_timit_phones,
    frames_to_segments,
    get_tier,
    parse_textgrid,
    read_cpc_frame_labels,
    read_textgrid,
    read_timit_segments,
    segments_to_frames,
)

TIERS = {
    "words": [("", 0.0, 0.12), ("say", 0.12, 0.5), ('"quoted"', 0.5, 0.81), ("", 0.81, 1.0)],
    "phones": [
        ("sil", 0.0, 0.12),
        ("S", 0.12, 0.25),
        ("EY1", 0.25, 0.5),
        ("K", 0.5, 0.6),
        ("W", 0.6, 0.7),
        ("OW0", 0.7, 0.81),
        ("", 0.81, 1.0),
    ],
}


def expected(tier: str) -> list[Segment]:
    return [Segment(*interval) for interval in TIERS[tier]]


def test_long_and_short_textgrid_give_identical_segments(tmp_path, make_textgrid_text):
    (tmp_path / "long.TextGrid").write_text(make_textgrid_text(TIERS, 1.0), encoding="utf-8")
    (tmp_path / "short.TextGrid").write_text(make_textgrid_text(TIERS, 1.0, short=True), encoding="utf-8")
    long_grid = read_textgrid(tmp_path / "long.TextGrid")
    short_grid = read_textgrid(tmp_path / "short.TextGrid")
    assert list(long_grid) == ["words", "phones"]
    assert long_grid == short_grid
    assert long_grid["phones"] == expected("phones")
    assert long_grid["words"][2] == Segment('"quoted"', 0.5, 0.81)  # "" inside a string is a quote


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be-bom", "utf-8-sig"])
def test_textgrid_in_utf16_and_with_byte_order_marks(tmp_path, make_textgrid_text, encoding):
    tiers = {"words": [("café", 0.0, 0.4), ("naïve", 0.4, 0.9)]}
    text = make_textgrid_text(tiers, 0.9)
    if encoding == "utf-16-be-bom":  # what Praat writes for non-ASCII labels
        data = codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    else:
        data = text.encode(encoding)
    (tmp_path / "u.TextGrid").write_bytes(data)
    assert read_textgrid(tmp_path / "u.TextGrid") == {
        "words": [Segment("café", 0.0, 0.4), Segment("naïve", 0.4, 0.9)]
    }


def test_textgrid_point_tier_and_multiline_string():
    text = "\n".join(
        [
            'File type = "ooTextFile"',
            'Object class = "TextGrid"',
            "xmin = 0",
            "xmax = 2",
            "tiers? <exists>",
            "size = 2",
            "item []:",
            "    item [1]:",
            '        class = "TextTier"',
            '        name = "events"',
            "        xmin = 0",
            "        xmax = 2",
            "        points: size = 2",
            "        points [1]:",
            "            number = 0.5",
            '            mark = "click"',
            "        points [2]:",
            "            number = 1.25",
            '            mark = "beep"',
            "    item [2]:",
            '        class = "IntervalTier"',
            '        name = "notes"',
            "        xmin = 0",
            "        xmax = 2",
            "        intervals: size = 1",
            "        intervals [1]:",
            "            xmin = 0",
            "            xmax = 2",
            '            text = "two',
            'lines"',
        ]
    )
    grid = parse_textgrid(text)
    assert grid["events"] == [Segment("click", 0.5, 0.5), Segment("beep", 1.25, 1.25)]
    assert grid["notes"] == [Segment("two\nlines", 0.0, 2.0)]


def test_textgrid_errors_name_file_and_line(tmp_path, make_textgrid_text):
    lines = make_textgrid_text(TIERS, 1.0).splitlines()
    assert lines[19].strip() == "xmin = 0.12"  # line 20: the start of the second word
    bad = tmp_path / "bad.TextGrid"

    bad.write_text("\n".join([*lines[:19], "            xmin = abc", *lines[20:]]), encoding="utf-8")
    with pytest.raises(CorpusError, match=r"bad\.TextGrid:20: unexpected text 'abc'"):
        read_textgrid(bad)

    bad.write_text("\n".join([*lines[:19], "            xmax = 0.12", *lines[20:]]), encoding="utf-8")
    with pytest.raises(CorpusError, match=r"bad\.TextGrid:20: expected 'xmin', found 'xmax ='"):
        read_textgrid(bad)

    bad.write_text("\n".join(lines[:19]), encoding="utf-8")
    with pytest.raises(CorpusError, match=r"bad\.TextGrid: unexpected end of file, expected xmin"):
        read_textgrid(bad)

    short = make_textgrid_text(TIERS, 1.0, short=True).splitlines()
    short[12] = '"oops"'  # a number (an interval's xmin) is expected here
    bad.write_text("\n".join(short), encoding="utf-8")
    with pytest.raises(CorpusError, match=r'bad\.TextGrid:13: expected xmin \(number\), found "oops"'):
        read_textgrid(bad)

    bad.write_text('File type = "ooTextFile"\nObject class = "Sound"\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"bad\.TextGrid:2: object class is 'Sound'"):
        read_textgrid(bad)
    with pytest.raises(CorpusError, match=r"missing\.TextGrid cannot be read"):
        read_textgrid(tmp_path / "missing.TextGrid")


def test_get_tier_matches_case_and_mfa_speaker_prefix():
    tiers = {"Words": [Segment("a", 0, 1)], "spk1 - phones": [Segment("b", 0, 1)]}
    assert get_tier(tiers, "words") == [Segment("a", 0, 1)]
    assert get_tier(tiers, "phones") == [Segment("b", 0, 1)]
    with pytest.raises(CorpusError, match=r"x\.TextGrid: no tier 'syllables'; the tiers are"):
        get_tier(tiers, "syllables", "x.TextGrid")


def test_mfa_conventions():
    raw_phones = [
        Segment("", 0.0, 0.1),
        Segment("sil", 0.1, 0.2),
        Segment("HH", 0.2, 0.3),
        Segment("AH0", 0.3, 0.4),
        Segment("spn", 0.4, 0.5),
        Segment("sp", 0.5, 0.6),
        Segment("IY1", 0.6, 0.7),
    ]
    raw_words = [
        Segment("", 0.0, 0.2),
        Segment("ha", 0.2, 0.4),
        Segment("<unk>", 0.4, 0.5),
        Segment("sp", 0.5, 0.6),
    ]
    phones, words = clean_mfa_alignment(raw_phones, raw_words)
    assert phones == [
        Segment("SIL", 0.1, 0.2),
        Segment("hh", 0.2, 0.3),
        Segment("ah", 0.3, 0.4),
        Segment("iy", 0.6, 0.7),
    ]
    assert words == [Segment("ha", 0.2, 0.4), Segment("<unk>", 0.4, 0.5)]
    kept, _ = clean_mfa_alignment(raw_phones, strip_stress=False, lowercase_phones=False, phone_renames={})
    assert [p.label for p in kept] == ["sil", "HH", "AH0", "IY1"]


def test_timit_segments_in_seconds_and_errors(tmp_path):
    phn = tmp_path / "SA1.PHN"
    phn.write_text("0 3050 h#\n3050 4559 sh\n\n4559 5723 ix\n")
    assert read_timit_segments(phn) == [
        Segment("h#", 0.0, 3050 / 16000),
        Segment("sh", 3050 / 16000, 4559 / 16000),
        Segment("ix", 4559 / 16000, 5723 / 16000),
    ]
    phn.write_text("0 3050 h#\n3050 sh\n")
    with pytest.raises(CorpusError, match=r"SA1\.PHN:2: expected '<start sample> <end sample> <label>'"):
        read_timit_segments(phn)
    phn.write_text("0 3050 h#\n3050 3000 sh\n")
    with pytest.raises(CorpusError, match=r"SA1\.PHN:2: segment ends \(3000\) before it starts \(3050\)"):
        read_timit_segments(phn)


def test_timit_61_to_39_map():
    assert len(TIMIT_61_TO_39) == 61
    assert len({v for v in TIMIT_61_TO_39.values() if v is not None}) == 39
    assert TIMIT_61_TO_39["q"] is None
    segments = [
        Segment("h#", 0.0, 0.1),
        Segment("ao", 0.1, 0.2),
        Segment("q", 0.2, 0.25),
        Segment("ix", 0.25, 0.3),
        Segment("zh", 0.3, 0.4),
        Segment("bcl", 0.4, 0.45),
        Segment("ax-h", 0.45, 0.5),
    ]
    assert fold_timit_phones(segments) == [
        Segment("sil", 0.0, 0.1),
        Segment("aa", 0.1, 0.2),
        Segment("ih", 0.25, 0.3),
        Segment("sh", 0.3, 0.4),
        Segment("sil", 0.4, 0.45),
        Segment("ah", 0.45, 0.5),
    ]
    with pytest.raises(CorpusError, match=r"SX3\.PHN: phone 'xx' is not in the TIMIT phone map"):
        fold_timit_phones([Segment("xx", 0, 1)], source="SX3.PHN")


def test_cpc_frame_labels(tmp_path):
    path = tmp_path / "converted_aligned_phones.txt"
    path.write_text("19-198-0000 0 0 5 5 5 2\n\n19-198-0001 3 3 3\n26-495-0000 1\n")
    labels = read_cpc_frame_labels(path)
    assert list(labels) == ["19-198-0000", "19-198-0001", "26-495-0000"]
    np.testing.assert_array_equal(labels["19-198-0000"], [0, 0, 5, 5, 5, 2])
    assert labels["19-198-0000"].dtype == np.int64
    assert list(read_cpc_frame_labels(path, ids=["19-198-0001"])) == ["19-198-0001"]

    for text, message in [
        (
            "19-198-0000 0 0\n19-198-0001 0 x 1\n",
            r"phones\.txt:2: frame label 'x' of utterance '19-198-0001'",
        ),
        (
            "19-198-0000 0 0\n19-198-0000 1\n",
            r"phones\.txt:2: utterance '19-198-0000' already given on line 1",
        ),
        ("19-198-0000\n", r"phones\.txt:1: utterance '19-198-0000' has no frame labels"),
        ("19-198-0000 0 -1\n", r"phones\.txt:1: utterance '19-198-0000' has a negative frame label"),
    ]:
        path.write_text(text)
        with pytest.raises(CorpusError, match=message):
            read_cpc_frame_labels(path)


def test_frames_to_segments_hand_computed():
    # frames 0-1 are class 3, 2-4 class 7, 5 class 0: frame i covers [0.01 i, 0.01 (i + 1))
    segments = frames_to_segments(np.array([3, 3, 7, 7, 7, 0]))
    assert segments == [Segment("3", 0.0, 0.02), Segment("7", 0.02, 0.05), Segment("0", 0.05, 0.06)]
    np.testing.assert_array_equal(segments_to_frames(segments), [3, 3, 7, 7, 7, 0])
    assert frames_to_segments([4]) == [Segment("4", 0.0, 0.01)]
    assert frames_to_segments([]) == []
    long_run = np.repeat([1, 2, 1], [137, 1, 862])  # times stay exact to the microsecond
    assert frames_to_segments(long_run)[-1] == Segment("1", 1.38, 10.0)
    with pytest.raises(ValueError, match="whole number of frames"):
        segments_to_frames([Segment("1", 0.0, 0.02), Segment("2", 0.03, 0.04)])
