"""fer_au against the `fer` package (PyPI), end to end, on the same generated videos.

    python bench/peers.py [--faces 1 4] [--seconds 10] [--runs 3] [--venv DIR]

1. Makes (or reuses) a virtual environment for `fer` (default
   ``~/.cache/fer_au/peers-venv``, or ``$FER_AU_PEERS_VENV``).  fer's own pip
   dependencies pull facenet-pytorch and with it a CUDA torch that its default
   settings never import, so fer is installed ``--no-deps`` beside only what it
   imports: tensorflow-cpu, opencv-python, pandas, requests, Pillow, tqdm and
   setuptools (for ``pkg_resources``).  Its model files ship in its wheel.
2. Writes a 640x480 video of 1 and of 4 real faces moving (``fer_au.samples``,
   the same videos as ``bench/realtime.py``).
3. Runs, alternating and ``--runs`` times each, on each video:
   * fer_au: ``cli.py live --source VIDEO --no-display`` in this interpreter
     (``sys.executable``) with its default models and ``--detect-every 3``:
     detection, landmarks, head pose, AUs, CNN + AU emotions, overlay drawn,
     nothing written.  Its fps is the one ``live`` prints: frames over the
     seconds of its frame loop.
   * fer: ``fer.Video(VIDEO).analyze(fer.FER(), ...)`` in the peers venv, fer's
     normal way of analysing a video, with fer's default detector settings
     (OpenCV Haar cascade, scale 1.1, 5 neighbours, faces >= 50 px) and default
     model (the quantised TFLite mini-Xception), labels drawn on every frame
     (``annotate_frames=True``) but, like ``live --no-display``, nothing saved
     (``save_frames=False, save_video=False``; fer's defaults would also write a
     JPEG per frame, a zip of them and an annotated video).  Its fps is frames
     over the seconds of the ``analyze()`` call (which opens the video, runs the
     loop and builds the result table).
   Start-up (Python imports, model loading) is excluded for both; any lazy
   first-inference cost is included for both.  Each tool keeps its own thread
   settings (fer_au's `live` pins BLAS to one thread; fer uses TensorFlow's
   defaults).
4. Prints each run's fps, the median per tool and video, the ratio
   fer_au/fer, and the CPU model.  Absolute fps depend on the CPU and on what
   else runs; the ratio travels better.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import cpu_model  # noqa: E402

FER_VERSION = "25.10.3"
# What `import fer; fer.FER(); fer.Video(...).analyze(...)` imports with fer's default
# settings (found by importing): fer.py (cv2, numpy, pkg_resources, requests,
# tensorflow), utils.py (PIL), classes.py (pandas, tqdm).  opencv-python instead of the
# opencv-contrib-python fer asks for: the cascade and cv2.data ship in both.
# tf.lite.Interpreter, which fer calls, is deprecated in TensorFlow in favour of
# LiteRT, hence the upper bound; pkg_resources left setuptools in v81.
FER_DEPS = ("tensorflow-cpu>=2.12,<2.22", "opencv-python<5", "pandas", "requests", "Pillow",
            "tqdm", "setuptools<81")
VIDEO_SIZE = (640, 480)
VIDEO_FPS = 25.0


def default_venv() -> Path:
    env = os.environ.get("FER_AU_PEERS_VENV")
    if env:
        return Path(env)
    return Path(os.environ.get("FER_AU_CACHE", Path.home() / ".cache" / "fer_au")) / "peers-venv"


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def install_commands(venv: Path, fer_version: str = FER_VERSION) -> list[list[str]]:
    """The commands that build the peers venv (no CUDA torch: fer goes in --no-deps)."""
    py = str(venv_python(venv))
    return [[sys.executable, "-m", "venv", str(venv)],
            [py, "-m", "pip", "install", "--quiet", *FER_DEPS],
            [py, "-m", "pip", "install", "--quiet", "--no-deps", f"fer=={fer_version}"]]


CHECK = ("import os, warnings; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '2'; warnings.simplefilter('ignore');"
         "import fer, fer.fer, fer.classes, tensorflow as tf, cv2; "
         "print(fer.__version__, tf.__version__, cv2.__version__)")


def ensure_venv(venv: Path, fer_version: str = FER_VERSION, log=print) -> str:
    """Build the peers venv unless a working one is there; returns 'fer X, TF Y, OpenCV Z'."""
    py = venv_python(venv)
    if py.exists():
        r = subprocess.run([str(py), "-c", CHECK], capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.split()[:1] == [fer_version]:
            log(f"peers venv: reusing {venv}")
            return _versions(r.stdout)
        log(f"peers venv: {venv} is incomplete or has another fer; installing into it")
    t = time.perf_counter()
    for cmd in install_commands(venv, fer_version):
        if cmd[1:3] == ["-m", "venv"] and py.exists():
            continue
        log("  $ " + " ".join(cmd))
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{(r.stdout + r.stderr)[-3000:]}")
    r = subprocess.run([str(py), "-c", CHECK], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"fer does not import in {venv}:\n{r.stderr[-2000:]}")
    log(f"peers venv: built {venv} in {time.perf_counter() - t:.0f} s")
    return _versions(r.stdout)


def _versions(out: str) -> str:
    fer_v, tf_v, cv_v = out.split()[:3]
    return f"fer {fer_v}, TensorFlow {tf_v}, OpenCV {cv_v}"


def make_videos(workdir: Path, faces=(1, 4), seconds: float = 10.0) -> dict[int, Path]:
    """640x480 videos of ``n`` moving faces (seeds as bench/realtime.py), reused when present."""
    from fer_au.samples import write_video

    videos = {}
    for n in faces:
        path = Path(workdir) / f"faces{n}_{VIDEO_SIZE[0]}x{VIDEO_SIZE[1]}_{seconds:g}s.mp4"
        if not path.exists():
            write_video(path, n_faces=n, seconds=seconds, fps=VIDEO_FPS, size=VIDEO_SIZE, seed=10 + n)
        videos[n] = path
    return videos


LIVE_LINE = re.compile(r"(\d+) frame\(s\), (\d+) face detection\(s\), \d+ face id\(s\), "
                       r"([\d.]+) fps over ([\d.]+) s")


def parse_live(stdout: str) -> dict:
    """frames, faces, fps and loop seconds from `live`'s summary line."""
    m = LIVE_LINE.search(stdout)
    if m is None:
        raise RuntimeError(f"no summary line in `live`'s output:\n{stdout[-1000:]}")
    frames, faces, fps, secs = int(m[1]), int(m[2]), float(m[3]), float(m[4])
    return {"frames": frames, "faces": faces, "fps": fps, "seconds": secs}


def run_fer_au(video: Path, detect_every: int = 3) -> dict:
    cmd = [sys.executable, str(REPO / "cli.py"), "live", "--source", str(video), "--no-display",
           "--detect-every", str(detect_every)]
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO,
                       env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise RuntimeError(f"fer_au live failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return {**parse_live(r.stdout), "wall": wall}


# Runs in the peers venv: fer's normal video analysis, timed around Video.analyze().
FER_RUNNER = r'''
import json, logging, os, sys, tempfile, time, warnings
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TQDM_DISABLE", "1")
warnings.simplefilter("ignore")
try:
    from fer import FER, Video      # as fer's README writes it
except ImportError:                 # fer 25.10.3's __init__ exports neither
    from fer.fer import FER
    from fer.classes import Video

detector = FER()        # fer's defaults: Haar cascade, quantised TFLite mini-Xception
logging.getLogger("fer").setLevel(logging.WARNING)
counts = []
detect = detector.detect_emotions
def counting(img, *a, **k):
    faces = detect(img, *a, **k)
    counts.append(len(faces))
    return faces
detector.detect_emotions = counting
out = tempfile.mkdtemp(prefix="fer_peers_")
video = Video(sys.argv[1], outdir=out)
t = time.perf_counter()
video.analyze(detector, display=False, output="pandas", save_frames=False, save_video=False,
              annotate_frames=True, zip_images=False)
seconds = time.perf_counter() - t
print("RESULT " + json.dumps({"frames": len(counts), "faces": sum(counts), "seconds": seconds,
                              "fps": len(counts) / seconds if seconds > 0 else 0.0}))
'''


def run_fer(video: Path, python: str) -> dict:
    t = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fer_peers_") as cwd:   # fer may write data.csv in cwd
        r = subprocess.run([python, "-c", FER_RUNNER, str(video)], capture_output=True, text=True, cwd=cwd)
    wall = time.perf_counter() - t
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if r.returncode != 0 or line is None:
        raise RuntimeError(f"fer failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return {**json.loads(line[len("RESULT "):]), "wall": wall}


def schedule(faces, runs: int) -> list[tuple[int, int, str]]:
    """(run, faces, tool) in the order they run: tools alternate, and which goes first
    alternates from run to run, so drifting background load hits both alike."""
    order = []
    for r in range(runs):
        tools = ("fer_au", "fer") if r % 2 == 0 else ("fer", "fer_au")
        for n in faces:
            order += [(r, n, tool) for tool in tools]
    return order


def summarise(results: dict) -> dict:
    """{faces: {tool: [run dicts]}} -> {faces: {"fer_au": median fps, "fer": ..., "ratio": ...}}."""
    out = {}
    for n, by_tool in results.items():
        med = {tool: statistics.median(r["fps"] for r in runs) for tool, runs in by_tool.items() if runs}
        if "fer_au" in med and "fer" in med:
            med["ratio"] = med["fer_au"] / med["fer"] if med["fer"] > 0 else float("nan")
        out[n] = med
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", type=int, nargs="+", default=[1, 4], help="faces per video (default 1 4)")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each video (default 10, at 25 fps)")
    ap.add_argument("--runs", type=int, default=3, help="runs per tool and video (default 3)")
    ap.add_argument("--detect-every", type=int, default=3, help="fer_au live --detect-every (default 3, as live)")
    ap.add_argument("--venv", type=Path, default=None,
                    help="the peers venv (default $FER_AU_PEERS_VENV or ~/.cache/fer_au/peers-venv); "
                         "built when missing, reused when it works")
    ap.add_argument("--fer-version", default=FER_VERSION, help=f"fer version from PyPI (default {FER_VERSION})")
    ap.add_argument("--workdir", type=Path, default=None, help="where the videos go (default: a temp dir)")
    ap.add_argument("--json", type=Path, default=None, help="also write every run's figures here")
    args = ap.parse_args(argv)

    venv = args.venv or default_venv()
    versions = ensure_venv(venv, args.fer_version)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="fer_au_peers_"))
    videos = make_videos(work, args.faces, args.seconds)

    print(f"CPU model: {cpu_model()}; {os.cpu_count()} cores visible; load average "
          f"{os.getloadavg()[0]:.2f} at start")
    from fer_au.zoo import default_models_dir
    print(f"peers: {versions} (in {venv})")
    print(f"fer_au: {REPO / 'cli.py'} live, models from {default_models_dir()}, in {sys.executable}")
    print(f"videos: {', '.join(f'{n} face(s)' for n in args.faces)}, {VIDEO_SIZE[0]}x{VIDEO_SIZE[1]}, "
          f"{args.seconds:g} s at {VIDEO_FPS:g} fps, in {work}")
    print("fps = frames / seconds of the analysis loop; start-up (imports, model loading) excluded for both")
    results = {n: {"fer_au": [], "fer": []} for n in args.faces}
    for r, n, tool in schedule(args.faces, args.runs):
        res = run_fer_au(videos[n], args.detect_every) if tool == "fer_au" else run_fer(videos[n], str(venv_python(venv)))
        results[n][tool].append(res)
        print(f"  run {r + 1}, {n} face(s), {tool:<6}: {res['fps']:6.1f} fps  ({res['frames']} frames, "
              f"{res['faces'] / max(res['frames'], 1):.2f} faces/frame found, loop {res['seconds']:.1f} s, "
              f"whole command {res['wall']:.1f} s)", flush=True)
    summary = summarise(results)
    for n, s in summary.items():
        print(f"{n} face(s): fer_au {s['fer_au']:.1f} fps, fer {s['fer']:.1f} fps (medians of {args.runs}); "
              f"fer_au/fer = {s['ratio']:.2f}")
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu_model(), "versions": versions, "results": results,
                                         "summary": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
