"""fer_au: facial expression analysis on the FACS model.

>>> from fer_au import FaceAnalyzer, load_fer2013
>>> faces = FaceAnalyzer().analyze("photo.jpg")      # boxes, landmarks, AUs, emotions
>>> ds = load_fer2013("data/fer2013.csv.gz")         # FER2013 with label schemes and splits
>>> res = read_results("results.csv")               # the analysed rows, with .aus .emotions .summary()

The pipeline, one module per stage: media (images, video) -> faces (detectors,
dlib's landmarks) and mesh (BlazeFace, the 3-D face mesh) -> aus3d / aus (action
units) -> cnn, classifiers, au_models (emotion models, loaded by name from zoo)
-> analyzer (FaceAnalyzer, FaceStream) -> batch (folders -> CSV rows), output
(the CSV), live (webcam/video) -> results, plots, report (reading them back).

Heavy modules (TensorFlow, dlib) load only when first used, so `import fer_au`
stays fast; the names below are still visible to ``dir()``, IDEs and type checkers.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# public name -> the module that defines it (imported on first use)
_LAZY = {
    "FaceAnalyzer": "fer_au.analyzer",
    "Face": "fer_au.face",
    "ModelUnavailableError": "fer_au.analyzer",
    "FaceStream": "fer_au.stream",
    "analyze_paths": "fer_au.batch",
    "MediaError": "fer_au.media",
    "FerAuError": "fer_au.errors",
    "ModelIntegrityError": "fer_au.zoo",
    "load_model": "fer_au.zoo",
    "load_fer2013": "fer_au.data",
    "FER2013": "fer_au.data",
    "FER2013FormatError": "fer_au.data",
    "FER7": "fer_au.labels",
    "FER6": "fer_au.labels",
    "AU_CODES": "fer_au.aus",
    "read_results": "fer_au.results",
    "Results": "fer_au.results",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:   # what the lazy names are, for type checkers and IDEs
    from .analyzer import FaceAnalyzer, ModelUnavailableError
    from .batch import analyze_paths
    from .face import Face
    from .aus import AU_CODES
    from .data import FER2013, FER2013FormatError, load_fer2013
    from .errors import FerAuError
    from .labels import FER6, FER7
    from .media import MediaError
    from .results import Results, read_results
    from .stream import FaceStream
    from .zoo import ModelIntegrityError, load_model


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value          # resolved once
        return value
    raise AttributeError(f"module 'fer_au' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
