"""bench/align_scale.py's claim, on a real photo: a large face reaches the CNN about as
sharp as FER2013's own faces (area-averaged), not aliased (sampled), and whatever the
face's size its crop stays alike."""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import align_scale  # noqa: E402

# FER2013 PublicTest's own images: 10th and 90th percentile of mean |Laplacian|
# (printed by bench/align_scale.py; 99th: 56.3)
FER_SHARPNESS = (18.6, 40.1)


def test_a_large_face_reaches_the_cnn_as_sharp_as_fer2013_faces():
    from fer_au import faces
    from fer_au.samples import source_photo

    src = source_photo("hopper")
    gray = cv2.cvtColor(src, cv2.COLOR_BGR2GRAY)
    lm = faces.LandmarkPredictor().predict(gray, (180, 139, 187, 187))
    crops = {}
    for scale in (0.5, 1.0, 2.0):          # the face at ~95, ~190 and ~375 px
        g = cv2.resize(gray, None, fx=scale, fy=scale,
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        crops[scale] = {way: fn(g, lm * scale, 48) for way, fn in align_scale.WAYS.items()}
    for scale, c in crops.items():
        averaged, sampled = align_scale.sharpness(c["averaged"]), align_scale.sharpness(c["sampled"])
        assert FER_SHARPNESS[0] <= averaged <= FER_SHARPNESS[1], (scale, averaged)
        assert sampled > 1.3 * averaged, (scale, sampled, averaged)
    # the averaged crops of the three sizes agree (the sampled ones drift with size)
    diff = np.abs(crops[2.0]["averaged"].astype(float) - crops[0.5]["averaged"]).mean()
    assert diff < np.abs(crops[2.0]["sampled"].astype(float) - crops[0.5]["sampled"]).mean()
