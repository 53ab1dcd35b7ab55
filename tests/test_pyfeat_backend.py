"""The py-feat adapter maps a hand-written py-feat-style table onto fer_au's columns
(py-feat itself is optional and never needed by the default path)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from fer_au.aus import AU_CODES
from fer_au.pyfeat_backend import PYFEAT_AUS, from_fex, landmarks_from_table


def _fex():
    """Two faces in one image and one in a video frame, as py-feat's Fex writes them."""
    rows = []
    for k, (inp, frame) in enumerate([("a.jpg", 0), ("a.jpg", 0), ("v.mp4", 7)]):
        r = {"input": inp, "frame": frame, "FaceRectX": 10.0 + k, "FaceRectY": 20.0,
             "FaceRectWidth": 100.0, "FaceRectHeight": 110.0, "FaceScore": 0.99}
        r.update({f"x_{i}": 100 + i + k for i in range(68)})
        r.update({f"y_{i}": 200 + 2 * i for i in range(68)})
        r.update({"Pitch": 1.5, "Roll": -2.0, "Yaw": 10.0 * k})
        r.update({au: 0.1 * k for au in PYFEAT_AUS})
        r.update({"anger": 0.1, "disgust": 0.0, "fear": 0.0, "happiness": 0.7, "sadness": 0.1,
                  "surprise": 0.0, "neutral": 0.1})
        rows.append(r)
    return pd.DataFrame(rows)


def test_columns_and_values_map_onto_ours():
    out = from_fex(_fex())
    assert list(out["face_id"]) == [0, 1, 0]
    assert list(out["input"]) == ["a.jpg", "a.jpg", "v.mp4"] and list(out["frame"]) == [0, 0, 7]
    assert out["FaceRectX"].tolist() == [10.0, 11.0, 12.0] and (out["FaceScore"] == 0.99).all()
    # probabilities (0-1) become our 0-5 intensities
    assert out["AU12"].tolist() == pytest.approx([0.0, 0.5, 1.0])
    for au in AU_CODES:                      # every AU we estimate is there, in our names
        assert au in out.columns
    assert {"AU11", "AU14", "AU28"} <= set(out.columns)   # py-feat's extra AUs are kept
    assert out["happiness"].tolist() == pytest.approx([0.7] * 3)
    assert out["Yaw"].tolist() == [0.0, 10.0, 20.0]
    lm = landmarks_from_table(out)
    assert lm.shape == (3, 68, 2) and lm[1, 5].tolist() == [106.0, 210.0]


def test_openface_style_and_missing_columns():
    df = pd.DataFrame({"AU1_r": [4.0], "AU01_c": [1.0], "AU12_r": [7.0], "AU25_c": [1.0],
                       "happiness": [0.9]})
    out = from_fex(df)
    assert out.loc[0, "AU01"] == 4.0          # the intensity column wins over presence
    assert out.loc[0, "AU12"] == 5.0          # clipped to the 0-5 scale
    assert out.loc[0, "AU25"] == 5.0          # presence 1 -> 5
    assert np.isnan(out.loc[0, "AU04"]) and np.isnan(out.loc[0, "x_0"]) and np.isnan(out.loc[0, "anger"])
    assert out.loc[0, "face_id"] == 0 and out.loc[0, "backend"] == "py-feat"


def test_default_path_never_imports_feat():
    code = ("import sys, fer_au.aus, fer_au.faces, fer_au.au_models, fer_au.pyfeat_backend; "
            "assert 'feat' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.skipif(importlib.util.find_spec("feat") is not None, reason="py-feat is installed")
def test_backend_says_how_to_install_py_feat():
    from fer_au.pyfeat_backend import PyFeatBackend
    with pytest.raises(ImportError, match=r"\.\[pyfeat\]"):
        PyFeatBackend()
