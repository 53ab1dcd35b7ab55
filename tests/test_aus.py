"""fer_au.aus: AU definitions, the geometric estimator's invariances and directions,
its persistence, and (with the data) EMFACS concordance on FER2013."""
from __future__ import annotations

import math

import numpy as np
import pytest

from fer_au import aus
from fer_au.analysis import aus as au_checks
from fer_au.aus import AU_CODES, AU_NAMES, AUEstimator, RunningBaseline, raw_measures
from fer_au.geometry import CANONICAL_68, mirror

PYFEAT_SET = {"AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU11", "AU12", "AU14",
              "AU15", "AU17", "AU20", "AU23", "AU24", "AU25", "AU26", "AU28", "AU43"}


@pytest.fixture(scope="module")
def neutral_faces():
    """Synthetic 'neutral' faces: the canonical face with ~0.4 px landmark jitter."""
    rng = np.random.default_rng(0)
    return CANONICAL_68[None] + rng.normal(0, 0.4, (400, 68, 2))


@pytest.fixture(scope="module")
def est(neutral_faces):
    return AUEstimator().fit(neutral_faces)


def _moved(points, idx, dx=0.0, dy=0.0):
    p = points.copy()
    p[idx, 0] += dx
    p[idx, 1] += dy
    return p


def test_au_set_names_and_docs():
    assert len(AU_CODES) >= 12 and set(AU_CODES) <= PYFEAT_SET
    assert AU_CODES == sorted(AU_CODES)
    for c in AU_CODES:
        assert AU_NAMES[c] and aus.AU_MEASURES[c]
    assert AU_NAMES["AU12"] == "Lip Corner Puller" and AU_NAMES["AU04"] == "Brow Lowerer"


def test_neutral_faces_score_near_zero(est, neutral_faces):
    x = est.transform(neutral_faces)
    assert x.shape == (400, len(AU_CODES)) and x.min() >= 0 and x.max() <= 5
    assert (np.median(x, axis=0) < 0.1).all()
    # presence threshold 2 = about 2 neutral SDs: few neutral faces show any AU
    assert est.present(neutral_faces).mean() < 0.05
    assert est.transform(CANONICAL_68).shape == (len(AU_CODES),)


@pytest.mark.parametrize("angle,scale,shift", [(15, 1, (0, 0)), (-15, 0.5, (30, -5)), (40, 2, (-100, 300)),
                                               (0, 7.3, (3, 3))])
def test_exactly_invariant_to_position_size_and_in_plane_rotation(est, neutral_faces, angle, scale, shift):
    th = math.radians(angle)
    rot = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
    faces = neutral_faces[:50].copy()
    faces[:, 62:68, 1] += np.linspace(0, 3, 50)[:, None]   # some expression, not only neutral
    moved = faces @ rot.T * scale + np.asarray(shift)
    assert np.allclose(est.transform(moved), est.transform(faces), atol=1e-9)


def test_mirrored_face_gives_the_same_aus(est, neutral_faces):
    faces = neutral_faces[:50].copy()
    faces[:, 17:20, 1] -= 2.0     # the subject's right brow raised only
    faces[:, 48, 1] -= 1.5        # and one lip corner
    assert np.allclose(est.transform(mirror(faces, 48)), est.transform(faces), atol=1e-9)
    assert au_checks.mirror_consistency(est, faces, 48).max() < 1e-9


def _check(est, face, rising, quiet=()):
    """``rising`` AUs reach the presence threshold (2); ``quiet`` ones stay below 0.5."""
    a = dict(zip(AU_CODES, est.transform(face)))
    for c in rising:
        assert a[c] >= 2.0, (c, a[c])
    for c in quiet:
        assert a[c] < 0.5, (c, a[c])
    return a


def test_each_movement_moves_its_au(est):
    c = CANONICAL_68
    _check(est, _moved(c, [20, 21, 22, 23], dy=-2.0), {"AU01"}, {"AU04", "AU12", "AU25", "AU26"})
    _check(est, _moved(c, [17, 18, 25, 26], dy=-2.0), {"AU02"}, {"AU04", "AU12"})
    _check(est, _moved(_moved(c, list(range(17, 27)), dy=1.5), [21], dx=1.0), {"AU04"}, {"AU01", "AU02"})
    _check(est, _moved(c, [37, 38, 43, 44], dy=-1.2), {"AU05"}, {"AU43", "AU07"})
    _check(est, _moved(_moved(c, [37, 38, 43, 44], dy=1.0), [40, 41, 46, 47], dy=-0.8), {"AU43"}, {"AU05"})
    _check(est, _moved(c, [40, 41, 46, 47], dy=-1.0), {"AU07"}, {"AU05"})
    smile = _moved(_moved(_moved(c, [48, 54, 60, 64], dy=-2.0), [48, 60], dx=-1.0), [54, 64], dx=1.0)
    _check(est, smile, {"AU12"}, {"AU15", "AU25", "AU01"})
    _check(est, _moved(c, [48, 54], dy=2.0), {"AU15"}, {"AU12"})
    jaw = _moved(c, list(range(3, 14)) + [55, 56, 57, 58, 59, 65, 66, 67], dy=4.0)
    _check(est, jaw, {"AU25", "AU26"}, {"AU01", "AU12"})
    _check(est, _moved(c, [50, 51, 52], dy=-1.5), {"AU10"}, {"AU26"})
    _check(est, _moved(c, [8], dy=-2.0), {"AU17"}, {"AU25"})
    _check(est, _moved(_moved(c, [48], dx=-2.0), [54], dx=2.0), {"AU20"}, {"AU15"})
    _check(est, _moved(_moved(c, [31, 35], dy=-1.5), [20, 21, 22, 23], dy=1.0), {"AU09"}, {"AU12"})
    _check(est, _moved(_moved(c, [50, 51, 52], dy=1.0), [56, 57, 58], dy=-1.0), {"AU24"}, {"AU25"})


def test_signed_scores_show_the_opposite_movement(est):
    lowered = _moved(CANONICAL_68, [20, 21, 22, 23], dy=2.0)
    z = dict(zip(AU_CODES, est.signed_z(lowered)))
    assert z["AU01"] < -2 and est.transform(lowered)[AU_CODES.index("AU01")] == 0


def test_fit_save_load_roundtrip(est, tmp_path, neutral_faces):
    f = tmp_path / "b.json"
    est.save(f)
    back = AUEstimator.load(f)
    assert np.allclose(back.transform(neutral_faces), est.transform(neutral_faces))
    assert back.presence_threshold == est.presence_threshold
    with pytest.raises(RuntimeError):
        AUEstimator().transform(neutral_faces)
    with pytest.raises(ValueError):
        AUEstimator().fit(neutral_faces[:1])


def test_running_baseline_adapts_to_a_face(est):
    # a face whose resting brows sit high: the population baseline calls it AU01,
    # the per-face running baseline learns that this is its neutral
    face = _moved(CANONICAL_68, [20, 21, 22, 23], dy=-2.5)
    rb = RunningBaseline(est, window=50, warmup=10)
    first = rb.update(face)
    for _ in range(20):
        last = rb.update(face)
    i = AU_CODES.index("AU01")
    assert first[i] >= 2 and last[i] < 0.1


def test_raw_measures_shapes():
    assert raw_measures(CANONICAL_68).shape == (len(AU_CODES),)
    assert raw_measures(np.stack([CANONICAL_68] * 3)).shape == (3, len(AU_CODES))


def test_shipped_estimator_on_fer2013(fer_path):
    """The shipped baseline: AU12 separates happy from neutral faces, AU25/26
    surprise from neutral (a small sample; bench/aus.py measures the full table)."""
    from fer_au.data import load_fer2013
    from fer_au.faces import crop_landmarks
    from fer_au.labels import FER7
    est = AUEstimator.load_shipped()
    ds = load_fer2013(fer_path).split("PrivateTest")
    keep = np.isin(ds.labels, [FER7.index("happiness"), FER7.index("surprise"), FER7.index("neutral")])
    ds = ds[np.flatnonzero(keep)[:240]]
    lm, det, res = crop_landmarks(ds.images, cache=False)
    table = au_checks.emfacs_auroc(est.transform(lm), ds.labels)
    assert table.loc["happiness", "AU12"] > 0.8
    assert max(table.loc["surprise", "AU25"], table.loc["surprise", "AU26"]) > 0.8
