"""bench/_au_validity.py: the real faces it uses, its image warp (identity where
nothing moves, texture carried the right way), the synthetic AU movements (local,
held features held, scaled by ``amount``), the head turn, and the three checks'
tables on a few real faces.  The acceptance figures themselves are benchmarks
(``python bench/_au_validity.py``), not asserted here."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import _au_validity as V  # noqa: E402
from fer_au.aus import AU_CODES  # noqa: E402


@pytest.fixture(scope="module")
def faces():
    return V.real_faces()


@pytest.fixture(scope="module")
def analyzer():
    from fer_au.analyzer import FaceAnalyzer
    return FaceAnalyzer(emotion_model=None, au_model=None)


@pytest.fixture(scope="module")
def meshes(faces):
    """(image, mesh) of each real face, from the face mesh alone (no AU model needed)."""
    from fer_au.analyzer import FaceAnalyzer
    a = FaceAnalyzer(emotion_model=None, au_model=None, aus=False)
    out = {}
    for name, img in faces.items():
        f = V._largest(a.analyze(img))
        assert f is not None, name
        out[name] = (img, f.mesh.astype(np.float64), f.box)
    return out


def test_real_faces(faces, meshes):
    assert len(faces) >= 8
    assert {"skimage-astronaut", "mpl-grace_hopper", "samples/astronaut", "samples/hopper"} <= set(faces)
    assert sum(n.startswith("samples/group-") for n in faces) == 4
    for name, img in faces.items():
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3, name
        _, mesh, box = meshes[name]
        assert min(img.shape[:2]) >= 1.8 * max(box[2], box[3]), name     # generous crop
        assert mesh.shape == (468, 3)
    extra = V.real_faces(extra=[faces["samples/hopper"]])
    assert len(extra) == len(faces) + 1


def test_mesh_warp_identity(meshes):
    img, mesh, _ = meshes["mpl-grace_hopper"]
    out = V.mesh_warp(img, mesh[:, :2], mesh[:, :2], V._mesh_box(mesh))
    assert out.shape == img.shape and out.dtype == img.dtype
    assert np.abs(out.astype(float) - img).mean() < 0.5


def test_mesh_warp_carries_texture_and_keeps_background(meshes):
    img, mesh, _ = meshes["samples/hopper"]
    src = mesh[:, :2]
    dst = src + [4.0, 0.0]                       # the face moves 4 px to the right
    out = V.mesh_warp(img, src, dst, V._mesh_box(mesh))
    x0, y0 = np.round(src[[33, 263, 152, 10]].min(0)).astype(int)
    x1, y1 = np.round(src[[33, 263, 152, 10]].max(0)).astype(int)
    inner = img[y0:y1, x0:x1].astype(float)
    moved = out[y0:y1, x0 + 4:x1 + 4].astype(float)
    assert np.abs(moved - inner).mean() < 2.0                  # texture follows the vertices
    assert np.abs(out[y0:y1, x0:x1].astype(float) - inner).mean() > 2 * np.abs(moved - inner).mean()
    # nothing outside the ring of fixed anchors moves
    ring = V._anchor_points(V._mesh_box(mesh), img.shape)[:16]
    (rx0, ry0), (rx1, ry1) = np.floor(ring.min(0)).astype(int), np.ceil(ring.max(0)).astype(int)
    mask = np.ones(img.shape[:2], bool)
    mask[max(ry0, 0):ry1 + 1, max(rx0, 0):rx1 + 1] = False
    assert np.array_equal(out[mask], img[mask])


def test_au_movement_is_local(meshes):
    _, mesh, _ = meshes["mpl-grace_hopper"]
    P = V.to_face(mesh)
    for au in AU_CODES:
        d = V.to_face(np.c_[V.au_movement(mesh, au), mesh[:, 2]]) - P
        assert np.abs(d).max() > 0.02, au                        # it moves something visibly
        if au in V.REGIONS["mouth"] or au == "AU26":
            assert np.abs(d[V.BROWS]).max() < 0.005, au          # e.g. AU12 leaves the brows
            assert np.abs(d[V.LIDS]).max() < 0.005, au
        if au in V.REGIONS["brows"] or au in ("AU05", "AU07", "AU43"):
            assert np.abs(d[V.UPPER_LIP + V.LOWER_LIP]).max() < 0.005, au
    # AU12: lip corners up 0.06 and outward 0.03 IOD, in the face's frame
    d = V.to_face(np.c_[V.au_movement(mesh, "AU12"), mesh[:, 2]]) - P
    np.testing.assert_allclose(d[61], [-0.03, 0.06], atol=2e-3)
    np.testing.assert_allclose(d[291], [0.03, 0.06], atol=2e-3)
    # AU26: the chin drops 0.12 IOD, the upper lip and the nose stay
    d = V.to_face(np.c_[V.au_movement(mesh, "AU26"), mesh[:, 2]]) - P
    assert d[152, 1] == pytest.approx(-0.12, abs=2e-3)
    assert np.abs(d[V.UPPER_LIP + [1, 2, 4]]).max() < 1e-9
    # AU25: lips part with the jaw still
    d = V.to_face(np.c_[V.au_movement(mesh, "AU25"), mesh[:, 2]]) - P
    assert d[14, 1] == pytest.approx(-0.05, abs=2e-3) and abs(d[152, 1]) < 1e-9 and abs(d[13, 1]) < 1e-9
    # AU43: upper lids close onto the lower lids, which stay
    dst = V.au_movement(mesh, "AU43")
    for up, low in V.LID_PAIRS.items():
        gap0 = np.linalg.norm(mesh[up, :2] - mesh[low, :2])
        assert np.linalg.norm(dst[up] - dst[low]) == pytest.approx(0.1 * gap0, abs=1e-6)
        np.testing.assert_allclose(dst[low], mesh[low, :2])


def test_au_movement_scales_with_amount(meshes):
    _, mesh, _ = meshes["samples/astronaut"]
    xy = mesh[:, :2]
    np.testing.assert_allclose(V.au_movement(mesh, "AU01", 0.0), xy)
    one, two = V.au_movement(mesh, "AU12", 1.0) - xy, V.au_movement(mesh, "AU12", 2.0) - xy
    np.testing.assert_allclose(two, 2 * one, atol=1e-9)
    with pytest.raises(ValueError):
        V.au_movement(mesh, "AU99")


def test_regions():
    listed = {c for r in V.REGIONS.values() for c in r}
    assert listed == set(AU_CODES)
    assert set(V.MOVEMENTS) == set(AU_CODES)
    assert V.share_region("AU06", "AU07") and V.share_region("AU10", "AU09") and V.share_region("AU10", "AU25")
    assert not V.share_region("AU12", "AU06") and not V.share_region("AU01", "AU05")
    for a in AU_CODES:
        for b in AU_CODES:
            assert V.share_region(a, b) == V.share_region(b, a)


def test_turn_mesh(meshes):
    img, mesh, _ = meshes["mpl-grace_hopper"]
    dst, vis = V.turn_mesh(mesh, 0)
    np.testing.assert_allclose(dst, mesh[:, :2], atol=1e-6)
    assert vis.all()
    dst, vis = V.turn_mesh(mesh, 30)
    assert 300 < vis.sum() < 468                       # some of the far side turns away
    nose = dst[4, 0] - mesh[4, 0]
    assert nose > 0.1 * np.linalg.norm(mesh[263, :2] - mesh[33, :2])    # yaw > 0: nose to the right
    out = V.turn_head(img, mesh, 30)
    assert out.shape == img.shape and np.abs(out.astype(float) - img).mean() > 1


def test_selectivity_tables(analyzer, faces):
    two = {k: faces[k] for k in ("samples/hopper", "skimage-astronaut")}
    sel = V.selectivity(analyzer, two, aus=["AU12", "AU26"])
    for table in (sel.median, sel.z_median, sel.exact_median):
        assert table.shape == (2, 17)
        assert list(table.index) == ["AU12", "AU26"] and list(table.columns) == AU_CODES
    assert len(sel.changes) == 2 * 2 * 17
    assert {"face", "moved", "measured", "before", "after", "change", "z_change",
            "exact_z_change"} <= set(sel.changes.columns)
    assert list(sel.summary.index) == ["AU12", "AU26"]
    assert (sel.summary.n_faces == 2).all()
    assert {"own_change", "worst_other", "worst_other_change", "passed", "gain"} <= set(sel.summary.columns)
    assert not sel.summary.loc["AU12", "worst_other"] in V.REGIONS["mouth"]
    assert sel.gain.gain.notna().all()
    # the movements move what they are meant to move: the mesh AUs' measures, on the mesh
    # moved exactly as intended (only the mesh-only estimator can be fed a moved mesh)
    from fer_au.analyzer import FaceAnalyzer
    mesh_only = FaceAnalyzer(emotion_model=None, au_model=None, landmarks="mesh")
    ex = V.selectivity(mesh_only, two, aus=["AU12", "AU26"]).exact_median
    assert ex.loc["AU12", "AU12"] > 0 and ex.loc["AU26", "AU26"] > 0


def test_scale_consistency_table(analyzer, faces):
    two = {k: faces[k] for k in ("samples/astronaut", "mpl-grace_hopper")}
    sc = V.scale_consistency(analyzer, two, warps=False)
    assert list(sc.per_au.index) == AU_CODES
    assert (sc.per_au.n == 2).all()
    assert {"median_abs_diff", "mean_full", "mean_crop", "passed"} <= set(sc.per_au.columns)
    assert (sc.per_au.median_abs_diff >= 0).all() and (sc.per_au.median_abs_diff <= 5).all()


def test_pose_table(analyzer, faces):
    one = {"samples/hopper": faces["samples/hopper"]}
    pose = V.pose_invariance(analyzer, one, yaws=(-15, 15))
    assert pose.median.shape == (17, 2) and list(pose.median.columns) == [-15, 15]
    assert list(pose.summary.index) == AU_CODES
    assert pose.changes.turned.notna().all()          # the turned face is still found
