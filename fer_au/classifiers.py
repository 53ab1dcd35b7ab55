"""Classical (scikit-learn / XGBoost) emotion classifiers for 48x48 faces.

Everything here is a scikit-learn estimator or pipeline that takes faces of
shape (N, 48, 48) uint8:

>>> pipe = build_pipeline("hog", "linear_svm").fit(train.images, train.y())
>>> table = compare(train.images, train.y(), val.images, val.y())   # the comparison

The shipped model (``models/classical_fer7.joblib``) is a
:class:`ClassicalEmotionModel`: multi-scale HOG + LBP grid + dense SIFT
(:func:`fer_au.features.handcrafted`), standardised, PCA-whitened, mapped by a
Nystroem approximation of the RBF kernel and classified by multinomial
logistic regression, trained on Training plus its mirror images.  Its
hyper-parameters were chosen on PublicTest (``bench/classical_compare.py``);
PrivateTest is used only to report.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from . import features as F
from .labels import FER7

SHIPPED_FILE = "classical_fer7.joblib"

# The shipped model's hyper-parameters (chosen on PublicTest; see MODEL_CARD.md).
SHIPPED_PARAMS = dict(features="handcrafted", pca=400, gamma=None, n_components=4000, C=1.0)


# ---------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------
def make_features(name: str):
    """A feature extractor by name: pixels, hog, lbp, sift, hog+lbp, handcrafted."""
    from sklearn.pipeline import FeatureUnion, make_pipeline
    makers = {
        "pixels": lambda: F.Pixels(standardize=True),
        "hog": lambda: make_pipeline(F.HOG(cell_sizes=(8, 4)), F.PowerNorm()),
        "lbp": lambda: make_pipeline(F.LBPGrid(), F.PowerNorm()),
        "sift": lambda: make_pipeline(F.DenseSIFT(step=6, sizes=(12,)), F.PowerNorm()),
        "hog+lbp": lambda: F.handcrafted(sift=False),
        "handcrafted": lambda: F.handcrafted(),
    }
    if name not in makers:
        raise ValueError(f"unknown features {name!r}; use one of {', '.join(makers)}")
    return makers[name]()


def make_classifier(name: str, random_state: int = 0, **params):
    """A classifier by name (hyper-parameters overridable with ``params``)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC, LinearSVC

    def xgb(**kw):
        from xgboost import XGBClassifier
        return XGBClassifier(**{"n_estimators": 300, "max_depth": 6, "learning_rate": 0.1,
                                "subsample": 0.8, "colsample_bytree": 0.5, "tree_method": "hist",
                                "n_jobs": 1, "random_state": random_state, **kw})

    makers = {
        "logreg": lambda **kw: LogisticRegression(**{"C": 0.1, "max_iter": 500, **kw}),
        "linear_svm": lambda **kw: LinearSVC(**{"C": 0.01, "random_state": random_state, **kw}),
        "rbf_svm": lambda **kw: SVC(**{"C": 3.0, "gamma": "scale", "random_state": random_state, **kw}),
        "random_forest": lambda **kw: RandomForestClassifier(
            **{"n_estimators": 300, "min_samples_leaf": 2, "n_jobs": 1,
               "random_state": random_state, **kw}),
        "knn": lambda **kw: KNeighborsClassifier(**{"n_neighbors": 10, "weights": "distance", **kw}),
        "xgboost": xgb,
        "hist_gb": lambda **kw: HistGradientBoostingClassifier(
            **{"max_iter": 300, "learning_rate": 0.1, "random_state": random_state, **kw}),
        "nystroem_logreg": lambda **kw: nystroem_logreg(random_state=random_state, **kw),
    }
    if name not in makers:
        raise ValueError(f"unknown classifier {name!r}; use one of {', '.join(makers)}")
    return makers[name](**params)


CLASSIFIERS = ("logreg", "linear_svm", "rbf_svm", "random_forest", "knn", "xgboost")
FEATURES = ("pixels", "hog", "lbp", "sift", "handcrafted")


def nystroem_logreg(gamma: float = 1e-3, n_components: int = 4000, C: float = 1.0,
                    random_state: int = 0):
    """An RBF-kernel classifier that scales: Nystroem feature map + multinomial
    logistic regression (which, unlike an SVM, gives probabilities directly).

    For PCA-whitened inputs of dimension d, ``gamma`` around 0.5/d to 1/d suits.
    """
    from sklearn.kernel_approximation import Nystroem
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    return make_pipeline(
        Nystroem(kernel="rbf", gamma=gamma, n_components=n_components, random_state=random_state),
        LogisticRegression(C=C, max_iter=300, tol=1e-3))


def median_sq_distance(Z, n_pairs: int = 20000, random_state: int = 0) -> float:
    """Median squared Euclidean distance between random pairs of rows (the usual
    heuristic for an RBF kernel's width: gamma ~ 1 / median)."""
    rng = np.random.default_rng(random_state)
    i, j = rng.integers(0, len(Z), size=(2, n_pairs))
    keep = i != j
    d2 = ((np.asarray(Z[i[keep]], np.float64) - Z[j[keep]]) ** 2).sum(axis=1)
    return float(np.median(d2)) if len(d2) else 1.0


def build_pipeline(features: str = "hog", classifier: str = "logreg", pca: int | None = 200,
                   random_state: int = 0, **classifier_params):
    """faces -> ``features`` -> StandardScaler -> PCA(whiten) -> ``classifier``.

    ``pca=None`` skips PCA (tree models and k-NN on raw features do not need it,
    but everything is faster with it).
    """
    from sklearn.decomposition import PCA
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    steps = [("features", make_features(features)), ("scale", StandardScaler())]
    if pca:
        steps.append(("pca", PCA(pca, whiten=True, svd_solver="randomized",
                                 random_state=random_state)))
    steps.append(("clf", make_classifier(classifier, random_state=random_state, **classifier_params)))
    return Pipeline(steps)


def compare(X_train, y_train, X_val, y_val, features=FEATURES, classifiers=CLASSIFIERS,
            pca: int | None = 200, max_train: int | None = None, progress: bool = True,
            random_state: int = 0):
    """Fit every (features, classifier) pair on the training faces and score it on
    the validation faces.  Returns a pandas table: accuracy, macro-F1, seconds to
    fit, ms per face to predict, one row per pair, best first.

    ``max_train`` subsamples the training set (stratified) to keep slow
    classifiers (the RBF SVM is quadratic in samples) affordable.
    """
    import pandas as pd
    from sklearn.metrics import f1_score
    from tqdm.auto import tqdm

    X_train, y_train = np.asarray(X_train), np.asarray(y_train)
    if max_train and len(X_train) > max_train:
        from sklearn.model_selection import train_test_split
        X_train, _, y_train, _ = train_test_split(X_train, y_train, train_size=max_train,
                                                  stratify=y_train, random_state=random_state)
    # Features are computed once per extractor and shared by every classifier.
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rows = []
    pairs = [(f, c) for f in features for c in classifiers]
    bar = tqdm(total=len(pairs), desc="classifiers", disable=not progress)
    for feat in features:
        t0 = time.perf_counter()
        front = [make_features(feat), StandardScaler()]
        if pca:
            front.append(PCA(min(pca, len(X_train) - 1), whiten=True, svd_solver="randomized",
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


# ---------------------------------------------------------------------------
# The shipped model
# ---------------------------------------------------------------------------
class ClassicalEmotionModel(ClassifierMixin, BaseEstimator):
    """The shipped classical emotion model.

    A scikit-learn classifier over faces (N, 48, 48) uint8 whose ``predict_proba``
    returns (N, 7) probabilities in fer7 order (``fer_au.labels.FER7``), whatever
    subset of classes it was trained on.

    Pipeline: :func:`fer_au.features.handcrafted` -> StandardScaler -> PCA(``pca``;
    ``whiten``) -> Nystroem RBF map (``n_components`` landmarks) -> multinomial
    logistic regression (``C``).  The RBF width is ``gamma`` or, when None,
    ``gamma_scale`` / (median squared distance between training faces in PCA space).
    ``hflip=True`` trains on mirrored copies too.
    ``pca_fit_max`` caps the faces PCA is fitted on (a random sample; the
    components of 13k-dimensional features need far fewer than 57k faces).
    """

    def __init__(self, features: str = "handcrafted", pca: int = 300, whiten: bool = False,
                 gamma: float | None = None, gamma_scale: float = 1.0, n_components: int = 4000,
                 C: float = 1.0, hflip: bool = True, pca_fit_max: int = 15000,
                 random_state: int = 0, progress: bool = False):
        self.features = features
        self.pca = pca
        self.whiten = whiten
        self.gamma = gamma
        self.gamma_scale = gamma_scale
        self.n_components = n_components
        self.C = C
        self.hflip = hflip
        self.pca_fit_max = pca_fit_max
        self.random_state = random_state
        self.progress = progress

    def _log(self, msg):
        if self.progress:
            from tqdm.auto import tqdm
            tqdm.write(msg)

    def _featurize(self, X, desc="features", chunk: int = 2048):
        from tqdm.auto import tqdm
        X = F._as_faces(X)
        out = [self.features_.transform(X[i:i + chunk])
               for i in tqdm(range(0, len(X), chunk), desc=desc, unit="chunk",
                             disable=not self.progress or len(X) <= chunk)]
        return np.concatenate(out) if out else self.features_.transform(X)

    def fit(self, X, y):
        from sklearn.decomposition import PCA
        from sklearn.kernel_approximation import Nystroem
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        X, y = F._as_faces(X), np.asarray(y, dtype=np.int64)
        if self.hflip:
            X, y = F.hflip_augment(X, y)
        self.classes_ = np.unique(y)
        self.features_ = make_features(self.features).fit(X[:2])
        H = self._featurize(X, "features (train)")
        rng = np.random.default_rng(self.random_state)
        sub = rng.choice(len(H), size=min(len(H), self.pca_fit_max), replace=False)
        self._log(f"scaler + PCA({self.pca}) on {len(sub)} of {len(H)} faces")
        self.scaler_ = StandardScaler().fit(H)
        n_pca = min(self.pca, len(sub) - 1, H.shape[1])
        self.pca_ = PCA(n_pca, whiten=self.whiten, svd_solver="randomized",
                        random_state=self.random_state).fit(self.scaler_.transform(H[sub]))
        Z = self._project(H)
        del H
        gamma = self.gamma if self.gamma is not None else self.gamma_scale / median_sq_distance(
            Z, random_state=self.random_state)
        self.gamma_ = float(gamma)
        n_comp = min(self.n_components, len(Z))
        self._log(f"Nystroem RBF map ({n_comp} components, gamma={gamma:.3g})")
        self.kernel_map_ = Nystroem(kernel="rbf", gamma=gamma, n_components=n_comp,
                                    random_state=self.random_state).fit(Z)
        K = self.kernel_map_.transform(Z).astype(np.float32)
        self._log(f"logistic regression on {K.shape}")
        self.clf_ = LogisticRegression(C=self.C, max_iter=300, tol=1e-3).fit(K, y)
        self.n_train_ = int(len(y))
        return self

    def _project(self, H):
        return self.pca_.transform(self.scaler_.transform(H)).astype(np.float32)

    def decision_proba_(self, X):  # probabilities over classes_
        H = self._featurize(X, "features")
        return self.clf_.predict_proba(self.kernel_map_.transform(self._project(H)))

    def predict_proba(self, X) -> np.ndarray:
        """(N, 7) fer7 probabilities for faces (N, 48, 48) uint8."""
        X = F._as_faces(X)
        out = np.zeros((len(X), len(FER7)))
        if len(X):
            out[:, self.classes_] = self.decision_proba_(X)
        return out

    def predict(self, X) -> np.ndarray:
        """fer7 codes."""
        return self.predict_proba(X).argmax(axis=1)

    def compact(self):
        """Store the big learned matrices as float32 (halves the shipped file)."""
        self.pca_.components_ = self.pca_.components_.astype(np.float32)
        self.kernel_map_.components_ = self.kernel_map_.components_.astype(np.float32)
        self.kernel_map_.normalization_ = self.kernel_map_.normalization_.astype(np.float32)
        return self


def save_classical(model, models_dir, name: str = SHIPPED_FILE) -> Path:
    """Write the model with joblib (compressed) and record its sha256 in the manifest."""
    import joblib

    from . import zoo
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    path = models_dir / name
    joblib.dump(model, path, compress=("xz", 3))
    zoo.write_manifest(models_dir)
    return path


def load_classical(models_dir=None, name: str = SHIPPED_FILE) -> ClassicalEmotionModel:
    """Load the shipped classical model after checking its sha256 against the manifest."""
    import joblib

    from .zoo import verified_path
    model = joblib.load(verified_path(name, models_dir))
    if not hasattr(model, "predict_proba"):
        raise TypeError(f"{name}: not an emotion model ({type(model).__name__})")
    return model
