"""Classical classifiers: pipelines, the comparison, the shipped-model wrapper and
its file (fast, on synthetic faces), and the shipped model on the real PrivateTest."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import clone

from fer_au import classifiers as C
from fer_au import zoo
from fer_au.labels import FER7


def _bars(n, classes, seed=0):
    """Noisy 48x48 images of a bright bar whose angle depends on the class."""
    import cv2
    rng = np.random.default_rng(seed)
    X = np.empty((n, 48, 48), np.uint8)
    y = np.asarray(classes)[np.arange(n) % len(classes)]
    for i, label in enumerate(y):
        img = rng.normal(90, 25, size=(48, 48))
        angle = np.pi * list(classes).index(label) / len(classes) + rng.normal(0, 0.08)
        c = 24 + rng.normal(0, 2, size=2)
        d = 18 * np.array([np.cos(angle), np.sin(angle)])
        canvas = np.zeros((48, 48), np.float32)
        cv2.line(canvas, tuple(int(v) for v in c - d), tuple(int(v) for v in c + d), 1.0, 3)
        X[i] = np.clip(img + 120 * canvas, 0, 255).astype(np.uint8)
    return X, y


@pytest.fixture(scope="module")
def bars():
    Xtr, ytr = _bars(150, (0, 3, 6), seed=0)
    Xte, yte = _bars(60, (0, 3, 6), seed=1)
    return Xtr, ytr, Xte, yte


@pytest.mark.parametrize("features", ["pixels", "hog", "lbp", "sift"])
def test_feature_pipelines_learn(features, bars):
    Xtr, ytr, Xte, yte = bars
    pipe = C.build_pipeline(features, "logreg", pca=20).fit(Xtr, ytr)
    assert (pipe.predict(Xte) == yte).mean() > 0.6     # chance is 1/3


@pytest.mark.parametrize("name", C.CLASSIFIERS + ("hist_gb", "nystroem_logreg"))
def test_every_classifier_fits_and_beats_chance(name, bars):
    Xtr, ytr, Xte, yte = bars
    params = {"n_estimators": 30} if name in ("xgboost", "random_forest") else {}
    params.update({"max_iter": 30} if name == "hist_gb" else {})
    params.update({"n_components": 100, "gamma": 0.05} if name == "nystroem_logreg" else {})
    pipe = C.build_pipeline("hog", name, pca=20, **params)
    if name == "xgboost":  # XGBoost wants labels 0..k-1
        from sklearn.preprocessing import LabelEncoder
        enc = LabelEncoder().fit(ytr)
        pipe.fit(Xtr, enc.transform(ytr))
        pred = enc.inverse_transform(pipe.predict(Xte))
    else:
        pred = pipe.fit(Xtr, ytr).predict(Xte)
    assert (pred == yte).mean() > 0.6


def test_unknown_names_are_clear_errors():
    with pytest.raises(ValueError, match="unknown features"):
        C.make_features("sparkles")
    with pytest.raises(ValueError, match="unknown classifier"):
        C.make_classifier("oracle")


def test_compare_table(bars):
    Xtr, ytr, Xte, yte = bars
    table = C.compare(Xtr, ytr, Xte, yte, features=("pixels", "hog"),
                      classifiers=("logreg", "knn"), pca=15, progress=False)
    assert len(table) == 4
    assert set(table.columns) >= {"features", "classifier", "accuracy", "macro_f1", "fit_s", "ms_per_face"}
    assert table["accuracy"].is_monotonic_decreasing
    assert table["accuracy"].max() > 0.6
    small = C.compare(Xtr, ytr, Xte, yte, features=("hog",), classifiers=("logreg",), pca=10,
                      max_train=30, progress=False)
    assert len(small) == 1


def test_median_sq_distance():
    Z = np.zeros((50, 3))
    Z[:, 0] = np.arange(50) % 2  # points at distance 0 or 1
    assert C.median_sq_distance(Z) in (0.0, 1.0)
    assert C.median_sq_distance(np.eye(10) * 3) == pytest.approx(18.0)


@pytest.fixture(scope="module")
def small_model(bars):
    Xtr, ytr, _, _ = bars
    # no mirroring: the synthetic bars' angle is not left-right symmetric
    return C.ClassicalEmotionModel(pca=20, n_components=80, C=5.0, pca_fit_max=200,
                                   hflip=False).fit(Xtr, ytr)


def test_model_contract(small_model, bars):
    _, ytr, Xte, yte = bars
    m = small_model
    assert m.n_train_ == len(ytr)
    np.testing.assert_array_equal(m.classes_, [0, 3, 6])
    assert m.gamma_ > 0
    p = m.predict_proba(Xte)
    assert p.shape == (len(Xte), len(FER7))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    assert np.all(p[:, [1, 2, 4, 5]] == 0)              # classes never seen get no mass
    assert (m.predict(Xte) == yte).mean() > 0.7
    assert m.predict_proba(Xte[:0]).shape == (0, 7)
    assert m.score(Xte, yte) == (m.predict(Xte) == yte).mean()
    assert clone(m).get_params()["pca"] == 20


def test_compact_keeps_predictions(bars):
    Xtr, ytr, Xte, _ = bars
    m = C.ClassicalEmotionModel(pca=20, n_components=80, pca_fit_max=200).fit(Xtr, ytr)
    assert m.n_train_ == 2 * len(ytr)                   # mirrored copies were added
    before = m.predict_proba(Xte)
    m.compact()
    assert m.pca_.components_.dtype == np.float32
    np.testing.assert_allclose(m.predict_proba(Xte), before, atol=1e-3)


def test_save_and_load_checks_the_manifest(small_model, bars, tmp_path):
    _, _, Xte, _ = bars
    path = C.save_classical(small_model, tmp_path)
    assert zoo.read_manifest(tmp_path)[C.SHIPPED_FILE] == zoo.sha256_of(path)
    loaded = C.load_classical(tmp_path)
    np.testing.assert_allclose(loaded.predict_proba(Xte), small_model.predict_proba(Xte))
    # through the zoo, by name
    np.testing.assert_allclose(zoo.load_model("classical", tmp_path).predict_proba(Xte[:3]),
                               small_model.predict_proba(Xte[:3]))
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(zoo.ModelIntegrityError, match="does not match"):
        C.load_classical(tmp_path)


def test_cli_trains_a_small_model(tmp_path, monkeypatch, capsys):
    """`cli.py train classical` end to end on a tiny synthetic FER2013 CSV."""
    from fer_au.cli import main
    from fer_au.data import make_csv
    X, y = _bars(70, (0, 3, 5, 6), seed=2)
    usage = ["Training"] * 50 + ["PublicTest"] * 10 + ["PrivateTest"] * 10
    csv = tmp_path / "fer.csv"
    csv.write_text(make_csv(X, y, usage))
    monkeypatch.setenv("FER_AU_CACHE", str(tmp_path / "cache"))
    rc = main(["train", "classical", "--data", str(csv), "--pca", "10", "--n-components", "40",
               "--models-dir", str(tmp_path / "models")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "PublicTest (fer7)" in out and "PublicTest (fer6)" in out
    model = C.load_classical(tmp_path / "models")
    assert model.predict_proba(X[:4]).shape == (4, 7)


# --- the shipped model on the real data ------------------------------------
@pytest.mark.realdata
@pytest.mark.slow
def test_shipped_classical_matches_model_card(fer):
    """The shipped classical model scores within 0.5 points of the PrivateTest
    figures in models/metrics.json (which MODEL_CARD.md quotes), both schemes."""
    from fer_au.evaluate import metrics
    stored_file = zoo.MODELS_DIR / "metrics.json"
    if not (zoo.MODELS_DIR / C.SHIPPED_FILE).exists() or not stored_file.exists():
        pytest.fail("models/classical_fer7.joblib or models/metrics.json is missing; "
                    "run `python cli.py train classical` and `python bench/accuracy.py --update`")
    stored = json.loads(stored_file.read_text())["classical"]
    test = fer.split("PrivateTest")
    proba = C.load_classical(zoo.MODELS_DIR).predict_proba(test.images)
    for scheme in ("fer7", "fer6"):
        m = metrics(proba, test.labels, scheme)
        assert abs(m["accuracy"] - stored[scheme]["accuracy"]) <= 0.005, (scheme, m["accuracy"])
        assert abs(m["macro_f1"] - stored[scheme]["macro_f1"]) <= 0.005, (scheme, m["macro_f1"])
    assert stored["fer7"]["accuracy"] >= 0.55
