"""``Face``: what the analyzer says about one face (a plain record; the analyzer fills
it, ``output.face_rows`` turns it into CSV rows)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
    descriptor: np.ndarray | None = field(default=None, repr=False)   # 128-d, with identities=True

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
