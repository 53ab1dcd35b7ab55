"""Handcrafted features of 48x48 grey faces, as scikit-learn transformers.

Every extractor takes ``X`` of shape (N, 48, 48) uint8 (FER2013's format; any
square size works for most) and returns an (N, D) float32 matrix, so that they
chain in a :class:`sklearn.pipeline.Pipeline` and combine in a
:class:`sklearn.pipeline.FeatureUnion`:

* :class:`Pixels` - raw pixels, optionally standardised per image;
* :class:`HOG` - histograms of oriented gradients, at one or several cell sizes;
* :class:`LBPGrid` - uniform local-binary-pattern histograms on an (overlapping) grid;
* :class:`DenseSIFT` - SIFT descriptors at fixed grid points (OpenCV), concatenated
  in grid order (faces are roughly aligned, so position carries meaning);
* :class:`SiftBoW` - bag-of-visual-words of dense SIFT (MiniBatchKMeans vocabulary)
  pooled over a spatial pyramid;
* :class:`PowerNorm` - signed square root (Hellinger map) for histogram features;
* :func:`handcrafted` - the union used by the shipped classical model;
* :func:`hflip_augment` - add mirrored copies of training faces.

PCA is scikit-learn's own :class:`sklearn.decomposition.PCA` (``whiten=True``).
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


def _as_faces(X) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim == 2 and int(round(np.sqrt(X.shape[1]))) ** 2 == X.shape[1]:  # flattened faces
        side = int(round(np.sqrt(X.shape[1])))
        X = X.reshape(len(X), side, side)
    if X.ndim != 3:
        raise ValueError(f"expected faces of shape (N, H, W), got {X.shape}")
    if X.dtype != np.uint8:
        X = np.clip(X, 0, 255).astype(np.uint8)
    return X


class _Stateless(TransformerMixin, BaseEstimator):
    """A transformer that learns nothing; ``fit`` only records the input size."""

    def fit(self, X, y=None):
        X = _as_faces(X)
        self.image_shape_ = X.shape[1:]
        self.n_features_out_ = self._one(X[0]).size
        return self

    def transform(self, X):
        X = _as_faces(X)
        if len(X) == 0:
            return np.zeros((0, self._one(np.zeros((48, 48), np.uint8)).size), np.float32)
        return np.stack([self._one(x) for x in X]).astype(np.float32, copy=False)

    def _one(self, img: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class Pixels(_Stateless):
    """Raw pixels scaled to [0, 1]; ``standardize=True`` makes each face zero-mean,
    unit-variance (removes global brightness and contrast)."""

    def __init__(self, standardize: bool = False):
        self.standardize = standardize

    def _one(self, img):
        v = img.astype(np.float32).ravel() / 255.0
        if self.standardize:
            v = (v - v.mean()) / (v.std() + 1e-6)
        return v


class HOG(_Stateless):
    """HOG descriptors (scikit-image), concatenated over ``cell_sizes``.

    ``cell_sizes=(8, 4)`` gives a coarse and a fine description of the face
    (900 + 4356 values for 48x48 input with 2x2-cell blocks and 9 orientations).
    """

    def __init__(self, cell_sizes=(8,), orientations: int = 9, cells_per_block: int = 2,
                 block_norm: str = "L2-Hys"):
        self.cell_sizes = cell_sizes
        self.orientations = orientations
        self.cells_per_block = cells_per_block
        self.block_norm = block_norm

    def _one(self, img):
        from skimage.feature import hog
        return np.concatenate([
            hog(img, orientations=self.orientations, pixels_per_cell=(c, c),
                cells_per_block=(self.cells_per_block,) * 2, block_norm=self.block_norm,
                feature_vector=True)
            for c in self.cell_sizes])

    def visualize(self, img, cell_size: int | None = None) -> np.ndarray:
        """The HOG picture of one face (scikit-image's rendering), for plots."""
        from skimage.feature import hog
        c = cell_size or self.cell_sizes[0]
        _, picture = hog(_as_faces(img[None])[0], orientations=self.orientations,
                         pixels_per_cell=(c, c), cells_per_block=(self.cells_per_block,) * 2,
                         block_norm=self.block_norm, visualize=True)
        return picture


class LBPGrid(_Stateless):
    """Local binary patterns (scikit-image, ``P`` neighbours at ``radius``) histogrammed
    over a grid of ``cell``-pixel windows moved by ``stride`` pixels.

    ``method='nri_uniform'`` has P*(P-1)+3 codes (59 for P=8); ``'uniform'`` P+2.
    Histograms are L1-normalised per window.
    """

    def __init__(self, P: int = 8, radius: float = 1, method: str = "nri_uniform",
                 cell: int = 12, stride: int = 6):
        self.P = P
        self.radius = radius
        self.method = method
        self.cell = cell
        self.stride = stride

    def _n_codes(self):
        return {"nri_uniform": self.P * (self.P - 1) + 3, "uniform": self.P + 2}.get(
            self.method, 2 ** self.P)

    def codes(self, img) -> np.ndarray:
        """The per-pixel LBP code image (for plots)."""
        from skimage.feature import local_binary_pattern
        return local_binary_pattern(img, self.P, self.radius, self.method).astype(np.int64)

    def _one(self, img):
        codes = self.codes(img)
        n = self._n_codes()
        h, w = codes.shape
        out = []
        for y in range(0, h - self.cell + 1, self.stride):
            for x in range(0, w - self.cell + 1, self.stride):
                hist = np.bincount(codes[y:y + self.cell, x:x + self.cell].ravel(), minlength=n)
                out.append(hist / hist.sum())
        return np.concatenate(out)


def _grid_keypoints(shape, step: int, size: float):
    import cv2
    h, w = shape
    off = step // 2
    return [cv2.KeyPoint(float(x), float(y), float(size))
            for y in range(off, h, step) for x in range(off, w, step)]


def _dense_sift(img, step, sizes):
    import cv2
    sift = cv2.SIFT_create()
    out = []
    for s in sizes:
        _, d = sift.compute(img, _grid_keypoints(img.shape, step, s))
        out.append(d)
    return np.concatenate(out, axis=0)  # (n_points * len(sizes), 128)


class DenseSIFT(_Stateless):
    """SIFT descriptors (OpenCV) at every ``step`` pixels, one per scale in ``sizes``,
    concatenated in grid order: a position-aware description of an aligned face."""

    def __init__(self, step: int = 8, sizes=(12,)):
        self.step = step
        self.sizes = sizes

    def _one(self, img):
        d = _dense_sift(img, self.step, self.sizes)
        return (d / 512.0).ravel()  # OpenCV scales descriptors to 0..~512


class SiftBoW(TransformerMixin, BaseEstimator):
    """Bag of visual words over dense SIFT: a ``n_words`` MiniBatchKMeans vocabulary,
    hard-assigned word counts pooled in a spatial pyramid (``levels``: 1 = whole face,
    2 = 2x2 quadrants, ...), L1-normalised per region."""

    def __init__(self, n_words: int = 256, step: int = 4, sizes=(8, 16), levels=(1, 2),
                 max_descriptors: int = 200_000, random_state: int = 0):
        self.n_words = n_words
        self.step = step
        self.sizes = sizes
        self.levels = levels
        self.max_descriptors = max_descriptors
        self.random_state = random_state

    def _points(self, shape):
        return np.array([kp.pt for kp in _grid_keypoints(shape, self.step, 1)] * len(self.sizes))

    def fit(self, X, y=None):
        from sklearn.cluster import MiniBatchKMeans
        X = _as_faces(X)
        rng = np.random.default_rng(self.random_state)
        per_image = len(self._points(X.shape[1:]))
        take = max(1, min(len(X), self.max_descriptors // per_image))
        idx = rng.choice(len(X), size=take, replace=False)
        desc = np.concatenate([_dense_sift(X[i], self.step, self.sizes) for i in idx])
        self.kmeans_ = MiniBatchKMeans(self.n_words, random_state=self.random_state, n_init=3,
                                       batch_size=4096).fit(desc)
        self.image_shape_ = X.shape[1:]
        return self

    def transform(self, X):
        X = _as_faces(X)
        pts = self._points(X.shape[1:])
        h, w = X.shape[1:]
        regions = []
        for lv in self.levels:
            ry = np.minimum((pts[:, 1] * lv / h).astype(int), lv - 1)
            rx = np.minimum((pts[:, 0] * lv / w).astype(int), lv - 1)
            regions.append(ry * lv + rx + sum(l * l for l in self.levels[:len(regions)]))
        region = np.stack(regions, axis=1)  # (n_points, n_levels)
        n_regions = sum(l * l for l in self.levels)
        out = np.zeros((len(X), n_regions * self.n_words), np.float32)
        for i, img in enumerate(X):
            words = self.kmeans_.predict(_dense_sift(img, self.step, self.sizes).astype(np.float32))
            for k in range(region.shape[1]):
                np.add.at(out[i], region[:, k] * self.n_words + words, 1.0)
        out = out.reshape(len(X), n_regions, self.n_words)
        out /= np.maximum(out.sum(axis=2, keepdims=True), 1)
        return out.reshape(len(X), -1)


class PowerNorm(TransformerMixin, BaseEstimator):
    """Signed power normalisation ``sign(x)|x|^alpha`` (alpha=0.5: the Hellinger map,
    which makes histogram features behave well under Euclidean/RBF kernels)."""

    def __init__(self, alpha: float = 0.5):
        self.alpha = alpha

    def fit(self, X, y=None):
        self.n_features_in_ = np.shape(X)[1]
        return self

    def transform(self, X):
        X = np.asarray(X, dtype=np.float32)
        return np.sign(X) * np.abs(X) ** self.alpha


def handcrafted(hog_cells=(8, 4), lbp=True, sift=True):
    """The feature union of the shipped classical model: multi-scale HOG, a grid of
    LBP histograms and dense SIFT, each Hellinger-mapped (signed square root)."""
    from sklearn.pipeline import FeatureUnion, make_pipeline
    parts = [("hog", make_pipeline(HOG(cell_sizes=hog_cells), PowerNorm()))]
    if lbp:
        parts.append(("lbp", make_pipeline(LBPGrid(), PowerNorm())))
    if sift:
        parts.append(("sift", make_pipeline(DenseSIFT(step=6, sizes=(12,)), PowerNorm())))
    return FeatureUnion(parts)


def hflip_augment(X, y):
    """Training faces plus their mirror images (labels repeated): expressions are
    left-right symmetric, so this doubles the data for free."""
    X = _as_faces(X)
    return np.concatenate([X, X[:, :, ::-1]]), np.concatenate([np.asarray(y), np.asarray(y)])
