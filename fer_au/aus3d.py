"""Action units from dlib's 68 points made pose-free with the face mesh's depth
(the default AU estimator of ``FaceAnalyzer``).

>>> est = PoseFreeAUEstimator.load_shipped()
>>> est.transform(points)      # (N, 68, 3): dlib's x, y + the mesh's depth z -> (N, 17) 0..5

Why two landmarkers.  dlib's 68-point regressor follows small local movements of
the brows, lids and lips closely, but it is 2-D: a head turned 30 degrees
narrows the mouth and eyes in the image and reads as AU20 or AU43 moving.
MediaPipe's face mesh is 3-D and follows the head through large turns, but it
is a strong shape prior and follows only 20-75 % of a local movement
(``bench/aus.py``, validity).  So each of dlib's points gets the depth of the
same anatomical point on the mesh (``mesh.MESH_TO_68``), the 3-D points are
rotated into a frontal head frame by a similarity fit of points expressions
hardly move (eye corners, nose: ``geometry.STABLE``) onto a neutral 3-D face,
and the 68-point measures are read there.  Turning, nodding and tilting the
head are removed by construction: AU26's jaw opening is measured along the
face's own vertical (corrected for head pitch), mouth width (AU20) is not
shortened by a turn.

The measures are those of ``aus.raw_measures`` (first generation) with three fixed
by their FACS description (issue 11):
* AU17 (chin raiser) pushes the lower lip UP, away from the chin tip: the
  lower-lip-to-chin distance growing is more AU17 (the first generation read it
  shrinking, the wrong way).
* AU06 (cheek raiser) is the lower lid pushed up; the first generation added
  the lip corners' lift, which made every smile (AU12) read as AU06.  What
  geometry cannot see of AU06 - the cheek bulge and crow's feet - it does not
  guess either.
* AU09 (nose wrinkler) is the nostril wings drawn up; the first generation
  added the inner brows' lowering, so every brow movement (AU01, AU04) moved
  AU09 too.

Intensities are referenced to FER2013's neutral Training faces measured the same
way (dlib's points on the 4x-upsampled crop + the mesh's depth), as
``aus.AUEstimator`` does.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .aus import AU_CODES, AU_MEASURES, AU_NAMES, DEFAULT_PRESENCE, MIN_SPREAD, MIN_SPREAD_PER_AU, raw_measures
from .geometry import CANONICAL_68, STABLE, to_canonical

FORMAT = "fer_au.PoseFreeAUEstimator/1"
BASELINE_FILE = "au_posefree_baseline.json"

MEASURES = dict(AU_MEASURES)
MEASURES["AU06"] = ("lift of the lower lid (40-41 / 46-47) towards the eye-corner line, in the frontal "
                    "head frame; cannot see the cheek bulge or crow's feet (shares its measure with AU07)")
MEASURES["AU09"] = ("nostril wings (31, 35) drawn up towards the inner eye corners (39, 42); cannot see "
                    "the wrinkles (the first generation also added the brows' lowering, which is AU04's)")
MEASURES["AU17"] = ("lower lip (57) pushed up, away from the chin tip (8): lip-to-chin distance growing")
MEASURES["AU26"] = "jaw drop: nose base (33) to chin (8) distance, along the face's own vertical (pitch-free)"


def measures_v2(frontal: np.ndarray) -> np.ndarray:
    """Second-generation measures (N, 17) of frontal 68-point faces (x, y)."""
    m = raw_measures(frontal)
    p = to_canonical(np.asarray(frontal, np.float64))
    i6, i7, i9, i17 = (AU_CODES.index(c) for c in ("AU06", "AU07", "AU09", "AU17"))
    m[..., i6] = m[..., i7]                                   # the lower lid only
    # nostril wings drawn up towards the inner eye corners, without the brows
    m[..., i9] = -0.5 * ((p[..., 31, 1] - p[..., 39, 1]) + (p[..., 35, 1] - p[..., 42, 1]))
    m[..., i17] = p[..., 8, 1] - p[..., 57, 1]                # lip-to-chin distance growing
    return m


def umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity (scale, rotation (3, 3), shift) taking ``src`` (K, 3) onto ``dst``."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(d.T @ s / len(src))
    e = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        e[2, 2] = -1
    rot = u @ e @ vt
    scale = float(np.trace(np.diag(sig) @ e) / max((s ** 2).sum() / len(src), 1e-12))
    return scale, rot, mu_d - scale * rot @ mu_s


def frontalize(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(N, 68, 3) points rotated, scaled and shifted onto the 3-D ``reference``
    (similarity on ``STABLE``); returns their (N, 68, 2) frontal x, y."""
    p = np.asarray(points, np.float64)
    out = np.empty(p.shape[:-1] + (2,))
    for i, x in enumerate(p):
        s, r, t = umeyama(x[STABLE], reference[STABLE])
        out[i] = (s * x @ r.T + t)[:, :2]
    return out


def reference_face(points: np.ndarray, iterations: int = 3) -> np.ndarray:
    """Neutral 3-D face (68, 3): the Procrustes mean of ``points``, placed so its
    x, y match ``CANONICAL_68`` on the stable points (canonical px, y down)."""
    p = np.asarray(points, np.float64)
    ref = np.hstack([CANONICAL_68, np.zeros((68, 1))])
    for _ in range(iterations):
        frontal = np.empty_like(p)
        for i, x in enumerate(p):
            s, r, t = umeyama(x[STABLE], ref[STABLE])
            frontal[i] = s * x @ r.T + t
        ref = np.median(frontal, axis=0)
        ref[:, 2] -= ref[STABLE, 2].mean()
    return ref


class PoseFreeAUEstimator:
    """AU intensities (0-5) from 68 3-D points, referenced to neutral faces.

    ``fit(neutral_points)`` learns the neutral 3-D face (``reference_``) and the
    baseline (``center_``, ``scale_``); ``transform(points)`` gives intensities.
    ``points`` are (N, 68, 3): x, y in image pixels, z the depth of the same point
    in the same units (``analyzer`` takes it from the face mesh)."""

    codes = AU_CODES
    name = "fer_au-aus-posefree"

    def __init__(self, presence_threshold: dict | None = None, min_spread: float = MIN_SPREAD):
        self.presence_threshold = dict(presence_threshold or {c: DEFAULT_PRESENCE for c in AU_CODES})
        self.min_spread = min_spread

    def fit(self, points: np.ndarray, y=None) -> "PoseFreeAUEstimator":
        p = np.asarray(points, np.float64)
        if p.ndim != 3 or p.shape[1:] != (68, 3) or len(p) < 2:
            raise ValueError("fit needs the 3-D points of at least 2 neutral faces, shape (N, 68, 3)")
        self.reference_ = reference_face(p)
        m = measures_v2(frontalize(p, self.reference_))
        self.center_ = np.median(m, axis=0)
        mad = np.median(np.abs(m - self.center_), axis=0) * 1.4826
        floor = np.array([MIN_SPREAD_PER_AU.get(c, self.min_spread) for c in AU_CODES])
        self.scale_ = np.maximum(mad, floor)
        self.n_fit_ = int(len(p))
        return self

    def _check(self):
        if not hasattr(self, "center_"):
            raise RuntimeError("PoseFreeAUEstimator is not fitted: call fit(neutral_points) or load_shipped()")

    def measure(self, points: np.ndarray) -> np.ndarray:
        """Raw measures (N, 17) ((17,) for one face), canonical px, before the baseline."""
        self._check()
        p = np.asarray(points, np.float64)
        single = p.ndim == 2
        out = measures_v2(frontalize(p[None] if single else p, self.reference_))
        return out[0] if single else out

    def signed_z(self, points: np.ndarray) -> np.ndarray:
        return (self.measure(points) - self.center_) / self.scale_

    def transform(self, points: np.ndarray) -> np.ndarray:
        """(N, 68, 3) -> (N, 17) intensities in [0, 5] ((68, 3) gives (17,))."""
        return np.clip(self.signed_z(points), 0.0, 5.0)

    def fit_transform(self, points, y=None):
        return self.fit(points).transform(points)

    def present(self, points: np.ndarray) -> np.ndarray:
        thr = np.array([self.presence_threshold[c] for c in AU_CODES])
        return self.transform(points) >= thr

    # --- persistence --------------------------------------------------------
    def to_dict(self) -> dict:
        self._check()
        return {"format": FORMAT, "codes": AU_CODES, "names": AU_NAMES, "measures": MEASURES,
                "center": self.center_.round(5).tolist(), "scale": self.scale_.round(5).tolist(),
                "reference": self.reference_.round(4).tolist(),
                "presence_threshold": self.presence_threshold, "min_spread": self.min_spread,
                "n_fit": self.n_fit_,
                "scale_doc": "intensity = clip((measure - center) / scale, 0, 5); measure in canonical px "
                             "of the frontal head frame given by `reference`"}

    @classmethod
    def from_dict(cls, d: dict) -> "PoseFreeAUEstimator":
        if d.get("format") != FORMAT or d.get("codes") != AU_CODES:
            raise ValueError("not a pose-free AU baseline of this version of fer_au")
        est = cls(presence_threshold=d["presence_threshold"], min_spread=d["min_spread"])
        est.center_ = np.asarray(d["center"], np.float64)
        est.scale_ = np.asarray(d["scale"], np.float64)
        est.reference_ = np.asarray(d["reference"], np.float64)
        est.n_fit_ = int(d["n_fit"])
        return est

    def save(self, path) -> None:
        Path(path).write_text(json.dumps(self.to_dict()) + "\n")

    @classmethod
    def load(cls, path) -> "PoseFreeAUEstimator":
        return cls.from_dict(json.loads(Path(path).read_text()))

    @classmethod
    def load_shipped(cls, models_dir=None) -> "PoseFreeAUEstimator":
        from .zoo import verified_path
        return cls.load(verified_path(BASELINE_FILE, models_dir))


def depth_68(mesh: np.ndarray) -> np.ndarray:
    """(..., 468, 3) mesh -> (..., 68) depth of the 68 iBUG points."""
    from .mesh import MESH_TO_68
    z = np.asarray(mesh)[..., 2]
    return np.stack([z[..., list(ix)].mean(-1) for ix in MESH_TO_68], -1)


def with_depth(landmarks68: np.ndarray, mesh: np.ndarray) -> np.ndarray:
    """dlib's (..., 68, 2) points + the mesh's depth -> (..., 68, 3)."""
    return np.concatenate([np.asarray(landmarks68, np.float64), depth_68(mesh)[..., None]], -1)
