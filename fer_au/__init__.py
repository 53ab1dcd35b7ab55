"""fer_au: facial expression analysis on the FACS model.

>>> from fer_au import FaceAnalyzer, load_fer2013
>>> faces = FaceAnalyzer().analyze("photo.jpg")      # boxes, landmarks, AUs, emotions
>>> ds = load_fer2013("data/fer2013.csv.gz")         # FER2013 with label schemes and splits

Heavy modules (TensorFlow, dlib) load only when first used, so `import fer_au`
stays fast.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "FaceAnalyzer": "fer_au.analyzer",
    "Face": "fer_au.analyzer",
    "load_fer2013": "fer_au.data",
    "FER2013": "fer_au.data",
    "FER2013FormatError": "fer_au.data",
    "load_model": "fer_au.zoo",
    "FER7": "fer_au.labels",
    "FER6": "fer_au.labels",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fer_au' has no attribute {name!r}")
