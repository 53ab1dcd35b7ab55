"""Time loading the full FER2013: first parse (no cache) and cached reloads.

    python bench/data_load.py [--data PATH]
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fer_au.data import load_fer2013  # noqa: E402
from _data import fer2013_path  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    args = ap.parse_args()
    path = fer2013_path(args.data)
    with tempfile.TemporaryDirectory() as cache:
        t = time.perf_counter()
        ds = load_fer2013(path, cache_dir=cache)
        print(f"first load (parse + write cache): {time.perf_counter() - t:.2f} s, {len(ds)} images")
        times = []
        for _ in range(3):
            t = time.perf_counter()
            load_fer2013(path, cache_dir=cache)
            times.append(time.perf_counter() - t)
        print(f"cached load: best {min(times):.3f} s, worst {max(times):.3f} s (3 runs)")


if __name__ == "__main__":
    main()
