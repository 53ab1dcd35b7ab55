"""Face detection: recall and false positives of each FaceDetector method, per condition.

    python bench/detection.py [--detectors hog,haar,blazeface,hog:1] [--n-per-condition 40]
                              [--seed 0] [--data PATH | --no-fer] [--json PATH] [--save-examples DIR]
    python bench/detection.py --canvas 4000x3000 --n-per-condition 8 --detectors photo,photo:2

"photo[:N][@S]" detectors run analyze's photo path (FaceAnalyzer.detect on its copy of at
most S px, default 1280, with the photo default's tiles or N's); the others run a
FaceDetector on the image as it is.  --canvas sets the composites' size (default
640x480) while their faces keep their sizes in pixels: small faces in large photos.

Every image is built in memory from pictures that installed packages and this
repository ship (plus FER2013 where it is present); nothing is downloaded, and
the same --seed gives the same images.

Real photos (the "real" rows): scikit-image's astronaut, matplotlib's
grace_hopper.jpg, samples/group.jpg (four faces), samples/hopper.jpg,
samples/astronaut.jpg and scikit-image's camera (a cameraman in profile: a
face, though not a frontal one); without a face: samples/no_face.jpg and
scikit-image's coffee, chelsea (a cat), rocket, brick, grass, gravel.  The face
boxes were found with dlib's HOG detector (upsample 1) and checked by eye; the
cameraman's was drawn by hand.  scikit-image's coins is left out, though it
looks face-free: every coin bears a head in relief, one of them facing the
viewer, so a detection there would be neither clearly right nor wrong (Haar
fires on six of them).

Composites (640x480): real faces pasted with a soft elliptical mask onto the
face-free scenes above (randomly scaled, cropped and mirrored).  The faces are
the astronaut's and Grace Hopper's (head and shoulders, randomly mirrored) and,
where FER2013 is found, --fer-faces of its PublicTest 48x48 faces (blank ones,
pixel std < 10, dropped; nothing else is filtered, since filtering with a
detector would favour that detector); each composite face is drawn from the
photo faces or from FER2013 with even odds.  FER2013 faces are grey, tightly
cropped (chin and hair edge cut off), come with their own pose (some turned
or tilted well beyond the angles below) and, pasted large, are upsampled
48-px crops: the "by face source" table keeps them apart.  Conditions, one group of --n-per-condition images each:

    plain          one face 60-180 px wide, upright (+-5 deg)
    small          one face 24-40 px
    large          one face 200-400 px
    rotated        in-plane rotation uniform in +-45 deg (table by |angle| below)
    eyes_band      dark sunglasses over the eyes
    hand_forehead  a hand (palm, fingers, thumb; the face's own skin tone) over the forehead
    mouth_cover    the same hand, smaller, over the mouth
    scarf          a striped band from the lower lip down, over the chin and jaw
    grey           the whole image greyscale
    low_contrast   contrast x0.3 about the image mean
    blur           Gaussian blur, sigma 2-3 px per 100 px of face width
    jpeg           JPEG quality 10-20
    multi          3-6 faces of 40-110 px, not overlapping
    no_face        the background alone (false positives only)
    noise          sensor noise: normal, std 10-20 grey levels, per pixel and channel

The face sizes above and the ground-truth box: the box dlib's HOG detector
puts on an upright frontal face, which runs from just above the eyebrows to
around the chin (its tip falls just inside, or up to ~10% of the box below)
and from ear to ear; "face width" is its width.  For the two photo faces it is
dlib's own box on the source photo, for FER2013 faces fer_au.faces'
FER_DEFAULT_BOX (dlib's median box on FER2013), carried through the scaling
and placement.  A rotated face keeps its upright box size, centred on the
rotated face (not the larger box around the rotated square).

Matching a detection to a face: greedy and one-to-one; first every pair with
IoU >= 0.4, highest IoU first; then, among what is left, a pair also counts
when the detection's centre lies inside the face's box and the size ratio
sqrt(area_det / area_face) is within [0.5, 2.0], nearest centre first.  The
second rule is there because detectors draw boxes of different extents
(BlazeFace's take in the forehead and chin, Haar's are larger than dlib's);
without it a well-placed detection could count as a miss and a false
positive.  A detection left unmatched is a false positive; a second detection
of the same face is one too.

Close-ups (the "close-ups" rows, kept out of "all composites" so that those stay
comparable with earlier runs): --n-per-condition images that are little more than one
face, as a folder of cropped portraits or a close-up photo is: the astronaut's or
Grace Hopper's face cut from its photo with 1.0-1.6 face widths of room (1.0: brows
and chin at the image's edges), or a FER2013 crop as it is, scaled to 96-480 px, square
or 3:4 upright, randomly mirrored.  The face box is carried through as above.

Not covered: three-quarter and profile views (apart from the one real
cameraman) - they cannot be made honestly from frontal 2-D crops; occlusion
by other faces; real lighting changes beyond global contrast.

Speed: milliseconds per 640x480 frame, the median of --timing-calls calls (after
2 warm-up calls) on one "plain" composite (the one of median texture, mean
|Laplacian|), BGR in (the detector's grey
conversion included); in brackets the median over every composite of the run.
Every detector is built with min_size=1 (FaceDetector's default, 40, would
hide the small faces); Haar then searches from its 24-px window up and takes
about twice as long as at min_size=40, and 3-5x longer on textured scenes
(gravel, grass) than on smooth ones.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # as cli.py analyze/live do

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from _data import cpu_model  # noqa: E402
from fer_au.tracking import iou  # noqa: E402  (x, y, w, h) boxes

W, H = 640, 480
CONDITIONS = ("plain", "small", "large", "rotated", "eyes_band", "hand_forehead", "mouth_cover", "scarf",
              "grey", "low_contrast", "blur", "jpeg", "multi", "no_face", "noise")
# Tried in this order when --detectors is not given, then any other fer_au.faces.DETECTOR_METHODS.
KNOWN_METHODS = ("hog", "haar", "blazeface")
IOU_MIN = 0.4
SIZE_RATIO = (0.5, 2.0)

# Real photos and their face boxes (x, y, w, h).  Found with dlib's HOG detector at
# upsample 1 and checked by eye, except the cameraman's (profile, not found by it),
# drawn by hand from ear to nose tip, brows to chin.
REAL_PHOTOS = {
    "astronaut": [(175, 76, 91, 91)],
    "grace_hopper": [(180, 139, 187, 187)],
    "samples/group.jpg": [(98, 167, 156, 156), (324, 222, 187, 186), (612, 211, 130, 130), (803, 270, 156, 156)],
    "samples/hopper.jpg": [(221, 139, 187, 187)],
    "samples/astronaut.jpg": [(253, 150, 156, 156)],
    "camera (profile)": [(180, 128, 75, 75)],
    "samples/no_face.jpg": [],
    "coffee": [], "chelsea": [], "rocket": [], "brick": [], "grass": [], "gravel": [],
}
# Face-free scenes the composites are built on (not camera: it has a face; not coins:
# its coins bear heads in relief, one facing the viewer).
SCENES = ("coffee", "chelsea", "rocket", "brick", "grass", "gravel")


# ---------------------------------------------------------------------------
# Source pictures
# ---------------------------------------------------------------------------
def _bgr(img: np.ndarray) -> np.ndarray:
    """uint8 BGR from skimage's RGB or grey arrays."""
    img = np.asarray(img)
    img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else img[..., 2::-1]
    return np.ascontiguousarray(img, dtype=np.uint8)


@lru_cache(maxsize=None)
def real_photo(name: str) -> np.ndarray:
    """One of REAL_PHOTOS as BGR uint8 (cached: treat as read-only)."""
    if name.startswith("samples/"):
        img = cv2.imread(str(ROOT / name), cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f"{ROOT / name} cannot be read")
        return img
    if name == "grace_hopper":
        from fer_au.samples import source_photo
        return source_photo("hopper").copy()
    from skimage import data
    return _bgr(getattr(data, name.split(" ")[0])())


# ---------------------------------------------------------------------------
# Face crops and pasting
# ---------------------------------------------------------------------------
@dataclass
class FaceCrop:
    """A face to paste: a square BGR patch, its alpha (float32 0..1) and the face's
    box (x, y, w, h) in patch pixels."""
    patch: np.ndarray
    alpha: np.ndarray
    box: tuple
    source: str


def _ellipse_alpha(side: int, cx: float, cy: float, ax: float, ay: float, feather: float = 0.12) -> np.ndarray:
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) + 0.5
    r = np.sqrt(((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2)
    return np.clip((1.0 - r) / feather, 0.0, 1.0).astype(np.float32)


def photo_crop(img: np.ndarray, box, source: str, margin: float = 1.9) -> FaceCrop:
    """Head and shoulders around ``box``: a square of ``margin`` face widths, centred a
    little below the box (the chin and neck lie below it), with an elliptical alpha."""
    x, y, w, h = box
    side = int(round(margin * max(w, h)))
    x0, y0 = int(round(x + w / 2 - side / 2)), int(round(y + h / 2 + 0.1 * h - side / 2))
    patch = _square_cut(img, x0, y0, side).copy()
    alpha = _ellipse_alpha(side, side / 2, side / 2, 0.46 * side, 0.5 * side)
    return FaceCrop(patch, alpha, (x - x0, y - y0, w, h), source)


def _square_cut(img: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """The ``side``-px square of ``img`` from (x0, y0); what lies outside the image
    repeats its edge pixels (a view of a padded copy)."""
    pad = cv2.copyMakeBorder(img, side, side, side, side, cv2.BORDER_REPLICATE)
    return pad[y0 + side:y0 + 2 * side, x0 + side:x0 + 2 * side]


def fer_crop(img48: np.ndarray, source: str) -> FaceCrop:
    """A FER2013 48x48 crop: there is no more context than the crop, so the ellipse
    fills it; the face box is dlib's median box on FER2013."""
    from fer_au.faces import FER_DEFAULT_BOX
    l, t, r, b = FER_DEFAULT_BOX
    return FaceCrop(_bgr(img48), _ellipse_alpha(48, 24, 24, 25, 25), (l, t, r - l, b - t), source)


@dataclass
class Face:
    """A pasted face: its box centre (cx, cy), box size (w, h) and in-plane angle
    (degrees, counter-clockwise, as cv2.getRotationMatrix2D)."""
    cx: float
    cy: float
    w: float
    h: float
    angle: float
    source: str

    @property
    def box(self) -> tuple:
        return (self.cx - self.w / 2, self.cy - self.h / 2, self.w, self.h)

    def to_canvas(self, u, v) -> np.ndarray:
        """Points given in face units - (0, 0) the box centre, u in box widths to the
        image right, v in box heights down, as on the upright face - in canvas pixels."""
        a = math.radians(self.angle)
        du, dv = np.asarray(u, np.float64) * self.w, np.asarray(v, np.float64) * self.h
        x = self.cx + math.cos(a) * du + math.sin(a) * dv
        y = self.cy - math.sin(a) * du + math.cos(a) * dv
        return np.stack([x, y], -1)


def paste_face(canvas: np.ndarray, crop: FaceCrop, cx: float, cy: float, width: float,
               angle: float = 0.0, flip: bool = False) -> Face:
    """Blend ``crop`` onto ``canvas`` (in place) with its face box centred at (cx, cy),
    ``width`` pixels wide and turned by ``angle``; returns the Face."""
    patch, alpha = crop.patch, crop.alpha
    bx, by, bw, bh = (float(v) for v in crop.box)
    if flip:
        patch, alpha = patch[:, ::-1], alpha[:, ::-1]
        bx = patch.shape[1] - bx - bw
    k = width / bw
    if k < 1:   # shrink by area averaging first: warpAffine's bilinear sampling would alias
        n = max(4, int(round(patch.shape[0] * k)))
        f = n / patch.shape[0]
        patch = cv2.resize(np.ascontiguousarray(patch), (n, n), interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(np.ascontiguousarray(alpha), (n, n), interpolation=cv2.INTER_AREA)
        bx, by, bw, bh = bx * f, by * f, bw * f, bh * f
        k = width / bw
    bcx, bcy = bx + bw / 2, by + bh / 2
    m = cv2.getRotationMatrix2D((bcx, bcy), angle, k)
    m[:, 2] += (cx - bcx, cy - bcy)
    s = patch.shape[0]
    corners = m @ np.array([[0, 0, 1], [s, 0, 1], [0, s, 1], [s, s, 1]], np.float64).T
    x0, y0 = (max(0, int(math.floor(v)) - 1) for v in corners.min(1))
    x1, y1 = min(canvas.shape[1], int(math.ceil(corners[0].max())) + 1), \
        min(canvas.shape[0], int(math.ceil(corners[1].max())) + 1)
    face = Face(cx, cy, bw * k, bh * k, angle, crop.source)
    if x1 <= x0 or y1 <= y0:
        return face
    m[:, 2] -= (x0, y0)
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpAffine(np.ascontiguousarray(patch), m, size, flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    a = cv2.warpAffine(np.ascontiguousarray(alpha), m, size, flags=cv2.INTER_LINEAR)[..., None]
    roi = canvas[y0:y1, x0:x1]
    roi[:] = np.clip(warped * a + roi * (1 - a) + 0.5, 0, 255).astype(np.uint8)
    return face


# ---------------------------------------------------------------------------
# Occluders, drawn in the face's own frame so that they follow its size and angle.
# Positions come from dlib's 68 landmarks on the source faces, in box units:
# brows v=-0.33, eyes v=-0.21 (u=+-0.2), nose tip v=0.13, mouth v=0.2..0.4
# (u=+-0.2), chin tip v=0.55..0.65, jaw u=+-0.5.
# ---------------------------------------------------------------------------
def _ellipse_uv(cu, cv, au, av, rot=0.0, n=40):
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    r = math.radians(rot)
    u, v = au * np.cos(t), av * np.sin(t)
    return cu + u * math.cos(r) - v * math.sin(r), cv + u * math.sin(r) + v * math.cos(r)


def _smooth_noise(rng, shape, cell):
    """Low-frequency noise (std ~1) over an (h, w) area, blobs ~``cell`` px."""
    h, w = shape
    small = rng.normal(0, 1, size=(max(2, int(h / cell) + 2), max(2, int(w / cell) + 2))).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _blend(canvas, polys, fill, feather, opacity=1.0):
    """Paint the union of canvas polygons with ``fill(h, w, x0, y0) -> float32 (h, w, 3)``,
    edges softened by a Gaussian of ``feather`` px."""
    pts = np.concatenate(polys)
    pad = int(3 * feather) + 2
    x0, y0 = (max(0, int(math.floor(v)) - pad) for v in pts.min(0))
    x1 = min(canvas.shape[1], int(math.ceil(pts[:, 0].max())) + pad)
    y1 = min(canvas.shape[0], int(math.ceil(pts[:, 1].max())) + pad)
    if x1 <= x0 or y1 <= y0:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [np.round((p - (x0, y0)) * 4).astype(np.int32) for p in polys], 255,
                 lineType=cv2.LINE_AA, shift=2)
    m = mask.astype(np.float32) / 255.0
    if feather > 0.3:
        m = cv2.GaussianBlur(m, (0, 0), feather)
    m = (opacity * m)[..., None]
    roi = canvas[y0:y1, x0:x1]
    roi[:] = np.clip(roi * (1 - m) + fill(y1 - y0, x1 - x0, x0, y0) * m + 0.5, 0, 255).astype(np.uint8)


def _skin_colour(canvas, face: Face) -> np.ndarray:
    """Median colour of the face's cheeks and nose (before anything covers them)."""
    poly = face.to_canvas(*_ellipse_uv(0, 0.05, 0.28, 0.18))
    mask = np.zeros(canvas.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
    px = canvas[mask > 0]
    return np.median(px, 0).astype(np.float32) if len(px) else np.array([120, 140, 180], np.float32)


def _shaded(colour, rng, cell, amount=0.12):
    def fill(h, w, x0, y0):
        return colour[None, None, :] * (1 + amount * _smooth_noise(rng, (h, w), cell))[..., None]
    return fill


def draw_hand(canvas, face: Face, rng, cu, cv, scale, rot, mirror, thumb_up):
    """A flat hand - palm, four fingers along +u (-u if mirror), a thumb - in the
    face's skin tone, centred at (cu, cv) face units, ``scale`` face widths long
    (wrist to fingertip 0.9 x scale), turned by ``rot`` degrees."""
    # (centre x, centre y, semi-axes, angle) in hand units; x from -0.45 (wrist) to 0.45 (fingertips)
    parts = [(-0.17, 0.0, 0.28, 0.22, 0.0)]                                  # palm
    for dy, half in zip((-0.165, -0.055, 0.055, 0.165), (0.17, 0.21, 0.20, 0.15)):
        parts.append((0.03 + half, dy, half + 0.02, 0.055, 0.0))             # fingers
    parts.append((-0.15, -0.27 if thumb_up else 0.27, 0.17, 0.065, -35.0 if thumb_up else 35.0))
    sgn, r = (-1.0 if mirror else 1.0), math.radians(rot)
    polys, outlines = [], []
    for x, y, ax, ay, a in parts:
        x, y, ax, ay = x * scale, y * scale, ax * scale, ay * scale
        u = cu + sgn * (x * math.cos(r) - y * math.sin(r))
        v = cv + x * math.sin(r) + y * math.cos(r)
        poly = face.to_canvas(*_ellipse_uv(u, v, ax, ay, sgn * (a + rot)))
        polys.append(poly)
        outlines.append(poly)
    colour = _skin_colour(canvas, face) * rng.uniform(0.9, 1.1)
    _blend(canvas, polys, _shaded(colour, rng, max(4.0, face.w / 6)), feather=max(0.5, face.w / 120))
    # creases between the fingers and around the thumb, so it reads as a hand, not a blob
    dark = tuple(float(c) for c in colour * 0.72)
    for poly in outlines[1:]:
        cv2.polylines(canvas, [np.round(poly * 4).astype(np.int32)], True, dark,
                      max(1, int(round(face.w / 150))), cv2.LINE_AA, shift=2)


def draw_sunglasses(canvas, face: Face, rng):
    lens = [face.to_canvas(*_ellipse_uv(s * 0.22, -0.21, 0.21, 0.15)) for s in (-1, 1)]
    bridge = face.to_canvas(np.array([-0.06, 0.06, 0.06, -0.06]), np.array([-0.26, -0.26, -0.19, -0.19]))
    arms = [face.to_canvas(np.array([s * 0.38, s * 0.53, s * 0.53, s * 0.38]),
                           np.array([-0.25, -0.24, -0.215, -0.22])) for s in (-1, 1)]
    base = np.full(3, rng.uniform(12, 40), np.float32) * rng.uniform(0.8, 1.2, 3).astype(np.float32)
    _blend(canvas, lens + [bridge] + arms, _shaded(base, rng, max(4.0, face.w / 8), 0.25),
           feather=max(0.5, face.w / 150))
    for s in (-1, 1):   # a faint reflection on each lens
        glint = face.to_canvas(*_ellipse_uv(s * 0.22 - 0.06, -0.25, 0.06, 0.025, -20))
        _blend(canvas, [glint], lambda h, w, x0, y0: np.full((h, w, 3), 210, np.float32),
               feather=max(0.5, face.w / 100), opacity=0.35)


def draw_scarf(canvas, face: Face, rng):
    v0 = rng.uniform(0.24, 0.34)                 # at or just under the lower lip
    u = np.linspace(-0.7, 0.7, 25)
    top = v0 + 0.12 * (u / 0.7) ** 2             # pulled up over the chin, lower at the sides
    poly = face.to_canvas(np.concatenate([u, u[::-1]]), np.concatenate([top, np.full_like(u, 1.05)]))
    hsv = np.uint8([[[rng.integers(0, 180), rng.integers(90, 220), rng.integers(70, 220)]]])
    colour = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)
    period, a = max(4.0, face.w * rng.uniform(0.08, 0.15)), rng.uniform(0, math.pi)

    def fill(h, w, x0, y0):
        yy, xx = np.mgrid[y0:y0 + h, x0:x0 + w].astype(np.float32)
        stripes = 0.18 * np.sin(2 * math.pi * (xx * math.cos(a) + yy * math.sin(a)) / period)
        shade = 0.1 * _smooth_noise(rng, (h, w), max(4.0, face.w / 5))
        return colour[None, None, :] * (1 + stripes + shade)[..., None]
    _blend(canvas, [poly], fill, feather=max(0.5, face.w / 120))


# ---------------------------------------------------------------------------
# The data set
# ---------------------------------------------------------------------------
@dataclass
class Record:
    """One benchmark image: BGR uint8, its ground-truth face boxes (x, y, w, h) and,
    per box, where the face came from and how it was placed."""
    name: str
    condition: str                      # one of CONDITIONS, or "real"
    image: np.ndarray
    boxes: list
    faces: list = field(default_factory=list)
    results: dict = field(default_factory=dict)   # per detector, filled by run()


def _scene_background(rng) -> np.ndarray:
    """A random W x H view of one of SCENES: scaled to cover, cropped, maybe mirrored."""
    img = real_photo(SCENES[rng.integers(len(SCENES))])
    h, w = img.shape[:2]
    s = max(W / w, H / h) * rng.uniform(1.0, 1.6)
    nw, nh = max(W, int(math.ceil(w * s))), max(H, int(math.ceil(h * s)))
    big = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    x, y = int(rng.integers(nw - W + 1)), int(rng.integers(nh - H + 1))
    out = big[y:y + H, x:x + W]
    return np.ascontiguousarray(out[:, ::-1] if rng.random() < 0.5 else out)


def _log_uniform(rng, lo, hi):
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


SIZES = {"small": (24, 40), "large": (200, 400), "multi": (40, 110)}   # face widths; others (60, 180)


def _composite(cond: str, rng, photo_crops: list, fer_crops: list) -> tuple:
    canvas = _scene_background(rng)
    faces: list[Face] = []

    def one(width, taken=()):
        """Place one face of ``width`` px with its box inside the image and, in
        ``multi``, its head (1.9 box widths, the photo patch) clear of the others'."""
        use_fer = bool(fer_crops) and rng.random() < 0.5
        crop = fer_crops[rng.integers(len(fer_crops))] if use_fer else photo_crops[rng.integers(len(photo_crops))]
        h = width * crop.box[3] / crop.box[2]
        for _ in range(200):
            cx = rng.uniform(width / 2 + 1, W - width / 2 - 1)
            cy = rng.uniform(h / 2 + 1, H - h / 2 - 1)
            if all(abs(cx - f.cx) > 0.95 * (width + f.w) or abs(cy - f.cy) > 0.95 * (h + f.h) for f in taken):
                break
        else:
            return None
        angle = rng.uniform(-45, 45) if cond == "rotated" else rng.uniform(-5, 5)
        return paste_face(canvas, crop, cx, cy, width, angle, flip=bool(rng.random() < 0.5))

    if cond == "multi":
        for _ in range(int(rng.integers(3, 7))):
            width = _log_uniform(rng, *SIZES["multi"])
            for _ in range(4):                  # crowded: try a smaller face
                f = one(width, faces)
                if f is not None:
                    break
                width = max(SIZES["multi"][0], width * 0.85)
            if f is not None:
                faces.append(f)
    elif cond != "no_face":
        faces.append(one(_log_uniform(rng, *SIZES.get(cond, (60, 180)))))

    for f in faces:
        if cond == "eyes_band":
            draw_sunglasses(canvas, f, rng)
        elif cond == "hand_forehead":
            draw_hand(canvas, f, rng, cu=0.0, cv=rng.uniform(-0.6, -0.5), scale=rng.uniform(0.9, 1.1),
                      rot=rng.uniform(-12, 12), mirror=bool(rng.random() < 0.5), thumb_up=True)
        elif cond == "mouth_cover":
            draw_hand(canvas, f, rng, cu=0.0, cv=rng.uniform(0.27, 0.33), scale=rng.uniform(0.7, 0.85),
                      rot=rng.uniform(-15, 15), mirror=bool(rng.random() < 0.5), thumb_up=False)
        elif cond == "scarf":
            draw_scarf(canvas, f, rng)

    if cond == "grey":
        canvas = cv2.cvtColor(cv2.cvtColor(canvas, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    elif cond == "low_contrast":
        mean = float(canvas.mean())
        canvas = np.clip(mean + 0.3 * (canvas.astype(np.float32) - mean) + 0.5, 0, 255).astype(np.uint8)
    elif cond == "blur":
        sigma = rng.uniform(2, 3) * faces[0].w / 100
        canvas = cv2.GaussianBlur(canvas, (0, 0), sigma)
    elif cond == "noise":       # a dim room's sensor noise: every pixel and channel on its own
        sd = rng.uniform(10, 20)
        canvas = np.clip(canvas + rng.normal(0.0, sd, canvas.shape), 0, 255).astype(np.uint8)
    elif cond == "jpeg":
        q = int(rng.integers(10, 21))
        _, buf = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, q])
        canvas = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return canvas, faces


def _fer_images(fer2013, n: int, seed: int) -> np.ndarray:
    """Up to ``n`` PublicTest faces (or faces of a plain (N, 48, 48) array), blank ones dropped."""
    images = np.asarray(fer2013.images[fer2013.usage == "PublicTest"] if hasattr(fer2013, "usage") else fer2013)
    images = images[images.reshape(len(images), -1).std(1) >= 10]
    idx = np.random.default_rng([seed, 9999]).choice(len(images), size=min(n, len(images)), replace=False)
    return images[np.sort(idx)]


def build_dataset(n_per_condition: int = 40, seed: int = 0, fer2013=None, n_fer: int = 300,
                  real: bool = True, progress: bool = False) -> list[Record]:
    """The benchmark images: the real photos (condition "real"), then
    ``n_per_condition`` composites for each of CONDITIONS.

    fer2013 : a loaded ``fer_au.data.FER2013`` (its PublicTest faces are used) or an
        (N, 48, 48) uint8 array, or None for the two photo faces only.
    Each condition draws from its own random stream, so the first k images of a
    condition are the same whatever ``n_per_condition`` is.
    """
    records = []
    if real:
        for name, boxes in REAL_PHOTOS.items():
            records.append(Record(name, "real", real_photo(name), [tuple(map(float, b)) for b in boxes],
                                  [{"source": name, "width": float(b[2]), "angle": 0.0} for b in boxes]))
    photo_crops = [photo_crop(real_photo(n), REAL_PHOTOS[n][0], n) for n in ("astronaut", "grace_hopper")]
    fer_crops = []
    if fer2013 is not None:
        fer_crops = [fer_crop(img, "fer2013") for img in _fer_images(fer2013, n_fer, seed)]
    jobs = [(c, i) for c in CONDITIONS for i in range(n_per_condition)]
    if progress:
        from tqdm import tqdm
        jobs = tqdm(jobs, desc="building", unit="img")
    rngs = {c: np.random.default_rng([seed, k]) for k, c in enumerate(CONDITIONS)}
    for cond, i in jobs:
        img, faces = _composite(cond, rngs[cond], photo_crops, fer_crops)
        records.append(Record(f"{cond}_{i:03d}", cond, img, [f.box for f in faces],
                              [{"source": f.source, "width": f.w, "angle": f.angle} for f in faces]))
    rng = np.random.default_rng([seed, len(CONDITIONS)])       # after the conditions' own streams
    for i in range(n_per_condition):
        img, face = _closeup(rng, fer_crops)
        records.append(Record(f"closeup_{i:03d}", "closeup", img, [face.box],
                              [{"source": face.source, "width": face.w, "angle": 0.0}]))
    return records


def _closeup(rng, fer_crops: list) -> tuple:
    """One close-up: a face with 1.0-1.6 face widths of room (a photo face) or a FER2013
    crop as it is, scaled to 96-480 px (square or 3:4 upright), randomly mirrored."""
    side = _log_uniform(rng, 96, 480)
    tall = rng.random() < 0.5
    if fer_crops and rng.random() < 0.5:
        crop = fer_crops[rng.integers(len(fer_crops))]
        src, (bx, by, bw, bh), source = crop.patch, crop.box, crop.source
    else:
        source = ("astronaut", "grace_hopper")[rng.integers(2)]
        photo = real_photo(source)
        x, y, w, h = REAL_PHOTOS[source][0]
        room = rng.uniform(1.0, 1.6) * w
        cx, cy = x + w / 2, y + h / 2 + 0.05 * h
        x0, y0 = int(round(cx - room / 2)), int(round(cy - room / 2))
        src = _square_cut(photo, x0, y0, int(round(room)))
        bx, by, bw, bh = x - x0, y - y0, w, h
    if tall:           # 3:4 upright: the same face with room added above and below
        extra = src.shape[0] // 6
        src = cv2.copyMakeBorder(src, extra, extra, 0, 0, cv2.BORDER_REPLICATE)
        by += extra
    f = side / src.shape[1]
    img = cv2.resize(np.ascontiguousarray(src), (int(round(side)), int(round(src.shape[0] * f))),
                     interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)
    bx, by, bw, bh = bx * f, by * f, bw * f, bh * f
    if rng.random() < 0.5:
        img = np.ascontiguousarray(img[:, ::-1])
        bx = img.shape[1] - bx - bw
    # with little room the brows or chin may be cut off: the box is what the image shows of it
    x0, y0 = max(bx, 0.0), max(by, 0.0)
    x1, y1 = min(bx + bw, float(img.shape[1])), min(by + bh, float(img.shape[0]))
    return img, Face((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0, 0.0, source)


# ---------------------------------------------------------------------------
# Matching
# ---------------------------------------------------------------------------


def match(gt_boxes, det_boxes, iou_min: float = IOU_MIN, size_ratio=SIZE_RATIO):
    """Greedy one-to-one matching (the rule in the module docstring).

    Returns ``(found, matched)``: ``found[i]`` is True when ground-truth face i got
    a detection, ``matched[j]`` when detection j was given to a face; the
    detections left False are false positives.
    """
    found, matched = [False] * len(gt_boxes), [False] * len(det_boxes)
    by_iou, by_centre = [], []
    for i, g in enumerate(gt_boxes):
        gx, gy, gw, gh = g
        for j, d in enumerate(det_boxes):
            o = iou(g, d)
            if o >= iou_min:
                by_iou.append((-o, i, j))
                continue
            dx, dy, dw, dh = d
            cx, cy = dx + dw / 2, dy + dh / 2
            ratio = math.sqrt(max(dw * dh, 1e-9) / max(gw * gh, 1e-9))
            if gx <= cx <= gx + gw and gy <= cy <= gy + gh and size_ratio[0] <= ratio <= size_ratio[1]:
                dist = math.hypot((cx - gx - gw / 2) / gw, (cy - gy - gh / 2) / gh)
                by_centre.append((dist, i, j))
    for _, i, j in sorted(by_iou) + sorted(by_centre):
        if not found[i] and not matched[j]:
            found[i] = matched[j] = True
    return found, matched


# ---------------------------------------------------------------------------
# Running the detectors and the report
# ---------------------------------------------------------------------------
class PhotoPath:
    """What ``analyze`` (``--upsample``) does to find the faces of a photo:
    ``FaceAnalyzer.detect_photo``, on its copy of at most ``detect_size`` px."""

    def __init__(self, upsample=None, detect_size=1280):
        from fer_au import FaceAnalyzer
        self.analyzer = FaceAnalyzer(emotion_model=None, au_model=None, aus=False, min_face=1,
                                     detect_size=detect_size, upsample=upsample)

    def detect(self, image):
        return self.analyzer.detect_photo(image)


def make_detectors(spec: str | None) -> dict:
    """``{label: detector}`` for "method[:upsample]" items (a ``FaceDetector`` on the
    image as it is) and "photo[:upsample][@detect_size]" items (the photo path of
    ``analyze``, ``PhotoPath``); those FaceDetector refuses (an unknown method, a
    missing package) are skipped with a note."""
    from fer_au import faces
    known = list(dict.fromkeys(KNOWN_METHODS + tuple(getattr(faces, "DETECTOR_METHODS", ()))))
    items = [s.strip() for s in spec.split(",") if s.strip()] if spec else known
    out = {}
    for label in items:
        method, _, up = label.partition(":")
        if label.startswith("photo"):
            head, _, size = label.partition("@")
            up = head.partition(":")[2]
            out[label] = PhotoPath(int(up) if up else None, int(size) if size else 1280)
            continue
        try:
            out[label] = faces.FaceDetector(method, upsample=int(up or 0), min_size=1)
        except (ValueError, ImportError, RuntimeError) as exc:
            print(f"note: skipping detector {label!r}: {type(exc).__name__}: {exc}")
    return out


def run(records, detectors, progress=True) -> None:
    """Detect on every record; stores ``record.results[label] = {dets, found, fp, ms}``."""
    it = records
    if progress:
        from tqdm import tqdm
        it = tqdm(records, desc="detecting", unit="img")
    for rec in it:
        for label, det in detectors.items():
            t0 = time.perf_counter()
            out = det.detect(rec.image)
            ms = (time.perf_counter() - t0) * 1000
            boxes = [tuple(float(v) for v in b) for b, _ in out]
            found, matched = match(rec.boxes, boxes)
            rec.results[label] = {"dets": boxes, "found": found, "fp": matched.count(False), "ms": ms}


def tally(records, label, face_filter=None) -> dict:
    """found/total faces and false positives per image over ``records`` for one detector."""
    found = total = fp = 0
    for rec in records:
        r = rec.results[label]
        fp += r["fp"]
        for ok, meta in zip(r["found"], rec.faces):
            if face_filter is None or face_filter(meta):
                total += 1
                found += ok
    n = len(records)
    return {"images": n, "faces": total, "found": found, "recall": found / total if total else None,
            "fp": fp, "fp_per_image": fp / n if n else None}


def timing_probe(records) -> Record:
    """The "plain" composite of median texture (mean |Laplacian|): Haar's cost, for
    one, varies up to 5x with how busy the background is.  Chosen from the pixels,
    not from measured times, so that it does not depend on the machine's load."""
    plain = [r for r in records if r.condition == "plain"]
    texture = [float(np.abs(cv2.Laplacian(cv2.cvtColor(r.image, cv2.COLOR_BGR2GRAY), cv2.CV_32F)).mean())
               for r in plain]
    return plain[int(np.argsort(texture)[len(plain) // 2])]


def time_detector(det, image, calls: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        det.detect(image)
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        det.detect(image)
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))


def _cell(t: dict, with_fp=True) -> str:
    if t["faces"]:
        rec = f"{t['recall']:6.1%} {t['found']:>4}/{t['faces']:<4}"
    else:
        rec = f"{'-':>6} {'':9}"
    return rec + (f" {t['fp_per_image']:5.2f}" if with_fp else "")


def print_table(title, rows, labels, with_fp=True) -> None:
    """rows: [(row name, images, faces, {label: tally})]."""
    sub = f"{'recall':>6} {'found/all':^9}" + (f" {'FP/im':>5}" if with_fp else "")
    w = len(sub)
    print(f"\n{title}")
    print(f"{'':<28}{'imgs':>5}{'faces':>6} |" + " |".join(f" {lab:<{w}}" for lab in labels))
    line = f"{'':<28}{'':>5}{'':>6} |" + " |".join(f" {sub}" for _ in labels)
    print(line)
    print("-" * len(line))
    for name, n_img, n_faces, t in rows:
        print(f"{name:<28}{n_img:>5}{n_faces:>6} |" + " |".join(f" {_cell(t[lab], with_fp):<{w}}" for lab in labels))


def save_examples(records, labels, folder: Path, per_condition: int = 2) -> int:
    """Annotated PNGs: one panel per detector, green = ground truth, red = detections."""
    folder.mkdir(parents=True, exist_ok=True)
    count, seen = 0, {}
    for rec in records:
        k = seen.get(rec.condition, 0)
        if rec.condition != "real" and k >= per_condition:
            continue
        if rec.condition == "real" and not rec.boxes and rec.name != "chelsea":
            continue
        seen[rec.condition] = k + 1
        panels = []
        for lab in labels:
            img = rec.image.copy()
            for x, y, w, h in rec.boxes:
                cv2.rectangle(img, (int(round(x)), int(round(y))), (int(round(x + w)), int(round(y + h))),
                              (0, 255, 0), 2)
            for x, y, w, h in rec.results[lab]["dets"]:
                cv2.rectangle(img, (int(round(x)), int(round(y))), (int(round(x + w)), int(round(y + h))),
                              (0, 0, 255), 2)
            r = rec.results[lab]
            text = f"{lab}: {sum(r['found'])}/{len(rec.boxes)} found, {r['fp']} FP"
            scale = max(0.5, img.shape[1] / 900)
            cv2.putText(img, text, (8, int(28 * scale)), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 4, cv2.LINE_AA)
            cv2.putText(img, text, (8, int(28 * scale)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                        cv2.LINE_AA)
            panels.append(img)
        out = np.hstack(panels)
        if out.shape[1] > 800 * len(panels):      # keep big real photos viewable
            f = 800 * len(panels) / out.shape[1]
            out = cv2.resize(out, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        name = rec.name if rec.condition != "real" else "real_" + Path(rec.name.split(" ")[0]).stem
        cv2.imwrite(str(folder / f"{name}.png"), out)
        count += 1
    return count


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--detectors", default=None,
                    help="comma-separated method[:upsample], e.g. hog,haar,blazeface,hog:1, or "
                         "photo[:upsample][@detect_size] for analyze's photo path (FaceAnalyzer.detect) "
                         f"(default: each of {', '.join(KNOWN_METHODS)}, ... that FaceDetector accepts)")
    ap.add_argument("--n-per-condition", type=int, default=40, help="composites per condition (default 40)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=None, help="FER2013 (default: found as fer_au.data.find_data does)")
    ap.add_argument("--no-fer", action="store_true", help="use the two photo faces only, even with FER2013 present")
    ap.add_argument("--fer-faces", type=int, default=300, help="FER2013 PublicTest faces to draw from (default 300)")
    ap.add_argument("--timing-calls", type=int, default=20, help="calls per ms/frame median (default 20)")
    ap.add_argument("--json", default=None, help="write every figure (and per-image results) here")
    ap.add_argument("--save-examples", default=None, metavar="DIR", help="write annotated PNGs here")
    ap.add_argument("--canvas", default="640x480", metavar="WxH",
                    help="size of the composites (default 640x480); the faces keep their sizes in "
                         "pixels (24-400 px), so a large canvas asks for small faces in a large photo")
    args = ap.parse_args()
    if args.n_per_condition < 1:
        ap.error("--n-per-condition must be at least 1")
    global W, H
    try:
        W, H = (int(v) for v in args.canvas.lower().split("x"))
    except ValueError:
        ap.error(f"--canvas must be WIDTHxHEIGHT, e.g. 4000x3000, not {args.canvas!r}")

    command = "python bench/detection.py" + "".join(f" {a}" for a in sys.argv[1:])
    print(f"$ {command}")
    cpu = cpu_model()
    print(f"CPU: {cpu}, {os.cpu_count()} cores visible; OpenCV threads {cv2.getNumThreads()}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; load average {os.getloadavg()[0]:.2f} at start")

    detectors = make_detectors(args.detectors)
    if not detectors:
        sys.exit("no detector left to benchmark")
    labels = list(detectors)

    fer, fer_path = None, None
    if not args.no_fer:
        from fer_au.data import find_data, load_fer2013
        if args.data:
            from _data import fer2013_path
            fer_path = fer2013_path(args.data)
        else:
            fer_path = find_data()
        if fer_path is None:
            print("note: FER2013 not found (--data PATH); composites use the two photo faces only")
        else:
            fer = load_fer2013(fer_path)

    t0 = time.perf_counter()
    records = build_dataset(args.n_per_condition, args.seed, fer, n_fer=args.fer_faces, progress=True)
    n_fer = len(_fer_images(fer, args.fer_faces, args.seed)) if fer is not None else 0
    print(f"data: {len(REAL_PHOTOS)} real photos + {len(CONDITIONS)} conditions x {args.n_per_condition} "
          f"composites {W}x{H} + {args.n_per_condition} close-ups (seed {args.seed}); "
          f"composite faces: astronaut, Grace Hopper"
          + (f" and {n_fer} FER2013 PublicTest faces ({fer_path})" if fer is not None else "")
          + f"; built in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    run(records, detectors)
    print(f"detection over {len(records)} images took {time.perf_counter() - t0:.0f} s")

    real = [r for r in records if r.condition == "real"]
    close = [r for r in records if r.condition == "closeup"]
    comp = [r for r in records if r.condition not in ("real", "closeup")]
    summary = {"command": command, "cpu": cpu, "cores": os.cpu_count(), "seed": args.seed,
               "n_per_condition": args.n_per_condition, "detectors": labels,
               "fer2013": str(fer_path) if fer is not None else None, "fer2013_faces": n_fer,
               "match_rule": f"greedy one-to-one: IoU >= {IOU_MIN} (highest first), then centre inside the "
                             f"ground-truth box and sqrt(area ratio) in [{SIZE_RATIO[0]}, {SIZE_RATIO[1]}]"}

    def rows_for(groups):
        rows = []
        for name, recs, flt in groups:
            t = {lab: tally(recs, lab, flt) for lab in labels}
            # with a face filter, count the images holding such a face
            n_img = len(recs) if flt is None else sum(any(map(flt, r.faces)) for r in recs)
            rows.append((name, n_img, t[labels[0]]["faces"], t))
        return rows

    print(f"\nrecall = faces found / faces; FP/im = unmatched detections per image.  A match: IoU >= {IOU_MIN}, "
          f"or the detection's centre inside the face box with sqrt(area ratio) in "
          f"[{SIZE_RATIO[0]}, {SIZE_RATIO[1]}].")
    cond_rows = rows_for([(c, [r for r in comp if r.condition == c], None) for c in CONDITIONS])
    cond_rows += rows_for([("all composites", comp, None), ("real photos", real, None),
                           ("close-ups", close, None)]
                          + [(f"close-ups: {s}", close, lambda m, s=s: m["source"] == s)
                             for s in ("astronaut", "grace_hopper", "fer2013")])
    print_table("by condition", cond_rows, labels)
    summary["conditions"] = {name: t for name, _, _, t in cond_rows}

    real_rows = rows_for([(r.name, [r], None) for r in real])
    print_table("real photos, one by one", real_rows, labels)
    summary["real_photos"] = {name: t for name, _, _, t in real_rows}

    upright = [r for r in comp if r.condition in ("plain", "small", "large", "multi")]
    bins = [(24, 40), (40, 60), (60, 100), (100, 200), (200, 401)]
    size_rows = rows_for([(f"width {lo}-{min(hi, 400)} px", upright,
                           lambda m, lo=lo, hi=hi: lo <= m["width"] < hi) for lo, hi in bins])
    print_table("upright, uncovered faces (plain, small, large, multi) by face width", size_rows, labels,
                with_fp=False)
    summary["by_width"] = {name: t for name, _, _, t in size_rows}

    rot = [r for r in comp if r.condition == "rotated"]
    angle_rows = rows_for([(f"|angle| {lo}-{hi} deg", rot, lambda m, lo=lo, hi=hi: lo <= abs(m["angle"]) < hi + 1e-9)
                           for lo, hi in ((0, 15), (15, 30), (30, 45))])
    print_table("rotated faces by in-plane angle", angle_rows, labels, with_fp=False)
    summary["by_angle"] = {name: t for name, _, _, t in angle_rows}

    sized = [r for r in comp if r.condition in ("plain", "large")]
    sources = ("astronaut", "grace_hopper", "fer2013")
    src_rows = rows_for([(f"{s} (plain, large)", sized, lambda m, s=s: m["source"] == s) for s in sources]
                        + [(f"{s} (all)", comp, lambda m, s=s: m["source"] == s) for s in sources])
    print_table("by face source: upright faces of 60-400 px, and every composite", src_rows, labels, with_fp=False)
    summary["by_source"] = {name: t for name, _, _, t in src_rows}

    probe = timing_probe(comp)
    print(f"\nms per {W}x{H} frame: median of {args.timing_calls} calls on {probe.name} (the plain composite of "
          f"median texture) after 2 warm-up calls [median over all {len(comp)} composites of the run]")
    summary["ms_per_frame"] = {}
    for lab, det in detectors.items():
        ms = time_detector(det, probe.image, args.timing_calls)
        run_ms = float(np.median([r.results[lab]["ms"] for r in comp]))
        print(f"  {lab:<12}{ms:8.1f} ms   [{run_ms:.1f}]")
        summary["ms_per_frame"][lab] = {"median_ms": ms, "calls": args.timing_calls, "image": probe.name,
                                        "run_median_ms": run_ms}

    print(f"load average now {os.getloadavg()[0]:.2f} (other processes on the machine slow the timings)")
    summary["load_average_end"] = os.getloadavg()[0]
    if args.save_examples:
        n = save_examples(records, labels, Path(args.save_examples))
        print(f"\nwrote {n} annotated PNGs to {args.save_examples} (green: ground truth, red: detections)")
    if args.json:
        summary["images"] = [{"name": r.name, "condition": r.condition, "size": list(r.image.shape[1::-1]),
                              "boxes": [[round(v, 1) for v in b] for b in r.boxes], "faces": r.faces,
                              "results": {lab: {"dets": [[round(v, 1) for v in b] for b in res["dets"]],
                                                "found": res["found"], "fp": res["fp"], "ms": round(res["ms"], 2)}
                                          for lab, res in r.results.items()}} for r in records]
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(summary, indent=1, default=float))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
