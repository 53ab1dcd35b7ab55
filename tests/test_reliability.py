"""Nothing lost, nothing silently wrong (issue #12): each defect a bad-input and fault
corpus found, with real files made here (tests/make_corpus.py), real decoders, real
kills, a real full disk and real file permissions.

Defects: 1 damaged JPEG, 2 multi-frame images, 3 folder links and unreadable folders,
4 truncated video, 5 --crops on non-faces, 6 resume vs a lying header, 7 partly written
inputs, 8 disk full, 9 resume by resolved path, 10 corrupted models, 11 presentation
timestamps; then the corpus, and the kill -9 matrix (slow).
"""
from __future__ import annotations

import csv
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from fer_au.cli import main
from fer_au.samples import SAMPLES_DIR, face_crop48, group_photo, no_face_photo, single_photo, write_video

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_corpus import (VFR_TIMES, bgr_to_pil, drop_dac_override, have_pyav, jpeg_bytes,  # noqa: E402
                         make_corpus, patch_avi_frame_count, unlock, unprivileged_works, write_vfr_mp4)

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("shipped_models")
needs_av = pytest.mark.skipif(not have_pyav(), reason="PyAV (pip install av, in the test extras) writes the VFR video")
NUM = ["FaceRectX", "FaceRectY", "x_30", "y_30", "Pitch", "AU12", "happiness", "au_neutral"]


def read(path):
    return pd.read_csv(path, dtype={"input": str, "error": str, "warning": str})


@pytest.fixture(scope="module")
def analyzer():
    from fer_au.analyzer import FaceAnalyzer
    return FaceAnalyzer()


def analyze(analyzer, paths, out, **kw):
    from fer_au.batch import run_batch
    return run_batch([str(p) for p in paths], csv=out, analyzer=analyzer, **kw)


def cli(*args, cwd=REPO, env=None, preexec_fn=None, timeout=600):
    """`python cli.py ...` in a fresh process, as a user runs it."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **(env or {}))
    return subprocess.run([sys.executable, str(REPO / "cli.py"), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, preexec_fn=preexec_fn, timeout=timeout)


def assert_one_clean_error(p, *words):
    errors = [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, p.stderr[-3000:]
    for w in words:
        assert w in errors[0], errors[0]
    for bad in ("Traceback", "Stack trace", "File not found", "[bt]"):
        assert bad not in p.stderr, p.stderr[-3000:]
    return errors[0]


def same_rows(a: pd.DataFrame, b: pd.DataFrame):
    """The same rows, in any order: the same (input, frame, face) keys once each, the same
    errors, the same numbers (1e-3: worker processes run TensorFlow single-threaded)."""
    key = ["input", "frame", "face_id"]
    a = a.sort_values(key, na_position="first").reset_index(drop=True)
    b = b.sort_values(key, na_position="first").reset_index(drop=True)
    assert not a.duplicated(key).any() and not b.duplicated(key).any()
    assert a[key].astype(str).values.tolist() == b[key].astype(str).values.tolist()
    assert a["error"].fillna("").tolist() == b["error"].fillna("").tolist()
    np.testing.assert_allclose(a[NUM].to_numpy(float), b[NUM].to_numpy(float), atol=1e-3, equal_nan=True)


def whole_lines(path) -> bool:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return all(len(r) == len(rows[0]) for r in rows) and open(path, "rb").read().endswith(b"\n")


# ---------------------------------------------------------------- 1 damaged JPEG
def test_1_damaged_jpeg_is_an_error_row_not_a_quiet_no_face(tmp_path, analyzer):
    good = jpeg_bytes(single_photo("astronaut"))
    bad = bytearray(good)
    bad[len(good) // 2:len(good) // 2 + 64] = bytes(64)       # decodes, garbled and shifted
    (tmp_path / "damaged.jpg").write_bytes(bytes(bad))
    (tmp_path / "padded.jpg").write_bytes(good[:-2] + b"\0" * 10 + good[-2:])   # pixels intact
    s = analyze(analyzer, [tmp_path / "damaged.jpg", tmp_path / "padded.jpg"], tmp_path / "r.csv")
    df = read(tmp_path / "r.csv").set_index("input")
    row = df.loc[str(tmp_path / "damaged.jpg")]
    assert "damaged image data" in row["error"] and "Corrupt JPEG data" in row["error"]
    assert np.isnan(row["FaceRectX"])
    padded = df.loc[str(tmp_path / "padded.jpg")]
    assert pd.isna(padded["error"]) and "extraneous bytes" in padded["warning"] and padded["FaceRectX"] > 0
    assert s.errors == 1 and s.warnings == 1


# ---------------------------------------------------------------- 2 multi-frame images
def test_2_every_frame_of_gif_webp_and_tiff_is_read(tmp_path, analyzer):
    face, nothing = bgr_to_pil(single_photo("astronaut")), bgr_to_pil(cv2.resize(no_face_photo(), (640, 480)))
    nothing.save(tmp_path / "a.gif", save_all=True, append_images=[face], duration=[500, 700], loop=0)
    face.save(tmp_path / "b.webp", save_all=True, append_images=[nothing, face], duration=250, loop=0)
    bgr_to_pil(group_photo()).save(tmp_path / "c.tif", save_all=True, append_images=[face])
    s = analyze(analyzer, [tmp_path / n for n in ("a.gif", "b.webp", "c.tif")], tmp_path / "r.csv")
    df = read(tmp_path / "r.csv")
    faces = {Path(i).name: g.groupby("frame")["FaceRectX"].count().tolist() for i, g in df.groupby("input")}
    assert faces == {"a.gif": [0, 1], "b.webp": [1, 0, 1], "c.tif": [4, 1]}
    times = {Path(i).name: g.drop_duplicates("frame")["approx_time"].tolist() for i, g in df.groupby("input")}
    assert times["a.gif"] == [0.0, 0.5] and times["b.webp"] == [0.0, 0.25, 0.5]
    assert np.isnan(times["c.tif"]).all()              # pages have no time
    assert s.images == 3 and s.frames == 7 and s.image_frames == 7 and s.errors == 0
    # the summary says the frames beside the images they belong to, not the (no) videos
    assert "3 input(s): 3 image(s) (7 frames of multi-frame images), 0 video(s) (0 frames)" in s.line()


# ---------------------------------------------------------------- 3 folders
def test_3_recursive_follows_folder_links_once_and_survives_a_loop(tmp_path, analyzer):
    root, other = tmp_path / "root", tmp_path / "other"
    (root / "sub").mkdir(parents=True)
    other.mkdir()
    shutil.copy(SAMPLES_DIR / "astronaut.jpg", root / "a.jpg")
    shutil.copy(SAMPLES_DIR / "hopper.jpg", root / "sub" / "b.jpg")
    shutil.copy(SAMPLES_DIR / "group.jpg", other / "c.jpg")
    (root / "linked").symlink_to(other, target_is_directory=True)     # followed
    (root / "sub" / "up").symlink_to(root, target_is_directory=True)  # a loop: walked once
    (root / "again").symlink_to(root / "sub", target_is_directory=True)  # sub twice: its files once
    s = analyze(analyzer, [root], tmp_path / "r.csv", recursive=True)
    df = read(tmp_path / "r.csv")
    names = sorted({str(Path(i).relative_to(root)) for i in df["input"]})
    assert names == ["a.jpg", "again/b.jpg", "linked/c.jpg"]
    assert len(df) == 1 + 1 + 4 and s.errors == 0 and s.inputs == 3


def test_3_unreadable_folders_and_files_get_error_rows_saying_permission_denied(tmp_path):
    """Also seen: an unreadable folder named on the command line, one met by --recursive,
    a chmod-000 image and video: each an error row that says "permission denied", the
    other inputs analysed, exit status 1 (not 2)."""
    if not unprivileged_works(tmp_path):
        pytest.skip("cannot run a child without CAP_DAC_OVERRIDE here")
    tmp_path.chmod(0o755)
    tree = tmp_path / "tree"
    (tree / "closed").mkdir(parents=True)
    shutil.copy(SAMPLES_DIR / "astronaut.jpg", tree / "a.jpg")
    shutil.copy(SAMPLES_DIR / "hopper.jpg", tree / "closed" / "b.jpg")
    named = tmp_path / "named"
    named.mkdir()
    shutil.copy(SAMPLES_DIR / "hopper.jpg", named / "c.jpg")
    image, video = tmp_path / "locked.jpg", tmp_path / "locked.mp4"
    shutil.copy(SAMPLES_DIR / "astronaut.jpg", image)
    write_video(video, n_faces=1, seconds=0.2, fps=10, size=(160, 120))
    for p in (tree / "closed", named, image, video):
        p.chmod(0)
    out = tmp_path / "r.csv"
    try:
        p = cli("analyze", named, tree, image, video, "--recursive", "-o", out, "--no-progress",
                preexec_fn=drop_dac_override)
    finally:
        for q in (tree / "closed", named):
            q.chmod(0o755)
        for q in (image, video):
            q.chmod(0o644)
    assert p.returncode == 1, p.stderr[-2000:]
    assert "Traceback" not in p.stderr
    err = read(out).set_index("input")["error"]
    assert err[str(named)].endswith("folder cannot be read: permission denied")
    assert err[str(tree / "closed")].endswith("folder cannot be read: permission denied")
    assert err[str(image)].endswith("permission denied") and err[str(video)].endswith("permission denied")
    assert pd.isna(err[str(tree / "a.jpg")])
    assert len(err) == 5


# ---------------------------------------------------------------- 4 truncated video
def test_4_truncated_video_ends_with_an_error_row_saying_where(tmp_path, analyzer):
    whole = write_video(tmp_path / "whole.avi", n_faces=1, seconds=2.0, fps=10, size=(160, 120), fourcc="MJPG")
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    s = analyze(analyzer, [cut], tmp_path / "r.csv")
    df = read(tmp_path / "r.csv")
    frames, last = df.iloc[:-1], df.iloc[-1]
    assert frames["error"].isna().all() and list(frames["frame"]) == list(range(len(frames)))
    assert 0 < len(frames) < 20
    assert f"stops at frame {len(frames)}" in last["error"] and "announces 20 frames" in last["error"]
    assert last["frame"] == len(frames)
    assert s.errors == 1 and s.videos == 1


# ---------------------------------------------------------------- 5 crops that cannot be faces
def test_5_crops_of_one_pixel_or_one_colour_get_no_made_up_emotions(tmp_path, analyzer, capsys):
    cv2.imwrite(str(tmp_path / "one_px.png"), np.full((1, 1), 128, np.uint8))
    cv2.imwrite(str(tmp_path / "blank.png"), np.zeros((48, 48), np.uint8))
    cv2.imwrite(str(tmp_path / "face.png"), face_crop48("astronaut"))
    out = tmp_path / "c.csv"
    assert main(["analyze", str(tmp_path), "--crops", "-o", str(out), "--no-progress"]) == 1
    df = read(out).set_index(read(out)["input"].map(lambda p: Path(p).name))
    assert "too small to be a face crop" in df.loc["one_px.png", "error"]
    assert "one flat colour" in df.loc["blank.png", "error"]
    assert df.loc[["one_px.png", "blank.png"], ["anger", "neutral", "au_neutral"]].isna().all().all()
    assert pd.isna(df.loc["face.png", "error"]) and df.loc["face.png", "happiness"] >= 0
    # the Python API: no face, so no probabilities
    assert analyzer.analyze(np.full((1, 1), 200, np.uint8), crop=True) == []
    assert analyzer.analyze(np.full((48, 48), 90, np.uint8), crop=True) == []
    assert len(analyzer.analyze(face_crop48("hopper"), crop=True)) == 1


# ---------------------------------------------------------------- 6 resume vs a lying header
def test_6_resume_does_not_trust_a_header_that_under_reports(tmp_path, analyzer):
    video = write_video(tmp_path / "lies.avi", n_faces=1, seconds=1.2, fps=10, size=(160, 120), fourcc="MJPG")
    patch_avi_frame_count(video, 4)                          # says 4 frames, holds 12
    out = tmp_path / "v.csv"
    analyze(analyzer, [video], out)
    full = read(out)
    assert list(full["frame"]) == list(range(12)) and full["error"].isna().all()
    # the state a run killed after frame 5 leaves (a finished run deletes its journal,
    # so the CSV alone is what an older version or a copied file gives to --resume)
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:1 + 6]))
    s = analyze(analyzer, [video], out, resume=True)
    same_rows(read(out), full)
    assert s.frames == 6 and s.resumed == 0


# ---------------------------------------------------------------- 7 + 8 partly written, disk full
def _three_images(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    for i, name in enumerate(("astronaut.jpg", "group.jpg", "hopper.jpg")):
        shutil.copy(SAMPLES_DIR / name, d / f"{i}_{name}")
    return d


def test_7_8_a_file_size_limit_mid_image_keeps_whole_inputs_and_resume_completes(tmp_path, analyzer):
    """The 4 rows of the group photo are one write; a file-size limit (RLIMIT_FSIZE: the
    write fails with EFBIG) lets only part of it reach the disk.  The run must say what it
    kept and how to go on, leave only whole inputs, and --resume must then redo the group
    photo: all its rows once."""
    d = _three_images(tmp_path)
    ref = tmp_path / "ref.csv"
    analyze(analyzer, [d], ref)
    reference = read(ref)
    lines = ref.read_bytes().splitlines(keepends=True)
    assert reference["input"].tolist()[1:5] == [str(d / "1_group.jpg")] * 4
    limit = sum(map(len, lines[:3])) + 100       # header, photo 0, one group row and a bit
    out = tmp_path / "out.csv"

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)    # a write past the limit fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    p = cli("analyze", d, "-o", out, "--no-progress", preexec_fn=limited)
    assert p.returncode == 3, p.stderr[-3000:]
    line = assert_one_clean_error(p, "File too large", "--resume", "Kept: 1 row(s)")
    assert "1 input(s) complete" in line
    assert out.read_bytes() == b"".join(lines[:2])          # photo 0 whole, nothing of the group
    s = analyze(analyzer, [d], out, resume=True)
    same_rows(read(out), reference)
    assert s.resumed == 1 and s.images == 2 and whole_lines(out)
    assert not Path(str(out) + ".journal").exists()          # finished: the journal is gone


def test_8_disk_full_on_a_real_small_filesystem(tmp_path, analyzer):
    """ENOSPC from a real 8 KiB tmpfs (needs root; skipped elsewhere): the summary, what
    was kept, the --resume hint, exit status 3, whole rows; after making room, --resume
    finishes with every row once."""
    d = _three_images(tmp_path)
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN)")
    try:
        ref = tmp_path / "ref.csv"
        analyze(analyzer, [d], ref)
        out = mnt / "out.csv"
        p = cli("analyze", d, "-o", out, "--no-progress")
        assert p.returncode == 3, p.stderr[-3000:]
        assert_one_clean_error(p, "No space left on device", "--resume", "Kept:")
        assert "3 input(s)" in p.stdout                      # the summary is printed
        kept = read(out)
        assert whole_lines(out) and len(kept) < len(read(ref))
        assert kept.groupby("input").size().to_dict() == {
            k: v for k, v in read(ref).groupby("input").size().items() if k in set(kept["input"])}
        subprocess.run(["mount", "-o", "remount,size=4m", str(mnt)], check=True)
        analyze(analyzer, [d], out, resume=True)
        same_rows(read(out), read(ref))
    finally:
        subprocess.run(["umount", str(mnt)])


# ---------------------------------------------------------------- 9 resume by resolved path
def test_9_resume_matches_inputs_by_resolved_path(tmp_path, analyzer, monkeypatch):
    d = tmp_path / "photos"
    d.mkdir()
    shutil.copy(SAMPLES_DIR / "group.jpg", d / "g.jpg")
    shutil.copy(SAMPLES_DIR / "astronaut.jpg", d / "a.jpg")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "r.csv"
    analyze(analyzer, ["photos"], out)                       # relative
    first = read(out)
    shutil.copy(SAMPLES_DIR / "hopper.jpg", d / "h.jpg")
    for spelling in (str(d), "./photos/../photos", str(tmp_path / "photos") + "/"):
        s = analyze(analyzer, [spelling], out, resume=True)
        assert s.resumed >= 2
    df = read(out)
    assert len(df) == len(first) + 1 and not df.duplicated(["input", "frame", "face_id"]).any()
    assert sorted(Path(p).name for p in df["input"].unique()) == ["a.jpg", "g.jpg", "h.jpg"]


# ---------------------------------------------------------------- 10 corrupted models
@pytest.fixture
def models_copy(tmp_path):
    from fer_au import zoo
    dst = tmp_path / "models"
    shutil.copytree(zoo.MODELS_DIR, dst)
    return dst


def test_10_rehash_load_checks_and_every_corruption_is_one_clear_line(models_copy, tmp_path):
    from fer_au import zoo
    broken = ["cnn_fer7.keras", "classical_fer7.joblib", "au_xgb_fer7.ubj", "face_landmark.tflite",
              "au_baseline.json"]
    before = zoo.read_manifest(models_copy)
    for name in broken:
        data = (models_copy / name).read_bytes()
        (models_copy / name).write_bytes(data[: len(data) // 2])        # truncated
    env = {"FER_AU_MODELS": str(models_copy)}
    p = cli("models", "--rehash", env=env)
    assert p.returncode == 1
    errors = [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]
    assert sorted(e.split(":")[1].strip().rsplit("/", 1)[-1] for e in errors) == sorted(broken), p.stderr
    assert all("cannot be loaded" in e and "NOT updated" in e for e in errors)
    for bad in ("Traceback", "Stack trace", "File not found", "[bt]"):
        assert bad not in p.stderr + p.stdout
    after = zoo.read_manifest(models_copy)
    assert all(after[n] == before[n] for n in broken)           # still refused
    a = cli("analyze", SAMPLES_DIR / "astronaut.jpg", "-o", tmp_path / "x.csv", env=env)
    assert a.returncode == 2
    assert "does not match the manifest" in assert_one_clean_error(a)

    # a manifest line without a file name: one line naming the manifest and the fix
    good_manifest = (zoo.MODELS_DIR / zoo.MANIFEST).read_text()
    (models_copy / zoo.MANIFEST).write_text(good_manifest + "0123abcd\n")
    m = cli("models", env=env)
    assert m.returncode == 1
    assert "malformed line" in assert_one_clean_error(m, "MANIFEST.sha256", "--rehash")


def test_10_a_model_that_matches_its_checksum_but_does_not_load_is_one_line(models_copy):
    """The state a --rehash without load-checks left behind: the manifest vouches for a
    broken file.  Loading must name the file, not end in BadZipFile or a C++ dump."""
    from fer_au import zoo
    for name, model in (("au_xgb_fer7.ubj", "au"), ("classical_fer7.joblib", "classical")):
        path = models_copy / name
        path.write_bytes(path.read_bytes()[:5000])
        lines = (models_copy / zoo.MANIFEST).read_text().splitlines()
        lines = [f"{zoo.sha256_of(path)}  {name}" if ln.endswith(f"  {name}") else ln for ln in lines]
        (models_copy / zoo.MANIFEST).write_text("\n".join(lines) + "\n")
        with pytest.raises(zoo.ModelIntegrityError) as exc:
            zoo.load_model(model, models_copy)
        msg = str(exc.value)
        assert "\n" not in msg and name in msg and "cannot be loaded" in msg and "[bt]" not in msg


# ---------------------------------------------------------------- 11 presentation times
@needs_av
def test_11_times_are_presentation_times_in_analyze_live_and_resume(tmp_path, analyzer):
    from fer_au.live import run_live
    video = write_vfr_mp4(tmp_path / "vfr.mp4", VFR_TIMES)
    out = tmp_path / "v.csv"
    analyze(analyzer, [video], out)
    df = read(out)
    np.testing.assert_allclose(df.drop_duplicates("frame")["approx_time"], VFR_TIMES, atol=1.5e-3)
    assert df["warning"].isna().all()
    # --resume's seek: continue a run cut after frame 13 (in the 30 fps part)
    lines = out.read_text().splitlines(keepends=True)
    keep = [ln for ln in lines[1:] if int(ln.split(",")[1]) <= 13]
    out.write_text(lines[0] + "".join(keep))
    analyze(analyzer, [video], out, resume=True)
    same_rows(read(out), df)
    np.testing.assert_allclose(read(out).drop_duplicates("frame")["approx_time"], VFR_TIMES, atol=1.5e-3)
    # live --csv
    run_live(str(video), analyzer, display=False, csv=tmp_path / "live.csv", log=lambda *a: None)
    live = read(tmp_path / "live.csv")
    np.testing.assert_allclose(live.drop_duplicates("frame")["approx_time"], VFR_TIMES, atol=1.5e-3)


@needs_av
def test_11_a_stream_without_times_falls_back_to_index_over_fps_and_says_so(tmp_path, analyzer):
    raw = write_vfr_mp4(tmp_path / "raw.h264", [i / 25 for i in range(6)], fmt="h264")
    out = tmp_path / "r.csv"
    s = analyze(analyzer, [raw], out)
    df = read(out).drop_duplicates("frame")
    np.testing.assert_allclose(df["approx_time"], [i / 25 for i in range(6)], atol=1e-3)
    assert df["warning"].iloc[1:].str.contains("no presentation times").all() and s.warnings == 1


# ---------------------------------------------------------------- also seen
def test_huge_jpeg_is_decoded_small_for_detection_and_full_around_faces(tmp_path, analyzer):
    """A 6000x4000 JPEG (above media.HUGE_SIDE): the faces found from a reduced decode and
    analysed in full-resolution crops agree with analysing the whole decoded image."""
    from fer_au.batch import _image_rows
    from fer_au.media import read_image
    from fer_au.samples import paste
    canvas = np.full((4000, 6000, 3), (140, 160, 150), np.uint8)
    paste(canvas, "astronaut", 1800, 2000, 900)
    paste(canvas, "hopper", 4300, 1900, 800, flip=True)
    path = tmp_path / "huge.jpg"
    cv2.imwrite(str(path), canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])
    res = _image_rows(analyzer, str(path), crops=False)
    full = analyzer.analyze_bgr(read_image(path))
    assert res.faces == len(full) == 2
    rows = pd.DataFrame(res.rows)
    for row, f in zip(rows.itertuples(), full):
        assert abs(float(row.FaceRectX) - f.box[0]) < 0.03 * f.box[2]
        lm = np.array([[float(getattr(row, f"x_{i}")), float(getattr(row, f"y_{i}"))] for i in range(68)])
        assert np.abs(lm - f.landmarks).mean() < 0.02 * f.box[2]
        assert abs(float(row.Yaw) - f.pose[2]) < 5
        assert abs(float(row.happiness) - f.emotions["happiness"]) < 0.1


def test_full_resolution_regions_are_cut_upright_for_every_exif_orientation(tmp_path):
    """The huge-JPEG path cuts each face's crop from the stored pixels and turns only the
    crop upright: the same pixels as cutting the upright image, for orientations 1-8."""
    from PIL import Image

    from fer_au.media import ImageFile, read_image
    raw = np.kron(np.random.default_rng(0).integers(0, 255, (30, 45, 3)).astype(np.uint8),
                  np.ones((4, 4, 1), np.uint8))
    for o in range(1, 9):
        path = tmp_path / f"o{o}.png"
        exif = Image.Exif()
        exif[0x0112] = o
        Image.fromarray(raw).save(path, exif=exif)
        upright = read_image(path)
        boxes = [(10, 20, 70, 100), (0, 0, upright.shape[1], upright.shape[0]), (33, 5, 34, 9)]
        with ImageFile(path) as img:
            assert img.size == (upright.shape[1], upright.shape[0])
            for (x0, y0, x1, y1), crop in zip(boxes, img.regions(boxes)):
                assert np.array_equal(crop, upright[y0:y1, x0:x1]), (o, (x0, y0, x1, y1))


def test_live_output_into_a_missing_folder_fails_before_the_first_frame(tmp_path, capsys):
    rc = main(["live", "--source", str(SAMPLES_DIR / "two_faces.mp4"), "--no-display",
               "--output", str(tmp_path / "missing" / "out.mp4"), "--max-frames", "3"])
    err = capsys.readouterr().err
    assert rc == 2 and "folder" in err and "does not exist" in err
    assert [ln for ln in err.splitlines() if ln.startswith("error:")] == [err.strip().splitlines()[-1]]


def test_data_check_prints_split_totals_and_the_path_it_was_given(tmp_path, synthetic, monkeypatch, capsys):
    from fer_au.data import make_csv
    monkeypatch.setenv("FER_AU_CACHE", str(tmp_path / "cache"))
    real = tmp_path / "fer2013.csv"
    real.write_text(make_csv(*synthetic))
    (tmp_path / "alias.csv").symlink_to(real)          # the same file (and cache key), another name
    assert main(["data", "check", str(real)]) == 0
    capsys.readouterr()
    assert main(["data", "check", str(tmp_path / "alias.csv")]) == 0       # read from the cache
    out = capsys.readouterr().out
    assert out.startswith(f"{tmp_path / 'alias.csv'}: 21 images")
    total = [ln.split() for ln in out.splitlines() if ln.startswith("total")]
    assert total == [["total", "14", "4", "3", "21"]]


# ---------------------------------------------------------------- the corpus
def test_corpus_every_input_has_its_outcome_and_exit_status(tmp_path):
    """Every bad and awkward input of tests/make_corpus.py through `analyze --recursive`
    in a fresh process (as root: without CAP_DAC_OVERRIDE, so permissions hold): per
    input the outcome (faces per frame, or an error row saying why), rows == what the
    inputs and their faces make, exit status 1 (some inputs failed)."""
    root = tmp_path / "corpus"
    expect = make_corpus(root)
    try:
        if not unprivileged_works(tmp_path):      # permissions cannot be enforced: leave those out
            unlock(root)
            shutil.rmtree(root / "images" / "locked_dir")
            for rel in [r for r, e in expect.items() if e.needs_unprivileged]:
                (root / rel).unlink(missing_ok=True)
                del expect[rel]
        for d in (tmp_path, root, root / "images", root / "videos"):
            d.chmod(0o755)
        out = tmp_path / "out.csv"
        p = cli("analyze", root, "--recursive", "-o", out, "--no-progress", preexec_fn=drop_dac_override)
    finally:
        unlock(root)
    assert p.returncode == 1, p.stderr[-3000:]
    assert "Traceback" not in p.stderr
    df = read(out)
    assert f"{len(expect)} input(s)" in p.stdout and "1 non-media file(s)" in p.stdout
    assert len(df) == sum(e.rows for e in expect.values())
    assert set(df["input"]) == {str(root / rel) for rel in expect}
    for rel, e in expect.items():
        rows = df[df["input"] == str(root / rel)]
        what = f"{rel}: {e.note}"
        if e.faces is None:
            assert len(rows) == 1 and rows["FaceRectX"].isna().all(), what
        else:
            frames = rows[rows["error"].isna()]
            per_frame = frames.groupby("frame")["FaceRectX"].count().tolist()
            assert per_frame == e.faces, (what, per_frame)
            assert frames.groupby("frame").size().tolist() == [max(1, f) for f in e.faces], what
            if e.times is not None:
                np.testing.assert_allclose(frames.drop_duplicates("frame")["approx_time"], e.times, atol=1.5e-3,
                                           err_msg=what)
            if e.warning:
                assert frames["warning"].str.contains(e.warning).all(), what
            else:
                assert frames["warning"].isna().all(), (what, frames["warning"].unique())
        errors = rows["error"].dropna().tolist()
        if e.error:
            assert len(errors) == 1 and e.error in errors[0] and rows["error"].iloc[-1] == errors[0], (what, errors)
            assert any(ln.startswith("error:") and str(root / rel) in ln for ln in p.stderr.splitlines()), what
        else:
            assert errors == [], (what, errors)
    faces = df[df["FaceRectX"].notna()]
    np.testing.assert_allclose(faces[["anger", "disgust", "fear", "happiness", "sadness", "surprise",
                                      "neutral"]].sum(1), 1, atol=1e-3)
    rot = df[df["input"] == str(root / "images/exif_rotated.jpg")].iloc[0]
    assert rot["FaceRectX"] + rot["FaceRectWidth"] <= 640 and rot["FaceRectY"] + rot["FaceRectHeight"] <= 480


# ---------------------------------------------------------------- kill -9 matrix
def _kill_when(cmd, csv_path, rows: int, timeout=300):
    """Start `cmd`; kill -9 it once the CSV holds at least ``rows`` data rows (or let it
    finish).  Returns True when it was killed."""
    p = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    deadline = time.time() + timeout
    try:
        while p.poll() is None and time.time() < deadline:
            if csv_path.exists() and csv_path.read_bytes().count(b"\n") - 1 >= rows:
                p.send_signal(signal.SIGKILL)
                p.wait()
                return True
            time.sleep(0.01)
        return False
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)     # the pool's workers, orphaned by the kill
        except ProcessLookupError:
            pass
        p.wait()


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_kill_9_at_random_points_then_resume_loses_and_duplicates_nothing(tmp_path, analyzer, workers):
    d = tmp_path / "in"
    d.mkdir()
    for i, name in enumerate(("group.jpg", "astronaut.jpg", "no_face.jpg", "hopper.jpg", "group.jpg")):
        shutil.copy(SAMPLES_DIR / name, d / f"{i}_{name}")
    write_video(d / "v.mp4", n_faces=2, seconds=0.8, fps=10, size=(320, 240))
    lies = write_video(d / "w.avi", n_faces=1, seconds=1.0, fps=10, size=(160, 120), fourcc="MJPG")
    patch_avi_frame_count(lies, 1)       # says 1, holds 10: the seeded kills at rows 28/29 land past it
    ref = tmp_path / "ref.csv"
    analyze(analyzer, [d], ref)
    reference = read(ref)
    total = len(reference)
    out = tmp_path / "out.csv"
    cmd = [sys.executable, "cli.py", "analyze", str(d), "-o", str(out), "--no-progress", "--workers", str(workers)]
    rng = np.random.default_rng(20 + workers)
    kills = 0
    for i, at in enumerate(sorted(rng.integers(1, total, size=3))):
        kills += _kill_when(cmd + (["--resume"] if i else []), out, int(at))
    assert kills >= 2
    s = analyze(analyzer, [d], out, resume=True)
    final = read(out)
    same_rows(final, reference)
    assert whole_lines(out) and s.errors == 0
