"""The output table: schema, rows, the streaming writer and what --resume reads."""
from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from fer_au.face import Face
from fer_au.aus import AU_CODES
from fer_au.labels import FER7
from fer_au.media import input_key
from fer_au.output import CSVWriter, ERROR_COLUMN, columns, error_row, rows_for, scan_csv


def make_face(fid=0, x=10):
    lm = np.stack([np.linspace(x, x + 67, 68), np.linspace(20, 87, 68)], axis=1).astype(np.float32)
    return Face(box=(x, 20, 80, 80), score=1.25, landmarks=lm, pose=(1.5, -2.25, 3.0),
                aus={c: i / 10 for i, c in enumerate(AU_CODES)},
                emotions=dict(zip(FER7, [0.1, 0.0, 0.05, 0.6, 0.05, 0.1, 0.1])),
                au_emotions=dict(zip(FER7, [0.0, 0.0, 0.0, 0.9, 0.0, 0.0, 0.1])), face_id=fid)


def test_columns_are_py_feat_names_in_order():
    cols = columns()
    assert cols[:4] == ["input", "frame", "approx_time", "face_id"]
    assert cols[4:9] == ["FaceRectX", "FaceRectY", "FaceRectWidth", "FaceRectHeight", "FaceScore"]
    assert cols[9:9 + 136] == [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
    assert cols[145:148] == ["Pitch", "Roll", "Yaw"]
    i = cols.index("AU01")
    assert cols[i:i + len(AU_CODES)] == AU_CODES
    j = cols.index("anger")
    assert cols[j:j + 7] == list(FER7) == ["anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral"]
    assert cols[j + 7:j + 14] == [f"au_{e}" for e in FER7]
    for c in ("face_model", "landmark_model", "au_model", "emotion_model", "au_emotion_model"):
        assert c in cols
    assert cols[-2:] == [ERROR_COLUMN, "warning"]     # warning: added later, last
    assert len(cols) == len(set(cols))


def test_rows_for_faces_and_for_no_face():
    faces = [make_face(0, 10), make_face(1, 200)]
    models = {"face_model": "dlib-hog", "emotion_model": "cnn"}
    rows = rows_for("a.jpg", faces, models=models)
    assert [r["face_id"] for r in rows] == ["0", "1"]
    r = rows[1]
    assert r["FaceRectX"] == "200" and r["FaceScore"] == "1.25" and r["x_0"] == "200" and r["y_67"] == "87"
    assert r["Roll"] == "-2.25" and r["happiness"] == "0.6" and r["au_happiness"] == "0.9"
    assert r["AU02"] == "0.1" and r["emotion_model"] == "cnn" and r["error"] == ""
    assert r["approx_time"] == "" and r["frame"] == "0"
    empty = rows_for("b.jpg", [], frame=7, approx_time=0.28, models=models)
    assert len(empty) == 1
    assert empty[0]["face_id"] == "" and "FaceRectX" not in empty[0] and empty[0]["frame"] == "7"
    assert empty[0]["approx_time"] == "0.28" and empty[0]["error"] == ""
    err = error_row("c.jpg", "c.jpg: truncated\nimage")
    assert err["error"] == "c.jpg: truncated image"


def test_writer_streams_and_pandas_reads_it(tmp_path):
    path = tmp_path / "out.csv"
    cols = columns()
    with CSVWriter(path, cols) as w:
        w.write_rows(rows_for("a.jpg", [make_face(0), make_face(1, 200)]))
        # flushed: another reader sees the rows before the writer is closed
        assert pd.read_csv(path).shape == (2, len(cols))
        w.write_rows(rows_for("b.jpg", []))
        w.write_rows([error_row("c.jpg", "c.jpg: not an image")])
    df = pd.read_csv(path, dtype={"input": str, "error": str})
    assert list(df.columns) == cols
    assert list(df["input"]) == ["a.jpg", "a.jpg", "b.jpg", "c.jpg"]
    assert df["FaceRectX"].dtype.kind == "f" and df["FaceRectX"].isna().sum() == 2
    assert df.loc[3, "error"] == "c.jpg: not an image" and df["error"].isna().sum() == 3
    assert np.allclose(df.loc[0, list(FER7)].sum(), 1.0)


def test_resume_keeps_rows_and_drops_a_half_written_line(tmp_path):
    path = tmp_path / "out.csv"
    cols = columns()
    with CSVWriter(path, cols) as w:
        w.write_rows(rows_for("a.jpg", [make_face()]))
        w.write_rows(rows_for("v.mp4", [make_face()], frame=0, approx_time=0.0))
        w.write_rows(rows_for("v.mp4", [make_face()], frame=10, approx_time=0.4))
        w.write_rows([error_row("bad.jpg", "bad.jpg: corrupt")])
    with open(path, "a") as fh:
        fh.write("v.mp4,20,0.8,0,12,3")      # a crash in the middle of a row
    done = {k: (p.done, p.last_frame) for k, p in scan_csv(path).items()}   # the cut line is not read
    assert done == {input_key("a.jpg"): (True, 0), input_key("v.mp4"): (False, 10),
                    input_key("bad.jpg"): (True, 0)}
    with CSVWriter(path, cols, resume=True) as w:
        w.write_rows(rows_for("v.mp4", [make_face()], frame=20, approx_time=0.8))
    df = pd.read_csv(path)
    assert list(df["frame"]) == [0, 0, 10, 0, 20]
    with open(path, newline="") as fh:
        assert all(len(r) == len(cols) for r in csv.reader(fh))


def test_resume_refuses_another_schema_and_a_new_file_replaces(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="columns differ"):
        CSVWriter(path, columns(), resume=True)
    with pytest.raises(ValueError, match="not a fer_au results CSV"):
        scan_csv(path)
    with CSVWriter(path, columns()) as w:       # no resume: start afresh
        w.write_rows(rows_for("a.jpg", []))
    assert pd.read_csv(path).shape == (1, len(columns()))
