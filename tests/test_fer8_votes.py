"""FER+ as a label scheme: fer8, the voters' majority labels, soft targets, and
`evaluate --labels ferplus`.  Synthetic votes for the rules; the real vote file
where /work/shared (or FER_AU_DATA) has it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fer_au.data import load_fer2013, make_csv
from fer_au.evaluate import ferplus_metrics, format_ferplus_report, metrics
from fer_au.labels import (FER7, FER8, FERPLUS_COLUMNS, class_names, convert_labels, convert_proba,
                           ferplus_exclusions, ferplus_majority, ferplus_soft_targets)

REPO = Path(__file__).resolve().parent.parent


def votes(**counts):
    """One FER+ vote row from column names: votes(happiness=8, anger=2)."""
    row = np.zeros(len(FERPLUS_COLUMNS), dtype=np.int64)
    for name, n in counts.items():
        row[FERPLUS_COLUMNS.index(name)] = n
    return row


# Each case: votes, FER+ majority rule's fer8 label, plurality rule's fer8 label.
CASES = [
    (votes(happiness=9, anger=1), 3, 3),
    (votes(contempt=6, neutral=4), 7, 7),                      # contempt is a fer8 class
    (votes(NF=10), -1, -1),                                    # not a face
    (votes(unknown=6, sadness=4), -1, -1),                     # unknown wins
    (votes(neutral=5, NF=5), -1, -1),                          # tie with not-a-face
    (votes(anger=4, disgust=4, neutral=2), -1, -1),            # tie for the top
    (votes(surprise=4, fear=3, happiness=3), -1, 5),           # top without a majority
    (votes(surprise=4, fear=2, happiness=1, anger=1,           # single votes dropped:
           sadness=1, neutral=1), 5, 5),                       # 4 of 6 is a majority
    (votes(sadness=5, neutral=5), -1, -1),                     # exactly half is no majority
    (votes(), -1, -1),                                         # no votes at all
]
V = np.stack([c[0] for c in CASES])


def test_fer8_scheme():
    assert class_names("fer8") == FER8 == FER7 + ("contempt",)
    # fer7 codes are fer8 codes; contempt has no fer7/fer6 class
    assert list(convert_labels([0, 6, 7, -1], "fer8")) == [0, 6, 7, -1]
    assert list(convert_labels([0, 1, 6, 7], "fer7")) == [0, 1, 6, -1]
    assert list(convert_labels([0, 1, 6, 7], "fer6")) == [0, 0, 5, -1]
    p7 = np.full((2, 7), 1 / 7)
    p8 = convert_proba(p7, "fer8")
    assert p8.shape == (2, 8) and (p8[:, 7] == 0).all() and np.allclose(p8.sum(1), 1)
    # an 8-class model's probabilities: pass through for fer8, contempt dropped for fer7
    q8 = np.array([[0.1, 0, 0, 0.2, 0, 0, 0.2, 0.5]])
    assert np.array_equal(convert_proba(q8, "fer8"), q8)
    q7 = convert_proba(q8, "fer7")
    assert q7.shape == (1, 7) and np.isclose(q7.sum(), 1) and np.isclose(q7[0, 3], 0.4)
    assert convert_proba(q8, "fer6").shape == (1, 6)
    with pytest.raises(ValueError, match="probability columns"):
        convert_proba(np.ones((1, 5)), "fer8")


@pytest.mark.parametrize("rule,col", [("majority", 1), ("plurality", 2)])
def test_majority_rules(rule, col):
    expected = [c[col] for c in CASES]
    assert list(ferplus_majority(V, "fer8", rule)) == expected
    # fer7/fer6 leave contempt out as well
    assert list(ferplus_majority(V, "fer7", rule)) == [-1 if e == 7 else e for e in expected]
    six = ferplus_majority(V, "fer6", rule)
    assert list(six) == list(convert_labels([-1 if e == 7 else e for e in expected], "fer6"))


def test_majority_is_the_default_and_bad_input():
    assert np.array_equal(ferplus_majority(V), ferplus_majority(V, "fer8", "majority"))
    with pytest.raises(ValueError, match="unknown FER\\+ rule"):
        ferplus_majority(V, rule="vote")
    with pytest.raises(ValueError, match="\\(N, 10\\)"):
        ferplus_majority(V[:, :8])


def test_exclusions_count_every_image():
    c = ferplus_exclusions(V, "majority")
    assert c == {"labelled": 3, "contempt": 1, "unknown_or_not_face": 2, "no_majority": 5}
    c = ferplus_exclusions(V, "plurality")
    assert c["labelled"] + c["unknown_or_not_face"] + c["no_majority"] == len(V)
    assert c["labelled"] == 4


def test_soft_targets():
    t = ferplus_soft_targets(V)
    assert t.shape == (len(V), 8)
    has = V[:, [FERPLUS_COLUMNS.index(n) for n in FER8]].sum(1) > 0
    assert np.allclose(t[has].sum(1), 1) and (t[~has] == 0).all()   # NF-only / no votes: zeros
    assert np.allclose(t[0], np.eye(8)[3] * 0.9 + np.eye(8)[0] * 0.1)
    assert np.isclose(t[1, 7], 0.6) and np.isclose(t[1, 6], 0.4)      # contempt kept in fer8
    assert np.allclose(t[3], np.eye(8)[4])                           # unknown votes left out
    # fer7: contempt left out and renormalised; fer6: disgust joins anger
    t7 = ferplus_soft_targets(V, "fer7")
    assert t7.shape == (len(V), 7) and np.allclose(t7[1], np.eye(7)[6])
    t6 = ferplus_soft_targets(V, "fer6")
    assert np.isclose(t6[5, 0], 0.8) and np.isclose(t6[5, 5], 0.2)
    # FER+'s outlier removal: single votes dropped before normalising
    td = ferplus_soft_targets(V, drop_single=True)
    assert np.allclose(td[0], np.eye(8)[3]) and np.allclose(td[7][[5, 2]], [4 / 6, 2 / 6])


def test_metrics_fer8_counts_contempt_as_wrong_for_a_fer7_model():
    y8 = np.array([3, 7, 0, -1])
    proba = np.eye(7)[[3, 6, 0, 2]]                   # right, contempt->neutral, right, unlabelled
    m = metrics(proba, y8, "fer8")
    assert m["n"] == 3 and np.isclose(m["accuracy"], 2 / 3) and m["classes"][-1] == "contempt"
    assert m["per_class"]["contempt"]["recall"] == 0 and m["confusion"][7][6] == 1


def _ferplus_files(tmp_path, synthetic):
    images, labels, usage = synthetic
    (tmp_path / "fer2013.csv").write_text(make_csv(images, labels, usage))
    rows = [CASES[i % len(CASES)][0] for i in range(len(labels))]
    # PrivateTest rows (the last 3): happiness, contempt, not-a-face
    rows[-3:] = [votes(happiness=10), votes(contempt=8, neutral=2), votes(NF=10)]
    # a made-up vote file: only the columns the loader reads (Usage and the ten vote counts)
    table = pd.DataFrame(np.stack(rows), columns=list(FERPLUS_COLUMNS))
    table.insert(0, "Usage", usage)
    table.to_csv(tmp_path / "fer2013new.csv", index=False)
    return tmp_path / "fer2013.csv"


def test_dataset_methods_and_ferplus_metrics(tmp_path, synthetic):
    ds = load_fer2013(_ferplus_files(tmp_path, synthetic), ferplus="auto", cache=False)
    test = ds.split("PrivateTest")
    assert list(test.ferplus_labels("fer8")) == [3, 7, -1]
    assert list(test.ferplus_labels("fer7")) == [3, -1, -1]
    assert np.allclose(test.ferplus_distribution("fer8")[1], [0, 0, 0, 0, 0, 0, 0.2, 0.8])
    proba = np.eye(7)[[3, 6, 6]]
    r = ferplus_metrics(proba, test.ferplus_votes)
    assert r["fer8"]["n"] == 2 and r["fer8"]["accuracy"] == 0.5     # contempt always wrong
    assert r["fer7_subset"]["n"] == 1 and r["fer7_subset"]["accuracy"] == 1.0
    assert r["counts"] == {"labelled": 2, "contempt": 1, "unknown_or_not_face": 1, "no_majority": 0}
    text = format_ferplus_report(r)
    assert "8-class accuracy" in text and "one of FER2013's 7" in text and "1 contempt images" in text
    with pytest.raises(ValueError, match="rows"):
        ferplus_metrics(proba[:2], test.ferplus_votes)


def cli(*args):
    return subprocess.run([sys.executable, str(REPO / "cli.py"), *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


def test_evaluate_ferplus_needs_the_votes(tmp_path, synthetic):
    (tmp_path / "fer2013.csv").write_text(make_csv(*synthetic))
    r = cli("evaluate", "--model", "cnn", "--data", tmp_path / "fer2013.csv", "--labels", "ferplus")
    assert r.returncode == 2 and "fer2013new.csv" in r.stderr and "Traceback" not in r.stderr
    r = cli("evaluate", "--model", "cnn", "--data", tmp_path / "fer2013.csv", "--labels", "ferplus",
            "--scheme", "fer6")
    assert r.returncode == 2 and "--scheme" in r.stderr


def test_evaluate_ferplus_cli(tmp_path, synthetic, shipped_models):
    data = _ferplus_files(tmp_path, synthetic)
    png = tmp_path / "c.png"
    r = cli("evaluate", "--model", "cnn", "--data", data, "--labels", "ferplus", "--json", "--confusion", png)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["labels"] == "ferplus" and out["rule"] == "majority" and out["split"] == "PrivateTest"
    assert out["fer8"]["n"] == 2 and out["fer7_subset"]["n"] == 1 and out["model_classes"] == 7
    assert out["accuracy"] == out["fer8"]["accuracy"] <= 0.5 and png.exists()
    r = cli("evaluate", "--model", "cnn", "--data", data, "--labels", "ferplus", "--confusion", png)
    assert r.returncode == 0, r.stderr
    assert "FER+ 8-class accuracy" in r.stdout and "one of FER2013's 7" in r.stdout


# --- the real vote file ------------------------------------------------------------
@pytest.mark.realdata
def test_real_ferplus_labels(fer):
    """FER2013's labels agree with the FER+ voters' on 65.7 % of the images with a
    fer7 plurality label (the figure issue #14 quotes) and 67.9 % under FER+'s rule."""
    y = fer.labels
    counts = {}
    for rule, n7, n8, agree in (("plurality", 33500, 33712, 0.657), ("majority", 31264, 31412, 0.679)):
        l7, l8 = fer.ferplus_labels("fer7", rule), fer.ferplus_labels("fer8", rule)
        assert (l7 >= 0).sum() == n7 and (l8 >= 0).sum() == n8
        assert abs((l7 == y)[l7 >= 0].mean() - agree) < 0.0005
        counts[rule] = ferplus_exclusions(fer.split("PrivateTest").ferplus_votes, rule)
    assert counts["majority"]["labelled"] == 3153 and counts["majority"]["contempt"] == 16
    assert counts["plurality"]["labelled"] == 3376
    t = fer.ferplus_distribution("fer8")
    assert np.allclose(t[t.sum(1) > 0].sum(1), 1) and (t.sum(1) == 0).sum() == 176


def test_data_check_counts_fer8(tmp_path, synthetic):
    data = _ferplus_files(tmp_path, synthetic)
    r = cli("data", "check", data, "--scheme", "fer8", "--no-cache")
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: line.split()[1:] for line in r.stdout.splitlines() if line.strip()}
    # PrivateTest: one happiness, one contempt, one not-a-face (counted without a label)
    assert rows["happiness"][2] == "1" and rows["contempt"][2] == "1" and rows["(no"][3] == "1"
    usage = synthetic[2]
    assert rows["total"] == [str(v) for v in ((usage == "Training").sum(), (usage == "PublicTest").sum(), 3, 21)]
    (tmp_path / "fer2013new.csv").unlink()
    r = cli("data", "check", data, "--scheme", "fer8", "--no-cache")
    assert r.returncode == 2 and "fer2013new.csv" in r.stderr and "Traceback" not in r.stderr


def test_ferplus_targets_mix_votes_and_label(tmp_path, synthetic):
    from fer_au.training.cnn import ferplus_targets
    ds = load_fer2013(_ferplus_files(tmp_path, synthetic), ferplus="auto", cache=False)
    t = ferplus_targets(ds, 0.5)
    assert t.shape == (len(ds), 7) and np.allclose(t.sum(1), 1.0)
    onehot = np.eye(7)[ds.y()]
    dist = ds.ferplus_distribution("fer7")
    has = dist.sum(1) > 0
    assert has.any() and (~has).any()          # the synthetic votes include not-a-face rows
    np.testing.assert_allclose(t[has], 0.5 * dist[has] + 0.5 * onehot[has], atol=1e-6)
    np.testing.assert_allclose(t[~has], onehot[~has])
    np.testing.assert_allclose(ferplus_targets(ds, 0.0), onehot)
    with pytest.raises(ValueError, match="weight"):
        ferplus_targets(ds, 1.5)


def test_train_cnn_on_ferplus_targets(tmp_path, synthetic):
    data = _ferplus_files(tmp_path, synthetic)
    r = cli("train", "cnn", "--data", data, "--epochs", "1", "--batch-size", "8", "--widths", "4,4,8,8",
            "--targets", "ferplus", "--ferplus-weight", "0.7", "--workdir", tmp_path / "run",
            "--models-dir", tmp_path / "m")
    assert r.returncode == 0, r.stderr
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert "val_accuracy_ferplus" in state["history"][0]      # PublicTest's FER+ labels, every epoch
    assert (tmp_path / "m" / "cnn_fer7.tflite").exists()
    # without the votes: one line, no traceback
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "fer2013.csv").write_text(make_csv(*synthetic))
    r = cli("train", "cnn", "--data", tmp_path / "plain" / "fer2013.csv", "--targets", "ferplus",
            "--workdir", tmp_path / "run2")
    assert r.returncode != 0 and "fer2013new.csv" in r.stderr and "Traceback" not in r.stderr
    r = cli("train", "cnn", "--data", data, "--targets", "ferplus", "--ferplus-weight", "2",
            "--workdir", tmp_path / "run3")
    assert r.returncode != 0 and "--ferplus-weight" in r.stderr and "Traceback" not in r.stderr
