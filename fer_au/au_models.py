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

import json
from pathlib import Path

import numpy as np

from .aus import AU_CODES, AUEstimator, EMFACS
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

    def __init__(self, booster, estimator: AUEstimator, kind: str = "au", hog_pca: HogPCA | None = None):
        if kind not in self.KINDS:
            raise ValueError(f"unknown AU model kind {kind!r}; use one of {self.KINDS}")
        self.booster, self.estimator, self.kind, self.hog_pca = booster, estimator, kind, hog_pca

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
        import xgboost as xgb
        if len(x) == 0:
            return np.zeros((0, len(FER7)))
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
    import xgboost as xgb

    from .zoo import verified_path
    booster = xgb.Booster()
    booster.load_model(str(verified_path(f"{kind}_xgb_fer7.ubj", models_dir)))
    booster.set_param({"nthread": 1})
    est = AUEstimator.load(verified_path("au_baseline.json", models_dir))
    pca = HogPCA.load(verified_path("au_app_hog_pca.npz", models_dir)) if kind == "au_app" else None
    return AUEmotionModel(booster, est, kind, hog_pca=pca)


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


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------
XGB_PARAMS = {
    "objective": "multi:softprob", "num_class": 7, "eval_metric": "mlogloss",
    "tree_method": "hist", "nthread": 1, "seed": 0,
}


def train_booster(x_tr, y_tr, x_va, y_va, feature_names, params: dict, rounds: int = 2000,
                  early_stopping: int = 50, verbose: int = 0, class_weight: bool = False):
    """Fit one booster on Training, stopping early on the validation (PublicTest) loss."""
    import xgboost as xgb
    w = None
    if class_weight:
        counts = np.bincount(y_tr, minlength=7).astype(float)
        cw = np.sqrt(counts.sum() / (7 * np.maximum(counts, 1)))   # softened inverse frequency
        w = cw[y_tr]
    dtr = xgb.DMatrix(x_tr, label=y_tr, weight=w, feature_names=feature_names)
    dva = xgb.DMatrix(x_va, label=y_va, feature_names=feature_names)
    p = dict(XGB_PARAMS)
    p.update(params)
    booster = xgb.train(p, dtr, num_boost_round=rounds, evals=[(dva, "PublicTest")],
                        early_stopping_rounds=early_stopping, verbose_eval=verbose or False)
    best = booster.best_iteration + 1
    booster = booster[:best]          # ship only the trees that helped on PublicTest
    return booster


def fer_features(ds, kind: str, est: AUEstimator | None = None, progress: bool = False,
                 hog_pca: HogPCA | None = None):
    """Landmarks (cached), and the model input of ``kind`` for a FER2013 split."""
    from .faces import crop_landmarks
    lm, det, res = crop_landmarks(ds.images, progress=progress)
    model = AUEmotionModel(None, est, kind, hog_pca=hog_pca)
    crops = aligned_crops(ds.images, lm) if kind == "au_app" else None
    return model.features(lm, crops), lm


def fit_baseline(ds_train) -> AUEstimator:
    """The neutral baseline: AUEstimator fitted on Training's Neutral faces whose
    landmarks are usable."""
    from .faces import crop_landmarks, usable
    neutral = ds_train[ds_train.labels == FER7.index("neutral")]
    lm, det, res = crop_landmarks(neutral.images)
    ok = usable(det, res)
    return AUEstimator().fit(lm[ok])


# ---------------------------------------------------------------------------
# Interpretation
# ---------------------------------------------------------------------------
def au_importance(model: AUEmotionModel, x: np.ndarray, y=None, contribs=None):
    """Mean |SHAP| of each AU for each emotion's score (AUs x emotions, pandas).

    With ``y``, each emotion's column is averaged over the faces of that emotion;
    otherwise over all faces.  For ``au_geom`` only the AU features are shown.
    ``contribs`` = ``model.explain(x)`` if already computed."""
    import pandas as pd
    c = (model.explain(x) if contribs is None else contribs)[:, :, :len(AU_CODES)]   # (N, 7, n_AU)
    cols = {}
    for k, name in enumerate(FER7):
        rows = c[:, k, :] if y is None else c[np.asarray(y) == k, k, :]
        cols[name] = np.abs(rows).mean(0) if len(rows) else np.zeros(len(AU_CODES))
    return pd.DataFrame(cols, index=pd.Index(AU_CODES, name="AU"))


def au_effects(model: AUEmotionModel, x: np.ndarray, contribs=None):
    """How each AU moves each emotion's score (AUs x emotions, pandas): the
    correlation, over all faces, between the AU's score and its SHAP contribution
    to the emotion, times its mean |SHAP|.  Positive = more of the AU pushes the
    model towards the emotion; negative = more of it pushes away."""
    import pandas as pd
    c = (model.explain(x) if contribs is None else contribs)[:, :, :len(AU_CODES)]
    xa = np.asarray(x, np.float64)[:, :len(AU_CODES)]
    out = np.zeros((len(AU_CODES), len(FER7)))
    for j in range(len(AU_CODES)):
        xs = xa[:, j] - xa[:, j].mean()
        for k in range(len(FER7)):
            cs = c[:, k, j] - c[:, k, j].mean()
            den = np.sqrt((xs ** 2).sum() * (cs ** 2).sum())
            out[j, k] = (xs @ cs / den if den > 0 else 0.0) * np.abs(c[:, k, j]).mean()
    return pd.DataFrame(out, index=pd.Index(AU_CODES, name="AU"), columns=list(FER7))


def au_profile(model: AUEmotionModel, x: np.ndarray, y=None, top: int = 4, contribs=None,
               min_effect: float = 0.02):
    """Each emotion's learned AU profile beside its EMFACS prototype (pandas).

    The learned profile lists up to ``top`` AUs whose *presence* pushes the model
    towards the emotion most (largest positive ``au_effects``, at least
    ``min_effect``), with the effect in parentheses; ``overlap`` counts the
    prototype's AUs among them (of those fer_au estimates)."""
    import pandas as pd
    eff = au_effects(model, x, contribs)
    rows = []
    for name in FER7:
        e = eff[name]
        learned = [a for a in e.sort_values(ascending=False).index if e[a] >= min_effect][:top]
        proto = EMFACS.get(name, [])
        est = [a for a in proto if a in AU_CODES]
        rows.append({"emotion": name,
                     "learned (AU: effect)": ", ".join(f"{a[2:]}: {e[a]:+.2f}" for a in learned) or "-",
                     "EMFACS prototype": "+".join(a[2:] for a in proto) if proto else "-",
                     "overlap": f"{len(set(learned) & set(est))}/{len(est)}" if est else "-"})
    return pd.DataFrame(rows).set_index("emotion")


def save_metrics(models_dir, name: str, proba, labels) -> dict:
    """Read-modify-write ``models/metrics.json`` in ``bench/accuracy.py``'s format:
    ``{model: {scheme: {accuracy, macro_f1, recall}, n}}`` (other models' keys are kept)."""
    from .evaluate import metrics
    file = Path(models_dir) / "metrics.json"
    data = json.loads(file.read_text()) if file.exists() else {}
    entry = data.setdefault(name, {})
    for scheme in ("fer7", "fer6"):
        m = metrics(proba, labels, scheme)
        entry[scheme] = {"accuracy": round(m["accuracy"], 4), "macro_f1": round(m["macro_f1"], 4),
                         "recall": {k: round(v["recall"], 3) for k, v in m["per_class"].items()}}
    entry["n"] = int(len(labels))
    file.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return entry


# Small grids, tuned on PublicTest accuracy (each setting stops early on PublicTest loss).
GRIDS = {
    "au": [{"max_depth": d, "eta": 0.1, "subsample": 0.8, "colsample_bytree": 0.8,
            "min_child_weight": m, "lambda": 1.0} for d in (4, 6) for m in (1, 5)],
    "au_geom": [{"max_depth": d, "eta": 0.1, "subsample": 0.8, "colsample_bytree": 0.5,
                 "min_child_weight": 2, "lambda": 2.0} for d in (4, 6)],
    "au_app": [{"max_depth": 6, "eta": 0.1, "subsample": 0.8, "colsample_bytree": 0.5,
                "min_child_weight": 2, "lambda": 2.0}],
}


def train_models(ds, models_dir, kinds=("au", "au_geom", "au_app"), grid: dict | None = None,
                 log=print, progress: bool = False, nthread: int | None = None) -> dict:
    """Rebuild the AU baseline and the XGBoost models from FER2013 and ship them.

    Training fits, PublicTest picks the setting and the number of trees,
    PrivateTest is scored once at the end (fer7 and fer6) and written to
    ``models/metrics.json``.  For ``au_app`` the HOG principal components are
    fitted on Training and shipped as ``models/au_app_hog_pca.npz``.
    ``nthread``: XGBoost threads for training (default: ``XGB_PARAMS``'s one).
    Returns ``{kind: {"params", "publictest", "fer7", "fer6"}}``.
    """
    from .evaluate import metrics

    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    tr, va, te = ds.split("Training"), ds.split("PublicTest"), ds.split("PrivateTest")
    from .faces import crop_landmarks
    crop_landmarks(ds.images, progress=progress)        # one pass over all images, cached
    est = fit_baseline(tr)
    est.save(models_dir / "au_baseline.json")
    log(f"AU baseline: {est.n_fit_} neutral Training faces -> {models_dir / 'au_baseline.json'}")
    results = {}
    for kind in kinds:
        pca = None
        if kind == "au_app":
            lm_tr, _, _ = crop_landmarks(tr.images)
            pca = HogPCA.fit(hog_features(aligned_crops(tr.images, lm_tr)))
            pca.save(models_dir / "au_app_hog_pca.npz")
        xtr, _ = fer_features(tr, kind, est, hog_pca=pca)
        xva, _ = fer_features(va, kind, est, hog_pca=pca)
        xte, _ = fer_features(te, kind, est, hog_pca=pca)
        names = AUEmotionModel(None, est, kind, hog_pca=pca).feature_names
        best = None
        for params in (grid or GRIDS)[kind]:
            b = train_booster(xtr, tr.labels, xva, va.labels, names,
                              params if nthread is None else {**params, "nthread": nthread})
            m = AUEmotionModel(b, est, kind, hog_pca=pca)
            acc = float((m._proba(xva).argmax(1) == va.labels).mean())
            log(f"{kind}: {params} -> {b.num_boosted_rounds()} rounds, PublicTest accuracy {acc:.4f}")
            if best is None or acc > best[0]:
                best = (acc, params, m)
        acc_va, params, model = best
        model.booster.save_model(str(models_dir / f"{kind}_xgb_fer7.ubj"))
        proba = model._proba(xte)
        res = {"params": params, "publictest": acc_va}
        for scheme in ("fer7", "fer6"):
            res[scheme] = metrics(proba, te.labels, scheme)["accuracy"]
        save_metrics(models_dir, kind, proba, te.labels)
        log(f"{kind}: shipped {models_dir / f'{kind}_xgb_fer7.ubj'}; PrivateTest accuracy "
            f"fer7 {res['fer7']:.4f}, fer6 {res['fer6']:.4f}")
        results[kind] = res
    from . import zoo
    zoo.write_manifest(models_dir)
    return results
