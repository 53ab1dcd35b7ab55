"""The shipped models: where they are, their sha256 manifest, and loading by name.

Every file under ``models/`` that code loads is listed in
``models/MANIFEST.sha256`` (``sha256sum`` format).  Loading checks the hash,
so a corrupted, truncated or swapped file is a clear error, never a silent
wrong answer.

An emotion model, whatever its family, answers ``predict_proba(faces)`` for
``faces`` of shape (N, 48, 48) uint8 grey crops (FER2013's format) and returns
(N, 7) probabilities in fer7 order (``fer_au.labels.FER7``).
"""
from __future__ import annotations

import hashlib
import importlib
import os
from pathlib import Path
from typing import NamedTuple
from .errors import FerAuError

def default_models_dir() -> Path:
    """Where the shipped models are, read each time it is asked (not at import):
    ``FER_AU_MODELS`` if set, else the installed data package ``fer_au_models`` (the
    checkout's models/ folder in an editable install), else the checkout's models/.
    ``zoo.MODELS_DIR`` is the same value."""
    if os.environ.get("FER_AU_MODELS"):
        return Path(os.environ["FER_AU_MODELS"])
    try:
        import fer_au_models
        return Path(fer_au_models.__file__).resolve().parent
    except ImportError:
        return Path(__file__).resolve().parent.parent / "models"




def __getattr__(name):
    if name == "MODELS_DIR":        # kept as a name for callers; resolved when read
        return default_models_dir()
    raise AttributeError(f"module 'fer_au.zoo' has no attribute {name!r}")

MANIFEST = "MANIFEST.sha256"

# What an emotion model reads, declared per model: the analyzer and the CLI route on it.
INPUT_KINDS = {
    "crop48": "(N, 48, 48) uint8 grey faces aligned as FER2013's (faces.align_face)",
    "landmarks": "(N, 68, 2) landmarks in image pixels",
    "landmarks+image": "(N, 68, 2) landmarks and the grey image they are in",
}


class Entry(NamedTuple):
    """One shipped emotion model: ``loader`` ("module:function", called with the models
    folder), the ``files`` it reads, and its ``input`` kind (``INPUT_KINDS``).  Whatever
    the input, every model also answers ``predict_proba`` on (N, 48, 48) FER2013 crops
    (for evaluation) and has ``classes_`` = the fer7 codes 0-6 (``labels.FER7`` names them)."""
    loader: str
    files: tuple[str, ...]
    input: str


REGISTRY: dict[str, Entry] = {
    # the default: the CNN's TFLite export, run without TensorFlow
    "cnn": Entry("fer_au.cnn:load_shipped", ("cnn_fer7.tflite",), "crop48"),
    # the same network from its training file, in TensorFlow
    "cnn_keras": Entry("fer_au.cnn:load_shipped_keras", ("cnn_fer7.keras",), "crop48"),
    # `cnn` trained further on FER+'s vote shares alone (MODEL_CARD)
    "cnn_ferplus": Entry("fer_au.cnn:load_shipped_ferplus", ("cnn_voters_fer7.tflite",), "crop48"),
    "classical": Entry("fer_au.classifiers:load_classical", ("classical_fer7.joblib",), "crop48"),
    "au": Entry("fer_au.au_models:load_au", ("au_xgb_fer7.ubj", "au_baseline.json"), "landmarks"),
    "au_geom": Entry("fer_au.au_models:load_au_geom", ("au_geom_xgb_fer7.ubj", "au_baseline.json"), "landmarks"),
    "au_app": Entry("fer_au.au_models:load_au_app",
                    ("au_app_xgb_fer7.ubj", "au_app_hog_pca.npz", "au_baseline.json"), "landmarks+image"),
}

# Files the perception stages read (not emotion models): MediaPipe's detector and
# face mesh, copied unchanged from the mediapipe 0.10.21 wheel (Apache-2.0, licence in
# models/LICENSE.mediapipe), and the AUs' neutral baselines.
PERCEPTION_FILES: tuple[str, ...] = ("face_detection_full_range_sparse.tflite",
                                     "face_detection_short_range.tflite",
                                     "face_landmark.tflite", "au_mesh_baseline.json",
                                     "au_posefree_baseline.json")
# Files the results' plots read: plot_face's AU -> face-shape model (scripts/fit_au_face.py).
PLOT_FILES: tuple[str, ...] = ("au_face.npz",)


class ModelIntegrityError(FerAuError, RuntimeError):
    """A shipped model file is missing, or its sha256 differs from the manifest."""


def sha256_of(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(models_dir=None, *, strict: bool = True) -> dict[str, str]:
    """``{file name: sha256}`` from the manifest.  A malformed line is a one-line
    ModelIntegrityError naming the line (``strict=False`` skips it, for --rehash)."""
    models_dir = Path(models_dir or default_models_dir())
    file = models_dir / MANIFEST
    if not file.exists():
        return {}
    out = {}
    for i, line in enumerate(file.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or not _is_sha256(parts[0]):
            if not strict:
                continue
            raise ModelIntegrityError(f"{file}:{i}: malformed line {line.strip()[:60]!r} (expected "
                                      "'<sha256>  <file name>'); run `python cli.py models --rehash` to "
                                      "rewrite the manifest from the files that load")
        out[parts[1].strip().lstrip("*")] = parts[0].lower()
    return out


def _is_sha256(s: str) -> bool:
    return len(s) == 64 and all(c in "0123456789abcdefABCDEF" for c in s)


def _first_line(exc: BaseException) -> str:
    """An exception as one short line: XGBoost's C++ messages carry a stack dump and a
    '[12:00:00] src/file.cc:409: ' prefix, Keras' talk about the file being missing."""
    import re
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    msg = re.sub(r"^\[[\d:]+\] \S+:\d+: ", "", lines[0]) if lines else ""
    return f"{type(exc).__name__}: {msg}"[:200] if msg else type(exc).__name__


def check_loadable(path) -> str | None:
    """Why a model file cannot be loaded, in one line, or None when it loads.

    Each kind is opened the way its loader opens it (joblib, XGBoost, Keras, LiteRT,
    JSON, NumPy), with their C++ chatter silenced.  ``models --rehash`` trusts a file
    only after this: a checksum of a broken file would bless it."""
    import json
    import zipfile

    from .media import _quiet_stderr

    path = Path(path)
    try:
        with _quiet_stderr():
            suffix = path.suffix.lower()
            if suffix == ".json":
                json.loads(path.read_text())
            elif suffix == ".npz":
                import numpy as np
                with np.load(path) as z:
                    for k in z.files:
                        z[k]
            elif suffix == ".joblib":
                import joblib
                joblib.load(path)
            elif suffix == ".ubj":
                import xgboost
                xgboost.Booster(model_file=str(path))
            elif suffix == ".tflite":
                from ai_edge_litert.interpreter import Interpreter
                Interpreter(model_path=str(path)).allocate_tensors()
            elif suffix == ".keras":
                # Keras says "File not found" for a damaged archive: check the zip first.
                if not zipfile.is_zipfile(path):
                    return "not a valid .keras archive (the zip is truncated or damaged)"
                with zipfile.ZipFile(path) as z:
                    bad = z.testzip()
                if bad is not None:
                    return f"not a valid .keras archive (its member {bad} is damaged)"
                from .cnn import _keras
                _keras().saving.load_model(path, compile=False)
    except Exception as exc:
        return _first_line(exc)
    return None


RESTORE_HINT = ("restore it (reinstall fer_au, or `git checkout models/` in a checkout) or rebuild it "
                "with `python cli.py train`")


def write_manifest(models_dir=None, problems: list | None = None) -> dict[str, str]:
    """Re-hash every registered model file that exists and loads (run after training).

    A file that does not load keeps its old checksum (so it still fails the check);
    its ``(path, reason)`` goes to ``problems`` if given, else ModelIntegrityError is
    raised.  Malformed manifest lines are dropped."""
    models_dir = Path(models_dir or default_models_dir())
    entries = read_manifest(models_dir, strict=False)
    found = []
    groups = [e.files for e in REGISTRY.values()] + [PERCEPTION_FILES, PLOT_FILES]
    for name in dict.fromkeys(n for files in groups for n in files):      # each file once, in order
        path = models_dir / name
        if not path.exists() or name in entries and entries[name] == sha256_of(path):
            continue          # missing, or unchanged: nothing to re-check
        reason = check_loadable(path)
        if reason:
            found.append((path, reason))
        else:
            entries[name] = sha256_of(path)
    (models_dir / MANIFEST).write_text("".join(f"{d}  {n}\n" for n, d in sorted(entries.items())))
    if found and problems is None:
        path, reason = found[0]
        raise ModelIntegrityError(f"{path}: cannot be loaded ({reason}); its checksum was not updated")
    if problems is not None:
        problems.extend(found)
    return entries


def verified_path(name: str, models_dir=None) -> Path:
    """The path of a shipped file after checking it against the manifest."""
    models_dir = Path(models_dir or default_models_dir())
    path = models_dir / name
    expected = read_manifest(models_dir).get(name)
    if not path.exists():
        raise ModelIntegrityError(f"{path}: model file is missing; {RESTORE_HINT}")
    if expected is None:
        raise ModelIntegrityError(f"{path}: not listed in {models_dir / MANIFEST}; "
                                  "run `python cli.py models --rehash` after training it")
    actual = sha256_of(path)
    if actual != expected:
        raise ModelIntegrityError(f"{path}: sha256 {actual[:12]}... does not match the manifest's "
                                  f"{expected[:12]}...; the file is corrupted or was swapped: {RESTORE_HINT} "
                                  "(after retraining it on purpose: `python cli.py models --rehash`)")
    return path


def available(models_dir=None) -> list[str]:
    """Names of registered models whose files are all present."""
    models_dir = Path(models_dir or default_models_dir())
    return [n for n, e in REGISTRY.items() if all((models_dir / f).exists() for f in e.files)]


def load_model(name: str, models_dir=None):
    """Load a shipped emotion model by name (see ``REGISTRY``), checking its hashes."""
    if name not in REGISTRY:
        raise ValueError(f"unknown model {name!r}; shipped models: {', '.join(REGISTRY)}")
    target, files, _ = REGISTRY[name]
    for f in files:
        verified_path(f, models_dir)
    module, func = target.split(":")
    try:
        return getattr(importlib.import_module(module), func)(Path(models_dir or default_models_dir()))
    except Exception as exc:   # a file that matches the manifest yet does not load: one line
        where = Path(models_dir or default_models_dir())
        culprit = next(((where / f, r) for f in files if (r := check_loadable(where / f))), None)
        path, reason = culprit or (where / files[0], _first_line(exc))
        raise ModelIntegrityError(f"{path}: cannot be loaded ({reason}); {RESTORE_HINT}") from None
