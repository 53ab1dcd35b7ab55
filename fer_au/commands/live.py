"""`python cli.py live`: webcam, video file or stream, with the overlay in a window."""
from __future__ import annotations

import sys

from .analyze import _single_threaded_blas, add_model_options, analyzer_kwargs

# live runs the CNN on each followed face every 3rd frame (as it detects): the CNN is most of a face's
# cost on a laptop CPU, and bench/realtime.py shows what holding emotions two frames changes
EMOTION_EVERY_DEFAULT = 3


def add_parser(sub):
    p = sub.add_parser(
        "live", help="realtime emotions and AUs from a webcam, video file or stream",
        description="Show every face of a webcam, video file or stream with its box and track id, "
                    "top emotion with probability bars and its strongest action units, plus an FPS "
                    "counter. Keys: q (or Esc) quits, s saves a snapshot. --no-display runs headless "
                    "(with --output and/or --csv).")
    p.add_argument("--source", default="0",
                   help="camera index (default 0), a video file, or a stream URL (rtsp://, http://)")
    p.add_argument("--no-display", action="store_true", help="no window (headless)")
    p.add_argument("--output", metavar="VIDEO", help="write the annotated video here (.mp4 or .avi)")
    p.add_argument("--csv", metavar="CSV", help="write the same rows as `analyze` here, frame by frame")
    p.add_argument("--smooth", type=float, nargs="?", const=0.7, default=0.0, metavar="W",
                   help="smooth each face's emotions over time: W = weight of the past in a moving "
                        "average, 0..1 (0.7 when given without a value; default off)")
    p.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    p.add_argument("--snapshot-dir", default=".", metavar="DIR", help="where s saves snapshots (default .)")
    p.add_argument("--realtime", action="store_true",
                   help="play a video file at its own frame rate even without a window")
    add_model_options(p, detect_every_default=3)
    p.add_argument("--emotion-every", type=int, default=EMOTION_EVERY_DEFAULT, metavar="K",
                   help="run the emotion CNN on each followed face every K-th frame and hold its last "
                        "emotions in between (faces take turns, a new face is classified at once; AUs "
                        "are measured on every frame; each turn sees the face or its mirror image, by "
                        "turns, and the emotions average the latest of each). 1 = every frame, both "
                        f"views (default {EMOTION_EVERY_DEFAULT}; bench/realtime.py prints what it changes)")
    return p


def run(args) -> int:
    _single_threaded_blas()
    from ..analyzer import FaceAnalyzer
    from ..live import run_live

    if args.emotion_every < 1:
        print(f"error: --emotion-every must be 1 or more, got {args.emotion_every}", file=sys.stderr)
        return 2
    if not 0.0 <= args.smooth < 1.0:
        print(f"error: --smooth must be in [0, 1), got {args.smooth}", file=sys.stderr)
        return 2
    # a missing model or an unreadable source: one line and exit 2 (cli.main)
    analyzer = FaceAnalyzer(**analyzer_kwargs(args))
    summary = run_live(args.source, analyzer, display=not args.no_display, output=args.output,
                       csv=args.csv, smooth=args.smooth, detect_every=args.detect_every,
                       au_baseline=args.au_baseline, emotion_every=args.emotion_every,
                       max_frames=args.max_frames, snapshot_dir=args.snapshot_dir,
                       realtime=True if args.realtime else None)
    print(summary.line())
    if args.no_display and not (args.output or args.csv):
        print("note: with --no-display and neither --output nor --csv, nothing was shown or saved")
    if summary.output:
        print(f"annotated video: {summary.output}")
    if summary.csv:
        print(f"rows: {summary.csv}")
    if summary.frames == 0:
        print(f"error: {args.source}: no frame could be read", file=sys.stderr)
        return 1
    return 0
