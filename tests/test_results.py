"""read_results and the Results table: column groups, summaries, baselines,
resampling, other tools' CSVs, round trips; and the plots."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fer_au.aus import AU_CODES
from fer_au.labels import FER7
from fer_au.results import Results, read_results, synthetic_results

SAMPLES = __import__("pathlib").Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture
def table():
    """2 people through a 4 s, 10 fps video, 3 image rows, a no-face frame and an error row."""
    t = synthetic_results(seconds=4, fps=10, persons=2, input="clip.mp4", images=3)
    extra = pd.DataFrame([{"input": "clip.mp4", "frame": 40, "approx_time": 4.0, "error": np.nan},
                          {"input": "broken.jpg", "frame": 0, "error": "broken.jpg: not an image"}])
    return Results(pd.concat([t, extra], ignore_index=True))


@pytest.fixture
def csv(tmp_path, table):
    path = tmp_path / "results.csv"
    table.to_csv(path, index=False)
    return path


def test_groups(csv):
    res = read_results(csv)
    assert isinstance(res, Results)
    assert list(res.aus.columns) == AU_CODES
    assert list(res.emotions.columns) == list(FER7)
    assert list(res.au_emotions.columns) == [f"au_{e}" for e in FER7]
    assert res.landmarks.shape[1] == 136 and res.landmark_array().shape == (len(res), 68, 2)
    assert list(res.pose.columns) == ["Pitch", "Roll", "Yaw"]
    assert list(res.boxes.columns) == ["FaceRectX", "FaceRectY", "FaceRectWidth", "FaceRectHeight", "FaceScore"]
    info = res.info
    for c in ["input", "frame", "approx_time", "face_id", "person", "au_model", "emotion_model", "error"]:
        assert c in info
    pres = res.au_presence
    assert pres.shape == res.aus.shape and str(pres.dtypes.iloc[0]) == "boolean"
    assert (pres["AU12"].dropna() == (res["AU12"].dropna() >= 2.0)).all()
    assert pres.loc[~res.has_face].isna().all().all()          # no face: unknown, not False
    assert len(res.faces()) == 4 * 10 * 2 + 3 and len(res.errors()) == 1


def test_round_trip_and_pandas_ops(tmp_path, csv):
    res = read_results(csv)
    for index in (False, True):                   # pandas' default index=True is read back too
        again_path = tmp_path / f"again_{index}.csv"
        res.to_csv(again_path, index=index)
        pd.testing.assert_frame_equal(read_results(again_path), res)
    sub = res[res["frame"] > 3]
    assert isinstance(sub, Results) and isinstance(res.head(), Results)
    assert isinstance(res.copy(), Results)
    assert res.groupby("input")["AU12"].mean().notna().sum() == 4   # 3 images + the video
    assert res.frame.dtype == "Int64" and res.face_id.dtype == "Int64"


def test_summary(table):
    t = table.copy()
    video_a = (t["input"] == "clip.mp4") & (t["face_id"] == 0)
    # person 0 smiles (AU12 = 3) in the first half of its frames, not in the second
    t.loc[video_a, "AU12"] = np.where(t.loc[video_a, "frame"] < 20, 3.0, 1.0)
    t.loc[video_a, list(FER7)] = 0.0
    t.loc[video_a, "happiness"] = np.where(t.loc[video_a, "frame"] < 30, 0.9, 0.0)
    t.loc[video_a, "neutral"] = np.where(t.loc[video_a, "frame"] < 30, 0.1, 1.0)
    res = Results(t)
    s = res.summary("person")
    p0 = s.loc["person 0"]
    assert p0["faces"] == 40 and p0["seconds"] == pytest.approx(3.9)
    assert p0["AU12_mean"] == pytest.approx(2.0) and p0["AU12_max"] == 3.0
    assert p0["AU12_present_pct"] == pytest.approx(50.0)
    assert p0["top_emotion"] == "happiness" and p0["top_emotion_pct"] == pytest.approx(75.0)
    assert p0["top_neutral_pct"] == pytest.approx(25.0)
    si = res.summary("input")
    assert list(si.index) == ["clip.mp4", "image_0.jpg", "image_1.jpg", "image_2.jpg", "broken.jpg"]
    assert si.loc["clip.mp4", "rows"] == 81 and si.loc["clip.mp4", "faces"] == 80
    assert si.loc["broken.jpg", "errors"] == 1 and si.loc["broken.jpg", "faces"] == 0
    assert pd.isna(si.loc["broken.jpg", "top_emotion"])
    assert res.summary(None).loc["all", "faces"] == 83
    # without identities: people are the tracks within an input
    no_person = Results(t.drop(columns="person"))
    assert "clip.mp4#1" in no_person.summary("person").index
    with pytest.raises(ValueError):
        res.summary("frame")


def test_top_emotion(table):
    top = table.top_emotion()
    face = table.has_face
    expect = table.loc[face, list(FER7)].idxmax(axis=1)
    assert (top[face] == expect).all() and top[~face].isna().all()
    au_top = table.top_emotion("au")
    assert (au_top[face] == table.loc[face, [f"au_{e}" for e in FER7]].idxmax(axis=1).str[3:]).all()
    no_main = Results(table.drop(columns=list(FER7)))
    assert (no_main.top_emotion()[face] == au_top[face]).all()


def test_baseline(table):
    res = table
    b = res.baseline("median")
    face = res.has_face & (res["input"] == "clip.mp4")
    med = b[face].groupby("person")[AU_CODES].median()
    assert np.allclose(med.to_numpy(), 0, atol=1e-9)
    first = res.baseline("first", columns="aus")
    firsts = first[face].sort_values("approx_time").groupby("person").head(1)
    assert np.allclose(firsts[AU_CODES].to_numpy(), 0)
    assert (first["happiness"].dropna() == res["happiness"].dropna()).all()   # only the AUs changed
    # a baseline from the first second only
    lead = res.baseline("median", seconds=1.0, subtract=False)
    p0 = face & (res["person"] == "0")
    expect = res.loc[p0 & (res["approx_time"] <= 1.0), "AU12"].median()
    assert np.allclose(lead.loc[p0, "AU12"], expect)
    # running: a step is followed with a lag
    t = res.copy()
    t.loc[p0, "AU12"] = np.where(t.loc[p0, "approx_time"] < 2.0, 0.0, 4.0)
    run = Results(t).baseline("running", seconds=1.0, subtract=False)
    r = run.loc[p0].set_index("approx_time")["AU12"]
    assert r.loc[1.9] == 0 and r.loc[2.2] == 0 and r.loc[3.5] == 4.0
    with pytest.raises(ValueError):
        res.baseline("mode")


def test_resample(table):
    r = table.resample(2)       # 10 fps -> 2 fps
    video = r[r.is_video()]
    assert len(video) == 2 * 4 * 2                      # 2 people x 4 s x 2 per second
    assert set(np.round(video["approx_time"] * 2, 6)) == set(range(8))
    p0 = table[(table["person"] == "0") & table.is_video()]
    first_bin = p0[p0["approx_time"] < 0.5]
    row = video[(video["person"] == "0") & (video["approx_time"] == 0)].iloc[0]
    assert row["AU12"] == pytest.approx(first_bin["AU12"].mean()) and row["frame"] == 0
    assert len(r[~r.is_video()]) == 4                   # images and the error row kept
    assert isinstance(r, Results)
    # pandas' own resample still works with a rule
    ts = Results(pd.DataFrame({"v": [1.0, 2.0]}, index=pd.to_datetime(["2024-01-01", "2024-01-02"])))
    assert len(ts.resample("1D").mean()) == 2 and len(ts.resample(rule="1D").mean()) == 2


OPENFACE_HEADER = (["frame", " face_id", " timestamp", " confidence", " success"]
                   + [f" gaze_angle_{a}" for a in "xy"]
                   + [f" pose_T{a}" for a in "xyz"] + [f" pose_R{a}" for a in "xyz"]
                   + [f" x_{i}" for i in range(68)] + [f" y_{i}" for i in range(68)]
                   + [f" AU{a:02d}_r" for a in (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 45)]
                   + [f" AU{a:02d}_c" for a in (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 28, 45)])


def _openface_csv(path, n=6):
    rows = []
    for k in range(n):
        vals = {c.strip(): 0.0 for c in OPENFACE_HEADER}
        vals.update(frame=k + 1, face_id=0, timestamp=k / 30, confidence=0.98, success=1,
                    pose_Rx=0.1, pose_Ry=-0.2, pose_Rz=0.05, AU12_r=2.5, AU12_c=1, AU04_r=0.3, AU28_c=1)
        for i in range(68):
            vals[f"x_{i}"], vals[f"y_{i}"] = 100 + i, 200 + (i % 17)
        if k == n - 1:
            vals.update(success=0, confidence=0.0)
        rows.append(vals)
    with open(path, "w") as fh:
        fh.write(",".join(OPENFACE_HEADER) + "\n")
        for v in rows:
            fh.write(", ".join(f"{v[c.strip()]:g}" for c in OPENFACE_HEADER) + "\n")


def test_openface(tmp_path):
    path = tmp_path / "interview.csv"
    _openface_csv(path)
    res = read_results(path)
    assert res["input"].iloc[0] == "interview" and list(res["frame"][:3]) == [0, 1, 2]
    assert res["approx_time"].iloc[1] == pytest.approx(1 / 30)
    assert res["AU12"].iloc[0] == 2.5 and res["AU04"].iloc[0] == 0.3
    assert bool(res.au_presence["AU12"].iloc[0]) and not bool(res.au_presence["AU04"].iloc[0])
    assert "AU28" in res.au_presence and "AU28" not in res.aus      # presence only, as OpenFace gives it
    assert res["Pitch"].iloc[0] == pytest.approx(np.degrees(0.1))
    assert res["Yaw"].iloc[0] == pytest.approx(np.degrees(-0.2))
    assert res["Roll"].iloc[0] == pytest.approx(np.degrees(0.05))
    assert res["FaceScore"].iloc[0] == 0.98
    assert res["FaceRectX"].iloc[0] == 100 and res["FaceRectWidth"].iloc[0] == 67
    assert not res.has_face.iloc[-1]                                 # success 0: no face
    assert res["au_model"].iloc[0] == "openface-2"
    # mapped once, it reads back as it is
    res.to_csv(tmp_path / "mapped.csv", index=False)
    pd.testing.assert_frame_equal(read_results(tmp_path / "mapped.csv"), res)
    assert len(res.summary("person")) == 1


def test_pyfeat(tmp_path):
    from fer_au.pyfeat_backend import PYFEAT_AUS
    rng = np.random.default_rng(1)
    n = 4
    cols = {"FaceRectX": [10.0, 200.0, 10.0, np.nan], "FaceRectY": 20.0, "FaceRectWidth": 80.0,
            "FaceRectHeight": 90.0, "FaceScore": 0.99}
    for i in range(68):
        cols[f"x_{i}"], cols[f"y_{i}"] = rng.uniform(0, 100, n), rng.uniform(0, 100, n)
    cols.update(Pitch=1.0, Roll=2.0, Yaw=3.0)
    cols.update({au: 0.2 for au in PYFEAT_AUS})
    cols["AU12"] = [0.8, 0.1, 0.6, np.nan]
    cols.update({e: 1 / 7 for e in FER7})
    cols.update(input=["a.jpg", "a.jpg", "b.jpg", "c.jpg"], frame=0)
    df = pd.DataFrame(cols)
    df.loc[3, [c for c in df.columns if c not in ("input", "frame")]] = np.nan    # c.jpg: no face
    path = tmp_path / "fex.csv"
    df.to_csv(path, index=False)
    res = read_results(path)
    assert list(res["face_id"]) == [0, 1, 0, 0]
    assert res["AU12"].iloc[0] == pytest.approx(4.0)                 # probability x 5
    assert list(res.au_presence["AU12"][:3]) == [True, False, True]  # py-feat's own p >= 0.5
    assert "AU14" in res.aus and res["au_model"].iloc[0] == "py-feat"
    assert not res.has_face.iloc[3]
    res.to_csv(tmp_path / "mapped.csv", index=False)
    pd.testing.assert_frame_equal(read_results(tmp_path / "mapped.csv"), res)


def test_not_a_results_table(tmp_path):
    p = tmp_path / "other.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a results table"):
        read_results(p)
    with pytest.raises(FileNotFoundError):
        read_results(tmp_path / "missing.csv")


def test_parquet(tmp_path, table):
    pytest.importorskip("pyarrow", reason="Parquet needs pyarrow (pip install 'fer_au[parquet]')")
    path = tmp_path / "results.parquet"
    table.to_parquet(path)
    pd.testing.assert_frame_equal(read_results(path), read_results(_csv_of(tmp_path, table)), check_dtype=False)


def _csv_of(tmp_path, table):
    p = tmp_path / "t.csv"
    table.to_csv(p, index=False)
    return p


def test_exported_lazily():
    import fer_au
    assert fer_au.read_results is read_results and "read_results" in fer_au.__all__


# ------------------------------------------------------------------ plots
def test_plots(table):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from fer_au import plots
    fig = table.plot_timeline(input="clip.mp4", person="person 1")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    au_ax = fig.axes[0]
    dashed = [ln for ln in au_ax.get_lines() if ln.get_linestyle() == "--"]
    assert len(dashed) == 6                     # one running baseline per AU drawn
    ax = plots.plot_aus(table.iloc[0])
    assert len(ax.patches) == len(AU_CODES)
    img = np.full((480, 700, 3), 120, np.uint8)
    rows = table[(table["input"] == "clip.mp4") & (table["frame"] == 0)]
    ax = plots.plot_detections(img, rows)
    assert len(ax.patches) == 2 and len(ax.texts) >= 2
    out = plots.annotate(img, rows)
    assert out.shape == img.shape and (out != img).any()
    assert plots.to_png(fig)[:4] == b"\x89PNG"


def test_plot_face_learned_model():
    from fer_au import plots
    neutral = plots.face_shape({})
    smile = plots.face_shape({"AU12": 4})
    jaw = plots.face_shape({"AU26": 4})
    brows = plots.face_shape({"AU01": 4, "AU02": 4})
    # lip corners (48, 54) go up in a smile, the chin (8) down with a jaw drop,
    # the brows (17-26) up with AU01+AU02; y grows downwards
    assert smile[[48, 54], 1].mean() < neutral[[48, 54], 1].mean() - 0.3
    assert jaw[8, 1] > neutral[8, 1] + 0.5
    assert brows[17:27, 1].mean() < neutral[17:27, 1].mean() - 0.3
    # the model is left-right symmetric (fitted on mirrored faces too)
    from fer_au.geometry import MIRROR_PERM
    assert np.allclose(48.0 - smile[MIRROR_PERM, 0], smile[:, 0], atol=0.05)
    ax = plots.plot_face({"AU12": 3, "AU06": 2}, title="smile")
    assert len(ax.get_lines()) == 2 * len(plots.CONTOURS)
    with pytest.raises(ValueError):
        plots.face_shape({"AU99": 1})
