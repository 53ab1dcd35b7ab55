"""The command line as a user runs it: help, `data check`, `models`, `evaluate` errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fer_au.data import make_csv

REPO = Path(__file__).resolve().parent.parent


def cli(*args, cwd=REPO, env=None):
    return subprocess.run([sys.executable, str(REPO / "cli.py"), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600,
                          env=None if env is None else {**os.environ, **env})


def test_help_lists_every_subcommand():
    r = cli("--help")
    assert r.returncode == 0
    for sub in ("demo", "analyze", "report", "live", "train", "evaluate", "data", "models"):
        assert sub in r.stdout


def test_train_help_lists_targets():
    r = cli("train", "--help")
    assert r.returncode == 0
    for target in ("cnn", "classical", "au"):
        assert target in r.stdout


def test_data_check_good_file(tmp_path, synthetic, monkeypatch):
    p = tmp_path / "fer2013.csv"
    p.write_text(make_csv(*synthetic))
    r = cli("data", "check", p, "--no-cache")
    assert r.returncode == 0, r.stderr
    assert "21 images" in r.stdout and "Training" in r.stdout and "no problems found" in r.stdout


def test_data_check_broken_file_lists_rows_and_fails(tmp_path, synthetic):
    p = tmp_path / "fer2013.csv"
    text = make_csv(*synthetic).splitlines(keepends=True)
    text[3] = "9" + text[3][1:]          # unknown label on line 4
    text[5] = text[5].replace(" ", "  x ", 1)  # non-numeric pixel on line 6
    p.write_text("".join(text))
    r = cli("data", "check", p, "--no-cache")
    assert r.returncode == 1
    assert "2 bad row(s)" in r.stderr and f"{p}:4: unknown label '9'" in r.stderr and f"{p}:6:" in r.stderr
    assert "19 images" in r.stdout


def test_data_check_unreadable_is_one_line(tmp_path):
    p = tmp_path / "empty.csv"
    p.write_text("")
    r = cli("data", "check", p, "--no-cache")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "empty" in r.stderr
    r = cli("data", "check", tmp_path / "missing.csv")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "missing.csv" in r.stderr


def test_models_lists_checksums():
    r = cli("models")
    assert "cnn" in r.stdout


@pytest.mark.realdata
def test_data_check_real(fer_path):
    r = cli("data", "check", fer_path)
    assert r.returncode == 0, r.stderr
    assert "35887 images" in r.stdout and "FER+" in r.stdout


def test_train_cnn_from_init_ships_model_and_both_histories(tmp_path, synthetic):
    """The two-stage recipe of MODEL_CARD on a tiny file: train, then widen and train on;
    the second stage's cnn_history.json carries the first stage's epochs too."""
    data = tmp_path / "fer2013.csv"
    data.write_text(make_csv(*synthetic))
    stage1, stage2 = tmp_path / "stage1", tmp_path / "stage2"
    r = cli("train", "cnn", "--data", data, "--epochs", "1", "--batch-size", "8",
            "--widths", "4,4,8,8", "--workdir", tmp_path / "run1", "--models-dir", stage1)
    assert r.returncode == 0, r.stderr
    r = cli("train", "cnn", "--data", data, "--epochs", "1", "--batch-size", "8",
            "--init", stage1 / "cnn_fer7.keras", "--widths", "4,8,8,16",
            "--workdir", tmp_path / "run2", "--models-dir", stage2)
    assert r.returncode == 0, r.stderr
    history = json.loads((stage2 / "cnn_history.json").read_text())
    assert history["init"]["widths"] == [4, 8, 8, 16]
    assert [h["epoch"] for h in history["init"]["history"]["history"]] == [1]
    assert "cnn_fer7.keras" in (stage2 / "MANIFEST.sha256").read_text()
    assert "cnn_fer7.tflite" in (stage2 / "MANIFEST.sha256").read_text()
    # re-cut faces (the analyzer's framing) as a second view, scored every epoch
    r = cli("train", "cnn", "--data", data, "--epochs", "1", "--batch-size", "8", "--widths", "4,4,8,8",
            "--aligned", "--select-on", "fer2013+aligned", "--workdir", tmp_path / "run3",
            "--models-dir", tmp_path / "stage3", env={"FER_AU_CACHE": str(tmp_path / "cache")})
    assert r.returncode == 0, r.stderr
    record = json.loads((tmp_path / "run3" / "state.json").read_text())["history"][0]
    assert 0 <= record["val_accuracy_aligned"] <= 1
    r = cli("train", "cnn", "--data", data, "--select-on", "aligned", "--workdir", tmp_path / "run4")
    assert r.returncode != 0 and "needs --aligned" in r.stderr
    # PublicTest's faces trained on too: the last epoch ships, and the run says its scores are no test
    r = cli("train", "cnn", "--data", data, "--epochs", "1", "--batch-size", "8", "--widths", "4,4,8,8",
            "--train-on", "Training+PublicTest", "--workdir", tmp_path / "run5", "--models-dir", tmp_path / "stage5")
    assert r.returncode == 0, r.stderr
    assert "the last epoch ships" in r.stdout and "not a test" in r.stdout
    assert (tmp_path / "stage5" / "cnn_fer7.tflite").exists()
    # the candidate is scored from its own folder before anyone ships it
    png = tmp_path / "confusion.png"
    r = cli("evaluate", "--model", "cnn", "--models-dir", stage2, "--data", data,
            "--split", "PublicTest", "--json", "--confusion", png)
    assert r.returncode == 0, r.stderr
    scores = json.loads(r.stdout)
    assert 0 <= scores["accuracy"] <= 1 and "macro_f1" in scores and png.exists()
