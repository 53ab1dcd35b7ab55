"""FER2013 I/O: the Kaggle CSV (plain or gzipped), the image-folder layout,
splits by Usage, FER+ votes, and an on-disk cache.

>>> ds = load_fer2013("../shared/data/fer2013/fer2013.csv.gz")
>>> train = ds.split("Training")
>>> X, y = train.images, train.y("fer6")
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import warnings
from pathlib import Path

import numpy as np

from .labels import (FER7, FERPLUS_COLUMNS, FOLDER_ALIASES, class_names, convert_labels,
                     ferplus_majority, ferplus_soft_targets)
from .errors import FerAuError

IMAGE_SIZE = 48
N_PIXELS = IMAGE_SIZE * IMAGE_SIZE
USAGES = ("Training", "PublicTest", "PrivateTest")
REQUIRED_COLUMNS = ("emotion", "pixels", "Usage")
# FER+ vote columns: labels.FERPLUS_COLUMNS (fer2013new.csv's order), also importable from here.
# FER+ column of each fer7 class, in fer7 order.
FERPLUS_OF_FER7 = [FERPLUS_COLUMNS.index(name) for name in FER7]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}
CACHE_VERSION = 1


class FER2013FormatError(FerAuError, ValueError):
    """A FER2013 file is malformed; the message names the file and the line."""


@dataclasses.dataclass
class Problem:
    """One rejected input row: where it was and why."""
    source: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.reason}"


@dataclasses.dataclass
class FER2013:
    """FER2013 images with their labels.

    ``images`` is (N, 48, 48) uint8; ``labels`` holds fer7 codes; ``usage`` the
    split of each image; ``rows`` the row position in the original CSV (or the
    file index for image folders).  ``ferplus_votes`` (N, 10), when loaded, are
    the FER+ vote counts in the column order of ``FERPLUS_COLUMNS``.
    """
    images: np.ndarray
    labels: np.ndarray
    usage: np.ndarray
    rows: np.ndarray
    source: str = ""
    problems: list = dataclasses.field(default_factory=list)
    ferplus_votes: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index) -> "FER2013":
        """Subset by a boolean mask, an index array or a slice."""
        votes = None if self.ferplus_votes is None else self.ferplus_votes[index]
        return dataclasses.replace(self, images=self.images[index], labels=self.labels[index],
                                   usage=self.usage[index], rows=self.rows[index],
                                   ferplus_votes=votes)

    def split(self, *usages: str) -> "FER2013":
        """The images of the given Usage(s): 'Training', 'PublicTest', 'PrivateTest'."""
        for u in usages:
            if u not in USAGES:
                raise ValueError(f"unknown split {u!r}; use one of {', '.join(USAGES)}")
        return self[np.isin(self.usage, usages)]

    def y(self, scheme: str = "fer7") -> np.ndarray:
        """Labels as codes of ``scheme`` ('fer7' or 'fer6')."""
        return convert_labels(self.labels, scheme)

    def subset(self, n_per_split: int, seed: int = 0) -> "FER2013":
        """A small stratified sample: up to ``n_per_split`` images from each split."""
        rng = np.random.default_rng(seed)
        keep = []
        for u in USAGES:
            idx = np.flatnonzero(self.usage == u)
            keep.append(rng.permutation(idx)[:n_per_split])
        return self[np.sort(np.concatenate(keep))]

    def counts(self, scheme: str = "fer7"):
        """A pandas table of image counts: one row per class, one column per split."""
        import pandas as pd
        names = class_names(scheme)
        y = self.y(scheme)
        table = {u: np.bincount(y[self.usage == u], minlength=len(names)) for u in USAGES}
        df = pd.DataFrame(table, index=pd.Index(names, name=scheme))
        df["total"] = df.sum(axis=1)
        return df

    # --- FER+ -------------------------------------------------------------
    def _votes(self) -> np.ndarray:
        if self.ferplus_votes is None:
            raise ValueError("no FER+ votes loaded; pass ferplus=PATH to load_fer2013")
        return self.ferplus_votes

    @property
    def ferplus_not_face(self) -> np.ndarray:
        """True where FER+ annotators voted the image is not a face (NF is the top vote)."""
        v = self._votes()
        return v[:, 9] >= v[:, :9].max(axis=1)

    def ferplus_distribution(self, scheme: str = "fer7", drop_single: bool = False) -> np.ndarray:
        """FER+ vote share per ``scheme`` class, normalised over that scheme's emotions
        (unknown/NF votes left out, and contempt's unless ``scheme="fer8"``): soft
        targets (``labels.ferplus_soft_targets``).  Rows with no emotion votes
        (not-a-face) are all zero."""
        return ferplus_soft_targets(self._votes(), scheme, drop_single=drop_single)

    def ferplus_labels(self, scheme: str = "fer7", rule: str = "majority") -> np.ndarray:
        """FER+ voters' label as ``scheme`` codes (``scheme="fer8"`` keeps contempt);
        -1 where there is none: not a face, unknown, no majority under ``rule``
        (``"majority"``: FER+'s own rule; ``"plurality"``: top vote, ties left out;
        see ``fer_au.labels``), and for fer7/fer6 also where contempt wins."""
        return ferplus_majority(self._votes(), scheme, rule)


# ---------------------------------------------------------------------------
# CSV reading
# ---------------------------------------------------------------------------
def _parse_csv(path: Path, lenient: bool) -> FER2013:
    import pandas as pd

    src = str(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError:
        raise FER2013FormatError(f"{src}: the file is empty") from None
    except (UnicodeDecodeError, OSError, EOFError, pd.errors.ParserError) as exc:
        raise FER2013FormatError(f"{src}: not a readable CSV ({exc})") from None
    df.columns = [c.strip() for c in df.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise FER2013FormatError(
            f"{src}:1: missing column(s) {', '.join(missing)}; expected header 'emotion,pixels,Usage'")
    if len(df) == 0:
        raise FER2013FormatError(f"{src}: the file has a header but no rows")

    n = len(df)
    lines = np.arange(n) + 2  # line 1 is the header
    problems: list[Problem] = []
    ok = np.ones(n, dtype=bool)

    def reject(mask, reason_fn):
        for i in np.flatnonzero(mask & ok):
            problems.append(Problem(src, int(lines[i]), reason_fn(i)))
        ok[mask] = False

    emotion = df["emotion"].str.strip()
    valid_codes = {str(i) for i in range(7)}
    reject(~emotion.isin(valid_codes).to_numpy(),
           lambda i: f"unknown label {df['emotion'].iat[i]!r} (expected 0-6)")
    usage = df["Usage"].str.strip()
    reject(~usage.isin(USAGES).to_numpy(),
           lambda i: f"unknown Usage {df['Usage'].iat[i]!r} (expected {', '.join(USAGES)})")

    pixels = df["pixels"].str.strip()
    counts = (pixels.str.count(r"\s+") + 1).where(pixels.str.len() > 0, 0).to_numpy()
    reject(counts != N_PIXELS, lambda i: f"wrong pixel count {counts[i]} (expected {N_PIXELS})")
    flat = _to_int(pixels, ok)
    if flat is None:  # some row is not numbers: find which (slow path, only on bad files)
        numeric = pixels.str.fullmatch(r"(?:\d{1,3}\s+)*\d{1,3}").to_numpy(dtype=bool)
        reject(~numeric, lambda i: "non-numeric pixel values")
        flat = _to_int(pixels, ok)
    good = np.flatnonzero(ok)
    big = np.zeros(n, dtype=bool)
    big[good] = flat.max(axis=1, initial=0) > 255
    reject(big, lambda i: "pixel value above 255")
    keep_in_good = ~big[good]

    if problems:
        problems.sort(key=lambda p: p.line)
        if not lenient:
            first = problems[0]
            more = f" (and {len(problems) - 1} more bad rows)" if len(problems) > 1 else ""
            raise FER2013FormatError(f"{first}{more}; pass lenient=True to skip bad rows "
                                     "(`data check` lists them all)")

    keep = ok
    return FER2013(
        images=flat[keep_in_good].astype(np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE),
        labels=emotion[keep].astype(np.int64).to_numpy(),
        usage=usage[keep].to_numpy(dtype=object).astype(str),
        rows=np.flatnonzero(keep),
        source=src,
        problems=problems,
    )


def _to_int(pixels, ok) -> np.ndarray | None:
    """All kept rows as one (n, 2304) int array, or None if any token is not an integer."""
    rows = pixels[ok]
    if len(rows) == 0:
        return np.zeros((0, N_PIXELS), dtype=np.int32)
    try:
        flat = np.array(" ".join(rows).split(), dtype=np.int32)
    except ValueError:
        return None
    if flat.min() < 0:  # '-1' parses as an integer but is no pixel
        return None
    return flat.reshape(len(rows), N_PIXELS)


def _parse_folder(path: Path, lenient: bool) -> FER2013:
    """Read ``<root>/<split>/<label>/*.png|jpg``.

    Split folders: train/training -> Training; val/valid/validation/publictest -> PublicTest;
    test/privatetest -> PrivateTest.  A file name starting with a Usage
    (``PublicTest_123.jpg``, as in the Kaggle image release) overrides its folder,
    so a ``test/`` folder holding both test splits is split correctly.
    """
    import cv2

    split_alias = {"train": "Training", "training": "Training",
                   "val": "PublicTest", "valid": "PublicTest", "validation": "PublicTest",
                   "publictest": "PublicTest", "test": "PrivateTest", "privatetest": "PrivateTest"}
    files = []
    for split_dir in sorted(p for p in path.iterdir() if p.is_dir()):
        usage = split_alias.get(split_dir.name.lower())
        if usage is None:
            continue
        for label_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
            code = FOLDER_ALIASES.get(label_dir.name.lower())
            if code is None:
                raise FER2013FormatError(
                    f"{label_dir}: unknown label folder {label_dir.name!r} "
                    f"(expected one of {', '.join(sorted(k for k in FOLDER_ALIASES if not k.isdigit()))})")
            for f in sorted(label_dir.iterdir()):
                if f.suffix.lower() in IMAGE_SUFFIXES:
                    prefix = f.name.split("_", 1)[0]
                    files.append((f, code, prefix if prefix in USAGES else usage))
    if not files:
        raise FER2013FormatError(
            f"{path}: no images found; expected {path}/train/<label>/*.jpg and {path}/test/<label>/*.jpg")

    images, labels, usage, rows, problems = [], [], [], [], []
    for i, (f, code, u) in enumerate(files):
        img = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
        if img is None:
            problems.append(Problem(str(f), None, "unreadable image"))
            continue
        if img.shape != (IMAGE_SIZE, IMAGE_SIZE):
            img = cv2.resize(img, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
        images.append(img)
        labels.append(code)
        usage.append(u)
        rows.append(i)
    if problems and not lenient:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise FER2013FormatError(f"{problems[0]}{more}; pass lenient=True to skip them "
                                 "(`data check` lists them all)")
    return FER2013(images=np.stack(images) if images else np.zeros((0, 48, 48), np.uint8),
                   labels=np.array(labels, dtype=np.int64), usage=np.array(usage, dtype=str),
                   rows=np.array(rows, dtype=np.int64), source=str(path), problems=problems)


# ---------------------------------------------------------------------------
# FER+ votes
# ---------------------------------------------------------------------------
def load_ferplus_votes(path, usage: np.ndarray | None = None) -> np.ndarray:
    """Read ``fer2013new.csv`` into an (N, 10) int array, rows in FER2013 order.

    FER+ names its images inconsistently (some names are shared, some empty),
    so rows are joined by position; ``usage`` (the FER2013 Usage per original
    row) is checked row by row to catch a file from another release.
    """
    import pandas as pd

    path = Path(path)
    try:
        df = pd.read_csv(path)
    except (pd.errors.EmptyDataError, OSError) as exc:
        raise FER2013FormatError(f"{path}: cannot read FER+ votes ({exc})") from None
    missing = [c for c in ("Usage",) + FERPLUS_COLUMNS if c not in df.columns]
    if missing:
        raise FER2013FormatError(f"{path}:1: missing FER+ column(s) {', '.join(missing)}")
    votes = df[list(FERPLUS_COLUMNS)].fillna(0).to_numpy(dtype=np.int64)
    if usage is not None:
        if len(usage) != len(df):
            raise FER2013FormatError(
                f"{path}: {len(df)} FER+ rows but the FER2013 file has {len(usage)}; they must match row for row")
        differ = np.flatnonzero(df["Usage"].to_numpy(dtype=str) != usage)
        if len(differ):
            raise FER2013FormatError(
                f"{path}:{differ[0] + 2}: Usage {df['Usage'].iat[differ[0]]!r} differs from FER2013's "
                f"{usage[differ[0]]!r}; the files are not from the same release")
    return votes


# ---------------------------------------------------------------------------
# Cache and the public loader
# ---------------------------------------------------------------------------
def default_cache_dir() -> Path:
    return Path(os.environ.get("FER_AU_CACHE", Path.home() / ".cache" / "fer_au"))


def _cache_key(path: Path, lenient: bool) -> str:
    st = path.stat()
    raw = f"{CACHE_VERSION}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{lenient}"
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


def _save_cache(ds: FER2013, file: Path) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp.npz")
    meta = json.dumps({"source": ds.source,
                       "problems": [dataclasses.asdict(p) for p in ds.problems]})
    with open(tmp, "wb") as fh:
        np.savez(fh, images=ds.images, labels=ds.labels, usage=ds.usage.astype("U11"),
                 rows=ds.rows, meta=np.array(meta))
    os.replace(tmp, file)  # atomic: a crash never leaves a half-written cache


def _load_cache(file: Path) -> FER2013 | None:
    try:
        with np.load(file) as z:
            meta = json.loads(str(z["meta"]))
            return FER2013(images=z["images"], labels=z["labels"], usage=z["usage"].astype(str),
                           rows=z["rows"], source=meta["source"],
                           problems=[Problem(**p) for p in meta["problems"]])
    except Exception:  # a stale or damaged cache is rebuilt, never trusted
        return None


def find_ferplus(path) -> Path | None:
    """``fer2013new.csv`` beside a FER2013 CSV, if there is one."""
    p = Path(path)
    candidate = (p if p.is_dir() else p.parent) / "fer2013new.csv"
    return candidate if candidate.exists() else None


def load_fer2013(path, *, lenient: bool = False, ferplus=None, cache: bool = True,
                 cache_dir=None) -> FER2013:
    """Load FER2013 from the Kaggle CSV (``.csv`` or ``.csv.gz``) or an image folder.

    Parameters
    ----------
    path : the CSV file, or a folder holding ``fer2013.csv[.gz]`` or ``train/<label>/``.
    lenient : skip malformed rows instead of raising; they are listed in ``.problems``
        and a warning says how many.
    ferplus : path to ``fer2013new.csv``, ``"auto"`` to use one lying beside the CSV,
        or None.  Only for the CSV (votes are joined by row position).
    cache : keep a parsed copy under ``$FER_AU_CACHE`` (default ``~/.cache/fer_au``)
        so that a second load takes well under 2 s.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder (see data/README.md for how to get FER2013)")
    if path.is_dir():
        for name in ("fer2013.csv", "fer2013.csv.gz"):
            if (path / name).exists():
                return load_fer2013(path / name, lenient=lenient, ferplus=ferplus,
                                    cache=cache, cache_dir=cache_dir)

    cache_file = Path(cache_dir or default_cache_dir()) / f"fer2013-{_cache_key(path, lenient)}.npz"
    ds = _load_cache(cache_file) if cache and cache_file.exists() else None
    if ds is not None:   # the cache may have been written for another spelling of the path
        for p in ds.problems:
            p.source = str(path) if p.source == ds.source else p.source
        ds.source = str(path)
    if ds is None:
        ds = _parse_folder(path, lenient) if path.is_dir() else _parse_csv(path, lenient)
        if cache:
            try:
                _save_cache(ds, cache_file)
            except OSError as exc:
                warnings.warn(f"could not write the FER2013 cache {cache_file}: {exc}")
    if ds.problems:
        warnings.warn(f"{path}: skipped {len(ds.problems)} bad row(s); first: {ds.problems[0]} "
                      f"(all are in .problems)")

    if ferplus == "auto":
        ferplus = None if path.is_dir() else find_ferplus(path)
    if ferplus is not None:
        if path.is_dir():
            raise ValueError("FER+ votes join by CSV row position; load the CSV, not an image folder")
        # Usage is checked row by row against FER+ only when no row was skipped,
        # since the kept rows no longer line up with the vote file.
        votes = load_ferplus_votes(ferplus, None if ds.problems else ds.usage)
        ds.ferplus_votes = votes[ds.rows]
    return ds


def make_csv(images, labels, usage) -> str:
    """Write images/labels/usage as FER2013 CSV text (used by tests and examples)."""
    buf = io.StringIO()
    buf.write("emotion,pixels,Usage\n")
    for img, lab, u in zip(images, labels, usage):
        buf.write(f"{int(lab)},{' '.join(map(str, np.asarray(img).ravel()))},{u}\n")
    return buf.getvalue()


def find_data(explicit=None) -> Path | None:
    """Where FER2013 is: ``explicit``, ``$FER_AU_DATA``, the repository's ``data/``,
    or ``../shared/data/fer2013`` beside the checkout; None if nowhere."""
    repo = Path(__file__).resolve().parent.parent
    candidates = [explicit, os.environ.get("FER_AU_DATA"), repo / "data",
                  repo.parent / "shared" / "data" / "fer2013"]
    for c in candidates:
        if not c:
            continue
        c = Path(c)
        if c.is_file():
            return c
        for name in ("fer2013.csv.gz", "fer2013.csv"):
            if (c / name).exists():
                return c / name
        if c.is_dir() and (c / "train").is_dir():
            return c
    return None
