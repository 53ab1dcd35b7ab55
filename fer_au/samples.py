"""Sample media with real faces, made from public-domain photos that installed
packages ship - nothing is downloaded and no third-party data set is used:

* ``skimage.data.astronaut()`` - Eileen Collins, NASA portrait (public domain);
* matplotlib's ``grace_hopper.jpg`` sample - Grace Hopper, US Navy photo (public domain).

Their faces are cut out with a soft elliptical mask and composed onto
backgrounds: a group photo with several faces, single-face 640x480 photos,
a no-face image, FER2013-style 48x48 crops, and short videos in which faces
move, grow and shrink.  ``python -m fer_au.samples`` (or
``bench/make_samples.py``) rewrites ``samples/``; the benchmarks use the same
functions for their longer videos.
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"

# Face boxes (x, y, w, h) found by dlib's HOG detector in the source photos.
_SOURCES = {
    "astronaut": (175, 76, 91, 91),
    "hopper": (180, 139, 187, 187),
}


@lru_cache(maxsize=None)
def source_photo(name: str) -> np.ndarray:
    """The source photo as BGR uint8."""
    import cv2

    if name == "astronaut":
        from skimage import data
        return np.ascontiguousarray(data.astronaut()[..., ::-1])
    if name == "hopper":
        import matplotlib.cbook as cbook
        path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f"matplotlib's sample {path} cannot be read")
        return img
    raise ValueError(f"unknown source photo {name!r}; use one of {sorted(_SOURCES)}")


@lru_cache(maxsize=None)
def face_patch(name: str, margin: float = 1.9) -> tuple[np.ndarray, np.ndarray]:
    """A square head-and-shoulders patch around the face and its soft alpha mask
    (float32 0..1, an ellipse feathered at the edge).  The face box is the
    central ``1/margin`` of the patch."""
    import cv2

    img = source_photo(name)
    x, y, w, h = _SOURCES[name]
    cx, cy, side = x + w / 2, y + h / 2 + 0.08 * h, margin * max(w, h)
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    s = int(round(side))
    pad = cv2.copyMakeBorder(img, s, s, s, s, cv2.BORDER_REPLICATE)
    patch = pad[y0 + s:y0 + 2 * s, x0 + s:x0 + 2 * s].copy()
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
    r = np.sqrt(((xx - s / 2) / (0.46 * s)) ** 2 + ((yy - s / 2) / (0.5 * s)) ** 2)
    alpha = np.clip((1.0 - r) / 0.12, 0.0, 1.0).astype(np.float32)
    return patch, alpha


def background(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth, slightly textured backdrop (BGR uint8), deterministic for a seed."""
    import cv2

    rng = np.random.default_rng(seed)
    c0, c1 = rng.integers(60, 200, size=3), rng.integers(60, 200, size=3)
    t = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
    u = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    grad = c0 * (1 - 0.6 * t - 0.4 * u) + c1 * (0.6 * t + 0.4 * u)
    noise = cv2.resize(rng.normal(0, 12, size=(height // 16 + 1, width // 16 + 1)).astype(np.float32),
                       (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(grad + noise[..., None], 0, 255).astype(np.uint8)


def paste(canvas: np.ndarray, name: str, cx: float, cy: float, face_size: float, flip: bool = False,
          angle: float = 0.0) -> tuple:
    """Blend a face patch onto ``canvas`` (in place) with its face centred at
    (cx, cy) and ``face_size`` pixels wide; returns the face's box (x, y, w, h)."""
    import cv2

    patch, alpha = face_patch(name)
    s = patch.shape[0]
    scale = face_size * 1.9 / s
    m = cv2.getRotationMatrix2D((s / 2, s / 2), angle, scale)
    m[0, 2] += cx - s / 2
    m[1, 2] += cy - s / 2
    src, a = (patch[:, ::-1], alpha[:, ::-1]) if flip else (patch, alpha)
    h, w = canvas.shape[:2]
    side = int(math.ceil(face_size * 1.9)) + 4
    x0, y0 = int(cx - side / 2), int(cy - side / 2)
    x1, y1 = max(0, x0), max(0, y0)
    x2, y2 = min(w, x0 + side), min(h, y0 + side)
    if x2 <= x1 or y2 <= y1:
        return (cx - face_size / 2, cy - face_size / 2, face_size, face_size)
    m[0, 2] -= x1
    m[1, 2] -= y1
    size = (x2 - x1, y2 - y1)
    warped = cv2.warpAffine(np.ascontiguousarray(src), m, size, flags=cv2.INTER_LINEAR)
    wa = cv2.warpAffine(np.ascontiguousarray(a), m, size, flags=cv2.INTER_LINEAR)[..., None]
    roi = canvas[y1:y2, x1:x2]
    roi[:] = (warped * wa + roi * (1 - wa)).astype(np.uint8)
    return (cx - face_size / 2, cy - face_size / 2, face_size, face_size)


# The sample group: (source, centre x, centre y, face size, mirrored), on a 1024x640 canvas.
GROUP = [("astronaut", 170, 250, 150, False), ("hopper", 420, 330, 170, False),
         ("astronaut", 680, 280, 120, True), ("hopper", 880, 360, 140, True)]


def group_photo(layout=GROUP, size=(1024, 640), seed: int = 1) -> np.ndarray:
    canvas = background(*size, seed=seed)
    for name, cx, cy, fs, flip in layout:
        paste(canvas, name, cx, cy, fs, flip)
    return canvas


def single_photo(name: str = "astronaut", size=(640, 480), face_size: float = 170, seed: int = 2,
                 flip: bool = False) -> np.ndarray:
    canvas = background(*size, seed=seed)
    paste(canvas, name, size[0] / 2, size[1] / 2 - 10, face_size, flip)
    return canvas


def no_face_photo() -> np.ndarray:
    """skimage's coffee cup (a real photo without a face), BGR."""
    from skimage import data
    return np.ascontiguousarray(data.coffee()[..., ::-1])


def face_crop48(name: str = "astronaut", flip: bool = False) -> np.ndarray:
    """A FER2013-style 48x48 grey crop of a source face (the detector box, resized)."""
    import cv2

    img = source_photo(name)
    x, y, w, h = _SOURCES[name]
    g = cv2.cvtColor(img[y:y + h, x:x + w], cv2.COLOR_BGR2GRAY)
    g = cv2.resize(g, (48, 48), interpolation=cv2.INTER_AREA)
    return g[:, ::-1].copy() if flip else g


def moving_faces(n_faces: int, t: float, size=(640, 480)):
    """Placements of ``n_faces`` faces at time ``t`` (s): each drifts on a smooth
    Lissajous path and breathes in size, without overlapping its neighbours."""
    w, h = size
    cols = 1 if n_faces == 1 else 2
    rows = int(math.ceil(n_faces / cols))
    cell_w, cell_h = w / cols, h / rows
    base = min(cell_w, cell_h) * (0.36 if n_faces == 1 else 0.42)
    out = []
    for i in range(n_faces):
        r, c = divmod(i, cols)
        cx = (c + 0.5) * cell_w + 0.12 * cell_w * math.sin(0.9 * t + i)
        cy = (r + 0.5) * cell_h + 0.08 * cell_h * math.sin(1.3 * t + 2 * i)
        fs = base * (1.0 + 0.08 * math.sin(0.7 * t + i))
        name = ("astronaut", "hopper")[i % 2]
        out.append((name, cx, cy, fs, (i // 2) % 2 == 1, 6.0 * math.sin(0.5 * t + i)))
    return out


def write_video(path, n_faces: int = 2, seconds: float = 3.0, fps: float = 25.0, size=(640, 480),
                seed: int = 3, fourcc: str = "mp4v", progress: bool = False) -> Path:
    """Write a video of ``n_faces`` moving faces (frame by frame, constant memory)."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"{path}: OpenCV cannot write a {fourcc} video there")
    bg = background(*size, seed=seed)
    n = int(round(seconds * fps))
    it = range(n)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, unit="frame", desc=path.name)
    try:
        for i in it:
            frame = bg.copy()
            for name, cx, cy, fs, flip, angle in moving_faces(n_faces, i / fps, size):
                paste(frame, name, cx, cy, fs, flip, angle)
            writer.write(frame)
    finally:
        writer.release()
    return path


def build_samples(out_dir=SAMPLES_DIR) -> list[Path]:
    """(Re)write the bundled samples; returns the files written."""
    import cv2

    out = Path(out_dir)
    (out / "crops").mkdir(parents=True, exist_ok=True)
    written = []

    def save(rel, img, *params):
        p = out / rel
        if not cv2.imwrite(str(p), img, list(params)):
            raise RuntimeError(f"cannot write {p}")
        written.append(p)

    jpg = (cv2.IMWRITE_JPEG_QUALITY, 88)
    save("group.jpg", group_photo(), *jpg)
    save("astronaut.jpg", single_photo("astronaut"), *jpg)
    save("hopper.jpg", single_photo("hopper", face_size=160, seed=4), *jpg)
    save("no_face.jpg", no_face_photo(), *jpg)
    for name in ("astronaut", "hopper"):
        save(f"crops/{name}_48.png", face_crop48(name))
    written.append(write_video(out / "two_faces.mp4", n_faces=2, seconds=4.0))
    return written


if __name__ == "__main__":
    for p in build_samples():
        print(f"{p}  {p.stat().st_size / 1024:.0f} KiB")
