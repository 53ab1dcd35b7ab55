"""Validity checks of the mesh action units on real faces: selectivity, scale, pose.

No AU-coded data set is available offline, so the AUs are checked by what they
must do on real photos rather than against a coder:

* ``selectivity``: a synthetic movement of ONE action unit (``au_movement``,
  built from the FACS description of its muscle's visible movement and applied
  to the photo by a piecewise-affine warp, ``mesh_warp``) must raise that AU and
  leave the AUs of the other regions alone.  The whole analyzer runs again on
  the warped image, detection included.
* ``scale_consistency``: a face analysed at full resolution and its 48x48
  FER2013-style crop (``Face.crop``, ``analyze(crop, crop=True)``) must give
  the same AUs.
* ``pose_invariance``: a head turn synthesised with the 3-D mesh must leave the
  AUs alone; ``report`` also nods the faces (``axis="pitch"``), which issue 11
  does not ask for, on the same yardstick.

The faces are the real, full-resolution faces available offline (``real_faces``):
the two public-domain portraits that installed packages ship (Eileen Collins,
``skimage.data.astronaut``; Grace Hopper, matplotlib's sample) and the sample
photos made from them (``samples/``) - eight faces, two people.

    >>> from fer_au import FaceAnalyzer
    >>> a = FaceAnalyzer(emotion_model=None, au_model=None)
    >>> faces = real_faces()
    >>> sel = selectivity(a, faces); print(sel.median.round(2)); print(sel.summary)
    >>> print(scale_consistency(a, faces).per_au)
    >>> print(pose_invariance(a, faces).median.round(2))

``python bench/_au_validity.py`` runs all three and prints the tables.

What the movements are, in the face's own frame (x along the outer eye corners
33 -> 263, towards the subject's left; "up" perpendicular to it, towards the
forehead; unit IOD = the outer-eye-corner distance): see ``MOVEMENTS``.  Each
movement has vertices that are MOVED (by a set displacement, tapered along the
lip or brow), vertices that are HELD (what FACS says that muscle does not move:
e.g. the lid margins when the brows go up, the upper lip when the jaw drops) and
all others FOLLOW the nearest moved vertices with a Gaussian falloff
(sigma 0.12 IOD), damped near held vertices (sigma 0.04 IOD), so the skin moves
smoothly and stretches between a moved and a held feature.

Limits of a warp: it moves texture, it cannot create any.  Lips that part show
a dark mouth (``_fill_mouth`` paints the new gap dark) but no teeth; no
wrinkles, furrows or bulges appear (AU06's crow's feet, AU09's nose wrinkles,
AU17's chin dimpling are invisible here, as they are to the mesh measures).
"""
from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from fer_au.aus import AU_CODES  # noqa: E402
from fer_au.tracking import iou  # noqa: E402

if TYPE_CHECKING:
    import pandas as pd

# ---------------------------------------------------------------------------
# Criteria (the acceptance figures of the issue)
# ---------------------------------------------------------------------------
SELF_RISE = 1.0          # the moved AU must rise by at least this (median over faces, 0-5 scale)
OTHER_REGION_MAX = 0.3   # AUs of other regions must change by less than this (|median|)
SCALE_MAX = 0.5          # median |full-resolution - 48 px crop| per AU
POSE_MAX = 0.7           # median |turned - frontal| per AU and yaw

# Which AUs share a face region.  Two AUs share a region when some entry lists
# both; selectivity then tolerates cross-talk between them (one muscle's
# movement visibly moves the other's landmarks: AU07's raised lower lid is half
# of AU06's measure, AU10's raised upper lip parts the lips = AU25).  AU10 sits
# between nose and mouth (it deepens the nasolabial furrow beside the nostrils
# and lifts the lip), so it is in both; AU06 also owns the cheeks.
REGIONS: dict[str, tuple[str, ...]] = {
    "brows": ("AU01", "AU02", "AU04"),
    "eyes": ("AU05", "AU06", "AU07", "AU43"),
    "cheeks": ("AU06",),
    "nose": ("AU09", "AU10"),
    "mouth": ("AU10", "AU12", "AU15", "AU17", "AU20", "AU23", "AU24", "AU25", "AU26"),
}


def share_region(a: str, b: str) -> bool:
    """True when AUs ``a`` and ``b`` are in one region of ``REGIONS`` (or are the same AU)."""
    return a == b or any(a in r and b in r for r in REGIONS.values())


# ---------------------------------------------------------------------------
# Mesh vertex groups (MediaPipe topology; R = subject's right, image left)
# ---------------------------------------------------------------------------
EYE_R_OUT, EYE_L_OUT = 33, 263
FOREHEAD = 10

# MediaPipe's lip contours (face_mesh annotations), from the right corner to the left.
LIPS_UPPER_OUTER = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291]
LIPS_LOWER_OUTER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291]
LIPS_UPPER_SEMI_OUTER = [76, 184, 74, 73, 72, 11, 302, 303, 304, 408, 306]
LIPS_LOWER_SEMI_OUTER = [76, 77, 90, 180, 85, 16, 315, 404, 320, 307, 306]
LIPS_UPPER_SEMI_INNER = [62, 183, 42, 41, 38, 12, 268, 271, 272, 407, 292]
LIPS_LOWER_SEMI_INNER = [62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292]
LIPS_UPPER_INNER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
LIPS_LOWER_INNER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]
CORNER_VERTS = {61, 291, 76, 306, 62, 292, 78, 308}
UPPER_LIP = sorted(set(LIPS_UPPER_OUTER + LIPS_UPPER_SEMI_OUTER + LIPS_UPPER_SEMI_INNER
                       + LIPS_UPPER_INNER) - CORNER_VERTS)
LOWER_LIP = sorted(set(LIPS_LOWER_OUTER + LIPS_LOWER_SEMI_OUTER + LIPS_LOWER_SEMI_INNER
                       + LIPS_LOWER_INNER) - CORNER_VERTS)
# the lip corner and the lip vertices next to it: {vertex: weight}
CORNER_R = {61: 1.0, 76: 1.0, 62: 1.0, 78: 1.0, 184: 0.8, 77: 0.8, 183: 0.8, 96: 0.8,
            185: 0.6, 146: 0.6, 191: 0.6, 95: 0.6}
CORNER_L = {291: 1.0, 306: 1.0, 292: 1.0, 308: 1.0, 408: 0.8, 307: 0.8, 407: 0.8, 325: 0.8,
            409: 0.6, 375: 0.6, 415: 0.6, 324: 0.6}
MOUTH_CENTRE = [0, 11, 12, 13, 14, 15, 16, 17]
# the skin between the lower lip and the chin tip (the chin boss, mentalis)
CHIN_BOSS = {18: 1.0, 200: 1.0, 199: 0.8, 83: 1.0, 313: 1.0, 201: 0.9, 421: 0.9, 182: 0.8, 406: 0.8,
             208: 0.7, 428: 0.7, 194: 0.6, 418: 0.6, 32: 0.4, 262: 0.4, 171: 0.4, 396: 0.4}
CHIN_TIP = 152
# the jaw line from the right jaw angle to the left, through the chin tip
JAW_LINE = [58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288]

# eyes: lid margins (centre weight 1, tapering to the corners)
UPPER_LID_R = {159: 1.0, 158: 1.0, 160: 1.0, 161: 0.7, 157: 0.7, 246: 0.35, 173: 0.35}
UPPER_LID_L = {386: 1.0, 385: 1.0, 387: 1.0, 388: 0.7, 384: 0.7, 466: 0.35, 398: 0.35}
LOWER_LID_R = {145: 1.0, 144: 1.0, 153: 1.0, 163: 0.7, 154: 0.7, 7: 0.35, 155: 0.35}
LOWER_LID_L = {374: 1.0, 373: 1.0, 380: 1.0, 390: 0.7, 381: 0.7, 249: 0.35, 382: 0.35}
# upper-lid vertex -> the lower-lid vertex below it (eye closure)
LID_PAIRS = {159: 145, 158: 153, 160: 144, 161: 163, 157: 154, 246: 7, 173: 155,
             386: 374, 385: 380, 387: 373, 388: 390, 384: 381, 466: 249, 398: 382}
EYE_CORNERS = [33, 133, 263, 362]
LIDS = sorted(set(UPPER_LID_R) | set(UPPER_LID_L) | set(LOWER_LID_R) | set(LOWER_LID_L))

# brows (upper and lower edge): inner third, outer third, middle
BROW_INNER_R = {107: 1.0, 55: 1.0, 66: 1.0, 65: 1.0}
BROW_INNER_L = {336: 1.0, 285: 1.0, 296: 1.0, 295: 1.0}
BROW_OUTER_R = {70: 1.0, 46: 1.0, 63: 1.0, 53: 1.0}
BROW_OUTER_L = {300: 1.0, 276: 1.0, 293: 1.0, 283: 1.0}
BROW_MID = [105, 52, 334, 282]
BROWS = sorted(set(BROW_INNER_R) | set(BROW_INNER_L) | set(BROW_OUTER_R) | set(BROW_OUTER_L)
               | set(BROW_MID))

# infraorbital cheek (the skin below the lower lid that orbicularis oculi lifts)
CHEEK_R = {117: 1.0, 118: 1.0, 119: 1.0, 100: 1.0, 101: 1.0, 120: 0.8, 50: 0.8, 228: 0.8, 229: 0.8,
           230: 0.8, 231: 0.8, 47: 0.6, 111: 0.6, 123: 0.6, 36: 0.6, 116: 0.5, 142: 0.5, 126: 0.5,
           205: 0.5}
CHEEK_L = {346: 1.0, 347: 1.0, 348: 1.0, 329: 1.0, 330: 1.0, 349: 0.8, 280: 0.8, 448: 0.8, 449: 0.8,
           450: 0.8, 451: 0.8, 277: 0.6, 340: 0.6, 352: 0.6, 266: 0.6, 345: 0.5, 371: 0.5, 355: 0.5,
           425: 0.5}

# nostril wings (alae) and the sides of the nose
NOSE_SIDE_R = {64: 1.0, 98: 1.0, 129: 1.0, 48: 1.0, 49: 1.0, 102: 1.0, 219: 0.8, 235: 0.8, 240: 0.8,
               115: 0.8, 131: 0.8, 218: 0.6, 166: 0.6, 220: 0.6, 134: 0.5, 209: 0.5, 198: 0.4,
               79: 0.5, 75: 0.5, 60: 0.4}
NOSE_SIDE_L = {294: 1.0, 327: 1.0, 358: 1.0, 278: 1.0, 279: 1.0, 331: 1.0, 439: 0.8, 455: 0.8, 460: 0.8,
               344: 0.8, 360: 0.8, 438: 0.6, 392: 0.6, 440: 0.6, 363: 0.5, 429: 0.5, 420: 0.4,
               309: 0.5, 305: 0.5, 290: 0.4}
NOSE_TIP = [1, 4, 19, 94]
SUBNASALE = 2

SIGMA = 0.12          # falloff of a movement around the moved vertices, IOD
SIGMA_HOLD = 0.04     # how far a held vertex damps the falloff, IOD

# One line per AU: what moves (IOD units, at amount=1).  ``au_movement`` builds them.
MOVEMENTS: dict[str, str] = {
    "AU01": "inner brows (107, 55, 66, 65 / 336, 285, 296, 295) up 0.08; lid margins and eye corners held",
    "AU02": "outer brows (70, 46, 63, 53 / 300, 276, 293, 283) up 0.08; lid margins and eye corners held",
    "AU04": "inner brows down 0.06 and towards the midline 0.03; lid margins and eye corners held",
    "AU05": "upper lid margins up 0.03 (centre; tapering to the corners); lower lids, eye corners, brows held",
    "AU06": "infraorbital cheeks up 0.05, lower lid margins up 0.02; upper lids, eye corners, brows, "
            "nostril wings and lips held",
    "AU07": "lower lid margins up 0.03; upper lids, eye corners, brows held",
    "AU09": "nostril wings and nose sides up 0.05; nose tip, eye corners and lids held",
    "AU10": "upper lip (all four contours; centre and peaks 1, tapering to 0.3 laterally, corners 0.2) up "
            "0.05; lower lip, nose tip and nose base (2, 94, 19, 1, 4) held: the lips part and the "
            "philtrum shortens",
    "AU12": "lip corners up 0.06 and outward 0.03; mouth centre line held",
    "AU15": "lip corners down 0.05; mouth centre line held",
    "AU17": "chin boss and lower lip outer contours up 0.05, lower lip inner contours up 0.02; upper lip "
            "outer edge, lip corners, chin tip and jaw line held",
    "AU20": "lip corners outward 0.06 (horizontal); mouth centre line held",
    "AU23": "lip corners inward 0.04; outer lip edges towards the mouth line 0.015 (thinner lips); "
            "inner-lip centre (13, 14) held",
    "AU24": "upper-lip outer contours down 0.02, lower-lip outer contours up 0.02 (lips pressed); the mouth "
            "line (inner contours) and corners held",
    "AU25": "lower lip (all four contours, tapering to 0.3 at the corners) down 0.05; upper lip, corners, "
            "chin tip and jaw line held (jaw still)",
    "AU26": "jaw drop: lower lip, chin and jaw down 0.12 at the chin, as a hinge about the ears (each "
            "vertex by its depth in front of the ear-level silhouette, 234/454), mouth corners 0.4; upper "
            "lip and everything above the nose base held",
    "AU43": "upper lid margins down 90 % of the way to the lower lid margins (eyes closed); lower lids, "
            "eye corners and brows held",
}


def face_frame(mesh: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(origin, x axis, up axis, IOD) of a mesh in image pixels: origin between
    the outer eye corners, x from 33 to 263 (towards the subject's left), up
    perpendicular to it towards the forehead, IOD their distance."""
    p = np.asarray(mesh, np.float64)[:, :2]
    d = p[EYE_L_OUT] - p[EYE_R_OUT]
    iod = float(np.linalg.norm(d))
    ex = d / iod
    up = np.array([ex[1], -ex[0]])
    origin = 0.5 * (p[EYE_L_OUT] + p[EYE_R_OUT])
    if (p[FOREHEAD] - origin) @ up < 0:
        up = -up
    return origin, ex, up, iod


def to_face(mesh: np.ndarray) -> np.ndarray:
    """The (468, 2) vertices in face-frame coordinates (x, up) in IOD units."""
    o, ex, up, iod = face_frame(mesh)
    q = np.asarray(mesh, np.float64)[:, :2] - o
    return np.stack([q @ ex, q @ up], 1) / iod


def _side_moves(right: dict, left: dict, out: float, up: float) -> list[tuple[dict, np.ndarray]]:
    """Bilateral move: ``out`` > 0 away from the midline (subject's right = -x)."""
    return [(right, np.array([-out, up])), (left, np.array([out, up]))]


def _taper(P: np.ndarray, verts, centre: float = 1.0, end: float = 0.3) -> dict:
    """Weights along the mouth: ``centre`` within the middle half of the mouth width,
    falling linearly to ``end`` at the corners."""
    xm = 0.5 * (P[61, 0] + P[291, 0])
    half = max(0.5 * (P[291, 0] - P[61, 0]), 1e-6)
    out = {}
    for v in verts:
        r = abs(P[v, 0] - xm) / half
        out[v] = float(centre if r <= 0.5 else centre + (end - centre) * min((r - 0.5) / 0.5, 1.0))
    return out


def _propagate(P: np.ndarray, moved: dict, held, sigma: float = SIGMA,
               sigma_hold: float = SIGMA_HOLD) -> np.ndarray:
    """Displacements (468, 2) in the face frame: ``moved`` {vertex: (2,) displacement}
    exactly, ``held`` vertices not at all, every other vertex the Gaussian-weighted
    mean of the moved displacements times the falloff from the nearest moved vertex
    (``sigma``), damped by ``1 - exp(-d^2 / 2 sigma_hold^2)`` of the nearest held vertex."""
    idx = np.array(sorted(moved), int)
    disp_m = np.array([moved[i] for i in idx], np.float64)
    d2 = ((P[:, None, :] - P[None, idx, :]) ** 2).sum(-1)
    logw = -d2 / (2 * sigma ** 2)
    top = logw.max(1, keepdims=True)
    w = np.exp(logw - top)
    disp = (w @ disp_m) / w.sum(1, keepdims=True) * np.exp(top)
    held = np.array(sorted({int(h) for h in held} - set(idx.tolist())), int)
    if len(held):
        dh = ((P[:, None, :] - P[None, held, :]) ** 2).sum(-1).min(1)
        disp *= (1.0 - np.exp(-dh / (2 * sigma_hold ** 2)))[:, None]
        disp[held] = 0.0
    disp[idx] = disp_m
    return disp


def _moves_to_dict(moves: list[tuple[dict, np.ndarray]]) -> dict:
    out: dict = {}
    for group, vec in moves:
        for v, wgt in group.items():
            out[int(v)] = out.get(int(v), 0.0) + wgt * np.asarray(vec, np.float64)
    return out


def _movement_spec(mesh: np.ndarray, au: str, P: np.ndarray) -> tuple[dict, list]:
    """(moved {vertex: displacement in face frame, IOD}, held vertices) for one AU at amount 1."""
    lids, brows, corners = LIDS + EYE_CORNERS, BROWS, list(CORNER_VERTS)
    if au == "AU01":
        return _moves_to_dict([(BROW_INNER_R, (0, 0.08)), (BROW_INNER_L, (0, 0.08))]), lids
    if au == "AU02":
        return _moves_to_dict([(BROW_OUTER_R, (0, 0.08)), (BROW_OUTER_L, (0, 0.08))]), lids
    if au == "AU04":
        # towards the midline = inward: subject's right brow moves +x
        return _moves_to_dict(_side_moves(BROW_INNER_R, BROW_INNER_L, -0.03, -0.06)), lids
    if au == "AU05":
        return (_moves_to_dict([(UPPER_LID_R, (0, 0.03)), (UPPER_LID_L, (0, 0.03))]),
                list(LOWER_LID_R) + list(LOWER_LID_L) + EYE_CORNERS + brows)
    if au == "AU06":
        moved = _moves_to_dict([(CHEEK_R, (0, 0.05)), (CHEEK_L, (0, 0.05)),
                                (LOWER_LID_R, (0, 0.02)), (LOWER_LID_L, (0, 0.02))])
        held = (list(UPPER_LID_R) + list(UPPER_LID_L) + EYE_CORNERS + brows
                + [64, 98, 129, 294, 327, 358] + NOSE_TIP + LIPS_UPPER_OUTER)
        return moved, held
    if au == "AU07":
        return (_moves_to_dict([(LOWER_LID_R, (0, 0.03)), (LOWER_LID_L, (0, 0.03))]),
                list(UPPER_LID_R) + list(UPPER_LID_L) + EYE_CORNERS + brows)
    if au == "AU09":
        return (_moves_to_dict([(NOSE_SIDE_R, (0, 0.05)), (NOSE_SIDE_L, (0, 0.05))]),
                NOSE_TIP + EYE_CORNERS + LIDS)
    if au == "AU10":
        w = _taper(P, UPPER_LIP, 1.0, 0.3)
        w.update({61: 0.2, 291: 0.2, 76: 0.2, 306: 0.2, 62: 0.2, 292: 0.2, 78: 0.2, 308: 0.2})
        # the philtrum shortens: the columella and the nose base (subnasale) stay
        return _moves_to_dict([(w, (0, 0.05))]), LOWER_LIP + NOSE_TIP + [SUBNASALE]
    if au == "AU12":
        return _moves_to_dict(_side_moves(CORNER_R, CORNER_L, 0.03, 0.06)), MOUTH_CENTRE
    if au == "AU15":
        return _moves_to_dict(_side_moves(CORNER_R, CORNER_L, 0.0, -0.05)), MOUTH_CENTRE
    if au == "AU17":
        outer = set(LIPS_LOWER_OUTER + LIPS_LOWER_SEMI_OUTER) - CORNER_VERTS
        inner = set(LIPS_LOWER_INNER + LIPS_LOWER_SEMI_INNER) - CORNER_VERTS
        moved = _moves_to_dict([(CHIN_BOSS, (0, 0.05)), (_taper(P, outer, 1.0, 0.4), (0, 0.05)),
                                (_taper(P, inner, 1.0, 0.4), (0, 0.02))])
        return moved, LIPS_UPPER_OUTER + corners + JAW_LINE
    if au == "AU20":
        return _moves_to_dict(_side_moves(CORNER_R, CORNER_L, 0.06, 0.0)), MOUTH_CENTRE
    if au == "AU23":
        top = _taper(P, set(LIPS_UPPER_OUTER) - CORNER_VERTS, 1.0, 0.5)
        bottom = _taper(P, set(LIPS_LOWER_OUTER) - CORNER_VERTS, 1.0, 0.5)
        moved = _moves_to_dict(_side_moves(CORNER_R, CORNER_L, -0.04, 0.0)
                               + [(top, (0, -0.015)), (bottom, (0, 0.015))])
        return moved, [13, 14]
    if au == "AU24":
        top = _taper(P, set(LIPS_UPPER_OUTER + LIPS_UPPER_SEMI_OUTER) - CORNER_VERTS, 1.0, 0.5)
        bottom = _taper(P, set(LIPS_LOWER_OUTER + LIPS_LOWER_SEMI_OUTER) - CORNER_VERTS, 1.0, 0.5)
        return (_moves_to_dict([(top, (0, -0.02)), (bottom, (0, 0.02))]),
                LIPS_UPPER_INNER + LIPS_LOWER_INNER + corners)
    if au == "AU25":
        return (_moves_to_dict([(_taper(P, LOWER_LIP, 1.0, 0.3), (0, -0.05))]),
                UPPER_LIP + corners + JAW_LINE)
    if au == "AU26":
        return _jaw_drop(mesh, P)
    if au == "AU43":
        moved = {u: 0.9 * (P[l] - P[u]) for u, l in LID_PAIRS.items()}
        return moved, list(LOWER_LID_R) + list(LOWER_LID_L) + EYE_CORNERS + brows
    raise ValueError(f"no movement for {au!r}; use one of {AU_CODES}")


def _jaw_drop(mesh: np.ndarray, P: np.ndarray, drop: float = 0.12) -> tuple[dict, list]:
    """AU26 as a hinge: a vertex of the mandible moves down in proportion to how far
    in front of the ear-level silhouette (234 / 454, about the jaw joints) it is,
    scaled so the chin tip drops ``drop`` IOD (points in front of the chin, the lower
    lip, drop as much as the chin)."""
    z = np.asarray(mesh, np.float64)[:, 2]
    z_joint = 0.5 * (z[234] + z[454])
    lever = np.clip((z_joint - z) / max(z_joint - z[CHIN_TIP], 1e-6), 0.0, 1.0)
    corner_y = 0.5 * (P[61, 1] + P[291, 1])
    iod_below = corner_y - P[:, 1]                      # > 0 below the mouth-corner line
    member = np.clip(iod_below / 0.15, 0.0, 1.0)
    member = member * member * (3 - 2 * member)         # smoothstep
    for v, wgt in _taper(P, LOWER_LIP, 1.0, 0.5).items():   # an oval opening, not a slot
        member[v] = wgt
    for v in CORNER_VERTS:
        member[v] = 0.4
    member[UPPER_LIP] = 0.0
    above = np.flatnonzero(P[:, 1] >= P[SUBNASALE, 1])  # nose base and above: the skull
    member[above] = 0.0
    moved = {int(v): np.array([0.0, -drop * member[v] * lever[v]]) for v in np.flatnonzero(member > 0)}
    return moved, UPPER_LIP + above.tolist()


def au_movement(mesh: np.ndarray, au: str, amount: float = 1.0) -> np.ndarray:
    """Destination (468, 2) image positions of the mesh vertices for a synthetic
    movement of one action unit (``MOVEMENTS``), ``amount`` = 1 a moderate,
    clearly visible action (displacements scale linearly; AU43's closure is capped
    at the lower lid)."""
    mesh = np.asarray(mesh, np.float64)
    P = to_face(mesh)
    moved, held = _movement_spec(mesh, au, P)
    if au == "AU43":
        f = min(float(amount), 1.0 / 0.9 * 0.98)
        moved = {k: v * f for k, v in moved.items()}
        amount = 1.0
    disp = _propagate(P, moved, held) * float(amount)
    _, ex, up, iod = face_frame(mesh)
    return mesh[:, :2] + (disp[:, :1] * ex + disp[:, 1:] * up) * iod


# ---------------------------------------------------------------------------
# The image warp
# ---------------------------------------------------------------------------
def _anchor_points(face_box, shape, ring: int = 16, scale: float = 1.6) -> np.ndarray:
    """Fixed points: a ring of ``ring`` points on the ellipse ``scale`` x the face box
    around its centre, and the image corners."""
    x, y, w, h = [float(v) for v in face_box]
    cx, cy = x + w / 2, y + h / 2
    t = np.arange(ring) * 2 * np.pi / ring
    pts = np.stack([cx + 0.5 * scale * w * np.cos(t), cy + 0.5 * scale * h * np.sin(t)], 1)
    H, W = shape[:2]
    corners = np.array([[0, 0], [W - 1, 0], [0, H - 1], [W - 1, H - 1]], np.float64)
    return np.vstack([pts, corners])


def mesh_warp(image: np.ndarray, src_xy: np.ndarray, dst_xy: np.ndarray, face_box,
              ring: int = 16, ring_scale: float = 1.6) -> np.ndarray:
    """Piecewise-affine warp of ``image`` that moves the points ``src_xy`` (K, 2) to
    ``dst_xy`` (K, 2) (pixels), with a ring of fixed anchors 1.6x the face box
    around its centre and the image corners, so the background does not move.

    Delaunay triangulation of the destination points; each output pixel takes the
    source pixel its triangle's inverse affine map points at (``cv2.remap``,
    bilinear), computed only over the triangles that move.  Where ``dst == src``
    the image is returned unchanged (to float precision: the maps are the pixel
    grid itself)."""
    import cv2
    from scipy.spatial import Delaunay

    img = np.asarray(image)
    src = np.asarray(src_xy, np.float64).reshape(-1, 2)
    dst = np.asarray(dst_xy, np.float64).reshape(-1, 2)
    if src.shape != dst.shape:
        raise ValueError("src_xy and dst_xy must have the same shape (K, 2)")
    fixed = _anchor_points(face_box, img.shape, ring, ring_scale)
    S = np.vstack([src, fixed])
    D = np.vstack([dst, fixed])
    moves = np.abs(S - D).max(1) > 1e-9
    if not moves.any():
        return img.copy()
    tri = Delaunay(D)
    simp = tri.simplices
    active = moves[simp].any(1)
    # inverse affine per triangle: [x y 1] @ A = source (x, y)
    Dh = np.concatenate([D[simp], np.ones((len(simp), 3, 1))], 2)        # (T, 3, 3)
    det = np.linalg.det(Dh)
    ok = np.abs(det) > 1e-9
    A = np.zeros((len(simp), 3, 2))
    A[:, :2, :] = np.eye(2)
    A[ok] = np.linalg.solve(Dh[ok], S[simp[ok]])
    H, W = img.shape[:2]
    corners = D[simp[active]].reshape(-1, 2)
    x0, y0 = np.floor(corners.min(0)).astype(int)
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
    if x1 <= x0 or y1 <= y0:
        return img.copy()
    # rasterise the moving triangles' ids (0 = a fixed triangle: identity)
    ids = np.zeros((y1 - y0, x1 - x0), np.int32)
    act = np.flatnonzero(active)
    pts16 = np.round((D[simp[act]] - [x0, y0]) * 16).astype(np.int32)
    for k, t in enumerate(act):
        cv2.fillConvexPoly(ids, pts16[k], int(t) + 1, lineType=cv2.LINE_8, shift=4)
    ys, xs = np.mgrid[y0:y1, x0:x1]
    mx, my = xs.astype(np.float64), ys.astype(np.float64)
    inside = ids > 0
    a = A[ids[inside] - 1]
    px, py = mx[inside], my[inside]
    mx[inside] = px * a[:, 0, 0] + py * a[:, 1, 0] + a[:, 2, 0]
    my[inside] = px * a[:, 0, 1] + py * a[:, 1, 1] + a[:, 2, 1]
    out = img.copy()
    out[y0:y1, x0:x1] = cv2.remap(img, mx.astype(np.float32), my.astype(np.float32),
                                  cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    return out


def _mesh_box(mesh: np.ndarray) -> tuple[float, float, float, float]:
    p = np.asarray(mesh)[:, :2]
    (x0, y0), (x1, y1) = p.min(0), p.max(0)
    return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


def _gap(xy: np.ndarray) -> float:
    pairs = [(13, 14), (82, 87), (312, 317), (81, 178), (311, 402)]
    return float(np.mean([np.linalg.norm(xy[a] - xy[b]) for a, b in pairs]))


MOUTH_COLOR = (30, 26, 52)    # BGR: a dark mouth interior


def _fill_mouth(image: np.ndarray, src_xy: np.ndarray, dst_xy: np.ndarray) -> np.ndarray:
    """Where a movement parts the lips, the stretched lip texture between the inner
    lip contours is darkened towards a mouth interior, by the fraction of the gap
    that is new (an already open mouth keeps most of its teeth)."""
    import cv2
    g0, g1 = _gap(src_xy), _gap(dst_xy)
    if g1 - g0 < 0.5:
        return image
    alpha = (g1 - g0) / g1
    poly = np.concatenate([dst_xy[LIPS_UPPER_INNER], dst_xy[LIPS_LOWER_INNER[::-1]]])
    mask = np.zeros(image.shape[:2], np.float32)
    cv2.fillPoly(mask, [np.round(poly * 16).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=4)
    mask = cv2.GaussianBlur(mask, (0, 0), max(0.6, 0.15 * (g1 - g0)))[..., None] * alpha
    color = np.array(MOUTH_COLOR if image.ndim == 3 else [MOUTH_COLOR[1]], np.float32)
    out = image.astype(np.float32) * (1 - mask) + color * mask
    return np.clip(out + 0.5, 0, 255).astype(image.dtype).reshape(image.shape)


def apply_movement(image: np.ndarray, mesh: np.ndarray, dst_xy: np.ndarray) -> np.ndarray:
    """``image`` with the face's mesh vertices moved to ``dst_xy`` (``mesh_warp``),
    the mouth darkened where the lips part."""
    src = np.asarray(mesh, np.float64)[:, :2]
    out = mesh_warp(image, src, dst_xy, _mesh_box(mesh))
    return _fill_mouth(out, src, np.asarray(dst_xy, np.float64))


def synthesize_au(image: np.ndarray, mesh: np.ndarray, au: str, amount: float = 1.0) -> np.ndarray:
    """``image`` with a synthetic movement of action unit ``au`` of the face ``mesh``."""
    return apply_movement(image, mesh, au_movement(mesh, au, amount))


# ---------------------------------------------------------------------------
# Head turns from the 3-D mesh
# ---------------------------------------------------------------------------
def _mesh_triangles(mesh: np.ndarray) -> np.ndarray:
    from scipy.spatial import Delaunay
    return Delaunay(np.asarray(mesh, np.float64)[:, :2]).simplices


# the face's silhouette at ear level: the head's vertical axis (the neck's) passes
# about this far behind the face, so the turn is about an axis at their depth
EAR_LEVEL = [234, 454, 93, 323, 127, 356]


def turn_mesh(mesh: np.ndarray, yaw: float, pitch: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(destination (468, 2), visible (468,) bool) of the mesh turned by ``yaw``
    degrees about the face's vertical axis through its centre (the mean x of the
    mesh, at the depth of its ear-level silhouette, ``EAR_LEVEL``: about where the
    neck's axis is), then nodded by ``pitch`` degrees about the horizontal axis
    through the ear-level silhouette (its mean height and depth: about where the
    skull pivots on the spine), projected orthographically.  yaw > 0 turns the
    nose towards the image's right; pitch > 0 lifts the chin (the nose moves up).
    A vertex is not visible when most of its triangles (Delaunay of the frontal
    mesh) face away after the turn (their projected orientation flips)."""
    m = np.asarray(mesh, np.float64)
    o, ex, up, _ = face_frame(m)
    down = -up
    q = m[:, :2] - o
    fx, fy = q @ ex, q @ down                   # de-rolled image axes (x right, y down)
    z = m[:, 2]
    cx, cy, cz = fx.mean(), fy[EAR_LEVEL].mean(), z[EAR_LEVEL].mean()
    t = math.radians(yaw)
    nx = cx + math.cos(t) * (fx - cx) - math.sin(t) * (z - cz)
    nz = cz + math.sin(t) * (fx - cx) + math.cos(t) * (z - cz)
    p = math.radians(pitch)
    ny = cy + math.cos(p) * (fy - cy) + math.sin(p) * (nz - cz)
    dst = o + nx[:, None] * ex + ny[:, None] * down
    tri = _mesh_triangles(m)

    def area(xy):
        a, b, c = xy[tri[:, 0]], xy[tri[:, 1]], xy[tri[:, 2]]
        return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])

    before, after = area(m[:, :2]), area(dst)
    flipped = (np.sign(before) != np.sign(after)) | (np.abs(after) < 1e-6 * np.abs(before).max())
    n_tri = np.bincount(tri.ravel(), minlength=len(m))
    n_flip = np.bincount(tri[flipped].ravel(), minlength=len(m))
    visible = n_flip * 2 < np.maximum(n_tri, 1)
    return dst, visible


def turn_head(image: np.ndarray, mesh: np.ndarray, yaw: float, pitch: float = 0.0) -> np.ndarray:
    """``image`` with the face turned by ``yaw`` and nodded by ``pitch`` degrees
    (``turn_mesh`` + ``mesh_warp``)."""
    dst, vis = turn_mesh(mesh, yaw, pitch)
    src = np.asarray(mesh, np.float64)[:, :2]
    return mesh_warp(image, src[vis], dst[vis], _mesh_box(mesh))


# ---------------------------------------------------------------------------
# Real faces
# ---------------------------------------------------------------------------
def _square_crop(img: np.ndarray, box, margin: float) -> np.ndarray:
    x, y, w, h = [float(v) for v in box]
    side = margin * max(w, h)
    cx, cy = x + w / 2, y + h / 2
    H, W = img.shape[:2]
    x0, y0 = max(int(round(cx - side / 2)), 0), max(int(round(cy - side / 2)), 0)
    x1, y1 = min(int(round(cx + side / 2)), W), min(int(round(cy + side / 2)), H)
    return np.ascontiguousarray(img[y0:y1, x0:x1])


def real_faces(extra=None, margin: float = 2.2) -> dict[str, np.ndarray]:
    """The real, full-resolution faces available offline, one face per BGR image
    (a square ``margin`` x the detected box around it, clipped to the photo):
    samples/astronaut.jpg, samples/hopper.jpg, the four faces of samples/group.jpg,
    ``skimage.data.astronaut()`` and matplotlib's ``grace_hopper.jpg``.  ``extra``:
    more images (a dict name -> BGR image, or a list) added as they are."""
    import cv2

    from fer_au.mesh import BlazeFace
    from fer_au.samples import source_photo

    det = BlazeFace()
    out: dict[str, np.ndarray] = {}

    def add(name, img, every=False):
        boxes = [b for b, _ in det.detect(img)]
        if not boxes:
            raise RuntimeError(f"no face found in {name}")
        if not every:
            boxes = [max(boxes, key=lambda b: b[2] * b[3])]
        for i, b in enumerate(boxes):
            out[f"{name}-{i}" if every else name] = _square_crop(img, b, margin)

    samples = REPO / "samples"
    for name in ("astronaut", "hopper"):
        img = cv2.imread(str(samples / f"{name}.jpg"), cv2.IMREAD_COLOR)
        if img is not None:
            add(f"samples/{name}", img)
    img = cv2.imread(str(samples / "group.jpg"), cv2.IMREAD_COLOR)
    if img is not None:
        add("samples/group", img, every=True)
    add("skimage-astronaut", source_photo("astronaut"))
    add("mpl-grace_hopper", source_photo("hopper"))
    out.update(_named(extra or {}, prefix="extra"))
    return out


def fer_neutral_faces(n: int = 24, data=None, seed: int = 0) -> dict[str, np.ndarray]:
    """``n`` of FER2013 PublicTest's neutral faces (many people, at rest), each 48-px crop
    upsampled 4x onto a 512-px canvas (``analysis.aus._canvas``), as BGR images; {} without the
    data.  The portraits of ``real_faces`` are two people, mostly smiling: an AU they hold
    below its neutral median (AU15 on a smile) cannot show a rise in the 0-5 intensities,
    which start at 0.  Faces at rest start near 0 and come from many people."""
    import cv2

    from fer_au.analysis.aus import _canvas
    from fer_au.data import find_data, load_fer2013
    from fer_au.labels import FER7
    path = find_data(data)
    if path is None:
        return {}
    ds = load_fer2013(path)
    idx = np.flatnonzero((ds.usage == "PublicTest") & (ds.labels == FER7.index("neutral")))
    idx = np.sort(np.random.default_rng(seed).choice(idx, min(n, len(idx)), replace=False))
    return {f"fer-publictest-{i}": cv2.cvtColor(_canvas(ds.images[i])[0], cv2.COLOR_GRAY2BGR) for i in idx}


def _named(images, prefix: str = "face") -> dict[str, np.ndarray]:
    if isinstance(images, dict):
        return dict(images)
    return {f"{prefix}{i}": im for i, im in enumerate(images)}


# ---------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------
def _largest(faces):
    return max(faces, key=lambda f: f.box[2] * f.box[3]) if faces else None


def _same_face(faces, box):
    """The face of ``faces`` that overlaps ``box`` most (None below IoU 0.3)."""
    if not faces:
        return None
    best = max(faces, key=lambda f: iou(f.box, box))
    return best if iou(best.box, box) >= 0.3 else None


def _au_vector(face) -> np.ndarray:
    if face is None or face.aus is None:
        return np.full(len(AU_CODES), np.nan)
    return np.array([face.aus[c] for c in AU_CODES], np.float64)


def _base(analyzer, images):
    """[(name, image, face)] of each image's largest face (images without a face skipped)."""
    out = []
    for name, img in _named(images).items():
        f = _largest(analyzer.analyze(img))
        if f is None:
            print(f"  (no face found in {name}: skipped)", file=sys.stderr)
            continue
        if f.aus is None:
            raise ValueError("the analyzer gives no AUs (aus=False?)")
        out.append((name, img, f))
    return out


def _face_z(analyzer, face) -> np.ndarray:
    """Unclipped AU z-scores of an analysed face, whatever the analyzer's AU estimator."""
    est = getattr(analyzer, "au_estimator", None)
    if face is None or est is None:
        return np.full(len(AU_CODES), np.nan)
    x = analyzer._au_input(face.landmarks[None], None if face.mesh is None else face.mesh[None])
    return np.asarray(est.signed_z(x)[0], np.float64)


def _signed_z(analyzer, mesh) -> np.ndarray:
    """Unclipped AU z-scores of a mesh (NaN where the analyzer's AUs are not mesh AUs)."""
    from fer_au.mesh_aus import MeshAUEstimator
    est = getattr(analyzer, "au_estimator", None)
    if mesh is None or not isinstance(est, MeshAUEstimator):
        return np.full(len(AU_CODES), np.nan)
    return np.asarray(est.signed_z(np.asarray(mesh, np.float64)), np.float64)


def tracking_gain(mesh0: np.ndarray, dst: np.ndarray, mesh1: np.ndarray) -> float:
    """How much of a synthetic movement the re-fitted mesh reproduces: the refit
    displacement of the moved vertices projected on the intended one (1 = all of
    it, 0 = none), after removing the refit's median drift of the vertices the
    warp did not move."""
    p0 = np.asarray(mesh0, np.float64)[:, :2]
    want = np.asarray(dst, np.float64) - p0
    got = np.asarray(mesh1, np.float64)[:, :2] - p0
    size = np.abs(want).max()
    if size <= 0:
        return float("nan")
    moving = np.abs(want).max(1) > 0.2 * size
    still = np.abs(want).max(1) < 1e-3 * size
    if still.any():
        got = got - np.median(got[still], axis=0)
    w, g = want[moving], got[moving]
    return float((w * g).sum() / (w * w).sum())


class SelectivityResult(NamedTuple):
    median: "pd.DataFrame"     # moved AU (rows) x measured AU (columns): median intensity change over faces
    summary: "pd.DataFrame"    # per moved AU: own rise, worst other-region AU, pass, diagnostics
    changes: "pd.DataFrame"    # long: face, moved, measured, before, after, change, z_change, exact_z_change
    z_median: "pd.DataFrame"   # as median, unclipped z-scores (no floor at 0, no ceiling at 5)
    exact_median: "pd.DataFrame"  # as z_median, for the mesh moved exactly as intended (no re-fit)
    gain: "pd.DataFrame"       # long: face, moved, tracking gain of the re-fitted mesh
    seconds: float


def selectivity(analyzer, images, aus=None, amount: float = 1.0, keep_faces: list | None = None
                ) -> SelectivityResult:
    """For each real face (each image's largest face) and each AU of ``aus`` (default
    all 17): warp the image with ``au_movement(amount)``, run the whole analyzer
    again on the warped image (detection included) and record the change of every
    AU's intensity against the unwarped image.

    A moved AU passes when its own intensity rises by >= ``SELF_RISE`` (median over
    faces) and every AU that shares no region with it (``REGIONS``) changes by less
    than ``OTHER_REGION_MAX`` (|median|).

    Diagnostics beside the criterion (mesh AUs only): ``z_change``, the same change
    in unclipped z-scores (an AU below its neutral median cannot show a rise that
    stays below 0 in the clipped 0-5 intensities); ``exact_z_change``, the change the
    measures give when the mesh is moved exactly as intended (what the measure
    itself does, without the mesh model); ``gain``, how much of the movement the
    re-fitted mesh follows (``tracking_gain``).  ``keep_faces``: a list that
    receives (name, moved AU, warped image, analysed Face) of every warped face
    (``scale_consistency`` reuses them)."""
    import pandas as pd

    t0 = time.time()
    codes = list(aus or AU_CODES)
    rows, gains = [], []
    for name, img, face in _base(analyzer, images):
        before = _au_vector(face)
        z0 = _face_z(analyzer, face)
        for au in codes:
            dst = au_movement(face.mesh, au, amount)
            warped = apply_movement(img, face.mesh, dst)
            f2 = _same_face(analyzer.analyze(warped), face.box)
            after = _au_vector(f2)
            z1 = _face_z(analyzer, f2)
            exact = np.array(face.mesh, np.float64)
            exact[:, :2] = dst
            zx = _signed_z(analyzer, exact)
            if keep_faces is not None and f2 is not None:
                keep_faces.append((name, au, warped, f2))
            gains.append(dict(face=name, moved=au, gain=np.nan if f2 is None or f2.mesh is None
                              else tracking_gain(face.mesh, dst, f2.mesh)))
            for c, b, a, zb, za, ze in zip(AU_CODES, before, after, z0, z1, zx):
                rows.append(dict(face=name, moved=au, measured=c, before=b, after=a, change=a - b,
                                 z_change=za - zb, exact_z_change=ze - zb))
    changes = pd.DataFrame(rows)
    gains = pd.DataFrame(gains)

    def table(col):
        return (changes.pivot_table(index="moved", columns="measured", values=col, aggfunc="median",
                                    dropna=False)
                .reindex(index=codes, columns=AU_CODES))
    median, z_median, exact_median = table("change"), table("z_change"), table("exact_z_change")
    summ = []
    for au in codes:
        r = median.loc[au]
        others = [c for c in AU_CODES if not share_region(au, c)]
        worst = max(others, key=lambda c: abs(r[c]) if np.isfinite(r[c]) else -1)
        n_faces = changes[(changes.moved == au) & (changes.measured == au)]["after"].notna().sum()
        own_ok = bool(r[au] >= SELF_RISE)
        other_ok = bool(abs(r[worst]) < OTHER_REGION_MAX)
        zx = exact_median.loc[au]
        worst_x = max(others, key=lambda c: abs(zx[c]) if np.isfinite(zx[c]) else -1)
        summ.append(dict(moved=au, own_change=r[au], worst_other=worst, worst_other_change=r[worst],
                         n_faces=int(n_faces), own_ok=own_ok, others_ok=other_ok,
                         passed=own_ok and other_ok, own_z=z_median.loc[au, au],
                         own_exact_z=zx[au], worst_other_exact=worst_x,
                         worst_other_exact_z=zx[worst_x],
                         gain=float(gains.loc[gains.moved == au, "gain"].median()),
                         # how many times this movement it takes to read one neutral spread
                         # (linear in the movement's size): the AU's smallest clear movement
                         amount_for_1z=float(1.0 / z_median.loc[au, au]) if z_median.loc[au, au] > 0
                         else float("inf")))
    return SelectivityResult(median, pd.DataFrame(summ).set_index("moved"), changes, z_median,
                             exact_median, gains, time.time() - t0)


class ScaleResult(NamedTuple):
    per_au: "pd.DataFrame"     # per AU: median |full - crop|, mean of each, pass
    diffs: "pd.DataFrame"      # long: face, AU, full, crop, diff
    seconds: float


def scale_consistency(analyzer, images, warps: bool = True, aus=None,
                      warped_faces: list | None = None) -> ScaleResult:
    """Each real face analysed at full resolution vs its 48x48 aligned crop
    (``face.crop``, analysed with ``crop=True``): median |difference| per AU over
    faces (criterion < ``SCALE_MAX``).  ``warps``: also each face's selectivity
    warps (one per AU of ``aus``), for more faces and a range of expressions;
    ``warped_faces`` (from ``selectivity(keep_faces=...)``) avoids redoing them."""
    import pandas as pd

    t0 = time.time()
    cases = [(name, "none", f) for name, _, f in _base(analyzer, images)]
    if warps:
        if warped_faces is None:
            warped_faces = []
            for name, img, face in _base(analyzer, images):
                for au in list(aus or AU_CODES):
                    f2 = _same_face(analyzer.analyze(synthesize_au(img, face.mesh, au)), face.box)
                    if f2 is not None:
                        warped_faces.append((name, au, None, f2))
        cases += [(name, au, f) for name, au, _, f in warped_faces]
    rows = []
    for name, au, f in cases:
        small = analyzer.analyze(f.crop, crop=True)
        full, crop = _au_vector(f), _au_vector(small[0] if small else None)
        for c, a, b in zip(AU_CODES, full, crop):
            rows.append(dict(face=name, moved=au, AU=c, full=a, crop=b, diff=b - a))
    diffs = pd.DataFrame(rows)
    diffs["abs_diff"] = diffs["diff"].abs()
    g = diffs.groupby("AU")
    per_au = pd.DataFrame({"median_abs_diff": g["abs_diff"].median(), "mean_diff": g["diff"].mean(),
                           "mean_full": g["full"].mean(), "mean_crop": g["crop"].mean(),
                           "n": g["crop"].count()}).reindex(AU_CODES)
    per_au["passed"] = per_au["median_abs_diff"] < SCALE_MAX
    return ScaleResult(per_au, diffs, time.time() - t0)


class PoseResult(NamedTuple):
    median: "pd.DataFrame"     # AU (rows) x yaw (columns): median |change| over faces
    summary: "pd.DataFrame"    # per AU: worst yaw, its median |change|, pass
    changes: "pd.DataFrame"    # long: face, yaw, AU, frontal, turned, change, z_change
    z_median: "pd.DataFrame"   # as median, |change| of the unclipped z-scores
    seconds: float


def pose_invariance(analyzer, images, yaws=(-30, -15, 15, 30), axis: str = "yaw") -> PoseResult:
    """Synthetic head turns: the face's 3-D mesh (z = depth, pixel units) is
    rotated about the face's vertical axis through its centre by each yaw,
    projected orthographically, and the image warped accordingly (``mesh_warp``;
    vertices whose surface faces away are dropped, so that side's texture
    compresses, as in a real turn).  Reported: the change of each AU against the
    frontal image, median |change| per AU and yaw over faces (criterion
    < ``POSE_MAX``).  With ``axis="pitch"`` the angles are nods instead (about
    the ear-level horizontal axis, > 0 chin up: ``turn_mesh``); the result's
    "yaw" columns then hold the pitch.

    What this turn cannot reproduce: the far side is compressed, not occluded
    (at 30 deg the nose hides part of the far cheek and the far eye's inner
    corner in a real photo); the silhouette does not change (the far jaw line and
    cheek stay against the same background, the ear and the side of the head do
    not rotate: the ring of fixed anchors keeps the head outline where it was);
    the near side reveals no new surface (no ear, no side of the face: its
    texture is stretched); shading and lighting do not follow the turn; the
    projection is orthographic (no perspective change), and the head rotates
    about the face's centre, not the neck.
    """
    import pandas as pd

    t0 = time.time()
    rows = []
    for name, img, face in _base(analyzer, images):
        before = _au_vector(face)
        z0 = _face_z(analyzer, face)
        for yaw in yaws:
            turn = (0.0, yaw) if axis == "pitch" else (yaw, 0.0)
            f2 = _same_face(analyzer.analyze(turn_head(img, face.mesh, *turn)), face.box)
            after = _au_vector(f2)
            z1 = _face_z(analyzer, f2)
            for c, b, a, zb, za in zip(AU_CODES, before, after, z0, z1):
                rows.append(dict(face=name, yaw=yaw, AU=c, frontal=b, turned=a, change=a - b,
                                 z_change=za - zb))
    changes = pd.DataFrame(rows)
    changes["abs_change"] = changes["change"].abs()
    changes["abs_z_change"] = changes["z_change"].abs()

    def table(col):
        return (changes.pivot_table(index="AU", columns="yaw", values=col, aggfunc="median", dropna=False)
                .reindex(index=AU_CODES, columns=list(yaws)))
    median, z_median = table("abs_change"), table("abs_z_change")
    worst = median.idxmax(axis=1)
    summary = pd.DataFrame({"worst_yaw": worst, "median_abs_change": median.max(axis=1),
                            "mean_signed_change": changes.groupby("AU")["change"].mean().reindex(AU_CODES)})
    summary["passed"] = summary["median_abs_change"] < POSE_MAX
    return PoseResult(median, summary, changes, z_median, time.time() - t0)


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
def report(analyzer=None, images=None, yaws=(-30, -15, 15, 30), out: dict | None = None,
           neutral: int = 24, pitches=(-20, -10, 10, 20)) -> dict:
    """Run the three checks on ``images`` (default ``real_faces()``), print their
    tables and return every figure as a JSON-able dict.  Selectivity runs a second
    time on ``neutral`` FER2013 faces at rest (``fer_neutral_faces``; 0 skips it)."""
    import pandas as pd
    pd.set_option("display.width", 220)
    pd.set_option("display.max_columns", 30)
    if analyzer is None:
        from fer_au import FaceAnalyzer
        analyzer = FaceAnalyzer(emotion_model=None, au_model=None)
    images = real_faces() if images is None else _named(images)
    out = {} if out is None else out
    print(f"{len(images)} real faces: {', '.join(images)}")

    kept: list = []
    sel = selectivity(analyzer, images, keep_faces=kept)
    print(f"\n-- selectivity: median change of each AU (columns) when one AU (rows) is synthesised, "
          f"over {len(images)} faces ({sel.seconds:.0f} s)")
    print(sel.median.round(2).to_string())
    print(f"\npass: own AU rises >= {SELF_RISE} and every AU of another region changes < {OTHER_REGION_MAX}")
    print(sel.summary.round(2).to_string())
    print(f"{int(sel.summary.passed.sum())}/{len(sel.summary)} AUs pass")
    print("\ndiagnostics: the same changes as unclipped z-scores (re-fitted mesh):")
    print(sel.z_median.round(2).to_string())
    if np.isfinite(sel.exact_median.to_numpy(dtype=float)).any():   # mesh AUs only
        print("\n... and for the mesh moved exactly as intended (the measures alone, no mesh model):")
        print(sel.exact_median.round(2).to_string())

    rest = fer_neutral_faces(neutral) if neutral else {}
    sel_rest = None
    if rest:
        sel_rest = selectivity(analyzer, rest)
        print(f"\n-- selectivity on {sel_rest.summary.n_faces.max()} FER2013 PublicTest faces at rest "
              f"(many people; 48 px upsampled 4x; {sel_rest.seconds:.0f} s)")
        print(sel_rest.median.round(2).to_string())
        print(sel_rest.summary.round(2).to_string())
        print(f"{int(sel_rest.summary.passed.sum())}/{len(sel_rest.summary)} AUs pass")
        print("\ndiagnostics: the same changes as unclipped z-scores:")
        print(sel_rest.z_median.round(2).to_string())

    sc = scale_consistency(analyzer, images, warped_faces=kept)
    print(f"\n-- scale consistency: full resolution vs the 48x48 crop, {int(sc.per_au.n.max())} faces "
          f"(the real faces and their selectivity warps; {sc.seconds:.0f} s)")
    print(sc.per_au.round(2).to_string())
    print(f"{int(sc.per_au.passed.sum())}/{len(sc.per_au)} AUs below {SCALE_MAX}")

    pose = pose_invariance(analyzer, images, yaws)
    print(f"\n-- pose: median |change| of each AU under a synthetic head turn ({pose.seconds:.0f} s)")
    print(pose.median.round(2).to_string())
    print(pose.summary.round(2).to_string())
    print("\ndiagnostics: median |change| of the unclipped z-scores:")
    print(pose.z_median.round(2).to_string())
    print(f"{int(pose.summary.passed.sum())}/{len(pose.summary)} AUs below {POSE_MAX} at every yaw")

    nod = pose_invariance(analyzer, images, pitches, axis="pitch")
    print(f"\n-- nod (not one of issue 11's checks; the same yardstick): median |change| of each AU under a "
          f"synthetic nod, degrees, + = chin up ({nod.seconds:.0f} s)")
    print(nod.median.rename_axis(columns="pitch").round(2).to_string())
    print(nod.summary.rename(columns={"worst_yaw": "worst_pitch"}).round(2).to_string())
    print(f"{int(nod.summary.passed.sum())}/{len(nod.summary)} AUs below {POSE_MAX} at every pitch")

    out.update({
        "faces": list(images),
        "selectivity": {"median": sel.median.round(4).to_dict(orient="index"),
                        "summary": sel.summary.round(4).to_dict(orient="index"),
                        "z_median": sel.z_median.round(4).to_dict(orient="index"),
                        "exact_median": sel.exact_median.round(4).to_dict(orient="index"),
                        "passed": int(sel.summary.passed.sum()), "seconds": round(sel.seconds, 1)},
        "selectivity_at_rest": None if sel_rest is None else {
            "faces": list(rest), "median": sel_rest.median.round(4).to_dict(orient="index"),
            "summary": sel_rest.summary.round(4).to_dict(orient="index"),
            "z_median": sel_rest.z_median.round(4).to_dict(orient="index"),
            "passed": int(sel_rest.summary.passed.sum()), "seconds": round(sel_rest.seconds, 1)},
        "scale": {"per_au": sc.per_au.round(4).to_dict(orient="index"),
                  "passed": int(sc.per_au.passed.sum()), "seconds": round(sc.seconds, 1)},
        "pose": {"median": {str(k): v for k, v in pose.median.round(4).to_dict().items()},
                 "summary": pose.summary.round(4).to_dict(orient="index"),
                 "passed": int(pose.summary.passed.sum()), "seconds": round(pose.seconds, 1)},
        "nod": {"median": {str(k): v for k, v in nod.median.round(4).to_dict().items()},
                "summary": nod.summary.round(4).to_dict(orient="index"),
                "passed": int(nod.summary.passed.sum()), "seconds": round(nod.seconds, 1)},
    })
    return out


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import argparse
    import json
    ap = argparse.ArgumentParser(description="AU validity checks on the real faces available offline")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    res = report()
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, default=float) + "\n")
