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

MODELS_DIR = Path(os.environ.get("FER_AU_MODELS", Path(__file__).resolve().parent.parent / "models"))
MANIFEST = "MANIFEST.sha256"

# name -> (loader "module:function", the files it reads).  A loader takes the
# models directory and returns an emotion model (see module docstring).
REGISTRY: dict[str, tuple[str, tuple[str, ...]]] = {
    "cnn": ("fer_au.cnn:load_shipped", ("cnn_fer7.keras",)),
    "classical": ("fer_au.classifiers:load_classical", ("classical_fer7.joblib",)),
    "au": ("fer_au.au_models:load_au", ("au_xgb_fer7.ubj", "au_baseline.json")),
    "au_geom": ("fer_au.au_models:load_au_geom", ("au_geom_xgb_fer7.ubj", "au_baseline.json")),
    "au_app": ("fer_au.au_models:load_au_app", ("au_app_xgb_fer7.ubj", "au_app_hog_pca.npz", "au_baseline.json")),
}

# Files the perception stages read (not emotion models): MediaPipe's detector and
# face mesh, copied unchanged from the mediapipe 0.10.21 wheel (Apache-2.0, licence in
# models/LICENSE.mediapipe), and the AUs' neutral baselines.
PERCEPTION_FILES: tuple[str, ...] = ("face_detection_full_range_sparse.tflite",
                                     "face_detection_short_range.tflite",
                                     "face_landmark.tflite", "au_mesh_baseline.json",
                                     "au_posefree_baseline.json")


class ModelIntegrityError(RuntimeError):
    """A shipped model file is missing, or its sha256 differs from the manifest."""


def sha256_of(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(models_dir=None) -> dict[str, str]:
    models_dir = Path(models_dir or MODELS_DIR)
    file = models_dir / MANIFEST
    if not file.exists():
        return {}
    out = {}
    for line in file.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            out[name.lstrip("*")] = digest
    return out


def write_manifest(models_dir=None) -> dict[str, str]:
    """Re-hash every registered model file that exists (run after training)."""
    models_dir = Path(models_dir or MODELS_DIR)
    entries = read_manifest(models_dir)
    for files in [f for _, f in REGISTRY.values()] + [PERCEPTION_FILES]:
        for name in files:
            if (models_dir / name).exists():
                entries[name] = sha256_of(models_dir / name)
    (models_dir / MANIFEST).write_text("".join(f"{d}  {n}\n" for n, d in sorted(entries.items())))
    return entries


def verified_path(name: str, models_dir=None) -> Path:
    """The path of a shipped file after checking it against the manifest."""
    models_dir = Path(models_dir or MODELS_DIR)
    path = models_dir / name
    expected = read_manifest(models_dir).get(name)
    if not path.exists():
        raise ModelIntegrityError(f"{path}: model file is missing; rebuild it with `python cli.py train`")
    if expected is None:
        raise ModelIntegrityError(f"{path}: not listed in {models_dir / MANIFEST}; "
                                  "run `python cli.py models --rehash` after training it")
    actual = sha256_of(path)
    if actual != expected:
        raise ModelIntegrityError(f"{path}: sha256 {actual[:12]}... does not match the manifest's "
                                  f"{expected[:12]}...; the file is corrupted or was swapped")
    return path


def available(models_dir=None) -> list[str]:
    """Names of registered models whose files are all present."""
    models_dir = Path(models_dir or MODELS_DIR)
    return [n for n, (_, files) in REGISTRY.items() if all((models_dir / f).exists() for f in files)]


def load_model(name: str, models_dir=None):
    """Load a shipped emotion model by name (see ``REGISTRY``), checking its hashes."""
    if name not in REGISTRY:
        raise ValueError(f"unknown model {name!r}; shipped models: {', '.join(REGISTRY)}")
    target, files = REGISTRY[name]
    for f in files:
        verified_path(f, models_dir)
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)(Path(models_dir or MODELS_DIR))
