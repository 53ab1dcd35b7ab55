"""`python cli.py demo`: analyse the bundled samples and say what came out."""
from __future__ import annotations

import sys
from pathlib import Path

from .analyze import _single_threaded_blas


def add_parser(sub):
    p = sub.add_parser(
        "demo", help="analyse the bundled sample images and video (several faces) into a CSV",
        description="Run `analyze` on samples/ (real public-domain faces composed into a group photo, "
                    "single photos, a no-face photo, face crops and a short video), write the rows to "
                    "a CSV (with person ids, as `analyze --identities run`), print a per-face summary: top "
                    "emotion of each model and strongest AUs, and write the HTML report beside the CSV.")
    p.add_argument("-o", "--output", default="demo_results.csv", metavar="CSV",
                   help="where to write the rows (default demo_results.csv)")
    p.add_argument("--samples", default=None, metavar="DIR", help="sample folder (default: the bundled samples/)")
    p.add_argument("--every", type=int, default=5, metavar="N", help="video: analyse every N-th frame (default 5)")
    return p


def run(args) -> int:
    _single_threaded_blas()
    import pandas as pd

    from ..analyzer import FaceAnalyzer
    from ..aus import AU_CODES, AU_NAMES
    from ..batch import run_batch
    from ..labels import FER7
    from ..samples import SAMPLES_DIR, build_samples

    samples = Path(args.samples) if args.samples else SAMPLES_DIR
    if not samples.exists():
        if args.samples:
            print(f"error: {samples}: no such folder", file=sys.stderr)
            return 2
        print(f"{samples} is missing: regenerating the samples from installed packages")
        build_samples(samples)
    analyzer = FaceAnalyzer()                # a missing model: one line and exit 2 (cli.main)
    try:   # show paths as the user would type them
        samples = samples.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        pass
    images = sorted(p for p in samples.iterdir() if p.is_file() and p.suffix.lower() != ".md")
    crops = sorted((samples / "crops").glob("*.png")) if (samples / "crops").is_dir() else []
    print(f"analysing {len(images)} sample files in {samples} (and {len(crops)} face crops) ...")
    # identities across the whole run: the report shows who is who in every file
    summary = run_batch([str(p) for p in images], csv=args.output, every=args.every,
                        analyzer=analyzer, progress=False, identities="run")
    crop_summary = None
    if crops:
        crop_summary = run_batch([str(p) for p in crops], csv=args.output, crops=True, resume=True,
                                 analyzer=analyzer, progress=False, identities="run")
    table = pd.read_csv(args.output, dtype={"input": str, "error": str})
    print(f"\nwrote {len(table)} rows to {Path(args.output).resolve()}")
    print(summary.line())
    if crop_summary:
        print("crops: " + crop_summary.line())

    faces = table[table["FaceRectX"].notna()]
    shown = faces.groupby("input", sort=False).head(4)
    shown = shown[~shown["input"].str.endswith(".mp4")]
    print("\nper face (images):")
    for _, r in shown.iterrows():
        name = Path(r["input"]).name
        cnn = _top(r, list(FER7))
        aux = _top(r, [f"au_{e}" for e in FER7])
        aus = sorted(((r[c], c) for c in AU_CODES if pd.notna(r.get(c))), reverse=True)[:2]
        au_txt = ", ".join(f"{c} {AU_NAMES[c]} {v:.1f}" for v, c in aus if v >= 0.5) or "-"
        print(f"  {name:18s} face {int(r['face_id'])}: CNN {cnn:18s} AU-XGBoost {aux:18s} AUs: {au_txt}")
    video = faces[faces["input"].str.endswith(".mp4")]
    if len(video):
        ids = video["face_id"].nunique()
        print(f"  {Path(video['input'].iloc[0]).name}: {video['frame'].nunique()} frames analysed, "
              f"{len(video)} faces, {ids} track id(s)")
    if "person" in table:
        print(f"  persons, by face descriptor across all files: {table['person'].nunique()} "
              "(group.jpg's mirrored copies count as two more: one person is in one place per image)")
    nf = table[table["FaceRectX"].isna() & table["error"].isna()]
    for _, r in nf.iterrows():
        print(f"  {Path(r['input']).name}: no face (kept as a row with empty face columns)")
    from ..report import write_report
    report = write_report(args.output, Path(args.output).with_suffix(".html"),
                          title="fer_au demo: the bundled samples")
    print(f"\nreport (one self-contained HTML file, open it in a browser): {report.resolve()}")
    print("\nnext: python cli.py analyze YOUR_FOLDER -o results.csv   |   python cli.py report results.csv"
          "   |   python cli.py live --source 0")
    return 1 if (summary.errors or (crop_summary and crop_summary.errors)) else 0


def _top(row, cols) -> str:
    import pandas as pd
    vals = [(row[c], c) for c in cols if c in row and pd.notna(row[c])]
    if not vals:
        return "-"
    p, c = max(vals)
    return f"{c.removeprefix('au_')} {p * 100:.0f}%"
