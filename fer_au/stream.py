"""``FaceStream``: consecutive video frames through one ``FaceAnalyzer``, with persistent
face ids (tracking), detection every k-th frame, emotion smoothing and, on request,
AUs referenced to each face's own running baseline."""
from __future__ import annotations

import numpy as np

from .analyzer import FaceAnalyzer, _set_aus
from .face import Face
from .faces import centres_close
from .media import to_bgr, to_gray
from .tracking import WARMUP, iou


# ``analyze``'s sweep for small faces (FaceStream's ``sweep_every``; ``sweep_period``): every
# 5th frame of HD video (over 1500 px; 0.2 s at 25 fps), every 10th of smaller video.  Chosen on
# bench/video_detection.py --seed 1: 1920x1080 clips, faces found in 30.8 % of frames with the
# whole-frame pass alone, 66.0 % sweeping every 5th frame, 64.4 % every 10th, with false
# positives 0.05 / 0.12 / 0.16 a frame (a false face a sweep finds is followed until the next
# sweep drops it), 30 / 53 / 38 ms a frame (with the held faces' fixed box and ``_same_face``
# since: 66.7 %, 0.11); 640x480 clips (session 16, 3x3 tiles): 65.3 / 83.3 / 83.3 %, false
# positives 0.05 / 0.08 / 0.09, 12 / 24 / 19 ms a frame (detection and landmarks only): there
# every 10th frame finds as many for less.  ``live`` spreads it over its detections instead
# (``roll_tiles``: a whole sweep would stall its view).
SWEEP_EVERY = 5
SWEEP_EVERY_SD = 10
SWEEP_SD_SIDE = 1500


def sweep_period(frame_size) -> int:
    """``analyze``'s ``sweep_every`` for a video of ``frame_size`` (w, h)."""
    return SWEEP_EVERY if max(frame_size) > SWEEP_SD_SIDE else SWEEP_EVERY_SD


def resume_first(start: int, every: int = 1, detect_every: int = 1, au_baseline: str = "population",
                 window: int = 300) -> int:
    """The frame a resumed video's stream starts at, for rows from frame ``start``:
    ``WARMUP`` analysed frames early (and a running baseline's ``window`` more, so each
    track's baseline holds the same frames), on a detection frame.  ``warm_start`` may
    move it back further, to a sweep."""
    if start <= 0:
        return 0
    back = WARMUP + (window if au_baseline == "running" else 0)
    de = max(1, int(detect_every))
    return max(0, start // every - back) // de * de * every


def warm_start(analyzer: FaceAnalyzer, frame_size, start: int, every: int = 1) -> int:
    """Where to begin decoding a video whose rows begin at frame ``start`` (``--resume``, a
    Dask segment) so that they are the rows of an uninterrupted run: a sweeping stream
    (``sweep_period``) holds the faces its last sweep found,
    so it starts at that sweep's frame and analyses the frames up to ``start`` unrecorded.
    ``frame_size`` (w, h); frames are numbered as analysed, every ``every``-th."""
    if start <= 0 or analyzer.video_sweep_upsample(max(frame_size)) is None:
        return start
    return start - ((start // every) % sweep_period(frame_size)) * every


def _same_face(a, b) -> bool:
    """Two boxes of one face: overlapping (IoU >= 0.3), or drawn at a similar size (within 2x)
    with centres closer than 0.75 of the larger side, as ``faces._one_per_face`` judges
    (the whole frame and a sweep's tiles box a small face differently)."""
    if iou(a, b) >= 0.3:
        return True
    ratio = np.sqrt(max(a[2] * a[3], 1.0) / max(b[2] * b[3], 1.0))
    return 0.5 <= ratio <= 2.0 and centres_close(a, b)


# A held face stays while the face mesh, run once on its box, gives a face presence of at least
# this: a face that left is then dropped at once instead of being followed, as a ghost on the
# background, until the next sweep (session 16: a 150-px face leaving a 640x480 video was
# written for five more frames).  Far below the 0.5 a detector's unsure proposal needs, since a
# held face is one the whole-frame pass already misses (small, rotated, half covered).  Chosen
# on bench/video_detection.py --seed 1: 640x480 (sweep every 10th frame) faces found / false
# positives a frame, no check 83.3 % / 0.09, 0.05 83.0 / 0.06, 0.1 82.6 / 0.05, 0.2 81.8 / 0.05,
# 0.5 80.3 / 0.05; 1920x1080 (every 5th) no check 66.7 / 0.11, 0.05 65.5 / 0.08, 0.1 64.7 / 0.07.
HELD_PRESENCE = 0.05


def _still_a_face(bgr, box) -> bool:
    """Does the face mesh, run once on ``box``, still see a face there (``HELD_PRESENCE``)?"""
    from .mesh import shared_mesh
    return shared_mesh().predict(bgr, box, refine=False)[1] >= HELD_PRESENCE


def _landmark_bbox(lm: np.ndarray) -> np.ndarray:
    x0, y0 = lm.min(0)
    x1, y1 = lm.max(0)
    return np.array([x0, y0, x1 - x0, y1 - y0], dtype=np.float64)


class FaceStream:
    """Analyse consecutive frames of one video with persistent face ids.

    detect_every : run the face detector on every k-th frame only; in between,
        each face is followed by re-fitting its landmarks in a box derived from
        the previous frame's landmarks (how OpenFace tracks).  New faces appear
        within k frames; a face whose followed box jumps or leaves the frame is
        dropped until the next detection.  1 = detect on every frame.
    smooth : emotion smoothing weight (0 = off; see ``EmotionSmoother``).
    emotion_every : run the main emotion model (the CNN, most of a face's cost) on
        each followed face every k-th frame only and hold its last emotions in
        between; faces take their turns on different frames, so the cost per frame
        stays even.  A new face is classified at once.  1 = every frame.  The AUs and
        the AU emotion model are computed on every frame either way.  With k > 1 and
        a model that averages each face with its mirror image (the shipped CNN), a
        face's first turn sees both views and later turns one view each, plain and
        mirrored by turns; its emotions are the mean of its latest plain and latest
        mirrored answer (the first turn's average stands in for a view until that view
        has answered alone): the mirror average at half the cost.
    sweep_every : search the frame with the photo's tiles every k-th frame as well
        (``FaceAnalyzer.video_sweep_upsample``: none when the analyzer's ``upsample`` was
        chosen), and follow the faces such a sweep finds until the next sweep even where
        the whole-frame pass misses them (small faces).
        0 = never (the default; ``analyze`` uses ``sweep_period``: 5 for HD, 10 below).
    roll_tiles : spread that search over the detections instead (``live``: a whole sweep
        would stall its view): each detection also searches one tile of the grid, in turn,
        and a face only a tile found is followed until its tile comes round again.
    au_baseline : "population" (AUs referenced to the neutral faces of FER2013, as for
        photos) or "running": each tracked face's AUs referenced to its own running
        median over the last ``window`` frames (``aus.RunningBaseline``; the population
        baseline until 30 frames are seen).  A still photo has no personal neutral, so
        person-specific traits (brows that sit high, a mouth that turns down) read as
        AUs there; in video the running baseline removes them.  Only the AU intensity
        columns change; the AU emotion model keeps the population AUs it was trained on.
    """

    def __init__(self, analyzer: FaceAnalyzer, detect_every: int = 1, smooth: float = 0.0,
                 max_missed: int = 10, au_baseline: str = "population", window: int = 300,
                 emotion_every: int = 1, sweep_every: int = 0, roll_tiles: bool = False):
        from .tracking import EmotionSmoother, Tracker

        if detect_every < 1:
            raise ValueError("detect_every must be >= 1")
        if emotion_every < 1:
            raise ValueError("emotion_every must be >= 1")
        self.emotion_every = int(emotion_every)
        if sweep_every < 0:
            raise ValueError("sweep_every must be >= 0")
        self.sweep_every = int(sweep_every)
        self._swept: dict[int, tuple] = {}   # track id -> its box's (w, h) at the last sweep
        self.roll_tiles = bool(roll_tiles)
        self._roll = 0                       # detections so far with a rolling tile
        self._found: dict[int, int] = {}     # track id -> frame count its rolling tile last found it
        self._emotions: dict[int, tuple[int, dict]] = {}   # track id -> (frame, its emotions)
        # alternate the views only where the model averages a face with its mirror image
        self._alternate = self.emotion_every > 1 and bool(getattr(analyzer.emotion_model, "tta", False))
        self._views: dict[int, dict] = {}    # track id -> its latest "plain" and "mirror" answers
        self._turn: dict[int, object] = {}   # track id -> what it was given this frame (_emotion_turns)
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

    def process(self, frame, color: str = "bgr", index: int | None = None) -> list[Face]:
        """The faces of the next frame.  ``index``: its number among the video's analysed
        frames, which sets when detections and sweeps come (default: this stream's own
        count), so a stream started mid-video (``warm_start``) detects and sweeps on the
        frames a whole run does."""
        bgr = to_bgr(frame, color)
        gray = to_gray(bgr)
        h, w = gray.shape[:2]
        n = self._n
        count = n if index is None else int(index)
        sweep_up = self.analyzer.video_sweep_upsample(max(h, w)) if self.sweep_every or self.roll_tiles else None
        sweep_now = sweep_up is not None and self.sweep_every > 0 and count % self.sweep_every == 0
        detect_now = sweep_now or (count % self.detect_every == 0) or not self._follow
        self._n += 1
        if detect_now:
            dets = self.analyzer.detect(bgr, sweep_up) if sweep_now else self.analyzer.detect(bgr)
            n_roll = self.analyzer.n_tiles(gray.shape, sweep_up) if self.roll_tiles and sweep_up is not None \
                and not sweep_now else 0
            rolled = self._rolling_tile(bgr, sweep_up, dets, n_roll) if n_roll else []
            dets = list(dets) + rolled
            # a face the last sweep found and this pass misses is followed until the next sweep
            # (one the rolling tile found, until its tile has come round again without finding
            # it: n_roll detections), while the face mesh still sees a face there
            looked = {} if sweep_now else {t: self._held_box(t) for t in self._follow if t in self._swept
                                           and count - self._found.get(t, count) <= n_roll * self.detect_every}
            held = [t for t, (hb, _) in looked.items()
                    if not any(_same_face(hb, b) for b, _ in dets) and _still_a_face(bgr, hb)]
            boxes = list(dets) + [looked[t] for t in held]
            # ids first (from the boxes each Face will carry), so emotion turns are known
            ids = self.tracker.update([tuple(int(v) for v in box) for box, _ in boxes])
            by_tile = set(ids[len(dets) - len(rolled):len(dets)])
            prev = [None] * len(dets) + [self._follow[t][3] for t in held]
            faces = self.analyzer.analyze_bgr(bgr, gray=gray, boxes=boxes, follow=prev if held else None,
                                              emotions_for=self._emotion_turns(ids, n)) if boxes else []
            follow, kept, kept_ids, kept_boxes = {}, [], [], []
            for i, (f, tid, (box, score)) in enumerate(zip(faces, ids, boxes)):
                if i >= len(dets):          # a held face: its previous relation to its box stays
                    if not self._still_on(f, self._predicted(held[i - len(dets)])[2], w, h):
                        continue
                    follow[tid] = (f.landmarks, self._follow[held[i - len(dets)]][1], score, f.mesh)
                else:
                    lb = _landmark_bbox(f.landmarks)
                    rel = np.array([(box[0] - lb[0]) / max(lb[2], 1), (box[1] - lb[1]) / max(lb[3], 1),
                                    box[2] / max(lb[2], 1), box[3] / max(lb[3], 1)])
                    follow[tid] = (f.landmarks, rel, score, f.mesh)
                kept.append(f)
                kept_ids.append(tid)
                kept_boxes.append(box)
            faces, ids = kept, kept_ids
            if sweep_now:
                self._swept = {tid: (box[2], box[3]) for tid, box in zip(ids, kept_boxes)}
            for tid, box in zip(ids, kept_boxes):
                if tid in by_tile:                      # found by the rolling tile alone
                    self._swept[tid], self._found[tid] = (box[2], box[3]), count
        else:
            tids = list(self._follow)
            predicted = [self._predicted(t) for t in tids]
            dets = [(box, score) for box, score, _ in predicted]
            prev = [self._follow[t][3] for t in tids]
            faces = self.analyzer.analyze_bgr(bgr, gray=gray, boxes=dets, follow=prev,
                                              emotions_for=self._emotion_turns(tids, n))
            follow, kept = {}, []
            for f, tid, (box, score), (_, _, plb) in zip(faces, tids, dets, predicted):
                if not self._still_on(f, plb, w, h):
                    continue  # lost: wait for the next detection
                follow[tid] = (f.landmarks, self._follow[tid][1], score, f.mesh)
                kept.append(f)
            faces = kept
            ids = list(follow)
            self.tracker.update_known({tid: f.box for tid, f in zip(ids, faces)})
        self._follow = follow
        self._swept = {t: wh for t, wh in self._swept.items() if t in follow}
        self._found = {t: c for t, c in self._found.items() if t in follow}
        for f, tid in zip(faces, ids):
            f.face_id = int(tid)
            if f.emotions is None and tid in self._emotions:      # not its turn: hold
                f.emotions = self._emotions[tid][1]
            else:
                f.emotions = self.smoother(("cnn", tid), self._both_views(tid, f.emotions))
                if f.emotions is not None:
                    # a new face's next turn comes early by (id mod k): turns spread over frames
                    first = tid not in self._emotions
                    self._emotions[tid] = (n - (tid % self.emotion_every if first else 0), f.emotions)
            f.au_emotions = self.smoother(("au", tid), f.au_emotions)
            if self.au_baseline == "running" and f.aus is not None:
                self._rebase_aus(f, tid)
        self.smoother.forget([("cnn", t) for t in self.tracker.tracks] + [("au", t) for t in self.tracker.tracks])
        for tid in [t for t in self._baselines if t not in self.tracker.tracks]:
            del self._baselines[tid]
        for tid in [t for t in self._emotions if t not in self.tracker.tracks]:
            del self._emotions[tid]
            self._views.pop(tid, None)
        return faces

    def _predicted(self, tid: int):
        """(box, score, landmarks' bounding box) where a followed face is looked for in
        the next frame: its box as it stood to its landmarks when it was detected."""
        lm, rel, score, _ = self._follow[tid]
        lb = _landmark_bbox(lm)
        box = (lb[0] + rel[0] * lb[2], lb[1] + rel[1] * lb[3], rel[2] * lb[2], rel[3] * lb[3])
        return tuple(int(round(v)) for v in box), score, lb

    def _rolling_tile(self, bgr, upsample: int, dets, n: int) -> list:
        """``roll_tiles``: the faces one tile of the sweep's grid (``n`` tiles) finds that the
        whole-frame pass did not (``dets``); each detection searches the next tile, so the
        grid is covered every ``n`` detections at the cost of one tile a detection."""
        tile = 1 + self._roll % n
        self._roll += 1
        # a tile sees only part of a larger face and may take an eye for a small face: boxes
        # lying mostly inside a face the whole frame found are that (as mesh._drop_inner judges)
        from .mesh import lies_inside

        def corners(b):
            return (b[0], b[1], b[0] + b[2], b[1] + b[3])
        return [(box, score) for box, score in self.analyzer.detect(bgr, upsample, tile=tile)
                if not any(_same_face(box, b) or lies_inside(corners(box), corners(b)) for b, _ in dets)]

    def _held_box(self, tid: int):
        """(box, score) where a face the last sweep found is looked for: centred where its
        landmarks lead, the size the sweep gave it (a followed box of a small face shrank
        by a few % a frame with dlib's fit, until the next sweep's box no longer matched it)."""
        (x, y, bw, bh), score, _ = self._predicted(tid)
        sw, sh = self._swept[tid]
        cx, cy = x + bw / 2, y + bh / 2
        return (int(round(cx - sw / 2)), int(round(cy - sh / 2)), int(sw), int(sh)), score

    @staticmethod
    def _still_on(face: Face, previous_lb, w: int, h: int) -> bool:
        """A followed face is kept while its landmarks neither jump in size nor leave the frame."""
        lb = _landmark_bbox(face.landmarks)
        size_ratio = np.sqrt(max(lb[2] * lb[3], 1.0) / max(previous_lb[2] * previous_lb[3], 1.0))
        cx, cy = lb[0] + lb[2] / 2, lb[1] + lb[3] / 2
        return 0.75 <= size_ratio <= 1.33 and 0 <= cx < w and 0 <= cy < h

    def _emotion_turns(self, ids, n: int) -> list:
        """What the emotion model does for each of these faces in frame ``n``
        (``analyze_bgr``'s ``emotions_for``): False (not its turn), True (both views:
        every frame, or a face's first turn) or the one view this turn sees."""
        k = self.emotion_every
        turns = []
        for t in ids:
            due = k == 1 or t not in self._emotions or n - self._emotions[t][0] >= k
            turns.append(due and (self._views[t]["next"] if self._alternate and t in self._views else True))
        self._turn = dict(zip(ids, turns))
        return turns

    def _both_views(self, tid: int, emotions):
        """A face's emotions from its latest answer for each view (``_emotion_turns``)."""
        turn = self._turn.get(tid, True)
        if emotions is None or not self._alternate:
            return emotions
        if turn not in ("plain", "mirror"):          # both views at once: the first turn
            self._views[tid] = {"plain": emotions, "mirror": emotions, "next": "mirror"}
            return emotions
        v = self._views[tid]
        v[turn], v["next"] = emotions, "plain" if turn == "mirror" else "mirror"
        mean = {c: 0.5 * (v["plain"][c] + v["mirror"][c]) for c in emotions}
        total = sum(mean.values())
        return {c: p / total for c, p in mean.items()}

    def _rebase_aus(self, face: Face, tid: int) -> None:
        """Replace the face's AUs by those referenced to its own running baseline."""
        from .aus import RunningBaseline
        est = self.analyzer.au_estimator
        if tid not in self._baselines:
            self._baselines[tid] = RunningBaseline(est, window=self.window)
        _set_aus(face, self._baselines[tid].update(self.analyzer._au_input(face.landmarks[None],
                                                                           None if face.mesh is None else
                                                                           face.mesh[None])[0]), est)
