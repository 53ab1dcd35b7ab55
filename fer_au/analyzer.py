"""FaceAnalyzer: one image (or video frame) in, a list of analysed faces out.

    >>> from fer_au import FaceAnalyzer
    >>> analyzer = FaceAnalyzer()                 # shipped models, loaded once
    >>> faces = analyzer.analyze("photo.jpg")     # path, numpy array or PIL image
    >>> faces[0].top_emotion, faces[0].aus["AU12"]
    >>> from fer_au import analyze_paths            # many files: fer_au.batch
    >>> table = analyze_paths(["photos/"], csv="results.csv", analyzer=analyzer)

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

A face is a :class:`fer_au.face.Face`.  For video, :class:`fer_au.stream.FaceStream`
adds persistent face ids (tracking) and two speed-ups: detection only every k-th
frame (faces are followed by their landmarks in between), and smoothing of the
emotions over time.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import FerAuError
from .face import Face
from .labels import FER7
from .media import to_bgr, to_gray

DETECTORS = {"blazeface": "mediapipe-blazeface", "hog": "dlib-hog", "haar": "opencv-haar"}
# Photos' default ``upsample`` per detector: BlazeFace searches a 3x3 grid of overlapping tiles
# besides the whole image (bench/detection.py, 640x480 composites: recall 79.0 -> 81.9 % against
# 2x2, faces of 24-40 px 57.5 -> 75 %, ~+20 ms a photo); the others search the image as it is.
PHOTO_UPSAMPLE = {"blazeface": 2}
# ... and more tiles for a photo over 1500 px, one per PHOTO_TILE_SIDE px of its longer side (up
# to PHOTO_MAX_TILES per side): the detector's copy (``detect_size``) shrinks a larger photo, and
# 3x3 tiles of a 4000x3000 photo found 41.4 % of its faces, 8x8 (with a 3x3 grid, mesh.MID_TILES)
# 75.0 % (bench/detection.py --canvas 4000x3000 --seed 1, where this was chosen; README: seed 0);
# at 1920x1080 the grid hardly mattered.
# Only when the caller leaves ``upsample`` to the analyzer.
PHOTO_TILE_SIDE = 500
PHOTO_MAX_TILES = 8
# A photo's search also lets dlib's HOG detector look at the whole detector copy (up to
# PHOTO_HOG_SIDE px), where a video sweep's look shrinks it to faces.HOG_SIDE (640): HOG finds
# frontal faces from ~80 px of its copy, and in a 1920x1080 photo those are faces of 120 px and
# more, not 240 (bench/detection.py --canvas 1920x1080 --n-per-condition 8|16, BlazeFace's
# photo path: --seed 1 115 -> 117 of 146 faces, --seed 2 201 -> 209 of 281, no more false
# alarms; ~+55 ms a 1920x1080 photo). Video sweeps keep 640: a 1920x1080 clip gained nothing on
# seed 0 for 29 % more time a frame (bench/video_detection.py --canvas 1920x1080).
PHOTO_HOG_SIDE = 1280
# Video frames of any size get the photo's tiles on a periodic sweep (FaceStream's
# ``sweep_every``, which ``analyze`` turns on): the whole-frame pass alone found 28.4 % of the
# faces of 1920x1080 composites, none under 60 px (bench/detection.py --canvas 1920x1080), and
# 65.3 % of those of 640x480 clips (bench/video_detection.py --canvas 640x480 --seed 1; sweeping
# every 10th frame: 83.3 %; session 15 swept frames over 1500 px only, session 16 every size).
LANDMARKERS = {"hybrid": "dlib-68+mediapipe-mesh", "mesh": "mediapipe-mesh-468", "dlib": "dlib-68"}
# In "hybrid" mode a face whose dlib points lie this far (mean, in inter-ocular
# distances) from the mesh's is one dlib lost (a profile, a hand over the face):
# the mesh's 68 points are used instead.
DLIB_LOST = 0.15


class ModelUnavailableError(FerAuError, RuntimeError):
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



def _emotion_proba(model, lms, crops, gray) -> np.ndarray:
    """(N, 7) probabilities of an emotion model, fed what its ``input_kind`` declares
    (``zoo.INPUT_KINDS``; a model that declares nothing reads the 48-px crops)."""
    kind = getattr(model, "input_kind", "crop48")
    if kind == "crop48":
        proba = model.predict_proba(crops)
    elif kind == "landmarks":
        proba = model.predict_proba_landmarks(lms)
    elif kind == "landmarks+image":
        proba = model.predict_proba_landmarks(lms, image=gray)
    else:
        raise ValueError(f"emotion model {type(model).__name__} declares an unknown input_kind {kind!r}")
    return np.asarray(proba, dtype=np.float64)


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
    emotion_model : "cnn" (the shipped CNN), a name of ``zoo.REGISTRY``, None (no
        emotions) or an emotion model object: ``classes_`` (fer7 codes),
        ``predict_proba`` and ``input_kind`` (``zoo.INPUT_KINDS``), which says what it
        is fed: "crop48" -> ``predict_proba(faces48 (N,48,48) uint8)``, "landmarks" ->
        ``predict_proba_landmarks(landmarks (N,68,2))``, "landmarks+image" -> the same
        with ``image=`` the grey frame.  Its probabilities fill the fer7 columns.
    au_model : the second emotion model, the same contract; "au" (default, the shipped
        AU-XGBoost emotion model on AU intensities) or None.  Its probabilities fill
        the ``au_<emotion>`` columns.
    aus : estimate action units (True) or not (False).
    upsample : search for smaller faces at a higher cost (BlazeFace: ``upsample + 1``
        overlapping tiles per side besides the whole image; 1 finds faces down to ~30 px
        in a 640x480 frame at ~4x the detector's cost, 2 down to ~24 px at ~7x; dlib:
        doubles the image, 1 finds faces down to ~40 px, 4x slower).
        None (default): 2 for photos (``analyze``, and still images in
        ``analyze_paths``) with BlazeFace, more for a photo over 1500 px
        (``photo_upsample_for``: up to 7, i.e. 8x8 tiles, for 4000 px and over), 0 for video frames (``FaceStream``,
        ``live``) and with the other detectors: a photo is worth the ~65 ms (tiles and
        dlib HOG's second look, ``faces.HOG_SECOND_LOOK``), a video
        frame's budget is not (``analyze`` sweeps a video with the photo's tiles every
        few frames instead: ``video_sweep_upsample``).
    min_face : smallest face side kept, pixels of the input image.
    detect_size : detect on a copy whose longer side is at most this many
        pixels (boxes are scaled back; landmarks use full resolution).  None
        detects at full size.
    color : channel order assumed for 3/4-channel numpy arrays, "bgr" (OpenCV,
        default) or "rgb" (skimage, imageio, matplotlib); grey arrays, files and
        PIL images need no hint.
    models_dir : where the shipped models are (default: the package's models/).
    identities : also compute dlib's face-recognition descriptor of every face that
        ``analyze`` returns (``Face.descriptor``, 128 numbers; ``fer_au.identity``
        clusters them into people), and number people in ``analyze_paths``.
    """

    def __init__(self, detector="blazeface", emotion_model="cnn", au_model="au", aus: bool = True,
                 upsample: int | None = None, min_face: int = 24, detect_size: int | None = 1280,
                 color: str = "bgr", models_dir=None, derotate: bool = False, landmarks: str = "hybrid",
                 identities: bool = False):
        from .faces import FaceDetector, LandmarkPredictor

        # How to rebuild this analyzer in a worker process (None when given model objects).
        named = all(isinstance(m, (str, type(None))) for m in (detector, emotion_model, au_model))
        self.init_kwargs = dict(detector=detector, emotion_model=emotion_model, au_model=au_model,
                                aus=aus, upsample=upsample, min_face=min_face, detect_size=detect_size,
                                color=color, models_dir=None if models_dir is None else str(models_dir),
                                derotate=derotate, landmarks=landmarks, identities=identities) if named else None
        # identities: dlib's face descriptor on every face of analyze() (fer_au.identity)
        self.identities = bool(identities)
        self.describer = None
        if identities:
            from .identity import shared_describer
            self.describer = shared_describer()
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
                self.detector = FaceDetector(detector, upsample=upsample or 0, min_size=1)
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
        # what a photo gets (analyze, still images in analyze_paths); video frames get the
        # detector's own (FaceStream calls detect() without it).  3x3 tiles for photos since
        # session 14 (2x2 before), chosen on bench/detection.py's --seed 1 composites
        self._photo_grows = upsample is None and detector in PHOTO_UPSAMPLE
        if upsample is None:
            self.photo_upsample = PHOTO_UPSAMPLE.get(detector, 0) if isinstance(detector, str) else 0
        else:
            self.photo_upsample = int(upsample)

    def photo_upsample_for(self, side: int) -> int:
        """The detector's ``upsample`` for a photo whose longer side is ``side`` px:
        ``photo_upsample``, with more tiles past 1500 px when it is the analyzer's
        default (``PHOTO_TILE_SIDE``)."""
        if not self._photo_grows:
            return self.photo_upsample
        return min(max(math.ceil(side / PHOTO_TILE_SIDE), self.photo_upsample + 1), PHOTO_MAX_TILES) - 1

    def video_sweep_upsample(self, side: int) -> int | None:
        """The ``upsample`` of a sweep for small faces in a video frame whose longer side
        is ``side`` px (``FaceStream``'s ``sweep_every``): the photo's tiles (3x3 up to
        1500 px, more beyond) when ``upsample`` is the analyzer's default; None (no sweep)
        otherwise - an ``upsample`` the caller chose is used on every detection already."""
        if not self._photo_grows:
            return None
        return self.photo_upsample_for(side)

    def n_tiles(self, shape, upsample: int) -> int:
        """How many tiles ``detect(image, upsample, tile=...)`` can search in an image of
        ``shape`` (BlazeFace; the same copy of at most ``detect_size`` px ``detect`` uses)."""
        from .faces import FaceDetector
        if not isinstance(self.detector, FaceDetector):
            return 0
        return self.detector.n_tiles(self._detect_copy(shape)[1], upsample)

    def _detect_copy(self, shape) -> tuple[float, tuple[int, int]]:
        """(scale, (height, width)) of the copy ``detect`` searches in an image of ``shape``:
        at most ``detect_size`` px long (scale 1.0: the image itself)."""
        h, w = shape[:2]
        if not self.detect_size or max(h, w) <= self.detect_size:
            return 1.0, (h, w)
        scale = self.detect_size / max(h, w)
        return scale, (max(1, round(h * scale)), max(1, round(w * scale)))

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
    def detect(self, image: np.ndarray, upsample: int | None = None, tile: int | None = None,
               hog_side: int | None = None) -> list[tuple[tuple, float]]:
        """Face boxes ``[((x, y, w, h), score), ...]`` in pixels of ``image`` (BGR or
        grey; BlazeFace reads the colour where there is colour), left to right.
        ``upsample`` overrides the detector's for this call (``detect_photo`` for a photo);
        ``tile``: search only that tile of its grid (``n_tiles``), not the whole image;
        ``hog_side``: the copy HOG's second look searches (``FaceDetector.detect``)."""
        import cv2

        scale, (sh, sw) = self._detect_copy(image.shape)
        src = image if scale == 1.0 else cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
        from .faces import FaceDetector
        found = (self.detector.detect(src, min_size=max(1, int(self.min_face * scale)), upsample=upsample,
                                      tile=tile, hog_side=hog_side)
                 # the floor in the detector's (possibly downscaled) pixels, passed per call so a
                 # detector the caller owns is left as it was; for Haar it also sets the smallest
                 # window searched, which is most of its cost
                 if isinstance(self.detector, FaceDetector) else self.detector.detect(src))
        out = []
        for (x, y, bw, bh), s in found:
            box = (x / scale, y / scale, bw / scale, bh / scale)
            if min(box[2], box[3]) >= self.min_face:
                out.append((tuple(int(round(v)) for v in box), float(s)))
        return sorted(out, key=lambda d: d[0][0])

    def detect_photo(self, image: np.ndarray, side: int | None = None) -> list[tuple[tuple, float]]:
        """``detect`` as a photo is searched: the photo's tiles for its longer ``side`` (default
        ``image``'s; ``photo_upsample_for``) and HOG's look on the whole detector copy
        (PHOTO_HOG_SIDE)."""
        side = side or max(image.shape[:2])
        return self.detect(image, self.photo_upsample_for(side), hog_side=PHOTO_HOG_SIDE)

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
        if boxes is None and not crop:
            boxes = self.detect_photo(bgr)
        faces = self.analyze_bgr(bgr, crop=crop, boxes=boxes)
        if self.describer is not None:
            from .identity import describe_faces
            describe_faces(bgr, faces, self.describer)
        return faces

    def analyze_bgr(self, bgr: np.ndarray, *, gray=None, crop: bool = False, boxes=None,
                    follow=None, emotions_for=None, upsample: int | None = None) -> list[Face]:
        """As ``analyze`` on a BGR array.  ``follow``: the previous frame's meshes, one
        per box (None for a new face), for faces followed from frame to frame
        (``_mesh_of``).  ``emotions_for``: one entry per box, the faces the main emotion
        model runs on (the others keep ``emotions=None``; ``FaceStream``'s
        ``emotion_every``): False to skip, True for the model as loaded, ``"plain"``
        or ``"mirror"`` for one view of the face only, where the model averages the
        two (the shipped CNN's ``tta``; ``FaceStream`` alternates them); default all.
        ``upsample``: the detector's, for this call (by default the detector's own, what video
        frames get; ``analyze`` searches a photo with ``detect_photo`` and passes its boxes)."""
        from .faces import head_pose
        from .mesh import to_68

        gray = to_gray(bgr) if gray is None else gray
        if crop:
            return self._analyze_crop(gray)
        if boxes is None:
            dets = self.detect(bgr, upsample)
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
        self._classify(faces, lms, crops, gray, meshes, emotions_for)
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
        from .media import crop_problem

        if crop_problem(gray):   # too small or one flat colour: no face, so no made-up emotions
            return []
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

    def _classify(self, faces: list[Face], lms: np.ndarray, crops: np.ndarray, gray=None, meshes=None,
                  emotions_for=None) -> None:
        """AUs and both emotion models, for all faces of one image at once (the main
        emotion model only for the faces ``emotions_for`` marks, when given)."""
        if self.au_estimator is not None:
            for f, v in zip(faces, self.au_estimator.transform(self._au_input(lms, meshes))):
                _set_aus(f, v, self.au_estimator)
        if self.emotion_model is not None:
            turns = [True] * len(faces) if emotions_for is None else list(emotions_for)
            views = [t if t in ("plain", "mirror") else None for t in turns]
            if not getattr(self.emotion_model, "tta", False):
                views = [None] * len(faces)          # the model sees one view anyway
            for group in (None, "plain", "mirror"):
                todo = np.array([i for i, t in enumerate(turns) if t and views[i] == group], dtype=int)
                if not len(todo):
                    continue
                if group is None:
                    proba = _emotion_proba(self.emotion_model, lms[todo], crops[todo], gray)
                else:
                    c = crops[todo][:, :, ::-1] if group == "mirror" else crops[todo]
                    proba = np.asarray(self.emotion_model.predict_proba(np.ascontiguousarray(c), tta=False))
                for i, p in zip(todo, proba):
                    faces[i].emotions = dict(zip(FER7, p.tolist()))
        if self.au_emotion_model is not None:
            for f, p in zip(faces, _emotion_proba(self.au_emotion_model, lms, crops, gray)):
                f.au_emotions = dict(zip(FER7, p.tolist()))

    def _au_input(self, lms, meshes):
        """What the AU estimator reads: 3-D points (hybrid), the mesh, or 2-D points."""
        if self.landmarks == "hybrid":
            from .aus3d import with_depth
            return with_depth(lms, meshes)
        return meshes if self.landmarks == "mesh" else lms


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
