"""Action units from MediaPipe's 468-point 3-D face mesh alone (``FaceAnalyzer(landmarks="mesh")``;
the default is ``aus3d``: the mesh follows only part of a local movement, see docs/AUS.md).

>>> est = MeshAUEstimator.load_shipped()       # neutral baseline of FER2013's neutral faces
>>> est.transform(meshes)                      # (N, 468, 3) -> (N, 17) intensities 0..5

How it measures
---------------
1. Each mesh is brought into one head-fixed 3-D frame by a similarity fit
   (Umeyama: rotation, scale, shift) of vertices that expressions hardly move:
   eye corners, nose bridge and tip, forehead, temples (``STABLE``).  Head
   yaw, pitch and roll, distance and position are removed by construction, so
   the jaw opening (AU26) is measured along the face's own vertical, not the
   image's, and a turned head does not shorten the mouth (AU20).
2. Each AU has one measure in that frame, in percent of the outer-eye-corner
   distance (``AU_MEASURES``), larger = more of the action; bilateral AUs
   average both sides.
3. As for the 68-point AUs: ``intensity = clip((m - neutral median) / neutral
   spread, 0, 5)``, the median and spread (1.4826 MAD) of FER2013's neutral
   Training faces measured through the same mesh.

No AU-coded data set is available here, and no measure is fitted to emotion
labels: each one follows the FACS description of its muscle's movement, and
``bench/aus.py`` checks that a synthetic movement of one AU's region raises that
AU and leaves the others (selectivity), that a face and its 48-px crop agree,
and that turning the head leaves the AUs alone.
"""
from __future__ import annotations


import numpy as np

from .aus import AU_CODES, AUEstimator
from .aus3d import umeyama

FORMAT = "fer_au.MeshAUEstimator/1"
BASELINE_FILE = "au_mesh_baseline.json"

# Vertices that expressions hardly move: eye corners, nose bridge and tip,
# forehead, the temples beside the eyes.  (Brows, lids, cheeks, lips, jaw move.)
# The mesh drags some of them a little with other features (the forehead with the
# brows, the nose tip with the upper lip); a frame from the eye corners and nose
# bridge alone was tried and is no better (bench/_au_validity.py): the measures
# below avoid those vertices as references instead.
STABLE = np.array([33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 10, 151, 108, 337, 127, 356, 234, 454])

# Subject's right, subject's left vertex groups (MediaPipe topology).
_R = dict(inner_brow=[107, 55, 66, 65], outer_brow=[70, 46, 63, 53], eye_in=133, eye_out=33,
          upper_lid=[159, 158, 160], lower_lid=[145, 144, 153], cheek=[117, 118, 119, 101, 100],
          ala=[64, 98, 129], corner=61, upper_lip=[37, 39])
_L = dict(inner_brow=[336, 285, 296, 295], outer_brow=[300, 276, 293, 283], eye_in=362, eye_out=263,
          upper_lid=[386, 385, 387], lower_lid=[374, 373, 380], cheek=[346, 347, 348, 330, 329],
          ala=[294, 327, 358], corner=291, upper_lip=[267, 269])
UPPER_LIP_TOP, UPPER_LIP_IN, LOWER_LIP_IN, LOWER_LIP_BOTTOM = 0, 13, 14, 17
SUBNASALE, MENTON = 2, 152
BRIDGE = [6, 197]
# Lift of the lip corners towards the nose base in FER2013's median neutral face
# (head-frame units): AU20 discounts only lift beyond it, so a smile is not a
# stretch, and corners lowered by an opening jaw do not read as one either.
NEUTRAL_CORNER_LIFT = -26.0
INNER_GAP_PAIRS = [(13, 14), (82, 87), (312, 317), (81, 178), (311, 402)]

AU_MEASURES: dict[str, str] = {
    "AU01": "inner brow (mesh 107, 55, 66, 65 / 336, 285, 296, 295) height above the inner eye corner (133 / 362)",
    "AU02": "outer brow (70, 46, 63, 53 / 300, 276, 293, 283) height above the outer eye corner (33 / 263)",
    "AU04": "inner brows (107, 55, 66, 65 / 336, 285, 296, 295) lowered towards the inner eye "
            "corners (133 / 362), plus the brows drawn together (half weight)",
    "AU05": "eye aperture: upper lid (159 / 386) to lower lid (145 / 374) growing",
    "AU06": "lower lid (145, 144, 153 / 374, 373, 380) raised towards the eye-corner line: the eye "
            "narrowed from below; the mesh does not follow the cheek itself (it places the cheek "
            "vertices from the mouth and brows), and cannot see crow's feet",
    "AU07": "lower lid (145, 144, 153 / 374, 373, 380) raised towards the eye-corner line",
    "AU09": "nostril wings (64, 98, 129 / 294, 327, 358) drawn up towards the inner eye corners; cannot "
            "see the wrinkles",
    "AU10": "upper lip (0 and the peaks 37, 39 / 267, 269) raised towards the nose bridge (6, 197), "
            "in the head's frame (the mesh drags the nose base 2 up with the lip)",
    "AU12": "lip corners (61 / 291) pulled obliquely: raised towards the nose base (2), plus the "
            "mouth widening (half weight)",
    "AU15": "lip corners (61 / 291) below the middle of the mouth (between inner lips 13 and 14)",
    "AU17": "lower lip (17) pushed up, away from the chin tip (152)",
    "AU20": "mouth width (61-291) minus twice the corners' lift beyond a neutral face's: "
            "stretched sideways, not up (corners pulled down by an opening jaw do not count)",
    "AU23": "mouth narrowed (61-291, half weight) with thinner red lips (0-13 + 14-17)",
    "AU24": "red lips pressed thin: vermilion heights 0-13 + 14-17 shrinking",
    "AU25": "gap between the inner lips (13-14, 82-87, 312-317, 81-178, 311-402)",
    "AU26": "jaw drop: nose base (2) to chin tip (152), 3-D, in the head's frame",
    "AU43": "eye closure: upper to lower lid (159 to 145 / 386 to 374) shrinking",
}

MIN_SPREAD = 1.0          # percent of the eye-corner distance: landmark jitter is about this
MIN_SPREAD_PER_AU = {"AU25": 2.0}


def to_frame(meshes: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(N, 468, 3) meshes mapped into ``reference``'s head frame (similarity on ``STABLE``)."""
    m = np.asarray(meshes, np.float64)
    out = np.empty_like(m)
    for i, x in enumerate(m):
        s, r, t = umeyama(x[STABLE], reference[STABLE])
        out[i] = s * x @ r.T + t
    return out


def canonical_reference(meshes: np.ndarray, iterations: int = 3) -> np.ndarray:
    """Mean head-frame mesh of ``meshes`` (generalised Procrustes), scaled so the
    outer eye corners are 100 units apart, x towards the subject's left, y down."""
    m = np.asarray(meshes, np.float64)
    ref = m[0].copy()
    for _ in range(iterations):
        ref = to_frame(m, ref).mean(0)
        ref -= ref[STABLE].mean(0)
        ref *= 100.0 / np.linalg.norm(ref[263] - ref[33])
    # level the eyes: x along the outer eye corners, y down, z away from the viewer
    x = ref[263] - ref[33]
    x /= np.linalg.norm(x)
    y = ref[152] - ref[10]
    y -= x * (x @ y)
    y /= np.linalg.norm(y)
    return ref @ np.stack([x, y, np.cross(x, y)], 1)


def raw_measures(framed: np.ndarray) -> np.ndarray:
    """Measures (N, 17) of meshes already in the head frame (``to_frame``)."""
    p = np.asarray(framed, np.float64)
    y = lambda i: p[:, i, 1] if np.isscalar(i) else p[:, i, 1].mean(-1)  # noqa: E731
    x = lambda i: p[:, i, 0] if np.isscalar(i) else p[:, i, 0].mean(-1)  # noqa: E731

    def both(fn):
        return 0.5 * (fn(_R) + fn(_L))

    eye_line = lambda s: 0.5 * (y(s["eye_in"]) + y(s["eye_out"]))  # noqa: E731
    inner_brow = both(lambda s: y(s["eye_in"]) - y(s["inner_brow"]))
    outer_brow = both(lambda s: y(s["eye_out"]) - y(s["outer_brow"]))
    brow_gap = x(_L["inner_brow"]) - x(_R["inner_brow"])
    upper_lid = both(lambda s: eye_line(s) - y(s["upper_lid"]))
    lower_lid = both(lambda s: y(s["lower_lid"]) - eye_line(s))
    ala_to_eye = both(lambda s: y(s["ala"]) - y(s["eye_in"]))
    corners_y = 0.5 * (y(_R["corner"]) + y(_L["corner"]))
    mouth_mid = 0.5 * (y(UPPER_LIP_IN) + y(LOWER_LIP_IN))
    width = x(_L["corner"]) - x(_R["corner"])
    upper_lip = (y(UPPER_LIP_TOP) + y(_R["upper_lip"]) + y(_L["upper_lip"])) / 3.0
    vermilion = (y(UPPER_LIP_IN) - y(UPPER_LIP_TOP)) + (y(LOWER_LIP_BOTTOM) - y(LOWER_LIP_IN))
    gap = np.mean([np.linalg.norm(p[:, a] - p[:, b], axis=-1) for a, b in INNER_GAP_PAIRS], axis=0)
    jaw = np.linalg.norm(p[:, MENTON] - p[:, SUBNASALE], axis=-1)
    aperture = both(lambda s: y(s["lower_lid"][:1]) - y(s["upper_lid"][:1]))
    del upper_lid   # AU05 reads the aperture: it follows the upper lid more steadily on small faces
    corner_lift = y(SUBNASALE) - corners_y       # the nose base is still while the corners rise
    cols = {
        "AU01": inner_brow,
        "AU02": outer_brow,
        "AU04": -inner_brow - 0.5 * brow_gap,
        "AU05": aperture,
        "AU06": -lower_lid,
        "AU07": -lower_lid,
        "AU09": -ala_to_eye,
        "AU10": y(BRIDGE) - upper_lip,
        "AU12": corner_lift + 0.5 * width,
        "AU15": corners_y - mouth_mid,
        "AU17": y(MENTON) - y(LOWER_LIP_BOTTOM),
        "AU20": width - 2.0 * np.maximum(corner_lift - NEUTRAL_CORNER_LIFT, 0.0),
        "AU23": -0.5 * width - vermilion,
        "AU24": -vermilion,
        "AU25": gap,
        "AU26": jaw,
        "AU43": -aperture,
    }
    return np.stack([cols[c] for c in AU_CODES], axis=1)


class MeshAUEstimator(AUEstimator):
    """AU intensities from 3-D face meshes, referenced to neutral faces (scikit-learn style).

    ``fit(neutral_meshes)`` learns the head frame (``reference_``) and the neutral
    baseline (``center_``, ``scale_``); ``transform(meshes)`` gives 0-5 intensities.
    Everything else is ``aus.AUEstimator``'s.
    """

    name = "fer_au-mesh-aus"
    FORMAT = FORMAT
    BASELINE_FILE = BASELINE_FILE
    SHAPE = (468, 3)
    MEASURES = AU_MEASURES
    MEASURE_UNIT = "percent of the outer-eye-corner distance, in the head frame of `reference`"
    DEFAULT_MIN_SPREAD = MIN_SPREAD
    MIN_SPREAD_PER_AU = MIN_SPREAD_PER_AU
    JSON_INDENT = None

    def _fit_frame(self, meshes):
        self.reference_ = canonical_reference(meshes)

    def _measures(self, meshes):
        return raw_measures(to_frame(meshes, self.reference_))
