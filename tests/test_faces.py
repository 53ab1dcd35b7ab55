"""fer_au.faces: detection, landmarks, alignment and head pose on a real face
(scikit-image's astronaut) and on FER2013 crops where the data is present."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from fer_au import faces
from fer_au.geometry import CANONICAL_68, MIRROR_PERM, mirror, shape_residual, to_canonical


@pytest.fixture(scope="module")
def astronaut():
    from skimage import data
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)


@pytest.fixture(scope="module")
def predictor():
    return faces.LandmarkPredictor()


@pytest.fixture(scope="module")
def ast_face(astronaut, predictor):
    (box, score), = faces.FaceDetector("hog").detect(astronaut)
    return box, predictor.predict(astronaut, box)


def test_hog_and_haar_find_the_one_face(astronaut):
    hog = faces.FaceDetector("hog").detect(astronaut)
    haar = faces.FaceDetector("haar").detect(astronaut)
    assert len(hog) == 1 and len(haar) == 1
    (x, y, w, h), s = hog[0]
    assert 150 < x < 210 and 50 < y < 110 and 70 < w < 110 and s > 0
    (x2, y2, w2, h2), _ = haar[0]
    # the two detectors agree on where the face is (centres within a third of its size)
    assert abs((x + w / 2) - (x2 + w2 / 2)) < w / 3 and abs((y + h / 2) - (y2 + h2 / 2)) < h / 3


def test_detector_finds_nothing_in_noise_and_sorts_left_to_right(astronaut):
    rng = np.random.default_rng(0)
    assert faces.FaceDetector().detect(rng.integers(0, 255, (200, 200), dtype=np.uint8)) == []
    two = np.hstack([astronaut[:300, 80:380], astronaut[:300, 80:380]])
    found = faces.FaceDetector().detect(two)
    assert len(found) == 2 and found[0][0][0] < found[1][0][0]
    # min_size drops faces smaller than asked for
    assert faces.FaceDetector(min_size=200).detect(astronaut) == []
    with pytest.raises(ValueError):
        faces.FaceDetector("cnn")


def test_landmarks_land_on_the_face(ast_face):
    (x, y, w, h), lm = ast_face
    assert lm.shape == (68, 2) and lm.dtype == np.float32
    # eyes above the nose tip above the mouth above the chin; right eye (36-41) left of left eye
    assert lm[36:48, 1].mean() < lm[30, 1] < lm[48:68, 1].mean() < lm[8, 1]
    assert lm[36:42, 0].mean() < lm[42:48, 0].mean()
    assert shape_residual(lm) < 3.0
    assert (lm[:, 0] > x - w * 0.2).all() and (lm[:, 0] < x + w * 1.2).all()


def test_predict_crop_matches_full_image_landmarks(astronaut, ast_face, predictor):
    """A 48x48 FER-style crop of the astronaut gives the same landmarks (in crop
    pixels) as the full-resolution image does, to ~1.5 crop pixels."""
    box, lm = ast_face
    m = faces.alignment_matrix(lm, 48)
    crop = faces.align_face(astronaut, lm, 48)
    lm48, info = predictor.predict_crop_info(crop)
    ref = faces.transform_landmarks(lm, m)
    assert np.sqrt(((lm48 - ref) ** 2).sum(1)).mean() < 1.5
    assert info["detected"]
    np.testing.assert_array_equal(predictor.predict_crop(crop), lm48)


def test_align_face_is_fer_framed_and_undoes_rotation(astronaut, ast_face, predictor):
    box, lm = ast_face
    crop = faces.align_face(astronaut, lm)
    assert crop.shape == (48, 48) and crop.dtype == np.uint8
    # rotate the whole image 20 degrees: the aligned crops stay nearly identical
    h, w = astronaut.shape
    r = cv2.getRotationMatrix2D((box[0] + box[2] / 2, box[1] + box[3] / 2), 20, 1.0)
    rot = cv2.warpAffine(astronaut, r, (w, h), borderMode=cv2.BORDER_REPLICATE)
    lm_rot = predictor.predict(rot, box, derotate=True)
    crop2 = faces.align_face(rot, lm_rot)
    assert np.abs(crop.astype(int) - crop2.astype(int)).mean() < 12
    # the aligned landmarks sit on the canonical shape
    lm_al = faces.transform_landmarks(lm, faces.alignment_matrix(lm))
    assert np.sqrt(((lm_al - CANONICAL_68) ** 2).sum(1)).mean() < 2.5


def _large_face_landmarks(scale=5.0, degrees=10.0, shift=(300.0, 200.0)):
    """The canonical face drawn ``scale`` times the 48-px crop, turned and shifted."""
    t = math.radians(degrees)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    return (CANONICAL_68 * scale) @ rot.T + np.array(shift)


def test_align_face_maps_a_large_face_exactly():
    """The area-averaged path puts a point where the alignment matrix says (to 0.05 crop px)."""
    lm = _large_face_landmarks()
    p = np.array([355.3, 421.7])
    yy, xx = np.mgrid[0:800, 0:800]
    img = (250 * np.exp(-((xx - p[0]) ** 2 + (yy - p[1]) ** 2) / (2 * 6.0 ** 2))).astype(np.uint8)
    m = faces.alignment_matrix(lm, 48)
    crop = faces.align_face(img, lm, 48).astype(np.float64)
    cy, cx = np.mgrid[0:48, 0:48]
    got = np.array([(crop * cx).sum(), (crop * cy).sum()]) / crop.sum()
    np.testing.assert_allclose(got, m[:, :2] @ p + m[:, 2], atol=0.05)


def test_align_face_averages_a_large_face_instead_of_sampling_it():
    """Detail finer than a crop pixel averages out, as it did when FER2013's images
    were shrunk: pixel noise on a face 5x the crop (25 pixels per crop pixel) keeps
    about a fifth of its spread; point sampling (warpAffine alone) would keep most of it."""
    lm = _large_face_landmarks()
    noise = np.random.default_rng(0).normal(128, 60, (800, 800)).clip(0, 255).astype(np.uint8)
    spread = noise.std()
    crop = faces.align_face(noise, lm, 48)
    assert crop.std() < 0.3 * spread, (crop.std(), spread)
    sampled = cv2.warpAffine(noise, faces.alignment_matrix(lm, 48), (48, 48), flags=cv2.INTER_LINEAR)
    assert sampled.std() > 0.6 * spread             # what the crop would be without the averaging


@pytest.mark.parametrize("pose", [(0, 0, 0), (20, 0, 0), (-15, 0, 0), (0, 15, 0), (0, 0, 30),
                                  (10, -10, 20), (-5, 5, -25)])
def test_head_pose_recovers_a_projected_head(pose):
    rot = faces.angles_to_rotation(*pose)
    pts = faces._POSE_3D @ rot.T + [0, 0, 700]
    f, w, h = 640.0, 640, 480
    uv = pts[:, :2] / pts[:, 2:] * f + [w / 2, h / 2]
    lm = np.zeros((68, 2))
    lm[faces._POSE_IDX] = uv
    got = faces.head_pose(lm, (h, w))
    assert np.allclose(got, pose, atol=1.0), (got, pose)


def test_head_pose_signs_on_a_real_face(astronaut, ast_face, predictor):
    box, lm = ast_face
    p0, r0, y0 = faces.head_pose(lm, astronaut.shape)
    assert abs(r0) < 10 and abs(y0) < 15
    # rotate the image clockwise by 12 degrees: roll grows by ~12
    h, w = astronaut.shape
    m = cv2.getRotationMatrix2D((box[0] + box[2] / 2, box[1] + box[3] / 2), -12, 1.0)
    rot = cv2.warpAffine(astronaut, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    lm2 = predictor.predict(rot, box, derotate=True)
    assert faces.head_pose(lm2, rot.shape)[1] - r0 == pytest.approx(12, abs=3)
    # a mirrored face has the opposite yaw and roll
    flipped = astronaut[:, ::-1].copy()
    fb = (w - box[0] - box[2], box[1], box[2], box[3])
    p1, r1, y1 = faces.head_pose(predictor.predict(flipped, fb), flipped.shape)
    assert r1 == pytest.approx(-r0, abs=2) and y1 == pytest.approx(-y0, abs=3)


def test_geometry_helpers_are_exact():
    th = math.radians(33)
    rot = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
    moved = CANONICAL_68 @ rot.T * 3.7 + [120, -40]
    assert np.allclose(to_canonical(moved), CANONICAL_68, atol=1e-9)
    assert sorted(MIRROR_PERM) == list(range(68))
    assert np.allclose(MIRROR_PERM[MIRROR_PERM], np.arange(68))
    assert np.allclose(mirror(mirror(moved, 500), 500), moved)
    # the canonical face is its own mirror image (it is symmetric about x = 24)
    assert np.allclose(mirror(CANONICAL_68, 49), CANONICAL_68, atol=1e-9)


def test_bgr_input_and_usable_rule(astronaut, predictor):
    bgr = cv2.cvtColor(astronaut, cv2.COLOR_GRAY2BGR)
    assert len(faces.FaceDetector().detect(bgr)) == 1
    assert faces.usable([True, False, False, True], [1.0, 1.0, 3.5, 9.0]).tolist() == [True, True, False, False]


def test_fer2013_crops_get_usable_landmarks(fer_small):
    lm, det, res = faces.crop_landmarks(fer_small.images, cache=False)
    ok = faces.usable(det, res)
    assert lm.shape == (len(fer_small), 68, 2)
    assert ok.mean() > 0.85, ok.mean()
    # the landmarks of usable crops lie inside the crop and look like the average FER face
    assert np.median(np.abs(lm[ok].mean(1) - CANONICAL_68.mean(0)), axis=0).max() < 3


@pytest.fixture(scope="module")
def fer_small():
    from fer_au.data import find_data, load_fer2013
    path = find_data()
    if path is None:
        pytest.skip("FER2013 not found (see data/README.md)")
    return load_fer2013(path).split("PublicTest")[:60]
