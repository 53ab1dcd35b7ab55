"""Analysing many inputs: files and folders of images and videos -> rows, streamed.

``analyze_paths`` (a table of rows) and ``run_batch`` (rows streamed to a CSV, a
``Summary`` back) are the engine behind ``fer-au analyze``:

* rows are written as they are produced, one write per image (all its faces and
  frames) or video frame, so a crash or Ctrl-C loses nothing already analysed;
  an output named ``*.parquet`` is a Parquet dataset folder instead, written a part
  file at a time (``parquet_output``: whole units per part, parts renamed into place);
* ``resume=True`` skips inputs whose rows are all in the CSV and continues a
  video after its last written frame, its track ids linked to the rows already
  written (``_run_video``).  What is complete is read from the CSV's
  journal (``output.CSVWriter``), never from a video header, and inputs are
  matched by resolved path;
* an input that cannot be read gets one row with ``error`` set, one line on
  stderr, and the run goes on; so does a folder that cannot be listed, and a
  video that stops before its header says (after the rows of its frames);
* a full disk (or a file-size limit) stops the run with the CSV cut back to
  whole inputs: ``Summary.write_error`` says what happened, --resume continues;
* ``workers=N`` analyses images in N processes (each loads the models once);
  videos are read frame by frame in this process, in constant memory.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .analyzer import FaceAnalyzer
from .media import (HUGE_SIDE, ImageFile, MediaError, crop_problem, expand_inputs, input_key, iter_video,
                    media_kind, open_video)
from .output import OutputError, columns, error_row, open_writer, rows_for


@dataclass
class Summary:
    inputs: int = 0          # files considered (after expanding folders)
    images: int = 0          # images analysed
    videos: int = 0          # videos analysed
    frames: int = 0          # video frames (and frames of multi-frame images) analysed
    image_frames: int = 0    # ... of which frames of multi-frame images (GIF, WebP, TIFF)
    faces: int = 0           # faces found, all inputs
    no_face: int = 0         # images or frames with no face
    errors: int = 0          # inputs that could not be analysed (or stopped early)
    warnings: int = 0        # inputs analysed with a warning (see the warning column)
    resumed: int = 0         # inputs skipped because the CSV already had them
    finished: int = 0        # inputs whose rows were all written in this run
    skipped: list = field(default_factory=list)   # non-media files seen in folders (not analysed)
    error_messages: list = field(default_factory=list)
    rows: list = field(default_factory=list)      # only with keep_rows
    rows_written: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    write_error: str | None = None   # the CSV could not be written (disk full): the run stopped
    cluster_error: str | None = None  # the Dask scheduler went away (--dask): the run stopped
    small_no_face: int = 0   # images <= 96 px without a face (face crops, without --crops?)
    t_first: float = 0.0     # perf_counter of the first / last image result (throughput)
    t_last: float = 0.0
    csv: str | None = None

    def line(self) -> str:
        # a multi-frame image's frames are said beside the images, not the videos
        animated = f" ({self.image_frames} frames of multi-frame images)" if self.image_frames else ""
        parts = [f"{self.inputs} input(s): {self.images} image(s){animated}, {self.videos} video(s) "
                 f"({self.frames - self.image_frames} frames)", f"{self.faces} face(s)",
                 f"{self.no_face} without a face", f"{self.errors} error(s)"]
        if self.warnings:
            parts.append(f"{self.warnings} with a warning")
        if self.resumed:
            parts.append(f"{self.resumed} already in the CSV (resumed)")
        if self.skipped:
            parts.append(f"{len(self.skipped)} non-media file(s) in folders not analysed")
        line = "; ".join(parts) + f"; {self.seconds:.1f} s"
        if self.small_no_face:
            line += (f"\nnote: {self.small_no_face} small image(s) (<= {SMALL} px) had no face found; "
                     "if they are face crops (FER2013-style), run again with --crops")
        return line


# ------------------------------------------------------------------ one image
SMALL = 96   # an image this small without a face is probably a face crop: hint at --crops


@dataclass
class ImageResult:
    rows: list
    faces: int = 0
    empty: int = 0          # frames without a face
    frames: int = 1
    small: bool = False     # a small image without a face (hint at --crops)
    warning: str = ""
    error: str = ""         # a later frame could not be read: the rows say where (error row)


def _image_rows(analyzer, path, crops: bool, identities: bool = False) -> ImageResult:
    """Rows for one image file, every frame of it; raises MediaError when it cannot be
    read at all.  A multi-frame file whose frame k cannot be decoded keeps the rows of
    frames 0..k-1 and ends with an error row at frame k."""
    models = analyzer.model_names(crops)
    res = ImageResult(rows=[], frames=0)
    with ImageFile(path) as img:
        res.warning = img.warning
        huge = (not crops and img.can_reduce and analyzer.detect_size
                and max(img.size) > max(2 * analyzer.detect_size, HUGE_SIDE))
        frames = iter([(0, None, None)]) if huge else img.frames()
        while True:
            try:
                index, t, bgr = next(frames)
            except StopIteration:
                break
            except MediaError as exc:
                if res.frames == 0:
                    raise
                res.error = f"{exc} (frame {res.frames}; the frames before were analysed)"
                res.rows.append(error_row(path, res.error, res.frames))
                break
            if huge:
                faces = _analyze_huge(analyzer, img)
            elif crops:
                problem = crop_problem(bgr)
                if problem:     # the emotion models would answer anyway: made-up probabilities
                    raise MediaError(f"{path}: {problem}")
                faces = analyzer.analyze_bgr(bgr, crop=True)
            else:
                faces = analyzer.analyze_bgr(bgr, boxes=analyzer.detect_photo(bgr))
            rows = rows_for(path, faces, frame=index, approx_time=t, models=models, warning=img.warning)
            if identities:   # face descriptors ride on the rows to the parent's PersonRegistry
                from .identity import describe_rows
                describe_rows(bgr, faces, rows, image_file=img if huge else None)
            res.rows += rows
            res.frames += 1
            res.faces += len(faces)
            res.empty += not faces
            res.small = img.n_frames == 1 and not faces and bgr is not None and max(bgr.shape[:2]) <= SMALL
    return res


def _analyze_huge(analyzer, img):
    """A huge JPEG: find the faces on a copy decoded at reduced size (libjpeg scales while
    decoding, so the full image is never converted for the whole pipeline), then analyse
    each face at full resolution in a crop around it.  Boxes and landmarks come back in
    full-image pixels and the head pose is solved in the full image's camera."""
    import numpy as np

    from .faces import head_pose

    small, k = img.reduced(analyzer.detect_size)
    keep = analyzer.min_face
    analyzer.min_face = max(1, int(keep / k))     # min_face is in full-image pixels
    try:
        dets = analyzer.detect_photo(small, max(img.size))
    finally:
        analyzer.min_face = keep
    W, H = img.size
    wins, boxes = [], []
    for (x, y, w, h), score in dets:
        X, Y, S = x * k, y * k, max(w, h) * k
        if S < keep:
            continue
        m = 0.6 * S      # room for the landmarks and the face mesh's own crop
        wins.append((max(0, X - m), max(0, Y - m), min(W, X + w * k + m), min(H, Y + h * k + m)))
        boxes.append(((X, Y, w * k, h * k), score))
    faces = []
    for win, patch, ((X, Y, w, h), score) in zip(wins, img.regions(wins), boxes):
        x0, y0 = int(round(win[0])), int(round(win[1]))
        box = tuple(int(round(v)) for v in (X - x0, Y - y0, w, h))
        for f in analyzer.analyze_bgr(patch, boxes=[(box, score)]):
            f.box = (f.box[0] + x0, f.box[1] + y0, f.box[2], f.box[3])
            f.landmarks = f.landmarks + np.array([x0, y0], f.landmarks.dtype)
            if f.mesh is not None:
                f.mesh = f.mesh.copy()
                f.mesh[:, :2] += (x0, y0)
            f.pose = tuple(float(a) for a in head_pose(f.landmarks, (H, W)))
            faces.append(f)
    faces.sort(key=lambda f: f.box[0])
    for i, f in enumerate(faces):
        f.face_id = i
    return faces


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, MediaError):
        return str(exc)
    msg = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {msg}"


# Worker processes (spawned: TensorFlow does not survive fork) hold one analyzer each.
_WORKER = {}


def _init_worker(kwargs):
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the parent's to handle
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2
    cv2.setNumThreads(1)
    _WORKER["analyzer"] = FaceAnalyzer(**kwargs)


def _worker_task(task):
    path, crops, identities = task
    try:
        return path, _image_rows(_WORKER["analyzer"], path, crops, identities), None
    except Exception as exc:  # one bad input must not stop the run
        return path, None, _one_line(exc)


# ------------------------------------------------------------------ the run
@contextlib.contextmanager
def _ctrl_c_stops_at_a_boundary():
    """Yield a ``check()`` that raises KeyboardInterrupt once Ctrl-C was pressed.

    Python raises KeyboardInterrupt wherever the signal lands; when that is inside a
    destructor (a TensorFlow tensor's, a generator's close) it is printed as
    "Exception ignored" and lost, and the run went on to the end.  So the first Ctrl-C
    only sets a flag, checked between frames and inputs; a second one raises at once.
    Also ignores SIGXFSZ meanwhile: past a file-size limit a write then fails with
    EFBIG, handled like a full disk, instead of the process being killed mid-line.
    """
    pressed = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None  # signal handlers can only be set from the main thread
        return

    def on_ctrl_c(signum, frame):
        if pressed.is_set():
            raise KeyboardInterrupt
        pressed.set()

    def check():
        if pressed.is_set():
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    previous_xfsz = signal.signal(signal.SIGXFSZ, signal.SIG_IGN) if hasattr(signal, "SIGXFSZ") else None
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, previous)
        if previous_xfsz is not None:
            signal.signal(signal.SIGXFSZ, previous_xfsz)


def run_batch(paths, csv=None, *, recursive: bool = False, every: int = 1, crops: bool = False,
              workers: int = 1, resume: bool = False, progress: bool = False, detect_every: int = 1,
              au_baseline: str = "population", analyzer=None, analyzer_kwargs: dict | None = None,
              keep_rows: bool = False, err=None, identities: str | None = None, client=None,
              segment_frames: int | None = None, chunk_size: int | None = None) -> Summary:
    """Analyse ``paths`` (files and folders) into rows; see the module docstring.

    Give either a ready ``analyzer`` or ``analyzer_kwargs`` to build one
    (needed for ``workers > 1``: each worker builds its own).
    ``csv``: the output, a CSV file, or a Parquet dataset folder when the name ends in
    .parquet (``fer_au.parquet_output``; the same columns, rows, journal and --resume).
    ``identities`` ("input" or "run") adds a ``person`` column (``fer_au.identity``).
    ``client``: a ``distributed.Client``: the analysis runs on that Dask cluster
    (``fer_au.distributed``: images in chunks of ``chunk_size``, videos in segments of
    ``segment_frames``); writing, --resume and error rows stay as here.
    """
    from tqdm import tqdm

    err = err or sys.stderr
    if every < 1:
        raise ValueError("every must be >= 1")
    if workers < 1:
        raise ValueError("workers must be >= 1")
    if (workers > 1 or client is not None) and analyzer_kwargs is None:
        analyzer_kwargs = getattr(analyzer, "init_kwargs", None)
        if analyzer_kwargs is None:
            raise ValueError("workers > 1 or a Dask client needs an analyzer built from model names (not objects)")
    t0 = time.time()
    summary = Summary(csv=str(csv) if csv else None)
    files, skipped = expand_inputs(paths, recursive=recursive)
    summary.skipped = [str(p) for p in skipped]
    summary.inputs = len(files)

    state = {"analyzer": analyzer}

    def get_analyzer():
        if state["analyzer"] is None:
            state["analyzer"] = FaceAnalyzer(**(analyzer_kwargs or {}))
        return state["analyzer"]

    cols = analyzer.columns() if analyzer is not None else columns()
    if identities:
        cols = cols + ["person"]
    writer = None
    if csv:
        try:
            writer = open_writer(csv, cols, resume=resume, journal=True)
        except OutputError as exc:
            summary.write_error = str(exc)
            return summary
    done = writer.progress if writer is not None else {}
    persons = None
    if identities:   # person ids from face descriptors, kept across inputs with "run"
        from .identity import PersonRegistry
        try:         # a resumed run replays the people of the rows the output holds
            persons = PersonRegistry.for_run(csv, identities, resume, progress=done)
        except OSError as exc:
            if writer is not None:
                writer.close()
            summary.write_error = f"{PersonRegistry.state_path(csv)}: cannot write ({exc.strerror or exc})"
            return summary

    bar = tqdm(total=len(files), unit="input", disable=None if progress else True, dynamic_ncols=True,
               desc="analyze", file=sys.stderr)

    def emit(rows, commit):
        """Write rows; ``commit`` is what they complete (see CSVWriter.write_rows)."""
        if persons is not None:      # before the rows: its log line must not come after them
            persons.label(rows, commit)
        if writer is not None:
            writer.write_rows(rows, done=commit)
        if keep_rows:
            summary.rows.extend(rows)
        summary.rows_written += len(rows)
        summary.finished += commit.get("kind") in ("input", "end")

    def fail(path, key, message, frame=0, kind="input"):
        emit([error_row(path, message, frame)], {"kind": kind, "input": key})
        summary.errors += 1
        summary.error_messages.append(message)
        tqdm.write(f"error: {message}", file=err)

    def post():
        bar.set_postfix(faces=summary.faces, errors=summary.errors, refresh=False)
        bar.update(1)

    # Sort inputs into images and videos (by suffix; unknown suffixes are probed).
    images, videos = [], []
    for f in files:
        key = input_key(f)
        prog = done.get(key)
        if prog is not None and prog.done:
            summary.resumed += 1
            bar.update(1)
            continue
        if media_kind(f) == "video" or prog is not None:
            videos.append((f, key, prog))
        else:
            images.append((f, key))
    keys = dict((str(p), k) for p, k in images)

    pool = None
    stack = contextlib.ExitStack()
    try:
        check_ctrl_c = stack.enter_context(_ctrl_c_stops_at_a_boundary())
        if images:
            if client is not None:
                from .distributed import image_results
                results = image_results(client, [str(p) for p, _ in images], crops, bool(identities),
                                        analyzer_kwargs, chunk_size=chunk_size)
            elif workers > 1 and len(images) > 1:
                import multiprocessing as mp
                pool = mp.get_context("spawn").Pool(min(workers, len(images)), initializer=_init_worker,
                                                     initargs=(analyzer_kwargs,))
                results = pool.imap(_worker_task, [(str(p), crops, bool(identities)) for p, _ in images],
                                    chunksize=1)
            else:
                def local():
                    a = get_analyzer()
                    for p, _ in images:
                        try:
                            yield str(p), _image_rows(a, str(p), crops, bool(identities)), None
                        except Exception as exc:
                            yield str(p), None, _one_line(exc)
                results = local()
            for path, result, error in results:
                key = keys[path]
                if error is not None and media_kind(path) == "unknown" and "unknown or corrupt format" in error:
                    # maybe a video with an unusual suffix
                    try:
                        open_video(path).release()
                        videos.append((Path(path), key, None))
                        continue
                    except MediaError:
                        error = f"{path}: neither an image nor a video this toolkit can read"
                if error is not None:
                    fail(path, key, error)
                else:
                    emit(result.rows, {"kind": "input", "input": key})
                    if result.error:
                        summary.errors += 1
                        summary.error_messages.append(result.error)
                        tqdm.write(f"error: {result.error}", file=err)
                    summary.t_last = time.perf_counter()
                    if summary.images == 0:
                        summary.t_first = summary.t_last
                    summary.images += 1
                    if result.frames > 1:
                        summary.frames += result.frames
                        summary.image_frames += result.frames
                    summary.small_no_face += result.small
                    summary.faces += result.faces
                    summary.no_face += result.empty
                    if result.warning:
                        summary.warnings += 1
                        tqdm.write(f"warning: {path}: {result.warning}", file=err)
                post()
                check_ctrl_c()
            if pool is not None:
                pool.close()
                pool.join()
                pool = None
        if client is not None and videos:
            from .distributed import run_videos
            run_videos(client, videos, analyzer_kwargs=analyzer_kwargs, every=every, detect_every=detect_every,
                       au_baseline=au_baseline, crops=crops, identities=identities, summary=summary, emit=emit,
                       fail=fail, post=post, check_ctrl_c=check_ctrl_c, progress=progress, err=err,
                       segment_frames=segment_frames,
                       history=writer.video_history if writer is not None else None, persons=persons)
            videos = []
        for path, key, prog in videos:
            _run_video(get_analyzer, str(path), key, prog, every, detect_every, au_baseline, crops, summary,
                       emit, fail, progress, check_ctrl_c, err, identities=identities,
                       history=writer.video_history if writer is not None else None, persons=persons)
            post()
            check_ctrl_c()
    except KeyboardInterrupt:
        summary.interrupted = True
    except OutputError as exc:
        summary.write_error = str(exc)
    except Exception as exc:
        from .distributed import ClusterLost
        if client is None or not isinstance(exc, ClusterLost):
            raise
        summary.cluster_error = str(exc)
    finally:
        stack.close()
        if pool is not None:
            pool.terminate()
            pool.join()
        bar.close()
        if writer is not None:
            try:    # a Parquet writer writes its last part here
                writer.close(finished=not summary.interrupted and not summary.write_error
                             and not summary.cluster_error)
            except OutputError as exc:
                summary.write_error = summary.write_error or str(exc)
            summary.rows_written = writer.rows_committed
            summary.finished = writer.inputs_committed
        if persons is not None:
            persons.close()
        summary.seconds = time.time() - t0
    return summary


def _run_video(get_analyzer, path, key, prog, every, detect_every, au_baseline, crops, summary, emit, fail,
               progress, check_ctrl_c, err, identities=None, history=None, persons=None):
    """One video's rows, frame by frame.  A resumed video (``prog``) restarts its stream
    ``stream.WARMUP`` frames before its first unwritten frame (further back to a sweep, or a
    running baseline's window), unrecorded, and its faces there take the track ids already
    written for them (``history(key, since)`` -> ``output.VideoHistory``;
    ``tracking.TrackStitch``): the rows equal an uninterrupted run's, ids included."""
    from tqdm import tqdm

    from .media import VideoTruncated, video_info
    from .stream import FaceStream, resume_first, sweep_period, warm_start
    from .tracking import TrackStitch

    start, check = 0, None
    if prog is not None and prog.last_frame >= 0:
        start, check = prog.last_frame + every, (prog.last_frame, prog.last_time)
    try:
        cap = open_video(path)
        info = video_info(cap, path)
        cap.release()
    except MediaError as exc:
        fail(path, key, str(exc))
        return
    analyzer = get_analyzer()
    stream = FaceStream(analyzer, detect_every=detect_every, au_baseline=au_baseline,
                        sweep_every=sweep_period((info.width, info.height)))
    first, stitch = start, None
    if start > 0 and not crops:
        early = resume_first(start, every, detect_every, au_baseline, stream.window) if history else start
        # and at the last sweep before that, unrecorded up to ``start``
        first = warm_start(analyzer, (info.width, info.height), early, every)
        if history is not None:
            past = history(key, first)
            stitch = TrackStitch(past.frames, past.next_id, keep=False)
            check = past.check          # a written frame before ``first``, to verify the seek
    models = analyzer.model_names(crops)
    ids = None
    if identities and not crops:   # a resumed video's descriptor schedule goes on as it was
        from .identity import VideoIdentities
        ids = VideoIdentities(path, described=None if persons is None or start == 0 else
                              persons.described(path, every))
    fbar = tqdm(unit="frame", desc=Path(path).name[:24], leave=False,
                disable=None if progress else True, dynamic_ncols=True, file=sys.stderr, position=1)
    frames, infos, warned = 0, [], False
    try:
        for index, t, frame in iter_video(path, every=every, start=first, info_out=infos, check=check):
            faces = analyzer.analyze_bgr(frame, crop=True) if crops else stream.process(frame, index=index // every)
            if index < start:
                if stitch is not None:
                    stitch.link(index, start, faces, rows_for(path, faces, frame=index), ids)
                continue
            warning = infos[0].timestamps if infos[0].timestamps != "pts" else ""
            if warning and not warned:
                warned = True
                summary.warnings += 1
                tqdm.write(f"warning: {path}: {warning}", file=err)
            rows = rows_for(path, faces, frame=index, approx_time=t, models=models, warning=warning)
            if stitch is not None:
                stitch.link(index, start, faces, rows, ids)
            if ids is not None:
                ids(frame, faces, rows, count=index // every)
            emit(rows, {"kind": "frame", "input": key, "frame": index, "time": t})
            frames += 1
            summary.frames += 1
            summary.faces += len(faces)
            summary.no_face += not faces
            fbar.update(1)
            check_ctrl_c()
    except VideoTruncated as exc:      # its frames are in; the row after them says where it stopped
        summary.videos += 1
        fail(path, key, str(exc), frame=exc.frame, kind="end")
        return
    except MediaError as exc:
        fail(path, key, str(exc), kind="end")
        return
    finally:
        fbar.close()
    emit([], {"kind": "end", "input": key})
    if frames:
        summary.videos += 1
    elif start > 0:
        summary.resumed += 1       # nothing followed the frames already written


def analyze_paths(paths, csv=None, *, analyzer=None, recursive: bool = False, every: int = 1,
                  crops: bool = False, workers: int = 1, resume: bool = False, progress: bool = False,
                  detect_every: int = 1, au_baseline: str = "population", identities: str | None = None,
                  client=None, segment_frames: int | None = None, chunk_size: int | None = None):
    """Analyse image and video files (or folders of them) into one table of rows.

    Always returns a pandas DataFrame, one row per face (per frame for videos) with the
    columns of the CSV (``output.columns``); inputs that fail have a row with ``error``.
    ``csv``: the rows are also streamed there as they are produced (and ``resume=True``
    continues that file); a name ending in .parquet writes a Parquet dataset folder.
    ``analyzer``: a ``FaceAnalyzer`` (default: a new one with the shipped models).
    ``identities``: "input" or "run" adds a ``person`` column (``fer_au.identity``); an
    analyzer built with ``identities=True`` defaults to "input".
    For a long video whose rows should not be held in memory, call ``run_batch`` with a
    ``csv`` and read the file back in pieces.  ``client``: a ``distributed.Client``: the
    work runs on that Dask cluster (``fer_au.distributed``), the rows are the same.
    """
    import csv as csvlib
    import io

    import pandas as pd

    analyzer = analyzer if analyzer is not None else FaceAnalyzer()
    scope = identities or ("input" if getattr(analyzer, "identities", False) else None)
    summary = run_batch(paths, csv=csv, recursive=recursive, every=every, crops=crops, workers=workers,
                        resume=resume, progress=progress, detect_every=detect_every,
                        au_baseline=au_baseline, analyzer=analyzer, keep_rows=csv is None,
                        identities=scope, client=client, segment_frames=segment_frames,
                        chunk_size=chunk_size)
    if summary.write_error:
        raise OutputError(summary.write_error)
    if summary.cluster_error:
        from .distributed import ClusterLost
        raise ClusterLost(summary.cluster_error)
    text = {"input": str, "error": str}
    if csv is not None:
        from .parquet_output import is_parquet, read_dataset
        return read_dataset(csv) if is_parquet(csv) else pd.read_csv(csv, dtype=text)
    # the same types as a table read back from a CSV: numbers as numbers, empty as NaN
    buf = io.StringIO()
    w = csvlib.DictWriter(buf, analyzer.columns() + (["person"] if scope else []), restval="")
    w.writeheader()
    w.writerows(summary.rows)
    buf.seek(0)
    return pd.read_csv(buf, dtype=text)
