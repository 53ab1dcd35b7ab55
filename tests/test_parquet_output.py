"""`analyze -o results.parquet` (issue #16): a partitioned Parquet dataset with the CSV's
columns and rows, written a part at a time; --resume after kill -9 at each step of
writing a part; a run on a 2-process Dask LocalCluster; read back with read_results,
pandas and dask.dataframe."""
from __future__ import annotations

import errno
import json
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

pytest.importorskip("pyarrow", reason="Parquet output needs pyarrow (pip install 'fer_au[parquet]')")

import pyarrow.parquet as pq  # noqa: E402

from fer_au import parquet_output, read_results  # noqa: E402
from fer_au.batch import analyze_paths, run_batch  # noqa: E402
from fer_au.samples import SAMPLES_DIR, write_video  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("shipped_models")
TEXT = {"input": str, "error": str, "warning": str}
SEGMENT = 8       # the 20-frame video: 3 segments on the cluster


def read_csv(path):
    return pd.read_csv(path, dtype=TEXT)


def same_rows(a: pd.DataFrame, b: pd.DataFrame, ordered: bool = False):
    """The same columns and rows (after sorting by input, frame, face id unless ``ordered``),
    each (input, frame, face) once; floats to 1e-6."""
    key = ["input", "frame", "face_id"]
    a, b = pd.DataFrame(a), pd.DataFrame(b)
    if not ordered:
        a = a.sort_values(key, na_position="first")
        b = b.sort_values(key, na_position="first")
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    assert not a.duplicated(key).any() and not b.duplicated(key).any()
    for c in a.columns:
        if a[c].dtype.kind in "fiu" and b[c].dtype.kind in "fiu":
            assert np.allclose(a[c].to_numpy(float), b[c].to_numpy(float), atol=1e-6, equal_nan=True), c
        else:
            assert (a[c].astype(object).fillna("") == b[c].astype(object).fillna("")).all(), c


def parts(out):
    return sorted(p.name for p in Path(out).iterdir() if p.name.startswith("part-"))


def temps(out):
    return sorted(p.name for p in Path(out).iterdir() if p.name.endswith(".tmp"))


def journal(out):
    return Path(str(out) + ".journal")


@pytest.fixture(scope="module")
def analyzer():
    from fer_au.analyzer import FaceAnalyzer
    return FaceAnalyzer()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Photos (one with 4 faces, one without a face, a truncated one: an error row, a padded
    one: a warning) and a 20-frame video with two faces."""
    d = tmp_path_factory.mktemp("pq_in")
    photos = d / "photos"
    photos.mkdir()
    for name in ("astronaut.jpg", "group.jpg", "no_face.jpg"):
        shutil.copy(SAMPLES_DIR / name, photos / name)
    good = (SAMPLES_DIR / "hopper.jpg").read_bytes()
    (photos / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (photos / "padded.jpg").write_bytes(good[:-2] + b"\0" * 10 + good[-2:])    # JPEG warning
    video = write_video(d / "two.mp4", n_faces=2, seconds=2.0, fps=10, size=(320, 240))
    return [str(photos), str(video)]


@pytest.fixture(scope="module")
def reference_csv(inputs, analyzer, tmp_path_factory):
    """The uninterrupted local run, to a CSV."""
    out = tmp_path_factory.mktemp("pq_ref") / "ref.csv"
    s = run_batch(inputs, csv=out, analyzer=analyzer)
    assert s.errors == 1 and s.warnings == 1 and s.videos == 1 and s.frames == 20
    return out


@pytest.fixture(scope="module")
def reference(reference_csv):
    df = read_csv(reference_csv)
    assert df["warning"].notna().sum() == 1 and df["error"].notna().sum() == 1
    return df


def test_local_run_to_parquet_equals_the_csv_and_reads_back_everywhere(inputs, analyzer, reference, reference_csv,
                                                                       tmp_path, monkeypatch):
    monkeypatch.setattr(parquet_output, "PART_ROWS", 5)        # many parts
    monkeypatch.setattr(parquet_output, "BATCH_ROWS", 2)       # buffered rows turned into Arrow batches
    out = tmp_path / "r.parquet"
    s = run_batch(inputs, csv=out, analyzer=analyzer)
    assert s.errors == 1 and s.warnings == 1 and s.frames == 20 and s.rows_written == len(reference)
    assert out.is_dir() and len(parts(out)) >= 5 and not temps(out)
    assert not journal(out).exists()                           # finished
    # pandas: the CSV's columns, rows and order (photos in order, then the video frame by frame)
    df = pd.read_parquet(out)
    same_rows(df, reference, ordered=True)
    assert {c: str(df[c].dtype) for c in df} == {c: str(reference[c].dtype) for c in reference}
    # every part holds whole units: an image's rows, a video frame's rows
    for name in parts(out):
        t = pq.read_table(out / name, columns=["input", "frame"]).to_pandas()
        for (inp, frame), n in t.groupby(["input", "frame"]).size().items():
            whole = ((reference["input"] == inp) & (reference["frame"] == frame)).sum()
            assert n == whole, (name, inp, frame)
    # read_results: equal to the CSV's, dtypes too
    pd.testing.assert_frame_equal(pd.DataFrame(read_results(out)), pd.DataFrame(read_results(reference_csv)))
    res = read_results(out)
    assert res.errors()["error"].str.contains("truncated").all() and res["warning"].notna().sum() == 1
    # dask.dataframe
    dd = pytest.importorskip("dask.dataframe")
    same_rows(dd.read_parquet(str(out)).compute(), reference, ordered=True)


def test_the_writer_alone_equals_the_csv_writer_whatever_the_part_and_batch_sizes(tmp_path, monkeypatch):
    """Synthetic rows (no analysis): units of 0-4 rows, strings, empty cells, odd values."""
    from fer_au.output import CSVWriter, columns
    cols = columns() + ["person"]
    rng = np.random.default_rng(0)
    units = []
    for i in range(60):
        rows = []
        for k in range(int(rng.integers(0, 5))):
            r = {"input": f"in_{i // 3}.mp4", "frame": str(i), "approx_time": f"{i / 10:.3f}", "face_id": str(k),
                 "face_model": "blazeface", "person": str(k + 1), "warning": "odd, \"quoted\"" if k == 3 else ""}
            r.update({c: f"{v:.4f}" for c, v in zip(cols[4:40], rng.normal(size=36))})
            r["AU12"] = ""
            rows.append(r)
        units.append((rows, {"kind": "frame", "input": f"in_{i // 3}.mp4", "frame": i, "time": i / 10}))
    with CSVWriter(tmp_path / "w.csv", cols) as w:
        for rows, done in units:
            w.write_rows(rows, done)
    ref = pd.read_csv(tmp_path / "w.csv", dtype=TEXT)
    for part_rows, batch_rows in ((1, 1), (7, 3), (1000, 4), (1000, 1000)):
        monkeypatch.setattr(parquet_output, "BATCH_ROWS", batch_rows)
        out = tmp_path / f"w{part_rows}_{batch_rows}.parquet"
        w = parquet_output.ParquetWriter(out, cols, journal=True, part_rows=part_rows)
        for rows, done in units:
            w.write_rows(rows, done)
        w.close(finished=True)
        df = pd.read_parquet(out)
        same_rows(df, ref, ordered=True)
        assert w.rows_committed == len(ref) and not journal(out).exists()
        n = len(parts(out))
        if part_rows == 1:
            assert n == sum(1 for rows, _ in units if rows)      # a part per unit with rows
        elif part_rows == 7:
            assert len(ref) // (7 + 4) <= n <= len(ref) // 7 + 1  # whole units: 7 to 10 rows a part
        else:
            assert n == 1


def test_resume_of_a_finished_dataset_adds_only_new_inputs(inputs, analyzer, reference, tmp_path):
    """No journal (the run finished): --resume judges the dataset by its rows, as a CSV."""
    out = tmp_path / "r.parquet"
    run_batch([inputs[0]], csv=out, analyzer=analyzer)
    before = parts(out)
    s = run_batch(inputs, csv=out, analyzer=analyzer, resume=True)
    assert s.resumed == 5 and s.frames == 20 and s.images == 0
    assert parts(out)[: len(before)] == before
    same_rows(pd.read_parquet(out), reference, ordered=True)
    s = run_batch(inputs, csv=out, analyzer=analyzer, resume=True)     # nothing left to do
    assert s.rows_written == 0 and s.resumed == 6
    same_rows(pd.read_parquet(out), reference, ordered=True)


def test_a_part_that_cannot_be_written_keeps_whole_parts_and_resume_completes(inputs, analyzer, reference,
                                                                              tmp_path, monkeypatch):
    """Disk full on the third part: the run stops (write_error: exit status 3 on the command
    line) with the parts before it and their journal; nothing half-written; --resume
    completes with every row once."""
    monkeypatch.setattr(parquet_output, "PART_ROWS", 3)
    real, calls = pq.write_table, []

    def full(table, where, **kw):
        calls.append(where)
        if len(calls) == 3:
            Path(where).write_bytes(b"PAR1 half")             # what a full disk leaves
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(table, where, **kw)

    monkeypatch.setattr(pq, "write_table", full)
    out = tmp_path / "r.parquet"
    s = run_batch(inputs, csv=out, analyzer=analyzer)
    assert s.write_error and "No space left on device" in s.write_error
    assert parts(out) == ["part-00000000.parquet", "part-00000001.parquet"] and not temps(out)
    assert journal(out).exists()
    kept = pd.read_parquet(out)
    assert s.rows_written == len(kept) and 0 < len(kept) < len(reference)
    monkeypatch.setattr(pq, "write_table", real)
    s = run_batch(inputs, csv=out, analyzer=analyzer, resume=True)
    assert s.write_error is None and s.resumed >= 1
    same_rows(pd.read_parquet(out), reference)
    assert not journal(out).exists()


def test_analyze_paths_returns_the_dataset_and_an_empty_run_has_the_columns(analyzer, tmp_path):
    out = tmp_path / "a.parquet"
    df = analyze_paths([str(SAMPLES_DIR / "group.jpg")], csv=out, analyzer=analyzer)
    assert len(df) == 4 and df["face_id"].tolist() == [0, 1, 2, 3]
    same_rows(df, pd.read_parquet(out), ordered=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    s = run_batch([str(empty)], csv=tmp_path / "e.parquet", analyzer=analyzer)
    assert s.inputs == 0
    e = pd.read_parquet(tmp_path / "e.parquet")
    assert len(e) == 0 and list(e.columns) == analyzer.columns()
    assert len(read_results(tmp_path / "e.parquet")) == 0


def test_an_output_folder_with_other_files_is_refused_and_old_parts_are_replaced(analyzer, tmp_path):
    mine = tmp_path / "mine.parquet"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not parts of a fer_au results dataset"):
        run_batch([str(SAMPLES_DIR / "astronaut.jpg")], csv=mine, analyzer=analyzer)
    assert (mine / "notes.txt").exists()
    out = tmp_path / "r.parquet"
    run_batch([str(SAMPLES_DIR / "group.jpg")], csv=out, analyzer=analyzer)
    run_batch([str(SAMPLES_DIR / "astronaut.jpg")], csv=out, analyzer=analyzer)    # no --resume: replaced
    assert pd.read_parquet(out)["input"].tolist() == [str(SAMPLES_DIR / "astronaut.jpg")]


# ---------------------------------------------------------------- kill -9
def cli(*args, env=None, timeout=600):
    """`python cli.py ...` in a fresh process group; the pool's workers, orphaned by a
    kill, are killed after it."""
    p = subprocess.Popen([sys.executable, str(REPO / "cli.py"), *map(str, args)], cwd=REPO,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                         env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **(env or {})))
    try:
        out, err = p.communicate(timeout=timeout)
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return p.returncode, out, err


def journaled(out):
    names = []
    for line in journal(out).read_text().splitlines():
        e = json.loads(line)
        names += e["parts"] if e["kind"] == "base" else [e["name"]] if e["name"] else []
    return names


def test_kill_9_at_each_step_of_writing_a_part_then_resume_gives_the_uninterrupted_rows(
        inputs, analyzer, reference, reference_csv, tmp_path):
    """kill -9 (FER_AU_FAULT: the process kills itself there) after a part is renamed into
    place but before its journal line (--workers 2), after a part is written under its
    temporary name, and after a part is recorded; then --resume."""
    out = tmp_path / "k.parquet"
    cmd = ["analyze", *inputs, "-o", out, "--no-progress"]
    small = {"FER_AU_PARQUET_PART_ROWS": "3", "FER_AU_PARQUET_PART_SECONDS": "1000"}

    rc, _, err = cli(*cmd, "--workers", "2", env=dict(small, FER_AU_FAULT="parquet-renamed:2"))
    assert rc == -signal.SIGKILL, err[-2000:]
    assert parts(out) == ["part-00000000.parquet", "part-00000001.parquet"]
    assert journaled(out) == ["part-00000000.parquet"]          # part 1 is on disk, not in the journal

    rc, _, err = cli(*cmd, "--resume", env=dict(small, FER_AU_FAULT="parquet-written:3"))
    assert rc == -signal.SIGKILL, err[-2000:]
    assert temps(out) == [".part-00000003.parquet.tmp"]           # part 1 was redone: 1, 2 and a half 3
    assert journaled(out) == parts(out) == [f"part-0000000{i}.parquet" for i in range(3)]
    mid = pd.read_parquet(out)                                    # readable mid-run, only whole units
    assert not mid.duplicated(["input", "frame", "face_id"]).any()

    rc, _, err = cli(*cmd, "--resume", env=dict(small, FER_AU_FAULT="parquet-journaled:6"))
    assert rc == -signal.SIGKILL, err[-2000:]
    assert journaled(out) == parts(out) and len(parts(out)) == 9
    assert pd.read_parquet(out)["input"].str.endswith("two.mp4").any()     # killed inside the video

    s = run_batch(inputs, csv=out, analyzer=analyzer, resume=True)
    assert s.resumed >= 5 and not temps(out) and not journal(out).exists()
    same_rows(pd.read_parquet(out), reference)
    same_rows(read_results(out), read_results(reference_csv))


@pytest.mark.slow
def test_kill_9_at_random_moments_then_resume(inputs, analyzer, reference, tmp_path):
    """As tests/test_reliability.py's kill matrix: kill -9 at random moments (here: once the
    dataset holds at least N rows), three times, then --resume."""
    out = tmp_path / "r.parquet"
    cmd = [sys.executable, str(REPO / "cli.py"), "analyze", *inputs, "-o", str(out), "--no-progress"]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", FER_AU_PARQUET_PART_ROWS="2",
               FER_AU_PARQUET_PART_SECONDS="0")
    rng = np.random.default_rng(7)
    for i, at in enumerate(sorted(rng.integers(1, len(reference), size=3))):
        p = subprocess.Popen(cmd + (["--resume"] if i else []), cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 300
        while p.poll() is None and time.time() < deadline:
            try:
                n = sum(pq.read_metadata(out / name).num_rows for name in parts(out)) if out.exists() else 0
            except (OSError, ValueError):
                n = 0
            if n >= at:
                p.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
        p.wait()
    s = run_batch(inputs, csv=out, analyzer=analyzer, resume=True)
    assert s.write_error is None
    same_rows(pd.read_parquet(out), reference)


# ---------------------------------------------------------------- Dask
def test_dask_local_cluster_to_parquet_equals_the_local_csv(inputs, reference, tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    from fer_au.cli import main
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    lc = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        out = tmp_path / "d.parquet"
        rc = main(["analyze", *inputs, "-o", str(out), "--no-progress", "--dask", lc.scheduler_address,
                   "--segment-frames", str(SEGMENT)])
    finally:
        lc.close()
    captured = capsys.readouterr()
    assert rc == 1, captured.err[-2000:]                      # the truncated photo
    assert "6 input(s): 4 image(s), 1 video(s) (20 frames)" in captured.out
    assert f"{len(reference)} row(s) written" in captured.out
    same_rows(pd.read_parquet(out), reference, ordered=True)
    assert not journal(out).exists() and not temps(out)
    dd = pytest.importorskip("dask.dataframe")
    same_rows(dd.read_parquet(str(out)).compute(), reference)
