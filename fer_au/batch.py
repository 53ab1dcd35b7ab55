"""Analysing many inputs: files and folders of images and videos -> rows, streamed.

This is the engine behind ``FaceAnalyzer.analyze_paths`` and
``python cli.py analyze``:

* rows are written as they are produced, one flushed write per image or video
  frame, so a crash or Ctrl-C loses nothing already analysed;
* ``resume=True`` skips inputs already in the CSV and continues a video after
  its last written frame;
* an input that cannot be read gets one row with ``error`` set, one line on
  stderr, and the run goes on;
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

from .media import MediaError, expand_inputs, iter_video, media_kind, open_video, read_image, video_info
from .output import CSVWriter, columns, done_inputs, error_row, rows_for


@dataclass
class Summary:
    inputs: int = 0          # files considered (after expanding folders)
    images: int = 0          # images analysed
    videos: int = 0          # videos analysed
    frames: int = 0          # video frames analysed
    faces: int = 0           # faces found, all inputs
    no_face: int = 0         # images or frames with no face
    errors: int = 0          # inputs that could not be analysed
    resumed: int = 0         # inputs skipped because the CSV already had them
    skipped: list = field(default_factory=list)   # non-media files seen in folders (not analysed)
    error_messages: list = field(default_factory=list)
    rows: list = field(default_factory=list)      # only with keep_rows
    rows_written: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    small_no_face: int = 0   # images <= 96 px without a face (face crops, without --crops?)
    t_first: float = 0.0     # perf_counter of the first / last image result (throughput)
    t_last: float = 0.0
    csv: str | None = None

    def line(self) -> str:
        parts = [f"{self.inputs} input(s): {self.images} image(s), {self.videos} video(s) "
                 f"({self.frames} frames)", f"{self.faces} face(s)", f"{self.no_face} without a face",
                 f"{self.errors} error(s)"]
        if self.resumed:
            parts.append(f"{self.resumed} already in the CSV (resumed)")
        if self.skipped:
            parts.append(f"{len(self.skipped)} non-media file(s) in folders not analysed")
        line = "; ".join(parts) + f"; {self.seconds:.1f} s"
        if self.small_no_face:
            line += (f"\nnote: {self.small_no_face} small image(s) (<= {SMALL} px) had no face found; "
                     "if they are face crops (FER2013-style), run again with --crops")
        return line


# ------------------------------------------------------------------ one input
SMALL = 96   # an image this small without a face is probably a face crop: hint at --crops


def _image_rows(analyzer, path, crops: bool):
    """Rows for one image file and its face count (-1: none found in a small image);
    raises MediaError when it cannot be read."""
    bgr = read_image(path)
    faces = analyzer.analyze_bgr(bgr, crop=crops)
    n = len(faces) if (faces or max(bgr.shape[:2]) > SMALL) else -1
    return rows_for(path, faces, frame=0, approx_time=None, models=analyzer.model_names(crops)), n


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
    from .analyzer import FaceAnalyzer
    _WORKER["analyzer"] = FaceAnalyzer(**kwargs)


def _worker_task(task):
    path, crops = task
    try:
        rows, n = _image_rows(_WORKER["analyzer"], path, crops)
        return path, rows, n, None
    except Exception as exc:  # one bad input must not stop the run
        return path, None, 0, _one_line(exc)


# ------------------------------------------------------------------ the run
@contextlib.contextmanager
def _ctrl_c_stops_at_a_boundary():
    """Yield a ``check()`` that raises KeyboardInterrupt once Ctrl-C was pressed.

    Python raises KeyboardInterrupt wherever the signal lands; when that is inside a
    destructor (a TensorFlow tensor's, a generator's close) it is printed as
    "Exception ignored" and lost, and the run went on to the end.  So the first Ctrl-C
    only sets a flag, checked between frames and inputs; a second one raises at once.
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
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, previous)


def run_batch(paths, csv=None, *, recursive: bool = False, every: int = 1, crops: bool = False,
              workers: int = 1, resume: bool = False, progress: bool = False, detect_every: int = 1,
              au_baseline: str = "population", analyzer=None, analyzer_kwargs: dict | None = None,
              keep_rows: bool = False, err=None) -> Summary:
    """Analyse ``paths`` (files and folders) into rows; see the module docstring.

    Give either a ready ``analyzer`` or ``analyzer_kwargs`` to build one
    (needed for ``workers > 1``: each worker builds its own).
    """
    from tqdm import tqdm

    err = err or sys.stderr
    if every < 1:
        raise ValueError("--every must be >= 1")
    if workers < 1:
        raise ValueError("--workers must be >= 1")
    if workers > 1 and analyzer_kwargs is None:
        analyzer_kwargs = getattr(analyzer, "init_kwargs", None)
        if analyzer_kwargs is None:
            raise ValueError("workers > 1 needs an analyzer built from model names (not objects)")
    t0 = time.time()
    summary = Summary(csv=str(csv) if csv else None)
    files, skipped = expand_inputs(paths, recursive=recursive)
    summary.skipped = [str(p) for p in skipped]
    summary.inputs = len(files)

    state = {"analyzer": analyzer}

    def get_analyzer():
        if state["analyzer"] is None:
            from .analyzer import FaceAnalyzer
            state["analyzer"] = FaceAnalyzer(**(analyzer_kwargs or {}))
        return state["analyzer"]

    if analyzer is not None:
        cols = analyzer.columns()
    else:
        cols = columns()
    done = done_inputs(csv) if (resume and csv) else {}
    writer = CSVWriter(csv, cols, resume=resume) if csv else None

    bar = tqdm(total=len(files), unit="input", disable=None if progress else True, dynamic_ncols=True,
               desc="analyze", file=sys.stderr)

    def emit(rows):
        if writer is not None:
            writer.write_rows(rows)
        if keep_rows:
            summary.rows.extend(rows)
        summary.rows_written += len(rows)

    def fail(path, message, frame=0):
        summary.errors += 1
        summary.error_messages.append(message)
        emit([error_row(path, message, frame)])
        tqdm.write(f"error: {message}", file=err)

    def post():
        bar.set_postfix(faces=summary.faces, errors=summary.errors, refresh=False)
        bar.update(1)

    # Sort inputs into images and videos (by suffix; unknown suffixes are probed).
    images, videos = [], []
    for f in files:
        key = str(f)
        if key in done:
            last, had_error = done[key]
            kind = media_kind(f)
            if had_error or kind != "video":
                summary.resumed += 1
                bar.update(1)
                continue
            videos.append((f, last + every))
            continue
        kind = media_kind(f)
        if kind == "video":
            videos.append((f, 0))
        else:
            images.append(f)

    pool = None
    stack = contextlib.ExitStack()
    try:
        check_ctrl_c = stack.enter_context(_ctrl_c_stops_at_a_boundary())
        if images:
            if workers > 1 and len(images) > 1:
                import multiprocessing as mp
                pool = mp.get_context("spawn").Pool(min(workers, len(images)), initializer=_init_worker,
                                                     initargs=(analyzer_kwargs,))
                results = pool.imap(_worker_task, [(str(p), crops) for p in images], chunksize=1)
            else:
                def local():
                    a = get_analyzer()
                    for p in images:
                        try:
                            rows, n = _image_rows(a, str(p), crops)
                            yield str(p), rows, n, None
                        except Exception as exc:
                            yield str(p), None, 0, _one_line(exc)
                results = local()
            for path, rows, n, error in results:
                if error is not None and media_kind(path) == "unknown" and "not an image" in error:
                    # maybe a video with an unusual suffix
                    try:
                        cap = open_video(path)
                        cap.release()
                        videos.append((Path(path), 0))
                        continue
                    except MediaError:
                        error = f"{path}: neither an image nor a video this toolkit can read"
                if error is not None:
                    fail(path, error)
                else:
                    summary.t_last = time.perf_counter()
                    if summary.images == 0:
                        summary.t_first = summary.t_last
                    summary.images += 1
                    summary.small_no_face += n < 0
                    n = max(n, 0)
                    summary.faces += n
                    summary.no_face += n == 0
                    emit(rows)
                post()
                check_ctrl_c()
            if pool is not None:
                pool.close()
                pool.join()
                pool = None
        for path, start in videos:
            _run_video(get_analyzer, str(path), start, every, detect_every, au_baseline, crops, summary,
                       emit, fail, progress, check_ctrl_c)
            post()
            check_ctrl_c()
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        stack.close()
        if pool is not None:
            pool.terminate()
            pool.join()
        bar.close()
        if writer is not None:
            writer.close()
        summary.seconds = time.time() - t0
    return summary


def _run_video(get_analyzer, path, start, every, detect_every, au_baseline, crops, summary, emit, fail,
               progress, check_ctrl_c):
    from tqdm import tqdm

    from .analyzer import FaceStream

    try:
        cap = open_video(path)
        info = video_info(cap, path)
        cap.release()
    except MediaError as exc:
        fail(path, str(exc))
        return
    if start > 0 and info.frame_count and start >= info.frame_count:
        summary.resumed += 1
        return
    analyzer = get_analyzer()
    stream = FaceStream(analyzer, detect_every=detect_every, au_baseline=au_baseline)
    models = analyzer.model_names(crops)
    total = max(0, (info.frame_count - start + every - 1) // every) if info.frame_count else None
    fbar = tqdm(total=total, unit="frame", desc=Path(path).name[:24], leave=False,
                disable=None if progress else True, dynamic_ncols=True, file=sys.stderr, position=1)
    frames = 0
    try:
        for index, t, frame in iter_video(path, every=every, start=start):
            if crops:
                faces = analyzer.analyze_bgr(frame, crop=True)
            else:
                faces = stream.process(frame)
            emit(rows_for(path, faces, frame=index, approx_time=t, models=models))
            frames += 1
            summary.frames += 1
            summary.faces += len(faces)
            summary.no_face += not faces
            fbar.update(1)
            check_ctrl_c()
    except MediaError as exc:
        fail(path, str(exc))
        return
    finally:
        fbar.close()
    if frames or start > 0:
        summary.videos += 1
