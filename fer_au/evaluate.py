"""Metrics, reports and plots for emotion models (both label schemes)."""
from __future__ import annotations

import time

import numpy as np

from .labels import class_names, convert_labels, convert_proba


def metrics(proba_fer7, labels_fer7, scheme: str = "fer7") -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix.

    ``proba_fer7`` (N, 7) are fer7 probabilities; for ``fer6`` Disgust's
    probability is folded into Angry before the arg-max, and labels likewise.
    """
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    names = class_names(scheme)
    proba = convert_proba(proba_fer7, scheme)
    y_true = convert_labels(labels_fer7, scheme)
    y_pred = proba.argmax(axis=1)
    labels = np.arange(len(names))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "scheme": scheme,
        "n": int(len(y_true)),
        "accuracy": float((y_pred == y_true).mean()),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "per_class": {n: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                          "support": int(s[i])} for i, n in enumerate(names)},
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "classes": list(names),
    }


def format_report(m: dict, title: str = "") -> str:
    lines = [title] if title else []
    lines.append(f"{m['scheme']}: accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}  (n={m['n']})")
    lines.append(f"{'class':<10} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>7}")
    for name, c in m["per_class"].items():
        lines.append(f"{name:<10} {c['precision']:>9.3f} {c['recall']:>7.3f} {c['f1']:>6.3f} {c['support']:>7d}")
    return "\n".join(lines)


def plot_confusion(m: dict, path=None, title: str = "", ax=None, normalize: bool = True):
    """Draw the confusion matrix (row-normalised: each row shows recall); save to ``path`` if given."""
    import matplotlib
    if path is not None and ax is None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    cm = np.asarray(m["confusion"], dtype=float)
    shown = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(6.4, 5.4))
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    names = m["classes"]
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, f"{shown[i, j]:.2f}" if normalize else int(cm[i, j]), ha="center", va="center",
                    fontsize=8, color="white" if shown[i, j] > shown.max() / 2 else "black")
    ax.set_title(title or f"{m['scheme']} accuracy {m['accuracy']:.3f}")
    if own:
        ax.figure.colorbar(im, ax=ax, fraction=0.046)
        ax.figure.tight_layout()
        if path is not None:
            ax.figure.savefig(path, dpi=120)
            plt.close(ax.figure)
    return ax


def face_times_ms(model, faces, batch_size: int = 8, repeats: int = 20) -> list[float]:
    """Milliseconds per face of each of ``repeats`` ``model.predict_proba`` calls on one
    batch of ``batch_size`` faces, after a warm-up call."""
    batch = faces[:batch_size]
    model.predict_proba(batch)  # warm-up: graph tracing, lazy loads
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model.predict_proba(batch)
        times.append((time.perf_counter() - t) * 1000 / len(batch))
    return times


def ms_per_face(model, faces, batch_size: int = 8, repeats: int = 20) -> float:
    """Median milliseconds per face for ``model.predict_proba`` on batches of ``batch_size``."""
    return float(np.median(face_times_ms(model, faces, batch_size, repeats)))
