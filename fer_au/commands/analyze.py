"""`python cli.py analyze PATH... -o results.csv`: images and videos -> one CSV row per face."""
from __future__ import annotations

import sys


def add_model_options(p, *, detect_every_default: int = 1) -> None:
    """Options shared by analyze and live."""
    g = p.add_argument_group("models")
    g.add_argument("--detector", choices=["blazeface", "hog", "haar"], default="blazeface",
                   help="face detector: MediaPipe's BlazeFace (default: finds faces with dark glasses, a "
                        "hand over them, turned towards profile, grey or low-contrast; its short-range model "
                        "looks again for large turned faces; bench/detection.py), "
                        "dlib's frontal HOG detector, or OpenCV's Haar cascade (more false alarms)")
    g.add_argument("--landmarks", choices=["hybrid", "mesh", "dlib"], default="hybrid",
                   help="'hybrid' (default): dlib's 68 points, which follow small movements closely, with "
                        "the depth of MediaPipe's 3-D face mesh, so AUs are measured in a frontal head "
                        "frame (the mesh's own points stand in where dlib loses a face); 'mesh': the mesh "
                        "alone; 'dlib': dlib alone with the first-generation 2-D AUs. The CSV's "
                        "x_0..y_67 are the 68 iBUG points either way")
    g.add_argument("--upsample", type=int, default=None,
                   help="search for smaller faces at a higher cost. BlazeFace: N adds an (N+1)x(N+1) grid of "
                        "overlapping tiles (1: faces down to ~30 px in 640x480; 2: down to ~24 px), and "
                        "with N >= 1 dlib's HOG detector takes a second look for frontal faces BlazeFace "
                        "missed and BlazeFace one at a padded copy for a face that fills the image (a "
                        "cropped portrait, a close-up; video frames take it too when their faces look "
                        "like one) (~70 ms a 640x480 photo in all at 2); HOG: 1 doubles the image (faces down "
                        "to ~40 px, ~4x slower). "
                        "Default: 2 for photos with BlazeFace, and more for photos over 1500 px (one tile "
                        "per 500 px of the longer side, up to 8x8: a 4000x3000 photo gets 7, ~0.3 s), so "
                        "a small face of a large photo is still found; 0 for video frames (analyze also "
                        "searches each video with the photo's tiles every 10th frame, every 5th over 1500 "
                        "px, and follows the faces found in between; live searches one tile of that grid "
                        "with each detection, in turn; an explicit --upsample replaces both: --upsample 0 "
                        "is the fastest), and with the other detectors")
    g.add_argument("--min-face", type=int, default=24, metavar="PX", help="smallest face side kept (default 24)")
    g.add_argument("--detect-size", type=int, default=1280, metavar="PX",
                   help="detect on a copy whose longer side is at most PX (0 = full size; default 1280)")
    g.add_argument("--detect-every", type=int, default=detect_every_default, metavar="K",
                   help="video: run the detector on every K-th analysed frame and follow faces by their "
                        f"landmarks in between (default {detect_every_default})")
    from ..zoo import REGISTRY
    pixel_names = ", ".join(f"'{n}'" for n, e in REGISTRY.items() if e.input == "crop48")
    g.add_argument("--emotion-model", default="cnn", metavar="NAME",
                   help=f"main emotion model, on the aligned 48x48 face: one of {pixel_names} "
                        "(default 'cnn'), or 'none'")
    au_names = ", ".join(f"'{n}'" for n, e in REGISTRY.items() if e.input.startswith("landmarks"))
    g.add_argument("--au-model", default="au", metavar="NAME",
                   help=f"AU-path emotion model (XGBoost): one of {au_names} (default 'au': on AU "
                        "intensities alone), or 'none'")
    g.add_argument("--no-aus", action="store_true", help="do not estimate action units")
    g.add_argument("--au-baseline", choices=["population", "running"], default="population",
                   help="video: what AU intensities are measured from: 'population' (FER2013's neutral "
                        "faces, as for photos; default) or 'running' (each tracked face's own median "
                        "over its last 300 frames, once 30 are seen: removes a person's resting "
                        "brow height or mouth shape; best for AU01/AU02)")


def analyzer_kwargs(args) -> dict:
    none = lambda v: None if str(v).lower() in ("none", "") else v  # noqa: E731
    return dict(detector=args.detector, landmarks=args.landmarks, emotion_model=none(args.emotion_model),
                au_model=none(args.au_model), aus=not args.no_aus, upsample=args.upsample,
                min_face=args.min_face, detect_size=args.detect_size or None)


def add_parser(sub):
    p = sub.add_parser(
        "analyze", help="analyse images and videos into a CSV (one row per face)",
        description="Detect every face in images and videos (files or folders) and write one CSV "
                    "row per face: box, 68 landmarks, head pose, action units and emotion "
                    "probabilities (py-feat column names). An image or frame without a face still "
                    "gets a row; an unreadable input gets a row with the 'error' column set. Rows are "
                    "written as they are produced (-o NAME.parquet: a Parquet dataset instead of a CSV), so an interrupted run loses nothing: rerun with "
                    "--resume to continue. Exit status: 0 all inputs analysed, 1 some failed, "
                    "2 nothing could run (bad options, missing models), 3 the output could not be "
                    "written (disk full; --resume continues), 4 the Dask scheduler went away (--resume "
                    "continues), 130 interrupted.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image or video files, or folders of them")
    p.add_argument("-o", "--output", default="results.csv", metavar="OUT",
                   help="where to write the rows: a CSV file (default results.csv), or, for a name "
                        "ending in .parquet, a partitioned Parquet dataset: a folder of part files "
                        "(pyarrow: pip install 'fer_au[parquet]'), the same columns and rows, written "
                        "a part at a time as rows arrive (every 10,000 rows or 10 s), --resume as for "
                        "a CSV; read it with fer_au.read_results, pandas or dask.dataframe.read_parquet")
    p.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders")
    p.add_argument("--every", type=int, default=1, metavar="N", help="video: analyse every N-th frame (default 1)")
    p.add_argument("--crops", action="store_true",
                   help="inputs are already face crops (FER2013-style 48x48): no detection, one face each "
                        "(larger cropped portraits are found without it: the detector also looks at a "
                        "padded copy of each photo for a face that fills it)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="analyse images in N processes (each loads the models once; default 1)")
    p.add_argument("--dask", metavar="ADDRESS", default=None,
                   help="run on a Dask cluster (pip install 'fer_au[dask]'): a scheduler address "
                        "(tcp://host:8786), 'local' (one worker process per core) or 'local:N'; images go "
                        "in chunks, long videos in segments; the CSV (or Parquet dataset) is written here, as locally "
                        "(docs/scale.md)")
    p.add_argument("--segment-frames", type=int, default=None, metavar="N",
                   help="with --dask: analysed frames per video task (default 1000)")
    p.add_argument("--resume", action="store_true",
                   help="keep the rows already in the output and skip the inputs whose rows are all "
                        "there (a video continues after its last written frame); inputs are matched "
                        "by resolved path, and what is complete is read from OUT.journal")
    p.add_argument("--identities", nargs="?", const="input", choices=["input", "run"], default=None,
                   help="add a 'person' column from face descriptors (dlib's face-recognition ResNet): "
                        "the same person keeps one id through cuts and exits within each input, or, "
                        "with '--identities run', across all inputs of the run; OUT.persons.jsonl keeps "
                        "the people for --resume")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-q", "--quiet", action="store_true", help="only errors and the summary")
    add_model_options(p)
    return p


def run(args) -> int:
    _single_threaded_blas()
    from ..batch import run_batch

    kwargs = analyzer_kwargs(args)
    analyzer = None
    client = cluster = None
    if args.dask:
        problem = _check_models(kwargs)     # before any worker loads them
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        from ..distributed import make_client
        try:
            client, cluster = make_client(args.dask)
        except Exception as exc:
            print(f"error: cannot reach the Dask cluster {args.dask!r}: {' '.join(str(exc).split())}",
                  file=sys.stderr)
            return 2
    elif args.workers <= 1:
        from ..analyzer import FaceAnalyzer
        analyzer = FaceAnalyzer(**kwargs)      # a missing model: one line and exit 2 (cli.main)
    else:
        # Fail fast (and in one line) if a model is missing, before spawning workers.
        problem = _check_models(kwargs)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
    try:
        summary = run_batch(args.paths, csv=args.output, recursive=args.recursive, every=args.every,
                            crops=args.crops, workers=args.workers, resume=args.resume,
                            progress=not args.no_progress and not args.quiet,
                            detect_every=args.detect_every, au_baseline=args.au_baseline,
                            analyzer=analyzer, analyzer_kwargs=kwargs, identities=args.identities,
                            client=client, segment_frames=args.segment_frames)
    finally:
        _close_quietly(client, cluster)
    print(f"{args.output}: {summary.rows_written} row(s) written", file=sys.stderr if args.quiet else sys.stdout)
    print(summary.line())
    if summary.write_error:
        print(f"error: {summary.write_error}; the run stopped. Kept: {summary.rows_written} row(s) written in "
              f"this run, for {summary.finished} input(s) complete (rows of the one being written were "
              f"removed, so every row in the file is whole). Free some space (or raise the file-size "
              "limit), then rerun the same command with --resume to continue.", file=sys.stderr)
        return 3
    if summary.cluster_error:
        print(f"error: {summary.cluster_error}; the run stopped. Kept: {summary.rows_written} row(s) for "
              f"{summary.finished} input(s) complete. Rerun the same command with --resume to continue.",
              file=sys.stderr)
        return 4
    if summary.skipped and not args.quiet:
        shown = ", ".join(summary.skipped[:3]) + (", ..." if len(summary.skipped) > 3 else "")
        print(f"not analysed (not an image or video suffix): {shown}")
    if summary.interrupted:
        print("interrupted: rerun the same command with --resume to continue", file=sys.stderr)
        return 130
    if summary.inputs == 0:
        print("error: no input files found", file=sys.stderr)
        return 1
    return 1 if summary.errors else 0


def _close_quietly(client, cluster) -> None:
    """Close a Dask client (and the LocalCluster we started); a scheduler already gone
    must not turn the run's one-line message into a traceback."""
    for thing in (client, cluster):
        if thing is not None:
            try:
                thing.close()
            except Exception:
                pass


def _check_models(kwargs) -> str | None:
    from .. import zoo
    from ..analyzer import ModelUnavailableError
    try:
        if kwargs.get("aus", True):
            zoo.verified_path("au_baseline.json")
        for kind, name in (("emotion", kwargs.get("emotion_model")), ("au", kwargs.get("au_model"))):
            if name is None:
                continue
            if name not in zoo.REGISTRY:
                return f"unknown {kind} model {name!r}; shipped models: {', '.join(zoo.REGISTRY)}"
            for f in zoo.REGISTRY[name][1]:
                zoo.verified_path(f)
    except (zoo.ModelIntegrityError, ModelUnavailableError) as exc:
        return str(exc)
    return None


def _single_threaded_blas() -> None:
    """One OpenMP thread for XGBoost and friends, set before they load: per-face
    batches are tiny, and spinning OpenMP workers cost more than they save
    (48 ms instead of 0.2 ms per XGBoost call on a busy 2-core machine)."""
    import os
    os.environ.setdefault("OMP_NUM_THREADS", "1")
