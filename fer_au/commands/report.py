"""`python cli.py report results.csv -o report.html`: one self-contained HTML report."""
from __future__ import annotations

import sys
from pathlib import Path


def add_parser(sub):
    p = sub.add_parser(
        "report", help="write one self-contained HTML report of a results CSV",
        description="Read a results table (fer_au's CSV or Parquet, py-feat's or OpenFace 2's CSV) and "
                    "write one HTML file with everything inside it (plots as inline images, no network): "
                    "the models used, summaries per input and per person, AU and emotion timelines per "
                    "person for videos, the images with their detections drawn (from the original files "
                    "where they are still there) and the error rows.")
    p.add_argument("results", metavar="RESULTS", help="results file (.csv, .parquet)")
    p.add_argument("-o", "--output", default=None, metavar="HTML",
                   help="where to write the report (default: RESULTS with .html)")
    p.add_argument("--title", default=None, help="the report's title (default: fer_au report: RESULTS)")
    p.add_argument("--images-from", action="append", default=[], metavar="DIR",
                   help="also look for image inputs given by relative path in DIR (repeatable)")
    p.add_argument("--max-images", type=int, default=60, metavar="N",
                   help="thumbnails shown at most (default 60)")
    p.add_argument("--max-timelines", type=int, default=12, metavar="N",
                   help="video timelines (one per person and video) drawn at most (default 12)")
    return p


def run(args) -> int:
    import matplotlib
    matplotlib.use("Agg")          # a report never opens a window
    from ..report import write_report

    src = Path(args.results)
    out = Path(args.output) if args.output else src.with_suffix(".html")
    if out.resolve() == src.resolve():
        print("error: the report would overwrite the results file; pass -o", file=sys.stderr)
        return 2
    path = write_report(src, out, title=args.title or f"fer_au report: {src.name}", roots=args.images_from,
                        max_images=args.max_images, max_timelines=args.max_timelines)
    print(f"report: {path.resolve()}")
    return 0
