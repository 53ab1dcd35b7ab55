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


@pytest.fixture(scope="session")
def faces_come_and_go(tmp_path_factory):
    """A 60-frame 640x480 video whose faces come and go: the astronaut (left) in frames
    0-14 and again from 32, Grace Hopper (right) from 18.  One run's tracker gives the
    astronaut id 0, Hopper id 1 and the returning astronaut id 2 (track 0 retired by then)."""
    import cv2

    from fer_au.samples import background, paste
    path = tmp_path_factory.mktemp("come_and_go") / "come_and_go.mp4"
    bg = background(640, 480, seed=4)
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (640, 480))
    for i in range(60):
        frame = bg.copy()
        if i < 15 or i >= 32:
            paste(frame, "astronaut", 170 + i, 240, 150)
        if i >= 18:
            paste(frame, "hopper", 470 - i, 250, 150)
        vw.write(frame)
    vw.release()
    return path


@pytest.fixture
def cut_after():
    """``cut_after(full_csv, out, video, last, done=())``: write to ``out`` (a CSV or a
    .parquet dataset, with its journal) the rows of the inputs ``done`` (images) and the
    rows of ``video`` up to frame ``last``, as a run killed after that frame leaves them."""
    import csv

    from fer_au.media import input_key
    from fer_au.output import open_writer

    def cut(full_csv, out, video, last: int, done=()):
        with open(full_csv, newline="") as fh:
            rows = list(csv.DictReader(fh))
        w = open_writer(out, list(rows[0]), journal=True)
        for name in done:
            w.write_rows([r for r in rows if r["input"] == str(name)], done={"kind": "input", "input": input_key(name)})
        rows = [r for r in rows if r["input"] == str(video)]
        for f in range(last + 1):
            mine = [r for r in rows if int(r["frame"]) == f]
            w.write_rows(mine, done={"kind": "frame", "input": input_key(video), "frame": f,
                                     "time": float(mine[0]["approx_time"])})
        w.close()
    return cut
