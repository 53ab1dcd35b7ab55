"""Shared fixtures: the real FER2013 (skipped cleanly where absent) and small synthetic files."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def fer_path():
    from fer_au.data import find_data
    path = find_data()
    if path is None:
        pytest.skip("FER2013 not found (set FER_AU_DATA or put it in data/); real-data test skipped")
    return path


@pytest.fixture(scope="session")
def fer(fer_path):
    from fer_au.data import load_fer2013
    return load_fer2013(fer_path, ferplus="auto")


@pytest.fixture
def synthetic():
    """Images, fer7 labels and usages for a tiny well-formed FER2013."""
    rng = np.random.default_rng(0)
    n = 21
    images = rng.integers(0, 256, size=(n, 48, 48), dtype=np.uint8)
    labels = np.arange(n) % 7
    usage = np.array(["Training"] * 14 + ["PublicTest"] * 4 + ["PrivateTest"] * 3)
    return images, labels, usage


@pytest.fixture(scope="module")
def shipped_models():
    """Skip (saying why) where the shipped models are missing, e.g. a partial checkout."""
    from fer_au.analyzer import FaceAnalyzer, ModelUnavailableError
    try:
        FaceAnalyzer()
    except ModelUnavailableError as exc:
        pytest.skip(f"shipped models missing: {exc}")
