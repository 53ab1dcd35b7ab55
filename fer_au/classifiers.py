"""Classical (scikit-learn / XGBoost) emotion classifiers for 48x48 faces.

Everything here is a scikit-learn estimator or pipeline that takes faces of
shape (N, 48, 48) uint8:

>>> pipe = build_pipeline("hog", "linear_svm").fit(train.images, train.y())
>>> table = compare(train.images, train.y(), val.images, val.y())   # the comparison

The shipped model (``models/classical_fer7.joblib``) is a
:class:`ClassicalEmotionModel`: multi-scale HOG + LBP grid + dense SIFT
(:func:`fer_au.features.handcrafted`), standardised, reduced by PCA, mapped by a
Nystroem approximation of the RBF kernel and classified by multinomial
logistic regression, trained on Training plus its mirror images.  Its
hyper-parameters were chosen on PublicTest (``bench/classical_compare.py``);
PrivateTest is used only to report.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.decomposition import PCA
from sklearn.metrics.pairwise import rbf_kernel

from . import features as F
from .classical_params import SHIPPED_PARAMS  # noqa: F401  (re-exported: C.SHIPPED_PARAMS)
from .geometry import mirror
from .labels import FER7

SHIPPED_FILE = "classical_fer7.joblib"


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
        return XGBoost(**{"random_state": random_state, **kw})

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


class XGBoost(ClassifierMixin, BaseEstimator):
    """XGBoost's gradient-boosted trees as a scikit-learn classifier that accepts any
    label codes (XGBoost itself wants 0..k-1; FER subsets may lack a class)."""

    def __init__(self, n_estimators: int = 300, max_depth: int = 6, learning_rate: float = 0.1,
                 subsample: float = 0.8, colsample_bytree: float = 0.5, n_jobs: int = 1,
                 random_state: int = 0):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X, y):
        from xgboost import XGBClassifier
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        self.booster_ = XGBClassifier(
            n_estimators=self.n_estimators, max_depth=self.max_depth,
            learning_rate=self.learning_rate, subsample=self.subsample,
            colsample_bytree=self.colsample_bytree, tree_method="hist", n_jobs=self.n_jobs,
            random_state=self.random_state,
            objective="multi:softprob" if len(self.classes_) > 2 else "binary:logistic")
        self.booster_.fit(np.asarray(X), codes)
        return self

    def predict_proba(self, X):
        return self.booster_.predict_proba(np.asarray(X))

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


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


def sample_indices(y, n: int, random_state: int = 0) -> np.ndarray:
    """Sorted indices of a class-stratified random sample of ``n`` of the labels ``y``
    (plain random where a class is too rare to stratify); all of them if ``n >= len(y)``."""
    y = np.asarray(y)
    if n >= len(y):
        return np.arange(len(y))
    from sklearn.model_selection import train_test_split
    idx = np.arange(len(y))
    _, counts = np.unique(y, return_counts=True)
    strat = y if counts.min() >= 2 and n >= len(counts) and len(y) - n >= len(counts) else None
    keep, _ = train_test_split(idx, train_size=n, stratify=strat, random_state=random_state)
    return np.sort(keep)


def nystroem_normalization(landmarks, gamma: float) -> np.ndarray:
    """K_mm^(-1/2) of the RBF kernel between the landmarks, exactly as scikit-learn's
    Nystroem computes it: the map is ``rbf(x, landmarks) @ normalization.T``."""
    from scipy.linalg import svd
    U, S, Vt = svd(rbf_kernel(landmarks, landmarks, gamma=gamma))
    S = np.maximum(S, 1e-12)
    return np.dot(U / np.sqrt(S), Vt)


def median_sq_distance(Z, n_pairs: int = 20000, random_state: int = 0) -> float:
    """Median squared Euclidean distance between random pairs of rows (the usual
    heuristic for an RBF kernel's width: gamma ~ 1 / median)."""
    rng = np.random.default_rng(random_state)
    i, j = rng.integers(0, len(Z), size=(2, n_pairs))
    keep = i != j
    d2 = ((np.asarray(Z[i[keep]], np.float64) - Z[j[keep]]) ** 2).sum(axis=1)
    return float(np.median(d2)) if len(d2) else 1.0


class CappedPCA(PCA):
    """scikit-learn's PCA whose integer ``n_components`` is capped at fit time by what
    the data allows (samples - 1, features), so one pipeline serves 100 or 50,000 faces."""

    def _capped(self, X, method, y=None):
        requested = self.n_components
        if isinstance(requested, (int, np.integer)):
            self.n_components = max(1, min(int(requested), X.shape[0] - 1, X.shape[1]))
        try:
            return method(X, y)
        finally:
            self.n_components = requested

    def fit(self, X, y=None):
        return self._capped(np.asarray(X), super().fit, y)

    def fit_transform(self, X, y=None):
        return self._capped(np.asarray(X), super().fit_transform, y)


def build_pipeline(features: str = "hog", classifier: str = "logreg", pca: int | None = 200,
                   random_state: int = 0, **classifier_params):
    """faces -> ``features`` -> StandardScaler -> PCA(whiten) -> ``classifier``.

    ``pca=None`` skips PCA (tree models and k-NN on raw features do not need it,
    but everything is faster with it).
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    steps = [("features", make_features(features)), ("scale", StandardScaler())]
    if pca:
        steps.append(("pca", CappedPCA(pca, whiten=True, svd_solver="randomized",
                                 random_state=random_state)))
    steps.append(("clf", make_classifier(classifier, random_state=random_state, **classifier_params)))
    return Pipeline(steps)


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
    ``gamma_scale`` / (median squared distance between training faces in PCA space);
    the landmarks are k-means centres (``landmarks='kmeans'``) or random faces.
    ``hflip=True`` trains on mirrored copies too; ``flip_test=True`` averages the
    probabilities of each face and its mirror image at prediction time.
    ``pca_fit_max`` caps the faces PCA is fitted on (a random sample; the
    components of 13k-dimensional features need far fewer than 57k faces).

    ``shape_weight > 0`` appends the face's *shape* to the PCA'd appearance features
    before the RBF map: dlib's 68 landmarks (found on the 4x-upsampled crop by
    :func:`fer_au.faces.crop_landmarks`) in the pose-free canonical frame, plus head
    pose - the same 139 values as the ``au_geom`` model's geometry block
    (:func:`fer_au.au_models.geometry_features`) - standardised and multiplied by
    ``shape_weight`` (the block's say in the kernel's distances).  A mirrored
    training face gets the mirrored landmarks.
    """

    input_kind = "crop48"            # what the analyzer feeds it (zoo.INPUT_KINDS)

    def __init__(self, features: str = "handcrafted", pca: int = 300, whiten: bool = False,
                 gamma: float | None = None, gamma_scale: float = 2.0, n_components: int = 4000,
                 landmarks: str = "kmeans", C: float = 10.0, hflip: bool = True,
                 flip_test: bool = False, shape_weight: float = 0.0,
                 pca_fit_max: int = 15000, random_state: int = 0, progress: bool = False):
        self.features = features
        self.pca = pca
        self.whiten = whiten
        self.gamma = gamma
        self.gamma_scale = gamma_scale
        self.n_components = n_components
        self.landmarks = landmarks
        self.C = C
        self.hflip = hflip
        self.flip_test = flip_test
        self.shape_weight = shape_weight
        self.pca_fit_max = pca_fit_max
        self.random_state = random_state
        self.progress = progress

    def _log(self, msg):
        if self.progress:
            from tqdm.auto import tqdm
            tqdm.write(msg)

    def featurize(self, X, desc: str = "features", chunk: int = 2048) -> np.ndarray:
        """The handcrafted feature matrix of faces (computed in chunks, with a progress
        bar when ``progress``).  ``fit_features``/``predict_proba_features`` take it, so a
        hyper-parameter search computes the features once."""
        from tqdm.auto import tqdm
        X = F._as_faces(X)
        # the fitted extractor, or (before fit, for a search that computes the features once)
        # a fresh one: the handcrafted features have no state to learn, and none is stored here
        feats = self.features_ if hasattr(self, "features_") else make_features(self.features).fit(X[:2])
        out = [feats.transform(X[i:i + chunk])
               for i in tqdm(range(0, len(X), chunk), desc=desc, unit="chunk",
                             disable=not self.progress or len(X) <= chunk)]
        return np.concatenate(out) if out else feats.transform(X)

    def fit(self, X, y, features_cache=None):
        """Fit on faces (N, 48, 48) uint8 and fer7 codes.  ``features_cache``: an .npz
        path where the training feature matrix is kept (keyed by a hash of the faces and
        the feature set), so that a second fit with other hyper-parameters skips the
        feature extraction."""
        X, y = F._as_faces(X), np.asarray(y, dtype=np.int64)
        S = None
        if self.shape_weight:
            lm = self.landmarks_of(X)
            S = self.shape_features(lm)
            if self.hflip:
                S = np.vstack([S, self.shape_features(mirror(lm, X.shape[2]))])
        if self.hflip:
            X, y = F.hflip_augment(X, y)
        self.features_ = make_features(self.features).fit(X[:2])
        H = None
        if features_cache is not None:
            import hashlib
            key = f"{self.features}|{hashlib.sha1(np.ascontiguousarray(X).tobytes()).hexdigest()}"
            H = _read_feature_cache(features_cache, key)
            self._log(f"features from {features_cache}" if H is not None else
                      f"no usable features in {features_cache}; computing them")
        if H is None:
            H = self.featurize(X, "features (train)")
            if features_cache is not None:
                _write_feature_cache(features_cache, key, H)
        return self.fit_features(H, y, S)

    def landmarks_of(self, X) -> np.ndarray:
        """dlib's 68 landmarks of each face (N, 68, 2), cached on disk for large sets."""
        from .faces import crop_landmarks
        return crop_landmarks(X, cache=len(X) >= 500, progress=self.progress)[0]

    @staticmethod
    def shape_features(landmarks) -> np.ndarray:
        """The face-shape block (N, 139): canonical-frame landmark offsets + head pose."""
        from .au_models import geometry_features
        return geometry_features(landmarks)

    def fit_features(self, H, y, S=None):
        """Fit everything after the feature extractor on a precomputed feature matrix
        (mirroring, if wanted, must already be in ``H``) and, when ``shape_weight`` > 0,
        the matching face-shape matrix ``S`` from :meth:`shape_features`."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        y = np.asarray(y, dtype=np.int64)
        # the classes it saw; predict_proba always has the 7 fer7 columns (classes_)
        self.trained_classes_ = np.unique(y)
        self.classes_ = np.arange(len(FER7))
        rng = np.random.default_rng(self.random_state)
        sub = rng.choice(len(H), size=min(len(H), self.pca_fit_max), replace=False)
        self._log(f"scaler + PCA({self.pca}) on {len(sub)} of {len(H)} faces")
        self.scaler_ = StandardScaler().fit(H)
        n_pca = min(self.pca, len(sub) - 1, H.shape[1])
        self.pca_ = PCA(n_pca, whiten=self.whiten, svd_solver="randomized",
                        random_state=self.random_state).fit(self.scaler_.transform(H[sub]))
        if self.shape_weight:
            if S is None or len(S) != len(H):
                raise ValueError("shape_weight > 0: pass the face-shape matrix S, one row per row of H")
            S = np.asarray(S, np.float64)
            self.shape_mean_, self.shape_scale_ = S.mean(axis=0), S.std(axis=0) + 1e-6
        Z = self._embed(H, S)
        gamma = self.gamma if self.gamma is not None else self.gamma_scale / median_sq_distance(
            Z, random_state=self.random_state)
        self.gamma_ = float(gamma)
        n_comp = min(self.n_components, len(Z))
        self._log(f"Nystroem RBF map ({n_comp} {self.landmarks} landmarks, gamma={gamma:.3g})")
        self.landmarks_ = self._pick_landmarks(Z, n_comp)
        normalization = nystroem_normalization(self.landmarks_, gamma)
        K = np.empty((len(Z), len(self.landmarks_)), np.float32)
        for i in range(0, len(Z), 4096):
            K[i:i + 4096] = rbf_kernel(Z[i:i + 4096], self.landmarks_, gamma=gamma) @ normalization.T
        del Z
        self._log(f"logistic regression on {K.shape[0]} x {K.shape[1]}")
        clf = LogisticRegression(C=self.C, max_iter=300, tol=1e-3).fit(K, y)
        # Fold Nystroem's (n_components x n_components) normalisation into the linear
        # head: logits = rbf(x, landmarks) @ (N^T W^T) + b.  Same predictions, and the
        # model keeps an (n_components x n_classes) matrix instead of a 64 MB square one.
        self.coef_ = (normalization.T @ clf.coef_.T).astype(np.float32)
        self.intercept_ = clf.intercept_.astype(np.float64)
        self.n_iter_ = int(np.max(clf.n_iter_))
        self.n_train_ = int(len(y))
        return self

    def _pick_landmarks(self, Z, n):
        """Nystroem landmarks: random training faces (as scikit-learn's Nystroem picks
        them) or k-means centres of the training faces (a better approximation of the
        kernel for the same size)."""
        from sklearn.utils import check_random_state
        if self.landmarks == "random":
            return np.asarray(Z[check_random_state(self.random_state).permutation(len(Z))[:n]],
                              np.float32)
        if self.landmarks != "kmeans":
            raise ValueError(f"landmarks must be 'kmeans' or 'random', not {self.landmarks!r}")
        from sklearn.cluster import MiniBatchKMeans
        rng = np.random.default_rng(self.random_state)
        sample = Z[rng.choice(len(Z), size=min(len(Z), max(30000, 3 * n)), replace=False)]
        km = MiniBatchKMeans(n, random_state=self.random_state, batch_size=8192, n_init=1,
                             max_iter=20).fit(sample)
        return km.cluster_centers_.astype(np.float32)

    def _project(self, H, chunk: int = 4096):
        """Standardise and PCA-project feature rows (in chunks: bounded memory)."""
        out = np.empty((len(H), self.pca_.n_components_), np.float32)
        for i in range(0, len(H), chunk):
            out[i:i + chunk] = self.pca_.transform(self.scaler_.transform(H[i:i + chunk]))
        return out

    def _embed(self, H, S=None):
        """The space the RBF kernel works in: projected appearance, then (if used) the
        weighted, standardised face shape."""
        Z = self._project(H)
        if not self.shape_weight:
            return Z
        if S is None:
            raise ValueError("this model also needs the face-shape matrix S (see shape_features)")
        shape = self.shape_weight * (np.asarray(S, np.float64) - self.shape_mean_) / self.shape_scale_
        return np.hstack([Z, shape.astype(np.float32)])

    def decision_function_features(self, H, S=None) -> np.ndarray:
        """Class logits (over ``trained_classes_``) from a feature matrix (and face shapes)."""
        k = rbf_kernel(self._embed(H, S), self.landmarks_, gamma=self.gamma_)
        return k @ self.coef_ + self.intercept_

    def predict_proba_features(self, H, S=None) -> np.ndarray:
        """(N, 7) fer7 probabilities from a feature matrix made by ``featurize`` (and,
        for a model with ``shape_weight`` > 0, the faces' :meth:`shape_features`)."""
        from scipy.special import expit, softmax
        out = np.zeros((len(H), len(FER7)))
        if len(H):
            z = self.decision_function_features(H, S).astype(np.float64)
            if len(self.trained_classes_) == 2:   # binary logistic regression: one logit
                p1 = expit(z[:, 0])
                p = np.stack([1 - p1, p1], axis=1)
            else:
                p = softmax(z, axis=1)
            out[:, self.trained_classes_] = p
        return out

    def predict_proba(self, X) -> np.ndarray:
        """(N, 7) fer7 probabilities for faces (N, 48, 48) uint8."""
        X = F._as_faces(X)
        if not len(X):
            return np.zeros((0, len(FER7)))
        lm = self.landmarks_of(X) if self.shape_weight else None
        S = None if lm is None else self.shape_features(lm)
        proba = self.predict_proba_features(self.featurize(X), S)
        if self.flip_test:
            S = None if lm is None else self.shape_features(mirror(lm, X.shape[2]))
            proba = (proba + self.predict_proba_features(self.featurize(X[:, :, ::-1]), S)) / 2
        return proba

    def predict(self, X) -> np.ndarray:
        """fer7 codes (``classes_``)."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def compact(self):
        """Keep PCA's components as float32 (half the memory; the other big matrices
        already are)."""
        self.pca_.components_ = self.pca_.components_.astype(np.float32)
        return self

    # Pickling: PCA's components (features x PCA, the largest matrix by far) are
    # stored as float16 and restored to float32 on loading, which halves the shipped
    # file; predictions move by about 1e-4.
    def __getstate__(self):
        import copy
        state = dict(super().__getstate__())  # a copy: never touch the live model
        if "pca_" in state:
            pca = copy.copy(state["pca_"])
            pca.components_ = pca.components_.astype(np.float16)
            state["pca_"] = pca
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if hasattr(self, "pca_") and self.pca_.components_.dtype == np.float16:
            self.pca_.components_ = self.pca_.components_.astype(np.float32)
        if hasattr(self, "classes_") and not hasattr(self, "trained_classes_"):
            # saved before classes_ became the 7 fer7 columns: it held the trained classes
            self.trained_classes_, self.classes_ = self.classes_, np.arange(len(FER7))


def _read_feature_cache(path, key):
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path) as z:
            return z["H"] if str(z["key"]) == key else None
    except Exception:  # a damaged cache is recomputed, never trusted
        return None


def _write_feature_cache(path, key, H):
    import os
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    with open(tmp, "wb") as fh:
        np.savez(fh, H=H, key=np.array(key))
    os.replace(tmp, path)


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
