"""Handcrafted feature extractors: shapes, invariances, and the scikit-learn contract."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from fer_au import features as F


@pytest.fixture(scope="module")
def faces():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(6, 48, 48), dtype=np.uint8)


@pytest.mark.parametrize("extractor, dim", [
    (F.Pixels(), 48 * 48),
    (F.HOG(cell_sizes=(8,)), 5 * 5 * 4 * 9),
    (F.HOG(cell_sizes=(8, 4)), 5 * 5 * 4 * 9 + 11 * 11 * 4 * 9),
    (F.LBPGrid(cell=12, stride=6), 7 * 7 * 59),
    (F.LBPGrid(method="uniform", cell=16, stride=16), 3 * 3 * 10),
    (F.DenseSIFT(step=8, sizes=(12,)), 6 * 6 * 128),
    (F.DenseSIFT(step=12, sizes=(8, 16)), 2 * 4 * 4 * 128),
])
def test_shapes_and_dtype(extractor, dim, faces):
    out = clone(extractor).fit(faces).transform(faces)
    assert out.shape == (len(faces), dim)
    assert out.dtype == np.float32
    assert np.isfinite(out).all()
    # deterministic, and one face at a time gives the same rows
    np.testing.assert_array_equal(out[2:3], extractor.transform(faces[2:3]))


def test_flattened_faces_are_accepted(faces):
    a = F.HOG().fit(faces).transform(faces)
    b = F.HOG().fit(faces).transform(faces.reshape(len(faces), -1))
    np.testing.assert_array_equal(a, b)


def test_bad_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        F.HOG().fit(np.zeros((3, 10, 10, 3)))


def test_pixels_standardize_removes_brightness(faces):
    p = F.Pixels(standardize=True)
    brighter = np.clip(faces.astype(int) // 2 + 60, 0, 255).astype(np.uint8)
    darker = (faces // 2).astype(np.uint8)
    np.testing.assert_allclose(p.transform(brighter), p.transform(darker), atol=1e-4)
    assert np.abs(F.Pixels().transform(faces)).max() <= 1.0


def test_lbp_histograms_are_normalised_and_brightness_invariant(faces):
    lbp = F.LBPGrid(cell=12, stride=12)
    h = lbp.transform(faces).reshape(len(faces), -1, 59)
    np.testing.assert_allclose(h.sum(axis=2), 1.0, atol=1e-5)
    # LBP compares neighbours with the centre: a brightness offset changes (almost)
    # nothing - only ties between interpolated diagonal neighbours may round differently
    base = lbp.transform(faces // 2)
    shifted = lbp.transform((faces // 2 + 40).astype(np.uint8))
    other = lbp.transform(faces[::-1] // 2)
    assert np.abs(base - shifted).sum() < 0.1 * np.abs(base - other).sum()


def test_hog_sees_edge_orientation():
    img = np.zeros((48, 48), np.uint8)
    img[:, 24:] = 255                       # a vertical edge: horizontal gradient
    hog = F.HOG(cell_sizes=(8,), orientations=9)
    v = hog.transform(img[None]).reshape(5, 5, 2, 2, 9)
    hist = v.sum(axis=(0, 1, 2, 3))
    assert hist.argmax() == 0               # orientation bin of 0 degrees
    assert hog.visualize(img).shape == (48, 48)
    assert not np.array_equal(hog.transform(img[None]), hog.transform(img.T[None]))


def test_power_norm_is_signed_sqrt():
    x = np.array([[4.0, -9.0, 0.0]])
    np.testing.assert_allclose(F.PowerNorm().fit_transform(x), [[2.0, -3.0, 0.0]])


def test_sift_bow_histograms(faces):
    bow = F.SiftBoW(n_words=8, step=8, sizes=(12,), levels=(1, 2)).fit(faces)
    out = bow.transform(faces)
    assert out.shape == (len(faces), (1 + 4) * 8)
    np.testing.assert_allclose(out.reshape(len(faces), 5, 8).sum(axis=2), 1.0, atol=1e-5)


def test_handcrafted_union_in_a_pipeline(faces):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    pipe = make_pipeline(F.handcrafted(), StandardScaler())
    out = pipe.fit_transform(faces)
    n = F.HOG(cell_sizes=(8, 4)).fit(faces).transform(faces[:1]).size \
        + F.LBPGrid().fit(faces).transform(faces[:1]).size \
        + F.DenseSIFT(step=6).fit(faces).transform(faces[:1]).size
    assert out.shape == (len(faces), n)
    assert "hog__hog__cell_sizes" in F.handcrafted().get_params()


def test_hflip_augment(faces):
    y = np.arange(len(faces))
    X2, y2 = F.hflip_augment(faces, y)
    assert X2.shape == (2 * len(faces), 48, 48)
    np.testing.assert_array_equal(X2[len(faces):], faces[:, :, ::-1])
    np.testing.assert_array_equal(y2, np.concatenate([y, y]))
