"""``analyze -o results.parquet``: the rows as a partitioned Parquet dataset, written as they arrive.

``results.parquet/`` is a folder of part files ``part-00000000.parquet``,
``part-00000001.parquet``, ... (pyarrow, zstd), with the CSV's columns in the CSV's
order.  Each part holds whole units of work (an image with all its faces and frames, a
video frame, an error row): ``write_rows`` buffers the rows of completed units, and
``flush`` writes them out as one part every ``part_rows`` rows (default 10,000), when a
unit arrives ``part_seconds`` (default 10 s) after the oldest one still buffered, and
at the end (also after Ctrl-C, or when the Dask scheduler went away).  A part is
written under a hidden temporary name (``.part-00000007.parquet.tmp``: pandas, pyarrow
and dask skip names that start with ``.``), synced, and renamed into place, so neither a
reader nor a kill ever sees half a part.  Read back in file-name order (pyarrow, pandas
and dask do) the rows come in the order they were written: a local run's order (inputs
in order, a video frame by frame), as in the CSV.

Types: ``input``, ``error``, ``warning`` and the model-name columns are strings,
``frame``, ``face_id`` and ``person`` 64-bit integers, every other column a float64;
an empty CSV cell is a null.  pandas reads the integer columns with nulls (``face_id``
of a row without a face) as floats, as it reads the CSV.

--resume uses the CSV's journal design (``output.CSVWriter``): beside the folder,
``results.parquet.journal`` lists the units whose rows are all on disk, here one JSON
line per part written (its name and the units it completes), appended after the part
was renamed into place.  Resuming keeps the parts the journal lists, deletes every other
part file (one renamed just before a kill, before its journal line) and temporary file,
and skips the units listed.  The journal is deleted when a run finishes; a dataset
without one is judged by its rows, as a CSV is.

``FER_AU_PARQUET_PART_ROWS`` / ``FER_AU_PARQUET_PART_SECONDS`` change the defaults
(bigger parts for very large runs).  ``FER_AU_FAULT=POINT[:N]`` (for tests) kills the
process with SIGKILL the N-th time it reaches POINT: ``parquet-written`` (a part
written under its temporary name), ``parquet-renamed`` (renamed into place, not yet in
the journal) or ``parquet-journaled`` (recorded).
"""
from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

from .errors import FerAuError
from .output import (ERROR_COLUMN, HISTORY_COLUMNS, columns_differ, MODEL_COLUMNS, WARNING_COLUMN, OutputError,
                     Progress, apply_entry, journal_path, progress_entry, progress_from_rows, video_history)

PART_ROWS = 10_000        # rows per part (at most; ~2.5 KB a row in memory until written)
PART_SECONDS = 10.0       # a part at least this often while rows arrive
BATCH_ROWS = 500          # buffered rows turn into an Arrow batch this many at a time: a row is
                          # ~16 KB as a dict of strings, ~1.5 KB in Arrow
COMPRESSION = "zstd"
PART = re.compile(r"^part-(\d+)\.parquet$")
TEXT_COLUMNS = {"input", ERROR_COLUMN, WARNING_COLUMN, "backend", *MODEL_COLUMNS}
INT_COLUMNS = {"frame", "face_id", "person"}
SUFFIXES = (".parquet", ".pq")


class ParquetUnavailable(FerAuError, ImportError):
    """Writing Parquet needs pyarrow."""


def is_parquet(path) -> bool:
    """Whether ``-o path`` asks for a Parquet dataset (the name ends in .parquet or .pq)."""
    return path is not None and Path(path).suffix.lower() in SUFFIXES


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.compute  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise ParquetUnavailable("writing Parquet needs pyarrow: pip install 'fer_au[parquet]' "
                                 "(or write a CSV: -o results.csv)") from None
    return pa


def schema(cols):
    """The Arrow schema of a results table with columns ``cols`` (module docstring)."""
    pa = _pyarrow()
    return pa.schema([(c, pa.string() if c in TEXT_COLUMNS else pa.int64() if c in INT_COLUMNS
                       else pa.float64()) for c in cols])


def part_files(folder) -> list[Path]:
    """The dataset's part files, in order."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if PART.match(p.name)), key=lambda p: p.name)


def _number(name: str) -> int:
    return int(PART.match(name).group(1))


_FAULTS: dict = {}


def _fault(point: str) -> None:
    """The test hook of the module docstring (``FER_AU_FAULT``)."""
    spec = os.environ.get("FER_AU_FAULT")
    if not spec:
        return
    name, _, n = spec.partition(":")
    if name != point:
        return
    _FAULTS[point] = _FAULTS.get(point, 0) + 1
    if _FAULTS[point] >= int(n or 1):
        os.kill(os.getpid(), signal.SIGKILL)


class ParquetWriter:
    """The Parquet counterpart of ``output.CSVWriter`` (same methods and counters):
    rows of whole units, buffered and written as part files (module docstring).

    ``resume=True`` continues an existing dataset (its columns must match); otherwise
    its part files are replaced (a folder that holds other files is refused).  With
    ``journal=True`` ``progress`` says, per input key, what a resumed dataset already
    holds.  A part that cannot be written (disk full) is removed with its units, which
    are then not on disk; :class:`OutputError` says so.
    """

    def __init__(self, path, cols, resume: bool = False, journal: bool = False, part_rows: int | None = None,
                 part_seconds: float | None = None):
        pa = _pyarrow()
        self.path = Path(path)
        self.columns = list(cols)
        self.schema = schema(self.columns)
        self.part_rows = max(1, int(part_rows or os.environ.get("FER_AU_PARQUET_PART_ROWS") or PART_ROWS))
        self.part_seconds = float(part_seconds if part_seconds is not None else
                                  os.environ.get("FER_AU_PARQUET_PART_SECONDS") or PART_SECONDS)
        self.rows_written = 0      # this run, on disk
        self.rows_committed = 0    # this run, on disk and (with a journal) recorded as done
        self.inputs_committed = 0  # inputs (images, errors, ends of videos) complete on disk, this run
        self.progress: dict[str, Progress] = {}
        self._buffer = []          # [(rows or an Arrow batch, [units])] of completed units, not yet written
        self._open = []            # rows of a unit not yet complete (no ``done`` yet)
        self._buffered_rows = 0
        self._loose = 0            # buffered rows still held as dicts
        self._since = None         # monotonic time of the oldest buffered unit
        self._journal = None
        self._arrow = pa
        jpath = journal_path(self.path)
        if self.path.exists() and not self.path.is_dir():
            if resume:
                raise ValueError(f"{self.path}: cannot resume, it is a single file, not a Parquet dataset "
                                 "folder written by fer_au analyze; use another -o")
        elif self.path.is_dir():
            foreign = [p.name for p in self.path.iterdir() if not PART.match(p.name) and not _is_temp(p.name)]
            if foreign:
                raise ValueError(f"{self.path}: this folder holds files that are not parts of a fer_au results "
                                 f"dataset ({', '.join(sorted(foreign)[:3])}{', ...' if len(foreign) > 3 else ''})"
                                 "; use another -o")
        parts = part_files(self.path)
        base = None
        try:
            if resume and parts:
                header = pa.parquet.read_schema(parts[0]).names
                if header != self.columns:
                    raise columns_differ(self.path, header, self.columns, "use another -o")
                listed = _read_journal(jpath) if journal and jpath.exists() else None
                if listed is not None:
                    names, self.progress, jkeep = listed
                    missing = [n for n in names if not (self.path / n).exists()]
                    if missing:
                        raise ValueError(f"{self.path}: cannot resume, {missing[0]} (listed in {jpath.name}) is "
                                         "missing; rerun without --resume to start afresh")
                    for p in parts:
                        if p.name not in names:       # written, but its units never reached the journal
                            p.unlink()
                    os.truncate(jpath, jkeep)          # a journal line cut short
                    parts = [p for p in parts if p.name in names]
                else:                                   # a finished run (or a journal cut before its first line)
                    self.progress = scan_dataset(self.path) if journal else {}
                    base = parts
            else:
                if self.path.is_file():
                    self.path.unlink()
                for p in parts:
                    p.unlink()
                parts = []
                if jpath.exists():
                    jpath.unlink()                      # a stale journal would describe another dataset
                base = []
            self.path.mkdir(parents=True, exist_ok=True)
            for p in self.path.iterdir():
                if _is_temp(p.name):
                    p.unlink()                          # a part cut short by a kill
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}", exc.errno) from None
        self.parts = [p.name for p in parts]           # the parts on disk that count
        self._next = _number(self.parts[-1]) + 1 if self.parts else 0
        if journal:
            try:
                fresh = base is not None
                self._journal = open(jpath, "wb" if fresh else "ab", buffering=0)
                if fresh:    # what the dataset already holds: one line, whole or ignored
                    line = {"kind": "base", "format": "parquet", "parts": [p.name for p in base],
                            "units": [progress_entry(k, p) for k, p in self.progress.items()]}
                    _write_all(self._journal, (json.dumps(line) + "\n").encode("utf-8"))
                self._jcommitted = os.fstat(self._journal.fileno()).st_size
            except OSError as exc:
                raise OutputError(f"cannot write {jpath}: {exc.strerror or exc}", exc.errno) from None

    # ------------------------------------------------------------ writing
    def write_rows(self, rows, done: dict | None = None) -> None:
        """Buffer the rows of one image or frame; ``done`` (as for ``CSVWriter.write_rows``)
        is the unit they complete.  Only whole units are written, in the order given."""
        if done is None and self._journal is not None:
            self._open = self._open + list(rows)
            return
        unit = (self._open + list(rows), [done] if done is not None else [])
        self._open = []
        self._buffer.append(unit)        # one append: a Ctrl-C never leaves half a unit buffered
        self._buffered_rows += len(unit[0])
        self._loose += len(unit[0])
        now = time.monotonic()
        if self._since is None:
            self._since = now
        if self._buffered_rows >= self.part_rows or now - self._since >= self.part_seconds:
            self.flush()
        elif self._loose >= BATCH_ROWS:
            self._compact()

    def _compact(self) -> None:
        """Turn the buffered rows that are still dicts into one Arrow batch (memory)."""
        k = len(self._buffer)
        while k > 0 and isinstance(self._buffer[k - 1][0], list):
            k -= 1
        tail = self._buffer[k:]
        rows = [r for rs, _ in tail for r in rs]
        if rows:
            batch = self._batch(rows)
            self._buffer = self._buffer[:k] + [(batch, [u for _, us in tail for u in us])]   # one store
        self._loose = 0

    def flush(self) -> None:
        """Write the buffered units as one part and record them in the journal."""
        if not self._buffer:
            return
        pa, pq = self._arrow, self._arrow.parquet
        buffer = self._buffer
        batches = [d if not isinstance(d, list) else self._batch(d) for d, _ in buffer if len(d)]
        n_rows = sum(len(b) for b in batches)
        units = [u for _, us in buffer for u in us]
        name = None
        if n_rows:
            name = f"part-{self._next:08d}.parquet"
            tmp = self.path / f".{name}.tmp"
            try:
                pq.write_table(pa.Table.from_batches(batches, schema=self.schema), tmp, compression=COMPRESSION)
                fd = os.open(tmp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                _fault("parquet-written")
                os.replace(tmp, self.path / name)
                _fault("parquet-renamed")
            except (OSError, pa.ArrowException) as exc:
                _unlink(tmp)
                self.rollback()
                raise OutputError(f"cannot write {self.path / name}: {getattr(exc, 'strerror', None) or exc}",
                                  getattr(exc, "errno", None)) from None
        if self._journal is not None:
            line = {"kind": "part", "name": name, "rows": n_rows, "units": units}
            try:
                _write_all(self._journal, (json.dumps(line) + "\n").encode("utf-8"))
                self._jcommitted = os.fstat(self._journal.fileno()).st_size
            except OSError as exc:
                if name is not None:
                    _unlink(self.path / name)
                self.rollback()
                raise OutputError(f"cannot write {journal_path(self.path)}: {exc.strerror or exc}",
                                  exc.errno) from None
            _fault("parquet-journaled")
        if name is not None:
            self.parts.append(name)
            self._next += 1
        self._buffer, self._buffered_rows, self._since, self._loose = [], 0, None, 0
        self.rows_written += n_rows
        self.rows_committed = self.rows_written
        self.inputs_committed += sum(u.get("kind") in ("input", "end") for u in units)

    def _batch(self, rows):
        pa, pc = self._arrow, self._arrow.compute
        arrays = []
        for field in self.schema:
            vals = [r.get(field.name) for r in rows]
            try:     # the rows hold strings (output.rows_for): let Arrow parse them, in C++
                arr = pa.array([None if v == "" else v for v in vals], pa.string())
                arr = arr if field.type == pa.string() else pc.cast(arr, field.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
                arr = pa.array([_convert(v, field.type, pa) for v in vals], field.type)
            arrays.append(arr)
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def video_history(self, key: str, since: int):
        """What the parts on disk hold of video ``key`` (``output.VideoHistory``); read
        before this run writes any of its frames."""
        return dataset_video_history(self.path, key, since, parts=self.parts)

    def rollback(self) -> None:
        """Drop the buffered units (they are not on disk) and a journal line cut short."""
        self._buffer, self._open, self._buffered_rows, self._since, self._loose = [], [], 0, None, 0
        self.rows_written = self.rows_committed
        if self._journal is not None and not self._journal.closed:
            os.ftruncate(self._journal.fileno(), self._jcommitted)

    def close(self, finished: bool = False) -> None:
        """Write what is buffered (whole units) and close.  ``finished``: the run is
        complete, so the journal is deleted.  A dataset with no rows gets one empty part,
        so that readers see its columns.  Raises :class:`OutputError` when the last part
        cannot be written (the journal then stays, for --resume)."""
        try:
            self.flush()
            if not self.parts and (finished or self._journal is None):
                empty = self.schema.empty_table()
                name = f"part-{self._next:08d}.parquet"
                tmp = self.path / f".{name}.tmp"
                try:
                    self._arrow.parquet.write_table(empty, tmp, compression=COMPRESSION)
                    os.replace(tmp, self.path / name)
                except (OSError, self._arrow.ArrowException) as exc:
                    _unlink(tmp)
                    raise OutputError(f"cannot write {self.path / name}: {exc}", getattr(exc, "errno", None)) \
                        from None
                self.parts.append(name)
        except BaseException:
            if self._journal is not None and not self._journal.closed:
                self._journal.close()
            raise
        if self._journal is not None and not self._journal.closed:
            self._journal.close()
            if finished:
                journal_path(self.path).unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _convert(v, typ, pa):
    if v is None or v == "":
        return None
    if typ == pa.string():
        return str(v)
    if typ == pa.int64():
        return int(float(v))
    return float(v)


def _is_temp(name: str) -> bool:
    return name.startswith(".part-") and name.endswith(".tmp")


def _unlink(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _write_all(fh, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = fh.write(view)
        view = view[n:]


def _read_journal(jpath):
    """``(part names, progress per input, journal bytes in whole lines)``, or None when the
    journal has no whole first line (killed while starting it: nothing was written after
    it, so the parts on disk are all the run's, and are judged by their rows)."""
    data = Path(jpath).read_bytes()
    names: list[str] = []
    progress: dict[str, Progress] = {}
    whole, pos, first = 0, 0, True
    for line in data.split(b"\n")[:-1]:          # what follows the last newline was cut short
        pos += len(line) + 1
        try:
            e = json.loads(line)
            kind = e["kind"]
            if first and kind != "base":
                raise ValueError
            new = list(e["parts"]) if kind == "base" else ([e["name"]] if e.get("name") else [])
            units = list(e["units"])
        except (ValueError, KeyError, TypeError):
            if first:
                raise ValueError(f"{jpath}: cannot resume, this journal is damaged; rerun without --resume "
                                 "to start afresh") from None
            break               # a damaged line: trust nothing after it
        first = False
        names += new
        for u in units:
            apply_entry(progress, u)
        whole = pos
    if first:
        return None
    return names, progress, whole


def scan_dataset(path) -> dict[str, Progress]:
    """--resume without a journal: what the dataset's rows say (as ``output.scan_csv``)."""
    def rows():
        for t, n in _part_columns(part_files(path), ["input", "frame", "approx_time", ERROR_COLUMN]):
            errors = t.get(ERROR_COLUMN, [None] * n)
            for i, (name, f, tm) in enumerate(_frames(t, n)):
                yield name, f, tm, errors[i] or ""

    return progress_from_rows(rows())


def dataset_video_history(path, key: str, since: int, parts=None):
    """``output.video_history`` of a dataset's parts (``parts``: these part names only)."""
    import math

    files = part_files(path) if parts is None else [Path(path) / p for p in parts]

    def text(v):    # the CSV's spelling: an integer id as "3", a box as its float
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        return str(int(v)) if isinstance(v, int) else repr(float(v))

    def rows():
        for t, n in _part_columns(files, ["input", "frame", "approx_time"] + HISTORY_COLUMNS):
            for i, (name, f, tm) in enumerate(_frames(t, n)):
                yield name, f, tm, {c: text(t[c][i]) for c in HISTORY_COLUMNS if c in t}

    return video_history(rows(), key, since)


def _part_columns(files, want):
    """``(columns as lists, row count)`` of each part, the columns of ``want`` it has."""
    pa = _pyarrow()
    for part in files:
        try:
            names = pa.parquet.read_schema(part).names
            if "input" not in names or "frame" not in names:
                raise ValueError(f"{part}: cannot resume, it is not a fer_au results part "
                                 "(no input/frame columns)")
            t = pa.parquet.read_table(part, columns=[c for c in want if c in names]).to_pydict()
        except (OSError, pa.ArrowException) as exc:
            raise ValueError(f"{part}: cannot resume, this part cannot be read ({exc})") from None
        yield t, len(t["input"])


def _frames(t, n):
    """(input, frame, time or None) of each of a part's ``n`` rows."""
    import math

    times = t.get("approx_time", [None] * n)
    for i in range(n):
        tm = times[i]
        yield (t["input"][i], t["frame"][i] or 0,
               None if tm is None or (isinstance(tm, float) and math.isnan(tm)) else float(tm))


def read_dataset(path):
    """The dataset as a pandas DataFrame in the order it was written."""
    import pandas as pd

    _pyarrow()
    return pd.read_parquet(path)
