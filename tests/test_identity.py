"""Person ids from face descriptors (fer_au.identity): they survive a cut that swaps
two faces' places, and the same person gets the same id in different photos."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


# ------------------------------------------------------------ fast, synthetic
def _people(n_people=3, per=5, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 0.1, (n_people, 128))     # ~1.1 apart, like two strangers
    desc = np.repeat(centres, per, axis=0) + rng.normal(0, noise / np.sqrt(128), (n_people * per, 128))
    return desc, np.repeat(np.arange(n_people), per)


def test_cluster_finds_the_people():
    from fer_au.identity import cluster
    desc, truth = _people()
    labels = cluster(desc)
    assert len(set(labels)) == 3
    # same partition as the truth, numbered by first appearance
    assert (labels == truth).all()
    assert len(cluster([])) == 0


def test_registry_online_ids_one_per_face_in_a_frame():
    from fer_au.identity import PersonRegistry
    desc, truth = _people(n_people=2, per=4)
    reg = PersonRegistry(scope="run")
    a, b = desc[truth == 0], desc[truth == 1]
    assert reg.assign([a[0], b[0]]) == [0, 1]
    assert reg.assign([b[1], a[1]]) == [1, 0]          # order in the frame does not matter
    # two faces of one frame never share a person, even if both look like person 0
    assert sorted(reg.assign([a[2], a[3]])) == [0, 2]


def test_label_rows_tracks_and_scopes(tmp_path):
    from fer_au.identity import PersonRegistry
    desc, truth = _people(n_people=2, per=3)
    reg = PersonRegistry(scope="input")
    rows = [{"input": "v.mp4", "_descriptor": desc[0], "_track": ("v.mp4", 0)},
            {"input": "v.mp4", "_descriptor": desc[3], "_track": ("v.mp4", 1)}]
    reg.label(rows)
    assert [r["person"] for r in rows] == ["0", "1"] and all("_descriptor" not in r for r in rows)
    # a frame without fresh descriptors keeps the tracks' people
    rows = [{"input": "v.mp4", "_track": ("v.mp4", 1)}, {"input": "v.mp4", "_track": ("v.mp4", 0)}]
    reg.label(rows)
    assert [r["person"] for r in rows] == ["1", "0"]
    # scope "input": a new input matches nobody from the last one, and ids never repeat
    rows = [{"input": "w.mp4", "_descriptor": desc[1], "_track": ("w.mp4", 0)}]
    reg.label(rows)
    assert rows[0]["person"] == "2"
    assert PersonRegistry.state_path("out/results.csv") == Path("out/results.persons.jsonl")


def test_resume_replays_the_people_of_the_rows_the_output_holds(tmp_path):
    """The --resume log: a resumed registry is the one that labelled exactly the units the
    output holds (a unit logged but not written is forgotten and labelled again), a line
    cut short by a kill is ignored, and another scope starts afresh."""
    from fer_au.identity import PersonRegistry
    from fer_au.output import Progress
    desc, truth = _people(n_people=3, per=4)
    csv = tmp_path / "r.csv"

    def frames(reg, lo, hi):
        for f in range(lo, hi):
            rows = [{"input": "v.mp4", "frame": f, "_descriptor": desc[f % 4 + 4 * p], "_track": ("v.mp4", p)}
                    for p in range(3) if (f + p) % 2 == 0]
            reg.label(rows, {"kind": "frame", "input": "/abs/v.mp4", "frame": f, "time": f / 10})
        return reg

    log = PersonRegistry.state_path(csv)
    first = frames(PersonRegistry.for_run(csv, "run"), 0, 6)      # killed after logging frame 5 ...
    first.close()
    with open(log, "ab") as fh:
        fh.write(b'{"unit": {"kind": "frame", "input": "/abs/v.mp4", "fr')     # ... mid-line
    held = {"/abs/v.mp4": Progress(last_frame=3)}                  # ... and writing frame 4
    resumed = PersonRegistry.for_run(csv, "run", resume=True, progress=held)
    once = frames(PersonRegistry(scope="run"), 0, 4)
    np.testing.assert_array_equal(resumed._sum, once._sum)         # bit for bit
    assert list(resumed._pid) == list(once._pid) and resumed._next == once._next
    assert resumed._tracks == once._tracks and resumed.described("v.mp4") == {0: 2, 1: 3, 2: 2}
    frames(resumed, 4, 8)
    resumed.close()
    both = frames(PersonRegistry(scope="run"), 0, 8)
    np.testing.assert_array_equal(resumed._sum, both._sum)
    # the log now holds frames 0-7 once each: resumed again, the whole video is there
    again = PersonRegistry.for_run(csv, "run", resume=True, progress={"/abs/v.mp4": Progress(done=True)})
    np.testing.assert_array_equal(again._sum, both._sum)
    again.close()
    assert len(PersonRegistry.for_run(csv, "input", resume=True, progress=held)) == 0   # another scope
    assert len(PersonRegistry.for_run(csv, "run", resume=False)) == 0                  # not resumed

    # scope "input": each input's people start afresh, on replay as in the run
    def inputs(reg, upto):
        for name, f in [("a.jpg", 0), ("b.mp4", 0), ("b.mp4", 1), ("b.mp4", 2)][:upto]:
            unit = {"kind": "input" if name == "a.jpg" else "frame", "input": "/" + name, "frame": f}
            reg.label([{"input": name, "frame": f, "_descriptor": desc[f], "_track": (name, 0)},
                       {"input": name, "frame": f, "_descriptor": desc[4 + f], "_track": (name, 1)}], unit)
        return reg
    csv2 = tmp_path / "s.csv"
    inputs(PersonRegistry.for_run(csv2, "input"), 4).close()
    held = {"/a.jpg": Progress(done=True), "/b.mp4": Progress(last_frame=1)}
    resumed = PersonRegistry.for_run(csv2, "input", resume=True, progress=held)
    once = inputs(PersonRegistry(scope="input"), 3)
    np.testing.assert_array_equal(resumed._sum, once._sum)
    assert list(resumed._pid) == [2, 3] and resumed._next == 4 and resumed._input == "b.mp4"
    resumed.close()


# ------------------------------------------------------------ real faces
def _swapped_video(path, n_frames=50):
    """samples/two_faces.mp4 cut at the middle and re-joined with its left and right
    halves swapped: after the cut each person stands where the other one was."""
    import cv2
    cap = cv2.VideoCapture(str(SAMPLES / "two_faces.mp4"))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25
    frames = []
    while len(frames) < n_frames:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for i, f in enumerate(frames):
        if i >= len(frames) // 2:
            f = np.ascontiguousarray(np.concatenate([f[:, w // 2:], f[:, :w // 2]], axis=1))
        out.write(f)
    out.release()
    return len(frames) // 2


@pytest.fixture(scope="module")
def light_analyzer():
    from fer_au.analyzer import FaceAnalyzer, ModelUnavailableError
    try:
        return FaceAnalyzer(emotion_model=None, au_model=None, aus=False, identities=True)
    except ModelUnavailableError as exc:
        pytest.skip(f"shipped models missing: {exc}")


def test_person_ids_survive_a_cut_that_swaps_the_faces(tmp_path, light_analyzer):
    video = tmp_path / "cut.mp4"
    cut = _swapped_video(video)
    from fer_au import analyze_paths
    table = analyze_paths([str(video)], every=2, analyzer=light_analyzer)
    faces = table[table["FaceRectX"].notna()].copy()
    assert "person" in faces and faces["person"].notna().all()
    assert faces["person"].nunique() == 2, faces.groupby("frame")["person"].agg(list)
    faces["side"] = np.where(faces["FaceRectX"] + faces["FaceRectWidth"] / 2 < 320, "left", "right")
    before = faces[faces["frame"] < cut].groupby("side")["person"].agg(pd.Series.mode)
    after = faces[faces["frame"] >= cut].groupby("side")["person"].agg(pd.Series.mode)
    # each person kept one id through the whole clip ...
    for side in ("left", "right"):
        assert faces[(faces["frame"] < cut) & (faces["side"] == side)]["person"].nunique() == 1
        assert faces[(faces["frame"] >= cut) & (faces["side"] == side)]["person"].nunique() == 1
    # ... and moved to the other side at the cut
    assert before["left"] == after["right"] and before["right"] == after["left"]
    assert before["left"] != before["right"]


def test_same_person_same_id_across_photos_cli(tmp_path, shipped_models):
    import cv2

    from fer_au.cli import main
    from fer_au.results import read_results
    out = tmp_path / "people.csv"
    mirrored = tmp_path / "hopper_mirrored.jpg"          # another photo of Grace Hopper
    cv2.imwrite(str(mirrored), cv2.flip(cv2.imread(str(SAMPLES / "hopper.jpg")), 1))
    inputs = [str(SAMPLES / "astronaut.jpg"), str(SAMPLES / "hopper.jpg"), str(mirrored), str(SAMPLES / "group.jpg")]
    rc = main(["analyze", *inputs, "-o", str(out), "--identities", "run", "--no-progress", "-q",
               "--emotion-model", "none", "--au-model", "none", "--no-aus"])
    assert rc == 0
    res = read_results(out)
    who = {Path(i).name: list(g.sort_values("face_id")["person"]) for i, g in res.faces().groupby("input")}
    astronaut, hopper = who["astronaut.jpg"][0], who["hopper.jpg"][0]
    assert astronaut != hopper
    assert who["hopper_mirrored.jpg"] == [hopper]
    # group.jpg: astronaut, hopper, then mirrored copies of both, left to right.  The copies
    # cannot join the people already in the same photo (one person is in one place in
    # one image), so they become two new people.
    group = who["group.jpg"]
    assert group[:2] == [astronaut, hopper]
    assert len(set(group)) == 4 and res["person"].nunique() == 4
    assert (tmp_path / "people.persons.jsonl").exists()    # kept for --resume


def test_faces_from_analyze_carry_descriptors(light_analyzer):
    from fer_au.identity import cluster
    faces = light_analyzer.analyze(str(SAMPLES / "group.jpg"))
    assert all(f.descriptor is not None and f.descriptor.shape == (128,) for f in faces)
    assert list(cluster([f.descriptor for f in faces])) == [0, 1, 0, 1]


# ------------------------------------------------------------ --resume, real faces
def _cut_with_people(full, out, cut_after, video, photo):
    """``out``: the photo and the video up to frame 40, as a kill leaves them, with the full
    run's people log: its lines past frame 40 were logged but not written (a kill between
    the two), so the resumed run must drop them."""
    import shutil

    from fer_au.identity import PersonRegistry
    cut_after(full, out, video, 40, done=[photo])
    shutil.copy(PersonRegistry.state_path(full), PersonRegistry.state_path(out))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_resume_mid_video_gives_the_person_ids_of_one_run(faces_come_and_go, cut_after, tmp_path, light_analyzer,
                                                          suffix):
    """Hopper's photo first (person 0), then the video where the astronaut comes first:
    resumed after frame 40, the astronaut stays person 1 and Hopper 0 (a fresh registry,
    as --resume had after a kill -9, numbered them 0 and 1 in the order the frame showed
    them), and each track's descriptor schedule goes on as in one run."""
    from fer_au.batch import run_batch
    from fer_au.parquet_output import read_dataset
    photo, video = str(SAMPLES / "hopper.jpg"), str(faces_come_and_go)
    full = tmp_path / "full.csv"
    run_batch([photo, video], csv=full, analyzer=light_analyzer, identities="run")
    df = pd.read_csv(full)
    faces = df[df["face_id"].notna()]
    assert faces.groupby("person")["input"].nunique().to_dict() == {0: 2, 1: 1}     # Hopper in both
    out = tmp_path / f"cut{suffix}"
    _cut_with_people(full, out, cut_after, video, photo)
    s = run_batch([photo, video], csv=out, analyzer=light_analyzer, identities="run", resume=True)
    assert s.resumed == 1 and s.frames == 19
    again = read_dataset(out) if suffix == ".parquet" else pd.read_csv(out)
    cols = ["input", "frame", "face_id", "person"]
    pd.testing.assert_frame_equal(again.sort_values(cols[:3])[cols].reset_index(drop=True),
                                  df.sort_values(cols[:3])[cols].reset_index(drop=True), check_dtype=False)
    # the same descriptors, at the same frames, joined the same people: the logs are equal
    from fer_au.identity import PersonRegistry
    assert PersonRegistry.state_path(out).read_bytes() == PersonRegistry.state_path(full).read_bytes()
