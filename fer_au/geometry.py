"""Landmark geometry: the canonical 68-point face, similarity fits, mirroring.

Pure numpy; no image work. ``faces`` uses it to align crops and ``aus`` to put
landmarks into a pose-free frame before measuring action units.

Landmark indices follow dlib / iBUG 300-W (0-16 jaw, 17-21 right brow (the
subject's right, image left), 22-26 left brow, 27-30 nose bridge, 31-35 nose
base, 36-41 right eye, 42-47 left eye, 48-59 outer lips, 60-67 inner lips).
"""
from __future__ import annotations

import numpy as np

# Mean FER2013 landmark shape (generalised Procrustes mean of dlib's 68 points on
# 2,337 Training faces, made left-right symmetric), in the 48x48 crop's pixels.
# It defines FER2013-like framing for ``faces.align_face`` and the reference
# frame in which ``aus`` measures.
CANONICAL_68 = np.array([
    (3.76, 18.63), (3.97, 24.07), (4.63, 29.49), (5.83, 34.76), (7.96, 39.65), (11.15, 43.97),
    (14.96, 47.65), (19.16, 50.65), (24.00, 51.57), (28.84, 50.65), (33.04, 47.65), (36.85, 43.97),
    (40.04, 39.65), (42.17, 34.76), (43.37, 29.49), (44.03, 24.07), (44.24, 18.63), (7.58, 14.38),
    (10.11, 12.14), (13.60, 11.45), (17.21, 11.94), (20.60, 13.34), (27.40, 13.34), (30.79, 11.94),
    (34.40, 11.45), (37.89, 12.14), (40.42, 14.38), (24.00, 17.58), (24.00, 20.97), (24.00, 24.36),
    (24.00, 27.83), (19.97, 30.35), (21.90, 31.06), (24.00, 31.66), (26.10, 31.06), (28.03, 30.35),
    (11.56, 18.19), (13.79, 16.89), (16.46, 16.92), (18.76, 18.65), (16.28, 19.14), (13.63, 19.11),
    (29.24, 18.65), (31.54, 16.92), (34.21, 16.89), (36.44, 18.19), (34.37, 19.11), (31.72, 19.14),
    (16.17, 37.34), (18.89, 35.64), (21.89, 34.88), (24.00, 35.37), (26.11, 34.88), (29.11, 35.64),
    (31.83, 37.34), (29.22, 40.66), (26.31, 42.16), (24.00, 42.42), (21.69, 42.16), (18.78, 40.66),
    (17.35, 37.46), (21.87, 36.66), (24.00, 36.85), (26.13, 36.66), (30.65, 37.46), (26.18, 39.46),
    (24.00, 39.73), (21.82, 39.46),
], dtype=np.float64)

# Index of each point's mirror image (left <-> right) under a horizontal flip.
MIRROR_PERM = np.array([16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 27, 28, 29, 30, 35, 34, 33, 32, 31, 45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40, 54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65])

# Points that facial expressions hardly move (eye corners, nose bridge and base):
# the similarity fit on them removes position, size and in-plane rotation
# without absorbing expression (a dropped jaw or raised brows do not shrink the face).
STABLE = np.array([27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45])


def similarity_params(src: np.ndarray, dst: np.ndarray, weights=None):
    """Least-squares similarity (Umeyama, no reflection) taking ``src`` (K,2) onto ``dst``.

    Returns ``(A, t)`` with ``dst ~= src @ A.T + t``; ``A`` = scale * rotation.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    w = np.ones(len(src)) if weights is None else np.asarray(weights, np.float64)
    w = w / w.sum()
    ms, md = w @ src, w @ dst
    s, d = src - ms, dst - md
    cov = (d * w[:, None]).T @ s
    u, sig, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u @ vt) < 0:
        sign[-1] = -1
    r = u @ np.diag(sign) @ vt
    var = (w * (s ** 2).sum(1)).sum()
    scale = (sig * sign).sum() / var if var > 0 else 1.0
    a = scale * r
    return a, md - ms @ a.T


def to_canonical(landmarks: np.ndarray, points=STABLE) -> np.ndarray:
    """Map landmarks (68,2) or (N,68,2) into the canonical frame by a similarity fit
    of ``points`` onto ``CANONICAL_68``: the result no longer depends on the face's
    position, size or in-plane rotation."""
    lm = np.asarray(landmarks, np.float64)
    if lm.ndim == 3:
        return np.stack([to_canonical(x, points) for x in lm]) if len(lm) else lm.copy()
    a, t = similarity_params(lm[points], CANONICAL_68[points])
    return lm @ a.T + t


def mirror(landmarks: np.ndarray, width: float) -> np.ndarray:
    """The landmarks of the horizontally flipped image (``width`` pixels wide), re-indexed
    so that point i is again the i-th iBUG point."""
    lm = np.asarray(landmarks, np.float64)
    out = lm[..., MIRROR_PERM, :].copy()
    out[..., 0] = (width - 1) - out[..., 0]
    return out


def interocular(landmarks: np.ndarray) -> np.ndarray:
    """Distance between the eye centres (mean of 36-41 and 42-47)."""
    lm = np.asarray(landmarks, np.float64)
    return np.linalg.norm(lm[..., 42:48, :].mean(-2) - lm[..., 36:42, :].mean(-2), axis=-1)


def shape_residual(landmarks: np.ndarray) -> np.ndarray:
    """RMS distance (in canonical 48-px units) between the landmarks, after a
    similarity fit on all 68 points, and ``CANONICAL_68``: a plausibility score
    (a face-like shape scores ~1-2 px; a predictor lost on a non-face scores high)."""
    lm = np.asarray(landmarks, np.float64)
    if lm.ndim == 3:
        return np.array([shape_residual(x) for x in lm])
    a, t = similarity_params(lm, CANONICAL_68)
    return float(np.sqrt((((lm @ a.T + t) - CANONICAL_68) ** 2).sum(1).mean()))
