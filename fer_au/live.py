"""The realtime loop behind ``python cli.py live``, and the overlay it draws.

For every frame of a webcam, video file or stream: analyse the faces
(:class:`~fer_au.stream.FaceStream`: persistent ids, detection every k-th
frame with landmark following in between, optional emotion smoothing), draw
each face's box and id, top emotion with probability bars and strongest AUs,
plus an FPS counter; show it in a window (q or Esc quits, s saves a
snapshot), and/or write an annotated video and the same CSV rows as
``analyze``.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .labels import FER7
from .media import FrameClock, MediaError, open_video, video_info

WINDOW = "fer_au live"

# One BGR colour per track id (cycled), distinct on dark and light backgrounds.
PALETTE = [(255, 191, 0), (0, 200, 255), (80, 220, 100), (255, 80, 200), (60, 120, 255),
           (255, 255, 80), (200, 130, 255), (0, 255, 170)]
EMOTION_COLORS = {"anger": (40, 40, 230), "disgust": (40, 140, 60), "fear": (170, 60, 170),
                  "happiness": (40, 200, 250), "sadness": (200, 120, 40), "surprise": (230, 200, 60),
                  "neutral": (190, 190, 190)}


# ---------------------------------------------------------------- overlay
def _panel(img, x0, y0, x1, y1, alpha=0.55):
    """Darken a rectangle (clipped to the image) so that text on it reads."""
    h, w = img.shape[:2]
    x0, y0, x1, y1 = max(0, int(x0)), max(0, int(y0)), min(w, int(x1)), min(h, int(y1))
    if x1 <= x0 or y1 <= y0:
        return
    roi = img[y0:y1, x0:x1]
    roi[:] = (roi.astype(np.uint16) * int(255 * (1 - alpha)) // 255).astype(np.uint8)


def _text(img, s, org, scale=0.45, color=(255, 255, 255), thick=1):
    import cv2
    cv2.putText(img, s, (int(org[0]), int(org[1])), cv2.FONT_HERSHEY_SIMPLEX, scale, color, thick, cv2.LINE_AA)


def _overlap(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return float(ix * iy)


def _place(size, box, img_shape, avoid):
    """Where to put a (pw, ph) panel next to ``box``: right, left, below or above it,
    the first spot inside the image that covers no other face or panel (else the
    least-covering one).  Returns (x0, y0, x1, y1)."""
    pw, ph = size
    h, w = img_shape[:2]
    x, y, bw, bh = box
    cands = [(x + bw + 6, y), (x - pw - 6, y), (x, y + bh + 6), (x, y - ph - 30)]
    best, best_cost = None, None
    for cx, cy in cands:
        cx = int(min(max(cx, 0), max(0, w - pw)))
        cy = int(min(max(cy, 0), max(0, h - ph)))
        r = (cx, cy, cx + pw, cy + ph)
        cost = sum(_overlap(r, a) for a in avoid) + 0.5 * _overlap(r, (x, y, x + bw, y + bh))
        if best_cost is None or cost < best_cost:
            best, best_cost = r, cost
        if cost == 0:
            break
    return best


def draw_face(img, face, au_names: dict | None = None, n_aus: int = 3, avoid=()) -> tuple | None:
    """Draw one face's box, id, emotion bars and strongest AUs onto ``img`` (BGR, in
    place), keeping its panel off the rectangles in ``avoid``; returns the panel's
    rectangle (x0, y0, x1, y1) or None."""
    import cv2

    x, y, bw, bh = [int(v) for v in face.box]
    fid = face.face_id if face.face_id is not None else 0
    color = PALETTE[int(fid) % len(PALETTE)]
    cv2.rectangle(img, (x, y), (x + bw, y + bh), color, 2, cv2.LINE_AA)

    top = face.top_emotion
    title = f"#{fid}" + (f" {top[0]} {top[1] * 100:.0f}%" if top else "")
    (tw, th), _ = cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX, 0.55, 1)
    ty = y - 8 if y - th - 12 >= 0 else y + bh + th + 8
    cv2.rectangle(img, (x, ty - th - 5), (x + tw + 8, ty + 5), color, -1)
    _text(img, title, (x + 4, ty), 0.55, (0, 0, 0), 1)

    # Side panel: 7 probability bars, then the strongest AUs.
    probs = face.emotions or face.au_emotions
    aus = face.strongest_aus(n_aus) if face.aus else []
    if not probs and not aus:
        return None
    row, bar_w, label_w = 13, 60, 68
    pw = label_w + bar_w + 40
    au_lines = [f"{c} {(au_names or {}).get(c, '')}".strip() + f" {v:.1f}" for c, v in aus]
    if au_lines:
        pw = max(pw, max(cv2.getTextSize(s, cv2.FONT_HERSHEY_SIMPLEX, 0.38, 1)[0][0] for s in au_lines) + 10)
    ph = (len(FER7) * row if probs else 0) + (len(au_lines) * row + (5 if probs else 0)) + 8
    px, py, px1, py1 = _place((pw, ph), (x, y, bw, bh), img.shape, avoid)
    _panel(img, px, py, px1, py1)
    cv2.rectangle(img, (px, py), (px1 - 1, py1 - 1), color, 1)
    cy = py + 3
    if probs:
        for name in FER7:
            p = float(probs.get(name, 0.0))
            cy += row
            _text(img, name[:9], (px + 4, cy - 3), 0.38)
            bx = px + label_w
            cv2.rectangle(img, (bx, cy - row + 3), (bx + int(round(bar_w * p)), cy - 2),
                          EMOTION_COLORS.get(name, (200, 200, 200)), -1)
            cv2.rectangle(img, (bx, cy - row + 3), (bx + bar_w, cy - 2), (120, 120, 120), 1)
            _text(img, f"{p * 100:3.0f}%", (bx + bar_w + 4, cy - 3), 0.38)
        cy += 5
    for s in au_lines:
        cy += row
        _text(img, s, (px + 4, cy - 3), 0.38, (180, 255, 180))
    return (px, py, px1, py1)


def draw_overlay(img, faces, fps: float | None = None, au_names: dict | None = None,
                 hint: str | None = "q quit  s snapshot") -> np.ndarray:
    """Annotate a BGR frame in place (and return it)."""
    boxes = [(int(f.box[0]), int(f.box[1]) - 22, int(f.box[0] + f.box[2]), int(f.box[1] + f.box[3]))
             for f in faces]
    h = img.shape[0]
    placed = [(0, 0, 200, 26), (0, h - 22, 160, h)]
    for i, f in enumerate(faces):
        r = draw_face(img, f, au_names, avoid=placed + boxes[:i] + boxes[i + 1:])
        if r is not None:
            placed.append(r)
    status = (f"FPS {fps:5.1f}   " if fps is not None else "") + f"faces {len(faces)}"
    _panel(img, 0, 0, 16 + 9 * len(status), 26)
    _text(img, status, (6, 18), 0.55, (255, 255, 255), 1)
    if hint:
        _panel(img, 0, h - 22, 10 + 8 * len(hint), h)
        _text(img, hint, (6, h - 7), 0.45, (220, 220, 220))
    return img


# ---------------------------------------------------------------- loop
@dataclass
class LiveSummary:
    frames: int = 0
    faces: int = 0
    seconds: float = 0.0
    snapshots: list = field(default_factory=list)
    output: str | None = None
    csv: str | None = None
    ids: set = field(default_factory=set)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (f"{self.frames} frame(s), {self.faces} face detection(s), {len(self.ids)} face id(s), "
                f"{self.fps:.1f} fps over {self.seconds:.1f} s")


def display_available() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def parse_source(source):
    """'0' -> camera 0; anything else stays a path or URL."""
    if isinstance(source, int):
        return source
    s = str(source)
    return int(s) if s.isdigit() else s


def _check_output(output) -> None:
    """One line now, instead of a failed writer after the first frame."""
    out = Path(output)
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise MediaError(f"{output}: cannot write the video there, the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise MediaError(f"{output}: cannot write the video there, the folder {folder} is not writable")
    if out.suffix.lower() not in (".mp4", ".avi", ".mov", ".mkv", ".m4v"):
        raise MediaError(f"{output}: give the annotated video a .mp4 or .avi name")


def run_live(source, analyzer, *, display: bool = True, output=None, csv=None, smooth: float = 0.0,
             detect_every: int = 3, au_baseline: str = "population", max_frames: int | None = None,
             emotion_every: int = 1,
             snapshot_dir=".",
             realtime: bool | None = None, log=print, roll_tiles: bool = True) -> LiveSummary:
    """Run the live loop until the source ends, q/Esc is pressed, or ``max_frames``.
    ``roll_tiles``: each detection also searches one tile of the photo's grid, in turn
    (``FaceStream``; none where the analyzer's ``upsample`` was given).

    Raises :class:`MediaError` (one line) for a source, output or display that
    cannot be opened.
    """
    import cv2

    from .stream import FaceStream
    from .output import CSVWriter, rows_for

    try:
        from .aus import AU_NAMES
    except ImportError:  # pragma: no cover
        AU_NAMES = {}

    if display and not display_available():
        raise MediaError("no display to show the window on (DISPLAY is not set); "
                         "use --no-display (with --output/--csv) to run headless")
    if output:      # fail before the first frame, not after it
        _check_output(output)
    src = parse_source(source)
    cap = open_video(src)
    if isinstance(src, int):
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)   # a camera: show the newest frame, not a backlog
    info = video_info(cap, src)
    is_file = isinstance(src, str) and "://" not in src
    fps_src = info.fps or 0.0
    if realtime is None:
        realtime = display and is_file  # play files at their own speed when watching them
    source_name = f"camera:{src}" if isinstance(src, int) else str(src)

    stream = FaceStream(analyzer, detect_every=detect_every, smooth=smooth, au_baseline=au_baseline,
                        emotion_every=emotion_every, roll_tiles=roll_tiles)
    models = analyzer.model_names()
    clock = FrameClock(fps_src) if is_file else None   # a file's own times; else the wall clock
    warned = False
    writer = None
    table = None
    summary = LiveSummary(output=str(output) if output else None, csv=str(csv) if csv else None)
    try:
        if csv:
            table = CSVWriter(csv, analyzer.columns())
        if display:
            cv2.namedWindow(WINDOW, cv2.WINDOW_AUTOSIZE)
        t_start = time.perf_counter()
        t_prev = t_start
        fps_ema = None
        frame_index = 0
        while max_frames is None or summary.frames < max_frames:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            t_frame = time.perf_counter()
            faces = stream.process(frame)
            approx = clock(cap, frame_index) if clock is not None else t_frame - t_start
            warning = clock.fallback if clock is not None else ""
            if warning and not warned:
                warned = True
                log(f"warning: {source_name}: {warning}")
            if table is not None:
                table.write_rows(rows_for(source_name, faces, frame=frame_index, approx_time=approx,
                                          models=models, warning=warning))
            draw_overlay(frame, faces, fps_ema, AU_NAMES,
                         hint="q quit  s snapshot" if display else None)
            if output:
                if writer is None:
                    h, w = frame.shape[:2]
                    writer = cv2.VideoWriter(str(output), cv2.VideoWriter_fourcc(*"mp4v"),
                                             fps_src or 25.0, (w, h))
                    if not writer.isOpened():
                        raise MediaError(f"{output}: cannot write a video there (check the folder "
                                         "and use a .mp4 or .avi name)")
                writer.write(frame)
            summary.frames += 1
            summary.faces += len(faces)
            summary.ids.update(f.face_id for f in faces)
            frame_index += 1
            if display:
                cv2.imshow(WINDOW, frame)
                wait = 1
                if realtime and fps_src:
                    spare = (1.0 / fps_src) - (time.perf_counter() - t_prev)
                    wait = max(1, int(spare * 1000))
                key = cv2.waitKey(wait) & 0xFF
                if key in (ord("q"), ord("Q"), 27):
                    break
                if key in (ord("s"), ord("S")):
                    Path(snapshot_dir).mkdir(parents=True, exist_ok=True)
                    snap = Path(snapshot_dir) / f"fer_au-snapshot-{time.strftime('%Y%m%d-%H%M%S')}-{frame_index:06d}.png"
                    cv2.imwrite(str(snap), frame)
                    summary.snapshots.append(str(snap))
                    log(f"snapshot: {snap}")
                if cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:
                    break  # window closed with the mouse
            now = time.perf_counter()
            dt = now - t_prev
            t_prev = now
            if dt > 0:
                fps_ema = 1.0 / dt if fps_ema is None else 0.9 * fps_ema + 0.1 / dt
        summary.seconds = time.perf_counter() - t_start
    except KeyboardInterrupt:
        summary.seconds = time.perf_counter() - t_start if "t_start" in locals() else 0.0
    finally:
        cap.release()
        if writer is not None:
            writer.release()
        if table is not None:
            table.close()
        if display:
            try:
                cv2.destroyWindow(WINDOW)
                cv2.waitKey(1)
            except cv2.error:
                pass
    return summary
