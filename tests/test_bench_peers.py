"""bench/peers.py without installing fer: its --help, the install plan (no CUDA torch),
the generated videos, parsing `live`'s summary, the run order and the fps summary.
The end-to-end run, which builds the peers venv from PyPI, is marked slow."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import peers  # noqa: E402


def test_help():
    r = subprocess.run([sys.executable, str(REPO / "bench" / "peers.py"), "--help"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    for word in ("--faces", "--seconds", "--runs", "--venv", "no-deps", "start-up"):
        assert word in r.stdout.lower()


def test_install_plan_has_no_torch(tmp_path):
    cmds = peers.install_commands(tmp_path / "venv")
    assert cmds[0][1:3] == ["-m", "venv"]
    fer_cmd = cmds[-1]
    assert "--no-deps" in fer_cmd and f"fer=={peers.FER_VERSION}" in fer_cmd
    packages = [a.lower() for c in cmds[1:] for a in c[c.index("install") + 1:] if not a.startswith("-")]
    assert not [p for p in packages if "torch" in p], packages
    flat = " ".join(packages)
    assert "fer==" in flat and "tensorflow-cpu" in flat and "opencv-python<5" in flat
    assert peers.venv_python(tmp_path / "v") == tmp_path / "v" / "bin" / "python"


def test_default_venv(monkeypatch, tmp_path):
    monkeypatch.setenv("FER_AU_PEERS_VENV", str(tmp_path / "x"))
    assert peers.default_venv() == tmp_path / "x"
    monkeypatch.delenv("FER_AU_PEERS_VENV")
    monkeypatch.setenv("FER_AU_CACHE", str(tmp_path))
    assert peers.default_venv() == tmp_path / "peers-venv"


def test_videos_are_640x480_and_reused(tmp_path):
    import cv2

    videos = peers.make_videos(tmp_path, faces=(1, 4), seconds=0.4)
    assert sorted(videos) == [1, 4]
    for path in videos.values():
        cap = cv2.VideoCapture(str(path))
        assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (640, 480)
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 10
        cap.release()
    mtime = videos[1].stat().st_mtime_ns
    assert peers.make_videos(tmp_path, faces=(1,), seconds=0.4)[1].stat().st_mtime_ns == mtime


def test_parse_live_summary():
    out = "note: something\n250 frame(s), 980 face detection(s), 4 face id(s), 12.3 fps over 20.3 s\n"
    assert peers.parse_live(out) == {"frames": 250, "faces": 980, "fps": 12.3, "seconds": 20.3}
    with pytest.raises(RuntimeError, match="no summary line"):
        peers.parse_live("Traceback ...")


def test_schedule_alternates():
    order = peers.schedule([1, 4], runs=3)
    assert len(order) == 12
    assert [t for _, n, t in order if n == 1] == ["fer_au", "fer", "fer", "fer_au", "fer_au", "fer"]
    assert {(n, t) for _, n, t in order} == {(1, "fer_au"), (1, "fer"), (4, "fer_au"), (4, "fer")}


def test_summary_medians_and_ratio():
    runs = {1: {"fer_au": [{"fps": 10.0}, {"fps": 30.0}, {"fps": 20.0}],
                "fer": [{"fps": 8.0}, {"fps": 10.0}, {"fps": 12.0}]}}
    s = peers.summarise(runs)[1]
    assert s == {"fer_au": 20.0, "fer": 10.0, "ratio": 2.0}


def test_fer_runner_is_valid_python_and_saves_nothing():
    tree = ast.parse(peers.FER_RUNNER)
    assert tree.body
    assert "save_frames=False" in peers.FER_RUNNER and "save_video=False" in peers.FER_RUNNER


@pytest.mark.slow
def test_end_to_end(tmp_path):
    """Builds (or reuses) the peers venv from PyPI and runs both tools once on 1-s videos."""
    out = tmp_path / "peers.json"
    r = subprocess.run([sys.executable, str(REPO / "bench" / "peers.py"), "--faces", "1", "--seconds", "1",
                        "--runs", "1", "--workdir", tmp_path, "--json", out],
                       capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "fer_au/fer =" in r.stdout and "CPU model" in r.stdout and out.exists()
