"""FaceAnalyzer on real faces (skimage's astronaut, the bundled samples), every input
type, no-face images, crops, batching, missing models, and tracking in video."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fer_au.labels import FER7
from fer_au.samples import GROUP, SAMPLES_DIR

ASTRONAUT_BOX = (179, 83, 88, 88)   # where dlib's HOG detector (no upsampling) puts her face


@pytest.fixture(scope="module")
def analyzer():
    from fer_au.analyzer import FaceAnalyzer, ModelUnavailableError
    try:
        return FaceAnalyzer()
    except ModelUnavailableError as exc:
        pytest.skip(f"shipped models missing: {exc}")


@pytest.fixture(scope="module")
def astronaut():
    from skimage import data
    return data.astronaut()          # RGB uint8, one smiling face


def _close_box(a, b, tol=6):
    return all(abs(float(u) - float(v)) <= tol for u, v in zip(a, b))


def test_astronaut(analyzer, astronaut):
    faces = analyzer.analyze(astronaut, color="rgb")
    assert len(faces) == 1
    f = faces[0]
    assert _close_box(f.box, ASTRONAUT_BOX) and f.score > 0 and f.face_id == 0
    assert f.landmarks.shape == (68, 2)
    x, y, w, h = f.box
    inside = ((f.landmarks[:, 0] > x - 0.2 * w) & (f.landmarks[:, 0] < x + 1.2 * w)
              & (f.landmarks[:, 1] > y - 0.2 * h) & (f.landmarks[:, 1] < y + 1.3 * h))
    assert inside.all()
    assert all(abs(a) < 25 for a in f.pose)                  # a near-frontal portrait
    assert set(f.aus) == set(analyzer.au_codes) and all(0 <= v <= 5 for v in f.aus.values())
    # she smiles broadly: lip-corner puller is among the strongest AUs
    assert "AU12" in [c for c, _ in f.strongest_aus(3, 0.0)]
    for probs in (f.emotions, f.au_emotions):
        assert list(probs) == list(FER7) and abs(sum(probs.values()) - 1) < 1e-4
    assert f.au_emotions["happiness"] == max(f.au_emotions.values())   # so do the AUs
    assert f.emotions["happiness"] == max(f.emotions.values())     # and the CNN
    assert f.top_emotion[0] == "happiness"
    assert f.crop.shape == (48, 48) and f.crop.dtype == np.uint8


def test_every_input_type_gives_the_same_face(analyzer, astronaut, tmp_path):
    import cv2

    ref = analyzer.analyze(astronaut, color="rgb")[0]
    bgr = astronaut[..., ::-1].copy()
    png = tmp_path / "astronaut.png"
    cv2.imwrite(str(png), bgr)
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    inputs = {
        "bgr": (bgr, {}), "path": (png, {}), "str path": (str(png), {}),
        "PIL": (Image.fromarray(astronaut), {}), "grey": (grey, {}), "grey (H,W,1)": (grey[..., None], {}),
        "rgba": (np.dstack([astronaut, np.full(grey.shape, 255, np.uint8)]), {"color": "rgb"}),
        "16-bit": (astronaut.astype(np.uint16) * 257, {"color": "rgb"}),
        "float": (astronaut / 255.0, {"color": "rgb"}),
    }
    for name, (img, kw) in inputs.items():
        faces = analyzer.analyze(img, **kw)
        assert len(faces) == 1, name
        assert _close_box(faces[0].box, ref.box, 3), name
        assert np.abs(faces[0].landmarks - ref.landmarks).mean() < 1.5, name


def test_exif_rotated_photo(analyzer, astronaut, tmp_path):
    """A phone photo stored sideways with an EXIF orientation tag is analysed upright."""
    exif = Image.Exif()
    exif[0x0112] = 8                     # "rotate 90 degrees counter-clockwise to view"
    path = tmp_path / "sideways.jpg"
    Image.fromarray(np.ascontiguousarray(np.rot90(astronaut, -1))).save(path, quality=95, exif=exif.tobytes())
    faces = analyzer.analyze(path)
    assert len(faces) == 1 and _close_box(faces[0].box, ASTRONAUT_BOX, 8)


def test_group_photo_several_faces_left_to_right(analyzer):
    faces = analyzer.analyze(SAMPLES_DIR / "group.jpg")
    assert len(faces) == len(GROUP) == 4
    assert [f.face_id for f in faces] == [0, 1, 2, 3]
    xs = [f.box[0] for f in faces]
    assert xs == sorted(xs)
    for f, (_, cx, cy, size, _) in zip(faces, GROUP):
        bx, by, bw, bh = f.box
        assert abs(bx + bw / 2 - cx) < 0.3 * size and abs(by + bh / 2 - cy) < 0.4 * size
        assert 0.6 < bw / size < 1.6
        assert f.emotions is not None and f.aus is not None


def test_faces_of_one_image_go_through_the_cnn_as_one_batch(analyzer):
    model = analyzer.emotion_model
    calls = []
    real = model.predict_proba

    def counting(faces48, *a, **k):
        calls.append(len(faces48))
        return real(faces48, *a, **k)
    model.predict_proba = counting
    try:
        faces = analyzer.analyze(SAMPLES_DIR / "group.jpg")
    finally:
        del model.predict_proba
    assert calls == [4] and len(faces) == 4


def test_no_face(analyzer):
    from skimage import data
    assert analyzer.analyze(data.coffee(), color="rgb") == []
    assert analyzer.analyze(np.zeros((240, 320), np.uint8)) == []


def test_crops_mode(analyzer, astronaut):
    from fer_au.samples import face_crop48
    crop = face_crop48("astronaut")
    faces = analyzer.analyze(crop, crop=True)
    assert len(faces) == 1
    f = faces[0]
    assert f.box == (0, 0, 48, 48) and f.score is None
    assert f.landmarks.shape == (68, 2) and (f.landmarks > -10).all() and (f.landmarks < 58).all()
    assert f.emotions["happiness"] == max(f.emotions.values())
    # a bigger crop is resized for the CNN, landmarks stay in its own pixels
    big = np.kron(crop, np.ones((3, 3), np.uint8))
    fb = analyzer.analyze(big, crop=True)[0]
    assert fb.box == (0, 0, 144, 144) and fb.crop.shape == (48, 48)
    assert np.abs(fb.landmarks / 3 - f.landmarks).mean() < 2.0


def test_missing_model_is_a_clear_error_and_aus_only_works(tmp_path, astronaut):
    from fer_au.analyzer import FaceAnalyzer, ModelUnavailableError

    with pytest.raises(ModelUnavailableError) as err:
        FaceAnalyzer(aus=False, au_model=None, models_dir=tmp_path)
    msg = str(err.value)
    assert "cnn_fer7.tflite" in msg and "emotion_model=None" in msg
    with pytest.raises(ModelUnavailableError, match="aus=False"):
        FaceAnalyzer(emotion_model=None, au_model=None, models_dir=tmp_path)
    # nothing but dlib: boxes, landmarks and pose, no invented AUs or emotions
    bare = FaceAnalyzer(emotion_model=None, au_model=None, aus=False)
    f = bare.analyze(astronaut, color="rgb")[0]
    assert f.aus is None and f.emotions is None and f.au_emotions is None and f.top_emotion is None
    assert _close_box(f.box, ASTRONAUT_BOX)


def test_haar_detector_and_detect_size(astronaut):
    from fer_au.analyzer import FaceAnalyzer
    haar = FaceAnalyzer(detector="haar", emotion_model=None, au_model=None, aus=False)
    faces = haar.analyze(astronaut, color="rgb")
    assert len(faces) == 1 and haar.model_names()["face_model"] == "opencv-haar"
    x, y, w, h = faces[0].box
    assert abs(x + w / 2 - 220) < 30 and abs(y + h / 2 - 122) < 30
    # a big photo is detected on a downscaled copy; boxes come back in full-size pixels
    small = FaceAnalyzer(emotion_model=None, au_model=None, aus=False, detect_size=512)
    big = np.kron(astronaut, np.ones((2, 2, 1), np.uint8))          # 1024x1024
    fb = small.analyze(big, color="rgb")
    assert len(fb) == 1 and _close_box(fb[0].box, [2 * v for v in ASTRONAUT_BOX], 16)


def test_face_stream_keeps_ids_and_detect_every_agrees(analyzer):
    from fer_au.stream import FaceStream
    from fer_au.media import iter_video

    video = SAMPLES_DIR / "two_faces.mp4"
    runs = {}
    for k in (1, 4):
        stream = FaceStream(analyzer, detect_every=k)
        runs[k] = [stream.process(frame) for _, _, frame in iter_video(video)]
    for k, frames in runs.items():
        assert all(len(f) == 2 for f in frames), k
        # each face keeps its id: the left face is the same id throughout
        left_ids = {min(f, key=lambda face: face.box[0]).face_id for f in frames}
        assert len(left_ids) == 1, k
    diffs = []
    for a, b in zip(runs[1], runs[4]):
        for fa in a:
            fb = min(b, key=lambda f: np.linalg.norm(f.landmarks.mean(0) - fa.landmarks.mean(0)))
            iod = np.linalg.norm(fa.landmarks[36:42].mean(0) - fa.landmarks[42:48].mean(0))
            diffs.append(np.linalg.norm(fb.landmarks - fa.landmarks, axis=1).mean() / iod)
    assert np.mean(diffs) < 0.05          # following between detections stays within 5% of the eye distance


def test_face_stream_emotion_every_takes_turns_and_holds(analyzer):
    """emotion_every=3: the CNN runs on each followed face every 3rd frame, the two faces
    on different frames (one CNN call of one face per frame after the first), and a face
    holds exactly its last computed emotions in between; AUs still change every frame."""
    from fer_au.stream import FaceStream
    from fer_au.media import iter_video

    model = analyzer.emotion_model
    calls, real = [], model.predict_proba

    def counting(faces48, *a, **k):
        calls[-1] += len(faces48)
        return real(faces48, *a, **k)
    model.predict_proba = counting
    try:
        stream = FaceStream(analyzer, detect_every=3, emotion_every=3)
        frames = []
        for _, _, frame in iter_video(SAMPLES_DIR / "two_faces.mp4"):
            calls.append(0)
            frames.append(stream.process(frame))
    finally:
        del model.predict_proba
    assert all(len(f) == 2 for f in frames)
    assert calls[0] == 2                                  # new faces: classified at once
    assert max(calls[1:]) <= 1 and sum(calls[1:]) >= 2 * (len(frames) - 1) // 3 - 1
    by_id = {}
    for i, faces in enumerate(frames):
        for f in faces:
            by_id.setdefault(f.face_id, []).append(f)
    for track in by_id.values():
        changed = sum(a.emotions != b.emotions for a, b in zip(track, track[1:]))
        assert changed <= len(track) // 3 + 1             # held between turns
        assert sum(a.aus != b.aus for a, b in zip(track, track[1:])) > changed
    with pytest.raises(ValueError, match="emotion_every"):
        FaceStream(analyzer, emotion_every=0)


def test_face_stream_alternates_the_mirror_view_between_turns(analyzer, astronaut):
    """emotion_every=3 with the shipped CNN (which averages each face with its mirror):
    a face's first turn sees both views, later turns one view each, plain and mirrored
    by turns, so a turn costs one view; on a still face the emotions, the mean of the
    latest answer of each view, are the mirror average exactly once each view has
    answered on its own."""
    import cv2
    from fer_au.stream import FaceStream

    model = analyzer.emotion_model
    assert model.tta
    frame = cv2.cvtColor(np.asarray(astronaut), cv2.COLOR_RGB2BGR)
    both = analyzer.analyze_bgr(frame)[0].emotions
    views, real = [], model.predict_proba

    def spy(faces48, *a, **k):
        views.append((k.get("tta"), np.asarray(faces48)[0].copy()))
        return real(faces48, *a, **k)
    model.predict_proba = spy
    try:
        stream = FaceStream(analyzer, detect_every=1, emotion_every=3)   # the same crop every frame
        out = [stream.process(frame)[0] for _ in range(10)]
    finally:
        del model.predict_proba
    assert [v[0] for v in views] == [None, False, False, False]     # frames 0, 3, 6, 9
    crop = views[0][1]
    assert np.array_equal(views[1][1], crop[:, ::-1]) and np.array_equal(views[2][1], crop)
    err = [max(abs(f.emotions[c] - both[c]) for c in both) for f in out]
    assert max(err[:3]) < 1e-6            # the first turn: both views at once
    assert max(err[3:6]) < 0.02           # its average stands in for the plain view's answer
    assert max(err[6:]) < 1e-6            # from the second single-view turn on: each view's own
    plain = analyzer.analyze_bgr(frame, emotions_for=["plain"])[0].emotions
    mirror = analyzer.analyze_bgr(frame, emotions_for=["mirror"])[0].emotions
    assert plain != mirror
    assert max(abs(0.5 * (plain[c] + mirror[c]) - both[c]) for c in both) < 1e-6


def test_face_stream_does_not_alternate_for_a_model_without_a_mirror_average(analyzer):
    """A model that sees one view anyway (tta off) is asked for the face as it is on every
    turn, and each turn's answer is the face's emotions as they are, not a mean of turns."""
    from fer_au.stream import FaceStream
    from fer_au.media import iter_video

    model = analyzer.emotion_model
    kinds, answers, real = [], [], model.predict_proba

    def spy(faces48, *a, **k):
        kinds.append(k.get("tta"))
        p = real(faces48, *a, **k)
        answers.append(p)
        return p
    model.tta, model.predict_proba = False, spy
    try:
        stream = FaceStream(analyzer, detect_every=1, emotion_every=2)
        frames = [stream.process(frame) for _, _, frame in iter_video(SAMPLES_DIR / "two_faces.mp4")][:12]
    finally:
        model.tta = True
        del model.predict_proba
    assert set(kinds) == {None}
    computed = {tuple(np.round(p, 12)) for a in answers for p in a}
    for faces in frames:
        for f in faces:
            assert tuple(np.round([f.emotions[c] for c in FER7], 12)) in computed


def test_face_stream_running_au_baseline(analyzer, astronaut):
    """au_baseline='running': a face's AUs are measured from its own running median. A face
    that holds its expression (here, 32 identical frames of a smile) reads as the population
    baseline says until 30 frames are seen, then as its own neutral: every AU drops to 0."""
    from fer_au.stream import FaceStream

    still = analyzer.analyze(astronaut, color="rgb")[0]
    assert still.aus["AU12"] > 1.0                        # she smiles, by the population baseline
    stream = FaceStream(analyzer, au_baseline="running")
    frames = [stream.process(astronaut, color="rgb") for _ in range(32)]
    assert all(len(f) == 1 and f[0].face_id == frames[0][0].face_id for f in frames)
    assert frames[0][0].aus == pytest.approx(still.aus, abs=1e-6)
    last = frames[-1][0]
    assert max(last.aus.values()) == pytest.approx(0.0, abs=1e-6)
    assert not any(last.au_presence.values())
    assert last.emotions == pytest.approx(still.emotions, abs=1e-5)   # only the AUs change
    with pytest.raises(ValueError, match="au_baseline"):
        FaceStream(analyzer, au_baseline="personal")


def test_analyze_paths_table_and_csv(analyzer, tmp_path):
    paths = [SAMPLES_DIR / "group.jpg", SAMPLES_DIR / "no_face.jpg"]
    from fer_au import analyze_paths
    from fer_au.batch import run_batch
    table = analyze_paths(paths, analyzer=analyzer)
    assert list(table.columns) == analyzer.columns() and len(table) == 5
    assert table["face_id"].tolist()[:4] == [0, 1, 2, 3] and np.isnan(table["face_id"].iloc[4])
    assert table["FaceRectX"].dtype.kind == "f" and table["input"].tolist()[0] == str(paths[0])
    csv = tmp_path / "t.csv"
    from_disk = analyze_paths(paths, csv=csv, analyzer=analyzer)
    assert csv.exists() and len(from_disk) == 5
    pd.testing.assert_frame_equal(from_disk, table)
    summary = run_batch([SAMPLES_DIR / "two_faces.mp4"], csv=csv, every=50, analyzer=analyzer)
    assert summary.frames == 2 and summary.faces == 4 and summary.errors == 0


def test_smoothing_damps_changes():
    from fer_au.tracking import EmotionSmoother
    s = EmotionSmoother(0.8)
    a = dict(zip(FER7, [1, 0, 0, 0, 0, 0, 0]))
    b = dict(zip(FER7, [0, 0, 0, 1, 0, 0, 0]))
    s(0, a)
    out = s(0, b)
    assert out["anger"] == pytest.approx(0.8) and out["happiness"] == pytest.approx(0.2)
    assert s(1, b) == pytest.approx(b)                      # another track is independent
    assert EmotionSmoother(0.0)(0, a) is a
    with pytest.raises(ValueError):
        EmotionSmoother(1.0)


def test_tracker_ids():
    from fer_au.tracking import Tracker
    t = Tracker(max_missed=2)
    assert t.update([(0, 0, 50, 50), (200, 0, 50, 50)]) == [0, 1]
    assert t.update([(205, 4, 50, 50), (3, 2, 50, 50)]) == [1, 0]      # order does not matter
    assert t.update([(30, 12, 50, 50)]) == [0]                         # a fast move: centroid fallback
    assert t.update([(400, 300, 60, 60)]) == [2]                       # a new face
    t.update([])
    t.update([])
    assert t.update([(205, 4, 50, 50)]) == [3]                         # id 1 was retired
