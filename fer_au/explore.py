"""Dataset exploration: duplicates, blank images, mean faces, label agreement, and
the picture grids the notebooks show.  Pure functions over arrays, so the
notebooks stay thin and the checks are tested."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from .labels import class_names


def image_hashes(images: np.ndarray) -> np.ndarray:
    """A content hash per image (exact pixel identity)."""
    return np.array([hashlib.blake2b(img.tobytes(), digest_size=8).hexdigest() for img in images])


def duplicate_groups(images: np.ndarray, labels=None, usage=None) -> pd.DataFrame:
    """Groups of pixel-identical images: one row per group with its size, the
    indices, whether the labels conflict, and whether it spans several splits
    (a leak between Training and the test splits)."""
    h = image_hashes(images)
    df = pd.DataFrame({"hash": h, "index": np.arange(len(h))})
    if labels is not None:
        df["label"] = np.asarray(labels)
    if usage is not None:
        df["usage"] = np.asarray(usage)
    groups = df[df.duplicated("hash", keep=False)].groupby("hash", sort=False)
    rows = []
    for _, g in groups:
        row = {"size": len(g), "indices": g["index"].tolist()}
        if labels is not None:
            row["labels"] = sorted(set(g["label"].tolist()))
            row["conflicting_labels"] = len(row["labels"]) > 1
        if usage is not None:
            row["splits"] = sorted(set(g["usage"].tolist()))
            row["cross_split"] = len(row["splits"]) > 1
        rows.append(row)
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=["size", "indices"])


def blank_images(images: np.ndarray, max_std: float = 2.0) -> np.ndarray:
    """Indices of images with (almost) no content: all one grey level, e.g. all black."""
    std = images.reshape(len(images), -1).std(axis=1)
    return np.flatnonzero(std <= max_std)


def intensity_stats(images: np.ndarray, labels, scheme: str = "fer7") -> pd.DataFrame:
    """Per-class brightness and contrast (mean and std of each image's pixels)."""
    flat = images.reshape(len(images), -1).astype(np.float32)
    df = pd.DataFrame({"class": np.array(class_names(scheme))[np.asarray(labels)],
                       "brightness": flat.mean(axis=1), "contrast": flat.std(axis=1)})
    return df.groupby("class").agg(["mean", "std"]).round(1)


def mean_faces(images: np.ndarray, labels, n_classes: int, standardize: bool = False) -> np.ndarray:
    """(n_classes, 48, 48) float mean image of each class.  ``standardize`` first scales
    each image to zero mean and unit std, so that brightness differences between
    classes do not hide the differences in shape."""
    labels = np.asarray(labels)
    if standardize:
        flat = images.reshape(len(images), -1).astype(np.float32)
        flat = (flat - flat.mean(axis=1, keepdims=True)) / np.maximum(flat.std(axis=1, keepdims=True), 1e-6)
        images = flat.reshape(images.shape)
    return np.stack([images[labels == c].mean(axis=0) if (labels == c).any()
                     else np.zeros(images.shape[1:]) for c in range(n_classes)])


def agreement_table(labels_a, labels_b, scheme: str = "fer7") -> pd.DataFrame:
    """Cross-tabulation of two labelings (rows: a, columns: b); -1 in b means 'no label'."""
    names = list(class_names(scheme))
    a = pd.Categorical(np.array(names)[np.asarray(labels_a)], categories=names)
    b_codes = np.asarray(labels_b)
    b = pd.Categorical(np.where(b_codes >= 0, np.array(names + ["none"])[b_codes], "none"),
                       categories=names + ["none"])
    return pd.crosstab(a, b, dropna=False, rownames=["FER2013"], colnames=["FER+"])


def face_grid(images, titles=None, n_cols: int = 8, size: float = 1.3, axes=None, title: str = ""):
    """Show images in a grid; ``titles`` label each cell."""
    import matplotlib.pyplot as plt

    images = list(images)
    n_rows = max(1, int(np.ceil(len(images) / n_cols)))
    if axes is None:
        fig, axes = plt.subplots(n_rows, n_cols, figsize=(n_cols * size, n_rows * size * 1.15))
    axes = np.atleast_1d(axes).ravel()
    for ax in axes:
        ax.axis("off")
    for i, img in enumerate(images):
        axes[i].imshow(img, cmap="gray", vmin=0, vmax=255)
        if titles is not None:
            axes[i].set_title(str(titles[i]), fontsize=8)
    if title:
        axes[0].figure.suptitle(title)
    axes[0].figure.tight_layout()
    return axes[0].figure


def samples_per_class(images, labels, n: int, scheme: str = "fer7", seed: int = 0):
    """Up to ``n`` random images of each class: (images, titles) ready for ``face_grid``
    with ``n_cols=n`` (one row per class)."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    out, titles = [], []
    for c, name in enumerate(class_names(scheme)):
        idx = rng.permutation(np.flatnonzero(labels == c))[:n]
        for j in range(n):
            out.append(images[idx[j]] if j < len(idx) else np.zeros(images.shape[1:], np.uint8))
            titles.append(name if j == 0 else "")
    return out, titles
