"""Checking the AUs on FER2013 (``fer_au.aus`` holds the estimators): EMFACS concordance
(AUROC of each AU for each emotion against neutral), its floors, invariance to
rotation, scale, shift and mirroring, and mean AUs per emotion."""
from __future__ import annotations

import numpy as np

from ..aus import AUEstimator, AU_CODES, DEFAULT_PRESENCE


def mirror_consistency(est: AUEstimator, landmarks: np.ndarray, width: float) -> np.ndarray:
    """|AU(face) - AU(mirrored face)| per AU for landmarks mirrored exactly (a check
    that every measure is left-right symmetric)."""
    from ..geometry import mirror
    return np.abs(est.transform(landmarks) - est.transform(mirror(landmarks, width)))


# ---------------------------------------------------------------------------
# Validation (used by bench/aus.py and the AU_Analysis notebook)
# ---------------------------------------------------------------------------
def emfacs_auroc(intensities: np.ndarray, labels_fer7: np.ndarray):
    """AUROC of each AU's intensity separating each emotion from neutral.

    Returns a pandas table (emotions x AUs); 0.5 = no separation, 1 = perfect,
    < 0.5 = the AU is *lower* in that emotion than in neutral faces."""
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    from ..labels import FER7
    x = np.asarray(intensities, np.float64)
    y = np.asarray(labels_fer7)
    neutral = y == FER7.index("neutral")
    rows = {}
    for k, name in enumerate(FER7):
        if name == "neutral":
            continue
        sel = (y == k) | neutral
        t = (y[sel] == k).astype(int)
        rows[name] = [roc_auc_score(t, x[sel, j]) if 0 < t.sum() < len(t) else np.nan
                      for j in range(x.shape[1])]
    return pd.DataFrame.from_dict(rows, orient="index", columns=AU_CODES)


# The floors of issue 4 (emotion, the AUs any one of which must reach the floor, floor).
# Its AU01/AU02 floor for surprise (0.75) is retired (issue 11): on FACS-coded faces
# AU01 reaches 0.92, so the shortfall on FER2013 is a property of its labels; the
# selectivity, scale and pose checks of bench/aus.py replace it.
EMFACS_FLOORS = [("happiness", ["AU12"], 0.85), ("surprise", ["AU25", "AU26"], 0.85),
                 ("anger", ["AU04"], 0.65)]


def check_floors(table) -> list[dict]:
    """Each EMFACS floor with the best of its AUs' AUROC and whether it passes."""
    out = []
    for emo, aus, floor in EMFACS_FLOORS:
        vals = {a: float(table.loc[emo, a]) for a in aus}
        best = max(vals, key=vals.get)
        out.append({"emotion": emo, "AUs": "/".join(aus), "best": best, "auroc": vals[best],
                    "floor": floor, "pass": vals[best] >= floor})
    return out


def _canvas(face48: np.ndarray, upsample: int = 4, canvas: int = 512):
    """A FER crop upsampled and centred on a larger canvas (replicated border),
    with the crop's default face box in canvas pixels."""
    import cv2

    from ..faces import FER_DEFAULT_BOX
    big = cv2.resize(face48, None, fx=upsample, fy=upsample, interpolation=cv2.INTER_CUBIC)
    pad = (canvas - big.shape[0]) // 2
    img = cv2.copyMakeBorder(big, pad, canvas - big.shape[0] - pad, pad, canvas - big.shape[1] - pad,
                             cv2.BORDER_REPLICATE)
    l, t, r, b = [v * upsample + pad for v in FER_DEFAULT_BOX]
    return img, np.array([[l, t], [r, t], [r, b], [l, b]], np.float64)


def _landmarks_on(img, corners, detector, predictor):
    """Landmarks of the one face on ``img``: the detector's box nearest the known
    face, or the known box (the transformed crop box) where it finds none."""
    x0, y0 = corners.min(0)
    x1, y1 = corners.max(0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    best = None
    for (x, y, w, h), s in detector.detect(img):
        d = np.hypot(x + w / 2 - cx, y + h / 2 - cy)
        if d < 0.3 * (x1 - x0) and (best is None or d < best[0]):
            best = (d, (x, y, w, h))
    # an axis-aligned box of the same area as the (possibly rotated) crop box
    side = np.sqrt(abs(np.cross(corners[1] - corners[0], corners[3] - corners[0])))
    box = best[1] if best else (cx - side / 2, cy - side / 2, side, side)
    return predictor.predict(img, box, derotate=True), best is not None


def _analyzer_aus_on(img, corners, analyzer):
    """AUs of the one face on ``img`` through a whole ``FaceAnalyzer``: the detected
    face nearest the known one, or the known box where none is detected."""
    x0, y0 = corners.min(0)
    x1, y1 = corners.max(0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    faces = [f for f in analyzer.analyze(img)
             if np.hypot(f.box[0] + f.box[2] / 2 - cx, f.box[1] + f.box[3] / 2 - cy) < 0.3 * (x1 - x0)]
    found = bool(faces)
    if not found:
        side = np.sqrt(abs(np.cross(corners[1] - corners[0], corners[3] - corners[0])))
        faces = analyzer.analyze(img, boxes=[(cx - side / 2, cy - side / 2, side, side)])
    return np.array([faces[0].aus[c] for c in AU_CODES]), found


def invariance(est, faces48: np.ndarray, seed: int = 0, progress: bool = False, analyzer=None) -> dict:
    """How much AU intensities change when the image is rotated (+-15 deg), scaled
    (0.5x, 2x), shifted, all three at random, or mirrored.

    Each face is upsampled 4x onto a 512-px canvas; the same pipeline runs on the
    untouched and on the transformed canvas: with ``analyzer`` (a
    ``FaceAnalyzer``) its whole detection -> landmarks -> AUs path (``est`` is
    then unused), else dlib's HOG detection, 68 landmarks with de-rotation and
    ``est``.  Returns ``{"changes": {transform: (N, n_AUs) |delta|},
    "detected": fraction of runs where the detector found the face}``."""
    import cv2

    from ..faces import FaceDetector, LandmarkPredictor
    rng = np.random.default_rng(seed)
    if analyzer is None:
        det, pred = FaceDetector("hog", upsample=0, min_size=40), LandmarkPredictor()

        def aus_on(img, corners):
            lm, found = _landmarks_on(img, corners, det, pred)
            return est.transform(lm), found
    else:
        def aus_on(img, corners):
            return _analyzer_aus_on(img, corners, analyzer)
    names = ["rotate +15", "rotate -15", "scale 0.5", "scale 2", "shift", "random", "mirror"]
    changes = {n: [] for n in names}
    found = []
    it = range(len(faces48))
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc="invariance", unit="face")
    for i in it:
        img, corners = _canvas(np.asarray(faces48[i], np.uint8))
        size = img.shape[0]
        c = (size / 2, size / 2)
        a0, f0 = aus_on(img, corners)
        found.append(f0)
        for name in names:
            if name == "mirror":
                flipped = np.ascontiguousarray(img[:, ::-1])
                fc = corners.copy()
                fc[:, 0] = size - 1 - fc[:, 0]
                a1, f1 = aus_on(flipped, fc[[1, 0, 3, 2]])
                changes[name].append(np.abs(a1 - a0))
                found.append(f1)
                continue
            angle, scale, shift = 0.0, 1.0, np.zeros(2)
            if name.startswith("rotate"):
                angle = float(name.split()[1])
            elif name.startswith("scale"):
                scale = float(name.split()[1])
            elif name == "shift":
                shift = rng.uniform(-40, 40, 2)
            else:
                angle, scale, shift = rng.uniform(-15, 15), float(np.exp(rng.uniform(np.log(0.5), np.log(2)))), \
                    rng.uniform(-40, 40, 2)
            m = cv2.getRotationMatrix2D(c, angle, scale)
            m[:, 2] += shift
            warped = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE)
            a1, f1 = aus_on(warped, corners @ m[:, :2].T + m[:, 2])
            found.append(f1)
            changes[name].append(np.abs(a1 - a0))
    return {"changes": {k: np.array(v) for k, v in changes.items()}, "detected": float(np.mean(found))}


def invariance_table(result: dict, stat: str = "median"):
    """``stat`` (median, mean or p90) of each AU's |intensity change| per transform
    (pandas; rows transforms, columns AUs).  Every measure is left-right
    symmetric, so the mirror row covers all AUs, bilateral or not."""
    import pandas as pd
    fn = {"median": lambda v: np.median(v, axis=0), "mean": lambda v: v.mean(axis=0),
          "p90": lambda v: np.percentile(v, 90, axis=0)}[stat]
    rows = {k: fn(v) for k, v in result["changes"].items()}
    return pd.DataFrame.from_dict(rows, orient="index", columns=AU_CODES)


INVARIANCE_FLOOR = 0.5     # issue 4: median |change| < 0.5 on the 0-5 scale


def means_by_emotion(intensities: np.ndarray, labels_fer7: np.ndarray, presence: bool = False,
                     threshold: float = DEFAULT_PRESENCE):
    """Mean AU intensity (or, with ``presence``, the share of faces at or above
    ``threshold``) per emotion: a pandas table, emotions x AUs."""
    import pandas as pd

    from ..labels import FER7
    x = np.asarray(intensities, np.float64)
    if presence:
        x = (x >= threshold).astype(np.float64)
    y = np.asarray(labels_fer7)
    rows = {name: x[y == k].mean(0) if (y == k).any() else np.full(x.shape[1], np.nan)
            for k, name in enumerate(FER7)}
    return pd.DataFrame.from_dict(rows, orient="index", columns=AU_CODES)
