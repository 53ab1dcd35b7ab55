"""Comparing classical classifiers on FER2013 (features x classifiers), learning curves
and the most confident errors (the Classification notebook); ``fer_au.classifiers``
holds the estimators and the shipped model."""
from __future__ import annotations

import time

import numpy as np
from sklearn.base import clone

from ..classifiers import CLASSIFIERS, CappedPCA, FEATURES, make_classifier, make_features, sample_indices


def compare(X_train, y_train, X_val, y_val, features=FEATURES, classifiers=CLASSIFIERS,
            pca: int | None = 200, max_train: int | None = None, progress: bool = True,
            random_state: int = 0):
    """Fit every (features, classifier) pair on the training faces and score it on
    the validation faces.  Returns a pandas table: accuracy, macro-F1, seconds to
    fit (features included), ms per face for the classifier to predict (features excluded),
    one row per pair, best first.

    ``max_train`` subsamples the training set (stratified) to keep slow
    classifiers (the RBF SVM is quadratic in samples) affordable.
    """
    import pandas as pd
    from sklearn.metrics import f1_score
    from tqdm.auto import tqdm

    X_train, y_train = np.asarray(X_train), np.asarray(y_train)
    if max_train and len(X_train) > max_train:
        keep = sample_indices(y_train, max_train, random_state)
        X_train, y_train = X_train[keep], y_train[keep]
    # Features are computed once per extractor and shared by every classifier.
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rows = []
    pairs = [(f, c) for f in features for c in classifiers]
    bar = tqdm(total=len(pairs), desc="classifiers", disable=not progress)
    for feat in features:
        t0 = time.perf_counter()
        front = [make_features(feat), StandardScaler()]
        if pca:
            front.append(CappedPCA(pca, whiten=True, svd_solver="randomized",
                             random_state=random_state))
        front = make_pipeline(*front).fit(X_train)
        Z_train, Z_val = front.transform(X_train), front.transform(X_val)
        t_feat = time.perf_counter() - t0
        for clf_name in classifiers:
            bar.set_postfix_str(f"{feat} + {clf_name}")
            clf = make_classifier(clf_name, random_state=random_state)
            t = time.perf_counter()
            clf.fit(Z_train, y_train)
            t_fit = time.perf_counter() - t
            t = time.perf_counter()
            pred = clf.predict(Z_val)
            t_pred = time.perf_counter() - t
            rows.append({"features": feat, "classifier": clf_name,
                         "accuracy": float((pred == y_val).mean()),
                         "macro_f1": float(f1_score(y_val, pred, average="macro")),
                         "fit_s": round(t_feat + t_fit, 2),
                         "ms_per_face": round(1000 * t_pred / max(len(X_val), 1), 4)})
            bar.update()
    bar.close()
    return pd.DataFrame(rows).sort_values("accuracy", ascending=False, ignore_index=True)


def learning_curve(estimator, X_train, y_train, X_val, y_val, sizes=(0.1, 0.25, 0.5, 1.0),
                   random_state: int = 0, progress: bool = True):
    """Fit clones of ``estimator`` on growing stratified fractions (or counts) of the
    training faces; accuracy on those faces and on the validation faces per size.

    A gap that stays wide means variance (more data or regularisation helps);
    two low curves that meet mean bias (richer features help)."""
    import pandas as pd
    from tqdm.auto import tqdm

    X_train, y_train = np.asarray(X_train), np.asarray(y_train)
    rows = []
    for size in tqdm(sizes, desc="learning curve", disable=not progress):
        n = int(round(size * len(y_train))) if size <= 1 else int(size)
        keep = sample_indices(y_train, n, random_state)
        Xs, ys = X_train[keep], y_train[keep]
        est = clone(estimator).fit(Xs, ys)
        rows.append({"n_train": len(ys), "train_accuracy": float((est.predict(Xs) == ys).mean()),
                     "val_accuracy": float((est.predict(X_val) == np.asarray(y_val)).mean())})
    return pd.DataFrame(rows)


def confident_errors(proba, labels, k: int = 16) -> np.ndarray:
    """Indices of the ``k`` misclassified faces the model was surest about (most
    confident wrong answers first): where label noise and look-alike expressions show."""
    proba, labels = np.asarray(proba), np.asarray(labels)
    pred = proba.argmax(axis=1)
    wrong = np.flatnonzero(pred != labels)
    return wrong[np.argsort(-proba[wrong, pred[wrong]], kind="stable")][:k]
