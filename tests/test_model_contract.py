"""One contract for every shipped emotion model (zoo.REGISTRY), scikit-learn style:
``classes_`` = the fer7 codes, ``predict_proba`` -> (N, 7) float64 rows that sum to 1,
the same rows for a face alone or in a batch, and a declared ``input_kind`` that the
analyzer routes on."""
import numpy as np
import pytest

from fer_au import zoo
from fer_au.labels import FER7
from fer_au.samples import face_crop48, single_photo


@pytest.fixture(scope="module")
def crops():
    """Four real 48-px faces: the two sample people, each also mirrored."""
    faces = np.stack([face_crop48(n, flip=f) for n in ("astronaut", "hopper") for f in (False, True)])
    assert faces.shape == (4, 48, 48) and faces.dtype == np.uint8
    return faces


@pytest.mark.parametrize("name", sorted(zoo.REGISTRY))
def test_every_registered_model_keeps_the_contract(name, crops):
    entry = zoo.REGISTRY[name]
    assert entry.input in zoo.INPUT_KINDS
    model = zoo.load_model(name)
    assert model.input_kind == entry.input
    np.testing.assert_array_equal(model.classes_, np.arange(len(FER7)))
    p = model.predict_proba(crops)
    assert p.shape == (len(crops), 7) and p.dtype == np.float64
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    assert (p >= 0).all()
    one = np.concatenate([model.predict_proba(c[None]) for c in crops])
    # batch of 1 == batch of N, up to float32 arithmetic: BLAS sums a batch in another order
    # (the classical model's PCA differs by ~5e-5 and its kernel spreads that to ~4e-4)
    np.testing.assert_allclose(one, p, atol=1e-3)
    np.testing.assert_array_equal(model.predict(crops), model.classes_[p.argmax(1)])


@pytest.mark.parametrize("name", sorted(zoo.REGISTRY))
def test_the_analyzer_routes_on_the_declared_input(name):
    from fer_au.analyzer import FaceAnalyzer
    a = FaceAnalyzer(emotion_model=name, au_model=None, aus=False)
    (face,) = a.analyze(single_photo("astronaut"))
    assert abs(sum(face.emotions.values()) - 1) < 1e-6
