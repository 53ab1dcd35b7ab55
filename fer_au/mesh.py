"""MediaPipe's face models, run offline: BlazeFace detection and the 468-point face mesh.

>>> det = BlazeFace()                       # full-range model, whole frame + tiles
>>> for box, score in det.detect(bgr):      # [((x, y, w, h), score), ...] in pixels
...     mesh, presence = FaceMesh().predict(bgr, box)   # (468, 3) pixels, z = depth
...     lm68 = to_68(mesh)                  # the iBUG 68 points (dlib's order)

The three ``.tflite`` files in ``models/`` are copied unchanged from the
``mediapipe`` 0.10.21 wheel on PyPI (Apache-2.0, ``models/LICENSE.mediapipe``); they
run in the LiteRT interpreter (``ai-edge-litert``) or, where that is missing, in
TensorFlow's own ``tf.lite.Interpreter``.  Nothing is downloaded.

What the models are (MediaPipe's model cards):
* ``face_detection_short_range``: BlazeFace, 128x128 input, faces within ~2 m of
  a selfie camera (large in the frame).
* ``face_detection_full_range_sparse``: BlazeFace full range, 192x192 input,
  faces up to ~5 m (small in the frame).
* ``face_landmark``: the face mesh, a 192x192 crop around the face (rotated so
  the eyes are level) in, 468 3-D points out; z is depth in the x scale, smaller
  = nearer the camera.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

DETECTOR_FILES = {"full": "face_detection_full_range_sparse.tflite",
                  "short": "face_detection_short_range.tflite"}
MESH_FILE = "face_landmark.tflite"


def model_file(name: str, models_dir=None) -> Path:
    """The path of one of the MediaPipe files after checking it against the manifest."""
    from .zoo import verified_path
    return verified_path(name, models_dir)


def _interpreter(path, threads: int = 1):
    """A ready TFLite interpreter: LiteRT where installed, else TensorFlow's."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:   # pragma: no cover - only without ai-edge-litert
        import warnings

        import tensorflow as tf
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")      # "tf.lite.Interpreter is deprecated"
            Interpreter = tf.lite.Interpreter
    it = Interpreter(model_path=str(path), num_threads=threads)
    it.allocate_tensors()
    return it


class _TFLite:
    """One model, one input tensor; ``run(x)`` returns the outputs in a fixed order."""

    def __init__(self, path, output_order: list[str], threads: int = 1):
        self.it = _interpreter(path, threads)
        inp = self.it.get_input_details()[0]
        self._in = inp["index"]
        self.size = int(inp["shape"][1])
        by_name = {d["name"]: d["index"] for d in self.it.get_output_details()}
        self._out = [by_name[n] for n in output_order]

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        self.it.set_tensor(self._in, np.ascontiguousarray(x, np.float32))
        self.it.invoke()
        return [self.it.get_tensor(i) for i in self._out]


def _rgb(image: np.ndarray) -> np.ndarray:
    """uint8 RGB from grey, BGR or BGRA."""
    import cv2
    img = np.asarray(image)
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB if img.shape[2] == 4 else cv2.COLOR_BGR2RGB)


# ---------------------------------------------------------------------------
# BlazeFace
# ---------------------------------------------------------------------------
def _anchors(size: int, strides: list[int], per_cell: list[int]) -> np.ndarray:
    """SSD anchor centres (N, 2) in [0, 1], MediaPipe's order (cell-major, then anchor)."""
    out = []
    for stride, k in zip(strides, per_cell):
        n = size // stride
        ys, xs = np.mgrid[0:n, 0:n]
        c = np.stack([(xs + 0.5) / n, (ys + 0.5) / n], -1).reshape(-1, 1, 2)
        out.append(np.repeat(c, k, axis=1).reshape(-1, 2))
    return np.concatenate(out).astype(np.float32)


# From MediaPipe's face_detection_{short,full}_range graphs (fixed-size anchors):
# short: strides 8, 16, 16, 16 -> 16x16x2 + 8x8x6 = 896; full: stride 4 -> 48x48 = 2304.
_BLAZE = {"short": dict(strides=[8, 16], per_cell=[2, 6], outputs=["regressors", "classificators"]),
          "full": dict(strides=[4], per_cell=[1], outputs=["Identity", "Identity_1"])}


def _weighted_nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[tuple[np.ndarray, float]]:
    """MediaPipe's 'weighted' suppression: overlapping boxes are averaged, weighted by score.

    ``boxes`` (N, 4+2k) as x0, y0, x1, y1, keypoints...; returns [(row, score)]."""
    order = np.argsort(-scores)
    boxes, scores = boxes[order], scores[order]
    left = np.ones(len(boxes), bool)
    out = []
    for i in range(len(boxes)):
        if not left[i]:
            continue
        b = boxes[i]
        x0 = np.maximum(b[0], boxes[:, 0])
        y0 = np.maximum(b[1], boxes[:, 1])
        x1 = np.minimum(b[2], boxes[:, 2])
        y1 = np.minimum(b[3], boxes[:, 3])
        inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        ov = inter / np.maximum(area + (b[2] - b[0]) * (b[3] - b[1]) - inter, 1e-9)
        # the same face seen in two views (whole image, tile) can come out of a
        # different size: of two boxes of similar size, one centred inside the other, keep one
        cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        ratio = area / max((b[2] - b[0]) * (b[3] - b[1]), 1e-9)
        bx, by = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        inside = (((cx > b[0]) & (cx < b[2]) & (cy > b[1]) & (cy < b[3]))
                  | ((bx > boxes[:, 0]) & (bx < boxes[:, 2]) & (by > boxes[:, 1]) & (by < boxes[:, 3])))
        inside &= (ratio > 0.25) & (ratio < 4)
        group = left & ((ov > iou) | inside)
        w = scores[group]
        out.append(((boxes[group] * w[:, None]).sum(0) / w.sum(), float(scores[i])))
        left &= ~group
    return out


class BlazeFace:
    """MediaPipe's BlazeFace face detector (offline, ~4 ms per 192x192 pass on one core).

    model : "full" (full range, 192x192; default) or "short" (128x128, faces
        that fill much of the input).
    tiles : how many tiles per image side to search besides the whole image
        (0 = whole image only). The full-range model finds faces down to about
        1/12 of the side of what it sees, i.e. ~50 px in a 640x480 frame;
        ``tiles=2`` adds a 2x2 grid of overlapping half-size views (5 passes in
        all) and finds faces down to ~25 px.
    score_threshold : minimum face probability kept (MediaPipe uses 0.5).
    """

    def __init__(self, model: str = "full", tiles: int = 0, score_threshold: float = 0.5,
                 models_dir=None, threads: int = 1):
        if model not in _BLAZE:
            raise ValueError(f"unknown BlazeFace model {model!r}; use 'full' or 'short'")
        cfg = _BLAZE[model]
        self.model, self.tiles, self.score_threshold = model, int(tiles), float(score_threshold)
        self._net = _TFLite(model_file(DETECTOR_FILES[model], models_dir), cfg["outputs"], threads)
        self.size = self._net.size
        self._anchors = _anchors(self.size, cfg["strides"], cfg["per_cell"])

    def _pass(self, rgb: np.ndarray, x0: int, y0: int, side: int) -> tuple[np.ndarray, np.ndarray]:
        """Detect in the square view (x0, y0, side) of ``rgb`` (padded with black
        where it leaves the image); rows of x0, y0, x1, y1, 6 keypoints, image pixels."""
        import cv2
        h, w = rgb.shape[:2]
        s = self.size / side
        m = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], np.float32)
        view = cv2.warpAffine(rgb, m, (self.size, self.size), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)
        reg, cls = self._net.run((view.astype(np.float32) / 127.5 - 1.0)[None])
        logits = np.clip(cls[0, :, 0], -100, 100)
        keep = logits > math.log(self.score_threshold / (1 - self.score_threshold))
        if not keep.any():
            return np.zeros((0, 16), np.float32), np.zeros(0, np.float32)
        r, a = reg[0, keep] / self.size, self._anchors[keep]
        cx, cy = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1]
        bw, bh = r[:, 2], r[:, 3]
        kp = r[:, 4:16].reshape(-1, 6, 2) + a[:, None, :]
        rows = np.concatenate([np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1),
                               kp.reshape(-1, 12)], 1) * side
        rows[:, 0::2] += x0
        rows[:, 1::2] += y0
        return rows.astype(np.float32), 1.0 / (1.0 + np.exp(-logits[keep]))

    def views(self, shape, tiles: int | None = None) -> list[tuple[int, int, int]]:
        """The square views searched in an image of ``shape``: the whole image
        (letterboxed), then ``tiles`` x ``tiles`` overlapping ones (default: the
        detector's ``tiles``), with a ``MID_TILES`` x ``MID_TILES`` grid between
        the two when ``tiles`` is finer (``MID_TILES``)."""
        tiles = self.tiles if tiles is None else int(tiles)
        h, w = shape[:2]
        side = max(h, w)
        out = [(0, 0, side)]
        for grid in ([MID_TILES] if tiles > MID_TILES else []) + ([tiles] if tiles > 1 else []):
            t = min(int(math.ceil(1.25 * side / grid)), side)   # 25 % overlap
            out += square_views(shape, t, 0.8 * t)
        return out

    def detect_full(self, image: np.ndarray, tiles: int | None = None) -> list[dict]:
        """Faces as dicts: ``box`` (x, y, w, h), ``score``, ``keypoints`` (6, 2) -
        right eye, left eye, nose tip, mouth, right ear, left ear (the subject's).
        ``tiles`` overrides the detector's own for this call."""
        return self.detect_full_rgb(_rgb(image), tiles)

    def detect_full_rgb(self, rgb: np.ndarray, tiles: int | None = None, only: int | None = None,
                        views: list | None = None, tile_keep=None) -> list[dict]:
        """As ``detect_full`` for an image already in RGB (skips the conversion).  ``only``:
        search that one tile of the grid (1, 2, ... in ``views``' order), not the whole image.
        ``views``: search these (x0, y0, side) squares instead, the whole image first;
        ``tile_keep``: which faces a tile keeps (default ``_whole_small_faces``)."""
        h, w = rgb.shape[:2]
        rows, scores = [], []
        for k, (x0, y0, side) in enumerate(views or self.views(rgb.shape, tiles)):
            if only is not None and k != only:
                continue
            r, sc = self._pass(rgb, x0, y0, side)
            if k:       # a tile: only the small faces it is there for, whole in the tile
                keep = (tile_keep or _whole_small_faces)(r, x0, y0, side, w, h)
                r, sc = r[keep], sc[keep]
            rows.append(r)
            scores.append(sc)
        if not rows:
            return []
        faces = _weighted_nms(np.concatenate(rows), np.concatenate(scores), 0.3)
        if not faces:
            return []
        out = []
        for row, score in _drop_inner(faces):
            x0, y0 = max(float(row[0]), 0.0), max(float(row[1]), 0.0)
            x1, y1 = min(float(row[2]), float(w)), min(float(row[3]), float(h))
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            out.append({"box": (x0, y0, x1 - x0, y1 - y0), "score": score,
                        "keypoints": row[4:].reshape(6, 2).copy()})
        return sorted(out, key=lambda d: d["box"][0])

    def detect(self, image: np.ndarray, tiles: int | None = None) -> list:
        """``[((x, y, w, h), score), ...]`` in pixels, left to right."""
        return [(tuple(int(round(v)) for v in d["box"]), d["score"]) for d in self.detect_full(image, tiles)]


# A tile is searched for the faces too small for the whole-image pass (under ~1/12 of
# the image's side); larger faces and faces the tile's edge cuts are left to that pass or
# to the neighbouring tile (tiles overlap by 25 %): a tile sees only part of a large face
# and took it for a small one (bench/detection.py, session 11: 37 of 65 false positives
# with tiles lay on a real face), and its box of a face the whole image finds well
# would move that face's box.
TILE_MAX_FACE = 0.15     # of the image's longer side
# A tile keeps only the faces wholly inside it (TILE_EDGE), and tiles step by 80 % of their
# side, so a grid holds a face wherever it lies only up to ~0.16 of its tiles' side (0.2 /
# grid of the image's side), while the whole image resolves faces from ~1/12 of its side.
# A 3x3 grid nearly closes that gap (0.067); a finer one alone does not (8x8: 0.025), and
# an 8x8 grid of a 4000x3000 photo lost faces of 100-400 px where they straddled its tiles'
# edges, so finer grids are searched together with a 3x3 one.
MID_TILES = 3
# ... and a tile of a finer grid keeps faces up to the share of its side that TILE_MAX_FACE
# is of a 3x3 grid's tile (0.15 / (1.25 / 3)): an 8x8 grid's tile, a face's size in a 4000x3000
# photo, took the eyes and nose of a 900-px face for a face of their own, and the weighted
# NMS averaged that box into the face's (84 px off).  2x2 and 3x3 grids are unchanged.
TILE_MAX_SHARE = TILE_MAX_FACE * MID_TILES / 1.25
TILE_EDGE = 0.02         # of the tile's side: a box this close to an inner tile edge is cut


def square_views(shape, side: int, step: float) -> list[tuple[int, int, int]]:
    """Square views (x0, y0, side) covering an image of ``shape``, row by row, at most ``step``
    apart and spread evenly so the last one ends at the image's edge."""
    h, w = shape[:2]

    def starts(dim):
        if dim <= side:
            return [0]
        n = int(math.ceil((dim - side) / step)) + 1
        return [round(i * (dim - side) / (n - 1)) for i in range(n)]
    return [(x, y, side) for y in starts(h) for x in starts(w)]


def _drop_inner(faces: list) -> list:
    """``_weighted_nms``'s (row, score) list without the boxes lying mostly (60 %) inside
    a box at least twice their area and at least as probable: a part of a face (an eye,
    a tile's view of a cheek) taken for a small face of its own.  A less probable box
    around a face is no reason to drop it (session 14: a tile's 0.17 box on the grey
    around a small face removed the whole image's 0.35 detection of that face)."""
    return [(r, si) for i, (r, si) in enumerate(faces)
            if not any(j != i and sj >= si and lies_inside(r, q) for j, (q, sj) in enumerate(faces))]


def lies_inside(a, b) -> bool:
    """Does box ``a`` (x0, y0, x1, y1) lie mostly (60 % of its area) inside ``b``, a box at
    least twice its area: a part of a face taken for a small face of its own?"""
    area_a = max(float(a[2] - a[0]) * float(a[3] - a[1]), 1e-9)
    area_b = max(float(b[2] - b[0]) * float(b[3] - b[1]), 1e-9)
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    return area_b >= 2 * area_a and iw > 0 and ih > 0 and iw * ih >= 0.6 * area_a


def _whole_small_faces(rows: np.ndarray, x0: int, y0: int, side: int, w: int, h: int) -> np.ndarray:
    """Which detections of a tile (rows as BlazeFace._pass returns) are small faces
    lying wholly inside it (edges that are the image's own edges do not count)."""
    x_lo, y_lo, x_hi, y_hi = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
    small = np.maximum(x_hi - x_lo, y_hi - y_lo) <= min(TILE_MAX_FACE * max(w, h), TILE_MAX_SHARE * side)
    return small & whole_faces(rows, x0, y0, side, w, h)


def whole_faces(rows: np.ndarray, x0: int, y0: int, side: int, w: int, h: int) -> np.ndarray:
    """Which detections of a tile lie wholly inside it, whatever their size (edges that are
    the image's own edges do not count)."""
    x_lo, y_lo, x_hi, y_hi = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
    m = TILE_EDGE * side
    return (((x_lo >= x0 + m) | (x0 <= 0)) & ((y_lo >= y0 + m) | (y0 <= 0))
            & ((x_hi <= x0 + side - m) | (x0 + side >= w)) & ((y_hi <= y0 + side - m) | (y0 + side >= h)))


# ---------------------------------------------------------------------------
# Face mesh
# ---------------------------------------------------------------------------
# Mesh indices used to place the crop (MediaPipe's landmark-to-ROI rule).
R_EYE_OUTER, L_EYE_OUTER = 33, 263


class FaceMesh:
    """MediaPipe's 468-point face mesh on one face.

    ``predict(image, box)`` crops a square 1.5x the box around it, runs the mesh,
    then (``refine=True``) crops again around the mesh it found, rotated so the
    eyes are level - MediaPipe's own tracking rule - and runs it once more, so the
    result hardly depends on which detector drew the box. Returns the mesh
    (468, 3) float32 in image pixels (z: depth in the same units, smaller =
    nearer) and the model's face-presence probability.
    """

    def __init__(self, models_dir=None, threads: int = 1):
        self._net = _TFLite(model_file(MESH_FILE, models_dir), ["conv2d_21", "conv2d_31"], threads)
        self.size = self._net.size

    def _run(self, rgb, cx, cy, side, angle):
        """Mesh in the square (centre, side) rotated by ``angle`` (radians, image axes)."""
        import cv2
        n = self.size
        c, s = math.cos(angle) * side / n, math.sin(angle) * side / n
        # crop pixel (u, v) -> image (x, y)
        m = np.array([[c, -s, cx - c * n / 2 + s * n / 2], [s, c, cy - s * n / 2 - c * n / 2]])
        crop = cv2.warpAffine(rgb, m, (n, n), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        pts, flag = self._net.run((crop.astype(np.float32) / 255.0)[None])
        p = pts.reshape(468, 3).astype(np.float64)
        xy = p[:, :2] @ m[:, :2].T + m[:, 2]
        z = p[:, 2:] * side / n
        return np.hstack([xy, z]).astype(np.float32), float(1.0 / (1.0 + math.exp(-float(flag.ravel()[0]))))

    def predict(self, image, box, refine: bool = True, angle: float = 0.0):
        """(mesh (468, 3), presence) for the face in ``box`` = (x, y, w, h)."""
        return self.predict_rgb(_rgb(image), box, refine, angle)

    def predict_rgb(self, rgb, box, refine: bool = True, angle: float = 0.0):
        """As ``predict`` for an image already in RGB (skips the conversion)."""
        x, y, w, h = [float(v) for v in box]
        mesh, score = self._run(rgb, x + w / 2, y + h / 2, 1.5 * max(w, h), angle)
        if refine:
            mesh, score = self._run(rgb, *roi_from_mesh(mesh))
        return mesh, score

    def track(self, rgb, mesh):
        """Follow a face into the next frame from its previous mesh (no detector)."""
        return self._run(rgb, *roi_from_mesh(mesh))


def roi_from_mesh(mesh: np.ndarray) -> tuple[float, float, float, float]:
    """(cx, cy, side, angle) of MediaPipe's crop for a face whose mesh is known:
    the mesh's box, rotated so the outer eye corners are level, 1.5x its longer side."""
    p = np.asarray(mesh)[:, :2].astype(np.float64)
    d = p[L_EYE_OUTER] - p[R_EYE_OUTER]
    angle = math.atan2(d[1], d[0])
    c, s = math.cos(angle), math.sin(angle)
    centre = (p.min(0) + p.max(0)) / 2
    # extent in the face's own (de-rotated) axes
    q = (p - centre) @ np.array([[c, -s], [s, c]])
    lo, hi = q.min(0), q.max(0)
    mid = centre + np.array([[c, -s], [s, c]]) @ ((lo + hi) / 2)
    side = 1.5 * float(max(hi - lo))
    return float(mid[0]), float(mid[1]), side, angle


def crop_box(shape) -> tuple[float, float, float, float]:
    """The face box assumed for a pre-cropped face (FER2013 framing: the face fills
    the crop from brows to chin), as (x, y, w, h) of the crop."""
    h, w = shape[:2]
    return (0.0, -0.08 * h, float(w), 1.08 * h)   # MediaPipe's box reaches the forehead


# ---------------------------------------------------------------------------
# The iBUG 68 points from the mesh
# ---------------------------------------------------------------------------
# dlib / iBUG 300-W point -> the mesh vertices that lie on the same anatomical
# point (averaged).  "Right" is the subject's right (image left in a frontal face),
# as in both conventions.  Chosen by anatomy, then checked against dlib's points
# on full-resolution faces (scripts/mesh68_check.py prints the offsets).  The
# jaw points are fixed points of the skin, not dlib's silhouette, so they part
# from dlib's when the head turns.
MESH_TO_68: list[tuple[int, ...]] = [
    # jaw 0-16, from the right ear to the left
    (127, 234), (234, 93), (93, 132), (132, 58), (58, 172), (136,), (150,), (176,), (152,),
    (400,), (379,), (365,), (397, 288), (288, 361), (361, 323), (323, 454), (454, 356),
    # right brow 17-21 (outer to inner), left brow 22-26 (inner to outer): upper and lower edge
    (70, 46), (63, 53), (105, 52), (66, 65), (107, 55),
    (336, 285), (296, 295), (334, 282), (293, 283), (300, 276),
    # nose bridge 27-30, nostrils 31-35
    (168,), (197,), (5,), (4,), (98,), (97,), (2,), (326,), (327,),
    # right eye 36-41: outer corner, upper lid x2, inner corner, lower lid x2
    (33,), (160,), (158,), (133,), (153,), (144,),
    # left eye 42-47: inner corner, upper lid x2, outer corner, lower lid x2
    (362,), (385,), (387,), (263,), (373,), (380,),
    # outer lips 48-59: right corner, upper lip to the left corner, lower lip back
    (61,), (40,), (37,), (0,), (267,), (270,), (291,), (321,), (314,), (17,), (84,), (91,),
    # inner lips 60-67
    (78,), (81,), (13,), (311,), (308,), (402,), (14,), (178,),
]


# MESH_TO_68 as a (68, 468) averaging matrix: one product per face instead of 68 means
_TO_68 = np.zeros((68, 468), np.float32)
for _i, _ix in enumerate(MESH_TO_68):
    _TO_68[_i, list(_ix)] = 1.0 / len(_ix)


def to_68(mesh: np.ndarray, dims: int = 2) -> np.ndarray:
    """(..., 468, 2 or 3) mesh -> (..., 68, dims) points in dlib's order (x, y; z too with dims=3)."""
    return np.matmul(_TO_68, np.asarray(mesh, np.float32)[..., :dims])


# ---------------------------------------------------------------------------
# Meshes of a whole data set of face crops, cached
# ---------------------------------------------------------------------------
MESH_CACHE_VERSION = 1
_SHARED: dict = {}


def shared_mesh() -> FaceMesh:
    """One ``FaceMesh`` per process (the detector's verifier, the analyzer, the crop cache)."""
    if "mesh" not in _SHARED:
        _SHARED["mesh"] = FaceMesh()
    return _SHARED["mesh"]


def predict_crops(images, progress: bool = False):
    """Meshes of pre-cropped faces (FER2013-style, any size): ``(meshes (N, 468, 3)
    float32 in crop pixels, presence (N,) float32)``."""
    fm = shared_mesh()
    n = len(images)
    meshes = np.zeros((n, 468, 3), np.float32)
    presence = np.zeros(n, np.float32)
    it = range(n)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc="face mesh", unit="face")
    for i in it:
        meshes[i], presence[i] = fm.predict(images[i], crop_box(images[i].shape))
    return meshes, presence


def crop_meshes(images, cache: bool = True, cache_dir=None, progress: bool = False):
    """``predict_crops`` cached on disk by image content (``faces.cached_per_image``);
    all of FER2013 takes ~5 min on one core, cached about a second."""
    from .faces import cached_per_image
    return cached_per_image(images, f"mesh-v{MESH_CACHE_VERSION}",
                            lambda im: predict_crops(im, progress=progress), cache=cache, cache_dir=cache_dir)
