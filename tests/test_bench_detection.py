"""bench/detection.py: its data set (every condition, boxes inside the images, no
faces where there should be none, deterministic), its matching rule, and dlib's
HOG detector finding the astronaut's face in the real-photo record."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import detection  # noqa: E402


@pytest.fixture(scope="module")
def records():
    return detection.build_dataset(n_per_condition=2, seed=0)


def test_every_condition_present(records):
    conds = [r.condition for r in records]
    assert set(conds) == set(detection.CONDITIONS) | {"real", "closeup"}
    for c in detection.CONDITIONS + ("closeup",):
        assert conds.count(c) == 2
    assert conds.count("real") == len(detection.REAL_PHOTOS)


def test_images_and_boxes(records):
    for r in records:
        img = r.image
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3, r.name
        if r.condition == "closeup":        # little more than the face, 96-480 px wide
            assert 96 <= img.shape[1] <= 480 and r.boxes[0][2] >= 0.45 * img.shape[1], r.name
        elif r.condition != "real":
            assert img.shape[:2] == (detection.H, detection.W), r.name
        h, w = img.shape[:2]
        assert len(r.faces) == len(r.boxes), r.name
        for x, y, bw, bh in r.boxes:
            assert bw > 0 and bh > 0, r.name
            assert 0 <= x and 0 <= y and x + bw <= w and y + bh <= h, (r.name, (x, y, bw, bh))
        if r.condition == "real":
            assert len(r.boxes) == len(detection.REAL_PHOTOS[r.name]), r.name
        elif r.condition == "no_face":
            assert r.boxes == [], r.name
        elif r.condition == "multi":
            assert 3 <= len(r.boxes) <= 6, r.name
        else:
            assert len(r.boxes) >= 1, r.name
    widths = {c: [f["width"] for r in records if r.condition == c for f in r.faces] for c in ("small", "large")}
    assert all(24 <= wd <= 40 for wd in widths["small"]) and all(200 <= wd <= 400 for wd in widths["large"])
    assert [r.boxes for r in records if r.name in ("samples/no_face.jpg", "coffee", "chelsea")] == [[], [], []]
    grey = [r.image for r in records if r.condition == "grey"]
    assert all((g[..., 0] == g[..., 1]).all() and (g[..., 1] == g[..., 2]).all() for g in grey)


def test_same_seed_same_images(records):
    again = detection.build_dataset(n_per_condition=1, seed=0, real=False)
    first = {r.name: r for r in records}
    for r in again:        # each condition has its own random stream: n does not change image 0
        assert np.array_equal(r.image, first[r.name].image) and r.boxes == first[r.name].boxes


def test_fer_faces_used_when_given():
    faces48 = np.random.default_rng(1).integers(0, 256, size=(20, 48, 48), dtype=np.uint8)
    recs = detection.build_dataset(n_per_condition=3, seed=0, fer2013=faces48, real=False)
    assert any(f["source"] == "fer2013" for r in recs for f in r.faces)


def test_matching_rule():
    gt = [(100.0, 100.0, 80.0, 80.0)]
    found, matched = detection.match(gt, [(100, 100, 80, 80)])
    assert found == [True] and matched == [True]
    # a box beside the face: no overlap, centre outside -> missed face and a false positive
    found, matched = detection.match(gt, [(200, 100, 80, 80)])
    assert found == [False] and matched == [False]
    # a taller box (BlazeFace-like): IoU < 0.4 but centre inside and size ratio ~1.6 -> a match
    tall = (85, 60, 110, 150)
    assert detection.iou(gt[0], tall) < 0.4
    assert detection.match(gt, [tall]) == ([True], [True])
    # far too large a box around the face: not a match
    assert detection.match(gt, [(20, 20, 240, 240)]) == ([False], [False])
    # two detections of one face: one match, one false positive
    found, matched = detection.match(gt, [(102, 98, 80, 80), (100, 100, 80, 80)])
    assert found == [True] and matched == [False, True]


def test_hog_finds_the_astronaut(records):
    from fer_au.faces import FaceDetector
    rec = next(r for r in records if r.name == "astronaut")
    dets = FaceDetector("hog", upsample=0, min_size=1).detect(rec.image)
    found, matched = detection.match(rec.boxes, [b for b, _ in dets])
    assert found == [True] and all(matched)
