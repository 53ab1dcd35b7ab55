"""Every shipped model still scores what models/metrics.json (quoted by MODEL_CARD.md)
says it does on PrivateTest, within 0.5 points and not below the issue's floor, and its
files match the manifest."""
from __future__ import annotations

import json

import pytest

from fer_au import zoo
from fer_au.evaluate import metrics

# the floors on PrivateTest, fer7 (#3): drift within 0.5 points must not cross them.
# The CNN's float32 network (cnn_keras) holds #3's 72 %; `cnn` runs the same network with
# int8 weights since session 11 (0.7189 against 0.7203; 0.7097 against 0.7083 on PublicTest:
# MODEL_CARD, "int8 weights"), held to stay within 0.3 points of it below.
FLOORS = {"cnn_keras": 0.72, "cnn": 0.715, "classical": 0.55}
STORED = json.loads((zoo.MODELS_DIR / "metrics.json").read_text()) if (zoo.MODELS_DIR / "metrics.json").exists() else {}


def test_every_registered_model_is_shipped_and_measured():
    for name, (_, files, _) in zoo.REGISTRY.items():
        manifest = zoo.read_manifest()
        for f in files:
            assert (zoo.MODELS_DIR / f).exists(), f"{name}: {f} is registered but not shipped"
            assert f in manifest, f"{name}: {f} is not in the sha256 manifest"
        assert name in STORED, f"{name}: no figures in models/metrics.json (run bench/accuracy.py --update)"


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(STORED))
def test_shipped_model_matches_its_card(name, fer):
    test = fer.split("PrivateTest")
    proba = zoo.load_model(name).predict_proba(test.images)
    for scheme in ("fer7", "fer6"):
        m = metrics(proba, test.labels, scheme)
        assert abs(m["accuracy"] - STORED[name][scheme]["accuracy"]) <= 0.005, (name, scheme, m["accuracy"])
        if scheme == "fer7":
            assert m["accuracy"] >= FLOORS.get(name, 0), (name, "below its floor", m["accuracy"])
    if test.ferplus_votes is not None and "ferplus" in STORED[name]:   # FER+'s majority labels
        from fer_au.evaluate import ferplus_metrics
        fp = ferplus_metrics(proba, test.ferplus_votes)["fer8"]["accuracy"]
        assert abs(fp - STORED[name]["ferplus"]["fer8"]["accuracy"]) <= 0.005, (name, "FER+", fp)


def test_the_ferplus_cnn_is_what_its_card_says():
    """cnn_ferplus ships by name only: trained on FER+'s votes alone, far better than the
    default on FER+'s labels, above published single models (~85 %, VGG13) and issue 14's
    aim (87 %), below issue 14's FER2013 floor for a new default (72 %), which is why cnn
    stays the default."""
    if not {"cnn", "cnn_ferplus"} <= set(STORED):
        pytest.skip("the CNNs' figures are not stored")
    cnn, fp = STORED["cnn"], STORED["cnn_ferplus"]
    assert fp["ferplus"]["fer8"]["accuracy"] >= 0.87
    assert fp["ferplus"]["fer8"]["accuracy"] > cnn["ferplus"]["fer8"]["accuracy"] + 0.10
    assert fp["fer7"]["accuracy"] < 0.72 <= STORED["cnn_keras"]["fer7"]["accuracy"]


def test_the_int8_cnn_scores_as_its_float_network():
    """`cnn` (int8 weights) and `cnn_keras` (the same network in float) agree on PrivateTest
    and FER+ within 0.3 points: quantizing cost no accuracy worth the name."""
    if not {"cnn", "cnn_keras"} <= set(STORED):
        pytest.skip("the CNNs' figures are not stored")
    lite, ref = STORED["cnn"], STORED["cnn_keras"]
    assert abs(lite["fer7"]["accuracy"] - ref["fer7"]["accuracy"]) <= 0.003
    assert abs(lite["ferplus"]["fer8"]["accuracy"] - ref["ferplus"]["fer8"]["accuracy"]) <= 0.003
    assert lite["size_mb"] < 0.3 * ref["size_mb"]


def test_corrupted_model_file_is_refused(tmp_path):
    for name, (_, files, _) in zoo.REGISTRY.items():
        if all((zoo.MODELS_DIR / f).exists() for f in files):
            break
    else:
        pytest.skip("no shipped model present")
    import shutil
    for f in zoo.read_manifest():
        if (zoo.MODELS_DIR / f).exists():
            shutil.copy(zoo.MODELS_DIR / f, tmp_path / f)
    shutil.copy(zoo.MODELS_DIR / zoo.MANIFEST, tmp_path / zoo.MANIFEST)
    target = tmp_path / files[0]
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(zoo.ModelIntegrityError, match="does not match the manifest"):
        zoo.load_model(name, models_dir=tmp_path)
    target.unlink()
    with pytest.raises(zoo.ModelIntegrityError, match="missing"):
        zoo.load_model(name, models_dir=tmp_path)
