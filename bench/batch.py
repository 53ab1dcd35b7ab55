"""Batch speed and memory of `python cli.py analyze`.

    python bench/batch.py photos [--n 200] [--workers 1 2] [--upsample 0]
    python bench/batch.py video-memory [--minutes 1 10] [--every 1]

photos: writes N 640x480 single-face JPEG photos (real faces from
``fer_au.samples``, varied position, size, mirroring and background) and runs
``cli.py analyze FOLDER --workers W`` on them in a fresh process for each W.
Prints photos per second over the whole run (start-up and model loading
included) and over the analysis alone (from the CSV's first to last row), and
the peak memory of the run (main process plus its largest worker).

video-memory: writes 640x480 videos of the given lengths (two moving faces)
and runs ``cli.py analyze VIDEO`` on each in a fresh process; prints its peak
memory (ru_maxrss), so that a 10-minute video can be compared with a
1-minute one: reading is frame by frame and rows are streamed to the CSV, so
memory must not grow with the length.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from _data import cpu_model  # noqa: E402
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def make_photos(folder: Path, n: int, seed: int = 0) -> list[Path]:
    import cv2
    import numpy as np

    from fer_au.samples import background, paste

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    files = []
    for i in range(n):
        p = folder / f"photo_{i:04d}.jpg"
        files.append(p)
        if p.exists():
            continue
        img = background(640, 480, seed=int(rng.integers(1 << 30)))
        fs = float(rng.uniform(110, 200))
        cx = float(rng.uniform(fs, 640 - fs))
        cy = float(rng.uniform(0.8 * fs, 480 - 0.8 * fs))
        paste(img, ("astronaut", "hopper")[i % 2], cx, cy, fs, bool(rng.integers(2)), float(rng.uniform(-8, 8)))
        cv2.imwrite(str(p), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return files


# The child: run the CLI in-process, then report its own peak memory and its workers'.
CHILD = r"""
import resource, sys, time
sys.path.insert(0, {root!r})
from fer_au import batch
from fer_au.cli import main
stamps = []
orig_run = batch.run_batch
def run_batch(*a, **k):
    s = orig_run(*a, **k)
    stamps.append(s)
    return s
batch.run_batch = run_batch
t = time.time()
rc = main({argv!r})
s = stamps[-1] if stamps else None
if s is not None and s.t_last > s.t_first and s.images > 1:
    print(f"@@@ steady={{(s.images - 1) / (s.t_last - s.t_first):.2f}}")
me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"@@ rc={{rc}} wall={{time.time() - t:.2f}} peak_self_mb={{me:.0f}} peak_child_mb={{kids:.0f}}")
"""


def run_cli(argv):
    code = CHILD.format(root=str(ROOT), argv=argv)
    t = time.time()
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    wall = time.time() - t
    stats = {}
    for line in p.stdout.splitlines():
        if line.startswith("@@@"):
            stats.update(dict(kv.split("=") for kv in line[4:].split()))
        elif line.startswith("@@"):
            stats.update(dict(kv.split("=") for kv in line[3:].split()))
    if "rc" not in stats:
        sys.stderr.write(p.stdout[-2000:] + p.stderr[-3000:])
        raise SystemExit(f"the analyze run failed (exit {p.returncode})")
    stats["process_wall"] = wall
    summary = [ln for ln in p.stdout.splitlines() if "input(s)" in ln]
    return stats, (summary[0] if summary else "")


def bench_photos(args):
    work = Path(args.workdir or tempfile.mkdtemp(prefix="fer_au_batch_"))
    photos = make_photos(work / "photos", args.n)
    print(f"{len(photos)} photos 640x480 (one face each) in {photos[0].parent}")
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores visible, load average {os.getloadavg()[0]:.2f}")
    for w in args.workers:
        csv = work / f"results_w{w}.csv"
        extra = [] if args.upsample is None else ["--upsample", str(args.upsample)]
        stats, summary = run_cli(["analyze", str(photos[0].parent), "-o", str(csv), "--workers", str(w),
                                  "--no-progress", "-q", *extra])
        secs = float(summary.rsplit(";", 1)[-1].strip().rstrip(" s")) if summary else float("nan")
        steady = float(stats.get("steady", "nan"))
        total = stats["process_wall"]
        print(f"--workers {w}: {steady:6.1f} photos/s steady state (first to last result), "
              f"{len(photos) / secs:6.1f} photos/s incl. the workers' model loading ({secs:.1f} s), "
              f"{len(photos) / total:6.1f} photos/s for the whole command ({total:.1f} s incl. "
              f"Python/TensorFlow start-up); peak memory {stats['peak_self_mb']} MB main"
              + (f" + {stats['peak_child_mb']} MB largest worker" if w > 1 else "")
              + f"\n    [{summary}]")
    print(f"load average now {os.getloadavg()[0]:.2f}")


def bench_video_memory(args):
    from fer_au.samples import write_video

    work = Path(args.workdir or tempfile.mkdtemp(prefix="fer_au_vmem_"))
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores visible, load average {os.getloadavg()[0]:.2f}")
    peaks = {}
    for minutes in args.minutes:
        video = work / f"video_{minutes:g}min.mp4"
        if not video.exists():
            t = time.time()
            write_video(video, n_faces=2, seconds=60 * minutes, size=(640, 480), seed=7)
            print(f"wrote {video} ({video.stat().st_size / 1e6:.0f} MB) in {time.time() - t:.0f} s")
        csv = work / f"video_{minutes:g}min.csv"
        stats, summary = run_cli(["analyze", str(video), "-o", str(csv), "--every", str(args.every),
                                  "--detect-every", str(args.detect_every), "--no-progress", "-q"])
        peaks[minutes] = float(stats["peak_self_mb"])
        print(f"{minutes:g}-minute video: peak memory {stats['peak_self_mb']} MB, "
              f"{stats['process_wall']:.0f} s, CSV {csv.stat().st_size / 1e6:.1f} MB  [{summary}]")
    if len(peaks) >= 2:
        lo, hi = min(peaks), max(peaks)
        print(f"peak memory {hi:g} min vs {lo:g} min: {100 * (peaks[hi] / peaks[lo] - 1):+.1f}%")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("photos")
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--workdir", default=None)
    p.add_argument("--upsample", type=int, default=None,
                   help="analyze's --upsample (default: analyze's own: tiles for photos)")
    v = sub.add_parser("video-memory")
    v.add_argument("--minutes", type=float, nargs="+", default=[1, 10])
    v.add_argument("--every", type=int, default=1)
    v.add_argument("--detect-every", type=int, default=1)
    v.add_argument("--workdir", default=None)
    args = ap.parse_args()
    bench_photos(args) if args.what == "photos" else bench_video_memory(args)


if __name__ == "__main__":
    main()
