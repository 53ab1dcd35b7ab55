"""FaceAnalyzer: one image (or video frame) in, a list of analysed faces out.

    >>> from fer_au import FaceAnalyzer
    >>> analyzer = FaceAnalyzer()                 # shipped models, loaded once
    >>> faces = analyzer.analyze("photo.jpg")     # path, numpy array or PIL image
    >>> faces[0].top_emotion, faces[0].aus["AU12"]
    >>> table = analyzer.analyze_paths(["photos/"], csv="results.csv")

Stages, per image: face detection (MediaPipe's BlazeFace; dlib HOG or OpenCV
Haar on request) -> MediaPipe's 468-point 3-D face mesh and dlib's 68 points per
face (``landmarks=``) -> head pose -> FACS action units from dlib's points given
the mesh's depth, read in a frontal head frame (``fer_au.aus3d``) ->
emotion probabilities from the CNN (all faces of the image in one batch, on
48x48 crops aligned like FER2013) and from the AU-XGBoost model.

Every model is loaded once, in the constructor.  A model that is not shipped
(not yet trained, or deleted) is a clear error naming the file and the way
round it (e.g. ``FaceAnalyzer(emotion_model=None)`` for AUs only); output is
never invented.

For video, :class:`FaceStream` adds persistent face ids (tracking) and two
speed-ups: detection only every k-th frame (faces are followed by their
landmarks in between), and smoothing of the emotions over time.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .labels import FER7
from .media import to_bgr, to_gray

DETECTORS = {"blazeface": "mediapipe-blazeface", "hog": "dlib-hog", "haar": "opencv-haar"}
LANDMARKERS = {"hybrid": "dlib-68+mediapipe-mesh", "mesh": "mediapipe-mesh-468", "dlib": "dlib-68"}
# In "hybrid" mode a face whose dlib points lie this far (mean, in inter-ocular
# distances) from the mesh's is one dlib lost (a profile, a hand over the face):
# the mesh's 68 points are used instead.
DLIB_LOST = 0.15


@dataclass
class Face:
    """One analysed face.

    box : (x, y, w, h) in pixels of the (EXIF-oriented) image
    score : detector confidence (dlib HOG margin; Haar: merged neighbours; None for crops)
    landmarks : (68, 2) float32, dlib / iBUG 300-W order, pixels
    mesh : (468, 3) float32 MediaPipe face mesh in pixels (z = depth), or None
        with the dlib landmarker
    pose : (pitch, roll, yaw) in degrees
    aus : {"AU01": intensity 0..5, ...} or None when AUs are off
    emotions : {"anger": p, ...} from the main emotion model (fer7, sums to 1) or None
    au_emotions : the same from the AU-XGBoost model, or None
    face_id : index in the image (left to right) or a track id in video
    crop : the 48x48 aligned grey crop the CNN saw
    """
    box: tuple
    score: float | None
    landmarks: np.ndarray
    pose: tuple | None = None
    aus: dict | None = None
    emotions: dict | None = None
    au_emotions: dict | None = None
    face_id: int | None = None
    crop: np.ndarray | None = field(default=None, repr=False)
    au_presence: dict | None = field(default=None, repr=False)
    mesh: np.ndarray | None = field(default=None, repr=False)

    @property
    def top_emotion(self) -> tuple[str, float] | None:
        """(name, probability) of the most likely emotion (main model, else AU model)."""
        probs = self.emotions or self.au_emotions
        if not probs:
            return None
        name = max(probs, key=probs.get)
        return name, float(probs[name])

    def strongest_aus(self, k: int = 3, min_intensity: float = 0.5) -> list[tuple[str, float]]:
        if not self.aus:
            return []
        items = sorted(self.aus.items(), key=lambda kv: -kv[1])
        return [(c, float(v)) for c, v in items[:k] if v >= min_intensity]


class ModelUnavailableError(RuntimeError):
    """A requested model is not shipped here; the message says how to proceed without it."""


def _load_named(kind: str, name: str, models_dir):
    from . import zoo
    from .media import _quiet_stderr
    try:
        # TensorFlow's start-up chatter (absl/oneDNN notices written straight to the
        # stderr descriptor) is silenced; a failure still raises, with its message.
        with _quiet_stderr():
            model = zoo.load_model(name, models_dir)
            if kind == "emotion":   # trace the inference graph now, not on the first face
                model.predict_proba(np.zeros((1, 48, 48), np.uint8))
        return model
    except zoo.ModelIntegrityError as exc:
        hint = {"emotion": "emotion_model=None (CLI: --emotion-model none)",
                "au": "au_model=None (CLI: --au-model none)"}[kind]
        raise ModelUnavailableError(f"{kind} model {name!r} cannot be loaded: {exc}. "
                                    f"To run without it, pass {hint}") from None


class FaceAnalyzer:
    """Detect, landmark and analyse every face of an image.

    Parameters
    ----------
    detector : "blazeface" (MediaPipe's full-range BlazeFace, default: finds faces
        with glasses, hands over them, turned or grey; ``bench/detection.py``),
        "hog" (dlib's frontal HOG detector), "haar" (OpenCV's cascade: more false
        alarms), or any object with ``detect(image) -> [((x, y, w, h), score)]``.
    landmarks : "hybrid" (default: dlib's 68 points, which follow small movements
        closely, given depth by MediaPipe's 3-D face mesh so the AUs are measured
        in a frontal head frame, ``fer_au.aus3d``; where dlib loses a face the
        mesh's own 68 points stand in), "mesh" (the mesh alone, AUs of
        ``fer_au.mesh_aus``) or "dlib" (dlib alone, the first-generation 2-D AUs
        of ``fer_au.aus``).  ``Face.landmarks`` holds the 68 iBUG points.
    emotion_model : "cnn" (the shipped CNN), None (no CNN emotions) or any object
        with ``predict_proba(faces48 (N,48,48) uint8) -> (N,7)``.
    au_model : "au" (the shipped AU-XGBoost emotion model), None, or an object
        with ``predict_proba_landmarks(landmarks (N,68,2)) -> (N,7)``.
    aus : estimate action units (True) or not (False).
    upsample : search for smaller faces at a higher cost (BlazeFace: overlapping
        tiles, 1 finds faces down to ~30 px in a 640x480 frame; dlib: doubles the
        image, 1 finds faces down to ~40 px, 4x slower).
    min_face : smallest face side kept, pixels of the input image.
    detect_size : detect on a copy whose longer side is at most this many
        pixels (boxes are scaled back; landmarks use full resolution).  None
        detects at full size.
    color : channel order assumed for 3/4-channel numpy arrays, "bgr" (OpenCV,
        default) or "rgb" (skimage, imageio, matplotlib); grey arrays, files and
        PIL images need no hint.
    models_dir : where the shipped models are (default: the package's models/).
    """

    def __init__(self, detector="blazeface", emotion_model="cnn", au_model="au", aus: bool = True,
                 upsample: int = 0, min_face: int = 24, detect_size: int | None = 1280,
                 color: str = "bgr", models_dir=None, derotate: bool = False, landmarks: str = "hybrid"):
        from .faces import FaceDetector, LandmarkPredictor

        # How to rebuild this analyzer in a worker process (None when given model objects).
        named = all(isinstance(m, (str, type(None))) for m in (detector, emotion_model, au_model))
        self.init_kwargs = dict(detector=detector, emotion_model=emotion_model, au_model=au_model,
                                aus=aus, upsample=upsample, min_face=min_face, detect_size=detect_size,
                                color=color, models_dir=None if models_dir is None else str(models_dir),
                                derotate=derotate, landmarks=landmarks) if named else None
        if color not in ("bgr", "rgb"):
            raise ValueError(f"color must be 'bgr' or 'rgb', not {color!r}")
        self.color = color
        self.min_face = int(min_face)
        self.detect_size = detect_size
        self.derotate = derotate
        if isinstance(detector, str) and detector not in DETECTORS:
            raise ValueError(f"unknown face detector {detector!r}; use one of {sorted(DETECTORS)}")
        if landmarks not in LANDMARKERS:
            raise ValueError(f"unknown landmarker {landmarks!r}; use one of {sorted(LANDMARKERS)}")
        self.landmark_name = LANDMARKERS[landmarks]
        self.landmarks = landmarks

        self.au_estimator = None
        self.au_name = ""
        if aus:
            from . import zoo
            from .aus import AUEstimator
            from .aus3d import PoseFreeAUEstimator
            from .mesh_aus import MeshAUEstimator
            try:
                kind = {"hybrid": PoseFreeAUEstimator, "mesh": MeshAUEstimator, "dlib": AUEstimator}[landmarks]
                self.au_estimator = kind.load_shipped(models_dir)
            except zoo.ModelIntegrityError as exc:
                raise ModelUnavailableError(f"the AU estimator cannot be loaded: {exc}. To run without "
                                            "AUs, pass aus=False (CLI: --no-aus)") from None
            self.au_name = getattr(self.au_estimator, "name", "fer_au-aus")
        if isinstance(emotion_model, str):
            self.emotion_name = emotion_model
            self.emotion_model = _load_named("emotion", emotion_model, models_dir)
        else:
            self.emotion_model = emotion_model
            self.emotion_name = "" if emotion_model is None else type(emotion_model).__name__
        if isinstance(au_model, str):
            self.au_emotion_name = au_model
            self.au_emotion_model = _load_named("au", au_model, models_dir)
        else:
            self.au_emotion_model = au_model
            self.au_emotion_name = "" if au_model is None else type(au_model).__name__

        # The perception stages come last, so a missing models folder is reported by
        # the models it holds (with their way round) before the package's own files.
        from . import zoo
        try:
            if isinstance(detector, str):
                self.detector_name = DETECTORS[detector]
                self.detector = FaceDetector(detector, upsample=upsample, min_size=1)
            else:
                self.detector = detector
                self.detector_name = getattr(detector, "method", type(detector).__name__)
            self.mesh = None
            if landmarks in ("hybrid", "mesh"):
                from .mesh import shared_mesh
                self.mesh = shared_mesh()       # the detector's verifier uses the same one
        except zoo.ModelIntegrityError as exc:
            raise ModelUnavailableError(f"a face model cannot be loaded: {exc}. Reinstall fer_au, or "
                                        "use detector='hog', landmarks='dlib' (CLI: --detector hog "
                                        "--landmarks dlib)") from None
        self.landmarker = LandmarkPredictor() if landmarks in ("hybrid", "dlib") else None

        self._au_takes_image = False
        if self.au_emotion_model is not None:
            import inspect
            try:
                params = inspect.signature(self.au_emotion_model.predict_proba_landmarks).parameters
                self._au_takes_image = "image" in params and bool(
                    getattr(self.au_emotion_model, "needs_appearance", False))
            except (TypeError, ValueError, AttributeError):
                pass

    # ------------------------------------------------------------ metadata
    @property
    def au_codes(self) -> list[str]:
        from .aus import AU_CODES
        return list(AU_CODES)

    def model_names(self, crops: bool = False) -> dict:
        return {"face_model": "crop" if crops else self.detector_name,
                "landmark_model": self.landmark_name, "au_model": self.au_name,
                "emotion_model": self.emotion_name, "au_emotion_model": self.au_emotion_name}

    def columns(self) -> list[str]:
        from .output import columns
        return columns(self.au_codes)

    # ------------------------------------------------------------ stages
    def detect(self, image: np.ndarray) -> list[tuple[tuple, float]]:
        """Face boxes ``[((x, y, w, h), score), ...]`` in pixels of ``image`` (BGR or
        grey; BlazeFace reads the colour where there is colour), left to right."""
        import cv2

        h, w = image.shape[:2]
        scale = 1.0
        src = image
        if self.detect_size and max(h, w) > self.detect_size:
            scale = self.detect_size / max(h, w)
            src = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                             interpolation=cv2.INTER_AREA)
        if hasattr(self.detector, "min_size"):
            # the detector's own floor, in its (possibly downscaled) pixels: for Haar it
            # also sets the smallest window searched, which is most of its cost
            self.detector.min_size = max(1, int(self.min_face * scale))
        out = []
        for (x, y, bw, bh), s in self.detector.detect(src):
            box = (x / scale, y / scale, bw / scale, bh / scale)
            if min(box[2], box[3]) >= self.min_face:
                out.append((tuple(int(round(v)) for v in box), float(s)))
        return sorted(out, key=lambda d: d[0][0])

    def analyze(self, image, *, color: str | None = None, crop: bool = False,
                boxes=None) -> list[Face]:
        """Analyse every face in ``image`` (path, numpy array or PIL image).

        crop : the image is already one face crop (FER2013-style, any size):
            no detection, the whole image is the face.
        boxes : skip detection and use these ``(x, y, w, h)`` boxes (or
            ``((x, y, w, h), score)`` pairs).
        Returns the faces left to right (``face_id`` 0, 1, ...); [] if none.
        """
        bgr = to_bgr(image, color or self.color)
        return self.analyze_bgr(bgr, crop=crop, boxes=boxes)

    def analyze_bgr(self, bgr: np.ndarray, *, gray=None, crop: bool = False, boxes=None,
                    follow=None) -> list[Face]:
        """As ``analyze`` on a BGR array.  ``follow``: the previous frame's meshes, one
        per box (None for a new face), for faces followed from frame to frame
        (``_mesh_of``)."""
        from .faces import head_pose
        from .mesh import to_68

        gray = to_gray(bgr) if gray is None else gray
        if crop:
            return self._analyze_crop(gray)
        if boxes is None:
            dets = self.detect(bgr)
        else:
            dets = [(tuple(b[0]), b[1]) if len(b) == 2 and not np.isscalar(b[0]) else (tuple(b), None)
                    for b in boxes]
        if not dets:
            return []
        meshes = None
        followed = [follow is not None and follow[i] is not None for i in range(len(dets))]
        if self.mesh is not None:
            import cv2
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            meshes = np.stack([self._mesh_of(rgb, box, follow[i] if followed[i] else None)
                               for i, (box, _) in enumerate(dets)])
        if self.landmarker is None:
            lms = to_68(meshes)
        else:
            lms = np.stack([self.landmarker.predict(gray, box, derotate=self.derotate) for box, _ in dets])
            if meshes is not None:      # a followed face's mesh is its last one: no check
                fresh = ~np.array(followed)
                lms[fresh] = _keep_on_face(lms[fresh], to_68(meshes[fresh]))
        crops = np.stack([self._align(gray, lm) for lm in lms])
        faces = [Face(box=tuple(int(v) for v in box), score=score, landmarks=lm,
                      pose=tuple(float(a) for a in head_pose(lm, gray.shape)), face_id=i, crop=c,
                      mesh=None if meshes is None else meshes[i])
                 for i, ((box, score), lm, c) in enumerate(zip(dets, lms, crops))]
        self._classify(faces, lms, crops, gray, meshes)
        return faces

    def _mesh_of(self, rgb, box, previous=None):
        """The face mesh in ``box``.  Following a face from its ``previous`` mesh: with
        dlib's points (hybrid) only the mesh's depth is read, which hardly changes
        from frame to frame, so the previous mesh is kept as it is; the mesh alone
        is re-fitted in the crop its previous mesh gives (one pass).  A new face gets
        MediaPipe's two passes (the second, in the crop the first mesh gives, makes
        the depth - and so the AUs - agree with those of 48-px crops: bench/aus.py)."""
        if previous is not None:
            return previous if self.landmarker is not None else self.mesh.track(rgb, previous)[0]
        return self.mesh.predict_rgb(rgb, box)[0]

    def _align(self, gray, lm):
        from .faces import align_face
        return align_face(gray, lm, 48)

    def _analyze_crop(self, gray: np.ndarray) -> list[Face]:
        import cv2
        from .faces import head_pose

        h, w = gray.shape[:2]
        meshes = None
        if self.mesh is not None:
            from .mesh import crop_box, to_68
            meshes = self.mesh.predict(gray, crop_box(gray.shape))[0][None]
        if self.landmarker is None:
            lm = to_68(meshes)[0]
        else:
            lm = self.landmarker.predict_crop(gray)
            if meshes is not None:
                lm = _keep_on_face(lm[None], to_68(meshes))[0]
        crop48 = gray if (h, w) == (48, 48) else cv2.resize(
            gray, (48, 48), interpolation=cv2.INTER_AREA if max(h, w) > 48 else cv2.INTER_LINEAR)
        face = Face(box=(0, 0, w, h), score=None, landmarks=lm,
                    pose=tuple(float(a) for a in head_pose(lm, gray.shape)), face_id=0, crop=crop48,
                    mesh=None if meshes is None else meshes[0])
        self._classify([face], lm[None], crop48[None], gray, meshes)
        return [face]

    def _classify(self, faces: list[Face], lms: np.ndarray, crops: np.ndarray, gray=None, meshes=None) -> None:
        """AUs and both emotion models, for all faces of one image at once."""
        if self.au_estimator is not None:
            for f, v in zip(faces, self.au_estimator.transform(self._au_input(lms, meshes))):
                _set_aus(f, v, self.au_estimator)
        if self.emotion_model is not None:
            proba = np.asarray(self.emotion_model.predict_proba(crops), dtype=np.float64)
            for f, p in zip(faces, proba):
                f.emotions = dict(zip(FER7, p.tolist()))
        if self.au_emotion_model is not None:
            if self._au_takes_image:   # au_app also reads the pixels around the landmarks
                proba = self.au_emotion_model.predict_proba_landmarks(lms, image=gray)
            else:
                proba = self.au_emotion_model.predict_proba_landmarks(lms)
            proba = np.asarray(proba, dtype=np.float64)
            for f, p in zip(faces, proba):
                f.au_emotions = dict(zip(FER7, p.tolist()))

    def _au_input(self, lms, meshes):
        """What the AU estimator reads: 3-D points (hybrid), the mesh, or 2-D points."""
        if self.landmarks == "hybrid":
            from .aus3d import with_depth
            return with_depth(lms, meshes)
        return meshes if self.landmarks == "mesh" else lms

    # ------------------------------------------------------------ many inputs
    def analyze_paths(self, paths, csv=None, *, recursive: bool = False, every: int = 1,
                      crops: bool = False, workers: int = 1, resume: bool = False,
                      progress: bool = False, detect_every: int = 1, return_table: bool = True):
        """Analyse image and video files (or folders of them) into one table.

        Rows are streamed to ``csv`` as they are produced (flushed per image or
        frame).  Returns a pandas DataFrame of the rows (read back from ``csv``
        when given; pass ``return_table=False`` to get only the
        :class:`~fer_au.batch.Summary`, e.g. for a long video).
        """
        from .batch import run_batch

        summary = run_batch(paths, csv=csv, recursive=recursive, every=every, crops=crops,
                            workers=workers, resume=resume, progress=progress,
                            detect_every=detect_every, analyzer=self,
                            keep_rows=return_table and csv is None)
        if not return_table:
            return summary
        import csv as csvlib
        import io

        import pandas as pd
        text = {"input": str, "error": str}
        if csv is not None:
            return pd.read_csv(csv, dtype=text)
        # the same types as a table read back from a CSV: numbers as numbers, empty as NaN
        buf = io.StringIO()
        w = csvlib.DictWriter(buf, self.columns(), restval="")
        w.writeheader()
        w.writerows(summary.rows)
        buf.seek(0)
        return pd.read_csv(buf, dtype=text)


# ---------------------------------------------------------------------------
# Video: tracking, detection every k-th frame, smoothing
# ---------------------------------------------------------------------------
def _landmark_bbox(lm: np.ndarray) -> np.ndarray:
    x0, y0 = lm.min(0)
    x1, y1 = lm.max(0)
    return np.array([x0, y0, x1 - x0, y1 - y0], dtype=np.float64)


def _keep_on_face(dlib68: np.ndarray, mesh68: np.ndarray) -> np.ndarray:
    """dlib's points, except for faces where they left the mesh's (``DLIB_LOST``)."""
    out = np.array(dlib68, np.float32)
    for i, (d, m) in enumerate(zip(dlib68, mesh68)):
        iod = max(float(np.linalg.norm(m[36:42].mean(0) - m[42:48].mean(0))), 1.0)
        if np.linalg.norm(d[17:] - m[17:], axis=1).mean() > DLIB_LOST * iod:
            out[i] = m
    return out


def _set_aus(face: Face, values, estimator) -> None:
    """Store AU intensities on a face, and their presence by the estimator's thresholds."""
    from .aus import AU_CODES
    face.aus = dict(zip(AU_CODES, np.asarray(values, dtype=np.float64).tolist()))
    thr = getattr(estimator, "presence_threshold", None) or {}
    if thr:
        face.au_presence = {c: bool(face.aus[c] >= thr[c]) for c in AU_CODES if c in thr}


class FaceStream:
    """Analyse consecutive frames of one video with persistent face ids.

    detect_every : run the face detector on every k-th frame only; in between,
        each face is followed by re-fitting its landmarks in a box derived from
        the previous frame's landmarks (how OpenFace tracks).  New faces appear
        within k frames; a face whose followed box jumps or leaves the frame is
        dropped until the next detection.  1 = detect on every frame.
    smooth : emotion smoothing weight (0 = off; see ``EmotionSmoother``).
    au_baseline : "population" (AUs referenced to the neutral faces of FER2013, as for
        photos) or "running": each tracked face's AUs referenced to its own running
        median over the last ``window`` frames (``aus.RunningBaseline``; the population
        baseline until 30 frames are seen).  A still photo has no personal neutral, so
        person-specific traits (brows that sit high, a mouth that turns down) read as
        AUs there; in video the running baseline removes them.  Only the AU intensity
        columns change; the AU emotion model keeps the population AUs it was trained on.
    """

    def __init__(self, analyzer: FaceAnalyzer, detect_every: int = 1, smooth: float = 0.0,
                 max_missed: int = 10, au_baseline: str = "population", window: int = 300):
        from .tracking import EmotionSmoother, Tracker

        if detect_every < 1:
            raise ValueError("detect_every must be >= 1")
        if au_baseline not in ("population", "running"):
            raise ValueError(f"au_baseline must be 'population' or 'running', not {au_baseline!r}")
        self.au_baseline, self.window = au_baseline, int(window)
        self._baselines: dict = {}           # track id -> aus.RunningBaseline
        self.analyzer = analyzer
        self.detect_every = int(detect_every)
        self.tracker = Tracker(max_missed=max_missed)
        self.smoother = EmotionSmoother(smooth)
        self._follow: dict[int, tuple] = {}   # track id -> (landmarks, box-from-landmarks relation, score, mesh)
        self._n = 0

    def process(self, frame, color: str = "bgr") -> list[Face]:
        bgr = to_bgr(frame, color)
        gray = to_gray(bgr)
        h, w = gray.shape[:2]
        detect_now = (self._n % self.detect_every == 0) or not self._follow
        self._n += 1
        if detect_now:
            dets = self.analyzer.detect(bgr)
            faces = self.analyzer.analyze_bgr(bgr, gray=gray, boxes=dets) if dets else []
            ids = self.tracker.update([f.box for f in faces])
            follow = {}
            for f, tid, (box, score) in zip(faces, ids, dets):
                lb = _landmark_bbox(f.landmarks)
                rel = np.array([(box[0] - lb[0]) / max(lb[2], 1), (box[1] - lb[1]) / max(lb[3], 1),
                                box[2] / max(lb[2], 1), box[3] / max(lb[3], 1)])
                follow[tid] = (f.landmarks, rel, score, f.mesh)
        else:
            tids, dets, prev_boxes = [], [], []
            for tid, (lm, rel, score, _) in self._follow.items():
                lb = _landmark_bbox(lm)
                box = (lb[0] + rel[0] * lb[2], lb[1] + rel[1] * lb[3], rel[2] * lb[2], rel[3] * lb[3])
                tids.append(tid)
                dets.append((tuple(int(round(v)) for v in box), score))
                prev_boxes.append(lb)
            prev = [self._follow[t][3] for t in tids]
            faces = self.analyzer.analyze_bgr(bgr, gray=gray, boxes=dets, follow=prev)
            follow, kept = {}, []
            for f, tid, (box, score), plb in zip(faces, tids, dets, prev_boxes):
                lb = _landmark_bbox(f.landmarks)
                size_ratio = np.sqrt(max(lb[2] * lb[3], 1.0) / max(plb[2] * plb[3], 1.0))
                cx, cy = lb[0] + lb[2] / 2, lb[1] + lb[3] / 2
                if not (0.75 <= size_ratio <= 1.33 and 0 <= cx < w and 0 <= cy < h):
                    continue  # lost: wait for the next detection
                follow[tid] = (f.landmarks, self._follow[tid][1], score, f.mesh)
                kept.append(f)
            faces = kept
            ids = list(follow)
            self.tracker.update_known({tid: f.box for tid, f in zip(ids, faces)})
        self._follow = follow
        for f, tid in zip(faces, ids):
            f.face_id = int(tid)
            f.emotions = self.smoother(("cnn", tid), f.emotions)
            f.au_emotions = self.smoother(("au", tid), f.au_emotions)
            if self.au_baseline == "running" and f.aus is not None:
                self._rebase_aus(f, tid)
        self.smoother.forget([("cnn", t) for t in self.tracker.tracks] + [("au", t) for t in self.tracker.tracks])
        for tid in [t for t in self._baselines if t not in self.tracker.tracks]:
            del self._baselines[tid]
        return faces

    def _rebase_aus(self, face: Face, tid: int) -> None:
        """Replace the face's AUs by those referenced to its own running baseline."""
        from .aus import RunningBaseline
        est = self.analyzer.au_estimator
        if tid not in self._baselines:
            self._baselines[tid] = RunningBaseline(est, window=self.window)
        _set_aus(face, self._baselines[tid].update(self.analyzer._au_input(face.landmarks[None],
                                                                           None if face.mesh is None else
                                                                           face.mesh[None])[0]), est)
