"""Results you can analyse: ``read_results(path)`` -> a :class:`Results` table.

    >>> from fer_au import read_results
    >>> res = read_results("results.csv")         # fer_au, py-feat or OpenFace 2 CSV (or Parquet)
    >>> res.aus.mean()                             # column groups: .aus .au_presence .emotions
    >>> res.summary(by="person")                   #   .au_emotions .landmarks .pose .boxes .info
    >>> res.baseline("median", seconds=10)         # AUs/emotions minus each person's baseline
    >>> res.resample(5)                            # video rows averaged to 5 per second
    >>> res.top_emotion().value_counts()

``Results`` is a pandas DataFrame subclass (like py-feat's ``Fex``): every
pandas operation works and keeps the type, and ``res.to_csv(path, index=False)``
reads back equal.  Two pandas names are taken over: ``.info`` is the
input/frame/time/id/model columns (pandas' summary is ``pd.DataFrame.info(res)``)
and ``resample(fps)`` takes frames per second (a pandas rule string still goes
to pandas' own resample).

Other tools' tables are mapped onto fer_au's columns (docs/results.md):

* py-feat: names are already fer_au's; its AU columns are presence
  probabilities (0-1), so they become 0-5 intensities x5 (as
  ``fer_au.pyfeat_backend`` does) and ``AUxx_c`` presence columns (p >= 0.5).
* OpenFace 2 (FeatureExtraction / FaceLandmarkImg): header spaces stripped,
  ``AUxx_r`` -> ``AUxx`` (already 0-5), ``AUxx_c`` kept, ``pose_Rx/Ry/Rz``
  (radians) -> ``Pitch/Yaw/Roll`` (degrees), ``confidence`` -> ``FaceScore``,
  ``timestamp`` -> ``approx_time``, 1-based ``frame`` -> 0-based, the face box
  from the landmarks' extent, rows with ``success`` 0 -> no face; ``input`` is
  the CSV's name without its suffix (pass ``input=`` to choose).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .labels import FER7
from .output import (AU_EMOTION_COLUMNS, ERROR_COLUMN, FACE_COLUMNS, LANDMARK_COLUMNS, MODEL_COLUMNS,
                     POSE_COLUMNS)

PRESENCE = 2.0               # fer_au's AU presence threshold on the 0-5 scale (aus.DEFAULT_PRESENCE)
PERSON = "person"
WARNING = "warning"
INFO_COLUMNS = ["input", "frame", "approx_time", "face_id", PERSON] + MODEL_COLUMNS + [ERROR_COLUMN, WARNING, "backend"]
TEXT_COLUMNS = ["input", PERSON, ERROR_COLUMN, WARNING, "backend"] + MODEL_COLUMNS
_AU = re.compile(r"^AU\d\d$")
_AU_C = re.compile(r"^AU\d\d_c$")


class Results(pd.DataFrame):
    """A results table with column groups (see the module docstring)."""

    @property
    def _constructor(self):
        return Results

    # ------------------------------------------------------------ column groups
    def _group(self, cols) -> pd.DataFrame:
        return pd.DataFrame(self[[c for c in cols if c in self.columns]])

    @property
    def au_codes(self) -> list[str]:
        """The AU intensity columns present (AU01, AU02, ...), in table order."""
        return [c for c in self.columns if _AU.match(str(c))]

    @property
    def aus(self) -> pd.DataFrame:
        """AU intensities, 0-5 (NaN where there is no face)."""
        return self._group(self.au_codes)

    @property
    def au_presence(self) -> pd.DataFrame:
        """AU present (nullable boolean): the tool's own presence column (``AUxx_c``)
        where it has one, else intensity >= ``PRESENCE``; <NA> where there is no face."""
        out = {}
        codes = self.au_codes + [c[:-2] for c in self.columns if _AU_C.match(str(c)) and c[:-2] not in self]
        for code in codes:
            v = pd.to_numeric(self[f"{code}_c"] if f"{code}_c" in self else self[code], errors="coerce")
            present = (v >= 0.5) if f"{code}_c" in self else (v >= PRESENCE)
            out[code] = present.astype("boolean").mask(v.isna())
        return pd.DataFrame(out, index=self.index)

    @property
    def emotions(self) -> pd.DataFrame:
        """Probabilities of the main emotion model (anger ... neutral)."""
        return self._group(FER7)

    @property
    def au_emotions(self) -> pd.DataFrame:
        """Probabilities of the AU-XGBoost emotion model (au_anger ... au_neutral)."""
        return self._group(AU_EMOTION_COLUMNS)

    @property
    def landmarks(self) -> pd.DataFrame:
        """The 68 points, x_0..x_67 then y_0..y_67 (pixels); ``landmark_array()`` gives (N, 68, 2)."""
        return self._group(LANDMARK_COLUMNS)

    @property
    def pose(self) -> pd.DataFrame:
        """Head pose: Pitch, Roll, Yaw (degrees)."""
        return self._group(POSE_COLUMNS)

    @property
    def boxes(self) -> pd.DataFrame:
        """Face boxes: FaceRectX, FaceRectY, FaceRectWidth, FaceRectHeight (pixels) and FaceScore."""
        return self._group(FACE_COLUMNS)

    @property
    def info(self) -> pd.DataFrame:  # noqa: D401 - replaces pandas' info() on purpose
        """input, frame, approx_time, face_id, person, the model names, error, warning."""
        return self._group(INFO_COLUMNS)

    def landmark_array(self) -> np.ndarray:
        """(N, 68, 2) landmarks (NaN where there is no face)."""
        xs = self.reindex(columns=[f"x_{i}" for i in range(68)]).to_numpy(np.float64)
        ys = self.reindex(columns=[f"y_{i}" for i in range(68)]).to_numpy(np.float64)
        return np.stack([xs, ys], axis=-1)

    # ------------------------------------------------------------ row sets
    @property
    def has_face(self) -> pd.Series:
        """True on rows that hold a face: a box (every source has one), else AUs."""
        if "FaceRectX" in self and self["FaceRectX"].notna().any():
            return self["FaceRectX"].notna()
        if self.au_codes:
            return self[self.au_codes].notna().any(axis=1)
        return pd.Series(False, index=self.index)

    def faces(self) -> "Results":
        """Only the rows with a face."""
        return self[self.has_face]

    def errors(self) -> "Results":
        """Only the rows whose ``error`` is set (inputs or frames that could not be analysed)."""
        if ERROR_COLUMN not in self:
            return self.iloc[:0]
        e = self[ERROR_COLUMN]
        return self[e.notna() & (e.astype(str).str.len() > 0)]

    def is_video(self) -> pd.Series:
        """True on rows from a video (they have a time)."""
        return self["approx_time"].notna() if "approx_time" in self else pd.Series(False, index=self.index)

    def person_key(self) -> pd.Series:
        """Who each face row is: the ``person`` id (``analyze --identities``), else the
        track ``input#face_id`` (an id only within one input); NaN on rows without a face."""
        inp = self["input"].astype(str) if "input" in self else pd.Series("", index=self.index)
        fid = self["face_id"] if "face_id" in self else pd.Series(0, index=self.index)
        track = inp + "#" + fid.astype("Int64").astype(str)
        key = track
        if PERSON in self:
            p = self[PERSON]
            key = ("person " + p.astype(str)).where(p.notna(), track)
        return key.where(self.has_face)

    # ------------------------------------------------------------ analysis
    def top_emotion(self, model: str = "auto") -> pd.Series:
        """Name of the most likely emotion on each row (NaN without a face).

        model : "main" (the CNN's columns), "au" (the AU-XGBoost model's) or
            "auto": the main model where it has values, else the AU model."""
        def top(cols, names):
            if not cols:
                return pd.Series(np.nan, index=self.index, dtype=object)
            a = self[cols].to_numpy(np.float64)
            ok = ~np.isnan(a).all(axis=1)
            idx = np.argmax(np.where(np.isnan(a), -np.inf, a), axis=1)
            out = np.where(ok, np.array(names, dtype=object)[idx], None)
            return pd.Series(out, index=self.index, dtype=object).where(ok, np.nan)

        main_cols = [c for c in FER7 if c in self]
        au_cols = [c for c in AU_EMOTION_COLUMNS if c in self]
        main = top(main_cols, main_cols)
        au = top(au_cols, [c.removeprefix("au_") for c in au_cols])
        if model == "main":
            return main.rename("top_emotion")
        if model == "au":
            return au.rename("top_emotion")
        if model != "auto":
            raise ValueError(f"model must be 'main', 'au' or 'auto', not {model!r}")
        return main.where(main.notna(), au).rename("top_emotion")

    def _keys(self, by):
        if by == "input":
            return self["input"].astype(str)
        if by == "person":
            return self.person_key()
        if by is None:
            return pd.Series("all", index=self.index)
        raise ValueError(f"by must be 'input', 'person' or None, not {by!r}")

    def summary(self, by: str | None = "input") -> pd.DataFrame:
        """One row per input (or person, or None: the whole table).

        Columns: ``rows`` (by input: also no-face and error rows), ``faces``,
        ``seconds`` (video span), ``top_emotion`` and ``top_emotion_pct`` (its share
        of the faces), ``top_<emotion>_pct`` for each emotion, then per AU
        ``AUxx_mean``, ``AUxx_median``, ``AUxx_max``, ``AUxx_present_pct`` (% of faces
        with the AU present) and per emotion ``<emotion>_mean/_median/_max``.
        """
        keys = self._keys(by)
        face = self.has_face
        fk = keys[face]
        faces = self[face]
        groups = pd.unique(keys.dropna()) if by != "person" else pd.unique(fk.dropna())
        out = pd.DataFrame(index=pd.Index(groups, name=by or "all"))
        out["rows"] = keys.value_counts().reindex(out.index).fillna(0).astype(int)
        out["faces"] = fk.value_counts().reindex(out.index).fillna(0).astype(int)
        if by != "person" and len(self):
            out["errors"] = keys[self.errors().index].value_counts().reindex(out.index).fillna(0).astype(int)
        if "approx_time" in self:
            t = faces["approx_time"].groupby(fk)
            out["seconds"] = (t.max() - t.min()).reindex(out.index)
        top = faces.top_emotion()
        if top.notna().any():
            names = list(FER7)
            shares = pd.crosstab(fk, top, normalize="index").reindex(columns=names, fill_value=0) * 100
            shares = shares.reindex(out.index)            # groups without faces: NaN, no top emotion
            seen = shares.notna().any(axis=1)
            out["top_emotion"] = shares.fillna(-1).idxmax(axis=1).where(seen)
            out["top_emotion_pct"] = shares.max(axis=1)
            for e in names:
                out[f"top_{e}_pct"] = shares[e]
        stats = []
        aus = faces.au_codes
        if aus:
            g = faces[aus].groupby(fk, sort=False)
            parts = {"mean": g.mean(), "median": g.median(), "max": g.max(),
                     "present_pct": faces.au_presence[aus].astype(float).groupby(fk, sort=False).mean() * 100}
            stats += [parts[s][c].rename(f"{c}_{s}") for c in aus for s in ("mean", "median", "max", "present_pct")]
        emo = [c for c in list(FER7) + AU_EMOTION_COLUMNS if c in faces]
        if emo:
            g = faces[emo].groupby(fk, sort=False)
            parts = {"mean": g.mean(), "median": g.median(), "max": g.max()}
            stats += [parts[s][c].rename(f"{c}_{s}") for c in emo for s in ("mean", "median", "max")]
        if stats:
            out = pd.concat([out, pd.concat(stats, axis=1).reindex(out.index)], axis=1)
        return out

    def _time(self) -> pd.Series:
        """Seconds for ordering and windows: approx_time, else the row order."""
        t = self["approx_time"] if "approx_time" in self else pd.Series(np.nan, index=self.index)
        return t.astype(float).where(t.notna(), pd.Series(np.arange(len(self), dtype=float), index=self.index))

    def _data_columns(self, columns) -> list[str]:
        if columns is None:
            return self.au_codes + [c for c in list(FER7) + AU_EMOTION_COLUMNS if c in self]
        groups = {"aus": self.au_codes, "emotions": [c for c in FER7 if c in self],
                  "au_emotions": [c for c in AU_EMOTION_COLUMNS if c in self]}
        if isinstance(columns, str):
            columns = [columns]
        out = []
        for c in columns:
            out += groups.get(c, [c])
        return out

    def baseline(self, method: str = "median", seconds: float | None = None, columns=None,
                 subtract: bool = True) -> "Results":
        """Each person's AUs and emotions referenced to that person's own baseline.

        method : "median" (default) or "mean" of the person's rows - of their first
            ``seconds`` only when given (e.g. a neutral lead-in); "first": their
            first row (the mean of their first ``seconds`` when given); "running":
            the median of the preceding ``seconds`` (default 10) of that person,
            which follows slow drifts (what the timelines draw).
        columns : which columns to correct: None (AUs and both emotion groups), a
            group name ("aus", "emotions", "au_emotions") or a list of columns.
        subtract : False returns the baseline values themselves (same shape).

        People are ``person_key()``: the ``person`` column, else the track within
        an input.  Corrected values can be negative (below the person's baseline).
        """
        cols = self._data_columns(columns)
        keys = self.person_key()
        t = self._time()
        base = pd.DataFrame(np.nan, index=self.index, columns=cols)
        for _, idx in keys.groupby(keys, sort=False).groups.items():
            part = self.loc[idx, cols].astype(float)
            tt = t.loc[idx]
            order = np.argsort(tt.to_numpy(), kind="stable")
            part, tt = part.iloc[order], tt.iloc[order]
            if method == "running":
                window = 10.0 if seconds is None else float(seconds)
                dt = np.nanmedian(np.diff(tt.to_numpy())) if len(tt) > 1 else 1.0
                n = max(1, int(round(window / dt))) if dt > 0 else 1
                base.loc[part.index] = part.rolling(n, min_periods=1).median().to_numpy()
                continue
            lead = part if seconds is None else part[tt <= tt.iloc[0] + float(seconds)]
            if method == "median":
                ref = lead.median()
            elif method == "mean":
                ref = lead.mean()
            elif method == "first":
                ref = (part.iloc[:1] if seconds is None else lead).mean()
            else:
                raise ValueError(f"method must be 'median', 'mean', 'first' or 'running', not {method!r}")
            base.loc[part.index] = np.broadcast_to(ref.to_numpy(), part.shape)
        out = self.copy()
        out[cols] = (self[cols].astype(float) - base) if subtract else base
        return out

    def resample(self, fps=None, *args, **kwargs):
        """Video rows averaged into bins of 1/fps seconds per input and person
        (``person_key``); numbers are averaged, ``frame`` is the bin's first frame,
        ``approx_time`` the bin's start, text columns the first value.  Image rows
        and error rows are kept as they are; video frames without a face are dropped.
        A pandas rule (a string or offset) goes to pandas' own ``DataFrame.resample``."""
        if fps is None:                                    # resample(rule=...): pandas'
            return super().resample(*args, **kwargs)
        if isinstance(fps, str) or args or kwargs or not np.isscalar(fps):
            return super().resample(fps, *args, **kwargs)
        fps = float(fps)
        if fps <= 0:
            raise ValueError("fps must be > 0")
        video = self.is_video()
        error = pd.Series(self.index.isin(self.errors().index), index=self.index)
        rest = self[~video | error]               # images and error rows, unchanged
        v = self[video & self.has_face]
        if not len(v):
            return self.copy()
        keys = [v["input"].astype(str), v.person_key().rename("_who"),
                np.floor(v["approx_time"].astype(float) * fps + 1e-9).astype(np.int64).rename("_bin")]
        g = v.groupby(keys, sort=False)
        num = [c for c in v.columns if pd.api.types.is_numeric_dtype(v[c]) and c not in ("frame", "face_id")]
        other = [c for c in v.columns if c not in num]
        parts = [g[num].mean()]
        if other:
            parts.append(g[other].first())
        binned = pd.concat(parts, axis=1)
        if "frame" in v:
            binned["frame"] = g["frame"].min()
        binned["approx_time"] = binned.index.get_level_values("_bin") / fps
        binned = binned.reset_index(drop=True)[list(self.columns)]
        out = pd.concat([rest, binned], ignore_index=True)
        return Results(_typed(out))

    # ------------------------------------------------------------ plots
    def plot_timeline(self, input=None, person=None, **kwargs):
        """AU and emotion timelines of one person in a video (``plots.plot_timeline``)."""
        from .plots import plot_timeline
        return plot_timeline(self, input=input, person=person, **kwargs)

    def plot_aus(self, row=0, **kwargs):
        """Bars of the AU intensities of one face (row position)."""
        from .plots import plot_aus
        return plot_aus(self.iloc[row], **kwargs)

    def plot_detections(self, input=None, frame=0, image=None, **kwargs):
        """An image (``input``'s file unless ``image`` is given) with its faces drawn."""
        from .plots import plot_detections
        inp = input if input is not None else self["input"].iloc[0]
        rows = self[(self["input"].astype(str) == str(inp)) & (self["frame"] == frame)]
        return plot_detections(inp if image is None else image, rows, **kwargs)

    def plot_face(self, row=0, **kwargs):
        """The 68-point face drawn from one row's AU intensities (``plots.plot_face``)."""
        from .plots import plot_face
        return plot_face(self.iloc[row][self.au_codes], **kwargs)


# ---------------------------------------------------------------- reading
def read_results(path, *, kind: str = "auto", input: str | None = None) -> Results:
    """Read a results table: fer_au's CSV or Parquet, py-feat's CSV or OpenFace 2's CSV.

    kind : "auto" (from the header), "fer_au", "pyfeat" or "openface".
    input : the ``input`` value for OpenFace tables (default: the file name without suffix).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such results file")
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            df = pd.read_parquet(path)
        except ImportError as exc:
            raise ImportError(f"{path}: reading Parquet needs pyarrow: pip install 'fer_au[parquet]'") from exc
        header = [str(c) for c in df.columns]
    else:
        df = None
        with open(path, newline="", encoding="utf-8-sig") as fh:
            header = [c.strip() for c in fh.readline().rstrip("\r\n").split(",")]
    if kind == "auto":
        kind = detect_kind(header)
        if kind is None:
            raise ValueError(f"{path}: not a results table fer_au knows (no fer_au, py-feat or OpenFace columns)")
    if kind == "fer_au":
        if df is None:
            df = pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS if c in header}, low_memory=False)
        return Results(_typed(_drop_index_column(df)))
    if kind == "openface":
        if df is None:
            df = pd.read_csv(path, skipinitialspace=True, low_memory=False)
        return Results(_typed(from_openface(df, input or path.stem)))
    if kind == "pyfeat":
        if df is None:
            df = pd.read_csv(path, dtype={"input": str}, low_memory=False)
        return Results(_typed(from_pyfeat(_drop_index_column(df))))
    raise ValueError(f"kind must be 'auto', 'fer_au', 'pyfeat' or 'openface', not {kind!r}")


def detect_kind(header) -> str | None:
    cols = {str(c).strip() for c in header}
    if cols & set(MODEL_COLUMNS):
        return "fer_au"
    if any(re.match(r"^AU\d\d_r$", c) for c in cols) or {"confidence", "success"} <= cols:
        return "openface"
    if "FaceRectX" in cols or any(_AU.match(c) for c in cols):
        return "pyfeat"
    return None


def _drop_index_column(df: pd.DataFrame) -> pd.DataFrame:
    """A table written with pandas' default index=True has a leading 'Unnamed: 0'."""
    first = str(df.columns[0]) if len(df.columns) else ""
    return df.drop(columns=[first]) if first.startswith("Unnamed: 0") or first == "" else df


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """The same dtypes whatever the source: frame/face_id as nullable ints, text as
    strings, everything else as floats - so a table written and read back is equal."""
    df = df.copy()
    for c in ("frame", "face_id"):
        if c in df:
            df[c] = pd.to_numeric(df[c], errors="coerce").round().astype("Int64")
    for c in TEXT_COLUMNS:
        if c in df:
            s = df[c]
            if pd.api.types.is_float_dtype(s):   # an id column pandas read as numbers
                s = s.astype("Int64")
            df[c] = s.astype(str).where(s.notna(), np.nan)   # missing stays missing (pandas 2 and 3)
    for c in df.columns:
        if c not in TEXT_COLUMNS and c not in ("frame", "face_id") and not pd.api.types.is_float_dtype(df[c]):
            conv = pd.to_numeric(df[c], errors="coerce")
            if conv.notna().sum() == df[c].notna().sum():   # only truly numeric columns
                df[c] = conv.astype(float)
    return df.reset_index(drop=True)


def from_openface(df: pd.DataFrame, input_name: str) -> pd.DataFrame:
    """OpenFace 2's columns -> fer_au's (module docstring)."""
    df = df.rename(columns=lambda c: str(c).strip())
    n = len(df)
    out: dict = {"input": pd.Series([str(input_name)] * n)}
    if "frame" in df:
        out["frame"] = pd.to_numeric(df["frame"], errors="coerce") - 1
    else:
        out["frame"] = pd.Series(np.zeros(n, int))
    out["approx_time"] = pd.to_numeric(df["timestamp"], errors="coerce") if "timestamp" in df else np.nan
    fid = df["face_id"] if "face_id" in df else df["face"] if "face" in df else pd.Series(np.zeros(n, int))
    out["face_id"] = pd.to_numeric(fid, errors="coerce")
    xs = df.reindex(columns=[f"x_{i}" for i in range(68)]).apply(pd.to_numeric, errors="coerce")
    ys = df.reindex(columns=[f"y_{i}" for i in range(68)]).apply(pd.to_numeric, errors="coerce")
    out["FaceRectX"], out["FaceRectY"] = xs.min(axis=1), ys.min(axis=1)
    out["FaceRectWidth"], out["FaceRectHeight"] = xs.max(axis=1) - out["FaceRectX"], ys.max(axis=1) - out["FaceRectY"]
    out["FaceScore"] = pd.to_numeric(df["confidence"], errors="coerce") if "confidence" in df else np.nan
    for i in range(68):
        out[f"x_{i}"] = xs[f"x_{i}"]
    for i in range(68):
        out[f"y_{i}"] = ys[f"y_{i}"]
    for ours, theirs in (("Pitch", "pose_Rx"), ("Roll", "pose_Rz"), ("Yaw", "pose_Ry")):
        out[ours] = np.degrees(pd.to_numeric(df[theirs], errors="coerce")) if theirs in df else np.nan
    codes = sorted({c[:4] for c in df.columns if re.match(r"^AU\d\d_[rc]$", c)})
    for code in codes:
        if f"{code}_r" in df:
            out[code] = pd.to_numeric(df[f"{code}_r"], errors="coerce").clip(0, 5)
    for code in codes:
        if f"{code}_c" in df:
            out[f"{code}_c"] = pd.to_numeric(df[f"{code}_c"], errors="coerce")
    for m in MODEL_COLUMNS:
        out[m] = "openface-2" if m in ("face_model", "landmark_model", "au_model") else ""
    out[ERROR_COLUMN] = ""
    res = pd.DataFrame({k: (v if isinstance(v, pd.Series) else pd.Series([v] * n)) for k, v in out.items()})
    if "success" in df:   # OpenFace writes zeros where it lost the face: no face there
        lost = pd.to_numeric(df["success"], errors="coerce").fillna(0) == 0
        face_cols = [c for c in res.columns if c not in ("input", "frame", "approx_time", *MODEL_COLUMNS, ERROR_COLUMN)]
        res.loc[lost, face_cols] = np.nan
    for m in MODEL_COLUMNS + [ERROR_COLUMN]:
        res[m] = res[m].replace("", np.nan)
    return res


def from_pyfeat(df: pd.DataFrame) -> pd.DataFrame:
    """py-feat's Fex columns -> fer_au's (module docstring)."""
    from .pyfeat_backend import PYFEAT_AU_SCALE, _au_columns

    n = len(df)
    out: dict = {}
    out["input"] = df["input"].astype(str) if "input" in df else pd.Series([""] * n)
    out["frame"] = pd.to_numeric(df["frame"], errors="coerce").fillna(0) if "frame" in df else pd.Series(np.zeros(n))
    out["approx_time"] = pd.to_numeric(df["approx_time"], errors="coerce") if "approx_time" in df else np.nan
    if "face_id" in df:
        out["face_id"] = pd.to_numeric(df["face_id"], errors="coerce")
    else:
        out["face_id"] = pd.DataFrame({"i": out["input"], "f": out["frame"]}).groupby(["i", "f"]).cumcount()
    for c in FACE_COLUMNS + LANDMARK_COLUMNS + POSE_COLUMNS:
        out[c] = pd.to_numeric(df[c], errors="coerce") if c in df else np.nan
    aus = _au_columns(df.columns)
    codes = sorted(aus)
    for code in codes:
        col, kind = aus[code]
        v = pd.to_numeric(df[col], errors="coerce").astype(float)
        out[code] = (v * PYFEAT_AU_SCALE if kind in ("prob", "c") else v).clip(0, 5)
    for code in codes:
        col, kind = aus[code]
        if kind == "prob":
            v = pd.to_numeric(df[col], errors="coerce")
            out[f"{code}_c"] = (v >= 0.5).astype(float).where(v.notna())
    for e in FER7:
        out[e] = pd.to_numeric(df[e], errors="coerce") if e in df else np.nan
    for m in MODEL_COLUMNS:
        out[m] = "py-feat" if m != "au_emotion_model" else np.nan
    out[ERROR_COLUMN] = np.nan
    return pd.DataFrame({k: (v if isinstance(v, pd.Series) else pd.Series([v] * n)) for k, v in out.items()})


# ---------------------------------------------------------------- synthetic tables
def synthetic_results(seconds: float = 10.0, fps: float = 30.0, persons: int = 1, input: str = "video.mp4",
                      images: int = 0, seed: int = 0, person_column: bool = True) -> Results:
    """A results table with every real column and plausible synthetic values
    (smooth AU random walks, emotion probabilities that sum to 1, a 68-point face
    that drifts): ``persons`` faces through a video of ``seconds`` at ``fps``,
    plus ``images`` one-face image rows.  For tests, benchmarks and examples."""
    from .aus import AU_CODES
    from .geometry import CANONICAL_68
    from .output import AU_EMOTION_COLUMNS as AUE, columns

    rng = np.random.default_rng(seed)
    n_frames = int(round(seconds * fps))
    frames = np.repeat(np.arange(n_frames), persons)
    who = np.tile(np.arange(persons), n_frames)
    n = len(frames)

    def walk(k, scale):
        steps = rng.normal(0, scale, (n_frames, persons, k))
        return np.cumsum(steps, axis=0).reshape(n, k)

    aus = np.clip(1.0 + walk(len(AU_CODES), 0.05) + rng.normal(0, 0.2, (n, len(AU_CODES))), 0, 5)
    logits = walk(7, 0.03) + rng.normal(0, 0.3, (n, 7))
    emo = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    logits = walk(7, 0.03) + rng.normal(0, 0.3, (n, 7))
    au_emo = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    size = 150.0 + walk(1, 0.3)[:, 0]
    cx = 160.0 + 320.0 * who + walk(1, 0.5)[:, 0]
    cy = 240.0 + walk(1, 0.5)[:, 0]
    s = size / 48.0
    lm_x = cx[:, None] + (CANONICAL_68[:, 0] - 24)[None] * s[:, None] + rng.normal(0, 0.5, (n, 68))
    lm_y = cy[:, None] + (CANONICAL_68[:, 1] - 30)[None] * s[:, None] + rng.normal(0, 0.5, (n, 68))
    cols = {"input": np.full(n, input, dtype=object), "frame": frames, "approx_time": np.round(frames / fps, 3),
            "face_id": who, "FaceRectX": np.round(cx - size / 2, 1), "FaceRectY": np.round(cy - size / 2, 1),
            "FaceRectWidth": np.round(size, 1), "FaceRectHeight": np.round(size, 1),
            "FaceScore": np.round(rng.uniform(0.8, 1.0, n), 4)}
    for i in range(68):
        cols[f"x_{i}"] = np.round(lm_x[:, i], 2)
    for i in range(68):
        cols[f"y_{i}"] = np.round(lm_y[:, i], 2)
    pose = np.round(walk(3, 0.2), 2)
    cols.update({"Pitch": pose[:, 0], "Roll": pose[:, 1], "Yaw": pose[:, 2]})
    for j, c in enumerate(AU_CODES):
        cols[c] = np.round(aus[:, j], 3)
    for j, c in enumerate(FER7):
        cols[c] = np.round(emo[:, j], 4)
    for j, c in enumerate(AUE):
        cols[c] = np.round(au_emo[:, j], 4)
    models = {"face_model": "mediapipe-blazeface", "landmark_model": "dlib-68+mediapipe-mesh",
              "au_model": "fer_au-aus-posefree", "emotion_model": "cnn", "au_emotion_model": "au"}
    for k, v in models.items():
        cols[k] = np.full(n, v, dtype=object)
    cols[ERROR_COLUMN] = np.full(n, np.nan, dtype=object)
    df = pd.DataFrame(cols)
    if images:
        img = pd.DataFrame(df.iloc[:images]).copy()
        img["input"] = [f"image_{i}.jpg" for i in range(images)]
        img["frame"], img["approx_time"], img["face_id"] = 0, np.nan, 0
        df = pd.concat([df, img], ignore_index=True)
    if person_column:
        df[PERSON] = df["face_id"].astype(str).where(df["input"] == input, [str(persons + i) for i in
                                                                          range(len(df))])
    order = columns(AU_CODES) + ([PERSON] if person_column else [])
    return Results(_typed(df.reindex(columns=order)))   # columns it does not fill stay empty
