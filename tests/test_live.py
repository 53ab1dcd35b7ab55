"""`python cli.py live`: headless on a generated video (annotated video + CSV), clear
one-line errors for missing cameras and unreadable sources, and the real window
under Xvfb (keys s and q, screenshot) where Xvfb, xdotool and xwd are installed."""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from fer_au.cli import main
from fer_au.output import columns

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))


pytestmark = pytest.mark.usefixtures("shipped_models")


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """2 s of three real faces moving about a 640x480 frame."""
    from fer_au.samples import write_video
    return write_video(tmp_path_factory.mktemp("live") / "three.mp4", n_faces=3, seconds=2.0, fps=25)


def test_headless_writes_annotated_video_and_csv(video, tmp_path, capsys):
    out, csv = tmp_path / "annotated.mp4", tmp_path / "frames.csv"
    rc = main(["live", "--source", str(video), "--no-display", "--output", str(out), "--csv", str(csv),
               "--smooth", "--detect-every", "3"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "50 frame(s)" in text and "3 face id(s)" in text
    # the annotated video: every frame, same size, with the overlay drawn on it
    src, ann = cv2.VideoCapture(str(video)), cv2.VideoCapture(str(out))
    n, changed = 0, []
    while True:
        ok1, a = src.read()
        ok2, b = ann.read()
        if not (ok1 and ok2):
            assert ok1 == ok2
            break
        assert a.shape == b.shape == (480, 640, 3)
        changed.append(float((np.abs(a.astype(int) - b.astype(int)).max(2) > 60).mean()))
        n += 1
    assert n == 50 and min(changed) > 0.02        # boxes, bars and text on every frame
    # the CSV: analyze's columns, three faces a frame, ids that persist
    df = pd.read_csv(csv, dtype={"input": str, "error": str})
    assert list(df.columns) == columns()
    assert len(df) == 150 and df.groupby("frame").size().eq(3).all()
    assert sorted(df["face_id"].unique()) == [0, 1, 2]
    first = df[df["frame"] == 0].set_index("face_id")["FaceRectX"]
    last = df[df["frame"] == 49].set_index("face_id")["FaceRectX"]
    assert (abs(first - last) < 120).all()       # each id stays with its (slowly moving) face
    assert np.allclose(df["approx_time"], df["frame"] / 25.0)
    probs = df[["anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral"]].sum(1)
    assert np.allclose(probs, 1.0, atol=1e-3)


def _one_error_line(capsys):
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err
    return lines[0]


def test_missing_camera_is_one_line(capsys):
    assert main(["live", "--source", "9", "--no-display"]) == 2
    assert "camera 9" in _one_error_line(capsys)


def test_bad_emotion_every_is_one_line(video, capsys):
    assert main(["live", "--source", str(video), "--no-display", "--emotion-every", "0"]) == 2
    assert "--emotion-every" in _one_error_line(capsys)


@pytest.mark.parametrize("kind", ["not_a_video", "missing", "url"])
def test_unreadable_source_is_one_line(kind, tmp_path, capsys):
    if kind == "not_a_video":
        src = tmp_path / "clip.mp4"
        src.write_text("definitely not a video")
    elif kind == "missing":
        src = tmp_path / "nope.mp4"
    else:
        src = "http://127.0.0.1:9/stream.mjpg"        # nothing listens on the discard port
    assert main(["live", "--source", str(src), "--no-display"]) == 2
    assert str(src) in _one_error_line(capsys)


def test_window_without_a_display_is_one_line(video, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["live", "--source", str(video)]) == 2
    assert "--no-display" in _one_error_line(capsys)


def test_window_under_xvfb(tmp_path):
    """The real OpenCV window: it opens, shows the overlay, s saves a snapshot, q quits."""
    import live_screenshot as ls

    missing = ls.tools_missing()
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (apt-get install xvfb xdotool x11-apps)")
    from fer_au.samples import write_video
    long_video = write_video(tmp_path / "long.mp4", n_faces=2, seconds=40.0, fps=25)
    snaps = tmp_path / "snaps"
    shown = tmp_path / "shown.mp4"                 # every frame the window displayed
    r = ls.capture_live(long_video, tmp_path / "window.png", snaps, settle=2.0, log=lambda *_: None,
                        extra=["--output", str(shown)])
    assert r["returncode"] == 0, r["stderr"][-2000:]
    frames = int(r["stdout"].split(" frame(s)")[0].split()[-1])
    assert 0 < frames < 1000                      # q ended it long before the video's 1000 frames
    saved = sorted(snaps.glob("fer_au-snapshot-*.png"))
    assert len(saved) == 1                        # s saved exactly one snapshot
    snap = cv2.imread(str(saved[0]))
    assert snap.shape == (480, 640, 3)
    window = r["window"]
    assert window.shape[0] >= 480 and window.shape[1] >= 640
    # the window really shows the annotated frames: the screen grab matches one of the
    # frames live displayed (and wrote to --output), and so does the snapshot
    cap = cv2.VideoCapture(str(shown))
    best_window, best_snap = 0.0, 0.0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        best_window = max(best_window, float(cv2.matchTemplate(window, frame, cv2.TM_CCOEFF_NORMED).max()))
        best_snap = max(best_snap, float(cv2.matchTemplate(snap, frame, cv2.TM_CCOEFF_NORMED).max()))
    assert best_window > 0.97 and best_snap > 0.97
    # and the overlay's colours (box/label palette) are on screen
    from fer_au.live import PALETTE
    on_screen = [np.all(np.abs(window.astype(int) - np.array(c)) < 8, axis=2).sum() for c in PALETTE[:2]]
    assert all(n > 100 for n in on_screen)
