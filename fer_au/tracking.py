"""Keeping a face's id across video frames, and smoothing its emotions over time.

* :class:`Tracker` - greedy IoU matching of this frame's boxes to the live
  tracks, with a centroid-distance fallback for fast moves; an id survives a
  few frames without a match (a blink of the detector) before it is retired.
* :class:`EmotionSmoother` - an exponential moving average of each track's
  probabilities (``weight`` = how much of the past is kept; 0 = off).
* :class:`TrackStitch` - one video's ids when it is analysed in pieces (Dask
  segments, a --resume): a piece starts early and its warm-up faces take the ids
  already written for the same boxes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# A stream started mid-video (a Dask segment, a --resume) begins this many analysed frames
# before the first row it writes: 2 x (Tracker.max_missed + 1), rounded up, so every track
# a whole run could still re-attach reaches it (``TrackStitch`` then links the ids).
WARMUP = 24

def iou(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return float(inter / union) if union > 0 else 0.0


@dataclass
class Track:
    id: int
    box: tuple
    missed: int = 0
    hits: int = 1
    data: dict = field(default_factory=dict)   # per-track state (e.g. smoothing)


class Tracker:
    """Assign persistent ids to boxes, frame after frame.

    ``update(boxes)`` returns one id per box.  A box takes the id of the live
    track it overlaps most (IoU >= ``iou_threshold``); failing that, of the
    nearest track whose centre is within ``max_distance`` box-sizes; else it
    starts a new track.  Tracks unmatched for more than ``max_missed`` updates
    are retired.
    """

    def __init__(self, iou_threshold: float = 0.3, max_distance: float = 0.6, max_missed: int = 10):
        self.iou_threshold = iou_threshold
        self.max_distance = max_distance
        self.max_missed = max_missed
        self.tracks: dict[int, Track] = {}
        self._next_id = 0

    def reset(self) -> None:
        self.tracks.clear()
        self._next_id = 0

    def _new(self, box) -> int:
        tid = self._next_id
        self._next_id += 1
        self.tracks[tid] = Track(tid, tuple(box))
        return tid

    def update(self, boxes) -> list[int]:
        boxes = [tuple(float(v) for v in b) for b in boxes]
        tracks = list(self.tracks.values())
        pairs = []  # (priority, box index, track id)
        for i, b in enumerate(boxes):
            bc = np.array([b[0] + b[2] / 2, b[1] + b[3] / 2])
            for t in tracks:
                o = iou(b, t.box)
                if o >= self.iou_threshold:
                    pairs.append((1.0 + o, i, t.id))
                    continue
                tc = np.array([t.box[0] + t.box[2] / 2, t.box[1] + t.box[3] / 2])
                size = max(np.sqrt(b[2] * b[3]), np.sqrt(t.box[2] * t.box[3]), 1.0)
                d = float(np.linalg.norm(bc - tc) / size)
                ratio = np.sqrt((b[2] * b[3]) / max(t.box[2] * t.box[3], 1.0))
                if d <= self.max_distance and 0.5 <= ratio <= 2.0:
                    pairs.append((1.0 - d / (self.max_distance + 1e-9), i, t.id))
        pairs.sort(reverse=True)
        ids: list[int | None] = [None] * len(boxes)
        used = set()
        for _, i, tid in pairs:
            if ids[i] is None and tid not in used:
                ids[i] = tid
                used.add(tid)
        for i, b in enumerate(boxes):
            if ids[i] is None:
                ids[i] = self._new(b)
            else:
                t = self.tracks[ids[i]]
                t.box, t.missed = b, 0
                t.hits += 1
        for t in tracks:
            if t.id not in used:
                t.missed += 1
                if t.missed > self.max_missed:
                    del self.tracks[t.id]
        return ids  # type: ignore[return-value]


    def update_known(self, boxes_by_id: dict) -> None:
        """Move known tracks to new boxes (faces followed between detections);
        the other tracks count a miss."""
        for tid, box in boxes_by_id.items():
            t = self.tracks.get(tid)
            if t is None:
                t = self.tracks[tid] = Track(tid, tuple(box))
                self._next_id = max(self._next_id, tid + 1)
            t.box, t.missed = tuple(float(v) for v in box), 0
            t.hits += 1
        for t in list(self.tracks.values()):
            if t.id not in boxes_by_id:
                t.missed += 1
                if t.missed > self.max_missed:
                    del self.tracks[t.id]


class EmotionSmoother:
    """Exponential moving average of probability vectors, one per track id.

    ``weight`` in [0, 1): the share of the previous smoothed value kept at each
    frame (0 = no smoothing; 0.7 ~ a time constant of about 3 frames).
    """

    def __init__(self, weight: float = 0.0):
        if not 0.0 <= weight < 1.0:
            raise ValueError(f"smooth must be in [0, 1), got {weight}")
        self.weight = weight
        self._state: dict[tuple, np.ndarray] = {}

    def __call__(self, key, probs):
        if probs is None or self.weight == 0.0:
            return probs
        names = list(probs)
        v = np.array([probs[n] for n in names], dtype=np.float64)
        prev = self._state.get((key, tuple(names)))
        if prev is not None:
            v = self.weight * prev + (1.0 - self.weight) * v
            v = v / v.sum() if v.sum() > 0 else v
        self._state[(key, tuple(names))] = v
        return dict(zip(names, v.tolist()))

    def forget(self, keep_keys) -> None:
        keep = set(keep_keys)
        for k in [k for k in self._state if k[0] not in keep]:
            del self._state[k]


def _row_box(row):
    try:
        return tuple(float(row[c]) for c in ("FaceRectX", "FaceRectY", "FaceRectWidth", "FaceRectHeight"))
    except (KeyError, ValueError, TypeError):
        return None


class TrackStitch:
    """The track ids of one video analysed in pieces, each by a fresh stream that starts
    some frames early (a Dask segment, or a --resume after the rows already written).

    ``warm(index, rows)`` takes the rows of a warm-up frame (not written; their
    ``face_id`` are the piece's own ids): each face takes the id of the written face with
    the same box (best IoU, >= 0.5) in that frame; later frames win (the settled link).
    ``assign(index, rows)`` renames the ids of a frame to be written in place; a track
    not linked gets the next new id, as one tracker over the whole video would give it.
    ``next_piece()`` makes the frames assigned so far the written ones for the next piece.
    ``written``: {frame: rows already written} (global ids) for the first piece, and
    ``next_id`` the first id not yet given.  ``keep``: remember the assigned frames for
    a next piece (a --resume has none)."""

    def __init__(self, written: dict | None = None, next_id: int = 0, keep: bool = True):
        self.prev = dict(written or {})
        self.next_id = int(next_id)
        self.keep = keep
        self._map: dict = {}
        self._kept: dict = {}

    def warm(self, index: int, rows) -> None:
        written = [r for r in self.prev.get(index, []) if r.get("face_id", "") != "" and _row_box(r)]
        for r in rows:
            box = _row_box(r)
            if r.get("face_id", "") == "" or box is None:
                continue
            best = max(written, key=lambda g: iou(box, _row_box(g)), default=None)
            if best is not None and iou(box, _row_box(best)) >= 0.5:
                self._map[r["face_id"]] = str(best["face_id"])

    def assign(self, index: int, rows) -> None:
        for r in rows:
            local = r.get("face_id", "")
            if local == "":
                continue
            if local not in self._map:
                self._map[local] = str(self.next_id)
                self.next_id += 1
            r["face_id"] = self._map[local]
            self.next_id = max(self.next_id, int(r["face_id"]) + 1)
        if self.keep:
            self._kept[index] = rows

    def link(self, index: int, begin: int, faces, rows, ids=None) -> bool:
        """One frame of a piece's fresh stream: before ``begin`` a warm-up frame (``warm``;
        returns False: not to be written), from there its ids renamed (``assign``) on the
        rows and the faces alike.  ``ids``: the video's ``identity.VideoIdentities``, which
        follows the same faces through the warm-up (``warm``, then ``settle``)."""
        if index < begin:
            self.warm(index, rows)
            if ids is not None:
                ids.warm(faces)
            return False
        self.assign(index, rows)
        for f, r in zip(faces, rows):
            f.face_id = int(r["face_id"])
        if ids is not None:
            ids.settle(self.linked)
        return True

    def linked(self, local):
        """The written id a warm-up face's own id ``local`` (a row's ``face_id``) took, or None."""
        return self._map.get(str(local))

    def next_piece(self) -> None:
        self.prev, self._kept, self._map = self._kept, {}, {}

    def relink(self, frames, begin: int):
        """A whole piece at once: ``frames`` [(index, time, rows)], rows written from
        frame ``begin``; returns those frames with their ids renamed."""
        for index, _, rows in frames:
            if index < begin:
                self.warm(index, rows)
        out = [(i, t, rows) for i, t, rows in frames if i >= begin]
        for index, _, rows in out:
            self.assign(index, rows)
        self.next_piece()
        return out
