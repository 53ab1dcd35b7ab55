"""Reading media: images from paths, numpy arrays and PIL images; videos frame by frame.

Everything the analyzer sees is normalised here to one shape: an 8-bit BGR
image (H, W, 3), OpenCV's convention, plus its grey version.

* paths are decoded with Pillow, which honours the EXIF orientation tag and
  refuses truncated or corrupt files (OpenCV would hand back half an image
  with a warning on stderr);
* numpy arrays may be grey (H, W) or (H, W, 1), 3-channel or 4-channel
  (alpha is dropped), 8-bit, 16-bit (scaled by 1/257) or float (0..1, or
  0..255 when the values exceed 1).  Arrays carry no colour order, so the
  caller says which (``color="bgr"``, OpenCV's, is the default;
  ``skimage``/``imageio``/``matplotlib`` arrays are ``"rgb"``);
* PIL images are converted from whatever mode they are in.

Videos are read with OpenCV one frame at a time (constant memory whatever the
length); ``every=N`` keeps every N-th frame and only *grabs* the others.
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp",
                  ".pgm", ".ppm", ".pbm", ".jp2", ".jfif"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg",
                  ".wmv", ".flv", ".3gp", ".ts", ".mts", ".ogv"}


class MediaError(ValueError):
    """An input cannot be read: the message is one line that says which and why."""


# ---------------------------------------------------------------- images
def _from_pil(img) -> np.ndarray:
    """A PIL image (any mode) -> uint8 BGR (H, W, 3)."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img)
        if img.mode == "F":
            return to_bgr(arr.astype(np.float32), color="gray")
        arr = arr.astype(np.float64)
        # 16-bit greys (PNG, TIFF) -> 8 bit; 32-bit ints are treated the same when they fit.
        hi = 65535.0 if arr.max(initial=0) > 255 or img.mode.startswith("I;16") else 255.0
        return np.clip(arr * (255.0 / hi) + 0.5, 0, 255).astype(np.uint8)[..., None].repeat(3, -1)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        # Composite transparent pixels onto white, as viewers show them.
        bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, img)
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.ascontiguousarray(np.asarray(img)[..., ::-1])


def read_image(path) -> np.ndarray:
    """Decode an image file into uint8 BGR (H, W, 3), EXIF orientation applied.

    Raises :class:`MediaError` (one line) for a missing, unreadable, corrupt,
    truncated or non-image file.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise MediaError(f"{path}: no such file")
    if path.is_dir():
        raise MediaError(f"{path}: is a folder, not an image")
    try:
        with Image.open(path) as img:
            img.load()  # decodes everything now: truncation and corruption surface here
            img = ImageOps.exif_transpose(img)
            return _from_pil(img)
    except UnidentifiedImageError:
        raise MediaError(f"{path}: not an image (unknown or corrupt format)") from None
    except Image.DecompressionBombError as exc:
        raise MediaError(f"{path}: refused, image too large ({exc})") from None
    except PermissionError:
        raise MediaError(f"{path}: permission denied") from None
    except (OSError, SyntaxError, ValueError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "truncated" in msg.lower():
            raise MediaError(f"{path}: truncated image ({msg})") from None
        raise MediaError(f"{path}: corrupt or unreadable image ({msg})") from None


def to_bgr(image, color: str = "bgr") -> np.ndarray:
    """Normalise a numpy array or PIL image to contiguous uint8 BGR (H, W, 3).

    ``color`` says how a 3- or 4-channel *array* is ordered: "bgr" (OpenCV,
    the default) or "rgb" (skimage, imageio, matplotlib, PIL via np.asarray).
    Grey arrays ignore it.  PIL images know their own mode.
    """
    try:
        from PIL import Image
        if isinstance(image, Image.Image):
            from PIL import ImageOps
            return _from_pil(ImageOps.exif_transpose(image))
    except ImportError:  # pragma: no cover - pillow is a dependency
        pass
    if isinstance(image, (str, os.PathLike)):
        return read_image(image)
    arr = np.asarray(image)
    if arr.dtype == object or arr.size == 0:
        raise MediaError(f"cannot read an image from an array of dtype {arr.dtype} and shape {arr.shape}")
    if color not in ("bgr", "rgb", "gray"):
        raise ValueError(f"color must be 'bgr' or 'rgb', not {color!r}")

    # depth -> uint8
    if arr.dtype == np.uint8:
        pass
    elif arr.dtype == np.uint16:
        arr = ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    elif arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.floating):
        finite = arr[np.isfinite(arr)]
        scale = 255.0 if finite.size == 0 or finite.max() <= 1.0 else 1.0
        arr = np.clip(np.nan_to_num(arr.astype(np.float32)) * scale + 0.5, 0, 255).astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.integer):
        hi = arr.max(initial=0)
        arr = (arr.astype(np.float64) * (255.0 / 65535.0) if hi > 255 else arr)
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    else:
        raise MediaError(f"unsupported image dtype {arr.dtype}")

    # channels -> 3, BGR
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        return np.ascontiguousarray(np.repeat(arr[..., None], 3, axis=2))
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise MediaError(f"an image array must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); "
                         f"got shape {arr.shape}")
    if arr.shape[2] == 4:
        alpha = arr[..., 3:4].astype(np.uint16)
        arr = ((arr[..., :3].astype(np.uint16) * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)
    if color == "rgb":
        arr = arr[..., ::-1]
    return np.ascontiguousarray(arr)


def to_gray(bgr: np.ndarray) -> np.ndarray:
    import cv2

    if bgr.ndim == 2:
        return bgr
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


# ---------------------------------------------------------------- videos
@dataclass
class VideoInfo:
    path: str
    fps: float
    frame_count: int      # as the container reports it (may be 0 or approximate)
    width: int
    height: int


@contextlib.contextmanager
def _quiet_stderr():
    """Silence what OpenCV and FFmpeg print on stderr while a capture opens (their
    multi-line warnings would bury the one-line error this module raises)."""
    import cv2

    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, ValueError, OSError):
        fd = None
    saved = None
    try:
        if fd is not None:
            sys.stderr.flush()
            saved = os.dup(fd)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)
        yield
    finally:
        if saved is not None:
            os.dup2(saved, fd)
            os.close(saved)
        cv2.utils.logging.setLogLevel(level)


def _capture(src):
    import cv2
    with _quiet_stderr():
        return cv2.VideoCapture(src)


def open_video(source):
    """Open a video file, camera index or stream URL with OpenCV; MediaError if it fails."""
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        index = int(source)
        cap = _capture(index)
        if not cap.isOpened():
            cap.release()
            raise MediaError(f"camera {index}: cannot be opened (no camera attached, or it is in use); "
                             "pass a video file or stream URL with --source")
        return cap
    src = str(source)
    is_url = "://" in src
    if not is_url:
        p = Path(src)
        if not p.exists():
            raise MediaError(f"{src}: no such file")
        if p.is_dir():
            raise MediaError(f"{src}: is a folder, not a video")
    cap = _capture(src)
    if not cap.isOpened():
        cap.release()
        what = "stream" if is_url else "video"
        raise MediaError(f"{src}: cannot open the {what} (unsupported, corrupt or unreachable)")
    return cap


def video_info(cap, path="") -> VideoInfo:
    import cv2

    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    if not np.isfinite(fps) or fps <= 0 or fps > 1000:
        fps = 0.0
    return VideoInfo(str(path), float(fps), int(max(cap.get(cv2.CAP_PROP_FRAME_COUNT), 0)),
                     int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))


def iter_video(path, every: int = 1, start: int = 0, info_out: list | None = None
               ) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield ``(frame_index, approx_time_s, bgr)`` for every ``every``-th frame.

    One frame is held at a time.  ``start`` skips the frames before it (used by
    --resume).  Raises MediaError if the file cannot be opened or holds no
    decodable frame; a video that ends early (truncated) just ends.
    """
    import cv2

    if every < 1:
        raise ValueError("every must be >= 1")
    cap = open_video(path)
    try:
        info = video_info(cap, path)
        if info_out is not None:
            info_out.append(info)
        fps = info.fps or 30.0
        index = 0
        if start > 0:
            cap.set(cv2.CAP_PROP_POS_FRAMES, start)
            pos = int(cap.get(cv2.CAP_PROP_POS_FRAMES))
            if pos != start:  # the backend could not seek: walk there
                cap.release()
                cap = open_video(path)
                pos = 0
                while pos < start and cap.grab():
                    pos += 1
            index = pos
        produced = 0
        while True:
            if (index - start) % every == 0:
                ok, frame = cap.read()
                if not ok:
                    break
                if frame is None or frame.size == 0:
                    break
                produced += 1
                yield index, index / fps, frame
            else:
                if not cap.grab():
                    break
            index += 1
        if produced == 0 and start == 0:
            raise MediaError(f"{path}: no decodable video frame (corrupt, truncated or not a video)")
    finally:
        cap.release()


def media_kind(path) -> str:
    """'image', 'video' or 'unknown', from the file name's suffix."""
    s = Path(path).suffix.lower()
    if s in IMAGE_SUFFIXES:
        return "image"
    if s in VIDEO_SUFFIXES:
        return "video"
    return "unknown"


def expand_inputs(paths, recursive: bool = False) -> tuple[list[Path], list[Path]]:
    """Turn files and folders into the list of files to analyse, in a stable order.

    Files named explicitly are always kept (a non-image among them gets an
    error row later, it is not dropped).  From folders, only files with an
    image or video suffix are taken; the others are returned as ``skipped`` so
    the caller can report them.  A path that does not exist is kept, to get
    its error row.
    """
    files: list[Path] = []
    skipped: list[Path] = []
    seen = set()
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            walker = sorted(p.rglob("*")) if recursive else sorted(p.iterdir())
            for f in walker:
                if f.is_dir() or f.name.startswith("."):
                    continue
                if media_kind(f) == "unknown":
                    skipped.append(f)
                elif f not in seen:
                    seen.add(f)
                    files.append(f)
        elif p not in seen:
            seen.add(p)
            files.append(p)
    skipped = [p for p in skipped if p not in seen]   # named explicitly as well: analysed
    return files, skipped
