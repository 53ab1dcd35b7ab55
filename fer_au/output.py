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
    error            empty, or one line saying why this input could not be analysed (or, on
                     the row after a video's last frame, why it stopped early)
    warning          empty, or what was odd about a row that was analysed (a JPEG oddity the
                     decoder reported; video times made from frame index / fps because the
                     container has no presentation times)

An image or frame without a face still gets a row (face columns empty) so
nothing is silently lost; an input that cannot be read gets a row with
``error`` set.

--resume's journal: beside ``results.csv`` the writer keeps ``results.csv.journal``,
one JSON line per unit of work whose rows are all on disk (an image with all its
faces and frames, a video frame, a video's end, an error row), with the CSV's size
after it.  Resuming cuts the CSV back to the last size the journal vouches for
(dropping half-written lines and the rows of an input written only in part) and
skips what the journal lists.  The journal is deleted when a run finishes; a CSV
without one is judged by its rows.  ``open_writer`` gives this writer, or for a name
ending in .parquet ``parquet_output.ParquetWriter`` (a Parquet dataset, the same journal
design, one journal line per part file).
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from .labels import FER7
from .errors import FerAuError

META_COLUMNS = ["input", "frame", "approx_time", "face_id"]
FACE_COLUMNS = ["FaceRectX", "FaceRectY", "FaceRectWidth", "FaceRectHeight", "FaceScore"]
LANDMARK_COLUMNS = [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
POSE_COLUMNS = ["Pitch", "Roll", "Yaw"]
EMOTION_COLUMNS = list(FER7)
AU_EMOTION_COLUMNS = [f"au_{e}" for e in FER7]
MODEL_COLUMNS = ["face_model", "landmark_model", "au_model", "emotion_model", "au_emotion_model"]
ERROR_COLUMN = "error"
WARNING_COLUMN = "warning"
OPTIONAL_COLUMNS = (WARNING_COLUMN,)   # a CSV written before they existed can still be resumed
JOURNAL_SUFFIX = ".journal"


def default_au_codes() -> list[str]:
    from .aus import AU_CODES
    return list(AU_CODES)


def columns(au_codes=None) -> list[str]:
    """The full column list, in order."""
    au_codes = default_au_codes() if au_codes is None else list(au_codes)
    return (META_COLUMNS + FACE_COLUMNS + LANDMARK_COLUMNS + POSE_COLUMNS + au_codes
            + EMOTION_COLUMNS + AU_EMOTION_COLUMNS + MODEL_COLUMNS + [ERROR_COLUMN, WARNING_COLUMN])


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


def rows_for(input_name, faces, *, frame=0, approx_time=None, models=None, error="",
             warning="") -> list[dict]:
    """Rows for one image or frame: one per face, or one with empty face columns."""
    base = {"input": str(input_name), "frame": str(int(frame)),
            "approx_time": _fmt(approx_time, 3), ERROR_COLUMN: error or "",
            WARNING_COLUMN: " ".join(str(warning or "").split())}
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


class OutputError(FerAuError, RuntimeError):
    """The CSV (or its journal) could not be written: disk full, file-size limit, ...
    The rows of the unit being written were removed again, so what the file holds is
    whole; ``errno`` is the OS's."""

    def __init__(self, message: str, errno: int | None = None):
        super().__init__(message)
        self.errno = errno


@dataclass
class Progress:
    """What a results CSV already holds of one input (for --resume)."""
    done: bool = False            # all its rows are there (an image, an error, a finished video)
    last_frame: int = -1          # a video: the last frame whose rows are all there
    last_time: float | None = None  # ... and its time, to check a seek against


def journal_path(csv_path) -> Path:
    return Path(str(csv_path) + JOURNAL_SUFFIX)


def columns_differ(path, header, columns, hint: str) -> ValueError:
    """The error for resuming an output whose columns (``header``) are not this run's."""
    missing = [c for c in columns if c not in header]
    extra = [c for c in header if c not in columns]
    return ValueError(f"{path}: cannot resume, its columns differ from this run's "
                      f"(missing {missing[:3]}{'...' if len(missing) > 3 else ''}, extra "
                      f"{extra[:3]}{'...' if len(extra) > 3 else ''}); {hint}")


class CSVWriter:
    """Append rows to a CSV as they are produced, each batch in one write, so a crash or
    Ctrl-C loses nothing already written.

    With ``resume=True`` an existing file is continued (its header must match);
    otherwise it is replaced.  With ``journal=True`` a unit of work counts as done only
    once ``write_rows(rows, done=...)`` has put all its rows on disk and recorded it in
    the journal (module docstring); ``progress`` then says, per input key, what a
    resumed file already holds.  Without a journal a last line cut short by a crash is
    removed.  A failed write (disk full) removes what the unit had written so far and
    raises :class:`OutputError`.
    """

    def __init__(self, path, cols, resume: bool = False, journal: bool = False):
        self.path = Path(path)
        self.columns = list(cols)
        self.rows_written = 0      # this run, on disk
        self.rows_committed = 0    # this run, on disk and (with a journal) recorded as done
        self.inputs_committed = 0  # inputs (images, errors, ends of videos) complete on disk, this run
        self.progress: dict[str, Progress] = {}
        self._extras = "raise"
        self._journal = None
        jpath = journal_path(self.path)
        # a file whose header line was cut short (killed at once) holds nothing to keep
        exists = self.path.exists() and self.path.stat().st_size > 0 and _has_whole_line(self.path)
        if resume and exists:
            header = _read_header(self.path)
            if header != self.columns:
                if [c for c in self.columns if c not in OPTIONAL_COLUMNS] != header:
                    raise columns_differ(self.path, header, self.columns, "use another -o file")
                self.columns, self._extras = header, "ignore"   # an older file: no warning column
            if journal and jpath.exists():
                self.progress, keep, jkeep = read_journal(jpath, self.path)
                os.truncate(self.path, keep)       # half-written lines, rows of a unfinished unit
                os.truncate(jpath, jkeep)          # a journal line cut short
            else:
                _drop_partial_last_line(self.path)
                if journal:
                    self.progress = scan_csv(self.path)
            self._fh = open(self.path, "ab", buffering=0)
        else:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "wb", buffering=0)
            if jpath.exists():
                jpath.unlink()                     # a stale journal would describe another file
            try:
                _write_all(self._fh, self._encode_header())
            except OSError as exc:
                self._fh.close()
                raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}", exc.errno) from None
        self.size = self.committed = os.fstat(self._fh.fileno()).st_size
        if journal:
            try:
                fresh = not jpath.exists()
                self._journal = open(jpath, "ab", buffering=0)
                if fresh:   # what the CSV already holds, so that a later resume needs only the journal
                    entries = [{"kind": "base"}] + [progress_entry(k, p) for k, p in self.progress.items()]
                    self._journal_write("".join(json.dumps(dict(e, at=self.size)) + "\n" for e in entries))
                self._jcommitted = os.fstat(self._journal.fileno()).st_size
            except OSError as exc:
                self._fh.close()
                raise OutputError(f"cannot write {jpath}: {exc.strerror or exc}", exc.errno) from None

    def _encode_header(self) -> bytes:
        buf = io.StringIO()
        csv.writer(buf).writerow(self.columns)
        return buf.getvalue().encode("utf-8")

    def _journal_write(self, text: str) -> None:
        _write_all(self._journal, text.encode("utf-8"))

    def write_rows(self, rows, done: dict | None = None) -> None:
        """Write the rows of one image or frame in a single write: a frame's faces reach
        the file together.  ``done`` (with a journal): the unit these rows complete,
        ``{"kind": "input"|"frame"|"end", "input": key, "frame": i, "time": t}``; it is
        recorded once the rows are on disk."""
        buf = io.StringIO()
        w = csv.DictWriter(buf, self.columns, restval="", extrasaction=self._extras)
        for r in rows:
            w.writerow(r)
        data = buf.getvalue().encode("utf-8")
        try:
            _write_all(self._fh, data)
            self.size += len(data)
            self.rows_written += len(rows)
            if self._journal is not None and done is not None:
                self._journal_write(json.dumps(dict(done, at=self.size)) + "\n")
                self._jcommitted = os.fstat(self._journal.fileno()).st_size
        except OSError as exc:
            self.rollback()
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}", exc.errno) from None
        if self._journal is None or done is not None:
            self.committed = self.size
            self.rows_committed = self.rows_written
            self.inputs_committed += done is not None and done.get("kind") in ("input", "end")

    def video_history(self, key: str, since: int) -> VideoHistory:
        """What this (resumed) CSV holds of video ``key`` (``VideoHistory``)."""
        return csv_video_history(self.path, key, since)

    def rollback(self) -> None:
        """Cut the CSV (and journal) back to the last unit recorded as done.  Truncating
        needs no free space, so this works on a full disk."""
        os.ftruncate(self._fh.fileno(), self.committed)
        self.size = self.committed
        self.rows_written = self.rows_committed
        if self._journal is not None:
            os.ftruncate(self._journal.fileno(), self._jcommitted)

    def close(self, finished: bool = False) -> None:
        """Close the file.  ``finished``: the run is complete, so its journal has no more
        use and is deleted (a later --resume judges the CSV by its rows)."""
        if self._journal is not None and not self._journal.closed:
            self._journal.close()
            if finished:
                journal_path(self.path).unlink(missing_ok=True)
        if not self._fh.closed:
            try:
                os.fsync(self._fh.fileno())
            except OSError:
                pass
            self._fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _write_all(fh, data: bytes) -> None:
    """Write all of ``data`` to an unbuffered file (a raw write may take only part)."""
    view = memoryview(data)
    while view:
        n = fh.write(view)
        view = view[n:]


def progress_entry(key: str, p: Progress) -> dict:
    """The journal entry that says what ``p`` says of input ``key``."""
    if p.done:
        return {"kind": "input", "input": key}
    return {"kind": "frame", "input": key, "frame": p.last_frame, "time": p.last_time}


def apply_entry(progress: dict[str, Progress], e: dict) -> None:
    """Update ``progress`` with one journal entry (a unit whose rows are all on disk)."""
    kind, key = e.get("kind"), e.get("input")
    if kind in ("input", "end"):
        progress[key] = Progress(done=True)
    elif kind == "frame":
        p = progress.setdefault(key, Progress())
        p.last_frame, p.last_time = int(e["frame"]), e.get("time")


def read_journal(jpath, csv_path) -> tuple[dict[str, Progress], int, int]:
    """``(progress per input, CSV bytes the journal vouches for, journal bytes in whole
    lines)``.  A last line cut short is ignored."""
    jpath, csv_path = Path(jpath), Path(csv_path)
    data = jpath.read_bytes()
    progress: dict[str, Progress] = {}
    at, whole, pos = None, 0, 0
    for line in data.split(b"\n")[:-1]:   # what follows the last newline was cut short
        pos += len(line) + 1
        try:
            e = json.loads(line)
            at_here = int(e["at"])
        except (ValueError, KeyError, TypeError):
            break           # a damaged line: trust nothing after it
        at, whole = at_here, pos
        apply_entry(progress, e)
    if at is None:
        raise ValueError(f"{jpath}: cannot resume, this journal is empty or damaged; "
                         "rerun without --resume to start afresh")
    if csv_path.stat().st_size < at:
        raise ValueError(f"{csv_path}: cannot resume, it is shorter than {jpath.name} says (it was changed "
                         "since); rerun without --resume to start afresh")
    return progress, at, whole


def scan_csv(path) -> dict[str, Progress]:
    """--resume without a journal (a finished run, or a file from an older version): an
    input with rows counts as done, except a video without an error row, which is
    continued after its last frame (and is done when no frame follows)."""
    def rows():
        for cells in _csv_cells(path, ["input", "frame", "approx_time", ERROR_COLUMN]):
            try:
                f = int(cells["frame"] or 0)
            except ValueError:
                f = None
            try:
                t = float(cells["approx_time"]) if cells.get("approx_time") else None
            except ValueError:
                t = None
            yield cells["input"], f, t, cells.get(ERROR_COLUMN, "")

    return progress_from_rows(rows())


def _csv_cells(path, want):
    """The cells of columns ``want`` (those the file has) of each whole row of a results CSV."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        if "input" not in header or "frame" not in header:
            raise ValueError(f"{path}: cannot resume, it is not a fer_au results CSV (no input/frame columns)")
        at = {c: header.index(c) for c in want if c in header}
        for row in reader:
            if len(row) == len(header):
                yield {c: row[i] for c, i in at.items()}


def progress_from_rows(rows) -> dict[str, Progress]:
    """What rows ``(input, frame or None, time or None, error)`` say each input holds
    (``scan_csv``; ``parquet_output.scan_dataset``)."""
    from .media import input_key, media_kind

    progress: dict[str, Progress] = {}
    for name, f, t, error in rows:
        key = input_key(name)
        p = progress.setdefault(key, Progress(done=media_kind(name) != "video"))
        if error:
            p.done = True
        if f is not None and f >= p.last_frame:
            p.last_frame, p.last_time = f, t
    return progress


HISTORY_COLUMNS = ["face_id", "FaceRectX", "FaceRectY", "FaceRectWidth", "FaceRectHeight"]


@dataclass
class VideoHistory:
    """What a resumed output already holds of one video, for a stream that restarts
    before its last written frame (``batch._run_video``, ``distributed.run_videos``)."""
    next_id: int = 0                 # the first track id not yet given (max face_id + 1)
    frames: dict = field(default_factory=dict)   # frame >= since -> [{face_id, FaceRect...}]
    check: tuple | None = None       # (frame, time) of the last frame before ``since``, to verify a seek


def video_history(rows, key: str, since: int) -> VideoHistory:
    """``VideoHistory`` of input ``key`` from rows ``(input, frame, time, {HISTORY_COLUMNS})``."""
    from .media import input_key

    keys: dict = {}
    h = VideoHistory()
    for name, f, t, cells in rows:
        k = keys.get(name)
        if k is None:
            k = keys[name] = input_key(name)
        if k != key or f is None:
            continue
        fid = cells.get("face_id", "")
        if fid != "":
            h.next_id = max(h.next_id, int(fid) + 1)
        if f >= since:
            h.frames.setdefault(f, []).append(cells)
        elif t is not None and (h.check is None or f > h.check[0]):
            h.check = (f, t)
    return h


def csv_video_history(path, key: str, since: int) -> VideoHistory:
    """``video_history`` of a results CSV (one pass over the file)."""
    def rows():
        for cells in _csv_cells(path, ["input", "frame", "approx_time"] + HISTORY_COLUMNS):
            try:
                f = int(cells["frame"] or 0)
                t = float(cells["approx_time"]) if cells["approx_time"] else None
            except (ValueError, KeyError):
                continue
            yield cells["input"], f, t, {c: cells[c] for c in HISTORY_COLUMNS if c in cells}

    return video_history(rows(), key, since)


def open_writer(path, cols, resume: bool = False, journal: bool = False):
    """A ``CSVWriter``, or a ``parquet_output.ParquetWriter`` when ``path`` ends in
    .parquet (a dataset folder of part files)."""
    from .parquet_output import ParquetWriter, is_parquet
    if is_parquet(path):
        return ParquetWriter(path, cols, resume=resume, journal=journal)
    return CSVWriter(path, cols, resume=resume, journal=journal)


def _has_whole_line(path) -> bool:
    with open(path, "rb") as fh:
        return b"\n" in fh.read(1 << 16)


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
