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
shortened by a turn.  What a turn still does to dlib's points on neutral faces
(the far side's outer brows and lower lids) is fitted on them and taken off
(``fit_pose_drift``; the nod only past ``PITCH_DEAD`` degrees).

The measures are those of ``aus.raw_measures`` (first generation) with these fixed
by their FACS description (issue 11) and by the selectivity check of
``bench/_au_validity.py`` (one synthetic action must move its own AU and leave
the other regions' AUs alone):
* AU17 (chin raiser) pushes the lower lip UP, away from the chin tip: the
  lower-lip-to-chin distance growing is more AU17 (the first generation read it
  shrinking, the wrong way).  It is read as the lip-to-chin distance over the
  nose-to-lip distance: the lip pushed up moves away from the chin and towards
  the nose, both count, and the ratio cancels the face's length and dlib's
  rescaling of the lower face.
* AU01 (inner brow raiser) reads the inner brow ends in the frontal head frame
  (the inner eye corners of the first generation move with dlib's refit of the
  lids) plus half the oblique slant the raised inner ends give the brows.
* AU06 (cheek raiser) is the lower lid pushed up; the first generation added
  the lip corners' lift, which made every smile (AU12) read as AU06.  What
  geometry cannot see of AU06 - the cheek bulge and crow's feet - it does not
  guess either.  AU06 and AU07 read the lower lid in the frontal head frame:
  against the eye-corner line it moved with dlib's refit whenever the mouth
  moved (AU10, AU15).
* AU09 (nose wrinkler) is the nostril wings drawn up; the first generation
  added the inner brows' lowering, so every brow movement (AU01, AU04) moved
  AU09 too.  Since session 11 the wings are measured from the nose (tip and
  base) and the inner eye corners together: from the eye corners alone, every
  lid movement leaked into AU09 (AU07 -0.44, AU01 -0.32 on the portraits).
* AU24 (lip presser) reads both lips' heights averaged over three points each, in
  units of the eye-corner spans: the centre points alone, in canonical px, moved
  with dlib's refit whenever the brows or the nose moved (AU01, AU09); as a share
  of the nose-to-chin distance (sessions 4-12) the jaw's drop read as pressed lips.
* AU25 (lips part) is the inner lips' gap as a share of the nose-to-chin distance:
  dlib rescales the lower face when the lips part, which the ratio cancels.
* AU26 (jaw drop) reads the chin and the lower lip the mandible carries, both
  lowered from the nose base (the chin alone varies widely between neutral faces
  and read a drop by less than one spread); the lips parting alone (AU25, the same
  region) moves it too.
* AU10 (upper lip raiser) reads the inner contour of the upper lip as well as
  the outer one (the muscle lifts the whole lip; less landmark noise).
* AU12 and AU20 (mouth widths and the corners' height) are divided by the eye
  corners' spans of the same face: dlib's refit rescales the lower face when
  the brows or lids move (AU04, AU43 read as AU20 otherwise).  AU12 reads the
  corners' lift only: the inner mouth's widening it also read until session 13
  is the lip stretcher's (AU20's) lateral pull, and every AU20 read as a smile.

Intensities are referenced to FER2013's neutral Training faces measured the same
way (dlib's points on the 4x-upsampled crop + the mesh's depth), as
``aus.AUEstimator`` does.
"""
from __future__ import annotations

import numpy as np

from .aus import AU_CODES, AU_MEASURES, AUEstimator, raw_measures
from .geometry import CANONICAL_68, STABLE, to_canonical

FORMAT = "fer_au.PoseFreeAUEstimator/1"
BASELINE_FILE = "au_posefree_baseline.json"

MEASURES = dict(AU_MEASURES)
MEASURES["AU01"] = ("inner brow ends (21, 22) raised in the frontal head frame, plus half the brows' oblique "
                    "slant (inner ends above the outer halves 17-18 / 25-26)")
MEASURES["AU06"] = ("lift of the lower lid margin (40-41 / 46-47) in the frontal head frame; cannot see "
                    "the cheek bulge or crow's feet (shares its measure with AU07)")
MEASURES["AU07"] = "lift of the lower lid margin (40-41 / 46-47) in the frontal head frame"
MEASURES["AU09"] = ("nostril wings (31, 35) drawn up, from a reference half on the nose (tip 30, base 33) and "
                    "half on the inner eye corners (39, 42); cannot see the wrinkles (the first generation "
                    "also added the brows' lowering, which is AU04's)")
MEASURES["AU10"] = ("upper lip, outer and inner contours (50-52, 61-63), drawn up towards the nose base (33)")
MEASURES["AU12"] = ("lip corners (outer 48 / 54 and inner 60 / 64) raised towards the nostrils and nose base "
                    "(31-35), in units of the eye-corner spans (36-39 + 42-45); the mouth's widening is AU20's")
MEASURES["AU17"] = ("lower lip (57) pushed up, away from the chin tip (8) and towards the nose base (33): "
                    "lip-to-chin distance over nose-to-lip distance")
MEASURES["AU20"] = ("mouth width (48-54) while the corners are not raised, in units of the eye-corner spans "
                    "(36-39 + 42-45)")
MEASURES["AU24"] = ("lips pressed thin: both lips' heights (outer 50-52 / 56-58 to inner 61-63 / 65-67), "
                    "in units of the eye-corner spans (36-39 + 42-45)")
MEASURES["AU25"] = ("lips parted: inner-lip gap (61-63 to 65-67) as a share of the nose-base-to-chin "
                    "distance (33-8)")
MEASURES["AU26"] = ("jaw drop: chin (8) and the lower lip it carries (56-58, 65-67) lowered from the nose "
                    "base (33), along the face's own vertical (pitch-free)")


def measures_v2(frontal: np.ndarray) -> np.ndarray:
    """Second-generation measures (N, 17) of frontal 68-point faces (x, y)."""
    m = raw_measures(frontal)
    p = to_canonical(np.asarray(frontal, np.float64))
    x, y = p[..., 0], p[..., 1]
    i1, i6, i7, i9, i10, i12, i17, i20, i24, i25, i26 = (AU_CODES.index(c) for c in (
        "AU01", "AU06", "AU07", "AU09", "AU10", "AU12", "AU17", "AU20", "AU24", "AU25", "AU26"))
    # AU01: the inner brow ends (21, 22) raised in the frontal head frame, plus half the brows'
    # oblique slant (inner ends above the outer halves 17-18 / 25-26) that raising the inner brow gives
    inner, outer = y[..., [21, 22]].mean(-1), y[..., [17, 18, 25, 26]].mean(-1)
    m[..., i1] = -inner + 0.5 * (outer - inner)
    # AU07 and AU06: the lower lid margin lifted in the frontal head frame (the eye-corner line
    # of the first generation moved with dlib's refit whenever the mouth moved)
    m[..., i7] = -y[..., [40, 41, 46, 47]].mean(-1)
    m[..., i6] = m[..., i7]                                   # the lower lid only
    # AU09: the nostril wings (31, 35) drawn up, from a reference half on the nose (tip 30 and base
    # 33, cartilage the muscle hardly moves) and half on the inner eye corners (39, 42, held by the
    # medial canthal tendons): dlib's fit moves the eye corners with the lids and the nose points
    # with the brows and the mouth, and each reference alone passed those on (bench/_au_validity.py)
    m[..., i9] = 0.5 * (0.5 * (y[..., 30] + y[..., 33]) + 0.5 * (y[..., 39] + y[..., 42])) \
        - 0.5 * (y[..., 31] + y[..., 35])
    # the whole upper lip (outer and inner contours, centre and peaks) drawn up to the nose base
    m[..., i10] = y[..., 33] - y[..., [50, 51, 52, 61, 62, 63]].mean(-1)
    # AU17: the lower lip (57) pushed up, away from the chin tip (8) and towards the nose base (33):
    # lip-to-chin over nose-to-lip (cancels face length and dlib's rescaling of the lower face)
    m[..., i17] = _NOSE_CHIN * (y[..., 8] - y[..., 57]) / (y[..., 57] - y[..., 33])
    # AU24: the lips pressed thin: both lips' heights (outer 50-52 / 56-58 to inner 61-63 / 65-67
    # contours, three points each), in units of the eye-corner spans below (as a share of
    # nose-to-chin until session 13, the jaw's drop read as pressed lips: AU26 -> AU24 +0.56)
    vermilion = ((y[..., [61, 62, 63]] - y[..., [50, 51, 52]]).mean(-1)
                 + (y[..., [56, 57, 58]] - y[..., [65, 66, 67]]).mean(-1))
    m[..., i24] = -vermilion
    # AU25: the inner lips' gap as a share of the nose-base-to-chin distance (dlib rescales the
    # lower face when the lips part; the ratio cancels it and the face's length)
    gap = (y[..., [65, 66, 67]] - y[..., [63, 62, 61]]).mean(-1)
    m[..., i25] = _NOSE_CHIN * np.maximum(gap, 0.0) / (y[..., 8] - y[..., 33])
    # AU26: the mandible lowered: chin tip (8) and the lower lip it carries (outer and inner
    # contours, 56-58, 65-67) dropped from the nose base (33)
    m[..., i26] = (y[..., 8] - y[..., 33]) + (y[..., [56, 57, 58, 65, 66, 67]].mean(-1) - y[..., 33])
    # mouth measures in units of the eye-corner spans measured on the same face: dlib's refit
    # moves the whole lower face when the brows or lids move, and widths vary with face width
    eyes = _EYE_SPANS / ((x[..., 45] - x[..., 36]) + (x[..., 42] - x[..., 39]))
    # AU12: the corners' upward pull alone (outer 48 / 54, inner 60 / 64, towards the nostrils and
    # nose base 31-35: five points move less with dlib's refit of the brows than 33 alone); the inner
    # mouth's widening it also read until session 13 is AU20's lateral pull (AU20 -> AU12 +1.04)
    m[..., i12] = (y[..., 31:36].mean(-1) - y[..., [48, 54, 60, 64]].mean(-1)) * eyes
    m[..., i20] *= eyes
    m[..., i24] *= eyes
    return m


_NOSE_CHIN = float(CANONICAL_68[8, 1] - CANONICAL_68[33, 1])
_EYE_SPANS = float((CANONICAL_68[45, 0] - CANONICAL_68[36, 0]) + (CANONICAL_68[42, 0] - CANONICAL_68[39, 0]))


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


def frontalize(points: np.ndarray, reference: np.ndarray, with_pose: bool = False):
    """(N, 68, 3) points rotated, scaled and shifted onto the 3-D ``reference``
    (similarity on ``STABLE``); returns their (N, 68, 2) frontal x, y and, with
    ``with_pose``, the (N,) turn about the vertical axis (yaw, > 0 nose towards the
    image's right) and about the horizontal one (pitch, > 0 chin up) that the fit
    took off, in degrees against the reference."""
    p = np.asarray(points, np.float64)
    out = np.empty(p.shape[:-1] + (2,))
    yaw, pitch = np.empty(len(p)), np.empty(len(p))
    for i, x in enumerate(p):
        s, r, t = umeyama(x[STABLE], reference[STABLE])
        out[i] = (s * x @ r.T + t)[:, :2]
        yaw[i] = np.degrees(np.arctan2(r[0, 2], r[2, 2]))
        pitch[i] = np.degrees(np.arctan2(-r[1, 2], r[2, 2]))
    return (out, yaw, pitch) if with_pose else out


# What a turn or a nod still does to the measures of a neutral face, in the frontal head
# frame: dlib's 2-D points on the far side of a turned face shift (the brows' outer ends,
# the lower lids, the lips' outline), on a nodded face the nose base and nostrils are seen
# from below or above, and the mesh's depth takes off only part of it (bench/au_pose.py:
# without what follows, FER2013's neutral faces past 30 degrees of yaw read AU02 +0.5 and
# AU06/AU07 +0.5 above the frontal ones, those nodded 15 degrees or more AU09 +-1.0 and AU05
# +0.8 / -1.1 neutral spreads; a synthetic nod of real photos moves them alike).  So the
# neutral reference follows the pose: each measure's drift is fitted on the neutral faces (a
# Huber-weighted least-squares fit, so the odd failed fit does not steer it) and taken off
# before the baseline.
# * Yaw: b1 |yaw| / YAW_UNIT + b2 (|yaw| / YAW_UNIT)^2; beyond YAW_MAX, where few faces were
#   fitted, it stays at YAW_MAX's.  Neutral faces that hardly turn (fewer than YAW_MIN_TURNED
#   of them YAW_TURNED degrees or more) say nothing about it: no drift.
# * Pitch: one slope for the chin lifted and one for it lowered, counted from PITCH_DEAD
#   degrees off the neutral faces' median pitch, held beyond PITCH_MAX.  Within PITCH_DEAD
#   nothing is taken off: the pitch of the fit moves by 1-3 degrees when the brows or the
#   upper lip move (the eye corners and nose base move with them in dlib's fit), and a
#   correction there would pass every such movement on to AU09 and AU05, whose drift with
#   the pitch is the largest; it cannot tell a small nod from a face's build either.
YAW_UNIT, YAW_MAX = 30.0, 45.0
YAW_TURNED, YAW_MIN_TURNED = 15.0, 100
PITCH_DEAD, PITCH_UNIT, PITCH_MAX = 10.0, 10.0, 30.0


def yaw_terms(yaw: np.ndarray) -> np.ndarray:
    """(N,) yaw in degrees -> (N, 2) the terms of a measure's drift with the turn."""
    a = np.minimum(np.abs(np.asarray(yaw, np.float64)), YAW_MAX) / YAW_UNIT
    return np.stack([a, a * a], axis=-1)


def pitch_terms(pitch: np.ndarray, center: float = 0.0) -> np.ndarray:
    """(N,) pitch in degrees -> (N, 2) the terms of a measure's drift with the nod:
    how far past PITCH_DEAD the chin is lifted, and lowered, from ``center``."""
    d = np.asarray(pitch, np.float64) - center
    span = PITCH_MAX - PITCH_DEAD
    return np.stack([np.clip(d - PITCH_DEAD, 0.0, span), np.clip(-d - PITCH_DEAD, 0.0, span)], axis=-1) / PITCH_UNIT


def fit_pose_drift(measures: np.ndarray, yaw: np.ndarray, pitch: np.ndarray, pitch_center: float = 0.0,
                   iterations: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """((2, n_AUs), (2, n_AUs)): each measure's drift per ``yaw_terms`` and per
    ``pitch_terms`` on neutral faces, fitted together (intercept alongside, dropped)
    by iteratively reweighted least squares with Huber weights (residuals over 1.5
    robust spreads weigh less); zeros for a pose too few of the faces take
    (YAW_MIN_TURNED faces turned YAW_TURNED degrees or more; as many nodded past
    PITCH_DEAD on each side)."""
    m = np.asarray(measures, np.float64)
    terms = [yaw_terms(yaw), pitch_terms(pitch, pitch_center)]
    used = [np.sum(np.abs(yaw) >= YAW_TURNED) >= YAW_MIN_TURNED,
            min(np.sum(terms[1] > 0, axis=0)) >= YAW_MIN_TURNED]
    x = np.hstack([np.ones((len(m), 1))] + [t for t, u in zip(terms, used) if u])
    coef = np.linalg.lstsq(x, m, rcond=None)[0]
    for _ in range(iterations):
        r = m - x @ coef
        spread = np.median(np.abs(r), axis=0) * 1.4826 + 1e-12
        w = np.sqrt(np.minimum(1.0, 1.5 / np.maximum(np.abs(r) / spread, 1e-12)))
        coef = np.stack([np.linalg.lstsq(x * w[:, j:j + 1], m[:, j] * w[:, j], rcond=None)[0]
                         for j in range(m.shape[1])], axis=1)
    out, k = [], 1
    for u in used:
        out.append(coef[k:k + 2] if u else np.zeros((2, m.shape[1])))
        k += 2 * u
    return out[0], out[1]


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


class PoseFreeAUEstimator(AUEstimator):
    """AU intensities (0-5) from 68 3-D points, referenced to neutral faces.

    ``fit(neutral_points)`` learns the neutral 3-D face (``reference_``) and the
    baseline (``center_``, ``scale_``); ``transform(points)`` gives intensities.
    ``points`` are (N, 68, 3): x, y in image pixels, z the depth of the same point
    in the same units (``analyzer`` takes it from the face mesh).  Everything else
    is ``aus.AUEstimator``'s."""

    name = "fer_au-aus-posefree"
    FORMAT = FORMAT
    BASELINE_FILE = BASELINE_FILE
    SHAPE = (68, 3)
    MEASURES = MEASURES
    MEASURE_UNIT = ("canonical px of the frontal head frame given by `reference`, less a neutral face's "
                    "drift with the yaw (`yaw_drift` times aus3d.yaw_terms) and the pitch (`pitch_drift` "
                    "times aus3d.pitch_terms from `pitch_center`)")
    JSON_INDENT = None

    def _fit_frame(self, points):
        self.reference_ = reference_face(points)
        frontal, yaw, pitch = frontalize(points, self.reference_, with_pose=True)
        self.pitch_center_ = float(np.median(pitch))
        self.yaw_drift_, self.pitch_drift_ = fit_pose_drift(measures_v2(frontal), yaw, pitch, self.pitch_center_)

    def _measures(self, points):
        frontal, yaw, pitch = frontalize(points, self.reference_, with_pose=True)
        m = measures_v2(frontal)
        # a baseline saved before session 19 has no yaw drift, before session 20 no pitch drift
        if getattr(self, "yaw_drift_", None) is not None:
            m = m - yaw_terms(yaw) @ self.yaw_drift_
        if getattr(self, "pitch_drift_", None) is not None:
            m = m - pitch_terms(pitch, self.pitch_center_) @ self.pitch_drift_
        return m

    def _state(self) -> dict:
        d = super()._state()
        if getattr(self, "yaw_drift_", None) is not None:
            d["yaw_drift"] = self.yaw_drift_.round(6).tolist()
        if getattr(self, "pitch_drift_", None) is not None:
            d["pitch_center"] = round(self.pitch_center_, 4)
            d["pitch_drift"] = self.pitch_drift_.round(6).tolist()
        return d

    def _set_state(self, d: dict) -> None:
        super()._set_state(d)
        if "yaw_drift" in d:
            self.yaw_drift_ = np.asarray(d["yaw_drift"], np.float64)
        if "pitch_drift" in d:
            self.pitch_center_ = float(d["pitch_center"])
            self.pitch_drift_ = np.asarray(d["pitch_drift"], np.float64)


def depth_68(mesh: np.ndarray) -> np.ndarray:
    """(..., 468, 3) mesh -> (..., 68) depth of the 68 iBUG points."""
    from .mesh import to_68
    return to_68(mesh, dims=3)[..., 2].astype(np.float64)


def with_depth(landmarks68: np.ndarray, mesh: np.ndarray) -> np.ndarray:
    """dlib's (..., 68, 2) points + the mesh's depth -> (..., 68, 3)."""
    return np.concatenate([np.asarray(landmarks68, np.float64), depth_68(mesh)[..., None]], -1)
