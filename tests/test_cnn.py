"""The CNN: architecture, augmentation, resumable training, export and fast inference."""
from __future__ import annotations

import json

import numpy as np
import pytest

from fer_au import cnn


@pytest.fixture(scope="module")
def tiny():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(64, 48, 48), dtype=np.uint8)
    y = np.arange(64) % 7
    # make the task learnable: brightness encodes the class
    x = (x // 4 + (y * 30)[:, None, None]).astype(np.uint8)
    return x, y


def test_model_shape_and_size():
    m = cnn.build_model()
    assert m.input_shape == (None, 48, 48, 1) and m.output_shape == (None, 7)
    assert m.count_params() * 4 < 30e6  # the shipped file must stay under 30 MB


def test_augment_keeps_shape_and_dtype():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(16, 48, 48), dtype=np.uint8)
    out = cnn.augment_batch(x, rng)
    assert out.shape == x.shape and out.dtype == np.uint8
    assert not np.array_equal(out, x)


def test_train_resume_export_predict(tmp_path, tiny):
    x, y = tiny
    state = cnn.train_cnn(x, y, x[:14], y[:14], tmp_path / "run", epochs=1, batch_size=16, verbose=0)
    assert state["epoch"] == 1 and len(state["history"]) == 1
    # asking for 2 epochs resumes from the checkpoint instead of starting over
    state = cnn.train_cnn(x, y, x[:14], y[:14], tmp_path / "run", epochs=2, batch_size=16, verbose=0)
    saved = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["epoch"] == 2 and [h["epoch"] for h in saved["history"]] == [1, 2]
    target = cnn.export_for_inference(tmp_path / "run" / "best.keras", tmp_path / "cnn_fer7.keras")
    model = cnn.EmotionCNN.load(target)
    p = model.predict_proba(x[:5])
    assert p.shape == (5, 7) and np.allclose(p.sum(axis=1), 1, atol=1e-4)
    # one face and a batch give the same answer; flipped-TTA stays a distribution
    np.testing.assert_allclose(model.predict_proba(x[0]), p[:1], atol=1e-5)
    tta = cnn.EmotionCNN.load(target, tta=True).predict_proba(x[:5])
    assert np.allclose(tta.sum(axis=1), 1, atol=1e-4)
    mirrored = model.predict_proba(x[:5, :, ::-1])
    np.testing.assert_allclose(tta, (p[:5] + mirrored) / 2, atol=1e-5)


def test_predict_rejects_wrong_shape(tmp_path):
    model = cnn.EmotionCNN(cnn.build_model())
    with pytest.raises(ValueError, match="expected \\(N, 48, 48\\)"):
        model.predict_proba(np.zeros((2, 64, 64), np.uint8))
