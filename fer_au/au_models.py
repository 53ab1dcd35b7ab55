"""XGBoost emotion models on the FACS path: (a) ``au`` on action units alone,
(b) ``au_geom`` on AUs + landmark geometry, and ``au_app``: AUs + geometry +
appearance (HOG of the aligned face, reduced to 60 principal components).

>>> model = load_au("models")                       # or fer_au.zoo.load_model("au")
>>> model.predict_proba(faces48)                    # (N,48,48) uint8 -> (N,7) fer7
>>> model.predict_proba_landmarks(lm)               # landmarks you already have
>>> app.predict_proba_landmarks(lm, image=frame)    # au_app also needs the pixels

Both take landmarks from ``faces.LandmarkPredictor`` and AU intensities from
``aus.AUEstimator`` (neutral baseline ``models/au_baseline.json``); the XGBoost
boosters are saved in XGBoost's own binary JSON format (UBJSON, ``.ubj``).  ``explain`` gives per-class
SHAP contributions (XGBoost ``pred_contribs``) for the interpretability tables.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .aus import AU_CODES, AUEstimator
from .labels import FER7

POSE_COLS = ["Pitch", "Roll", "Yaw"]
HOG_SIZE = 64                       # aligned face side for HOG, px
HOG_CELL = 8
HOG_BLOCK = 2


# ---------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------
def au_features(est: AUEstimator, landmarks: np.ndarray) -> np.ndarray:
    """Model (a)'s input: each AU's signed score (the 0-5 intensity before clipping
    at 0 and 5; negative = the opposite movement), (N, n_AUs)."""
    return np.clip(est.signed_z(landmarks), -5.0, 10.0).astype(np.float32)


def au_feature_names() -> list[str]:
    return list(AU_CODES)


def geometry_features(landmarks: np.ndarray, image_shapes=None) -> np.ndarray:
    """Shape of the face without pose: canonical-frame landmarks minus the
    canonical face (136 values), plus head pose (pitch, roll, yaw; degrees)."""
    from .faces import head_pose
    from .geometry import CANONICAL_68, to_canonical
    lm = np.asarray(landmarks, np.float64)
    can = to_canonical(lm) - CANONICAL_68
    if image_shapes is None:
        # pose of the canonical-frame points, as if seen in a 48-px crop: independent of image size
        shapes = [(48, 48)] * len(lm)
        pose_lm = to_canonical(lm)
    else:
        shapes, pose_lm = image_shapes, lm
    pose = np.array([head_pose(p, s) for p, s in zip(pose_lm, shapes)], np.float64).reshape(-1, 3)
    return np.hstack([can.reshape(len(lm), 136), np.nan_to_num(pose)]).astype(np.float32)


def geometry_feature_names() -> list[str]:
    return [f"{a}_{i}" for i in range(68) for a in ("dx", "dy")] + POSE_COLS


HOG_COMPONENTS = 60


def hog_features(aligned: np.ndarray) -> np.ndarray:
    """HOG (9 orientations, 8-px cells, 2x2 blocks) of each face aligned to
    ``HOG_SIZE`` px (``faces.align_face``), histogram-equalised first."""
    import cv2
    from skimage.feature import hog
    out = []
    for img in np.asarray(aligned):
        img = cv2.equalizeHist(np.ascontiguousarray(img, dtype=np.uint8))
        out.append(hog(img, orientations=9, pixels_per_cell=(HOG_CELL, HOG_CELL),
                       cells_per_block=(HOG_BLOCK, HOG_BLOCK), block_norm="L2-Hys", feature_vector=True))
    n = ((HOG_SIZE // HOG_CELL) - HOG_BLOCK + 1) ** 2 * HOG_BLOCK ** 2 * 9
    return np.asarray(out, np.float32).reshape(len(out), n)


def appearance_feature_names() -> list[str]:
    return [f"hog_pc{i}" for i in range(HOG_COMPONENTS)]


class HogPCA:
    """Principal components of the HOG vectors (fitted on Training), as plain arrays."""

    def __init__(self, mean: np.ndarray, components: np.ndarray):
        self.mean, self.components = np.asarray(mean, np.float32), np.asarray(components, np.float32)

    @classmethod
    def fit(cls, hog: np.ndarray, n: int = HOG_COMPONENTS, seed: int = 0) -> "HogPCA":
        from sklearn.decomposition import PCA
        p = PCA(n, random_state=seed, svd_solver="randomized").fit(hog)
        return cls(p.mean_, p.components_)

    def transform(self, hog: np.ndarray) -> np.ndarray:
        return ((np.asarray(hog, np.float32) - self.mean) @ self.components.T).astype(np.float32)

    def save(self, path) -> None:
        with open(path, "wb") as fh:
            np.savez(fh, mean=self.mean, components=self.components)

    @classmethod
    def load(cls, path) -> "HogPCA":
        with np.load(path) as z:
            return cls(z["mean"], z["components"])


def aligned_crops(images, landmarks, size: int = HOG_SIZE) -> np.ndarray:
    """``faces.align_face`` of each image (one image per face) at ``size`` px."""
    from .faces import align_face
    return np.stack([align_face(img, lm, size) for img, lm in zip(images, landmarks)]) \
        if len(landmarks) else np.zeros((0, size, size), np.uint8)


# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------
class AUEmotionModel:
    """An XGBoost booster over AU (and geometry, appearance) features.

    ``kind``: ``"au"`` (AUs alone), ``"au_geom"`` (AUs + landmark geometry) or
    ``"au_app"`` (AUs + geometry + ``hog_pca`` of the aligned face's HOG; needs
    the pixels at prediction time).
    """

    KINDS = ("au", "au_geom", "au_app")

    def __init__(self, booster, estimator: AUEstimator, kind: str = "au", hog_pca: HogPCA | None = None,
                 trees=None, booster_file=None):
        if kind not in self.KINDS:
            raise ValueError(f"unknown AU model kind {kind!r}; use one of {self.KINDS}")
        self._booster, self.estimator, self.kind, self.hog_pca = booster, estimator, kind, hog_pca
        # a shipped model predicts with its trees in numpy (``xgb_trees``: no XGBoost import,
        # no DMatrix per call) and loads XGBoost's booster only when asked (explain, save)
        self.trees, self._booster_file = trees, booster_file

    @property
    def booster(self):
        if self._booster is None:
            import xgboost as xgb
            self._booster = xgb.Booster()
            self._booster.load_model(str(self._booster_file))
            self._booster.set_param({"nthread": 1})
        return self._booster

    classes_ = np.arange(len(FER7))          # fer7 codes: the columns of predict_proba (FER7 names them)

    @property
    def input_kind(self) -> str:
        """What the analyzer feeds it (``zoo.INPUT_KINDS``): landmarks, and au_app also the pixels."""
        return "landmarks+image" if self.kind == "au_app" else "landmarks"

    @property
    def needs_appearance(self) -> bool:
        return self.kind == "au_app"

    @property
    def feature_names(self) -> list[str]:
        names = au_feature_names()
        if self.kind in ("au_geom", "au_app"):
            names += geometry_feature_names()
        if self.kind == "au_app":
            names += appearance_feature_names()
        return names

    # --- features -----------------------------------------------------------
    def features(self, landmarks, crops=None) -> np.ndarray:
        """The model's input matrix from landmarks (and aligned ``HOG_SIZE`` crops)."""
        lm = np.asarray(landmarks, np.float64).reshape(-1, 68, 2)
        parts = [au_features(self.estimator, lm)]
        if self.kind in ("au_geom", "au_app"):
            parts.append(geometry_features(lm))
        if self.kind == "au_app":
            if crops is None:
                raise ValueError("the au_app model also reads the face's pixels: pass image= "
                                 "(the frame the landmarks are in) or crops= (aligned faces)")
            parts.append(self.hog_pca.transform(hog_features(crops)))
        return np.hstack(parts)

    def _landmarks_of_crops(self, faces48):
        from .faces import crop_landmarks
        lm, det, res = crop_landmarks(faces48, cache=len(faces48) >= 500)
        return lm

    # --- prediction ---------------------------------------------------------
    def _proba(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.zeros((0, len(FER7)))
        if self.trees is not None:
            return self.trees.predict_proba(x)
        import xgboost as xgb
        p = self.booster.predict(xgb.DMatrix(x, feature_names=self.feature_names, nthread=1))
        return np.asarray(p, np.float64).reshape(len(x), len(FER7))

    def predict_proba(self, faces48) -> np.ndarray:
        """(N, 48, 48) uint8 FER2013-style crops -> (N, 7) fer7 probabilities.

        Finds each crop's landmarks itself (dlib), then AUs (and features)."""
        faces48 = np.asarray(faces48, np.uint8).reshape(-1, *np.shape(faces48)[-2:])
        lm = self._landmarks_of_crops(faces48)
        crops = aligned_crops(faces48, lm) if self.needs_appearance else None
        return self._proba(self.features(lm, crops))

    def predict_proba_landmarks(self, landmarks, image=None, crops=None) -> np.ndarray:
        """(N, 68, 2) landmarks -> (N, 7) fer7 probabilities.

        For the live analyzer that already has landmarks from the full-resolution
        face.  ``au`` and ``au_geom`` need nothing else (``image``/``crops`` are
        ignored); ``au_app`` also needs the pixels:
        ``image`` (the grey frame all N faces' landmarks are in) or ``crops``
        ((N, HOG_SIZE, HOG_SIZE) faces aligned with ``faces.align_face``)."""
        lm = np.asarray(landmarks, np.float64).reshape(-1, 68, 2)
        if self.needs_appearance and crops is None and image is not None:
            crops = aligned_crops([image] * len(lm), lm)
        return self._proba(self.features(lm, crops))

    def predict(self, faces48) -> np.ndarray:
        """fer7 codes (``classes_``)."""
        return self.classes_[self.predict_proba(faces48).argmax(1)]

    # --- explanation --------------------------------------------------------
    def explain(self, x: np.ndarray) -> np.ndarray:
        """SHAP contributions (N, 7, n_features + 1) from XGBoost's ``pred_contribs``
        (last column: the bias), in log-odds of each class's softmax score."""
        import xgboost as xgb
        c = self.booster.predict(xgb.DMatrix(x, feature_names=self.feature_names, nthread=1), pred_contribs=True)
        return np.asarray(c).reshape(len(x), len(FER7), -1)

    def save(self, models_dir, prefix: str | None = None) -> list[Path]:
        models_dir = Path(models_dir)
        models_dir.mkdir(parents=True, exist_ok=True)
        booster_file = models_dir / f"{prefix or self.kind}_xgb_fer7.ubj"
        self.booster.save_model(str(booster_file))
        base = models_dir / "au_baseline.json"
        self.estimator.save(base)
        return [booster_file, base]


def _load(models_dir, kind: str) -> AUEmotionModel:
    from .xgb_trees import TreeEnsemble
    from .zoo import verified_path
    booster_file = verified_path(f"{kind}_xgb_fer7.ubj", models_dir)
    est = AUEstimator.load(verified_path("au_baseline.json", models_dir))
    pca = HogPCA.load(verified_path("au_app_hog_pca.npz", models_dir)) if kind == "au_app" else None
    return AUEmotionModel(None, est, kind, hog_pca=pca, trees=TreeEnsemble.from_ubj(booster_file),
                          booster_file=booster_file)


def load_au(models_dir=None) -> AUEmotionModel:
    """The shipped model (a): XGBoost on AU intensities alone."""
    return _load(models_dir, "au")


def load_au_geom(models_dir=None) -> AUEmotionModel:
    """The shipped model (b): XGBoost on AUs + landmark geometry (canonical landmarks, head pose)."""
    return _load(models_dir, "au_geom")


def load_au_app(models_dir=None) -> AUEmotionModel:
    """AUs + landmark geometry + appearance (60 principal components of HOG of the
    aligned face); ``predict_proba_landmarks`` needs ``image=`` or ``crops=``."""
    return _load(models_dir, "au_app")


