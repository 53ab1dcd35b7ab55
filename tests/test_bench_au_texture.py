"""bench/au_texture.py, the crease measures that were checked and not kept: they
see a crease drawn into a real face's region and no other region's, and a photo
and its 48-px crop measure alike when nothing in the region is finer than the crop."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import au_texture  # noqa: E402


@pytest.fixture(scope="module")
def astronaut():
    import cv2

    from fer_au.faces import LandmarkPredictor, FaceDetector
    img = cv2.imread(str(REPO / "samples" / "astronaut.jpg"), cv2.IMREAD_GRAYSCALE)
    (box, _), = FaceDetector("hog").detect(img)[:1]
    return img, LandmarkPredictor().predict(img, box)


def _draw_furrows(img, lm):
    """Three dark vertical furrows between the inner brow ends, 1/48 of the face wide."""
    import cv2
    out = img.copy()
    (x0, y0), (x1, y1) = lm[21], lm[22]
    top, bottom = int(min(y0, y1)), int(lm[[39, 42], 1].min())
    width = max(1, int(round((lm[45, 0] - lm[36, 0]) / 24.8)))   # ~1 canonical px
    for f in (0.35, 0.5, 0.65):
        x = int(round(x0 + f * (x1 - x0)))
        cv2.line(out, (x, top), (x, bottom), int(img[top:bottom, x].mean() * 0.55), width)
    return out


def test_furrows_raise_the_glabella_creases_only(astronaut):
    img, lm = astronaut
    before = au_texture.crease_measures(img, lm)
    after = au_texture.crease_measures(_draw_furrows(img, lm), lm)
    change = dict(zip(au_texture.TEXTURE_AUS, after - before))
    assert change["AU04"] > 0.05, change
    for au in ("AU06", "AU09", "AU17"):
        assert abs(change[au]) < 0.02, change


def test_a_photo_and_its_48px_crop_measure_alike(astronaut):
    import cv2

    from fer_au.faces import alignment_matrix
    img, lm = astronaut
    blurred = cv2.GaussianBlur(img, (0, 0), 4)        # nothing finer than the crop can show
    m = alignment_matrix(lm, 48)
    scale = np.sqrt(abs(np.linalg.det(m[:, :2])))
    small = cv2.resize(blurred, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    full = au_texture.crease_measures(blurred, lm)
    crop = au_texture.crease_measures(small, lm * scale)
    np.testing.assert_allclose(crop, full, atol=0.05)
