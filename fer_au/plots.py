"""Plots of results (matplotlib; every function returns its Axes or Figure).

    >>> from fer_au import read_results
    >>> from fer_au import plots
    >>> res = read_results("results.csv")
    >>> plots.plot_timeline(res, input="clip.mp4")       # AUs (+ running baseline) and emotions over time
    >>> plots.plot_aus(res.iloc[0])                      # AU bars of one face
    >>> plots.plot_detections("photo.jpg", res[res.input == "photo.jpg"])
    >>> plots.plot_face({"AU12": 3, "AU06": 2})          # a 68-point face drawn from AU intensities

``plot_face`` uses a linear AU -> face-shape model learned from FER2013
(``scripts/fit_au_face.py`` -> ``models/au_face.npz``): the 68 points in the AU
estimator's frontal head frame = intercept + sum of each AU's intensity times
its learned displacement.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from .labels import FER7

FACE_MODEL = "au_face.npz"
# The live overlay's colours (BGR there), as matplotlib RGB.
_PALETTE_BGR = [(255, 191, 0), (0, 200, 255), (80, 220, 100), (255, 80, 200), (60, 120, 255),
                (255, 255, 80), (200, 130, 255), (0, 255, 170)]
PALETTE = [(r / 255, g / 255, b / 255) for b, g, r in _PALETTE_BGR]
EMOTION_COLORS = {"anger": "#e6282a", "disgust": "#3c8c28", "fear": "#aa3caa", "happiness": "#f5c828",
                  "sadness": "#2878c8", "surprise": "#3cc8e6", "neutral": "#bebebe"}
# 68-point contours: (first, last, closed)
CONTOURS = [(0, 16, False), (17, 21, False), (22, 26, False), (27, 30, False), (31, 35, False),
            (36, 41, True), (42, 47, True), (48, 59, True), (60, 67, True)]


def _figure(figsize):
    """A figure not registered with pyplot (nothing to close, safe in loops and threads)."""
    from matplotlib.figure import Figure
    return Figure(figsize=figsize, layout="constrained")


def _color(i) -> tuple:
    try:
        return PALETTE[int(i) % len(PALETTE)]
    except (TypeError, ValueError):
        return PALETTE[abs(hash(str(i))) % len(PALETTE)]


# ------------------------------------------------------------------ timelines
def _binned(t, frame, n_max):
    """Average the rows of ``frame`` into at most ``n_max`` equal time bins (plots of
    long videos stay light); returns (bin times, averaged frame)."""
    t = np.asarray(t, float)
    if len(t) <= n_max:
        return t, frame
    span = max(t.max() - t.min(), 1e-9)
    b = np.minimum(((t - t.min()) / span * n_max).astype(int), n_max - 1)
    g = frame.groupby(b)
    return g.size().index.to_numpy() * span / n_max + t.min(), g.mean()


def plot_timeline(results, input=None, person=None, aus=None, n_aus: int = 6, emotions: bool = True,
                  baseline_seconds: float | None = 10.0, max_points: int = 1500, fig=None):
    """AU intensities (solid) with each one's running baseline (dashed: the median of
    the preceding ``baseline_seconds``, ``Results.baseline("running")``) and the
    emotion probabilities (stacked) of one person in one video, over time.

    input : the video (default: the first video in the table).
    person : a ``person_key()`` value (default: the one with most faces there).
    aus : AU codes to draw (default: the ``n_aus`` with the highest mean).
    Returns the Figure.
    """
    from .results import PRESENCE, Results

    res = results if isinstance(results, Results) else Results(results)
    video = res[res.is_video() & res.has_face]
    if input is None:
        if not len(video):
            raise ValueError("no video rows with faces to draw a timeline of")
        input = video["input"].iloc[0]
    sub = video[video["input"].astype(str) == str(input)]
    keys = sub.person_key()
    if person is None and len(sub):
        person = keys.value_counts().index[0]
    sub = sub[keys == person]
    if not len(sub):
        raise ValueError(f"no faces of {person!r} in {input!r}")
    sub = sub.iloc[np.argsort(sub["approx_time"].to_numpy(), kind="stable")]
    t = sub["approx_time"].to_numpy(float)
    if aus is None:
        aus = list(sub.aus.mean().sort_values(ascending=False).index[:n_aus])
    emo_cols = [c for c in FER7 if c in sub and sub[c].notna().any()]
    emo_names = emo_cols
    if not emo_cols:
        emo_cols = [f"au_{e}" for e in FER7 if f"au_{e}" in sub and sub[f"au_{e}"].notna().any()]
        emo_names = [c.removeprefix("au_") for c in emo_cols]
    panels = (1 if aus else 0) + (1 if emotions and emo_cols else 0)
    fig = fig or _figure((10, 2.6 * max(panels, 1)))
    axes = fig.subplots(max(panels, 1), 1, sharex=True, squeeze=False)[:, 0]
    i = 0
    if aus:
        ax = axes[i]
        i += 1
        tb, vals = _binned(t, sub[aus].astype(float).reset_index(drop=True), max_points)
        base = None
        if baseline_seconds:
            b = sub.baseline("running", seconds=baseline_seconds, columns=aus, subtract=False)
            base = _binned(t, b[aus].astype(float).reset_index(drop=True), max_points)[1]
        for k, code in enumerate(aus):
            c = f"C{k}"
            ax.plot(tb, vals[code].to_numpy(), color=c, lw=1.1, label=code)
            if base is not None:
                ax.plot(tb, base[code].to_numpy(), color=c, lw=1.0, ls="--", alpha=0.8)
        ax.axhline(PRESENCE, color="0.5", lw=0.8, ls=":")
        ax.set_ylabel("AU intensity (0-5)")
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
        note = f"dotted: presence threshold ({PRESENCE:g})"
        if base is not None:
            note = f"dashed: running baseline (median of the last {baseline_seconds:g} s); " + note
        ax.set_title(note, loc="right", fontsize=7, color="0.35")
    if emotions and emo_cols:
        ax = axes[i]
        tb, vals = _binned(t, sub[emo_cols].astype(float).fillna(0).reset_index(drop=True), max_points)
        ax.stackplot(tb, vals.to_numpy().T, labels=emo_names,
                     colors=[EMOTION_COLORS.get(n, "0.6") for n in emo_names], alpha=0.9, lw=0)
        ax.set_ylim(0, 1)
        ax.set_ylabel("emotion probability")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    axes[-1].set_xlabel("time (s)")
    axes[0].set_title(f"{Path(str(input)).name} - {person}", fontsize=10, loc="left")
    return fig


# ------------------------------------------------------------------ one face
def _values(obj, names) -> dict:
    """{name: float} from a dict, a pandas Series/row or a Face."""
    if hasattr(obj, "aus") and not hasattr(obj, "index") and isinstance(getattr(obj, "aus"), dict):
        obj = obj.aus
    out = {}
    for n in names:
        try:
            v = obj[n]
        except (KeyError, IndexError, TypeError):
            continue
        try:
            v = float(v)
        except (TypeError, ValueError):
            continue
        if np.isfinite(v):
            out[n] = v
    return out


def plot_aus(row, ax=None, threshold: float | None = None, names: bool = True):
    """Horizontal bars of one face's AU intensities (a results row, a dict or a
    ``Face``); AUs at or above the presence threshold are coloured.  Returns the Axes."""
    from .aus import AU_CODES, AU_NAMES
    from .results import PRESENCE

    threshold = PRESENCE if threshold is None else threshold
    codes = [c for c in (list(row.index) if hasattr(row, "index") else list(AU_CODES)) if str(c)[:2] == "AU"
             and len(str(c)) == 4] or list(AU_CODES)
    vals = _values(row, codes)
    codes = [c for c in codes if c in vals]
    if ax is None:
        ax = _figure((4.2, 0.22 * len(codes) + 0.8)).subplots()
    y = np.arange(len(codes))[::-1]
    v = np.array([vals[c] for c in codes])
    ax.barh(y, v, color=["#d55e00" if x >= threshold else "#9ab" for x in v], height=0.7)
    ax.axvline(threshold, color="0.4", lw=0.8, ls=":")
    ax.set_yticks(y, [f"{c} {AU_NAMES.get(c, '')}" if names else c for c in codes], fontsize=7)
    ax.set_xlim(0, 5)
    ax.set_xlabel("intensity (0-5)", fontsize=8)
    return ax


# ------------------------------------------------------------------ detections
def _rows_list(rows):
    import pandas as pd
    if isinstance(rows, pd.Series):
        return [rows]
    if isinstance(rows, pd.DataFrame):
        if "FaceRectX" in rows:
            rows = rows[rows["FaceRectX"].notna()]
        return [r for _, r in rows.iterrows()]
    return list(rows)


def _face_from_row(r):
    """A results row as an ``analyzer.Face`` (for the live overlay's drawing)."""
    from .analyzer import Face
    from .aus import AU_CODES
    box = tuple(float(r[c]) for c in ("FaceRectX", "FaceRectY", "FaceRectWidth", "FaceRectHeight"))
    lm = np.array([[r.get(f"x_{i}", np.nan), r.get(f"y_{i}", np.nan)] for i in range(68)], float)
    emo = _values(r, FER7) or None
    au_emo = {k.removeprefix("au_"): v for k, v in _values(r, [f"au_{e}" for e in FER7]).items()} or None
    who = r.get("person")
    fid = r.get("face_id")
    ident = who if who is not None and str(who) not in ("", "nan", "<NA>") else fid
    try:
        ident = int(float(ident))
    except (TypeError, ValueError):
        ident = 0
    return Face(box=box, score=r.get("FaceScore"), landmarks=lm, aus=_values(r, AU_CODES) or None,
                emotions=emo, au_emotions=au_emo, face_id=ident)


def _load_image(image, color="bgr"):
    """BGR uint8 from a path or an array (``color`` says an array's channel order)."""
    from .media import read_image, to_bgr
    if isinstance(image, (str, Path)):
        return read_image(str(image))
    return to_bgr(image, color)


def annotate(image, rows, n_aus: int = 3, landmarks: bool = True, color: str = "bgr") -> np.ndarray:
    """The live overlay (``live.draw_face``: box, id, emotion bars, strongest AUs) and
    the landmarks drawn with OpenCV on a copy of ``image``; returns BGR.  Fast: the
    report's thumbnails use it."""
    import cv2

    from .aus import AU_NAMES
    from .live import draw_face
    img = _load_image(image, color).copy()
    faces = [_face_from_row(r) for r in _rows_list(rows)]
    boxes = [(int(f.box[0]), int(f.box[1]) - 22, int(f.box[0] + f.box[2]), int(f.box[1] + f.box[3]))
             for f in faces]
    if landmarks:
        r = max(1, int(round(max(img.shape[:2]) / 600)))
        for f in faces:
            for x, y in f.landmarks:
                if np.isfinite(x) and np.isfinite(y):
                    cv2.circle(img, (int(round(x)), int(round(y))), r, (80, 255, 80), -1, cv2.LINE_AA)
    placed = []
    for i, f in enumerate(faces):
        p = draw_face(img, f, AU_NAMES, n_aus=n_aus, avoid=placed + boxes[:i] + boxes[i + 1:])
        if p is not None:
            placed.append(p)
    return img


def plot_detections(image, rows, ax=None, n_aus: int = 3, landmarks: bool = True, color: str = "bgr"):
    """An image with its faces from results rows: box (one colour per person or
    face id), 68 landmarks, top emotion and the strongest AUs, as the live overlay
    shows them.  ``image``: a path or an array (``color`` = its channel order).
    Returns the Axes."""
    from matplotlib.patches import Rectangle

    from .aus import AU_NAMES
    bgr = _load_image(image, color)
    rgb = bgr[..., ::-1]
    if ax is None:
        h, w = rgb.shape[:2]
        ax = _figure((7, 7 * h / max(w, 1))).subplots()
    ax.imshow(rgb)
    for r in _rows_list(rows):
        f = _face_from_row(r)
        c = _color(f.face_id)
        x, y, w, h = f.box
        ax.add_patch(Rectangle((x, y), w, h, fill=False, ec=c, lw=2))
        if landmarks and np.isfinite(f.landmarks).all():
            ax.scatter(f.landmarks[:, 0], f.landmarks[:, 1], s=3, color="#50ff50", linewidths=0)
        top = f.top_emotion
        label = f"#{f.face_id}" + (f" {top[0]} {top[1] * 100:.0f}%" if top else "")
        ax.text(x, y - 4, label, color="black", fontsize=8, va="bottom",
                bbox=dict(facecolor=c, edgecolor="none", pad=1.5))
        strongest = f.strongest_aus(n_aus)
        if strongest:
            ax.text(x, y + h + 4, "\n".join(f"{k} {AU_NAMES.get(k, '')} {v:.1f}" for k, v in strongest),
                    color="#b4ffb4", fontsize=7, va="top", bbox=dict(facecolor="black", alpha=0.55, pad=1.5))
    ax.set_axis_off()
    return ax


# ------------------------------------------------------------------ plot_face
@lru_cache(maxsize=4)
def load_face_model(models_dir=None) -> dict:
    """The shipped AU -> face-shape model (sha256-checked): ``intercept`` (68, 2),
    ``coef`` (n_aus, 68, 2), ``au_codes``."""
    from . import zoo
    with np.load(zoo.verified_path(FACE_MODEL, models_dir)) as z:
        return {"intercept": z["intercept"].astype(np.float64), "coef": z["coef"].astype(np.float64),
                "au_codes": [str(c) for c in z["au_codes"]], "n_faces": int(z["n_faces"])}


def face_shape(aus=None, model: dict | None = None) -> np.ndarray:
    """The (68, 2) face (canonical 48-px frontal frame, y down) for AU intensities:
    a dict / Series (missing AUs = 0) or an array in the model's AU order."""
    model = model or load_face_model()
    codes = model["au_codes"]
    if aus is None:
        v = np.zeros(len(codes))
    elif isinstance(aus, (list, tuple, np.ndarray)):
        v = np.asarray(aus, float)
        if v.shape != (len(codes),):
            raise ValueError(f"expected {len(codes)} AU intensities in the order {codes}, got shape {v.shape}")
    else:
        vals = _values(aus, codes)
        unknown = [k for k in (aus.keys() if hasattr(aus, "keys") else []) if str(k)[:2] == "AU" and k not in codes]
        if unknown:
            raise ValueError(f"the face model has no {unknown}; it knows {codes}")
        v = np.array([vals.get(c, 0.0) for c in codes])
    return model["intercept"] + np.tensordot(np.clip(v, 0, 5), model["coef"], axes=1)


def plot_face(aus=None, ax=None, neutral: bool = True, color="#d55e00", title: str | None = None,
              model: dict | None = None):
    """Draw the 68-point face that the learned linear model gives for these AU
    intensities (dict, Series, results row or array; 0-5 scale), over the face with
    all AUs at 0 in grey (``neutral``).  Returns the Axes."""
    shape = face_shape(aus, model)
    if ax is None:
        ax = _figure((3, 3.4)).subplots()
    if neutral:
        _draw_shape(ax, face_shape(None, model), color="0.75", lw=1.2)
    _draw_shape(ax, shape, color=color, lw=1.8)
    ax.set_aspect("equal")
    ax.set_xlim(0, 48)
    ax.set_ylim(56, 4)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def _draw_shape(ax, pts, color, lw):
    for a, b, closed in CONTOURS:
        idx = list(range(a, b + 1)) + ([a] if closed else [])
        ax.plot(pts[idx, 0], pts[idx, 1], color=color, lw=lw, solid_capstyle="round")


def to_png(fig, dpi: int = 90) -> bytes:
    """A figure (or an Axes' figure) as PNG bytes."""
    import io
    fig = getattr(fig, "figure", fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
