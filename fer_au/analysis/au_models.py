"""What the AU emotion models learned: SHAP importances and effects per AU, and each
emotion's learned AU profile beside its EMFACS prototype (notebooks, bench/aus.py)."""
from __future__ import annotations

import numpy as np

from ..aus import AU_CODES, EMFACS
from ..labels import FER7
from ..au_models import AUEmotionModel


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
