"""`python cli.py analyze` (and `demo`): folders, videos, every bad input, the CSV schema,
--resume, --crops, --workers, and an interrupted run that loses nothing."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fer_au.cli import main
from fer_au.output import columns
from fer_au.samples import SAMPLES_DIR

REPO = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("shipped_models")


def read(csv):
    return pd.read_csv(csv, dtype={"input": str, "error": str})


@pytest.fixture
def folder(tmp_path):
    """Two good photos, a no-face photo, every kind of bad file, and a non-media file."""
    d = tmp_path / "in"
    d.mkdir()
    for name in ("astronaut.jpg", "group.jpg", "no_face.jpg"):
        shutil.copy(SAMPLES_DIR / name, d / name)
    good = (SAMPLES_DIR / "hopper.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (d / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(300))
    (d / "empty.jpg").write_bytes(b"")
    (d / "fake.mp4").write_bytes(b"not a video at all" * 20)
    (d / "notes.txt").write_text("not media: skipped from a folder unless named")
    (d / "readme.md").write_text("not media: skipped from the folder, and reported")
    return d


def test_folder_with_bad_inputs(folder, tmp_path, capsys):
    out = tmp_path / "results.csv"
    missing = tmp_path / "missing.jpg"
    rc = main(["analyze", str(folder), str(missing), str(folder / "notes.txt"), "-o", str(out), "--no-progress"])
    captured = capsys.readouterr()
    assert rc == 1                                            # some inputs failed
    df = read(out)
    assert list(df.columns) == columns()
    by_input = {Path(p).name: g for p, g in df.groupby("input")}
    assert len(by_input["group.jpg"]) == 4 and len(by_input["astronaut.jpg"]) == 1
    nf = by_input["no_face.jpg"]
    assert len(nf) == 1 and nf["FaceRectX"].isna().all() and nf["error"].isna().all()
    for name, words in [("truncated.jpg", "truncated"), ("corrupt.png", "corrupt"), ("empty.jpg", "not an image"),
                        ("fake.mp4", "cannot open"), ("missing.jpg", "no such file"),
                        ("notes.txt", "neither an image nor a video")]:
        rows = by_input[name]
        assert len(rows) == 1 and words in rows["error"].iloc[0], name
        assert rows["FaceRectX"].isna().all()
        assert any(name in line and line.startswith("error:") for line in captured.err.splitlines()), name
    assert "Traceback" not in captured.err
    # the summary: inputs, faces, errors, and the non-media file seen in the folder
    assert "9 input(s)" in captured.out and "5 face(s)" in captured.out and "6 error(s)" in captured.out
    assert "1 non-media file(s)" in captured.out
    # face rows are complete and typed
    faces = df[df["FaceRectX"].notna()]
    assert faces[[f"x_{i}" for i in range(68)]].notna().all().all()
    assert np.allclose(faces[["anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral"]].sum(1), 1, atol=1e-3)
    assert (faces["face_model"] == "mediapipe-blazeface").all() and (faces["emotion_model"] == "cnn").all()
    assert (faces["frame"] == 0).all() and faces["approx_time"].isna().all()


def test_all_good_exit_0_and_resume(tmp_path, capsys):
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SAMPLES_DIR / "astronaut.jpg", d / "a.jpg")
    out = tmp_path / "r.csv"
    assert main(["analyze", str(d), "-o", str(out), "--no-progress"]) == 0
    first = read(out)
    shutil.copy(SAMPLES_DIR / "group.jpg", d / "b.jpg")
    capsys.readouterr()
    assert main(["analyze", str(d), "-o", str(out), "--resume", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "1 already in the CSV" in text and "1 image(s)" in text
    df = read(out)
    assert len(df) == 5 and list(df["input"]).count(str(d / "a.jpg")) == 1
    pd.testing.assert_frame_equal(df.iloc[:1], first, check_dtype=False)   # old rows untouched
    # without --resume the file is replaced
    assert main(["analyze", str(d / "a.jpg"), "-o", str(out), "--no-progress"]) == 0
    assert len(read(out)) == 1


def test_video_every_n_and_resume_mid_video(tmp_path, capsys):
    video = SAMPLES_DIR / "two_faces.mp4"          # 100 frames at 25 fps, two faces
    out = tmp_path / "v.csv"
    assert main(["analyze", str(video), "-o", str(out), "--every", "10", "--no-progress"]) == 0
    df = read(out)
    assert sorted(df["frame"].unique()) == list(range(0, 100, 10))
    assert len(df) == 20 and df.groupby("frame").size().eq(2).all()
    assert np.allclose(df["approx_time"], df["frame"] / 25.0)
    assert set(df["face_id"]) == {0, 1}
    left = df.loc[df.groupby("frame")["FaceRectX"].idxmin()]
    assert left["face_id"].nunique() == 1                      # ids persist across frames
    # a run cut short after frame 40, then resumed: continues at frame 50, nothing twice
    lines = out.read_text().splitlines(keepends=True)
    keep = [lines[0]] + [ln for ln in lines[1:] if int(ln.split(",")[1]) <= 40]
    out.write_text("".join(keep))
    capsys.readouterr()
    assert main(["analyze", str(video), "-o", str(out), "--every", "10", "--resume", "--no-progress"]) == 0
    again = read(out)
    assert sorted(again["frame"]) == sorted(df["frame"])
    cols = ["frame", "face_id", "FaceRectX", "x_30", "happiness"]
    pd.testing.assert_frame_equal(again.sort_values(["frame", "face_id"])[cols].reset_index(drop=True),
                                  df.sort_values(["frame", "face_id"])[cols].reset_index(drop=True))
    # a finished video is skipped by --resume
    capsys.readouterr()
    assert main(["analyze", str(video), "-o", str(out), "--every", "10", "--resume", "--no-progress"]) == 0
    assert "1 already in the CSV" in capsys.readouterr().out and len(read(out)) == len(again)


def test_hd_video_resumed_between_sweeps_gives_the_uninterrupted_rows(tmp_path, capsys):
    """A 1920x1080 video whose four ~60-px faces only the sweeps find (every
    stream.SWEEP_EVERY-th frame), cut after frame 6 and resumed: the resumed run starts
    at the sweep of frame 5, unrecorded, so frames 7-11 hold the same faces as before."""
    import cv2
    from skimage import data

    from fer_au.samples import group_photo
    group = group_photo()
    small = cv2.resize(group, None, fx=60 / 145, fy=60 / 145, interpolation=cv2.INTER_AREA)
    frame = cv2.resize(cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR), (1920, 1080), interpolation=cv2.INTER_CUBIC)
    frame[400:400 + small.shape[0], 600:600 + small.shape[1]] = small
    video = tmp_path / "hd.mp4"
    vw = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 25, (1920, 1080))
    for i in range(12):
        vw.write(np.roll(frame, 2 * i, axis=1))
    vw.release()
    out = tmp_path / "hd.csv"
    assert main(["analyze", str(video), "-o", str(out), "--no-progress"]) == 0
    df = read(out)
    assert df.groupby("frame").size().ge(4).all()               # the sweeps' faces, held in between
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join([lines[0]] + [ln for ln in lines[1:] if int(ln.split(",")[1]) <= 6]))
    capsys.readouterr()
    assert main(["analyze", str(video), "-o", str(out), "--resume", "--no-progress"]) == 0
    cols = ["frame", "face_id", "FaceRectX", "x_30", "AU12"]
    pd.testing.assert_frame_equal(read(out).sort_values(["frame", "face_id"])[cols].reset_index(drop=True),
                                  df.sort_values(["frame", "face_id"])[cols].reset_index(drop=True))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_resume_mid_video_keeps_the_track_ids_of_faces_that_came_and_went(faces_come_and_go, cut_after, tmp_path,
                                                                          suffix):
    """Resumed after frame 40, the stream restarts 24 frames early and its faces take the ids
    already written: Hopper 1 and the returning astronaut 2, as in one run (not 0 and 1)."""
    from fer_au.parquet_output import read_dataset

    video = str(faces_come_and_go)
    full = tmp_path / "full.csv"
    assert main(["analyze", video, "-o", str(full), "--no-progress"]) == 0
    df = read(full)
    span = df.dropna(subset=["face_id"]).groupby("face_id")["frame"].agg(["min", "max"])
    assert list(span.index) == [0, 1, 2] and span.loc[2, "min"] >= 32        # three tracks
    # the sweep of frame 10 found the astronaut too: when it leaves after frame 14 it is not
    # followed as a ghost on the background until the next sweep (held faces' mesh check)
    assert span.loc[0, "max"] == 14 and df[df["frame"].between(15, 17)]["face_id"].isna().all()
    out = tmp_path / f"cut{suffix}"
    cut_after(full, out, video, 40)
    assert main(["analyze", video, "-o", str(out), "--resume", "--no-progress"]) == 0
    again = read_dataset(out) if suffix == ".parquet" else read(out)
    cols = ["frame", "face_id", "FaceRectX", "x_30", "AU12", "happiness"]
    pd.testing.assert_frame_equal(again.sort_values(["frame", "face_id"])[cols].reset_index(drop=True),
                                  df.sort_values(["frame", "face_id"])[cols].reset_index(drop=True),
                                  check_dtype=False)


def test_crops(tmp_path, capsys):
    out = tmp_path / "c.csv"
    # without --crops, 48x48 faces are too small to detect: rows without a face, and a hint
    assert main(["analyze", str(SAMPLES_DIR / "crops"), "-o", str(out), "--no-progress"]) == 0
    assert read(out)["FaceRectX"].isna().all() and "--crops" in capsys.readouterr().out
    assert main(["analyze", str(SAMPLES_DIR / "crops"), "--crops", "-o", str(out), "--no-progress"]) == 0
    df = read(out)
    assert len(df) == 2 and (df["FaceRectWidth"] == 48).all() and df["FaceScore"].isna().all()
    assert (df["face_model"] == "crop").all() and df["happiness"].notna().all()


def test_models_can_be_switched_off(tmp_path):
    out = tmp_path / "m.csv"
    assert main(["analyze", str(SAMPLES_DIR / "astronaut.jpg"), "-o", str(out), "--emotion-model", "none",
                 "--au-model", "none", "--no-progress"]) == 0
    df = read(out)
    assert df["anger"].isna().all() and df["au_anger"].isna().all() and df["AU12"].notna().all()
    assert df["emotion_model"].isna().all()


def test_missing_models_dir_is_one_line(tmp_path):
    env = dict(os.environ, FER_AU_MODELS=str(tmp_path))
    p = subprocess.run([sys.executable, "cli.py", "analyze", str(SAMPLES_DIR / "astronaut.jpg"), "-o",
                        str(tmp_path / "x.csv")], cwd=REPO, env=env, capture_output=True, text=True)
    assert p.returncode == 2
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "--no-aus" in lines[0]
    assert "Traceback" not in p.stderr


@pytest.mark.slow
def test_workers_give_the_same_rows(tmp_path):
    imgs = [str(SAMPLES_DIR / n) for n in ("astronaut.jpg", "group.jpg", "hopper.jpg", "no_face.jpg")]
    one, two = tmp_path / "w1.csv", tmp_path / "w2.csv"
    assert main(["analyze", *imgs, "-o", str(one), "--no-progress"]) == 0
    assert main(["analyze", *imgs, "-o", str(two), "--workers", "2", "--no-progress"]) == 0
    a, b = read(one), read(two)
    assert list(a["input"]) == list(b["input"]) == [imgs[0]] + [imgs[1]] * 4 + imgs[2:]
    num = a.select_dtypes("number").columns
    assert np.allclose(a[num].to_numpy(float), b[num].to_numpy(float), atol=1e-3, equal_nan=True)


def test_ctrl_c_loses_nothing_and_resume_finishes(tmp_path):
    """Interrupt a video run with SIGINT (Ctrl-C) once rows are on disk: they stay,
    every line is whole, the exit says how to resume, and --resume completes it."""
    out = tmp_path / "int.csv"
    cmd = [sys.executable, "cli.py", "analyze", str(SAMPLES_DIR / "two_faces.mp4"), "-o", str(out),
           "--no-progress"]
    p = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and p.poll() is None:
        if out.exists() and out.read_text().count("\n") > 11:   # header + >= 10 rows
            break
        time.sleep(0.05)
    assert p.poll() is None, "the run finished before it could be interrupted"
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130 and "--resume" in err and "Traceback" not in err
    partial = read(out)
    assert 10 <= len(partial) < 200
    assert partial.groupby("frame").size().eq(2).all()         # a frame's faces land together
    done = subprocess.run(cmd + ["--resume"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    full = read(out)
    assert sorted(full["frame"].unique()) == list(range(100)) and len(full) == 200


def test_first_ctrl_c_stops_at_a_boundary_second_at_once():
    """The first SIGINT only raises where the run checks for it (a KeyboardInterrupt raised
    inside a destructor is lost); a second one raises at once; the handler is restored."""
    from fer_au.batch import _ctrl_c_stops_at_a_boundary

    before = signal.getsignal(signal.SIGINT)
    with _ctrl_c_stops_at_a_boundary() as check:
        check()                                   # nothing pressed yet
        os.kill(os.getpid(), signal.SIGINT)       # handled at the next bytecode: no raise
        time.sleep(0.05)
        with pytest.raises(KeyboardInterrupt):
            check()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
    assert signal.getsignal(signal.SIGINT) is before


def test_demo(tmp_path, capsys):
    out = tmp_path / "demo.csv"
    assert main(["demo", "-o", str(out), "--every", "20"]) == 0
    text = capsys.readouterr().out
    df = read(out)
    assert (df["input"].str.endswith("group.jpg")).sum() == 4
    assert "no face" in text and str(out.resolve()) in text and "group.jpg" in text


def test_video_running_au_baseline(tmp_path):
    """--au-baseline running: the same rows, AUs measured from each face's own running median
    (population baseline for the first 30 frames). The sample's faces are stills moved
    around, so once the baseline forms their AUs fall to about 0."""
    video = SAMPLES_DIR / "two_faces.mp4"
    runs = {}
    for mode in ("population", "running"):
        out = tmp_path / f"{mode}.csv"
        assert main(["analyze", str(video), "-o", str(out), "--au-baseline", mode, "--no-progress"]) == 0
        runs[mode] = read(out).sort_values(["frame", "face_id"]).reset_index(drop=True)
    pop, run = runs["population"], runs["running"]
    aus = [c for c in pop.columns if c.startswith("AU")]
    assert len(run) == len(pop) and aus
    early, late = pop["frame"] < 29, pop["frame"] >= 40
    np.testing.assert_allclose(run.loc[early, aus], pop.loc[early, aus], atol=1e-3)
    assert pop.loc[late, aus].to_numpy().mean() > 0.2
    assert run.loc[late, aus].to_numpy().mean() < 0.5 * pop.loc[late, aus].to_numpy().mean()
    np.testing.assert_allclose(run["happiness"], pop["happiness"], atol=1e-4)
