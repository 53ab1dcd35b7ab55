"""Action units from 68 landmarks: FACS definitions and a geometric AU estimator.

>>> est = AUEstimator.load_shipped()            # neutral baseline learned on FER2013
>>> est.transform(landmarks)                    # (N, 68, 2) -> (N, 17) intensities 0..5
>>> est.present(landmarks)                      # (N, 17) bool, intensity >= presence threshold

How it measures
---------------
1. Landmarks are mapped into a canonical frame by a similarity fit on points
   that expressions hardly move (eye corners, nose; ``geometry.STABLE``), so
   every measure is invariant to the face's position, size and in-plane
   rotation by construction.
2. Each AU has one geometric measure, in canonical pixels (the canonical face
   is 48 px wide, the eye centres ~18 px apart), oriented so that a larger value
   means more of the action (``AU_MEASURES`` says what each one is). Bilateral
   AUs average the two sides, so a mirrored face gives the same value.
3. The measure is referenced to a neutral baseline: the robust mean (median)
   and spread (1.4826 x MAD) of the measure over neutral faces - FER2013's
   Neutral class of the Training split for still images, or a running per-face
   baseline for video (``RunningBaseline``).

Intensity scale: ``intensity = clip((m - neutral_median) / neutral_spread, 0, 5)``,
i.e. how many neutral standard deviations the face is beyond the typical
neutral face in the direction of the action, capped at 5.  It is a 0-5 scale
like py-feat's and OpenFace's AU intensities and FACS' A-E grades, but it is
*not* calibrated against FACS coders (no AU-coded data set is available here):
read 1 as a trace, 2 (the default presence threshold) as clearly beyond a
neutral face, 5 as extreme.  ``signed_z`` gives the unclipped values (negative
= the opposite movement, e.g. AU01 < 0 is lowered inner brows).

What geometry cannot see
------------------------
Landmarks carry shape, not texture: wrinkles, bulges and furrows are invisible.
AU06 (cheek raiser) and AU09 (nose wrinkler) are therefore proxies (lower-lid
lift with lip-corner lift; nostrils drawn towards the eyes with the inner brows
lowered) and mix with AU07, AU12, AU04 and AU10.  AU07 and AU43 both narrow the
eye. AU14 (dimpler), AU11, AU28 (lip suck) are not estimated: dlib's lip points
cannot tell them apart from AU12/AU20/AU24.  AU23 and AU24 are weak.  On
FER2013's 48x48 images a landmark is good to about a pixel, so small actions
(AU05, AU07 at low intensity) are near the noise.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .geometry import MIRROR_PERM, to_canonical

AU_CODES: list[str] = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12",
                       "AU15", "AU17", "AU20", "AU23", "AU24", "AU25", "AU26", "AU43"]

AU_NAMES: dict[str, str] = {
    "AU01": "Inner Brow Raiser", "AU02": "Outer Brow Raiser", "AU04": "Brow Lowerer",
    "AU05": "Upper Lid Raiser", "AU06": "Cheek Raiser", "AU07": "Lid Tightener",
    "AU09": "Nose Wrinkler", "AU10": "Upper Lip Raiser", "AU12": "Lip Corner Puller",
    "AU15": "Lip Corner Depressor", "AU17": "Chin Raiser", "AU20": "Lip Stretcher",
    "AU23": "Lip Tightener", "AU24": "Lip Pressor", "AU25": "Lips Part",
    "AU26": "Jaw Drop", "AU43": "Eyes Closed",
}

# What each measure is (canonical px, larger = more of the action). "r/l" = the
# subject's right/left side, averaged.  y grows downwards.
AU_MEASURES: dict[str, str] = {
    "AU01": "height of the inner brow (points 20-21 / 22-23) above the inner eye corner (39 / 42)",
    "AU02": "height of the outer brow (17-18 / 25-26) above the outer eye corner (36 / 45)",
    "AU04": "lowering of the inner brows (19-21 / 22-24) in the face's frame, plus the inner brows "
            "drawing together (distance 21-22, half weight)",
    "AU05": "height of the upper lid (37-38 / 43-44) above the eye-corner line",
    "AU06": "PROXY: lift of the lower lid (40-41 / 46-47) towards the eye-corner line plus lift "
            "of the lip corners towards the nose (half weight; cheek raising pushes both); cannot "
            "see the cheek itself",
    "AU07": "lift of the lower lid (40-41 / 46-47) towards the eye-corner line",
    "AU09": "PROXY: nostril wings (31, 35) drawn up towards the inner eye corners plus inner brow "
            "lowering; cannot see the wrinkles",
    "AU10": "upper lip (50-52) drawn up towards the nose base (33)",
    "AU12": "lip corners (outer 48 / 54 and inner 60 / 64) raised towards the nose base (33), "
            "plus the inner mouth widening (60-64)",
    "AU15": "lip corners (48 / 54) lowered below the mouth's centre line",
    "AU17": "lower lip (57) pushed up towards the chin (8): chin-to-lip distance shrinking",
    "AU20": "mouth width (48-54) while the corners are not raised",
    "AU23": "mouth narrowing (48-54) with thinner lips (vermilion height 51-62 + 66-57)",
    "AU24": "lips pressed: total vermilion height (51-62 + 66-57) shrinking",
    "AU25": "gap between the inner lips (61-67, 62-66, 63-65)",
    "AU26": "jaw drop: nose base (33) to chin (8) distance",
    "AU43": "eye closure: upper-to-lower lid distance (37-38 to 40-41 / 43-44 to 46-47) shrinking",
}

# Intensity at or above which an AU counts as present (same 0-5 scale).
DEFAULT_PRESENCE = 2.0
# Smallest neutral spread (canonical px): stops AUs whose neutral measure barely
# varies (AU25: closed lips) from blowing up tiny landmark jitter.
MIN_SPREAD = 0.25
# AU25's neutral measure is ~0 (closed lips): lips must part by >= 1 canonical px
# (2 x 0.5) to reach the presence threshold.
MIN_SPREAD_PER_AU = {"AU25": 0.5}
# Weakest deliberate emotion -> AU prototypes (EMFACS / Friesen & Ekman), for the
# profiles table.  Codes we do not estimate (AU16) are kept for reference.
EMFACS = {
    "happiness": ["AU06", "AU12"],
    "sadness": ["AU01", "AU04", "AU15"],
    "surprise": ["AU01", "AU02", "AU05", "AU26"],
    "fear": ["AU01", "AU02", "AU04", "AU05", "AU07", "AU20", "AU26"],
    "anger": ["AU04", "AU05", "AU07", "AU23"],
    "disgust": ["AU09", "AU15", "AU16"],
}
BILATERAL = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12", "AU15",
             "AU20", "AU43"]


def _y(p, idx):
    return p[..., idx, 1].mean(-1)


def _x(p, idx):
    return p[..., idx, 0].mean(-1)


def _sides(p, right, left, fn):
    """Average of fn over the subject's right and left side index sets."""
    return 0.5 * (fn(p, right) + fn(p, left))


def raw_measures(landmarks: np.ndarray, canonical: bool = False) -> np.ndarray:
    """Geometric measures (N, len(AU_CODES)) in canonical px, before the neutral baseline.

    ``landmarks`` (N, 68, 2) or (68, 2) in any image frame (``canonical=True``
    when already mapped by ``geometry.to_canonical``).
    """
    lm = np.asarray(landmarks, np.float64)
    single = lm.ndim == 2
    if single:
        lm = lm[None]
    p = lm if canonical else to_canonical(lm)
    y = lambda i: p[:, i, 1]  # noqa: E731
    x = lambda i: p[:, i, 0]  # noqa: E731

    inner_brow = 0.5 * ((y(39) - _y(p, [20, 21])) + (y(42) - _y(p, [22, 23])))
    outer_brow = 0.5 * ((y(36) - _y(p, [17, 18])) + (y(45) - _y(p, [25, 26])))
    eye_line_r, eye_line_l = _y(p, [36, 39]), _y(p, [42, 45])
    inner_brow_low = _y(p, [19, 20, 21, 22, 23, 24])
    brow_gap = x(22) - x(21)
    upper_lid = 0.5 * ((eye_line_r - _y(p, [37, 38])) + (eye_line_l - _y(p, [43, 44])))
    lower_lid = 0.5 * ((_y(p, [40, 41]) - eye_line_r) + (_y(p, [46, 47]) - eye_line_l))
    mouth_mid = _y(p, [51, 57, 62, 66])
    corner_lift = mouth_mid - _y(p, [48, 54])              # corners vs the lips' midline
    corner_to_nose = y(33) - _y(p, [48, 54, 60, 64])        # corners vs the nose base
    width = x(54) - x(48)
    inner_width = x(64) - x(60)
    nostril_to_eye = 0.5 * ((y(31) - y(39)) + (y(35) - y(42)))
    upper_lip_to_nose = _y(p, [50, 51, 52]) - y(33)
    chin_to_lip = y(8) - y(57)
    vermilion = (y(62) - y(51)) + (y(57) - y(66))
    lip_gap = np.maximum((y(67) - y(61) + y(66) - y(62) + y(65) - y(63)) / 3.0, 0.0)
    jaw = y(8) - y(33)

    cols = {
        "AU01": inner_brow,
        "AU02": outer_brow,
        "AU04": inner_brow_low - 0.5 * brow_gap,
        "AU05": upper_lid,
        "AU06": -lower_lid + 0.5 * corner_to_nose,
        "AU07": -lower_lid,
        "AU09": -nostril_to_eye - 0.5 * inner_brow,
        "AU10": -upper_lip_to_nose,
        "AU12": corner_to_nose + inner_width,
        "AU15": -corner_lift,
        "AU17": -chin_to_lip,
        "AU20": width - np.maximum(corner_lift, 0.0),
        "AU23": -width - vermilion,
        "AU24": -vermilion,
        "AU25": lip_gap,
        "AU26": jaw,
        "AU43": -(upper_lid + lower_lid),
    }
    out = np.stack([cols[c] for c in AU_CODES], axis=1)
    return out[0] if single else out


class AUEstimator:
    """Geometric AU intensities referenced to a neutral baseline (scikit-learn style).

    ``fit(neutral_landmarks)`` learns the baseline (``center_``, ``scale_``) from
    landmarks of neutral faces; ``transform(landmarks)`` returns intensities on the
    0-5 scale described in the module docstring; ``signed_z`` the unclipped scores.

    The other estimators (``aus3d.PoseFreeAUEstimator``, ``mesh_aus.MeshAUEstimator``)
    share everything here and change what a face is (``SHAPE``), how it is measured
    (``measure``) and the head frame they learn from the neutral faces (``_fit_frame``).
    """

    codes = AU_CODES
    FORMAT = "fer_au.AUEstimator/1"
    BASELINE_FILE = "au_baseline.json"
    SHAPE = (68, 2)                 # one face's input
    MEASURES = AU_MEASURES
    MEASURE_UNIT = "canonical px"
    DEFAULT_MIN_SPREAD = MIN_SPREAD
    MIN_SPREAD_PER_AU = MIN_SPREAD_PER_AU
    JSON_INDENT: int | None = 1

    def __init__(self, presence_threshold: dict | None = None, min_spread: float | None = None):
        self.presence_threshold = dict(presence_threshold or {c: DEFAULT_PRESENCE for c in AU_CODES})
        self.min_spread = self.DEFAULT_MIN_SPREAD if min_spread is None else min_spread

    # --- what subclasses change ---------------------------------------------
    def _fit_frame(self, faces: np.ndarray) -> None:
        """Learn a head frame from the neutral faces (none for the 2-D landmarks)."""

    def _measures(self, faces: np.ndarray) -> np.ndarray:
        """(N, *SHAPE) -> raw measures (N, n_AUs)."""
        return raw_measures(faces)

    def _state(self) -> dict:
        """Fitted state beyond the baseline, for ``to_dict``: the head frame, if one was learned."""
        return {"reference": self.reference_.round(4).tolist()} if hasattr(self, "reference_") else {}

    def _set_state(self, d: dict) -> None:
        """Inverse of ``_state``."""
        if "reference" in d:
            self.reference_ = np.asarray(d["reference"], np.float64)

    # --- the shared part ------------------------------------------------------
    def fit(self, faces: np.ndarray, y=None):
        x = np.asarray(faces, np.float64)
        if x.ndim != 3 or x.shape[1:] != self.SHAPE or len(x) < 2:
            raise ValueError(f"fit needs at least 2 neutral faces, shape (N, {', '.join(map(str, self.SHAPE))})")
        self._fit_frame(x)
        m = self._measures(x)
        self.center_ = np.median(m, axis=0)
        mad = np.median(np.abs(m - self.center_), axis=0) * 1.4826
        floor = np.array([self.MIN_SPREAD_PER_AU.get(c, self.min_spread) for c in AU_CODES])
        self.scale_ = np.maximum(mad, floor)
        self.n_fit_ = int(len(m))
        return self

    def _check(self):
        if not hasattr(self, "center_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(neutral_faces) or load_shipped()")

    def measure(self, faces: np.ndarray) -> np.ndarray:
        """Raw measures before the neutral baseline, (N, n_AUs) ((n_AUs,) for one face)."""
        x = np.asarray(faces, np.float64)
        single = x.ndim == len(self.SHAPE)
        if self.SHAPE != (68, 2):      # a learned head frame
            self._check()
        out = self._measures(x[None] if single else x)
        return out[0] if single else out

    def signed_z(self, faces: np.ndarray) -> np.ndarray:
        """Unclipped (m - neutral median) / neutral spread, (N, n_AUs)."""
        self._check()
        return (self.measure(faces) - self.center_) / self.scale_

    def transform(self, faces: np.ndarray) -> np.ndarray:
        """(N, *SHAPE) -> (N, n_AUs) intensities in [0, 5] (one face gives (n_AUs,))."""
        return np.clip(self.signed_z(faces), 0.0, 5.0)

    def fit_transform(self, faces, y=None):
        return self.fit(faces).transform(faces)

    def present(self, faces: np.ndarray) -> np.ndarray:
        thr = np.array([self.presence_threshold[c] for c in AU_CODES])
        return self.transform(faces) >= thr

    def to_frame(self, faces: np.ndarray):
        """A pandas table with one ``AUxx`` column per AU (py-feat's column names)."""
        import pandas as pd
        return pd.DataFrame(np.atleast_2d(self.transform(faces)), columns=AU_CODES)

    # --- persistence --------------------------------------------------------
    def to_dict(self) -> dict:
        self._check()
        return {"format": self.FORMAT, "codes": AU_CODES, "names": AU_NAMES, "measures": self.MEASURES,
                "center": [float(v) for v in self.center_], "scale": [float(v) for v in self.scale_],
                "presence_threshold": self.presence_threshold, "min_spread": self.min_spread,
                "n_fit": self.n_fit_, **self._state(),
                "scale_doc": f"intensity = clip((measure - center) / scale, 0, 5); measure in {self.MEASURE_UNIT}"}

    @classmethod
    def from_dict(cls, d: dict):
        if d.get("codes") != AU_CODES or d.get("format", cls.FORMAT) != cls.FORMAT:
            raise ValueError(f"not a {cls.__name__} baseline of this version of fer_au (its AUs or format differ)")
        est = cls(presence_threshold=d["presence_threshold"], min_spread=d["min_spread"])
        est.center_ = np.asarray(d["center"], np.float64)
        est.scale_ = np.asarray(d["scale"], np.float64)
        est.n_fit_ = int(d["n_fit"])
        est._set_state(d)
        return est

    def save(self, path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=self.JSON_INDENT) + "\n")

    @classmethod
    def load(cls, path):
        return cls.from_dict(json.loads(Path(path).read_text()))

    @classmethod
    def load_shipped(cls, models_dir=None):
        """The baseline shipped in ``models/`` (``BASELINE_FILE``, hash-checked)."""
        from .zoo import verified_path
        return cls.load(verified_path(cls.BASELINE_FILE, models_dir))


class RunningBaseline:
    """A per-face neutral baseline for video: the running median of each raw measure
    over the last ``window`` frames of one tracked face (most frames of a talking
    or listening face are near neutral).  Until ``warmup`` frames are seen the
    population baseline of ``estimator`` is used."""

    def __init__(self, estimator: AUEstimator, window: int = 300, warmup: int = 30):
        estimator._check()
        self.est, self.window, self.warmup = estimator, int(window), int(warmup)
        self._hist: list[np.ndarray] = []

    def update(self, shape: np.ndarray) -> np.ndarray:
        """Add one frame's landmarks (68 points, or the mesh for a ``MeshAUEstimator``);
        return its intensities (n_AUs,)."""
        m = self.est.measure(shape)
        self._hist.append(m)
        if len(self._hist) > self.window:
            self._hist.pop(0)
        center = np.median(self._hist, axis=0) if len(self._hist) >= self.warmup else self.est.center_
        return np.clip((m - center) / self.est.scale_, 0.0, 5.0)


# (checking the AUs on FER2013 - EMFACS AUROC, invariance, mirror consistency - is in
# fer_au.analysis.aus)
__all__ = ["AU_CODES", "AU_NAMES", "AU_MEASURES", "AUEstimator", "RunningBaseline", "EMFACS",
           "raw_measures", "BILATERAL", "MIRROR_PERM"]


