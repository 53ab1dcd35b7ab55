"""Emotion label schemes.

FER2013 codes its seven emotions 0..6 (Angry, Disgust, Fear, Happy, Sad,
Surprise, Neutral).  Names follow py-feat's vocabulary so that output columns
line up with py-feat's Fex tables.

Three schemes are supported:

* ``fer7`` - the standard seven classes, as in the literature.
* ``fer6`` - the project brief's six classes (Angry, Fear, Happy, Sad,
  Surprise, Neutral): Disgust is folded into Angry.
* ``fer8`` - FER+'s eight (Barsoum et al. 2016, ``fer2013new.csv``): FER2013's
  seven in fer7 order, then ``contempt`` (code 7).  Its labels come from the
  FER+ voters, not from FER2013: see ``ferplus_majority`` (hard labels) and
  ``ferplus_soft_targets`` (vote distributions).

FER+ majority rules (``rule=``), both leaving out images whose winner is
"unknown" or "not a face" (NF) and returning -1 for them:

* ``"majority"`` (the default) - FER+'s own rule (microsoft/FERPlus
  ``src/ferplus.py``, mode "majority", which its published test accuracies
  use): single votes are dropped as outliers, then the top class must hold
  *more than half* of the remaining votes.  No tie can pass this rule; an image
  without such a majority is left out.
* ``"plurality"`` - the class with the most votes among all ten columns; a tie
  for the top (also a tie with unknown/NF) leaves the image out.

On all 35,887 images (``tests/test_fer8_votes.py``): FER+'s rule labels 31,412
(148 contempt; PrivateTest 3,153 of 3,589, 16 contempt, so 3,137 of the seven),
and FER2013's label agrees with it on 67.9 % of the 31,264 with one of the
seven; the plurality rule labels 33,712 (212 contempt; PrivateTest 3,376), and
FER2013 agrees with it on 65.7 % of the 33,500 with one of the seven.
"""
from __future__ import annotations

import numpy as np

FER7 = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
FER6 = ("anger", "fear", "happiness", "sadness", "surprise", "neutral")
FER8 = FER7 + ("contempt",)
SCHEMES = {"fer7": FER7, "fer6": FER6, "fer8": FER8}

# FER+ vote columns, in the order of fer2013new.csv.
FERPLUS_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger",
                   "disgust", "fear", "contempt", "unknown", "NF")
# FER+ column of each fer8 class, in fer8 order (the first seven are fer7's).
FERPLUS_OF_FER8 = [FERPLUS_COLUMNS.index(name) for name in FER8]
FERPLUS_RULES = ("majority", "plurality")

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
    """Map fer7 codes to ``scheme`` codes (negative codes, meaning 'no label', pass through).

    fer7 codes are fer8 codes unchanged.  fer8 codes may be given too: contempt (7)
    has no fer7/fer6 class and becomes -1 there.
    """
    labels = np.asarray(labels_fer7, dtype=np.int64)
    class_names(scheme)
    if scheme == "fer8":
        return labels
    labels = np.where(labels == 7, -1, labels)  # contempt has no fer7/fer6 class
    if scheme == "fer7":
        return labels
    return np.where(labels >= 0, FER7_TO_FER6[np.clip(labels, 0, 6)], labels)


def convert_proba(proba_fer7, scheme: str = "fer7") -> np.ndarray:
    """Turn fer7 class probabilities into ``scheme`` probabilities by summing folded classes.

    For ``fer8`` a zero contempt column is appended (a fer7 model never predicts
    contempt).  (N, 8) fer8 probabilities are accepted too: they pass through for
    fer8; for fer7/fer6 contempt is dropped and the rest renormalised, i.e. the
    model's choice among FER2013's seven.
    """
    proba = np.asarray(proba_fer7, dtype=np.float64)
    class_names(scheme)
    if proba.shape[-1] == len(FER8):
        if scheme == "fer8":
            return proba
        seven = proba[..., :7]
        total = seven.sum(axis=-1, keepdims=True)
        proba = np.divide(seven, total, out=np.full_like(seven, 1 / 7), where=total > 0)
    elif proba.shape[-1] != len(FER7):
        raise ValueError(f"expected fer7 (7) or fer8 (8) probability columns, got {proba.shape[-1]}")
    if scheme == "fer7":
        return proba
    if scheme == "fer8":
        return np.concatenate([proba, np.zeros(proba.shape[:-1] + (1,))], axis=-1)
    out = np.zeros(proba.shape[:-1] + (len(FER6),), dtype=np.float64)
    for src, dst in enumerate(FER7_TO_FER6):
        out[..., dst] += proba[..., src]
    return out


# ---------------------------------------------------------------------------
# FER+ votes -> labels
# ---------------------------------------------------------------------------
def _check_votes(votes) -> np.ndarray:
    v = np.asarray(votes)
    if v.ndim != 2 or v.shape[1] != len(FERPLUS_COLUMNS):
        raise ValueError(f"FER+ votes must be (N, {len(FERPLUS_COLUMNS)}) in the column order "
                         f"{', '.join(FERPLUS_COLUMNS)}; got shape {v.shape}")
    return v.astype(np.float64)


def ferplus_majority(votes, scheme: str = "fer8", rule: str = "majority") -> np.ndarray:
    """The FER+ voters' label of each image as ``scheme`` codes, -1 where there is none.

    ``votes`` is (N, 10) in ``FERPLUS_COLUMNS`` order (``FER2013.ferplus_votes``).
    -1 marks images whose winner is "unknown" or "not a face", and images with no
    clear winner under ``rule`` (module docstring: ``"majority"`` is FER+'s own
    rule, ``"plurality"`` the top vote with ties left out).  For ``fer7``/``fer6``,
    images whose winner is contempt are -1 as well.
    """
    class_names(scheme)
    winner, ok = _ferplus_winner(votes, rule)
    label = np.where(ok & (winner < len(FER8)), winner, -1)
    return convert_labels(label, scheme)


def _ferplus_winner(votes, rule: str):
    """(winner, ok): the index of the top class in fer8 order + (8 unknown, 9 NF), and
    whether it is a clear winner under ``rule``."""
    if rule not in FERPLUS_RULES:
        raise ValueError(f"unknown FER+ rule {rule!r}; use one of {', '.join(FERPLUS_RULES)}")
    v = _check_votes(votes)[:, FERPLUS_OF_FER8 + [8, 9]]
    if rule == "majority":
        v = np.where(v <= 1, 0.0, v)              # single votes are outliers (FER+)
        top = v.max(axis=1)
        ok = (top > 0.5 * v.sum(axis=1)) & (top > 0)
    else:
        top = v.max(axis=1)
        ok = ((v == top[:, None]).sum(axis=1) == 1) & (top > 0)
    return v.argmax(axis=1).astype(np.int64), ok


def ferplus_exclusions(votes, rule: str = "majority") -> dict:
    """How many images ``ferplus_majority`` labels (fer8) and why the others have no label:
    ``{"labelled", "contempt", "unknown_or_not_face", "no_majority"}``."""
    winner, ok = _ferplus_winner(votes, rule)
    return {"labelled": int((ok & (winner < 8)).sum()),
            "contempt": int((ok & (winner == 7)).sum()),
            "unknown_or_not_face": int((ok & (winner >= 8)).sum()),
            "no_majority": int((~ok).sum())}


def ferplus_soft_targets(votes, scheme: str = "fer8", drop_single: bool = False) -> np.ndarray:
    """FER+ vote distributions as soft targets: each row is the share of the votes
    for each ``scheme`` class, normalised over the emotions (unknown and NF votes
    are left out; for fer7/fer6 contempt votes too, for fer6 disgust's share joins
    anger's), so a row sums to 1.

    ``drop_single`` first drops classes with a single vote, as FER+ does against
    outliers.  Rows without any emotion vote (e.g. not-a-face) are all zero;
    train only on rows whose ``ferplus_majority`` is >= 0, or whose sum is 1.
    """
    class_names(scheme)
    v = _check_votes(votes)
    if drop_single:
        v = np.where(v <= 1, 0.0, v)
    cols = FERPLUS_OF_FER8 if scheme == "fer8" else FERPLUS_OF_FER8[:7]
    d = v[:, cols]
    total = d.sum(axis=1, keepdims=True)
    d = np.divide(d, total, out=np.zeros_like(d), where=total > 0)
    return d if scheme in ("fer8", "fer7") else convert_proba(d, scheme)
