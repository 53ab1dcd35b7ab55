"""Emotion label schemes.

FER2013 codes its seven emotions 0..6 (Angry, Disgust, Fear, Happy, Sad,
Surprise, Neutral).  Names follow py-feat's vocabulary so that output columns
line up with py-feat's Fex tables.

Two schemes are supported:

* ``fer7`` - the standard seven classes, as in the literature.
* ``fer6`` - the project brief's six classes (Angry, Fear, Happy, Sad,
  Surprise, Neutral): Disgust is folded into Angry.
"""
from __future__ import annotations

import numpy as np

FER7 = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
FER6 = ("anger", "fear", "happiness", "sadness", "surprise", "neutral")
SCHEMES = {"fer7": FER7, "fer6": FER6}

# fer7 code -> fer6 code (disgust joins anger).
FER7_TO_FER6 = np.array([0, 0, 1, 2, 3, 4, 5], dtype=np.int64)

# Folder names seen in the common image-folder releases of FER2013, mapped to fer7 codes.
FOLDER_ALIASES = {
    "0": 0, "angry": 0, "anger": 0,
    "1": 1, "disgust": 1, "disgusted": 1,
    "2": 2, "fear": 2, "fearful": 2,
    "3": 3, "happy": 3, "happiness": 3,
    "4": 4, "sad": 4, "sadness": 4,
    "5": 5, "surprise": 5, "surprised": 5,
    "6": 6, "neutral": 6,
}


def class_names(scheme: str = "fer7") -> tuple[str, ...]:
    """The class names of ``scheme`` in code order."""
    try:
        return SCHEMES[scheme]
    except KeyError:
        raise ValueError(f"unknown label scheme {scheme!r}; use one of {sorted(SCHEMES)}") from None


def convert_labels(labels_fer7, scheme: str = "fer7") -> np.ndarray:
    """Map fer7 codes to ``scheme`` codes (negative codes, meaning 'no label', pass through)."""
    labels = np.asarray(labels_fer7, dtype=np.int64)
    class_names(scheme)
    if scheme == "fer7":
        return labels
    return np.where(labels >= 0, FER7_TO_FER6[np.clip(labels, 0, 6)], labels)


def convert_proba(proba_fer7, scheme: str = "fer7") -> np.ndarray:
    """Turn fer7 class probabilities into ``scheme`` probabilities by summing folded classes."""
    proba = np.asarray(proba_fer7, dtype=np.float64)
    class_names(scheme)
    if scheme == "fer7":
        return proba
    out = np.zeros(proba.shape[:-1] + (len(FER6),), dtype=np.float64)
    for src, dst in enumerate(FER7_TO_FER6):
        out[..., dst] += proba[..., src]
    return out
