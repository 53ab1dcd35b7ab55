"""Training the AU emotion models (``fer_au.au_models`` holds the models and their
inference): FER2013 features, the neutral AU baseline, XGBoost with PublicTest early
stopping and model selection, metrics written beside the models."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..aus import AUEstimator
from ..labels import FER7
from ..au_models import AUEmotionModel, HogPCA, aligned_crops, hog_features


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
    from ..faces import crop_landmarks
    lm, det, res = crop_landmarks(ds.images, progress=progress)
    model = AUEmotionModel(None, est, kind, hog_pca=hog_pca)
    crops = aligned_crops(ds.images, lm) if kind == "au_app" else None
    return model.features(lm, crops), lm


def fit_baseline(ds_train) -> AUEstimator:
    """The neutral baseline: AUEstimator fitted on Training's Neutral faces whose
    landmarks are usable."""
    from ..faces import crop_landmarks, usable
    neutral = ds_train[ds_train.labels == FER7.index("neutral")]
    lm, det, res = crop_landmarks(neutral.images)
    ok = usable(det, res)
    return AUEstimator().fit(lm[ok])


def save_metrics(models_dir, name: str, proba, labels) -> dict:
    """Read-modify-write ``models/metrics.json`` in ``bench/accuracy.py``'s format:
    ``{model: {scheme: {accuracy, macro_f1, recall}, n}}`` (other models' keys are kept)."""
    from ..evaluate import metrics
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
    from ..evaluate import metrics

    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    tr, va, te = ds.split("Training"), ds.split("PublicTest"), ds.split("PrivateTest")
    from ..faces import crop_landmarks
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
    from .. import zoo
    zoo.write_manifest(models_dir)
    return results
