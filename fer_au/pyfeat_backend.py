"""Optional py-feat backend: run py-feat's ``Detector`` and map its Fex table onto
fer_au's columns.  A thin adapter - all the work is py-feat's.

    pip install .[pyfeat]
    >>> from fer_au.pyfeat_backend import PyFeatBackend
    >>> table = PyFeatBackend().detect("photo.jpg")      # fer_au's columns

py-feat downloads its model weights from a model hub the first time it runs,
so this backend cannot run offline; fer_au's default path (dlib landmarks,
geometric AUs, shipped models) never imports py-feat.

Mapping (``from_fex``):

* face box, ``FaceScore``, ``x_0..x_67``, ``y_0..y_67``, ``Pitch/Roll/Yaw`` and the
  seven emotions have the same names in both and are copied;
* AU columns: py-feat >= 0.6 names them ``AU01``...; OpenFace-style ``AU01_r``
  (intensity 0-5) and short ``AU1`` names are accepted too.  py-feat's AU
  outputs are *probabilities of presence* (0-1), so they are scaled by 5 onto
  fer_au's 0-5 intensity scale (``_r`` columns are already 0-5); a py-feat
  probability of 0.5 becomes 2.5, fer_au's presence threshold is 2.0;
* AUs fer_au does not estimate (AU11, AU14, AU28) are kept as extra columns;
  AUs missing from the input come out as NaN;
* ``input`` and ``frame`` are carried over; ``face_id`` numbers the faces of
  each (input, frame) from 0.
"""
from __future__ import annotations

import re

import numpy as np

from .aus import AU_CODES
from .labels import FER7

PYFEAT_AUS = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU11", "AU12", "AU14",
              "AU15", "AU17", "AU20", "AU23", "AU24", "AU25", "AU26", "AU28", "AU43"]
BOX_COLS = ["FaceRectX", "FaceRectY", "FaceRectWidth", "FaceRectHeight", "FaceScore"]
LANDMARK_COLS = [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
POSE_COLS = ["Pitch", "Roll", "Yaw"]
EMOTION_COLS = list(FER7)
PYFEAT_AU_SCALE = 5.0      # py-feat AU probability (0-1) -> fer_au intensity (0-5)

_AU_RE = re.compile(r"^AU0*(\d{1,2})(_r|_c)?$", re.IGNORECASE)


def _au_columns(columns) -> dict:
    """{our AU code: (their column, kind)} with kind 'prob', 'r' (0-5) or 'c' (0/1)."""
    found: dict = {}
    for col in columns:
        m = _AU_RE.match(str(col))
        if not m:
            continue
        code = f"AU{int(m.group(1)):02d}"
        kind = {None: "prob", "_r": "r", "_c": "c"}[m.group(2) and m.group(2).lower()]
        # prefer an intensity column over a presence one when both exist
        rank = {"r": 0, "prob": 1, "c": 2}[kind]
        if code not in found or rank < found[code][2]:
            found[code] = (col, kind, rank)
    return {k: v[:2] for k, v in found.items()}


def from_fex(fex):
    """A py-feat ``Fex`` (or any pandas table with py-feat's columns) -> a pandas
    table with fer_au's columns (see the module docstring for the mapping)."""
    import pandas as pd

    df = pd.DataFrame(fex).reset_index(drop=True)
    n = len(df)
    cols: dict = {}
    cols["input"] = df["input"].astype(str) if "input" in df else pd.Series([""] * n)
    cols["frame"] = df["frame"].fillna(0).astype(int) if "frame" in df else pd.Series([0] * n)
    keys = pd.DataFrame({"input": cols["input"], "frame": cols["frame"]})
    cols["face_id"] = keys.groupby(["input", "frame"]).cumcount()
    nan = pd.Series(np.full(n, np.nan))
    for col in BOX_COLS + LANDMARK_COLS + POSE_COLS:
        cols[col] = pd.to_numeric(df[col], errors="coerce") if col in df else nan
    aus = _au_columns(df.columns)
    for code in AU_CODES + [c for c in PYFEAT_AUS if c not in AU_CODES]:
        if code not in aus:
            cols[code] = nan
            continue
        col, kind = aus[code]
        v = pd.to_numeric(df[col], errors="coerce").astype(float)
        cols[code] = (v * PYFEAT_AU_SCALE if kind in ("prob", "c") else v).clip(0, 5)
    for emo in EMOTION_COLS:
        cols[emo] = pd.to_numeric(df[emo], errors="coerce") if emo in df else nan
    cols["backend"] = pd.Series(["py-feat"] * n)
    return pd.DataFrame(cols)


def landmarks_from_table(table) -> np.ndarray:
    """(N, 68, 2) landmarks from ``x_0..x_67, y_0..y_67`` columns."""
    xs = table[[f"x_{i}" for i in range(68)]].to_numpy(np.float64)
    ys = table[[f"y_{i}" for i in range(68)]].to_numpy(np.float64)
    return np.stack([xs, ys], axis=-1)


class PyFeatBackend:
    """py-feat's ``feat.Detector`` behind fer_au's column names.

    ``detector_kwargs`` go to ``feat.Detector`` unchanged (face_model,
    landmark_model, au_model, emotion_model, device ...)."""

    def __init__(self, **detector_kwargs):
        try:
            from feat import Detector
        except ImportError as exc:  # pragma: no cover - depends on the optional extra
            raise ImportError("the py-feat backend needs py-feat: pip install '.[pyfeat]' "
                              "(its models download from a model hub on first use)") from exc
        self.detector = Detector(**detector_kwargs)

    def detect(self, inputs, **kwargs):
        """Image path(s) -> fer_au table (py-feat's ``detect_image``)."""
        return from_fex(self.detector.detect_image(inputs, **kwargs))

    def detect_video(self, path, **kwargs):
        return from_fex(self.detector.detect_video(path, **kwargs))

    def landmarks(self, inputs) -> np.ndarray:
        """py-feat's 68 landmarks, (N, 68, 2), e.g. to feed ``aus.AUEstimator``."""
        return landmarks_from_table(self.detect(inputs))
