"""XGBoost tree ensembles evaluated in numpy, read from XGBoost's own ``.ubj`` files.

Why: importing ``xgboost`` imports scikit-learn and SciPy (1.7 s of a 3.7 s start-up on a
2-core CPU), and a ``Booster.predict`` on one frame's few faces costs ~4.5 ms of DMatrix
set-up.  The shipped AU emotion models are plain ``gbtree`` ``multi:softprob`` boosters
with numeric splits, so reading their trees and walking them level by level for all
trees at once gives the same probabilities (tests/test_au_models.py checks them against
XGBoost to 1e-6) without either cost.  Training, ``explain`` (SHAP contributions) and
saving still use XGBoost itself.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

# UBJSON (https://ubjson.org), big-endian; the subset XGBoost writes
_NUM = {b"i": ">i1", b"U": ">u1", b"I": ">i2", b"l": ">i4", b"L": ">i8", b"d": ">f4", b"D": ">f8"}
_STRUCT = {k: struct.Struct(">" + {"i1": "b", "u1": "B", "i2": "h", "i4": "i", "i8": "q", "f4": "f", "f8": "d"}[v[1:]])
           for k, v in _NUM.items()}


class _Reader:
    def __init__(self, data: bytes):
        self.b, self.i = data, 0

    def _take(self, n: int) -> bytes:
        out = self.b[self.i:self.i + n]
        if len(out) != n:
            raise ValueError("truncated UBJSON")
        self.i += n
        return out

    def _marker(self) -> bytes:
        b, i = self.b, self.i
        while b[i:i + 1] == b"N":              # no-op
            i += 1
        m = b[i:i + 1]
        if not m:
            raise ValueError("truncated UBJSON")
        self.i = i + 1
        return m

    def _number(self, m: bytes):
        st = _STRUCT[m]
        v = st.unpack_from(self.b, self.i)[0]
        self.i += st.size
        return v

    def _count(self) -> int:
        return int(self._number(self._marker()))

    def _string(self) -> str:
        return self._take(self._count()).decode("utf-8")

    def value(self, m: bytes | None = None):
        m = m or self._marker()
        if m in _NUM:
            return self._number(m)
        if m == b"S" or m == b"H":
            return self._string()
        if m == b"C":
            return self._take(1).decode()
        if m in (b"T", b"F"):
            return m == b"T"
        if m == b"Z":
            return None
        if m == b"[":
            return self._array()
        if m == b"{":
            return self._object()
        raise ValueError(f"unsupported UBJSON marker {m!r} at byte {self.i - 1}")

    def _container_header(self):
        typ = count = None
        m = self._marker()
        if m == b"$":
            typ = self._marker()
            m = self._marker()
        if m == b"#":
            count = self._count()
            m = None
        return typ, count, m

    def _array(self):
        typ, count, m = self._container_header()
        if typ in _NUM and count is not None:   # typed array: one read
            dt = np.dtype(_NUM[typ])
            return np.frombuffer(self._take(dt.itemsize * count), dt).astype(dt.newbyteorder("="))
        out = []
        if count is not None:
            for _ in range(count):
                out.append(self.value(typ))
            return out
        while m != b"]":
            out.append(self.value(m))
            m = self._marker()
        return out

    def _object(self):
        typ, count, m = self._container_header()
        out = {}
        if count is not None:
            for _ in range(count):
                k = self._string()
                out[k] = self.value(typ)
            return out
        while m != b"}":
            self.i -= 1                      # m was the key's length marker
            k = self._string()
            out[k] = self.value()
            m = self._marker()
        return out


def read_ubj(data: bytes):
    """Decode UBJSON bytes to dicts, lists, numbers, strings and numpy arrays (typed arrays)."""
    return _Reader(data).value()


class TreeEnsemble:
    """A ``gbtree`` booster's trees (padded to one size, kept flat); ``predict_proba`` as XGBoost's
    ``multi:softprob`` (softmax over base score + the sum of each class's leaves)."""

    def __init__(self, left, right, feature, threshold, default_left, tree_class, base_margin,
                 n_features: int, depth: int):
        self.base_margin = base_margin
        self.n_features, self.depth = int(n_features), int(depth)
        # Kept flat for evaluation: node k of tree t is t * size + k, and its two children
        # sit side by side in ``_child`` (left at 2i, right at 2i + 1), so each level is a
        # few 1-D gathers over all (face, tree) pairs.
        size = left.shape[1]
        offsets = (np.arange(len(left)) * size)[:, None]
        self._offsets = offsets.ravel().astype(np.int64)
        self._child = np.stack([left + offsets, right + offsets], axis=-1).ravel().astype(np.int64)
        self._feature = feature.ravel().astype(np.int64)
        self._threshold = threshold.ravel()
        self._default_left = default_left.ravel()
        self._class_sum = (np.asarray(tree_class)[:, None] == np.arange(len(base_margin))[None, :]).astype(np.float64)

    @classmethod
    def from_ubj(cls, path) -> "TreeEnsemble":
        model = read_ubj(Path(path).read_bytes())
        learner = model["learner"]
        objective = learner["objective"]["name"]
        booster = learner["gradient_booster"]
        if objective != "multi:softprob" or booster.get("name") != "gbtree":
            raise ValueError(f"{path}: a {booster.get('name')} {objective} booster; only gbtree "
                             "multi:softprob is evaluated here")
        param = learner["learner_model_param"]
        n_class = int(param["num_class"])
        base = np.array([float(v) for v in str(param["base_score"]).strip("[]").split(",")])
        if len(base) == 1:
            base = np.repeat(base, n_class)
        trees = booster["model"]["trees"]
        if any(len(t.get("categories_nodes", [])) for t in trees):
            raise ValueError(f"{path}: categorical splits are not supported")
        size = max(len(t["left_children"]) for t in trees)
        shape = (len(trees), size)
        left = np.zeros(shape, np.int32)
        right = np.zeros(shape, np.int32)
        feature = np.zeros(shape, np.int32)
        threshold = np.zeros(shape, np.float32)
        default_left = np.zeros(shape, bool)
        depth = 0
        for k, t in enumerate(trees):
            n = len(t["left_children"])
            lc, rc = np.asarray(t["left_children"]), np.asarray(t["right_children"])
            leaf = lc < 0
            idx = np.arange(n)
            # a leaf points to itself, so walking past it stays put; its value is in threshold
            left[k, :n] = np.where(leaf, idx, lc)
            right[k, :n] = np.where(leaf, idx, rc)
            feature[k, :n] = np.where(leaf, 0, np.asarray(t["split_indices"]))
            threshold[k, :n] = np.asarray(t["split_conditions"], np.float32)
            default_left[k, :n] = np.asarray(t["default_left"]).astype(bool)
            parents = np.asarray(t["parents"])[1:]
            d = np.zeros(n, int)
            while True:                        # a node's depth: its parent's + 1, to a fixed point
                new = d.copy()
                new[1:] = d[parents] + 1
                if np.array_equal(new, d):
                    break
                d = new
            depth = max(depth, int(d.max()))
        return cls(left, right, feature, threshold, default_left,
                   np.asarray(booster["model"]["tree_info"], np.int64), base,
                   int(param["num_feature"]), depth)

    def margins(self, x) -> np.ndarray:
        x = np.asarray(x, np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected (N, {self.n_features}) features, got shape {x.shape}")
        n = len(x)
        xf = x.ravel()
        row = (np.arange(n, dtype=np.int64) * self.n_features)[:, None]
        node = np.broadcast_to(self._offsets, (n, len(self._offsets)))
        for _ in range(self.depth):
            v = xf[row + self._feature[node]]
            go_right = ~(v < self._threshold[node])
            missing = np.isnan(v)
            if missing.any():
                go_right = np.where(missing, ~self._default_left[node], go_right)
            node = self._child[2 * node + go_right]
        return self.base_margin[None, :] + self._threshold[node].astype(np.float64) @ self._class_sum

    def predict_proba(self, x) -> np.ndarray:
        m = self.margins(x)
        e = np.exp(m - m.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

