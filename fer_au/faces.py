"""Faces in images: detection, dlib's 68 landmarks, similarity alignment, head pose.

>>> det, lmp = FaceDetector(), LandmarkPredictor()
>>> for box, score in det.detect(gray):
...     lm = lmp.predict(gray, box)            # (68, 2) pixels of `gray`
...     pitch, roll, yaw = head_pose(lm, gray.shape)
...     crop = align_face(gray, lm)            # 48x48, FER2013-like framing
>>> lm48 = lmp.predict_crop(fer_image)        # a FER2013-style 48x48 crop

Everything runs offline: the HOG detector is built into dlib, the landmark model
ships in the ``face-recognition-models`` package and the Haar cascade in OpenCV.
"""
from __future__ import annotations

import math

import numpy as np

from .geometry import CANONICAL_68, STABLE, shape_residual, similarity_params

Box = tuple  # (x, y, w, h) in pixels


def _gray(image: np.ndarray) -> np.ndarray:
    """uint8 single-channel view of a grey, BGR or BGRA image."""
    import cv2
    img = np.asarray(image)
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY if img.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img)


DETECTOR_METHODS = ("blazeface", "hog", "haar")


class FaceDetector:
    """Face detector, loaded once and reused.

    method : ``"blazeface"`` (MediaPipe's full-range BlazeFace, a small CNN:
        finds faces with dark glasses, hands over them, turned towards profile,
        grey or low-contrast; see ``fer_au.mesh.BlazeFace``; every whole-image search
        also takes the short-range model's proposals of large faces, ``SHORT_LOOK``:
        turned faces the full-range model misses), ``"hog"`` (dlib's
        HOG + linear SVM frontal detector) or ``"haar"`` (OpenCV's
        ``haarcascade_frontalface_default.xml``; more false alarms).
    upsample : search for smaller faces at a higher cost.  dlib doubles the image
        first (finds faces down to ~80 px at 0, ~40 px at 1); for Haar ``upsample``
        doubles the image likewise; BlazeFace adds overlapping tiles
        (``upsample + 1`` per side: faces down to ~50 px in a 640x480 frame at 0,
        ~30 px at 1) and, from 1 on, dlib's HOG detector's second look at the whole
        image (``HOG_SECOND_LOOK``: frontal faces BlazeFace missed, confirmed by the mesh)
        and BlazeFace's look at a padded copy (``PAD_LOOK``: a face that fills the frame),
        which a whole-frame pass at 0 also takes when its finds hint at a close-up.
    min_size : smallest face side kept, in pixels of the input.
    threshold : dlib's detection score threshold (0 = its default; lower finds more).
    """

    def __init__(self, method: str = "hog", upsample: int = 0, min_size: int = 40,
                 threshold: float = 0.0):
        if method not in DETECTOR_METHODS:
            raise ValueError(f"unknown face detector {method!r}; use one of {', '.join(DETECTOR_METHODS)}")
        self.method, self.upsample, self.min_size, self.threshold = method, int(upsample), int(min_size), threshold
        if method == "blazeface":
            from .mesh import BlazeFace, shared_mesh
            # its tiles are chosen per call, from ``upsample`` (detect)
            self._blaze = BlazeFace("full", score_threshold=threshold or BLAZE_PROPOSE)
            self._short = None                   # the short-range model, for SHORT_LOOK (loaded on first use)
            self._verifier = shared_mesh()       # the analyzer's own mesh: one model in memory
            self._hog = None                     # dlib's HOG detector, for HOG_SECOND_LOOK
        elif method == "hog":
            import dlib
            self._dlib = dlib.get_frontal_face_detector()
        else:
            import cv2
            path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
            self._haar = cv2.CascadeClassifier(path)
            if self._haar.empty():
                raise RuntimeError(f"cannot load the Haar cascade {path}")

    def n_tiles(self, shape, upsample: int) -> int:
        """How many tiles ``detect(..., upsample, tile=k)`` can search (k = 1..n) in an image
        of ``shape``; 0 for the detectors that search no tiles."""
        if self.method != "blazeface" or upsample < 1:
            return 0
        return len(self._blaze.views(shape, upsample + 1)) - 1

    def detect(self, gray: np.ndarray, min_size: int | None = None, upsample: int | None = None,
               tile: int | None = None, hog_side: int | None = None) -> list:
        """Faces in ``gray`` (grey, BGR or BGRA) as ``[((x, y, w, h), score), ...]``, left to right.

        Boxes are clipped to the image. Scores: BlazeFace's face probability,
        dlib's SVM margin for HOG, the number of merged neighbour detections for Haar.
        ``min_size``: this call's smallest face side (default: the detector's ``min_size``);
        ``upsample``: this call's (default: the detector's ``upsample``); ``tile`` (BlazeFace):
        search only that tile (1, 2, ...) of the grid ``upsample`` gives, not the whole image;
        ``hog_side``: the longest side of the copy HOG's second look searches (default HOG_SIDE).
        """
        min_size = self.min_size if min_size is None else int(min_size)
        up = self.upsample if upsample is None else int(upsample)
        if self.method == "blazeface":   # reads colour where there is colour
            img = np.asarray(gray)
            from .mesh import _rgb
            rgb = _rgb(img)     # once, for the detector and every proposal the mesh checks
            proposed = self._blaze.detect_full_rgb(rgb, up + 1 if up else 0, only=tile)
            found = _one_per_face(proposed, lambda d: self._sure(rgb, d))
            if tile is None and SHORT_LOOK and min(rgb.shape[:2]) >= PAD_MIN_IMAGE:
                found += self._short_look(rgb, found, SHORT_TILES and up > 0)
            out = [(dlib_like_box(d["box"]), d["score"]) for d in found]
            if (tile is None and PAD_LOOK and min(rgb.shape[:2]) >= PAD_MIN_IMAGE
                    and (up or self._close_up(rgb, out, proposed))):
                # a thorough search (a photo, a video's sweep) or a frame the face may fill
                large = self._padded_look(rgb, out)
                # what the first look boxed of a face that fills the frame was a part of it,
                # or the same face boxed off-centre
                out = [d for d in out if not any(_inside(d[0], f) or centres_close(d[0], f)
                                                 for f, _ in large)] + large
            if up and tile is None and HOG_SECOND_LOOK:
                out += self._hog_second_look(img, rgb, [b for b, _ in out], hog_side or HOG_SIDE)
            return sorted([(b, s) for b, s in out if min(b[2], b[3]) >= min_size], key=lambda d: d[0][0])
        if tile is not None:
            raise ValueError(f"only BlazeFace searches single tiles, not {self.method}")
        img = _gray(gray)
        out = []
        if self.method == "hog":
            rects, scores, _ = self._dlib.run(img, up, self.threshold)
            for r, s in zip(rects, scores):
                out.append(((r.left(), r.top(), r.width(), r.height()), float(s)))
        else:
            import cv2
            f = 2 ** up
            src = cv2.resize(img, None, fx=f, fy=f) if f > 1 else img
            boxes, _, weights = self._haar.detectMultiScale3(
                src, scaleFactor=1.1, minNeighbors=5, minSize=(min_size * f, min_size * f),
                outputRejectLevels=True)
            for (x, y, w, h), s in zip(boxes, np.ravel(weights) if len(boxes) else []):
                out.append(((int(x / f), int(y / f), int(w / f), int(h / f)), float(s)))
        h_img, w_img = img.shape[:2]
        kept = []
        for (x, y, w, h), s in out:
            x0, y0 = max(int(x), 0), max(int(y), 0)
            x1, y1 = min(int(x + w), w_img), min(int(y + h), h_img)
            if min(x1 - x0, y1 - y0) >= min_size:
                kept.append(((x0, y0, x1 - x0, y1 - y0), s))
        return sorted(kept, key=lambda b: b[0][0])

    def _short_look(self, rgb, found, tiles: bool = False) -> list:
        """Faces the short-range BlazeFace proposes on the whole image that no box of ``found``
        (the full-range model's) holds, each confirmed by the mesh (presence >= MESH_CONFIRMS:
        its scores are no more a face's than the full-range model's below BLAZE_SURE; it
        took a group of four small faces in an HD frame for one face, at 0.65-0.74), as
        ``detect_full`` dicts drawn as the full-range model draws a face (SHORT_TO_FULL).
        Only its proposals of SHORT_PROPOSE or more, of faces of SHORT_MIN_FACE of the
        image's longer side or more (the side its 128-px view of the whole image is scaled by).
        ``tiles`` (a thorough search): also views of SHORT_TILE_SIDE of the longer side, half
        a view apart, for the faces of a quarter to a half of such a view, which the model
        sees best (SHORT_TILE_MIN; proposals of SHORT_TILE_PROPOSE or more)."""
        from .mesh import BlazeFace, whole_faces
        if self._short is None:
            self._short = BlazeFace("short", score_threshold=SHORT_PROPOSE)
        floor = SHORT_MIN_FACE * max(rgb.shape[:2])
        size, shift = SHORT_TO_FULL
        views = self._short.views(rgb.shape, 0) + (_half_step_views(rgb.shape, SHORT_TILE_SIDE) if tiles else [])

        def keep(rows, x0, y0, side, w, h):     # a tile: faces wholly inside it, large in its view
            return whole_faces(rows, x0, y0, side, w, h) & (rows[:, 2] - rows[:, 0] >= SHORT_TILE_MIN * side)
        found_here = self._short.detect_full_rgb(rgb, 0)
        for k in range(1, len(views)):
            found_here += [d for d in self._short.detect_full_rgb(rgb, views=views, only=k, tile_keep=keep)
                           if d["score"] >= SHORT_TILE_PROPOSE]
        proposed = []
        for d in found_here:
            x, y, w, h = d["box"]
            cx, cy = x + w / 2, y + h / 2 - shift * h
            w, h = w * size, h * size
            box = (cx - w / 2, cy - h / 2, w, h)
            if min(w, h) >= floor and not any(centres_close(box, f["box"]) for f in found):
                proposed.append(dict(d, box=box))
        return _one_per_face(proposed, lambda d: self._presence(rgb, d["box"]) >= MESH_CONFIRMS)

    def _hog_second_look(self, img, rgb, boxes, side: int) -> list:
        """The frontal faces dlib's HOG detector finds on a copy of at most ``side`` px
        that no BlazeFace box covers, each confirmed by the face mesh (presence >= 0.5,
        which is then its score: HOG's SVM margin is no probability)."""
        import cv2
        import dlib
        if self._hog is None:
            self._hog = dlib.get_frontal_face_detector()
        g = _gray(img)
        scale = min(1.0, side / max(g.shape[:2]))
        small = cv2.resize(g, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else g
        out = []
        for r in self._hog(small, 0):
            box = tuple(int(round(v / scale)) for v in (r.left(), r.top(), r.width(), r.height()))
            if any(centres_close(box, b) for b in boxes + [b for b, _ in out]):
                continue
            presence = self._presence(rgb, box)
            if presence >= MESH_CONFIRMS:
                out.append((box, presence))
        return out

    def _padded_look(self, rgb, found) -> list:
        """Faces that fill the frame, which BlazeFace (trained on faces with room round them)
        misses when the image is little more than the face: a tight face crop, a close-up.
        BlazeFace looks again at a copy with PAD_SHARE of the longer side added on every side
        (edges replicated; at most PAD_SIDE px in all), unsure finds confirmed by the mesh on
        that copy; a face it finds there is kept when it is large (a side of at least
        PAD_MIN_FACE of the image's shorter side: smaller ones the first look sees with room
        round them, and the copy's coarser view of them adds false alarms) and replaces the
        first look's boxes of its parts (inside it, or boxing the same face smaller): in a
        close-up the first look may take each half of the face, or a window off its centre,
        for the face.  A much smaller face inside it, or a part at least as probable (by
        PAD_SURER more if BlazeFace is sure of this one), says it is no face (a cat's eye
        round a small real face); a box of the same face at least as large stays."""
        import cv2
        h, w = rgb.shape[:2]
        pad = PAD_SHARE * max(h, w)
        scale = min(1.0, PAD_SIDE / (max(h, w) + 2 * pad))
        small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
        p = int(round(pad * scale))
        big = cv2.copyMakeBorder(small, p, p, p, p, cv2.BORDER_REPLICATE)
        looked = _one_per_face(self._blaze.detect_full_rgb(big, 0), lambda d: self._sure(big, d))
        out = []
        for d in looked:
            x, y, bw, bh = d["box"]
            box, score = dlib_like_box(((x - p) / scale, (y - p) / scale, bw / scale, bh / scale)), d["score"]
            if min(box[2], box[3]) < PAD_MIN_FACE * min(h, w):
                continue
            if any(centres_close(box, b) for b, _ in out):
                continue
            # the first look's boxes of parts of this face: inside it, or boxing the same face
            # smaller (on close-ups of three faces, 1.0-2.2 widths of room, this box's side was
            # 0.83-1.18x dlib's; the first look's 0.32-0.71x with 1.0-1.1 widths)
            parts = [(b, s) for b, s in found
                     if _inside(b, box) or (centres_close(box, b) and max(b[2], b[3]) < PAD_PART * box[2])]
            # a box of the same face as large as this one stands (the first look's is the finer
            # view); a face of its own inside it (a side under a quarter of its side) or a part
            # at least as probable says it is no face, by PAD_SURER more if this one is sure
            surer = score + (PAD_SURER if score >= BLAZE_SURE else 0.0)
            if (any(centres_close(box, b) for b, s in found if (b, s) not in parts)
                    or any(s >= surer or max(b[2], b[3]) < box[2] / 4 for b, s in parts)):
                continue
            out.append((box, score))
        return out

    @staticmethod
    def _close_up(rgb, found, proposed) -> bool:
        """Does the first look hint at a face filling the frame: two large faces found (PAD_HINT
        of the shorter side or more: its halves), a large one reaching within PAD_EDGE of the
        image's edge, a large proposal BlazeFace is unsure of (under BLAZE_SURE, confirmed by
        the mesh or not: a face-sized window off a close-up's centre), or no proposal at all?
        A video frame's whole-frame pass takes the padded look then only: a face in a webcam
        frame with room round it costs nothing more, and a frame without a face has no
        per-face work to pay for it."""
        h, w = rgb.shape[:2]
        side = PAD_HINT * min(h, w)
        large = [b for b, _ in found if min(b[2], b[3]) >= side]
        e = PAD_EDGE * min(h, w)
        return (not proposed or len(large) >= 2
                or any(x < e or y < e or x + bw > w - e or y + bh > h - e for x, y, bw, bh in large)
                or any(d["score"] < BLAZE_SURE and min(d["box"][2], d["box"][3]) >= side for d in proposed))

    def _sure(self, rgb, d) -> bool:
        """Is BlazeFace's detection ``d`` a face: probable enough (BLAZE_SURE), or confirmed
        by the face mesh (presence >= MESH_CONFIRMS)?"""
        return d["score"] >= BLAZE_SURE or self._presence(rgb, d["box"]) >= MESH_CONFIRMS

    def _presence(self, rgb, box) -> float:
        """The face mesh's face-presence probability for ``box`` (one unrefined pass)."""
        return float(self._verifier.predict_rgb(rgb, box, refine=False)[1])


def _half_step_views(shape, share: float) -> list[tuple[int, int, int]]:
    """Square views (x0, y0, side) of ``share`` of the image's longer side, half a side apart,
    so every face up to half a view's side lies wholly inside one of them."""
    from .mesh import square_views
    side = int(round(share * max(shape[:2])))
    return square_views(shape, side, side / 2)


def _one_per_face(found: list, accept=None) -> list:
    """BlazeFace's detections (``detect_full`` dicts) with one left per face; with
    ``accept`` (a test of one detection: the face mesh's check) only those it accepts.

    The whole image and the tiles can each box a small face a little differently, and
    boxes shifted by half their size escape non-maximum suppression; the face mesh
    confirms each of them, since its 1.5x crop still holds the face (session 14: three
    confirmed boxes for one 27-px face, their meshes following the boxes, not the face).
    Of two detections whose centres lie closer than 0.75 of the larger box's side (two
    real faces that close would hide much of each other), the more probable one stays;
    so a detection is tested only when no more probable one was kept near it (a sweep's
    3x3 tiles proposed ~28 boxes a frame around one face in a 640x480 video, each a
    1.7-ms mesh check)."""
    kept: list[dict] = []
    for d in sorted(found, key=lambda d: -d["score"]):
        if not any(centres_close(d["box"], k["box"]) for k in kept) and (accept is None or accept(d)):
            kept.append(d)
    return sorted(kept, key=lambda d: d["box"][0])


def _inside(a, b) -> bool:
    """Does (x, y, w, h) box ``a`` lie mostly inside ``b``, at least twice its area
    (``mesh.lies_inside``: a part of a face taken for a face)?"""
    from .mesh import lies_inside
    return lies_inside((a[0], a[1], a[0] + a[2], a[1] + a[3]), (b[0], b[1], b[0] + b[2], b[1] + b[3]))


def centres_close(a, b, share: float = 0.75) -> bool:
    """Do two (x, y, w, h) boxes' centres lie closer than ``share`` of the larger box's
    side?  Two real faces that close would hide much of each other (``_one_per_face``)."""
    return bool(np.hypot(a[0] + a[2] / 2 - b[0] - b[2] / 2, a[1] + a[3] / 2 - b[1] - b[3] / 2)
                < share * max(a[2], a[3], b[2], b[3]))


# BlazeFace's box reaches the forehead; dlib's (what its 68-point predictor was
# trained on, and what FaceRect* columns held so far) spans brows to chin.  Median
# relation on the sample photos' faces (dlib HOG vs BlazeFace): 0.9x the size,
# centre 4 % of the height lower (on tight FER2013 crops 0.94x and 2 %).
BLAZE_TO_DLIB = (0.9, 0.04)
# BlazeFace proposes faces down to this probability; below BLAZE_SURE a proposal
# is kept only if the face mesh, run once on it, says a face is there (its
# presence output >= 0.5).  Chosen on bench/detection.py (20 composites per
# condition): recall 0.56 at MediaPipe's 0.5 alone, 0.65 / 0.68 proposing from
# 0.25 / 0.15 with the mesh confirming, false positives 0.03 -> 0.07 / 0.08 per image.
# BLAZE_SURE 0.5 -> 0.65 in session 11, chosen on the benchmark's --seed 1 composites
# (not the seed-0 set the README quotes): whole image, recall 72.6 -> 72.4 %, false
# positives 0.068 -> 0.053 per image; with the tiles' own rules (mesh.TILE_MAX_FACE,
# TILE_EDGE, _drop_inner) 82.7 % either way, 0.095 -> 0.053.  Session 17 measured a higher
# bar for the mesh (presence >= 0.6 / 0.7 instead of 0.5; --seed 1): photos 86.4 -> 86.0 / 85.4 %,
# false positives 0.060 -> 0.045 / 0.033 an image; 640x480 video (analyze) 80.3 -> 79.7 / 79.6 %,
# 0.039 -> 0.029 / 0.025 a frame; 1920x1080 65.5 -> 64.6 / 64.3 %, 0.076 -> 0.062 / 0.056.  Kept
# at 0.5: about a face lost per two or three false ones removed, and finding every face comes first.
BLAZE_PROPOSE, BLAZE_SURE = 0.15, 0.65
MESH_CONFIRMS = 0.5      # the mesh's presence that confirms an unsure proposal or a face only HOG found
# A thorough search (a photo's tiles, a video's sweep: ``upsample`` > 0 on the whole image)
# also takes dlib's HOG detector's look at the image, on a copy of at most HOG_SIDE px (faces
# from ~80 px there; ~41 ms at 640x480): of the faces BlazeFace missed on the benchmark, 85 %
# had no proposal at all, and HOG finds frontal ones among them (bench/detection.py, --seed 1,
# photos: 86.6 -> 89.3 %, no more false positives, each HOG-only face confirmed by the mesh).
HOG_SECOND_LOOK = True
HOG_SIDE = 640
# A face that fills the frame (a cropped portrait, a close-up) is one BlazeFace, trained on
# faces with room round them, often misses or splits into two "faces", one per half
# (session 18: Hopper's face cut at its dlib box, two ~100-px boxes in 256 px). So a thorough
# search, and a whole-frame pass whose finds hint at a close-up (``FaceDetector._close_up``),
# also lets BlazeFace look at a copy with PAD_SHARE of the longer side added round it (edges
# replicated, at most PAD_SIDE px); a face of at least PAD_MIN_FACE of the shorter side found
# there is kept, and replaces the less probable boxes lying inside it (a surer one inside it
# vetoes it: on the benchmark's scenes a cat's eye or a cup round a small real face).
# Since session 19 it also replaces the first look's smaller box of the same face (under
# PAD_PART of its side: a window off a close-up's centre), wins near ties with a part when
# it is sure (a part must be PAD_SURER more probable to veto it), and a whole-frame pass
# takes the look also after a large unsure proposal or none at all. Chosen on the two
# portraits cut with 1.0-1.8 face widths of room at 96-400 px (96 images: one box with IoU
# >= 0.5, photos 93 -> 96, video frames 88 -> 96), 150 FER2013 PublicTest faces at 100 and
# 256 px (300 images: as photos found 246 -> 258, one box with IoU >= 0.5 201 -> 240, false
# alarms 26 -> 14; as video frames 101 -> 215, 53 -> 195, 38 -> 14) and bench/detection.py
# --seed 1 (composites, close-ups and real photos unchanged).
# Chosen on FER2013 PublicTest crops (300, scaled to 100 / 256 px and given as photos: found
# 80 / 85 % -> 91 / 93 %; padding 0.2 and 0.3 found less; keeping smaller faces too added
# false alarms on the benchmark's scenes) and bench/detection.py --seed 1 (close-ups 90 ->
# 100 %, false positives 0.10 -> 0.00 an image; composites 89.3 -> 89.4 %, 0.06 either way).
PAD_LOOK = True
PAD_SHARE = 0.5
PAD_SIDE = 640
PAD_MIN_FACE = 0.4
PAD_HINT, PAD_EDGE = 0.3, 0.05
PAD_SURER, PAD_PART = 0.1, 0.9
# The short-range BlazeFace (MediaPipe's front-camera model, 128x128, trained on faces that
# fill much of the view) finds turned faces the full-range model gives no proposal for
# (session 21): of FER2013 PublicTest faces at 256 px on a 512-px grey photo with |yaw|
# 30-45 deg (the 2-D pose fit on dlib's points of the crop), the full-range photo search
# found 74 %, and of its misses the short-range model proposed 13 of 14 at 0.46-0.81. So every
# whole-image search (a video frame's whole-frame pass, a photo's or a sweep's search; not a
# single tile) also takes the short-range model's proposals where the full-range model kept
# no face (FaceDetector._short_look): faces of SHORT_MIN_FACE of the image's longer side or
# more, redrawn as the full-range model draws a face (SHORT_TO_FULL: its box is 0.96x the
# size with the centre 5.7 % of the height lower, median of 225 faces both found), each
# confirmed by the mesh whatever its score (sure proposals taken unconfirmed found 2-4 % more
# turned faces, but took a group of four small faces in an HD frame for one face at 0.65-0.74).
# Only its proposals of 0.4 or more (SHORT_PROPOSE; the turned faces it found scored 0.46-0.81):
# from 0.15, as the full-range model proposes, it proposed ~4 boxes a frame on bench/realtime.py's
# backdrop, each a mesh check, and a live detection cost 8.7 ms instead of 3.6 (4.7 ms now).
# Chosen on those PublicTest faces (80 per |yaw| bin; 0-15 / 15-30 / 30-45 deg: found 95.0 /
# 91.2 / 73.8 % -> 97.5 / 92.5 / 88.7 %; the same faces cut tight at 256 px 92.5 / 87.5 / 71.3 ->
# 97.5 / 93.8 / 85.0 %, no more false boxes; proposing from 0.15 found 1-2 more of 80) and
# bench/detection.py --seed 1 (composites, whole frame 72.9 -> 73.9 %, photos 89.4 -> 90.1 %,
# close-ups as video frames 92.5 -> 100 %, false positives unchanged; with unconfirmed
# proposals a floor of 0.1 of the shorter side found more than 0.2 or 0.3: 0.1 of 480 px is
# 0.075 of 640).
# It finds faces of a quarter of its view's side or more (turned FER2013 faces on a 512-px
# photo, 60 per size, mesh-confirmed: at 0.15 / 0.2 / 0.25 / 0.3 / 0.5 of the side 1 / 26 / 47 /
# 53 / 54 found, the full-range model 42-48 at every size), so a thorough search (a photo, a
# video's sweep) also shows it square views of SHORT_TILE_SIDE of the longer side, half a view
# apart (every face up to half a view lies wholly inside one), keeping from each the faces
# wholly inside it of at least SHORT_TILE_MIN of its side proposed at SHORT_TILE_PROPOSE or
# more (from 0.4 a 3x3 grid's tiles took 45-52-px textures of bench/detection.py's scenes for
# faces, mesh-confirmed; at 0.5 these views took a blob of the tests' video backdrop, 0.56, for
# one). Chosen on --seed 1 (photos 90.1 -> 91.4 % with views of 0.4 from 0.6, 92.7 % from 0.5,
# 91.1 % with views of 0.5; false positives 0.06 an image throughout; ~10-15 ms more a 640x480
# photo) and on turned PublicTest faces in 1280x960 photos (60 per size; 192 / 256 px: found
# 49 -> 53 / 49 -> 53).
SHORT_LOOK = True
SHORT_MIN_FACE = 0.075
SHORT_PROPOSE = 0.4
SHORT_TO_FULL = (1 / 0.96, 0.057)
SHORT_TILES = True
SHORT_TILE_SIDE = 0.4
SHORT_TILE_MIN = 0.25
SHORT_TILE_PROPOSE = 0.6
# ... neither look in images under 64 px: a FER2013-style 48-px crop is read better as a crop
# (analyze --crops: its landmarks found on a padded, upsampled copy), which analyze suggests for
# such an image without a face
PAD_MIN_IMAGE = 64


def dlib_like_box(box) -> tuple:
    """A BlazeFace box (x, y, w, h) as dlib's HOG detector would draw it, ints."""
    x, y, w, h = [float(v) for v in box]
    s, dy = BLAZE_TO_DLIB
    cx, cy = x + w / 2, y + h / 2 + dy * h
    return (int(round(cx - s * w / 2)), int(round(cy - s * h / 2)), int(round(s * w)), int(round(s * h)))


# Where dlib's HOG detector puts its box on a FER2013 crop (median over Training
# faces it found), in 48x48 pixels: (left, top, right, bottom).  Used when the
# detector finds nothing on a pre-cropped face.
FER_DEFAULT_BOX = (2.0, 6.0, 46.0, 46.0)


class LandmarkPredictor:
    """dlib's 68-point shape predictor (iBUG 300-W), from ``face_recognition_models``.

    ``predict`` works on a detected face box; ``predict_crop`` on a pre-cropped
    face such as FER2013's 48x48 images, which it upsamples (the predictor was
    trained on faces of ~100-200 px).
    """

    def __init__(self, model_path: str | None = None, crop_upsample: int = 4):
        import dlib
        if model_path is None:
            import face_recognition_models
            model_path = face_recognition_models.pose_predictor_model_location()
        self._sp = dlib.shape_predictor(str(model_path))
        self._rect = dlib.rectangle
        self.crop_upsample = int(crop_upsample)
        self._det = None

    def _shape(self, img: np.ndarray, left, top, right, bottom) -> np.ndarray:
        sh = self._sp(img, self._rect(int(round(left)), int(round(top)), int(round(right)), int(round(bottom))))
        return np.array([(p.x, p.y) for p in sh.parts()], dtype=np.float32)

    def predict(self, gray: np.ndarray, box, derotate: bool = False) -> np.ndarray:
        """68 landmarks (x, y) in pixels of ``gray`` for the face in ``box`` = (x, y, w, h).

        ``derotate=True`` predicts twice: once on the image, then on the image
        rotated so that the eyes are level, mapping the points back. It makes the
        landmarks of strongly tilted heads (beyond ~15 degrees) more reliable.
        """
        img = _gray(gray)
        x, y, w, h = [float(v) for v in box]
        lm = self._shape(img, x, y, x + w - 1, y + h - 1)
        if derotate:
            lm = self._derotated(img, lm, (x, y, w, h))
        return lm

    def _derotated(self, img, lm, box):
        import cv2
        eye_r, eye_l = lm[36:42].mean(0), lm[42:48].mean(0)
        angle = math.degrees(math.atan2(eye_l[1] - eye_r[1], eye_l[0] - eye_r[0]))
        if abs(angle) < 3:
            return lm
        x, y, w, h = box
        c = (x + w / 2, y + h / 2)
        m = cv2.getRotationMatrix2D(c, angle, 1.0)          # rotates the face upright
        rot = cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REPLICATE)
        lm2 = self._shape(rot, x, y, x + w - 1, y + h - 1)
        inv = cv2.invertAffineTransform(m)
        return (lm2 @ inv[:, :2].T + inv[:, 2]).astype(np.float32)

    def predict_crop(self, face48: np.ndarray, detect: bool = True) -> np.ndarray:
        """68 landmarks of a pre-cropped face, in the crop's own pixel coordinates
        (``predict_crop_info`` also says how they were found)."""
        return self.predict_crop_info(face48, detect)[0]

    def predict_crop_info(self, face48: np.ndarray, detect: bool = True) -> tuple[np.ndarray, dict]:
        """``(landmarks (68, 2), info)`` of a pre-cropped face, in the crop's own pixels.

        The crop is padded (replicated border, so a chin at the edge stays in view)
        and upsampled ``crop_upsample`` times; dlib's HOG detector then places the
        box as in training, and where it finds no face the usual FER2013 box
        (``FER_DEFAULT_BOX``, scaled to the crop) is used.  ``info`` says which:
        ``{"detected": bool, "score": float, "residual": float}``.
        """
        import cv2
        img = _gray(face48)
        h, w = img.shape[:2]
        pad = max(1, int(round(0.25 * max(h, w))))
        u = self.crop_upsample * 48.0 / max(h, w)       # work at ~192 px whatever the crop size
        big = cv2.resize(cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE), None,
                         fx=u, fy=u, interpolation=cv2.INTER_CUBIC)
        detected, score = False, float("nan")
        if detect:
            if self._det is None:
                import dlib
                self._det = dlib.get_frontal_face_detector()
            rects, scores, _ = self._det.run(big, 0, -0.3)
            if len(rects):
                k = int(np.argmax(scores))
                r = rects[k]
                # a plausible box: most of it inside the original crop
                cx, cy = (r.left() + r.right()) / 2 / u - pad, (r.top() + r.bottom()) / 2 / u - pad
                if 0 <= cx < w and 0 <= cy < h and r.width() / u > 0.5 * w:
                    detected, score = True, float(scores[k])
                    box = (r.left(), r.top(), r.right(), r.bottom())
        if not detected:
            sx, sy = w / 48.0, h / 48.0
            l, t, r_, b = FER_DEFAULT_BOX
            box = ((l * sx + pad) * u, (t * sy + pad) * u, (r_ * sx + pad) * u, (b * sy + pad) * u)
        lm = self._shape(big, *box) / u - pad
        lm = lm.astype(np.float32)
        # residual in 48-px canonical units (a shape check, independent of the crop size)
        return lm, {"detected": detected, "score": score, "residual": shape_residual(lm)}

    def predict_crops(self, faces, progress: bool = False):
        """``predict_crop`` over a stack of crops.

        Returns ``(landmarks (N,68,2) float32, detected (N,) bool, residual (N,) float32)``.
        """
        faces = np.asarray(faces)
        n = len(faces)
        lm = np.zeros((n, 68, 2), np.float32)
        det = np.zeros(n, bool)
        res = np.zeros(n, np.float32)
        it = range(n)
        if progress:
            from tqdm import tqdm
            it = tqdm(it, desc="landmarks", unit="face")
        for i in it:
            lm[i], info = self.predict_crop_info(faces[i])
            det[i], res[i] = info["detected"], info["residual"]
        return lm, det, res


# Above this shape residual (canonical px) the 68 points do not look like a face.
MAX_RESIDUAL = 4.0


def usable(detected: np.ndarray, residual: np.ndarray, max_residual: float = MAX_RESIDUAL) -> np.ndarray:
    """Landmarks we trust: the detector found the face, or (on a pre-cropped face
    where it did not) the predicted shape is still face-like."""
    detected, residual = np.asarray(detected, bool), np.asarray(residual, float)
    return (residual <= max_residual) & (detected | (residual <= 0.75 * max_residual))


# ---------------------------------------------------------------------------
# Head pose
# ---------------------------------------------------------------------------
# A 3D face for solvePnP: x, y from the canonical (average FER2013, frontal)
# 2D shape at 3.6 mm per canonical pixel (so the average face reads as 0, 0, 0),
# z (depth behind the nose tip, mm) from typical adult facial depth.  Camera-like
# axes: x to the image right, y down, z away from the camera.
_POSE_DEPTH = {30: 0.0, 27: 18.0, 33: 12.0, 36: 35.0, 39: 25.0, 42: 25.0, 45: 35.0,
               48: 28.0, 54: 28.0, 8: 25.0, 0: 85.0, 16: 85.0}
_POSE_IDX = sorted(_POSE_DEPTH)
_POSE_3D = np.array([[(CANONICAL_68[i, 0] - CANONICAL_68[30, 0]) * 3.6,
                      (CANONICAL_68[i, 1] - CANONICAL_68[30, 1]) * 3.6,
                      _POSE_DEPTH[i]] for i in _POSE_IDX], dtype=np.float64)


def head_pose(landmarks68: np.ndarray, image_shape) -> tuple:
    """(pitch, roll, yaw) of the head in degrees, from the 2D landmarks and a
    generic 3D face (``cv2.solvePnP``; camera focal length = image width).

    Signs: pitch > 0 when the face tilts up (chin forward), yaw > 0 when the face
    turns towards the image's right, roll > 0 when the head tilts clockwise in the
    image (the image-right eye lower).  A frontal, upright face gives ~(0, 0, 0).
    Accuracy is a few degrees: the 3D model is an average face.
    """
    import cv2
    lm = np.asarray(landmarks68, np.float64)
    h, w = image_shape[:2]
    f = float(max(w, h))
    cam = np.array([[f, 0, w / 2.0], [0, f, h / 2.0], [0, 0, 1]], dtype=np.float64)
    # initial guess: frontal, at the distance that makes the eyes the size they are
    iod_px = np.linalg.norm(lm[45] - lm[36])
    iod_mm = float(np.linalg.norm(_POSE_3D[_POSE_IDX.index(45)] - _POSE_3D[_POSE_IDX.index(36)]))
    z0 = f * iod_mm / max(iod_px, 1e-6)
    c = lm[30]
    tvec0 = np.array([[(c[0] - w / 2) * z0 / f], [(c[1] - h / 2) * z0 / f], [z0]])
    ok, rvec, tvec = cv2.solvePnP(_POSE_3D, lm[_POSE_IDX].reshape(-1, 1, 2), cam, np.zeros(4),
                                  rvec=np.zeros((3, 1)), tvec=tvec0, useExtrinsicGuess=True,
                                  flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return (float("nan"),) * 3
    rot, _ = cv2.Rodrigues(rvec)
    return rotation_to_angles(rot)


def rotation_to_angles(rot: np.ndarray) -> tuple:
    """(pitch, roll, yaw) in degrees of a rotation ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)``
    in camera axes (x right, y down, z forward), with the signs of ``head_pose``."""
    r = np.asarray(rot, np.float64)
    yaw = math.degrees(math.asin(float(np.clip(-r[2, 0], -1.0, 1.0))))
    pitch = math.degrees(math.atan2(r[2, 1], r[2, 2]))
    roll = math.degrees(math.atan2(r[1, 0], r[0, 0]))
    # x right, y down: a positive rotation about x moves the chin (y>0) away, face tilts down
    return (-pitch, roll, -yaw)


def angles_to_rotation(pitch: float, roll: float, yaw: float) -> np.ndarray:
    """Inverse of ``rotation_to_angles`` (degrees in, 3x3 matrix out)."""
    p, r, y = math.radians(-pitch), math.radians(roll), math.radians(-yaw)
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx


# ---------------------------------------------------------------------------
# Alignment
# ---------------------------------------------------------------------------
def alignment_matrix(landmarks68: np.ndarray, size: int = 48) -> np.ndarray:
    """The 2x3 similarity taking image pixels to the aligned ``size`` x ``size`` crop
    (stable points - eye corners, nose - onto ``CANONICAL_68`` scaled to ``size``)."""
    lm = np.asarray(landmarks68, np.float64)
    a, t = similarity_params(lm[STABLE], CANONICAL_68[STABLE] * (size / 48.0))
    return np.hstack([a, t[:, None]])


def align_face(gray: np.ndarray, landmarks68: np.ndarray, size: int = 48) -> np.ndarray:
    """Similarity-aligned grey crop, uint8 (size, size), framed like FER2013
    (eyes level, face centred and scaled as the average FER2013 face).

    A face larger than the crop is first area-averaged down to the crop's scale
    (``area_reduced``), as FER2013's images were: a 250-px face sampled every ~5 px
    aliases its skin, hair and beard into noise - twice FER2013's median sharpness
    (mean |Laplacian| 60 against 28 for matplotlib's Grace Hopper) - that the CNN never saw."""
    import cv2
    img = _gray(gray)
    m = alignment_matrix(landmarks68, size)
    scale = math.sqrt(abs(np.linalg.det(m[:, :2])))
    flags = cv2.INTER_LINEAR
    if scale < 1:
        img, m = area_reduced(img, m, scale, (size, size))
        flags = cv2.INTER_CUBIC     # the residual shift and turn: bilinear would blur a second time
    return cv2.warpAffine(img, m, (size, size), flags=flags, borderMode=cv2.BORDER_REPLICATE)


def area_reduced(img: np.ndarray, m: np.ndarray, scale: float, size: tuple) -> tuple[np.ndarray, np.ndarray]:
    """For a ``cv2.warpAffine(img, m, size)`` that shrinks by ``scale`` (< 1): the part
    of ``img`` the output sees, area-averaged by ``scale``, and the matrix that maps
    that smaller image onto the same output (``size`` = (width, height)).  warpAffine
    only samples the source (its INTER_AREA is bilinear), so shrinking with it aliases."""
    import cv2
    (a, b, tx), (c, d, ty) = np.asarray(m, np.float64).tolist()   # plain floats: this runs per face
    det = a * d - b * c
    ow, oh = size
    xs, ys = [], []
    for u, v in ((0, 0), (ow, 0), (0, oh), (ow, oh)):      # the output's corners in the source
        du, dv = u - tx, v - ty
        xs.append((d * du - b * dv) / det)
        ys.append((a * dv - c * du) / det)
    pad = 2.0 / scale                          # two output pixels of margin for the residual warp
    h, w = img.shape[:2]
    x0, y0 = max(int(math.floor(min(xs) - pad)), 0), max(int(math.floor(min(ys) - pad)), 0)
    x1, y1 = min(int(math.ceil(max(xs) + pad)), w), min(int(math.ceil(max(ys) + pad)), h)
    if x1 - x0 < 2 or y1 - y0 < 2:             # the output lies off the image: nothing to average
        return img, m
    sw, sh = max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))
    small = cv2.resize(img[y0:y1, x0:x1], (sw, sh), interpolation=cv2.INTER_AREA)
    sx, sy = sw / (x1 - x0), sh / (y1 - y0)
    # pixel u of ``small`` averages source pixels [u/sx, (u+1)/sx): its centre is (u + 0.5)/sx - 0.5
    ox, oy = x0 + 0.5 / sx - 0.5, y0 + 0.5 / sy - 0.5
    return small, np.array([[a / sx, b / sy, a * ox + b * oy + tx], [c / sx, d / sy, c * ox + d * oy + ty]])


def transform_landmarks(landmarks68: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine ``matrix`` to (…, 68, 2) landmarks."""
    m = np.asarray(matrix, np.float64)
    return np.asarray(landmarks68, np.float64) @ m[:, :2].T + m[:, 2]


# ---------------------------------------------------------------------------
# Landmarks of a whole data set, cached
# ---------------------------------------------------------------------------
LANDMARK_CACHE_VERSION = 3   # 3: cached_per_image's file layout


def _image_hashes(images: np.ndarray) -> np.ndarray:
    """A 64-bit content hash per image (blake2b of its pixels)."""
    import hashlib
    flat = images.reshape(len(images), -1)
    return np.array([int.from_bytes(hashlib.blake2b(r.tobytes(), digest_size=8).digest(), "little")
                     for r in flat], dtype=np.uint64)


_SHARED: dict = {}


def shared_predictor() -> "LandmarkPredictor":
    """One ``LandmarkPredictor`` per process (loading dlib's model takes ~1 s)."""
    if "lp" not in _SHARED:
        _SHARED["lp"] = LandmarkPredictor()
    return _SHARED["lp"]


def cached_per_image(images, tag: str, compute, cache: bool = True, cache_dir=None):
    """``compute(images) -> tuple of arrays`` (one row per image), cached on disk.

    The cache (``~/.cache/fer_au/<tag>-*.npz``, never in the repository) is keyed
    by each image's pixels, so once a whole data set has been computed any split,
    subset or order of its images is answered from it.  ``tag`` names the
    computation and its version; a damaged cache file is ignored, never trusted.
    """
    import hashlib
    import os
    from pathlib import Path

    from .data import default_cache_dir

    images = np.ascontiguousarray(np.asarray(images, dtype=np.uint8))
    n = len(images)
    if not cache or n == 0:
        return compute(images)
    folder = Path(cache_dir or default_cache_dir())
    hashes = _image_hashes(images)
    todo = np.ones(n, bool)
    out = None
    for f in sorted(folder.glob(f"{tag}-*.npz"), key=lambda f: -f.stat().st_size):
        if not todo.any():
            break
        try:
            with np.load(f) as z:
                h = z["hashes"]
                fields = [z[f"a{i}"] for i in range(len(z.files) - 1)]
                order = np.argsort(h)
                pos = np.clip(np.searchsorted(h, hashes, sorter=order), 0, len(h) - 1)
                hit = todo & (h[order[pos]] == hashes)
                src = order[pos[hit]]
                if out is None:
                    out = [np.zeros((n,) + a.shape[1:], a.dtype) for a in fields]
                for o, a in zip(out, fields):
                    o[hit] = a[src]
                todo &= ~hit
        except Exception:   # a damaged cache file is ignored, never trusted
            continue
    if todo.any():
        new = compute(images[todo])
        if out is None:
            out = [np.zeros((n,) + np.asarray(a).shape[1:], np.asarray(a).dtype) for a in new]
        for o, a in zip(out, new):
            o[todo] = a
        key = hashlib.sha1(hashes[todo].tobytes()).hexdigest()[:16]
        file = folder / f"{tag}-{key}.npz"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = file.with_suffix(".tmp.npz")
            with open(tmp, "wb") as fh:
                np.savez(fh, hashes=hashes[todo], **{f"a{i}": a for i, a in enumerate(new)})
            os.replace(tmp, file)
        except OSError:
            pass
    return tuple(out)


def crop_landmarks(images, cache: bool = True, cache_dir=None, progress: bool = False):
    """``LandmarkPredictor.predict_crops`` over FER2013-style crops, cached on disk
    (``cached_per_image``); a full FER2013 pass takes ~10-20 min on one core, a
    cached one about a second.
    Returns ``(landmarks (N,68,2) float32, detected (N,) bool, residual (N,) float32)``.
    """
    import hashlib
    tag = f"landmarks-v{LANDMARK_CACHE_VERSION}-" + hashlib.sha1(repr(FER_DEFAULT_BOX).encode()).hexdigest()[:6]
    return cached_per_image(images, tag, lambda im: shared_predictor().predict_crops(im, progress=progress),
                            cache=cache, cache_dir=cache_dir)


def landmark_success(ds, cache: bool = True):
    """How many images of a FER2013 data set get landmarks, per split (pandas):
    ``detected`` = dlib's HOG detector found the face on the upsampled crop,
    ``usable`` = see ``usable`` (detected, or a face-like shape on the default box)."""
    import pandas as pd
    lm, det, res = crop_landmarks(ds.images, cache=cache)
    ok = usable(det, res)
    rows = {}
    for u in ("Training", "PublicTest", "PrivateTest"):
        m = ds.usage == u
        rows[u] = {"images": int(m.sum()), "detected": int(det[m].sum()), "usable": int(ok[m].sum())}
    rows["all"] = {"images": len(ds), "detected": int(det.sum()), "usable": int(ok.sum())}
    df = pd.DataFrame.from_dict(rows, orient="index")
    df["usable %"] = (100 * df["usable"] / df["images"].clip(lower=1)).round(1)
    return df


def draw_landmarks(image, landmarks68, ax=None, title: str = "", numbers: bool = False):
    """Show a grey face with its 68 landmarks (jaw, brows, nose, eyes, lips in
    different colours) on a matplotlib axis; returns the axis."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    img = np.asarray(image)
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
    lm = np.asarray(landmarks68)
    parts = {"jaw": range(0, 17), "brows": range(17, 27), "nose": range(27, 36), "eyes": range(36, 48),
             "lips": range(48, 68)}
    colours = {"jaw": "#f0e442", "brows": "#e69f00", "nose": "#56b4e9", "eyes": "#009e73", "lips": "#d55e00"}
    size = max(img.shape[:2]) / 48.0
    for name, idx in parts.items():
        idx = list(idx)
        ax.scatter(lm[idx, 0], lm[idx, 1], s=4 * size, c=colours[name], linewidths=0)
    ax.set_xlim(-0.5, img.shape[1] - 0.5)      # points beyond the crop's edge stay off the picture
    ax.set_ylim(img.shape[0] - 0.5, -0.5)
    if numbers:
        for i, (x, y) in enumerate(lm):
            ax.text(x, y, str(i), fontsize=5, color="white")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)
    return ax
