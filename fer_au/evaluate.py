"""Metrics, reports and plots for emotion models: FER2013's labels (fer7, fer6) and the
FER+ voters' labels (fer8, ``ferplus_metrics``)."""
from __future__ import annotations

import time

import numpy as np

from .labels import (FER8, class_names, convert_labels, convert_proba, ferplus_exclusions,
                     ferplus_majority)


def metrics(proba_fer7, labels_fer7, scheme: str = "fer7") -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix.

    ``proba_fer7`` (N, 7) are fer7 probabilities (or (N, 8) fer8 ones); for ``fer6``
    Disgust's probability is folded into Angry before the arg-max, and labels likewise.
    For ``fer8`` (FER+'s eight, labels from ``labels.ferplus_majority``) a fer7 model's
    contempt probability is 0, so its contempt images all count as errors.  Rows whose
    label is negative (no label) are left out; ``n`` counts the rows scored.
    """
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    names = class_names(scheme)
    proba = convert_proba(proba_fer7, scheme)
    y_true = convert_labels(labels_fer7, scheme)
    keep = y_true >= 0
    if not keep.all():
        proba, y_true = proba[keep], y_true[keep]
    y_pred = proba.argmax(axis=1)
    labels = np.arange(len(names))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "scheme": scheme,
        "n": int(len(y_true)),
        "accuracy": float((y_pred == y_true).mean()) if len(y_true) else float("nan"),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "per_class": {n: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                          "support": int(s[i])} for i, n in enumerate(names)},
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "classes": list(names),
    }


def ferplus_metrics(proba, votes, rule: str = "majority") -> dict:
    """Score a model against the FER+ voters' labels of the same images.

    ``proba`` (N, 7) fer7 (or (N, 8) fer8) probabilities; ``votes`` (N, 10) FER+ votes
    (``FER2013.ferplus_votes``).  Images without a FER+ label under ``rule`` (not a
    face, unknown, no majority: ``labels.ferplus_majority``) are left out.  Returns

    * ``fer8``: metrics over all labelled images in FER+'s eight classes (a fer7
      model never predicts contempt, so the contempt images are always wrong for it);
    * ``fer7_subset``: metrics over the images whose FER+ label is one of FER2013's
      seven, scored in fer7 (an 8-class model's choice among the seven);
    * ``rule``, ``n_images`` and ``counts`` (``labels.ferplus_exclusions``), and
      ``model_classes`` (7 or 8).
    """
    proba = np.asarray(proba, dtype=np.float64)
    votes = np.asarray(votes)
    if len(proba) != len(votes):
        raise ValueError(f"{len(proba)} probability rows but {len(votes)} FER+ vote rows")
    y8 = ferplus_majority(votes, "fer8", rule)
    fer8 = metrics(proba, y8, "fer8")
    seven = (y8 >= 0) & (y8 < 7)
    fer7_subset = metrics(proba[seven], y8[seven], "fer7")
    return {"labels": "ferplus", "rule": rule, "n_images": int(len(votes)),
            "counts": ferplus_exclusions(votes, rule), "model_classes": int(proba.shape[1]),
            "fer8": fer8, "fer7_subset": fer7_subset}


FERPLUS_RULE_TEXT = {
    "majority": "FER+'s own majority rule: single votes dropped, top class > half of the rest",
    "plurality": "the top vote, ties left out",
}


def format_ferplus_report(r: dict, title: str = "") -> str:
    """Both FER+ figures, each saying which images and classes it covers."""
    c = r["counts"]
    lines = [title] if title else []
    lines.append(f"FER+ labels ({r['rule']}: {FERPLUS_RULE_TEXT.get(r['rule'], r['rule'])}): "
                 f"{c['labelled']} of {r['n_images']} images labelled; left out "
                 f"{c['unknown_or_not_face']} unknown/not-a-face and {c['no_majority']} without a majority")
    contempt = (f"this model predicts FER2013's 7 classes, so the {c['contempt']} contempt images "
                f"always count as errors" if r["model_classes"] == 7 else "the model predicts all 8")
    f8, f7 = r["fer8"], r["fer7_subset"]
    lines.append(f"FER+ 8-class accuracy (all {f8['n']} labelled images, {len(FER8)} classes incl. contempt; "
                 f"{contempt}): {f8['accuracy']:.4f}  macro-F1 {f8['macro_f1']:.4f}")
    lines.append(f"FER+ accuracy on the {f7['n']} images whose FER+ label is one of FER2013's 7: "
                 f"{f7['accuracy']:.4f}  macro-F1 {f7['macro_f1']:.4f}")
    lines.append("")
    lines.append(format_report(f8, title="per class, 8-class (fer8):"))
    return "\n".join(lines)


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
