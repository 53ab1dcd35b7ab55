"""Person ids that survive cuts, exits and files: a face descriptor per face,
clustered by dlib's documented distance.

    >>> from fer_au import FaceAnalyzer
    >>> from fer_au.identity import cluster
    >>> faces = [f for p in photos for f in FaceAnalyzer(identities=True).analyze(p)]
    >>> cluster([f.descriptor for f in faces])          # one person id per face
    >>> # command line: python cli.py analyze photos/ clip.mp4 --identities run

The descriptor is dlib's face-recognition ResNet (128 numbers; weights in the
``face_recognition_models`` package, so nothing is downloaded).  dlib documents
that two descriptors closer than 0.6 (Euclidean) are the same person (99.38 %
on LFW); ``THRESHOLD`` is that value.

Within a run (``analyze --identities``), ``PersonRegistry`` assigns ids online:
each face joins the nearest known person whose mean descriptor is within the
threshold (two faces of one frame never share a person), else it starts a new
one.  ``scope="input"`` restarts the ids with every input (a video's own
people); ``scope="run"`` keeps them across all inputs (the same person in two
photos or two videos gets one id).  The IoU tracker's ``face_id`` says nothing
about who a face is - after a cut the track can continue on someone else.

A descriptor is costly (0.22 s a face on this project's 2-core EPYC, under load),
so in video ``VideoIdentities`` computes one for a face when its track is new,
every ``every`` (25) analysed frames, and whenever the track's aligned 48-px face
crop stops resembling its previous frame's (correlation < 0.7: a cut or a swap;
consecutive frames of one face correlate > 0.9 in the sample video, the cut 0.4);
in between the track keeps its person.  Photos get one descriptor per face.

Within one image or frame two faces never share a person (one person is in one
place), so a photo that shows the same face twice (group.jpg's mirrored copies)
gets two people; ``cluster`` has no such rule.

For ``--resume`` a run keeps ``results.persons.jsonl`` beside its output: one line per
image or frame that gave fresh descriptors (each descriptor, the person it joined, its
track and frame), written before that unit's rows.  A resumed run replays the lines of
the units its output holds (the journal's progress) and drops the others, so after a
kill at any moment the people, their mean descriptors and each video's descriptor
schedule are those of the uninterrupted run, and so are the ``person`` ids it writes.
"""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import numpy as np

THRESHOLD = 0.6          # dlib's same-person distance
PERSON_COLUMN = "person"


# --------------------------------------------------------------- descriptors
class FaceDescriber:
    """dlib's face-recognition ResNet: ``describer(image, faces) -> (N, 128)``.

    ``faces`` need ``box`` and 68 ``landmarks`` (``analyzer.Face``); dlib aligns
    its 150-px chip from the landmarks itself."""

    def __init__(self, model_path: str | None = None):
        import dlib
        if model_path is None:
            import face_recognition_models
            model_path = face_recognition_models.face_recognition_model_location()
        self._dlib = dlib
        self._net = dlib.face_recognition_model_v1(str(model_path))

    def _shape(self, face):
        d = self._dlib
        x, y, w, h = [float(v) for v in face.box]
        rect = d.rectangle(int(round(x)), int(round(y)), int(round(x + w)), int(round(y + h)))
        pts = d.points()
        for px, py in np.asarray(face.landmarks, np.float64):
            pts.append(d.point(int(round(px)), int(round(py))))
        return d.full_object_detection(rect, pts)

    def __call__(self, image, faces) -> np.ndarray:
        import cv2
        if not faces:
            return np.zeros((0, 128), np.float32)
        img = np.asarray(image)
        if img.ndim == 2:
            rgb = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
        else:   # the analyzer's images are BGR; dlib's network was trained on RGB
            rgb = cv2.cvtColor(img[..., :3], cv2.COLOR_BGR2RGB)
        shapes = self._dlib.full_object_detections()
        for f in faces:
            shapes.append(self._shape(f))
        return np.array(self._net.compute_face_descriptor(np.ascontiguousarray(rgb), shapes), np.float32)


_SHARED: dict = {}


def shared_describer() -> FaceDescriber:
    """One ``FaceDescriber`` per process (loading the network takes ~0.5 s)."""
    if "describer" not in _SHARED:
        _SHARED["describer"] = FaceDescriber()
    return _SHARED["describer"]


def describe_faces(image, faces, describer=None) -> np.ndarray:
    """Set ``face.descriptor`` on every face of one image; returns them (N, 128)."""
    d = (describer or shared_describer())(image, faces)
    for f, v in zip(faces, d):
        f.descriptor = v
    return d


# --------------------------------------------------------------- clustering
def cluster(descriptors, threshold: float = THRESHOLD) -> np.ndarray:
    """Offline: person ids 0, 1, ... (in order of first appearance) for a set of
    descriptors, by dlib's Chinese-whispers clustering of the graph linking
    descriptors closer than ``threshold``."""
    import dlib
    desc = [np.asarray(d, np.float64) for d in descriptors]
    if not desc:
        return np.zeros(0, int)
    raw = dlib.chinese_whispers_clustering([dlib.vector(d.tolist()) for d in desc], float(threshold))
    first: dict = {}
    return np.array([first.setdefault(label, len(first)) for label in raw], int)


class PersonRegistry:
    """Online person ids for a stream of faces (see the module docstring).

    ``assign(descriptors)`` gives one id per face of one image or frame;
    ``label(rows)`` is the batch hook: it reads the private ``_descriptor`` /
    ``_track`` keys ``describe_rows`` and ``VideoIdentities`` put on the rows of
    one image or frame, removes them and fills the ``person`` column.
    ``for_run`` keeps the people between a run and its ``--resume`` (module docstring).
    """

    def __init__(self, threshold: float = THRESHOLD, scope: str = "run"):
        if scope not in ("input", "run"):
            raise ValueError(f"identities scope must be 'input' or 'run', not {scope!r}")
        self.threshold, self.scope = float(threshold), scope
        self._sum = np.zeros((0, 128))     # per known person: sum of its descriptors
        self._n = np.zeros(0)              # and how many
        self._pid = np.zeros(0, int)       # and its id
        self._next = 0                     # ids are never reused, even when scope="input" resets
        self._tracks: dict = {}            # (input, track id) -> person, between descriptors
        self._described: dict = {}         # (input, track id) -> frame of its latest descriptor
        self._input = None
        self._log = None                   # the open --resume log (for_run)

    def __len__(self) -> int:
        return len(self._n)

    @property
    def centroids(self) -> np.ndarray:
        return self._sum / np.maximum(self._n, 1)[:, None]

    def reset(self) -> None:
        """Forget the people seen so far (a new input with scope="input")."""
        self._sum, self._n, self._pid, self._tracks = np.zeros((0, 128)), np.zeros(0), np.zeros(0, int), {}

    def assign(self, descriptors, exclude=()) -> list[int]:
        """Ids for the faces of one image/frame: greedy nearest-centroid matching
        under the threshold, one face per person, ``exclude`` = ids already taken
        in this frame; unmatched faces become new people."""
        desc = np.asarray(descriptors, np.float64).reshape(-1, 128)
        rows: list = [None] * len(desc)        # row of the matched person in _sum/_n/_pid
        if len(self._n) and len(desc):
            dist = np.linalg.norm(desc[:, None, :] - self.centroids[None], axis=-1)
            taken = {int(k) for k in np.flatnonzero(np.isin(self._pid, list(exclude)))}
            for flat in np.argsort(dist, axis=None):
                i, k = divmod(int(flat), dist.shape[1])
                if dist[i, k] >= self.threshold:
                    break
                if rows[i] is None and k not in taken:
                    rows[i] = k
                    taken.add(k)
        ids = []
        for k, d in zip(rows, desc):
            ids.append(self._next if k is None else int(self._pid[k]))   # None: a new person
            self._join(ids[-1], d)                                       # (which advances _next)
        return ids

    def _join(self, pid: int, d) -> None:
        """Add descriptor ``d`` to person ``pid``, who is new unless already known."""
        k = np.flatnonzero(self._pid == pid)
        if len(k):
            k = int(k[0])
        else:
            k = len(self._n)
            self._sum = np.vstack([self._sum, np.zeros((1, 128))])
            self._n = np.append(self._n, 0.0)
            self._pid = np.append(self._pid, pid)
            self._next = max(self._next, pid + 1)
        self._sum[k] += d
        self._n[k] += 1

    def _track_seen(self, track, pid: int, frame) -> None:
        """Track ``track`` (input, track id) is person ``pid``, described at ``frame``."""
        self._tracks[track] = pid
        self._described[track] = _frame(frame)

    def label(self, rows, unit: dict | None = None) -> None:
        """Fill ``person`` on the rows of one image or frame (batch hook).  ``unit``: what
        these rows complete in the output (the writer's ``done``), for the --resume log."""
        if not rows:
            return
        self._enter(rows[0].get("input"))
        frames: dict = {}
        for r in rows:      # a multi-frame image comes as one batch: one person per face per frame
            frames.setdefault(str(r.get("frame", "")), []).append(r)
        adds: list = []
        for group in frames.values():
            self._label_frame(group, adds)
        if self._log is not None and adds:
            line = {"unit": {k: (unit or {}).get(k) for k in ("kind", "input", "frame")},
                    "row_input": rows[0].get("input"),
                    "adds": [[pid, track, frame, _encode(d)] for pid, track, frame, d in adds]}
            # one write of a whole line: a kill leaves at most a last line cut short
            from .output import _write_all
            try:
                _write_all(self._log, (json.dumps(line, default=_plain) + "\n").encode())
            except OSError as exc:
                from .output import OutputError
                raise OutputError(f"{self._log.name}: cannot write ({exc.strerror or exc})", exc.errno) from exc

    def _enter(self, name) -> None:
        if self.scope == "input" and name != self._input:
            self.reset()
        self._input = name

    def _label_frame(self, rows, adds: list) -> None:
        fresh, inherited = [], []
        for r in rows:
            d, track = r.pop("_descriptor", None), r.pop("_track", None)
            if d is not None:
                fresh.append((r, d, track))
            elif track is not None and track in self._tracks:
                inherited.append(r)
                r[PERSON_COLUMN] = str(self._tracks[track])
        taken = [int(r[PERSON_COLUMN]) for r in inherited]
        ids = self.assign([d for _, d, _ in fresh], exclude=taken) if fresh else []
        for (r, d, track), pid in zip(fresh, ids):
            r[PERSON_COLUMN] = str(pid)
            if track is not None:
                track = (track[0], int(track[1]))
                self._track_seen(track, pid, r.get("frame"))
            adds.append((pid, track, r.get("frame"), d))

    def described(self, name, every: int = 1) -> dict[int, int]:
        """{track id: analysed-frame number (frame // ``every``) of its latest descriptor} of
        video ``name`` (a resumed video's ``VideoIdentities`` takes its schedule up from there)."""
        return {t: f // every for (n, t), f in self._described.items() if n == str(name) and f is not None}

    # ----------------------------------------------------------- persistence
    @staticmethod
    def state_path(csv) -> Path:
        """Where a run writing ``csv`` keeps its people: ``results.persons.jsonl``."""
        p = Path(csv)
        return p.with_name(p.stem + ".persons.jsonl")

    @classmethod
    def for_run(cls, csv=None, scope: str = "run", resume: bool = False, progress=None) -> "PersonRegistry":
        """The registry of a run writing ``csv``, logging for a later --resume.  On ``resume``
        it replays the log's lines of the units ``progress`` (the writer's: {input key:
        ``output.Progress``}) says the output holds, and forgets the rest."""
        reg = cls(scope=scope)
        if csv is None:
            return reg
        path = cls.state_path(csv)
        kept = [json.dumps({"scope": scope, "threshold": reg.threshold}).encode() + b"\n"]
        if resume and path.exists():
            kept += reg._replay(path.read_bytes(), progress or {})
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(b"".join(kept))
        os.replace(tmp, path)
        reg._log = open(path, "ab", buffering=0)
        return reg

    def _replay(self, data: bytes, progress) -> list[bytes]:
        lines = data.split(b"\n")[:-1]          # what follows the last newline was cut short
        try:
            head = json.loads(lines[0])
        except (ValueError, IndexError):
            return []
        if head.get("scope") != self.scope or float(head.get("threshold", -1)) != self.threshold:
            return []                            # another kind of run: start afresh
        kept = []
        for line in lines[1:]:
            try:
                e = json.loads(line)
                unit = e["unit"]
                adds = [(int(pid), None if t is None else (str(t[0]), int(t[1])), f, _decode(b))
                        for pid, t, f, b in e["adds"]]
            except (ValueError, KeyError, TypeError):
                break                            # a damaged line: trust nothing after it
            if not _holds(progress, unit):
                continue                         # its rows are not in the output: computed again
            self._enter(e.get("row_input"))
            for pid, track, frame, d in adds:
                self._join(pid, d)
                if track is not None:
                    self._track_seen(track, pid, frame)
            kept.append(line + b"\n")
        return kept

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def _holds(progress, unit) -> bool:
    """Does the output hold the rows of ``unit`` ({kind, input, frame}), by ``progress``?"""
    p = progress.get(unit.get("input"))
    if p is None:
        return False
    return bool(p.done) or (unit.get("kind") == "frame" and unit.get("frame") is not None
                            and int(unit["frame"]) <= p.last_frame)


def _encode(d) -> str:
    """A descriptor's exact bytes: float32 as dlib gives them (512 bytes), else float64."""
    d = np.asarray(d)
    return base64.b64encode((d if d.dtype == np.float32 else d.astype(np.float64)).tobytes()).decode()


def _decode(text: str) -> np.ndarray:
    raw = base64.b64decode(text)
    return np.frombuffer(raw, np.float32 if len(raw) == 128 * 4 else np.float64).astype(np.float64)


def _frame(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _plain(o):
    """JSON for the numpy scalars rows carry."""
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON: {type(o).__name__}")


def describe_rows(image, faces, rows, describer=None, image_file=None) -> None:
    """Batch hook for one image: descriptors for its faces, put on its rows as the
    private ``_descriptor`` key that ``PersonRegistry.label`` consumes.  ``image``
    None with an open ``media.ImageFile``: a huge photo never decoded whole - each
    face is described in a full-resolution region around it."""
    if not faces:
        return
    if image is None and image_file is not None:
        desc = _describe_in_regions(image_file, faces, describer)
    else:
        desc = describe_faces(image, faces, describer)
    for r, d in zip(rows, desc):
        r["_descriptor"] = d


def _describe_in_regions(image_file, faces, describer=None):
    import copy
    W, H = image_file.size
    wins = []
    for f in faces:
        x, y, w, h = f.box
        m = 0.6 * max(w, h)          # room for dlib's chip (padding 0.25) around the face
        wins.append((max(0, x - m), max(0, y - m), min(W, x + w + m), min(H, y + h + m)))
    out = []
    for f, win, patch in zip(faces, wins, image_file.regions(wins)):
        x0, y0 = int(round(win[0])), int(round(win[1]))
        g = copy.copy(f)
        g.box = (f.box[0] - x0, f.box[1] - y0, f.box[2], f.box[3])
        g.landmarks = np.asarray(f.landmarks) - np.array([x0, y0])
        d = (describer or shared_describer())(patch, [g])[0]
        f.descriptor = d
        out.append(d)
    return out


class VideoIdentities:
    """Descriptors for the faces of one video, only where needed (module docstring).

    every : frames between two descriptors of one track (in analysed frames).
    min_similarity : a track whose 48-px aligned crop correlates less than this
        with its previous frame's crop changed face (a cut): described again.
    described : a resumed video's {track id: analysed-frame number of its latest
        descriptor} (``PersonRegistry.described``), so the schedule goes on as it was.
    """

    def __init__(self, name, describer=None, every: int = 25, min_similarity: float = 0.7,
                 described: dict | None = None):
        self.name = str(name)
        self.describer = describer or shared_describer()
        self.every, self.min_similarity = int(every), float(min_similarity)
        # track id -> (analysed-frame number at the last descriptor, last crop)
        self._last: dict = {int(t): (int(c), None) for t, c in (described or {}).items()}
        self._warm: dict = {}        # a resumed video's warm-up: stream track id -> its latest crop
        self._count = -1

    def warm(self, faces) -> None:
        """A warm-up frame of a resumed video (analysed again, not written): keep each
        face's crop under its stream's own track id until ``settle``."""
        for f in faces:
            self._warm[str(f.face_id)] = f.crop

    def settle(self, link) -> None:
        """After the warm-up: ``link(stream id)`` -> the written track id (``TrackStitch.linked``);
        the described tracks' latest crops are then the ones the uninterrupted run compared."""
        for local, crop in self._warm.items():
            t = link(local)
            if t is not None and int(t) in self._last:
                self._last[int(t)] = (self._last[int(t)][0], crop)
        self._warm = {}

    def __call__(self, image, faces, rows, count: int | None = None) -> None:
        """Put ``_descriptor`` (fresh) or only ``_track`` on the rows of one frame.
        ``count``: the frame's number among the video's analysed frames (default: the
        next one), which sets the schedule (a resumed video starts mid-way)."""
        self._count = self._count + 1 if count is None else int(count)
        if not faces:
            return
        need = []
        for i, f in enumerate(faces):
            last = self._last.get(f.face_id)
            if (last is None or self._count - last[0] >= self.every
                    or _similarity(last[1], f.crop) < self.min_similarity):
                need.append(i)
        desc = self.describer(image, [faces[i] for i in need]) if need else []
        for i, d in zip(need, desc):
            faces[i].descriptor = d
            rows[i]["_descriptor"] = d
            self._last[faces[i].face_id] = (self._count, faces[i].crop)
        for f, r in zip(faces, rows):
            r["_track"] = (self.name, f.face_id)
            if f.face_id in self._last:
                self._last[f.face_id] = (self._last[f.face_id][0], f.crop)


def _similarity(a, b) -> float:
    """Normalised cross-correlation of two aligned face crops (1 = same picture)."""
    if a is None or b is None:
        return 1.0
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    a, b = a - a.mean(), b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else 1.0
