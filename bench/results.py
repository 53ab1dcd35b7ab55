"""How long the results tools take on a long run: read_results + summary + report
on a 1-hour, 30 fps, one-face results CSV (108,000 rows with every real column,
synthetic values: ``fer_au.results.synthetic_results``).

    python bench/results.py [--seconds 3600] [--fps 30] [--csv PATH]

The CSV is written once (pandas needs ~1 min for 130 MB) and kept in the
system's temp folder for reruns; only reading, summarising and the report are
timed.  Target (issue 15): under 20 s in all.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import cpu_model  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3600.0, help="video length (default 3600)")
    ap.add_argument("--fps", type=float, default=30.0, help="frames per second (default 30)")
    ap.add_argument("--csv", default=None, help="where to keep the generated CSV (default: temp folder)")
    ap.add_argument("--out", default=None, help="where to write the report (default: temp folder)")
    args = ap.parse_args()

    import matplotlib
    matplotlib.use("Agg")
    from fer_au.report import write_report
    from fer_au.results import read_results, synthetic_results

    tmp = Path(tempfile.gettempdir())
    csv = Path(args.csv or tmp / f"fer_au_bench_results_{int(args.seconds)}s_{args.fps:g}fps.csv")
    out = Path(args.out or csv.with_suffix(".html"))
    if not csv.exists():
        t = time.perf_counter()
        table = synthetic_results(seconds=args.seconds, fps=args.fps, persons=1, input="interview.mp4")
        table.to_csv(csv, index=False)
        print(f"generated {csv} ({len(table):,} rows, {csv.stat().st_size / 1e6:.0f} MB) "
              f"in {time.perf_counter() - t:.0f} s (not timed)")

    times = {}
    t0 = time.perf_counter()
    res = read_results(csv)
    times["read_results"] = time.perf_counter() - t0
    t = time.perf_counter()
    by_input = res.summary("input")
    by_person = res.summary("person")
    times["summary (by input + by person)"] = time.perf_counter() - t
    t = time.perf_counter()
    write_report(res, out, source=str(csv))
    times["report"] = time.perf_counter() - t
    total = time.perf_counter() - t0

    print(f"CPU: {cpu_model()}")
    print(f"table: {len(res):,} rows x {res.shape[1]} columns ({args.seconds:g} s at {args.fps:g} fps, "
          f"{len(by_person)} person, {len(by_input)} input)")
    for k, v in times.items():
        print(f"  {k:32s} {v:6.2f} s")
    print(f"  {'total':32s} {total:6.2f} s   (target < 20 s: {'met' if total < 20 else 'NOT met'})")
    print(f"report: {out} ({out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
