"""Reading media: images from paths, numpy arrays and PIL images; videos frame by frame.

Everything the analyzer sees is normalised here to one shape: an 8-bit BGR
image (H, W, 3), OpenCV's convention, plus its grey version.

* paths are decoded with Pillow, which honours the EXIF orientation tag and
  refuses truncated or corrupt files (OpenCV would hand back half an image
  with a warning on stderr); a JPEG whose data libjpeg calls corrupt is refused
  too (Pillow would decode it, garbled, without a word).  Every frame of an
  animated GIF/WebP/PNG and every page of a TIFF is read (``ImageFile``); a huge
  JPEG can be decoded at reduced size and cropped at full size around faces;
* numpy arrays may be grey (H, W) or (H, W, 1), 3-channel or 4-channel
  (alpha is dropped), 8-bit, 16-bit (scaled by 1/257) or float (0..1, or
  0..255 when the values exceed 1).  Arrays carry no colour order, so the
  caller says which (``color="bgr"``, OpenCV's, is the default;
  ``skimage``/``imageio``/``matplotlib`` arrays are ``"rgb"``);
* PIL images are converted from whatever mode they are in.

Videos are read with OpenCV one frame at a time (constant memory whatever the
length); ``every=N`` keeps every N-th frame and only *grabs* the others.  Frame
times are the decoder's presentation times (``FrameClock``); a video that stops
before its header's frame count raises ``VideoTruncated`` after its last frame.
Unreadable inputs are one-line ``MediaError``s that say why (no such file,
permission denied, empty, a folder that cannot be listed, ...).
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from .errors import FerAuError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp",
                  ".pgm", ".ppm", ".pbm", ".jp2", ".jfif"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg",
                  ".wmv", ".flv", ".3gp", ".ts", ".mts", ".ogv"}


class MediaError(FerAuError, ValueError):
    """An input cannot be read: the message is one line that says which and why."""


# ---------------------------------------------------------------- images
# Formats whose extra frames are part of the content (animations, pages).  A JPEG's
# second picture (MPO, from cameras) is a preview or the other eye: not read.
MULTI_FRAME_FORMATS = {"GIF", "TIFF", "WEBP", "PNG"}
# A JPEG whose longer side exceeds this is decoded at reduced size for detection
# (libjpeg scales while decoding) and at full resolution only around its faces.
HUGE_SIDE = 4096
# --crops: an image smaller than this, or of one flat colour, cannot be a face crop.
MIN_CROP = 16


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


def check_file(path, what: str = "an image") -> Path:
    """Raise a one-line MediaError unless ``path`` is a readable, non-empty file: says
    "no such file", "permission denied", "empty file", or names a folder (and whether
    it can be listed) before any decoder gets to guess."""
    path = Path(path)
    if path.is_dir():
        try:
            with os.scandir(path):
                pass
        except OSError as exc:
            raise MediaError(f"{path}: folder cannot be read: {_reason(exc)}") from None
        raise MediaError(f"{path}: is a folder, not {what}")
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
    except FileNotFoundError:
        link = " (a broken link)" if path.is_symlink() else ""
        raise MediaError(f"{path}: no such file{link}") from None
    except OSError as exc:
        raise MediaError(f"{path}: cannot be read: {_reason(exc)}") from None
    if size == 0:
        raise MediaError(f"{path}: empty file (0 bytes), not {what}")
    return path


def _reason(exc: OSError) -> str:
    """'permission denied', 'no such file or directory', ... from an OSError."""
    return (exc.strerror or type(exc).__name__).lower() if isinstance(exc, OSError) else str(exc)


@contextlib.contextmanager
def _decoding(path):
    """Turn whatever Pillow raises while decoding ``path`` into one MediaError line."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # A 100-megapixel photo is not a decompression bomb here: it is read at
            # reduced size (HUGE_SIDE); Pillow's hard limit still refuses absurd ones.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    except MediaError:
        raise
    except UnidentifiedImageError:
        raise MediaError(f"{path}: not an image (unknown or corrupt format)") from None
    except Image.DecompressionBombError as exc:
        raise MediaError(f"{path}: refused, image too large ({exc})") from None
    except PermissionError:
        raise MediaError(f"{path}: permission denied") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "truncated" in msg.lower():
            raise MediaError(f"{path}: truncated image ({msg})") from None
        raise MediaError(f"{path}: corrupt or unreadable image ({msg})") from None


@contextlib.contextmanager
def _captured_stderr(out: list):
    """Collect what C libraries write to the stderr descriptor meanwhile (libjpeg's
    warnings go there and nowhere else) into ``out`` as lines."""
    fd = 2      # C's stderr, whatever Python's sys.stderr was replaced by
    try:
        sys.stderr.flush()
        saved = os.dup(fd)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            out.extend(ln.strip() for ln in tmp.read().decode("utf-8", "replace").splitlines() if ln.strip())


def _jpeg_damage(path) -> tuple[str, str]:
    """(error, warning) from libjpeg's own complaints about a JPEG's data.

    Pillow decodes a JPEG whose entropy-coded data is damaged into a garbled, shifted
    picture without a word (libjpeg only warns).  OpenCV's libjpeg prints those warnings,
    so the file is decoded once more at 1/8 scale (cheap: the damage is in the data every
    scale reads) and what it says is sorted: corrupt data is an error, a JPEG oddity that
    leaves the pixels intact (padding before the end marker, an unknown JFIF version) a
    warning."""
    import cv2

    lines: list[str] = []
    data = np.fromfile(str(path), np.uint8)
    with _captured_stderr(lines):
        cv2.imdecode(data, cv2.IMREAD_REDUCED_GRAYSCALE_8)
    said = [ln for ln in lines if "JPEG" in ln or "JFIF" in ln or "marker" in ln]
    damage = [ln for ln in said if ln.startswith("Corrupt JPEG data") and "extraneous bytes" not in ln]
    if damage:
        return f"{path}: damaged image data, the picture would come out garbled (decoder: {damage[0]})", ""
    return "", ("decoder: " + "; ".join(said)) if said else ""


class ImageFile:
    """An image file opened for analysis.

    ``frames()`` yields every frame: one for most files; each frame of an animated
    GIF, WebP or PNG, each page of a TIFF.  ``warning`` holds what the decoder said
    about a file it could still read.  A huge JPEG can be read at reduced size
    (``reduced``) and at full resolution around chosen boxes (``regions``).
    Raises :class:`MediaError` (one line) for a file that cannot be read or whose
    data is damaged.
    """

    def __init__(self, path):
        from PIL import Image, ImageOps

        self.path = check_file(path, "an image")
        self.warning = ""
        self._transpose = ImageOps.exif_transpose
        with _decoding(self.path):
            self._img = Image.open(self.path)
        try:
            with _decoding(self.path):
                self.format = self._img.format or ""
                multi = self.format in MULTI_FRAME_FORMATS
                self.n_frames = int(getattr(self._img, "n_frames", 1)) if multi else 1
                w, h = self._img.size
                orientation = self._img.getexif().get(0x0112, 1)   # EXIF 5-8: a quarter turn
                self.size = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
            if self.format in ("JPEG", "MPO"):
                error, self.warning = _jpeg_damage(self.path)
                if error:
                    raise MediaError(error)
        except BaseException:
            self.close()
            raise

    def frames(self):
        """Yield ``(frame_index, time_s or None, bgr)``; time from the animation's frame
        durations (None for single images and TIFF pages)."""
        img, t = self._img, 0.0
        for i in range(self.n_frames):
            with _decoding(self.path):
                if i:
                    img.seek(i)
                img.load()                  # decodes now: truncation and corruption surface here
                duration = img.info.get("duration")
                bgr = _from_pil(self._transpose(img))
            timed = self.n_frames > 1 and duration is not None
            yield i, (t if timed else None), bgr
            t += float(duration or 0) / 1000.0

    @property
    def can_reduce(self) -> bool:
        """A single-frame JPEG: libjpeg can decode it at 1/2, 1/4 or 1/8 scale."""
        return self.format in ("JPEG", "MPO") and self.n_frames == 1

    def reduced(self, max_side: int) -> tuple[np.ndarray, float]:
        """The image decoded at the smallest libjpeg scale whose longer side is still
        >= ``max_side`` (JPEG only), and the factor from its pixels to full ones."""
        from PIL import Image

        r = max_side / max(self.size)
        with _decoding(self.path), Image.open(self.path) as img:
            w, h = img.size
            img.draft("RGB", (max(1, int(np.ceil(w * r))), max(1, int(np.ceil(h * r)))))
            img.load()
            bgr = _from_pil(self._transpose(img))
        return bgr, self.size[0] / bgr.shape[1]

    def regions(self, boxes) -> list[np.ndarray]:
        """Full-resolution BGR crops ``(x0, y0, x1, y1)`` of the (oriented) image.  The
        image is decoded once and dropped; each box is cut from the stored pixels and
        only the crop is turned upright, so no second full-size copy is made."""
        from PIL import Image

        with _decoding(self.path), Image.open(self.path) as img:
            method = _EXIF_METHODS.get(img.getexif().get(0x0112, 1))
            img.load()
            out = []
            for box in boxes:
                x0, y0, x1, y1 = (int(round(v)) for v in box)
                if method is not None:   # the box in the stored image's pixels
                    x0, y0, x1, y1 = _unturn_box((x0, y0, x1, y1), self.size, method)
                crop = img.crop((x0, y0, x1, y1))
                out.append(_from_pil(crop.transpose(method) if method is not None else crop))
            return out

    def close(self) -> None:
        self._img.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# EXIF orientation -> the transpose that shows the stored image upright (as ImageOps.exif_transpose)
_EXIF_METHODS = {2: 0, 3: 3, 4: 1, 5: 5, 6: 4, 7: 6, 8: 2}   # Image.Transpose values
_INVERSE = {0: 0, 1: 1, 3: 3, 5: 5, 6: 6, 2: 4, 4: 2}        # ROTATE_90 <-> ROTATE_270


def _unturn_box(box, size, method: int):
    """Where box (x0, y0, x1, y1) of an image shown upright by ``method`` lies in the
    stored image; ``size`` is the upright (width, height)."""
    w, h = size
    inv = _INVERSE[method]
    maps = {0: lambda x, y: (w - x, y), 1: lambda x, y: (x, h - y), 3: lambda x, y: (w - x, h - y),
            2: lambda x, y: (y, w - x), 4: lambda x, y: (h - y, x), 5: lambda x, y: (y, x),
            6: lambda x, y: (h - y, w - x)}
    (ax, ay), (bx, by) = maps[inv](box[0], box[1]), maps[inv](box[2], box[3])
    return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)


def read_image(path) -> np.ndarray:
    """Decode an image file into uint8 BGR (H, W, 3), EXIF orientation applied (the
    first frame of an animation; ``ImageFile`` reads them all).

    Raises :class:`MediaError` (one line) for a missing, unreadable, empty, corrupt,
    damaged, truncated or non-image file.
    """
    with ImageFile(path) as img:
        return next(img.frames())[2]


def crop_problem(image: np.ndarray) -> str | None:
    """Why ``image`` (grey or BGR) cannot be a face crop, or None: too small to hold a
    face, or one flat colour.  The emotion models answer for any 48x48 input, so
    such an input would get made-up probabilities."""
    h, w = image.shape[:2]
    if min(h, w) < MIN_CROP:
        return f"{w}x{h} px is too small to be a face crop (at least {MIN_CROP}x{MIN_CROP} px)"
    if float(np.asarray(image, np.float32).std()) < 2.0:
        return "the image is one flat colour, not a face crop"
    return None


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
    frame_count: int      # as the container reports it (may be 0, estimated or wrong)
    width: int
    height: int
    timestamps: str = "pts"   # "pts": the decoder's presentation times; else how they were made up


class VideoTruncated(MediaError):
    """The video ended before its header says it should; ``frame`` is where it stopped."""

    def __init__(self, message: str, frame: int):
        super().__init__(message)
        self.frame = frame


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
        check_file(src, "a video")     # missing, folder, permission denied, empty: said as such
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


class FrameClock:
    """The time of the frame a capture has just read or grabbed.

    The decoder's presentation time (``CAP_PROP_POS_MSEC``) is the frame's real time,
    also in variable-frame-rate video (most phone recordings), where frame index / fps
    is off by up to seconds.  Only a container without presentation times (a raw
    stream: every frame reads 0) falls back to index / nominal fps; ``fallback`` then
    says so in one line.
    """

    def __init__(self, fps: float):
        self.fps = fps
        self.fallback = ""
        self.last = None          # the last presentation time seen [s]

    def __call__(self, cap, index: int) -> float | None:
        import cv2

        if not self.fallback:
            t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if self.last is None or t > self.last or index == 0:
                self.last = t
                return t
            self.fallback = ("approx_time is frame index / the nominal frame rate: the container "
                             "gives no presentation times" if self.fps else
                             "no approx_time: the container gives neither presentation times nor a frame rate")
        return index / self.fps if self.fps else None


def _seek(cap, path, start: int, check, clock: FrameClock):
    """Position a capture so that the next frame read is ``start``; returns
    ``(capture, index reached)``.

    OpenCV seeks by frame number through the nominal frame rate, which lands on the
    wrong frame in variable-frame-rate video.  So a seek is trusted only when the frame
    ``check = (frame, time)``, already analysed, comes back at the time it had then;
    otherwise the video is walked from its start (exact, slower)."""
    import cv2

    if check is not None and check[1] is not None and 0 <= check[0] < start:
        last, t_last = check
        cap.set(cv2.CAP_PROP_POS_FRAMES, last)
        if cap.grab() and abs(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0 - float(t_last)) < 6e-4:
            clock.last = float(t_last)
            index = last + 1
            while index < start and cap.grab():
                clock(cap, index)
                index += 1
            return cap, index
    cap.release()
    cap = open_video(path)
    index = 0
    while index < start and cap.grab():
        clock(cap, index)
        index += 1
    return cap, index


def _ends_early(info: VideoInfo, frames: int, last_t, clock: FrameClock) -> bool:
    """Did the video stop before its header's frame count?  A count that containers
    without one estimate from duration x nominal rate can overshoot a variable-rate
    file; where presentation times exist, the stop must also be short in time."""
    n = info.frame_count
    if n <= 0 or frames >= n - max(1, n // 100):
        return False
    if not clock.fallback and last_t is not None and info.fps > 0:
        return last_t + max(2.0 / info.fps, 0.25) < n / info.fps
    return True


def iter_video(path, every: int = 1, start: int = 0, info_out: list | None = None, check=None
               ) -> Iterator[tuple[int, float | None, np.ndarray]]:
    """Yield ``(frame_index, time_s, bgr)`` for every ``every``-th frame.

    ``time_s`` is the decoder's presentation time (see :class:`FrameClock`; None only
    when the container has neither times nor a frame rate).  One frame is held at a
    time.  ``start`` skips the frames before it (--resume), ``check = (frame, time)``
    lets that seek be verified (:func:`_seek`).  Raises MediaError if the file cannot
    be opened or holds no decodable frame, and :class:`VideoTruncated` after the last
    frame of a video that stops before its header says it should.  ``info_out`` gets
    the :class:`VideoInfo`, whose ``timestamps`` says how times were made.
    """
    if every < 1:
        raise ValueError("every must be >= 1")
    cap = open_video(path)
    try:
        info = video_info(cap, path)
        if info_out is not None:
            info_out.append(info)
        clock = FrameClock(info.fps)
        index = 0
        if start > 0:
            cap, index = _seek(cap, path, start, check, clock)
        produced, last_t = 0, clock.last
        while True:
            if (index - start) % every == 0:
                ok, frame = cap.read()
                if not ok or frame is None or frame.size == 0:
                    break
                last_t = clock(cap, index)
                if clock.fallback:
                    info.timestamps = clock.fallback
                produced += 1
                yield index, last_t, frame
            else:
                if not cap.grab():
                    break
                last_t = clock(cap, index)
            index += 1
        if produced == 0 and start == 0:
            raise MediaError(f"{path}: no decodable video frame (corrupt, truncated or not a video)")
        if _ends_early(info, index, last_t, clock):
            when = f" ({last_t:.3f} s)" if last_t is not None else ""
            raise VideoTruncated(f"{path}: the video stops at frame {index}{when} but its header announces "
                                 f"{info.frame_count} frames: the file is truncated or damaged; the frames "
                                 "before were analysed", frame=index)
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


def input_key(path) -> str:
    """The name --resume matches an input by: its resolved path (a folder spelled
    relative or absolute, or reached through a link, is the same input)."""
    s = str(path)
    return s if "://" in s else os.path.realpath(s)


def expand_inputs(paths, recursive: bool = False) -> tuple[list[Path], list[Path]]:
    """Turn files and folders into the list of files to analyse, in a stable order.

    Files named explicitly are always kept (a non-image among them gets an
    error row later, it is not dropped).  From folders, only files with an
    image or video suffix are taken; the others are returned as ``skipped`` so
    the caller can report them.  A path that does not exist is kept, to get
    its error row, and so is a folder that cannot be listed.  Links to folders
    are followed (a folder already walked, e.g. a link back up the tree, is not
    walked twice); a file reached under two names is analysed once, under the first.
    """
    files: list[Path] = []
    skipped: list[Path] = []
    seen: set[str] = set()
    walked: set[str] = set()

    def add(f: Path) -> None:
        key = input_key(f)
        if key not in seen:
            seen.add(key)
            files.append(f)

    def walk(folder: Path) -> None:
        real = os.path.realpath(folder)
        if real in walked:
            return
        walked.add(real)
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            add(folder)     # it gets an error row saying why it cannot be read
            return
        for e in entries:
            if e.name.startswith("."):
                continue
            f = folder / e.name
            try:
                is_dir = e.is_dir()          # follows links
            except OSError:
                is_dir = False
            if is_dir:
                if recursive:
                    walk(f)
            elif media_kind(f) == "unknown":
                skipped.append(f)
            else:
                add(f)

    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            walk(p)
        else:
            add(p)
    skipped = [p for p in skipped if input_key(p) not in seen]   # named explicitly as well: analysed
    return files, skipped
