"""Speed of `analyze --dask` on a LocalCluster here, beside the local `--workers` figures.

    python bench/cluster.py [--photos 80] [--seconds 12] [--workers 1 2]

Writes N 640x480 single-face photos (bench/batch.py's) and a 640x480 video of two moving
faces, then for W workers:

* Dask: a LocalCluster of W single-threaded worker processes; the models are loaded on
  every worker first (not timed: a cluster loads them once for a whole run), then
  ``run_batch(..., client=...)`` on the photos (photos/s) and on the video cut into 2W
  segments (video frames/s: the warm-up frames each segment re-analyses are included
  in the time, not in the count);
* local: ``run_batch(..., workers=W)`` on the same photos (steady state: first to last
  result, so the workers' model loading is left out, as above) and the video in one
  process (local videos are not split).

Also the scheduler's per-task overhead: the wall time per no-op task of 500 submitted at
once, and one submit/result round trip.  Prints the CPU model: figures differ by CPU.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# this file is named like the dask package: import that before bench/ goes on the path
sys.path = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
import distributed  # noqa: E402,F401
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
for _v in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
    os.environ.setdefault(_v, "1")


def _load(_=None):
    from fer_au.distributed import _analyzer
    _analyzer({})
    return os.getpid()


def task_overhead(client, n=500):
    from fer_au.distributed import _noop
    t = time.perf_counter()
    client.gather([client.submit(_noop, i, pure=False) for i in range(n)])
    many = (time.perf_counter() - t) / n
    t = time.perf_counter()
    for i in range(20):
        client.submit(_noop, i, pure=False).result()
    one = (time.perf_counter() - t) / 20
    return many, one


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=80)
    ap.add_argument("--seconds", type=float, default=12.0, help="video length (25 fps)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()

    import logging

    from distributed import Client, LocalCluster

    from _data import cpu_model
    from batch import make_photos
    from fer_au.batch import run_batch
    from fer_au.samples import write_video

    logging.getLogger("distributed").setLevel(logging.ERROR)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="fer_au_dask_"))
    photos = make_photos(work / "photos", args.photos)
    video = work / "video.mp4"
    if not video.exists():
        write_video(video, n_faces=2, seconds=args.seconds, size=(640, 480), seed=7)
    n_frames = int(round(args.seconds * 25))
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores visible, load average {os.getloadavg()[0]:.2f}")
    print(f"{len(photos)} photos 640x480 (one face each); video 640x480, 2 faces, {n_frames} frames")
    folder = str(photos[0].parent)

    for w in args.workers:
        cluster = LocalCluster(n_workers=w, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
        try:
            t = time.perf_counter()
            client.run(_load)                                  # every worker loads the models
            load = time.perf_counter() - t
            many, one = task_overhead(client)
            t = time.perf_counter()
            s = run_batch([folder], csv=work / f"dask_photos_{w}.csv", analyzer_kwargs={}, client=client)
            photos_s = s.images / (time.perf_counter() - t)
            seg = -(-n_frames // (2 * w))
            t = time.perf_counter()
            s = run_batch([str(video)], csv=work / f"dask_video_{w}.csv", analyzer_kwargs={}, client=client,
                          segment_frames=seg)
            frames_s = s.frames / (time.perf_counter() - t)
            print(f"dask  {w} worker(s): {photos_s:6.1f} photos/s, {frames_s:6.1f} video frames/s "
                  f"({2 * w} segments of {seg}); model load {load:.1f} s on all workers at once; "
                  f"per-task overhead {1000 * many:.1f} ms (500 no-op tasks at once), "
                  f"{1000 * one:.1f} ms one round trip")
        finally:
            client.close()
            cluster.close()

    from fer_au.analyzer import FaceAnalyzer
    analyzer = FaceAnalyzer()
    for w in args.workers:
        s = run_batch([folder], csv=work / f"local_photos_{w}.csv", workers=w, analyzer=analyzer,
                      analyzer_kwargs={})
        steady = (s.images - 1) / (s.t_last - s.t_first) if s.t_last > s.t_first else float("nan")
        print(f"local --workers {w}: {steady:6.1f} photos/s steady state (first to last result)")
    t = time.perf_counter()
    s = run_batch([str(video)], csv=work / "local_video.csv", analyzer=analyzer)
    print(f"local video (one process, any --workers): {s.frames / (time.perf_counter() - t):6.1f} frames/s")
    print(f"load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
