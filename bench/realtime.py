"""Realtime speed of the live pipeline, end to end, on generated 640x480 videos.

    python bench/realtime.py [--faces 1 4] [--seconds 12] [--detect-every 3] [--emotion-every 3]
                             [--detector blazeface|hog|haar] [--landmarks hybrid|mesh|dlib]

For each face count, writes a video of real faces (``fer_au.samples``) moving
across a 640x480 frame, then runs ``fer_au.live.run_live`` on it headless:
decode -> detection (every k-th frame; landmark following in between) ->
landmarks -> head pose -> AUs -> CNN (one batch per frame, each followed face every
``--emotion-every`` K-th frame as ``live`` does, default 3) -> AU-XGBoost -> overlay
drawing.  Only the window is left out (``--output`` adds writing the annotated video).  Prints frames per second and this process's peak memory.

It also runs the same video with detection and emotions on every frame and prints
how much the two k-frame shortcuts change the result (landmark distance in % of the
inter-ocular distance, agreement of the top emotion), so the speed-up can be
weighed against accuracy.
"""
import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # as cli.py analyze/live do

import numpy as np  # noqa: E402
from _data import cpu_model  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_once(video, analyzer, detect_every, output=None, keep=False, emotion_every=1, roll_tiles=True):
    """fps of run_live on ``video``; with keep=True also the faces of every frame."""
    from fer_au import live

    frames = []
    if keep:  # record what the stream produced, frame by frame
        orig = live.draw_overlay

        def spy(img, faces, *a, **k):
            frames.append([(f.face_id, f.landmarks.copy(), f.top_emotion) for f in faces])
            return orig(img, faces, *a, **k)
        live.draw_overlay = spy
    try:
        s = live.run_live(str(video), analyzer, display=False, output=output, detect_every=detect_every,
                          emotion_every=emotion_every, log=lambda *_: None, roll_tiles=roll_tiles)
    finally:
        if keep:
            live.draw_overlay = orig
    return s, frames


def compare(ref, fast):
    """Landmark error (% inter-ocular) and top-emotion agreement of ``fast`` vs ``ref``."""
    errs, agree, missing = [], [], 0
    for fr_ref, fr_fast in zip(ref, fast):
        for _, lm_r, top_r in fr_ref:
            c_r = lm_r.mean(0)
            best = min(fr_fast, key=lambda f: np.linalg.norm(f[1].mean(0) - c_r), default=None)
            if best is None or np.linalg.norm(best[1].mean(0) - c_r) > 30:
                missing += 1
                continue
            iod = np.linalg.norm(lm_r[36:42].mean(0) - lm_r[42:48].mean(0))
            errs.append(np.linalg.norm(best[1] - lm_r, axis=1).mean() / iod * 100)
            if top_r and best[2]:
                agree.append(top_r[0] == best[2][0])
    return (float(np.mean(errs)) if errs else float("nan"),
            float(np.mean(agree)) if agree else float("nan"), missing)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--seconds", type=float, default=12.0, help="length of each generated video")
    ap.add_argument("--detect-every", type=int, default=3, help="as `live --detect-every` (default 3)")
    ap.add_argument("--detector", default="blazeface", choices=["blazeface", "hog", "haar"])
    ap.add_argument("--emotion-every", type=int, default=None,
                    help="as `live --emotion-every` (default: live's default)")
    ap.add_argument("--landmarks", default="hybrid", choices=["hybrid", "mesh", "dlib"])
    ap.add_argument("--output", action="store_true", help="also write the annotated video")
    ap.add_argument("--no-compare", action="store_true", help="skip the detect-every-frame comparison")
    ap.add_argument("--workdir", default=None, help="where to put the generated videos (default: a temp dir)")
    ap.add_argument("--compare-roll", type=int, default=0, metavar="N",
                    help="also run N pairs without and with live's rolling tile (one tile of the "
                         "photo's grid with each detection), alternating, and print the fps ratio")
    args = ap.parse_args()
    if args.emotion_every is None:
        from fer_au.commands.live import EMOTION_EVERY_DEFAULT as default
        args.emotion_every = default
    ek = args.emotion_every

    from fer_au.analyzer import FaceAnalyzer
    from fer_au.samples import write_video

    work = Path(args.workdir or tempfile.mkdtemp(prefix="fer_au_rt_"))
    t0 = time.perf_counter()
    analyzer = FaceAnalyzer(detector=args.detector, landmarks=args.landmarks)
    print(f"CPU model: {cpu_model()}")
    print(f"models loaded in {time.perf_counter() - t0:.1f} s: detector {analyzer.detector_name}, "
          f"landmarks {analyzer.landmark_name}, "
          f"emotions {analyzer.emotion_name or '-'}, AU emotions {analyzer.au_emotion_name or '-'}")
    print(f"CPU: {os.cpu_count()} cores visible, load average {os.getloadavg()[0]:.2f} at start")
    for n in args.faces:
        video = work / f"faces{n}_640x480.mp4"
        if not video.exists():
            write_video(video, n_faces=n, seconds=args.seconds, size=(640, 480), seed=10 + n)
        out = work / f"annotated{n}.mp4" if args.output else None
        run_once(video, analyzer, args.detect_every, emotion_every=ek)   # warm-up (caches)
        s, fast = run_once(video, analyzer, args.detect_every, output=out, keep=not args.no_compare,
                           emotion_every=ek)
        per_frame = s.faces / max(s.frames, 1)
        print(f"{n} face(s), 640x480, detect every {args.detect_every}, emotions every {ek}: "
              f"{s.fps:6.1f} fps end to end "
              f"({s.frames} frames, {per_frame:.2f} faces/frame found, {s.seconds:.1f} s)"
              + (" incl. writing the annotated video" if out else ""))
        if not args.no_compare and (args.detect_every > 1 or ek > 1):
            s1, ref = run_once(video, analyzer, 1, keep=True)
            err, agree, missing = compare(ref, fast)
            print(f"    detection and emotions on every frame: {s1.fps:6.1f} fps; the shortcuts vs every frame: "
                  f"landmarks differ by {err:.2f}% of the inter-ocular distance, top emotion agrees "
                  f"on {agree * 100:.1f}% of faces, {missing} face(s) missed")
        if args.compare_roll:
            fps = {False: [], True: []}
            for _ in range(args.compare_roll):
                for roll in (False, True):
                    fps[roll].append(run_once(video, analyzer, args.detect_every, emotion_every=ek,
                                              roll_tiles=roll)[0].fps)
            off, on = np.median(fps[False]), np.median(fps[True])
            print(f"    rolling tile off / on, {args.compare_roll} alternating pairs: "
                  f"{' '.join(f'{v:.1f}' for v in fps[False])} / {' '.join(f'{v:.1f}' for v in fps[True])} fps, "
                  f"medians {off:.1f} / {on:.1f} ({on / off:.2f}x)")
    print(f"peak memory (this process): {peak_mb():.0f} MB;  load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
