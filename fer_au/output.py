"""The output table: column schema (py-feat Fex names), row building, a
streaming CSV writer that survives crashes, and what --resume needs.

Columns, in order (units in brackets)::

    input            the file (or source) the row comes from, as it was given
    frame            frame index in a video (0 for an image)
    approx_time      seconds from the start of the video [s]; empty for images
    face_id          0, 1, ... per image (left to right); a track id in videos
    FaceRectX, FaceRectY, FaceRectWidth, FaceRectHeight   face box [pixels]
    FaceScore        detector confidence (BlazeFace probability; dlib HOG score; Haar: merged
                     detections; empty for --crops)
    x_0..x_67, y_0..y_67   the 68 iBUG landmarks, dlib's order [pixels, in the oriented image]
    Pitch, Roll, Yaw head pose [degrees]
    AU01, AU02, ...  action-unit intensities 0..5: neutral spreads beyond a neutral face (docs/AUS.md)
    anger..neutral   emotion probabilities of the main emotion model (sum 1)
    au_anger..au_neutral   emotion probabilities of the AU-XGBoost model (sum 1)
    face_model, landmark_model, au_model, emotion_model, au_emotion_model   which models made the row
    error            empty, or one line saying why this input could not be analysed

An image or frame without a face still gets a row (face columns empty) so
nothing is silently lost; an input that cannot be read gets a row with
``error`` set.
"""
from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path

from .labels import FER7

META_COLUMNS = ["input", "frame", "approx_time", "face_id"]
FACE_COLUMNS = ["FaceRectX", "FaceRectY", "FaceRectWidth", "FaceRectHeight", "FaceScore"]
LANDMARK_COLUMNS = [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
POSE_COLUMNS = ["Pitch", "Roll", "Yaw"]
EMOTION_COLUMNS = list(FER7)
AU_EMOTION_COLUMNS = [f"au_{e}" for e in FER7]
MODEL_COLUMNS = ["face_model", "landmark_model", "au_model", "emotion_model", "au_emotion_model"]
ERROR_COLUMN = "error"


def default_au_codes() -> list[str]:
    from .aus import AU_CODES
    return list(AU_CODES)


def columns(au_codes=None) -> list[str]:
    """The full column list, in order."""
    au_codes = default_au_codes() if au_codes is None else list(au_codes)
    return (META_COLUMNS + FACE_COLUMNS + LANDMARK_COLUMNS + POSE_COLUMNS + au_codes
            + EMOTION_COLUMNS + AU_EMOTION_COLUMNS + MODEL_COLUMNS + [ERROR_COLUMN])


def _fmt(value, digits: int) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    v = float(value)
    if not math.isfinite(v):
        return ""
    s = f"{v:.{digits}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def face_cells(face) -> dict:
    """The face part of a row (box, score, landmarks, pose, AUs, emotions) as strings."""
    cells = {}
    x, y, w, h = face.box
    cells.update(FaceRectX=_fmt(x, 1), FaceRectY=_fmt(y, 1), FaceRectWidth=_fmt(w, 1),
                 FaceRectHeight=_fmt(h, 1), FaceScore=_fmt(face.score, 4))
    lm = face.landmarks
    if lm is not None:
        for i in range(68):
            cells[f"x_{i}"] = _fmt(lm[i, 0], 2)
            cells[f"y_{i}"] = _fmt(lm[i, 1], 2)
    if face.pose is not None:
        for name, v in zip(POSE_COLUMNS, face.pose):
            cells[name] = _fmt(v, 2)
    for code, v in (face.aus or {}).items():
        cells[code] = _fmt(v, 3)
    for name, v in (face.emotions or {}).items():
        cells[name] = _fmt(v, 4)
    for name, v in (face.au_emotions or {}).items():
        cells[f"au_{name}"] = _fmt(v, 4)
    return cells


def rows_for(input_name, faces, *, frame=0, approx_time=None, models=None, error="") -> list[dict]:
    """Rows for one image or frame: one per face, or one with empty face columns."""
    base = {"input": str(input_name), "frame": str(int(frame)),
            "approx_time": _fmt(approx_time, 3), ERROR_COLUMN: error or ""}
    base.update({k: (v or "") for k, v in (models or {}).items()})
    if not faces:
        return [dict(base, face_id="")]
    rows = []
    for i, face in enumerate(faces):
        fid = face.face_id if getattr(face, "face_id", None) is not None else i
        rows.append(dict(base, face_id=str(fid), **face_cells(face)))
    return rows


def error_row(input_name, message: str, frame=0) -> dict:
    return {"input": str(input_name), "frame": str(int(frame)), "face_id": "",
            ERROR_COLUMN: " ".join(str(message).split())}


class CSVWriter:
    """Append rows to a CSV as they are produced, flushing after every batch, so a
    crash or Ctrl-C loses nothing already written.

    With ``resume=True`` an existing file is continued (its header must match);
    otherwise it is replaced.  A last line cut short by a crash is removed.
    """

    def __init__(self, path, cols, resume: bool = False):
        self.path = Path(path)
        self.columns = list(cols)
        self.rows_written = 0
        exists = self.path.exists() and self.path.stat().st_size > 0
        if resume and exists:
            header = _read_header(self.path)
            if header != self.columns:
                missing = [c for c in self.columns if c not in header]
                extra = [c for c in header if c not in self.columns]
                raise ValueError(
                    f"{self.path}: cannot resume, its columns differ from this run's "
                    f"(missing {missing[:3]}{'...' if len(missing) > 3 else ''}, extra "
                    f"{extra[:3]}{'...' if len(extra) > 3 else ''}); use another -o file")
            _drop_partial_last_line(self.path)
            self._fh = open(self.path, "a", newline="", encoding="utf-8")
        else:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "w", newline="", encoding="utf-8")
            csv.writer(self._fh).writerow(self.columns)
            self._fh.flush()

    def write_rows(self, rows) -> None:
        """Write the rows of one image or frame in a single write, then flush: a frame's
        faces reach the file together or not at all."""
        buf = io.StringIO()
        w = csv.DictWriter(buf, self.columns, restval="", extrasaction="raise")
        for r in rows:
            w.writerow(r)
        self._fh.write(buf.getvalue())
        self._fh.flush()
        self.rows_written += len(rows)

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            try:
                os.fsync(self._fh.fileno())
            except OSError:
                pass
            self._fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _read_header(path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh), [])


def _drop_partial_last_line(path) -> None:
    """Cut a trailing line that has no newline (a write interrupted by a crash)."""
    with open(path, "rb+") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size == 0:
            return
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        # walk back to the last newline
        block = 1 << 16
        pos = size
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            i = chunk.rfind(b"\n")
            if i >= 0:
                fh.truncate(start + i + 1)
                return
            pos = start
        fh.truncate(0)


def done_inputs(path) -> dict[str, tuple[int, bool]]:
    """For --resume: ``{input: (last frame written, had an error row)}`` for every
    input already in the CSV.  Reads the file a line at a time."""
    path = Path(path)
    done: dict[str, tuple[int, bool]] = {}
    if not path.exists() or path.stat().st_size == 0:
        return done
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        if "input" not in header or "frame" not in header:
            raise ValueError(f"{path}: cannot resume, it is not a fer_au results CSV (no input/frame columns)")
        i_in, i_fr = header.index("input"), header.index("frame")
        i_err = header.index(ERROR_COLUMN) if ERROR_COLUMN in header else None
        for row in reader:
            if len(row) != len(header):
                continue  # a line cut short by a crash; CSVWriter drops it
            try:
                f = int(row[i_fr] or 0)
            except ValueError:
                f = 0
            err = bool(i_err is not None and row[i_err])
            last, had_err = done.get(row[i_in], (-1, False))
            done[row[i_in]] = (max(last, f), had_err or err)
    return done
