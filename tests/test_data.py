"""FER2013 data layer: parsing, schemes, splits, FER+, cache, and every bad-input case."""
from __future__ import annotations

import gzip
import cv2
import numpy as np
import pytest

from fer_au.data import FER2013FormatError, load_fer2013, load_ferplus_votes, make_csv
from fer_au.labels import FER6, FER7, convert_labels, convert_proba


def write(tmp_path, text, name="fer.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def load(path, **kw):
    return load_fer2013(path, cache=False, **kw)


# --- well-formed input ---------------------------------------------------------
def test_reads_csv_roundtrip(tmp_path, synthetic):
    images, labels, usage = synthetic
    ds = load(write(tmp_path, make_csv(images, labels, usage)))
    assert ds.images.dtype == np.uint8 and ds.images.shape == (21, 48, 48)
    np.testing.assert_array_equal(ds.images, images)
    np.testing.assert_array_equal(ds.labels, labels)
    assert list(ds.usage) == list(usage)
    assert ds.problems == []


def test_reads_gzip(tmp_path, synthetic):
    p = tmp_path / "fer2013.csv.gz"
    with gzip.open(p, "wt") as fh:
        fh.write(make_csv(*synthetic))
    ds = load(p)
    np.testing.assert_array_equal(ds.images, synthetic[0])


def test_folder_given_finds_csv_inside(tmp_path, synthetic):
    write(tmp_path, make_csv(*synthetic), "fer2013.csv")
    assert len(load(tmp_path)) == 21


def test_splits_and_counts(tmp_path, synthetic):
    ds = load(write(tmp_path, make_csv(*synthetic)))
    assert len(ds.split("Training")) == 14
    assert len(ds.split("PublicTest")) == 4
    assert len(ds.split("PrivateTest")) == 3
    assert len(ds.split("PublicTest", "PrivateTest")) == 7
    with pytest.raises(ValueError, match="unknown split"):
        ds.split("Validation")
    counts = ds.counts()
    assert list(counts.index) == list(FER7) and counts["total"].sum() == 21


def test_fer6_folds_disgust_into_anger():
    assert list(convert_labels([0, 1, 2, 3, 4, 5, 6], "fer6")) == [0, 0, 1, 2, 3, 4, 5]
    p = np.array([[0.1, 0.2, 0.1, 0.1, 0.1, 0.3, 0.1]])
    p6 = convert_proba(p, "fer6")
    assert p6.shape == (1, 6) and np.isclose(p6[0, 0], 0.3) and np.isclose(p6.sum(), 1)
    assert FER6 == ("anger", "fear", "happiness", "sadness", "surprise", "neutral")
    with pytest.raises(ValueError, match="unknown label scheme"):
        convert_labels([0], "fer9")


def test_image_folder_layout(tmp_path, synthetic):
    images, labels, _ = synthetic
    names = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    for i, (img, lab) in enumerate(zip(images, labels)):
        split = "train" if i < 14 else "test"
        prefix = "PublicTest_" if 14 <= i < 18 else ""
        d = tmp_path / "imgs" / split / names[lab]
        d.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(d / f"{prefix}{i:03d}.png"), img)
    ds = load(tmp_path / "imgs")
    assert len(ds) == 21
    assert len(ds.split("Training")) == 14
    assert len(ds.split("PublicTest")) == 4  # the Usage prefix in the name wins over test/
    assert len(ds.split("PrivateTest")) == 3
    assert sorted(ds.labels) == sorted(labels)


def test_image_folder_unknown_label(tmp_path):
    d = tmp_path / "imgs" / "train" / "bored"
    d.mkdir(parents=True)
    cv2.imwrite(str(d / "a.png"), np.zeros((48, 48), np.uint8))
    with pytest.raises(FER2013FormatError, match="unknown label folder 'bored'"):
        load(tmp_path / "imgs")


def test_image_folder_corrupt_file_named(tmp_path):
    d = tmp_path / "imgs" / "train" / "happy"
    d.mkdir(parents=True)
    cv2.imwrite(str(d / "ok.png"), np.zeros((48, 48), np.uint8))
    (d / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(FER2013FormatError, match="broken.jpg: unreadable image"):
        load(tmp_path / "imgs")
    with pytest.warns(UserWarning, match="skipped 1 bad row"):   # lenient still says so
        ds = load(tmp_path / "imgs", lenient=True)
    assert len(ds) == 1 and "broken.jpg" in str(ds.problems[0])


# --- bad input: strict names file and line, lenient skips and reports ------------
ROW_OK = "3," + " ".join(["7"] * 2304) + ",Training\n"
BAD_ROWS = {
    "wrong pixel count": "3," + " ".join(["7"] * 2303) + ",Training\n",
    "non-numeric pixel": "3," + " ".join(["7"] * 2303) + " x,Training\n",
    "pixel value above 255": "3," + " ".join(["7"] * 2303) + " 300,Training\n",
    "unknown label": "9," + " ".join(["7"] * 2304) + ",Training\n",
    "unknown Usage": "3," + " ".join(["7"] * 2304) + ",Validation\n",
    "empty pixels": "3,,Training\n",
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_row_strict_names_file_and_line(tmp_path, case):
    p = write(tmp_path, "emotion,pixels,Usage\n" + ROW_OK + ROW_OK + BAD_ROWS[case] + ROW_OK)
    with pytest.raises(FER2013FormatError) as err:
        load(p)
    msg = str(err.value)
    assert f"{p}:4:" in msg, msg  # header is line 1, the bad row is line 4
    assert "\n" not in msg


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_row_lenient_skips_and_reports(tmp_path, case):
    p = write(tmp_path, "emotion,pixels,Usage\n" + ROW_OK + BAD_ROWS[case] + ROW_OK + BAD_ROWS[case])
    with pytest.warns(UserWarning, match="skipped 2 bad row"):
        ds = load(p, lenient=True)
    assert len(ds) == 2
    assert [pr.line for pr in ds.problems] == [3, 5]
    assert list(ds.rows) == [0, 2]


def test_reasons_are_specific(tmp_path):
    p = write(tmp_path, "emotion,pixels,Usage\n" + "".join(BAD_ROWS[k] for k in sorted(BAD_ROWS)))
    with pytest.warns(UserWarning):
        ds = load(p, lenient=True)
    reasons = " | ".join(str(pr) for pr in ds.problems)
    for word in ("wrong pixel count 2303", "non-numeric", "above 255", "unknown label '9'",
                 "unknown Usage 'Validation'", "wrong pixel count 0"):
        assert word in reasons, reasons


def test_missing_column(tmp_path):
    p = write(tmp_path, "emotion,pixels\n3," + " ".join(["7"] * 2304) + "\n")
    with pytest.raises(FER2013FormatError, match=r":1: missing column\(s\) Usage"):
        load(p)


def test_empty_file(tmp_path):
    with pytest.raises(FER2013FormatError, match="empty"):
        load(write(tmp_path, ""))
    with pytest.raises(FER2013FormatError, match="no rows"):
        load(write(tmp_path, "emotion,pixels,Usage\n", "header_only.csv"))


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        load(tmp_path / "nope.csv")


def test_garbage_gzip(tmp_path):
    p = tmp_path / "fer2013.csv.gz"
    p.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(FER2013FormatError, match="fer2013.csv.gz"):
        load(p)


# --- FER+ -------------------------------------------------------------------------
FERPLUS_HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"


def test_ferplus_joined_by_position(tmp_path):
    rows = [ROW_OK.replace("3,", f"{lab},", 1) for lab in (3, 0, 6)]
    p = write(tmp_path, "emotion,pixels,Usage\n" + "".join(rows), "fer2013.csv")
    # names deliberately shuffled/empty: the join must not use them
    write(tmp_path, FERPLUS_HEADER
          + "Training,fer0000009.png,0,9,0,0,1,0,0,0,0,0\n"
          + "Training,,0,0,0,0,0,0,0,0,0,10\n"
          + "Training,fer0000001.png,5,0,0,0,0,0,0,0,0,5\n", "fer2013new.csv")
    ds = load(p, ferplus="auto")
    assert ds.ferplus_votes.shape == (3, 10)
    assert list(ds.ferplus_not_face) == [False, True, True]  # NF ties the top vote in row 3
    assert list(ds.ferplus_labels()) == [3, -1, -1]
    d = ds.ferplus_distribution()
    assert np.isclose(d[0, 3], 0.9) and np.isclose(d[0, 0], 0.1) and d[1].sum() == 0


def test_ferplus_mismatched_file(tmp_path, synthetic):
    p = write(tmp_path, make_csv(*synthetic), "fer2013.csv")
    write(tmp_path, FERPLUS_HEADER + "Training,a.png,1,0,0,0,0,0,0,0,0,0\n", "votes.csv")
    with pytest.raises(FER2013FormatError, match="1 FER\\+ rows but the FER2013 file has 21"):
        load(p, ferplus=tmp_path / "votes.csv")


# --- cache -----------------------------------------------------------------------
def test_cache_roundtrip_and_invalidation(tmp_path, synthetic):
    p = write(tmp_path, make_csv(*synthetic))
    first = load_fer2013(p, cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    second = load_fer2013(p, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(first.images, second.images)
    # a changed file is re-parsed, never served stale
    images, labels, usage = synthetic
    p.write_text(make_csv(images[:5], labels[:5], usage[:5]))
    assert len(load_fer2013(p, cache_dir=tmp_path / "cache")) == 5


def test_damaged_cache_is_rebuilt(tmp_path, synthetic):
    p = write(tmp_path, make_csv(*synthetic))
    load_fer2013(p, cache_dir=tmp_path / "cache")
    for f in (tmp_path / "cache").glob("*.npz"):
        f.write_bytes(b"junk")
    assert len(load_fer2013(p, cache_dir=tmp_path / "cache")) == 21


# --- the real dataset --------------------------------------------------------------
@pytest.mark.realdata
def test_real_counts(fer):
    assert len(fer) == 35887
    assert [len(fer.split(u)) for u in ("Training", "PublicTest", "PrivateTest")] == [28709, 3589, 3589]
    assert list(np.bincount(fer.labels)) == [4953, 547, 5121, 8989, 6077, 4002, 6198]
    assert list(np.bincount(fer.y("fer6"))) == [4953 + 547, 5121, 8989, 6077, 4002, 6198]
    assert fer.problems == []
    assert fer.images.shape == (35887, 48, 48)
    assert abs(fer.images.mean() - 129.386) < 0.001


@pytest.mark.realdata
def test_real_ferplus(fer):
    assert fer.ferplus_votes.shape == (35887, 10)
    assert 170 <= int(fer.ferplus_not_face.sum()) <= 200
    agree = (fer.ferplus_labels() == fer.labels)[fer.ferplus_labels() >= 0].mean()
    assert 0.6 < agree < 0.8  # FER+ relabelled about a third of FER2013


@pytest.mark.realdata
def test_real_second_load_comes_from_cache(fer_path, fer, monkeypatch):
    """The second load must not parse the CSV again (bench/data_load.py times it)."""
    import fer_au.data as data

    def no_parse(*a, **k):
        raise AssertionError("the CSV was parsed again instead of read from the cache")

    monkeypatch.setattr(data, "_parse_csv", no_parse)
    ds = load_fer2013(fer_path)
    assert len(ds) == 35887
    np.testing.assert_array_equal(ds.labels, fer.labels)
