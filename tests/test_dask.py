"""`analyze --dask`: the same rows as a local run on a LocalCluster of 2 processes (images in
chunks, a video in >= 3 segments re-linked by track), a worker killed mid-run, the
scheduler going away, and --resume after it."""
from __future__ import annotations

import os
import shutil
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from fer_au.batch import run_batch  # noqa: E402
from fer_au.cli import main  # noqa: E402
from fer_au.distributed import plan_segments  # noqa: E402
from fer_au.samples import SAMPLES_DIR  # noqa: E402

pytestmark = pytest.mark.usefixtures("shipped_models")

SEGMENT = 32      # two_faces.mp4 has 100 frames: 4 segments


def read(csv):
    return pd.read_csv(csv, dtype={"input": str, "error": str, "warning": str})


def same_rows(a: pd.DataFrame, b: pd.DataFrame):
    """Equal after sorting by input, frame, face id; floats to 1e-6."""
    key = ["input", "frame", "face_id"]
    a = a.sort_values(key, na_position="first").reset_index(drop=True)
    b = b.sort_values(key, na_position="first").reset_index(drop=True)
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    for c in a.columns:
        if a[c].dtype.kind in "fiu" and b[c].dtype.kind in "fiu":
            assert np.allclose(a[c].to_numpy(float), b[c].to_numpy(float), atol=1e-6, equal_nan=True), c
        else:
            assert (a[c].fillna("") == b[c].fillna("")).all(), c


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("dask_in")
    photos = d / "photos"
    photos.mkdir()
    for name in ("astronaut.jpg", "group.jpg", "no_face.jpg", "hopper.jpg"):
        shutil.copy(SAMPLES_DIR / name, photos / name)
    good = (SAMPLES_DIR / "hopper.jpg").read_bytes()
    (photos / "truncated.jpg").write_bytes(good[: len(good) // 3])     # an error row
    video = d / "two_faces.mp4"
    shutil.copy(SAMPLES_DIR / "two_faces.mp4", video)
    return [str(photos), str(video)]


@pytest.fixture(scope="module")
def reference(inputs, tmp_path_factory):
    """The local run's rows."""
    out = tmp_path_factory.mktemp("dask_ref") / "local.csv"
    s = run_batch(inputs, csv=out, analyzer_kwargs={})
    assert s.errors == 1 and s.videos == 1
    return read(out)


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    lc = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(lc)
    yield lc, client
    client.close()
    lc.close()


def test_plan_segments_begin_on_detection_frames():
    segs = plan_segments(100, 0, 1, 1, 32, split=True)
    assert [(b, s) for _, b, s in segs] == [(0, 32), (32, 64), (64, 96), (96, None)]
    assert [f for f, _, _ in segs] == [0, 8, 40, 72]            # 24 frames of warm-up
    segs = plan_segments(100, 0, 2, 3, 32, split=True)          # every 2nd frame, detect every 3rd
    for first, begin, _ in segs:
        assert first % (2 * 3) == 0 and begin % 2 == 0
    assert len(plan_segments(100, 0, 1, 1, 32, split=False)) == 1   # running baseline, identities
    assert plan_segments(100, 40, 1, 1, 32, split=True)[0][:2] == (40, 40)  # resumed: no warm-up


def test_same_rows_as_local(inputs, reference, cluster, tmp_path, capsys):
    """Through the CLI, on the cluster's address: images in chunks, the video in 4 segments."""
    lc, _ = cluster
    out = tmp_path / "dask.csv"
    rc = main(["analyze", *inputs, "-o", str(out), "--no-progress", "--dask", lc.scheduler_address,
               "--segment-frames", str(SEGMENT)])
    captured = capsys.readouterr()
    assert rc == 1                                      # the truncated photo
    assert "6 input(s): 4 image(s), 1 video(s) (100 frames)" in captured.out
    assert sum(line.startswith("error:") and "truncated.jpg" in line for line in captured.err.splitlines()) == 1
    df = read(out)
    same_rows(df, reference)
    # written in a local run's order: by input, then frame
    assert list(df["input"]) == list(reference["input"])
    assert list(df["frame"]) == list(reference["frame"])
    assert not out.with_name(out.name + ".journal").exists()


def _worker_pids(client):
    return client.run(os.getpid)


def _run_in_thread(**kw):
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("summary", run_batch(**kw)), daemon=True)
    t.start()
    return t, box


def _wait_for_rows(csv, n=5, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if csv.exists() and sum(1 for _ in open(csv)) > n:
            return
        time.sleep(0.2)
    raise AssertionError("no rows written")


def test_worker_killed_loses_nothing_duplicates_nothing(inputs, reference, cluster, tmp_path):
    _, client = cluster
    out = tmp_path / "killed.csv"
    t, box = _run_in_thread(paths=inputs, csv=out, analyzer_kwargs={}, client=client, segment_frames=16,
                            chunk_size=1)
    _wait_for_rows(out)
    victim = sorted(_worker_pids(client).values())[0]
    os.kill(victim, signal.SIGKILL)             # Dask reruns its task on the other worker
    t.join(300)
    assert not t.is_alive()
    s = box["summary"]
    assert s.cluster_error is None and s.errors == 1
    same_rows(read(out), reference)
    assert victim not in _worker_pids(client).values()   # the nanny started a fresh one


@pytest.mark.slow
def test_scheduler_lost_then_resume(inputs, reference, cluster, tmp_path):
    """A second cluster is closed mid-run: the run ends with ClusterLost, the CSV keeps whole
    units and its journal; --resume on the first cluster gives exactly the local rows."""
    from distributed import Client, LocalCluster
    out = tmp_path / "lost.csv"
    lc = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None)
    c2 = Client(lc)
    t, box = _run_in_thread(paths=inputs, csv=out, analyzer_kwargs={}, client=c2, segment_frames=16,
                            chunk_size=1)
    _wait_for_rows(out)
    lc.close()                                  # the scheduler goes away
    t.join(300)
    assert not t.is_alive()
    s = box["summary"]
    assert s.cluster_error and "scheduler" in s.cluster_error
    assert out.with_name(out.name + ".journal").exists()
    c2.close()
    assert len(read(out)) < len(reference)
    _, client = cluster
    s = run_batch(inputs, csv=out, analyzer_kwargs={}, client=client, segment_frames=SEGMENT, resume=True)
    assert s.cluster_error is None and s.resumed >= 1
    same_rows(read(out), reference)


def test_resume_mid_video_links_track_ids(faces_come_and_go, cut_after, cluster, tmp_path):
    """A video cut after frame 40 and resumed on the cluster in 8-frame segments: the first
    segment warms up before frame 41 and its faces take the ids already written (Hopper 1,
    the returning astronaut 2), so every row equals the local uninterrupted run's."""
    video = str(faces_come_and_go)
    full = tmp_path / "full.csv"
    run_batch([video], csv=full, analyzer_kwargs={})
    out = tmp_path / "cut.csv"
    cut_after(full, out, video, 40)
    _, client = cluster
    s = run_batch([video], csv=out, analyzer_kwargs={}, client=client, segment_frames=8, resume=True)
    assert s.cluster_error is None and s.frames == 19
    same_rows(read(out), read(full))
    assert set(read(out)["face_id"].dropna()) == {0, 1, 2}


def test_resume_mid_video_with_identities_gives_the_person_ids_of_one_run(faces_come_and_go, cut_after, cluster,
                                                                          tmp_path):
    """tests/test_identity.py's resume on the cluster, cut after frame 50: a video with
    identities is one task, which warms up from the sweep of frame 20 (without the first
    astronaut, so its stream's ids are not the written ones: Hopper 0, not 1), links its ids
    to the written rows and takes up each track's descriptor schedule on the worker: the
    rows and the people log equal the local uninterrupted run's."""
    import shutil

    from fer_au.identity import PersonRegistry
    photo, video = str(SAMPLES_DIR / "hopper.jpg"), str(faces_come_and_go)
    kwargs = {"emotion_model": None, "au_model": None, "aus": False}
    full = tmp_path / "full.csv"
    run_batch([photo, video], csv=full, analyzer_kwargs=kwargs, identities="run")
    out = tmp_path / "cut.csv"
    cut_after(full, out, video, 50, done=[photo])
    shutil.copy(PersonRegistry.state_path(full), PersonRegistry.state_path(out))   # logged past frame 50
    _, client = cluster
    s = run_batch([photo, video], csv=out, analyzer_kwargs=kwargs, client=client, identities="run", resume=True)
    assert s.cluster_error is None and s.frames == 9
    same_rows(read(out), read(full))
    assert PersonRegistry.state_path(out).read_bytes() == PersonRegistry.state_path(full).read_bytes()
