"""``fer-au analyze --dask ADDRESS``: the analysis on a Dask cluster (``pip install fer_au[dask]``).

``batch.run_batch(..., client=distributed.Client(...))`` routes here; everything around
the work itself (expanding inputs, the CSV writer and its journal, --resume, error rows,
the progress bar, the summary) stays in ``batch.py`` and is the same as a local run.
What changes is where the rows are computed:

* **workers** build one ``FaceAnalyzer`` per worker thread for each set of analyzer
  arguments and keep it (``_analyzer``): the models load once per worker, not per task.
* **images** go in chunks (``chunk_size`` images per task), so the scheduler's per-task
  cost (a few ms) is small beside the analysis (~30 ms an image).
* **videos** are cut into segments of ``segment_frames`` analysed frames, so one long
  video uses many workers.  A segment starts ``warmup`` frames early, on a detection
  frame (a multiple of ``detect_every``), with a fresh ``FaceStream``: from a detection
  frame on, a stream's faces depend only on the frames, so the segment's faces equal a
  single stream's.  Frames are also swept for small faces every ``stream.sweep_period``-th
  frame, and the faces a sweep found are held until the next, so such a segment starts at
  the sweep before its first frame (``stream.warm_start``).  Its warm-up frames are not
  written; they overlap the previous segment and re-link its track ids: a warm-up face
  takes the id of the face with the same box (best IoU) in the previous segment's rows of
  that frame, and a track first
  seen after the warm-up takes the next new id, as the single stream's tracker would
  give it (``tracking.TrackStitch``).  ``warmup`` (>= 2 x (the tracker's max_missed + 1)
  frames) lets every track that a single run could still re-attach reach the segment's
  tracker.  A resumed video's first segment warms up the same way against the rows the
  output already holds.
  Not split (one task per video): ``au_baseline="running"`` (its baseline is the last
  300 frames of a track) and ``identities`` (one ``VideoIdentities`` per video).
* **the client** writes each unit once, in the order of a local run (images in input
  order, then videos, each frame by frame): futures are consumed in submission order
  from a window of at most ``window`` pending tasks, which bounds the rows held in
  memory.  A worker that dies loses only its running tasks; Dask runs them again
  elsewhere, and since the client writes a unit only when its future is consumed, no
  row is lost or written twice.  A task that kills its worker repeatedly (a decoder
  crash on one file) ends as ``KilledWorker``: a chunk is then retried one image a
  task, and the input that still fails gets its error row.  Losing the scheduler raises
  :class:`ClusterLost`; the output (CSV, or Parquet dataset: ``parquet_output``) and its
  journal are whole, so --resume continues.

Inputs are read by the workers from the same paths (a shared file system, as on a
SLURM cluster or a Kubernetes volume); the client lists folders and reads video headers.
"""
from __future__ import annotations

import collections
import math
import os
import threading
from pathlib import Path

from .errors import FerAuError
from .tracking import WARMUP, TrackStitch

SEGMENT_FRAMES = 1000   # analysed frames per video task: ~35 s of work, >> the per-task overhead
CHUNK_MAX = 16          # at most this many images per task (~0.5 s of work)


class ClusterLost(FerAuError, RuntimeError):
    """The Dask scheduler (or the connection to it) went away during a run."""


# ------------------------------------------------------------------ the client
def make_client(address: str):
    """``local`` (a LocalCluster, one single-threaded worker process per core), ``local:N``
    (N processes), or a scheduler address (``tcp://host:8786``).  Returns ``(client,
    cluster or None)``; the caller closes both."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise FerAuError("--dask needs Dask: pip install 'fer_au[dask]' (or dask[distributed])") from None
    # one thread per worker process: TensorFlow, XGBoost and OpenCV run best single-threaded
    # beside each other, and the analyzers are not shared between threads
    for var in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.setdefault(var, "1")
    if address == "local" or address.startswith("local:"):
        n = int(address.split(":", 1)[1]) if ":" in address else (os.cpu_count() or 1)
        if n < 1:
            raise ValueError("local:N needs N >= 1")
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
        return Client(cluster), cluster
    return Client(address), None


def n_threads(client) -> int:
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:
        return 1


def _in_order(client, jobs, window: int):
    """Submit ``jobs`` (an iterable of ``(tag, fn, args)``) with at most ``window`` pending,
    and yield ``(tag, future)`` in submission order.  Dask runs them in any order and on
    any worker; consuming them in order is what keeps the output in a local run's order."""
    pending = collections.deque()
    jobs = iter(jobs)
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < window:
                job = next(jobs, None)
                if job is None:
                    exhausted = True
                    break
                tag, fn, args = job
                pending.append((tag, client.submit(fn, *args, pure=False)))
            if not pending:
                return
            yield pending.popleft()
    finally:
        for _, fut in pending:     # an interrupted run: nothing left running for us
            try:
                fut.cancel()
            except Exception:      # the client is already closed (scheduler lost): nothing runs for us
                break


def _result(client, fut):
    """A future's result; the cluster going away becomes :class:`ClusterLost`.
    ``KilledWorker`` (the task kept killing its worker) is raised as it is."""
    from distributed import KilledWorker
    try:
        return fut.result()
    except KilledWorker:
        raise
    except Exception as exc:
        if client.status not in ("running", "connecting") or type(exc).__name__ in (
                "CancelledError", "FutureCancelledError", "CommClosedError"):
            raise ClusterLost(f"lost the Dask scheduler ({type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:200]})") from None
        raise


# ------------------------------------------------------------------ on the workers
_ANALYZERS: dict = {}
_LOCK = threading.Lock()


def _analyzer(kwargs: dict):
    """This worker thread's analyzer for ``kwargs``, built once (models load once)."""
    key = (threading.get_ident(), repr(sorted((kwargs or {}).items())))
    a = _ANALYZERS.get(key)
    if a is None:
        with _LOCK:
            for var in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
                os.environ.setdefault(var, "1")
            import cv2
            cv2.setNumThreads(1)
            from .analyzer import FaceAnalyzer
            a = _ANALYZERS[key] = FaceAnalyzer(**(kwargs or {}))
    return a


def _rename(text, full: str, name: str):
    return text.replace(full, name) if isinstance(text, str) and full != name else text


def _image_chunk(items, crops: bool, identities: bool, kwargs: dict):
    """Rows for a chunk of images: ``[(name, ImageResult | None, error | None)]``.  Files are
    opened by absolute path (a worker's folder is not the client's) and the rows and
    messages name them as the client gave them."""
    from .batch import _image_rows, _one_line

    a = _analyzer(kwargs)
    out = []
    for full, name in items:
        try:
            res = _image_rows(a, full, crops, identities)
            for r in res.rows:
                r["input"] = name
                if r.get("error"):
                    r["error"] = _rename(r["error"], full, name)
            res.error = _rename(res.error, full, name)
            out.append((name, res, None))
        except Exception as exc:  # one bad input must not stop the run
            out.append((name, None, _rename(_one_line(exc), full, name)))
    return out


def _video_segment(full: str, name: str, kwargs: dict, every: int, detect_every: int, au_baseline: str,
                   crops: bool, identities, first: int, stop: int | None, check, resumed=None):
    """Analyse the frames ``first`` (a frame index) up to ``stop`` (exclusive; None: to the
    end) of one video with a fresh stream.  Returns a dict: ``frames`` = [(index, time,
    rows)], ``ran_out`` (the video ended before ``stop``), ``end`` = None or
    (message, frame or None, truncated?), ``warning`` (how times were made), ``linked``.

    ``resumed`` (a resumed video with ``identities``, one task): ``(begin, written frames,
    next id, described)``: the frames before ``begin`` only warm up, and the worker links
    the track ids to the written rows itself (``linked``), since the descriptor schedule
    (``VideoIdentities``, taken up from ``described``) follows the written ids."""
    from .media import MediaError, VideoTruncated, iter_video, open_video, video_info
    from .output import rows_for
    from .stream import FaceStream, sweep_period, warm_start

    a = _analyzer(kwargs)
    start, size = first, (0, 0)
    try:
        cap = open_video(full)
        info = video_info(cap, full)
        cap.release()
        size = (info.width, info.height)
    except MediaError:
        pass                        # iter_video below reports it
    stream = FaceStream(a, detect_every=detect_every, au_baseline=au_baseline, sweep_every=sweep_period(size))
    if first > 0 and not crops:     # a segment starts at its last sweep, unrecorded up to ``first``
        start = warm_start(a, size, first, every)
    models = a.model_names(crops)
    ids, stitch, begin = None, None, first
    if identities and not crops:
        from .identity import VideoIdentities
        described = None
        if resumed is not None:
            begin, written, next_id, described = resumed
            stitch = TrackStitch(written, next_id, keep=False)
        ids = VideoIdentities(name, described=described)
    out = {"frames": [], "ran_out": True, "end": None, "warning": "", "linked": stitch is not None}
    infos = []
    try:
        for index, t, frame in iter_video(full, every=every, start=start, info_out=infos, check=check):
            if stop is not None and index >= stop:
                out["ran_out"] = False
                break
            faces = a.analyze_bgr(frame, crop=True) if crops else stream.process(frame, index=index // every)
            if index < first:
                continue
            warning = infos[0].timestamps if infos[0].timestamps != "pts" else ""
            out["warning"] = out["warning"] or warning
            rows = rows_for(name, faces, frame=index, approx_time=t, models=models, warning=warning)
            if stitch is not None and not stitch.link(index, begin, faces, rows, ids):
                continue                  # a warm-up frame, as batch._run_video's
            if ids is not None:
                ids(frame, faces, rows, count=index // every)
            out["frames"].append((index, t, rows))
    except VideoTruncated as exc:
        out["end"] = (_rename(str(exc), full, name), exc.frame, True)
    except MediaError as exc:
        out["end"] = (_rename(str(exc), full, name), None, False)
    return out


def _noop(x):
    return x


# ------------------------------------------------------------------ images
def image_results(client, images, crops: bool, identities: bool, analyzer_kwargs: dict,
                  chunk_size: int | None = None):
    """Yield ``(name, ImageResult | None, error | None)`` for ``images`` (a list of names as
    the client has them), in their order: the same triples as ``batch``'s local loop."""
    from distributed import KilledWorker

    if not images:
        return
    threads = n_threads(client)
    # ~4 tasks a worker thread: enough to balance uneven images, few enough for little overhead
    size = chunk_size or max(1, min(CHUNK_MAX, math.ceil(len(images) / (4 * threads))))
    items = [(os.path.abspath(p), p) for p in images]
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    jobs = ((c, _image_chunk, (c, crops, identities, analyzer_kwargs)) for c in chunks)
    for chunk, fut in _in_order(client, jobs, window=max(4, 2 * threads)):
        try:
            results = _result(client, fut)
        except KilledWorker as exc:
            results = []
            for one in chunk:   # one of them keeps killing workers: try each alone
                try:
                    results += _result(client, client.submit(_image_chunk, [one], crops, identities,
                                                             analyzer_kwargs, pure=False))
                except KilledWorker:
                    results.append((one[1], None, f"{one[1]}: the worker analysing it died each time it "
                                                  f"was tried (KilledWorker: {exc})"))
        yield from results


# ------------------------------------------------------------------ videos
def plan_segments(n_frames: int, start: int, every: int, detect_every: int, segment_frames: int | None,
                  split: bool, warmup: int = WARMUP):
    """Segments of one video as ``(first, begin, stop)`` frame indices: frames from ``first``
    are analysed, rows written from ``begin``, up to ``stop`` (None: to the end of the video).
    ``n_frames``: the header's frame count (only a guide: the last segment reads to the end)."""
    seg = segment_frames or SEGMENT_FRAMES
    de = max(1, detect_every)
    seg = max(de, seg // de * de)                    # segments begin on a detection frame
    w = min(seg, max(de, math.ceil(warmup / de) * de))
    left = max(0, n_frames - start)
    n_analysed = math.ceil(left / every)
    count = max(1, math.ceil(n_analysed / seg)) if split and n_frames > 0 else 1
    out = []
    for k in range(count):
        begin = start + k * seg * every
        first = start + max(0, k * seg - w) * every
        stop = start + (k + 1) * seg * every if k < count - 1 else None
        out.append((first, begin, stop))
    return out


def run_videos(client, videos, *, analyzer_kwargs, every, detect_every, au_baseline, crops, identities,
               summary, emit, fail, post, check_ctrl_c, progress, err, segment_frames=None, history=None,
               persons=None):
    """Analyse ``videos`` (``[(path, key, resume progress)]``) on the cluster, writing each
    frame's rows through ``emit`` in frame order, as ``batch._run_video`` does locally.
    A resumed video's first segment starts early as a local resume does, its ids linked to
    the rows already written (``history(key, since)`` -> ``output.VideoHistory``; with
    ``identities`` on the worker, its descriptor schedule taken up from ``persons``)."""
    import sys

    from distributed import KilledWorker
    from tqdm import tqdm

    from .media import MediaError, open_video, video_info
    from .stream import SWEEP_EVERY_SD, resume_first

    split = au_baseline != "running" and not identities
    plans = []
    for path, key, prog in videos:
        path = str(path)
        start, check = 0, None
        if prog is not None and prog.last_frame >= 0:
            start, check = prog.last_frame + every, (prog.last_frame, prog.last_time)
        try:
            cap = open_video(path)
            try:
                n = video_info(cap, path).frame_count
            finally:
                cap.release()
        except MediaError as exc:
            plans.append((path, key, start, None, str(exc), None))
            continue
        segs = plan_segments(n, start, every, detect_every, segment_frames, split)
        past = None
        if start > 0 and not crops and history is not None:
            # the first segment warms up before ``start`` (and a worker may step back to a
            # sweep, fewer than SWEEP_EVERY_SD analysed frames more): the written rows from there
            early = resume_first(start, every, detect_every, au_baseline)
            past = history(key, max(0, early - SWEEP_EVERY_SD * every))
            segs[0] = (early,) + segs[0][1:]
            check = past.check
        segs = [(s, check if i == 0 else None) for i, s in enumerate(segs)]
        plans.append((path, key, start, segs, None, past))

    def jobs():
        for vi, (path, key, start, segs, problem, past) in enumerate(plans):
            if problem is not None:
                continue
            full = os.path.abspath(path)
            for si, ((first, begin, stop), check) in enumerate(segs):
                resumed = None
                if si == 0 and identities and past is not None:   # linked on the worker (_video_segment)
                    resumed = (begin, past.frames, past.next_id,
                               persons.described(path, every))
                yield ((vi, si), _video_segment, (full, path, analyzer_kwargs, every, detect_every, au_baseline,
                                                  crops, identities, first, stop, check, resumed))

    threads = n_threads(client)
    results = _in_order(client, jobs(), window=max(2, 2 * threads))
    for vi, (path, key, start, segs, problem, past) in enumerate(plans):
        if problem is not None:
            fail(path, key, problem)
            post()
            check_ctrl_c()
            continue
        fbar = tqdm(unit="frame", desc=Path(path).name[:24], leave=False, disable=None if progress else True,
                    dynamic_ncols=True, file=sys.stderr, position=1)
        stitch = TrackStitch(past.frames, past.next_id) if past is not None else TrackStitch()
        frames, warned, over, ended = 0, False, False, False
        try:
            for si, ((first, begin, stop), _) in enumerate(segs):
                (tag, fut) = next(results)
                assert tag == (vi, si)
                if over:                      # the video ended in an earlier segment
                    fut.cancel()
                    continue
                try:
                    seg = _result(client, fut)
                except KilledWorker as exc:
                    seg = {"frames": [], "ran_out": True, "warning": "",
                           "end": (f"{path}: the worker analysing frames from {begin} died each time it was "
                                   f"tried (KilledWorker: {exc})", None, False)}
                rows_in = [f for f in seg["frames"] if f[0] >= begin] if crops or seg.get("linked") else \
                    stitch.relink(seg["frames"], begin)
                if seg["warning"] and not warned:
                    warned = True
                    summary.warnings += 1
                    tqdm.write(f"warning: {path}: {seg['warning']}", file=err)
                for index, t, rows in rows_in:
                    emit(rows, {"kind": "frame", "input": key, "frame": index, "time": t})
                    frames += 1
                    summary.frames += 1
                    faces = sum(r.get("face_id", "") != "" for r in rows)
                    summary.faces += faces
                    summary.no_face += not faces
                    fbar.update(1)
                    check_ctrl_c()
                if seg["end"] is not None:
                    message, frame, truncated = seg["end"]
                    if truncated:
                        summary.videos += 1
                        fail(path, key, message, frame=frame, kind="end")
                    else:
                        fail(path, key, message, kind="end")
                    over = ended = True
                elif seg["ran_out"]:
                    over = True
        finally:
            fbar.close()
        if not ended:
            emit([], {"kind": "end", "input": key})
            if frames:
                summary.videos += 1
            elif start > 0:
                summary.resumed += 1
        post()
        check_ctrl_c()
