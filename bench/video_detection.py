"""Faces found in video frames: bench/detection.py's composites as short panning clips.

    python bench/video_detection.py [--canvas 1920x1080] [--n-per-condition 4] [--frames 20]
                                    [--sweeps 0,10] [--seed 0] [--json PATH]

Each composite of bench/detection.py (real faces pasted at 24-400 px on real scenes
under its 15 conditions, built at --canvas) becomes a clip of --frames frames in which
the camera pans 2 px a frame to the right and 1 px down (the faces' boxes move with it).
Every clip runs through ``FaceStream`` as ``analyze`` runs a video (detection on every
frame, faces followed by their landmarks), once per --sweeps value: 0 is the whole-frame
pass alone, k > 0 adds a search with the photo's tiles every k-th frame whose faces are
followed until the next one (``FaceStream(sweep_every=k)``; ``analyze`` uses
``stream.sweep_period``); "live" runs it as ``live`` did until session 16 (detection every
3rd frame, whole frame), "roll" as ``live`` does now (each detection also searches one
tile of that grid in turn: ``FaceStream(roll_tiles=True)``).  Printed: recall over all
frames (a face counts once per frame it is found in), false positives per frame, both per
condition, and ms per frame (landmarks and mesh included; no AUs or emotions).  Needs FER2013 for its faces as
bench/detection.py does (the two photo faces alone with --no-fer).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import detection as D  # noqa: E402
from _data import cpu_model  # noqa: E402

PAN = (2.0, 1.0)     # px per frame (x, y)


def clip(image: np.ndarray, boxes, frames: int):
    """(frame, its boxes) for each of ``frames`` frames of a slow pan over ``image``."""
    h, w = image.shape[:2]
    for k in range(frames):
        dx, dy = -PAN[0] * k, -PAN[1] * k
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        frame = cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT)
        yield frame, [(x + dx, y + dy, bw, bh) for x, y, bw, bh in boxes]


def make_stream(analyzer, mode: str):
    """``mode``: "K" (``analyze``: detection every frame, a sweep every K-th; 0 none),
    "live" (detection every 3rd frame, no sweep) or "roll" (``live``'s: one tile of the
    sweep's grid with each detection, in turn)."""
    from fer_au.stream import FaceStream
    if mode == "live":
        return FaceStream(analyzer, detect_every=3)
    if mode == "roll":
        return FaceStream(analyzer, detect_every=3, roll_tiles=True)
    return FaceStream(analyzer, detect_every=1, sweep_every=int(mode))


def run_clips(records, mode: str, frames: int, analyzer) -> dict:
    per = {}
    ms = []
    for rec in records:
        stream = make_stream(analyzer, mode)
        t = per.setdefault(rec.condition, {"faces": 0, "found": 0, "fp": 0, "frames": 0})
        for frame, boxes in clip(rec.image, rec.boxes, frames):
            t0 = time.perf_counter()
            faces = stream.process(frame)
            ms.append((time.perf_counter() - t0) * 1000)
            found, matched = D.match(boxes, [tuple(float(v) for v in f.box) for f in faces])
            t["faces"] += len(boxes)
            t["found"] += int(sum(found))
            t["fp"] += matched.count(False)
            t["frames"] += 1
    return {"conditions": per, "ms_median": float(np.median(ms)), "ms_mean": float(np.mean(ms))}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--canvas", default="1920x1080", metavar="WxH")
    ap.add_argument("--n-per-condition", type=int, default=4)
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--sweeps", default="0,10", help="comma-separated FaceStream sweep_every values, or "
                    "'live' (detection every 3rd frame) and 'roll' (the same with live's rolling tile)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-fer", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    D.W, D.H = (int(v) for v in args.canvas.lower().split("x"))
    sweeps = [v.strip() for v in args.sweeps.split(",")]
    command = "python bench/video_detection.py" + "".join(f" {a}" for a in sys.argv[1:])
    print(f"$ {command}\nCPU: {cpu_model()}, {os.cpu_count()} cores visible")

    fer = None
    if not args.no_fer:
        from fer_au.data import find_data, load_fer2013
        path = find_data()
        fer = load_fer2013(path) if path else None
    records = [r for r in D.build_dataset(args.n_per_condition, args.seed, fer, real=False)]
    from fer_au import FaceAnalyzer
    analyzer = FaceAnalyzer(emotion_model=None, au_model=None, aus=False, min_face=1)
    print(f"{len(records)} clips of {args.frames} frames, {args.canvas}, seed {args.seed}")

    results = {}
    for sweep in sweeps:
        t0 = time.perf_counter()
        results[sweep] = run_clips(records, sweep, args.frames, analyzer)
        print(f"{sweep}: {time.perf_counter() - t0:.0f} s", flush=True)

    labels = [s if not s.isdigit() else f"sweep {s}" if int(s) else "whole frame" for s in sweeps]
    print("\nrecall over all frames (found / faces), false positives per frame")
    print(f"{'condition':<16}" + "".join(f"| {lab:<22}" for lab in labels))
    conds = list(D.CONDITIONS) + ["all"]
    for c in conds:
        cells = []
        for s in sweeps:
            per = results[s]["conditions"]
            t = per[c] if c != "all" else {k: sum(v[k] for v in per.values()) for k in ("faces", "found", "fp", "frames")}
            rec = f"{100 * t['found'] / t['faces']:5.1f}%" if t["faces"] else "    - "
            cells.append(f"| {rec} {t['found']:>5}/{t['faces']:<5} {t['fp'] / t['frames']:.2f} ")
        print(f"{c:<16}" + "".join(f"{x:<24}" for x in cells))
    print("\nms per frame (median, mean): " + ", ".join(
        f"{lab} {results[s]['ms_median']:.1f} / {results[s]['ms_mean']:.1f}" for lab, s in zip(labels, sweeps)))
    if args.json:
        Path(args.json).write_text(json.dumps({"command": command, "cpu": cpu_model(), "results": results}, indent=1))


if __name__ == "__main__":
    main()
