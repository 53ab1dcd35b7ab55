"""The AU emotion models (au, au_geom, au_app): contract, consistency of the two entry
points, explanations, metrics bookkeeping, and - with the data - the regression
test against models/metrics.json (the figures MODEL_CARD.md quotes)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from fer_au import zoo
from fer_au.aus import AU_CODES, AUEstimator
from fer_au.geometry import CANONICAL_68

KINDS = ("au", "au_geom", "au_app")
SHIPPED = [n for n in KINDS if n in zoo.available()]
STORED = json.loads((zoo.MODELS_DIR / "metrics.json").read_text()) \
    if (zoo.MODELS_DIR / "metrics.json").exists() else {}


def _need(name):
    if name not in SHIPPED:
        pytest.fail(f"model {name} is registered but not shipped in models/ (run `python cli.py train au`)")
    return zoo.load_model(name)


@pytest.fixture(scope="module")
def astronaut_face():
    import cv2
    from skimage import data

    from fer_au import faces
    gray = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    (box, _), = faces.FaceDetector().detect(gray)
    lm = faces.LandmarkPredictor().predict(gray, box)
    return gray, lm, faces.align_face(gray, lm, 48)


@pytest.mark.parametrize("name", KINDS)
def test_registered_and_loadable(name):
    assert name in zoo.REGISTRY
    model = _need(name)
    assert model.kind == name and list(model.classes_) == list(range(7)) and model.input_kind == zoo.REGISTRY[name].input
    assert model.feature_names[:len(AU_CODES)] == AU_CODES


@pytest.mark.parametrize("name", KINDS)
def test_predict_proba_on_crops_and_on_landmarks(name, astronaut_face):
    model = _need(name)
    gray, lm, crop = astronaut_face
    p = model.predict_proba(np.stack([crop, crop[:, ::-1]]))
    assert p.shape == (2, 7) and np.allclose(p.sum(1), 1, atol=1e-5)
    # a real smiling face: happiness is the top emotion from both entry points
    kw = {"image": gray} if model.needs_appearance else {}
    q = model.predict_proba_landmarks(lm[None], **kw)
    assert q.shape == (1, 7) and np.allclose(q.sum(1), 1, atol=1e-5)
    assert p[0].argmax() == 3 and q[0].argmax() == 3, (p, q)
    assert model.predict_proba(np.zeros((0, 48, 48), np.uint8)).shape == (0, 7)


def test_appearance_model_needs_pixels(astronaut_face):
    from fer_au.au_models import AUEmotionModel, appearance_feature_names
    gray, lm, crop = astronaut_face
    model = _need("au_app")
    assert model.needs_appearance and model.feature_names[-1] == appearance_feature_names()[-1]
    with pytest.raises(ValueError, match="pixels"):
        model.predict_proba_landmarks(lm[None])
    # the frame or the aligned crop give the same answer
    from fer_au.au_models import aligned_crops
    p1 = model.predict_proba_landmarks(lm[None], image=gray)
    p2 = model.predict_proba_landmarks(lm[None], crops=aligned_crops([gray], lm[None]))
    assert np.allclose(p1, p2)
    for name in ("au", "au_geom"):
        assert not zoo.load_model(name).needs_appearance
    with pytest.raises(ValueError):
        AUEmotionModel(None, AUEstimator.load_shipped(), "au_pixels")


def test_explanations_add_up(astronaut_face):
    from fer_au.analysis.au_models import au_importance, au_profile
    model = _need("au")
    rng = np.random.default_rng(0)
    faces = CANONICAL_68[None] + rng.normal(0, 0.5, (30, 68, 2))
    x = model.features(faces)
    c = model.explain(x)
    assert c.shape == (30, 7, len(AU_CODES) + 1)
    # SHAP contributions sum to the margin; softmax of margins = predict_proba
    margin = c.sum(-1)
    soft = np.exp(margin - margin.max(1, keepdims=True))
    soft /= soft.sum(1, keepdims=True)
    assert np.allclose(soft, model._proba(x), atol=1e-4)
    imp = au_importance(model, x)
    assert list(imp.index) == AU_CODES and imp.shape[1] == 7 and (imp.to_numpy() >= 0).all()
    prof = au_profile(model, x)
    assert prof.loc["happiness", "EMFACS prototype"] == "06+12"


def test_save_metrics_keeps_other_models(tmp_path):
    from fer_au.training.au import save_metrics
    (tmp_path / "metrics.json").write_text(json.dumps({"cnn": {"fer7": {"accuracy": 0.7}}}))
    proba = np.eye(7)[[0, 1, 2, 3, 4, 5, 6, 0]]      # the last: disgust called anger
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 1])
    save_metrics(tmp_path, "au", proba, labels)
    data = json.loads((tmp_path / "metrics.json").read_text())
    assert data["cnn"]["fer7"]["accuracy"] == 0.7
    assert data["au"]["fer7"]["accuracy"] == pytest.approx(7 / 8, abs=1e-4)
    assert data["au"]["fer6"]["accuracy"] == pytest.approx(1.0)     # anger/disgust folded


def test_train_command_is_wired():
    from fer_au.cli import build_parser
    args = build_parser().parse_args(["train", "au", "--data", "x.csv", "--models", "au"])
    assert args.models == ["au"] and args.threads == 1


def test_estimator_in_the_shipped_baseline_is_documented():
    est = AUEstimator.load_shipped()
    d = est.to_dict()
    assert d["codes"] == AU_CODES and set(d["measures"]) == set(AU_CODES)
    assert est.n_fit_ > 1000          # fitted on FER2013's neutral Training faces
    assert (est.scale_ > 0).all()


@pytest.mark.realdata
@pytest.mark.parametrize("name", KINDS)
def test_shipped_au_model_matches_its_card(name, fer_path):
    """PrivateTest accuracy within 0.5 points of models/metrics.json, both schemes."""
    from fer_au.data import load_fer2013
    from fer_au.evaluate import metrics
    model = _need(name)
    assert name in STORED, f"{name}: no figures in models/metrics.json"
    test = load_fer2013(fer_path).split("PrivateTest")
    proba = model.predict_proba(test.images)
    for scheme in ("fer7", "fer6"):
        acc = metrics(proba, test.labels, scheme)["accuracy"]
        assert abs(acc - STORED[name][scheme]["accuracy"]) <= 0.005, (name, scheme, acc)
    floor = {"au": 0.45, "au_geom": 0.55, "au_app": 0.55}[name]
    assert STORED[name]["fer7"]["accuracy"] >= floor


@pytest.mark.parametrize("kind", ["au", "au_geom", "au_app"])
def test_numpy_trees_match_xgboost(kind):
    """The shipped boosters evaluated by fer_au.xgb_trees give XGBoost's own probabilities,
    missing values (default directions) included."""
    import xgboost as xgb

    from fer_au.xgb_trees import TreeEnsemble

    path = zoo.verified_path(f"{kind}_xgb_fer7.ubj")
    trees = TreeEnsemble.from_ubj(path)
    booster = xgb.Booster()
    booster.load_model(str(path))
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(300, trees.n_features)) * 2).astype(np.float32)
    x[rng.random(x.shape) < 0.05] = np.nan
    want = booster.predict(xgb.DMatrix(x, feature_names=booster.feature_names))
    assert np.abs(trees.predict_proba(x) - want).max() < 1e-5
    with pytest.raises(ValueError, match="features"):
        trees.predict_proba(x[:, :-1])


def test_shipped_au_model_predicts_without_importing_xgboost():
    import subprocess
    import sys

    code = ("import sys, numpy as np; from fer_au import zoo; m = zoo.load_model('au'); "
            "from fer_au.geometry import CANONICAL_68; p = m.predict_proba_landmarks(CANONICAL_68[None] * 100); "
            "assert p.shape == (1, 7) and abs(p.sum() - 1) < 1e-9; "
            "print('xgboost' in sys.modules, 'sklearn' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"]
