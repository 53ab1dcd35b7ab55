"""The second-generation perception stack: BlazeFace, the face mesh, its 68 points,
the pose-free AUs (dlib's points + the mesh's depth) and how the analyzer joins them.
Real models on real photos; bench/detection.py and bench/aus.py measure the rest."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from fer_au.aus import AU_CODES


@pytest.fixture(scope="module")
def astronaut_bgr():
    from skimage import data
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


ASTRONAUT_BOX = (179, 83, 88, 88)   # dlib HOG's box on skimage's astronaut


def _centre_close(a, b, tol):
    return abs(a[0] + a[2] / 2 - b[0] - b[2] / 2) < tol and abs(a[1] + a[3] / 2 - b[1] - b[3] / 2) < tol


def test_blazeface_finds_the_face_and_draws_dlibs_box(astronaut_bgr):
    from fer_au.faces import FaceDetector
    (box, score), = FaceDetector("blazeface").detect(astronaut_bgr)
    assert score > 0.5 and _centre_close(box, ASTRONAUT_BOX, 10)
    assert 0.8 < box[2] / ASTRONAUT_BOX[2] < 1.25          # dlib-like extent, not BlazeFace's forehead box
    no_face = cv2.imread("samples/no_face.jpg")
    assert FaceDetector("blazeface").detect(no_face) == []
    assert FaceDetector("blazeface").detect(np.zeros((480, 640, 3), np.uint8)) == []


def test_blazeface_tiles_find_a_small_face(astronaut_bgr):
    """A 40-px face in a 1280x960 frame: below what the whole-frame pass sees, found
    with upsample=1 (overlapping tiles); boxes come back in the frame's pixels."""
    from fer_au.faces import FaceDetector
    from fer_au.mesh import BlazeFace
    face = astronaut_bgr[40:240, 120:320]                    # ~90-px face in 200 px
    small = cv2.resize(face, (90, 90), interpolation=cv2.INTER_AREA)
    frame = np.full((960, 1280, 3), 110, np.uint8)
    frame[600:690, 900:990] = small
    found = FaceDetector("blazeface", upsample=1).detect(frame)
    assert len(found) == 1
    (x, y, w, h), _ = found[0]
    assert 900 <= x + w / 2 <= 990 and 600 <= y + h / 2 <= 690
    views = BlazeFace(tiles=2).views(frame.shape)
    assert views[0] == (0, 0, 1280) and len(views) == 5
    assert all(x + s <= 1280 and y + s <= 960 for x, y, s in views[1:])


def test_tiles_keep_only_whole_small_faces_and_parts_of_a_face_go():
    """A tile reports only faces small for the whole-image pass and wholly inside the
    tile (an inner edge cuts nothing it keeps); a box lying inside one twice its area is
    a part of that face."""
    from fer_au.mesh import _drop_inner, _whole_small_faces
    rows = np.zeros((4, 16), np.float32)
    rows[:, :4] = [[120, 120, 160, 160],     # small, inside: kept
                   [290, 100, 340, 150],     # small, crosses the tile's inner right edge (x0+side=320)
                   [10, 10, 140, 140],       # large: 130 px > 0.15 of the 640-px image's side
                   [0, 150, 30, 180]]        # touches the left edge, which is the image's own edge
    keep = _whole_small_faces(rows, 0, 0, 320, 640, 480)
    assert keep.tolist() == [True, False, False, True]
    face = (np.array([100, 100, 300, 300] + [0] * 12, np.float32), 0.9)
    eye = (np.array([140, 150, 190, 190] + [0] * 12, np.float32), 0.7)    # inside the face
    other = (np.array([400, 100, 450, 150] + [0] * 12, np.float32), 0.7)
    assert [f[1] for f in _drop_inner([face, eye, other])] == [0.9, 0.7]
    assert len(_drop_inner([face, other])) == 2
    # a less probable box around a face (a tile's guess on the background) does not remove it
    around = (np.array([40, 40, 360, 360] + [0] * 12, np.float32), 0.2)
    assert [f[1] for f in _drop_inner([face, around])] == [0.9, 0.2]


def test_one_box_per_face():
    """Boxes of one small face shifted by half their size collapse to the most probable;
    two faces side by side stay two."""
    from fer_au.faces import _one_per_face
    d = lambda x, y, s, p: {"box": (x, y, s, s), "score": p}   # noqa: E731
    shifted = [d(398, 292, 34, 0.19), d(399, 315, 31, 0.18), d(415, 310, 29, 0.95)]
    assert [f["score"] for f in _one_per_face(shifted)] == [0.95]
    pair = [d(100, 100, 40, 0.9), d(145, 105, 40, 0.6)]
    assert [f["score"] for f in _one_per_face(pair)] == [0.9, 0.6]


def test_a_small_face_is_one_face_with_tiles(astronaut_bgr):
    """A ~27-px face in a 640x480 frame: the whole image and the tiles boxed it three
    ways and the mesh confirmed all three (session 14); one face comes back, with or
    without tiles."""
    from fer_au.faces import FaceDetector
    frame = np.full((480, 640, 3), 110, np.uint8)
    frame[300:360, 400:460] = cv2.resize(astronaut_bgr[40:240, 120:320], (60, 60), interpolation=cv2.INTER_AREA)
    for up in (0, 1, 2):
        (box, _), = FaceDetector("blazeface", upsample=up, min_size=1).detect(frame)
        assert 400 <= box[0] + box[2] / 2 <= 460 and 300 <= box[1] + box[3] / 2 <= 360


def test_photos_get_tiles_and_video_frames_do_not(astronaut_bgr):
    """With BlazeFace, analyze() searches tiles (upsample None -> 2 for photos) and
    finds a ~27-px face in a 1280x960 photo; a video frame (detect() as FaceStream
    calls it) gets the whole-frame pass only, which misses it; upsample=0 turns the
    tiles off for photos."""
    from fer_au.analyzer import FaceAnalyzer
    face = astronaut_bgr[40:240, 120:320]
    frame = np.full((960, 1280, 3), 110, np.uint8)
    frame[600:660, 900:960] = cv2.resize(face, (60, 60), interpolation=cv2.INTER_AREA)
    an = FaceAnalyzer(emotion_model=None, au_model=None, aus=False)
    assert an.photo_upsample == 2 and an.detector.upsample == 0
    assert len(an.analyze(frame)) == 1
    assert an.detect(frame) == []
    assert FaceAnalyzer(emotion_model=None, au_model=None, aus=False, upsample=0).analyze(frame) == []
    assert FaceAnalyzer(detector="hog", emotion_model=None, au_model=None, aus=False).photo_upsample == 0


# FER2013 PublicTest faces (rows of the Kaggle CSV) that the full-range BlazeFace misses at
# 160 px on a grey photo and dlib's HOG finds: 4 of the first 400 PublicTest faces
HOG_ONLY_FACES = (28830, 28885, 28920, 29024)


def test_photos_and_sweeps_take_a_second_look_with_hog(fer, monkeypatch):
    """A photo's search (and a video's sweep: upsample > 0 on the whole image) adds the frontal
    faces dlib's HOG detector finds and BlazeFace misses, each confirmed by the face mesh,
    whose presence is its score; a video frame's whole-frame pass and live's tiles do not.
    (The short-range look, faces.SHORT_LOOK, finds three of the four itself: off here.)"""
    from fer_au import faces
    from fer_au.analyzer import FaceAnalyzer
    monkeypatch.setattr(faces, "SHORT_LOOK", False)
    an = FaceAnalyzer(emotion_model=None, au_model=None, aus=False)
    for i in HOG_ONLY_FACES:
        frame = np.full((480, 640), 128, np.uint8)
        frame[140:300, 240:400] = cv2.resize(fer.images[i], (160, 160), interpolation=cv2.INTER_CUBIC)
        bgr = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        (box, score), = an.detect(bgr, 2)
        assert _centre_close(box, (240, 140, 160, 160), 30) and 0.5 <= score <= 1.0
        assert len(an.analyze(bgr)) == 1
        assert an.detect(bgr) == [] and all(an.detect(bgr, 2, tile=k) == [] for k in range(1, 7))
        monkeypatch.setattr(faces, "HOG_SECOND_LOOK", False)
        assert an.detect(bgr, 2) == []
        monkeypatch.setattr(faces, "HOG_SECOND_LOOK", True)


# FER2013 PublicTest faces (rows of the Kaggle CSV) turned 30-40 degrees (the 2-D pose fit's
# yaw) that the full-range BlazeFace, its tiles, its padded look and HOG all miss at 256 px on a
# grey photo, and the short-range model finds (session 21)
TURNED_FACES = (29098, 31084, 31617, 32086)


def test_the_short_range_look_finds_large_turned_faces(fer, monkeypatch):
    """A video frame's whole-frame pass and a photo's search also take the short-range
    BlazeFace's proposals of large faces (faces.SHORT_LOOK): turned faces the full-range
    model gives no proposal for are found, drawn where the face is, and analysed."""
    from fer_au import faces
    from fer_au.analyzer import FaceAnalyzer
    an = FaceAnalyzer(emotion_model=None, au_model=None, aus=False)
    for i in TURNED_FACES:
        frame = np.full((512, 512), 128, np.uint8)
        frame[128:384, 128:384] = cv2.resize(fer.images[i], (256, 256), interpolation=cv2.INTER_CUBIC)
        bgr = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        for upsample in (0, 2):
            (box, score), = an.detect(bgr, upsample)
            assert _centre_close(box, (128, 128, 256, 256), 60) and 120 < box[2] < 300 and score > 0.5
        assert len(an.analyze(bgr)) == 1
        monkeypatch.setattr(faces, "SHORT_LOOK", False)
        assert an.detect(bgr, 2) == []
        monkeypatch.setattr(faces, "SHORT_LOOK", True)


def test_the_short_range_model_draws_a_face_as_the_full_range_model_does():
    """Its boxes, redrawn by faces.SHORT_TO_FULL, match the full-range model's box of the same
    face (portraits cut with 2.6 face widths of room, where both models see it), so the
    landmarker and the FaceRect* columns get the same box whichever model found the face."""
    from fer_au.faces import FaceDetector
    from fer_au.mesh import _rgb
    from fer_au.tracking import iou
    det = FaceDetector("blazeface")
    for path, (x, y, w, _) in (("samples/hopper.jpg", (221, 139, 187, 187)),
                               ("samples/astronaut.jpg", (253, 150, 156, 156))):
        n = int(2.6 * w)
        x0, y0 = max(0, x + w // 2 - n // 2), max(0, y + w // 2 - n // 2)
        rgb = _rgb(cv2.imread(path)[y0:y0 + n, x0:x0 + n])
        full = max(det._blaze.detect_full_rgb(rgb, 0), key=lambda d: d["score"])
        (short,) = det._short_look(rgb, [])
        assert iou(tuple(full["box"]), tuple(short["box"])) > 0.85


def test_a_photos_search_shows_the_short_range_model_smaller_views(fer, monkeypatch):
    """A turned face of a fifth of a 1280x960 photo is too small for the short-range model's
    view of the whole photo; a photo's search also shows it views of 0.4 of the longer side,
    half a view apart (faces.SHORT_TILES), where it is found. A video frame's whole-frame
    pass does not take them (a frame's budget)."""
    from fer_au import faces
    from fer_au.analyzer import FaceAnalyzer
    an = FaceAnalyzer(emotion_model=None, au_model=None, aus=False)
    frame = np.full((960, 1280), 128, np.uint8)
    frame[300:556, 400:656] = cv2.resize(fer.images[30090], (256, 256), interpolation=cv2.INTER_CUBIC)
    bgr = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    (box, score), = an.detect_photo(bgr)
    assert _centre_close(box, (400, 300, 256, 256), 60) and 150 < box[2] < 300 and score > 0.5
    assert an.detect(bgr, 0) == []
    monkeypatch.setattr(faces, "SHORT_TILES", False)
    assert an.detect_photo(bgr) == []


def test_a_face_that_fills_the_frame_is_one_face_not_two_halves(monkeypatch):
    """A close-up (Hopper's face cut at its dlib box, brows and chin at the edges, 256 px):
    BlazeFace alone takes each half of the face for a face; its look at a padded copy finds
    the whole face, which replaces the halves, in a photo's search and in a video frame's
    whole-frame pass (a large face found hints at a close-up)."""
    from fer_au import faces
    from fer_au.analyzer import FaceAnalyzer
    an = FaceAnalyzer(emotion_model=None, au_model=None, aus=False)
    x, y, w, h = 221, 139, 187, 187                         # dlib HOG's box on samples/hopper.jpg
    crop = cv2.resize(cv2.imread("samples/hopper.jpg")[y:y + h, x:x + w], (256, 256), interpolation=cv2.INTER_AREA)
    for upsample in (2, 0):
        (box, score), = an.detect(crop, upsample)
        assert _centre_close(box, (0, 0, 256, 256), 30) and box[2] > 180 and score > 0.5
    assert len(an.analyze(crop)) == 1
    monkeypatch.setattr(faces, "PAD_LOOK", False)
    halves = an.detect(crop, 2)
    assert len(halves) == 2 and all(b[2] < 128 for b, _ in halves)
    # a face with room round it is left to the first look: the padded look adds nothing
    monkeypatch.setattr(faces, "PAD_LOOK", True)
    photo = cv2.imread("samples/hopper.jpg")
    assert len(an.detect(photo, 2)) == 1


def _cut(path, box, room, side):
    """A close-up: ``box``'s face in a square of ``room`` face widths (centred 5 % of the
    height below the box's centre) resized to ``side`` px, and the box in it."""
    x, y, w, h = box
    n = int(round(room * w))
    x0, y0 = int(round(x + w / 2 - n / 2)), int(round(y + h / 2 + 0.05 * h - n / 2))
    f = side / n
    img = cv2.resize(cv2.imread(path)[y0:y0 + n, x0:x0 + n], (side, side), interpolation=cv2.INTER_AREA)
    return img, ((x - x0) * f, (y - y0) * f, w * f, h * f)


def test_a_close_up_is_boxed_whole_in_photos_and_video_frames(monkeypatch):
    """Session 19: Hopper with 1.1 face widths of room, 162 px: the first look boxes a
    face-sized window off the face's centre (IoU 0.36 before), which the padded look's box
    of the whole face now replaces; the astronaut cut at its box: a video frame's first look
    proposes nothing (no face before), which now sends it to the padded look. A face with
    room round it in a video frame takes no padded look (it costs a frame's budget)."""
    from fer_au import faces
    from fer_au.analyzer import FaceAnalyzer
    from fer_au.tracking import iou
    an = FaceAnalyzer(emotion_model=None, au_model=None, aus=False)
    hopper, hopper_box = _cut("samples/hopper.jpg", (221, 139, 187, 187), 1.1, 162)
    astronaut, astronaut_box = _cut("samples/astronaut.jpg", (253, 150, 156, 156), 1.0, 256)
    for img, truth in ((hopper, hopper_box), (astronaut, astronaut_box)):
        for upsample in (2, 0):
            (box, _), = an.detect(img, upsample)
            assert iou(tuple(box), truth) > 0.6, (truth, box, upsample)
    looks = []
    padded_look = faces.FaceDetector._padded_look
    monkeypatch.setattr(faces.FaceDetector, "_padded_look", lambda *a: looks.append(1) or padded_look(*a))
    assert len(an.detect(cv2.imread("samples/hopper.jpg"), 0)) == 1 and looks == []
    assert an.detect(np.zeros((480, 640, 3), np.uint8), 0) == [] and looks == [1]   # nothing proposed


def test_a_close_up_video_keeps_one_face_with_its_box():
    """A close-up panning a little (Hopper with 1.1 face widths of room, 320 px, 24 frames)
    run as analyze runs a video (detection every frame, a sweep every 10th) and as live
    does (detection every 3rd frame, one tile each): one face in every frame, boxed round
    the face (before session 19, 14 and 19 of 45 such frames had a box off the face, IoU
    0.17-0.5, and some a second box)."""
    from fer_au.analyzer import FaceAnalyzer
    from fer_au.stream import FaceStream
    from fer_au.tracking import iou
    an = FaceAnalyzer(emotion_model=None, au_model=None, aus=False)
    photo = cv2.imread("samples/hopper.jpg")
    x, y, w, h = 221, 139, 187, 187
    n = int(round(1.1 * w))
    clip = []
    for k in range(24):
        x0, y0 = int(round(x + w / 2 - n / 2 + 6 * math.sin(k / 4))), int(round(y + h / 2 + 0.05 * h - n / 2))
        f = 320 / n
        clip.append((cv2.resize(photo[y0:y0 + n, x0:x0 + n], (320, 320), interpolation=cv2.INTER_AREA),
                     ((x - x0) * f, (y - y0) * f, w * f, h * f)))
    for kwargs in (dict(detect_every=1, sweep_every=10), dict(detect_every=3, sweep_every=10, roll_tiles=True)):
        stream = FaceStream(an, **kwargs)
        for i, (frame, truth) in enumerate(clip):
            (face,) = stream.process(frame, index=i)
            assert iou(tuple(face.box), truth) > 0.5, (kwargs, i, face.box, truth)


def test_a_photo_gives_hogs_look_the_whole_detector_copy_a_video_sweep_a_smaller_one(monkeypatch):
    """HOG's second look searches a photo's whole detector copy (PHOTO_HOG_SIDE: 1280 px of a
    1920x1440 photo) and a video sweep's at faces.HOG_SIDE (640): in a large photo it then
    finds frontal faces from ~120 px instead of ~240; a sweep every 5th frame keeps its cost."""
    from fer_au import faces
    from fer_au.analyzer import PHOTO_HOG_SIDE, FaceAnalyzer
    from fer_au.stream import FaceStream
    sides = []
    look = faces.FaceDetector._hog_second_look
    monkeypatch.setattr(faces.FaceDetector, "_hog_second_look",
                        lambda self, img, rgb, boxes, side=None: sides.append(side) or look(self, img, rgb, boxes, side))
    an = FaceAnalyzer(emotion_model=None, au_model=None, aus=False)
    big = cv2.resize(cv2.imread("samples/hopper.jpg"), (1920, 1440))
    assert len(an.analyze(big)) == 1 and sides == [PHOTO_HOG_SIDE]
    sides.clear()
    stream = FaceStream(an, sweep_every=5)
    stream.process(big, index=0)
    assert sides == [faces.HOG_SIDE] and faces.HOG_SIDE < PHOTO_HOG_SIDE


def test_large_photos_get_more_tiles():
    """A photo over 1500 px gets more tiles when upsample is the analyzer's default
    (PHOTO_TILE_SIDE), up to 8x8; a chosen upsample and the other detectors keep theirs."""
    from fer_au.analyzer import PHOTO_MAX_TILES, FaceAnalyzer
    an = FaceAnalyzer(emotion_model=None, au_model=None, aus=False)
    assert [an.photo_upsample_for(s) for s in (480, 1280, 1500, 1920, 2560, 4000, 6000)] == \
        [2, 2, 2, 3, 5, 7, PHOTO_MAX_TILES - 1]
    assert FaceAnalyzer(emotion_model=None, au_model=None, aus=False, upsample=1).photo_upsample_for(4000) == 1
    assert FaceAnalyzer(detector="hog", emotion_model=None, au_model=None, aus=False).photo_upsample_for(4000) == 0


def test_fine_tile_grids_still_hold_mid_size_faces_whole():
    """A tile keeps only the faces wholly inside it.  However fine the grid, every face up
    to 6 % of the image's side (what the whole-image pass resolves poorly) lies wholly inside
    some tile wherever it is: an 8x8 grid alone holds faces up to ~2.6 % only, so finer grids
    come with a 3x3 one (mesh.MID_TILES)."""
    from fer_au.mesh import TILE_EDGE, BlazeFace
    det = BlazeFace("full")
    for shape, tiles in (((3000, 4000), 8), ((1080, 1920), 4), ((480, 640), 3)):
        h, w = shape
        views = det.views(shape, tiles)[1:]
        for size in np.linspace(0.01, 0.06, 6) * max(h, w):
            for x in np.linspace(0, w - size, 41):
                for y in np.linspace(0, h - size, 7):
                    assert any((x >= x0 + TILE_EDGE * t or x0 <= 0) and (y >= y0 + TILE_EDGE * t or y0 <= 0)
                               and (x + size <= x0 + t - TILE_EDGE * t or x0 + t >= w)
                               and (y + size <= y0 + t - TILE_EDGE * t or y0 + t >= h)
                               for x0, y0, t in views), (shape, tiles, size, x, y)


def test_small_faces_of_a_large_photo_are_found():
    """The group photo of samples/group.jpg shrunk into a 4000x3000 photo (faces of ~60 px on a real
    scene): analyze() finds its four faces where each is (3x3 tiles on the detector's
    1280-px copy found one or two, with boxes a face and a half wide)."""
    from skimage import data

    from fer_au.analyzer import FaceAnalyzer
    from fer_au.samples import group_photo
    group = group_photo()                       # samples/group.jpg, built in memory
    an = FaceAnalyzer(emotion_model=None, au_model=None, aus=False)
    truth = [b for b, _ in an.detect(group, upsample=1)]
    assert len(truth) == 4
    k = 60 / np.median([b[2] for b in truth])
    photo = cv2.resize(cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR), (4000, 3000), interpolation=cv2.INTER_CUBIC)
    small = cv2.resize(group, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    photo[1000:1000 + small.shape[0], 1000:1000 + small.shape[1]] = small
    found = [f.box for f in an.analyze(photo)]
    for x, y, w, h in truth:
        want = (1000 + x * k, 1000 + y * k, w * k, h * k)
        assert any(_centre_close(b, want, 0.5 * want[2]) and 0.67 < b[2] / want[2] < 1.5 for b in found), (want, found)
    assert len(found) == 4


def test_hd_video_sweeps_find_small_faces_and_follow_them():
    """In 1920x1080 frames a FaceStream with sweep_every=k searches
    with the photo's tiles every k-th frame and follows what it finds: the group photo's
    four ~60-px faces, which the whole-frame pass misses, are found on frame 0 and kept with
    the same ids through the frames in between; without sweeps they are not found."""
    from skimage import data

    from fer_au.analyzer import FaceAnalyzer
    from fer_au.samples import group_photo
    from fer_au.stream import FaceStream
    an = FaceAnalyzer(emotion_model=None, au_model=None, aus=False)
    assert an.video_sweep_upsample(640) == 2 and an.video_sweep_upsample(1920) == 3
    assert FaceAnalyzer(emotion_model=None, au_model=None, aus=False, upsample=2).video_sweep_upsample(1920) is None
    group = group_photo()
    k = 60 / np.median([b[2] for b, _ in an.detect(group, upsample=1)])
    frame = cv2.resize(cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR), (1920, 1080), interpolation=cv2.INTER_CUBIC)
    small = cv2.resize(group, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    frame[400:400 + small.shape[0], 600:600 + small.shape[1]] = small
    frames = [np.roll(frame, 2 * i, axis=1) for i in range(6)]      # a slow pan
    swept = FaceStream(an, sweep_every=10)
    found = [swept.process(f) for f in frames]
    assert [len(faces) for faces in found] == [4] * 6
    assert all(sorted(f.face_id for f in faces) == sorted(f.face_id for f in found[0]) for faces in found)
    plain = FaceStream(an)
    assert max(len(plain.process(f)) for f in frames) < 4


def _low_contrast_group_frames(an, n: int):
    """The group photo's four faces at ~36 px in a low-contrast 640x480 frame, panning:
    the whole-frame pass finds two or three of them."""
    from skimage import data

    from fer_au.samples import group_photo
    group = group_photo()
    k = 36 / np.median([b[2] for b, _ in an.detect(group, upsample=1)])
    frame = cv2.resize(cv2.cvtColor(data.chelsea(), cv2.COLOR_RGB2BGR), (640, 480), interpolation=cv2.INTER_AREA)
    small = cv2.resize(group, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    frame[200:200 + small.shape[0], 150:150 + small.shape[1]] = small
    frame = (frame * 0.35 + 100).astype(np.uint8)
    return [np.roll(frame, i, axis=1) for i in range(n)]


def test_sd_video_sweeps_find_faces_the_whole_frame_misses():
    """640x480 video is swept too (every 10th frame in analyze, session 16): the group
    photo's faces at ~36 px in a low-contrast frame, of which the whole-frame pass finds
    two or three, are all found by the sweep and followed with the same ids in between."""
    from fer_au.analyzer import FaceAnalyzer
    from fer_au.stream import FaceStream, sweep_period
    assert sweep_period((640, 480)) == 10 and sweep_period((1920, 1080)) == 5
    an = FaceAnalyzer(emotion_model=None, au_model=None, aus=False)
    frames = _low_contrast_group_frames(an, 12)
    swept = FaceStream(an, sweep_every=10)
    found = [swept.process(f) for f in frames]
    assert [len(faces) for faces in found] == [4] * 12
    assert all(sorted(f.face_id for f in faces) == [0, 1, 2, 3] for faces in found)
    plain = FaceStream(an)
    assert max(len(plain.process(f)) for f in frames) < 4


def test_live_rolling_tile_finds_faces_the_whole_frame_misses():
    """live's stream (detection every 3rd frame) searches one tile of the 3x3 grid with each
    detection, in turn (six tiles cover 640x480): within the grid's cycle it finds the
    fourth face the whole-frame pass never finds, and follows more faces over the clip."""
    from fer_au.analyzer import FaceAnalyzer
    from fer_au.stream import FaceStream
    an = FaceAnalyzer(emotion_model=None, au_model=None, aus=False)
    assert an.n_tiles((480, 640), 2) == 6 and an.n_tiles((480, 640), 0) == 0
    frames = _low_contrast_group_frames(an, 30)
    counts = {}
    for roll in (False, True):
        stream = FaceStream(an, detect_every=3, roll_tiles=roll)
        counts[roll] = [len(stream.process(f)) for f in frames]
    assert max(counts[False]) < 4 and max(counts[True][:19]) == 4
    assert sum(counts[True]) > sum(counts[False]) + 10
    # an explicit upsample turns it off (that choice is used on every detection instead)
    assert FaceAnalyzer(emotion_model=None, au_model=None, aus=False, upsample=0).video_sweep_upsample(640) is None


def test_mesh_points_and_their_68(astronaut_bgr):
    from fer_au.faces import LandmarkPredictor
    from fer_au.mesh import FaceMesh, to_68
    mesh, presence = FaceMesh().predict(astronaut_bgr, ASTRONAUT_BOX)
    assert mesh.shape == (468, 3) and presence > 0.9
    lm = to_68(mesh)
    assert lm.shape == (68, 2)
    # dlib's order: the subject's right (image left) first; eyes above the mouth
    assert lm[36, 0] < lm[45, 0] and lm[48, 0] < lm[54, 0] and lm[37, 1] < lm[57, 1]
    gray = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)
    dlib68 = LandmarkPredictor().predict(gray, ASTRONAUT_BOX)
    iod = np.linalg.norm(dlib68[36:42].mean(0) - dlib68[42:48].mean(0))
    inner = np.linalg.norm(lm[17:] - dlib68[17:], axis=1) / iod
    assert np.median(inner) < 0.08, np.median(inner)
    # the same face as a 48-px FER2013-style crop: still found by the mesh
    from fer_au.faces import align_face
    from fer_au.mesh import crop_box
    crop = align_face(gray, dlib68, 48)
    m48, p48 = FaceMesh().predict(crop, crop_box(crop.shape))
    assert p48 > 0.5 and to_68(m48)[36, 0] < to_68(m48)[45, 0]


def _rot_y(deg):
    t = math.radians(deg)
    return np.array([[math.cos(t), 0, math.sin(t)], [0, 1, 0], [-math.sin(t), 0, math.cos(t)]])


@pytest.fixture(scope="module")
def neutral3d():
    """Synthetic neutral 3-D faces: the canonical face with a plausible depth and jitter."""
    from fer_au.geometry import CANONICAL_68
    rng = np.random.default_rng(0)
    depth = 0.02 * ((CANONICAL_68[:, 0] - 24) ** 2) - 6.0 * np.isin(np.arange(68), range(27, 36))
    base = np.hstack([CANONICAL_68, depth[:, None]])
    return base[None] + rng.normal(0, 0.3, (300, 68, 3))


def test_posefree_aus_ignore_head_turns_and_follow_the_fixed_directions(neutral3d):
    from fer_au.aus3d import PoseFreeAUEstimator
    est = PoseFreeAUEstimator().fit(neutral3d)
    face = neutral3d[0].copy()
    a0 = est.signed_z(face)
    # a 3-D head turn, tilt and nod changes nothing (exactly, up to the similarity fit)
    for deg in (-30, 30):
        turned = (face - face.mean(0)) @ _rot_y(deg).T * 3.1 + np.array([200.0, 150.0, 0.0])
        assert np.allclose(est.signed_z(turned), a0, atol=1e-6)
    z = dict(zip(AU_CODES, est.signed_z(face)))
    # AU17: the lower lip pushed UP, away from the chin tip, is more AU17
    up = face.copy()
    up[[56, 57, 58, 65, 66, 67], 1] -= 1.0
    z17 = dict(zip(AU_CODES, est.signed_z(up)))
    assert z17["AU17"] > z["AU17"] + 1.0
    # AU06 does not read a smile, AU09 does not read the brows
    smile = face.copy()
    smile[[48, 54, 60, 64], 1] -= 2.0
    zs = dict(zip(AU_CODES, est.signed_z(smile)))
    assert zs["AU12"] > z["AU12"] + 2 and abs(zs["AU06"] - z["AU06"]) < 1e-9
    brows = face.copy()
    brows[17:27, 1] += 1.5
    zb = dict(zip(AU_CODES, est.signed_z(brows)))
    assert zb["AU04"] > z["AU04"] + 1 and abs(zb["AU09"] - z["AU09"]) < 1e-9


def test_the_neutral_reference_follows_the_yaw(neutral3d):
    """Neutral faces whose outer brows read higher the more the head turns (as dlib's 2-D
    points do on the far side of a real turned face): fitted on them, the estimator takes
    that drift off, so a turned neutral face reads as the frontal one; fitted on faces that
    hardly turn (the fixture), it learns no drift and an exact 3-D turn changes nothing."""
    from fer_au.aus3d import PoseFreeAUEstimator
    rng = np.random.default_rng(1)

    def turned(face, deg, drift_px_per_deg=0.05):
        f = face.copy()
        f[[17, 18, 25, 26], 1] -= drift_px_per_deg * abs(deg)        # outer brows up (y grows down)
        return (f - f.mean(0)) @ _rot_y(deg).T * 3.1 + np.array([200.0, 150.0, 0.0])

    yaws = rng.uniform(-40, 40, 600)
    est = PoseFreeAUEstimator().fit(np.stack([turned(neutral3d[i % 300], d) for i, d in enumerate(yaws)]))
    front = est.signed_z(turned(neutral3d[0], 0.0))
    for deg in (-30, 30):
        z = est.signed_z(turned(neutral3d[0], deg))
        assert abs(z[AU_CODES.index("AU02")] - front[AU_CODES.index("AU02")]) < 0.3
    est.yaw_drift_ = np.zeros_like(est.yaw_drift_)                  # without it the turn reads as AU02
    assert est.signed_z(turned(neutral3d[0], 30))[AU_CODES.index("AU02")] > front[AU_CODES.index("AU02")] + 1
    assert not PoseFreeAUEstimator().fit(neutral3d).yaw_drift_.any()


def _rot_x(deg):
    t = math.radians(deg)
    return np.array([[1, 0, 0], [0, math.cos(t), -math.sin(t)], [0, math.sin(t), math.cos(t)]])


def test_the_neutral_reference_follows_a_nod_past_the_dead_zone(neutral3d):
    """Neutral faces whose nostril wings read higher or lower as the head nods past
    PITCH_DEAD (as dlib's nose points do on a real nodded face): fitted on them, a nodded
    neutral face reads AU09 as the frontal one does; within PITCH_DEAD nothing is taken off,
    so the 1-3 degrees an expression moves the fit's pitch cannot pass on to AU09."""
    from fer_au.aus3d import PITCH_DEAD, PoseFreeAUEstimator, frontalize
    rng = np.random.default_rng(2)
    i9 = AU_CODES.index("AU09")

    def nodded(face, deg, drift_px_per_deg=0.1):
        f = face.copy()
        f[31:36, 1] -= drift_px_per_deg * np.sign(deg) * max(abs(deg) - PITCH_DEAD, 0.0)
        return (f - f.mean(0)) @ _rot_x(deg).T * 3.1 + np.array([200.0, 150.0, 0.0])

    pitches = rng.uniform(-30, 30, 600)
    est = PoseFreeAUEstimator().fit(np.stack([nodded(neutral3d[i % 300], d) for i, d in enumerate(pitches)]))
    # the pitch is counted from the neutral faces' median (the reference face's own tilt is arbitrary)
    assert abs(frontalize(nodded(neutral3d[0], 0.0)[None], est.reference_, with_pose=True)[2][0]
               - est.pitch_center_) < 2
    front = est.signed_z(nodded(neutral3d[0], 0.0))[i9]
    for deg in (-25, 25):
        assert abs(est.signed_z(nodded(neutral3d[0], deg))[i9] - front) < 0.3
    within = est.signed_z(nodded(neutral3d[0], PITCH_DEAD - 3))
    drift = est.pitch_drift_.copy()
    est.pitch_drift_ = np.zeros_like(drift)
    assert np.allclose(est.signed_z(nodded(neutral3d[0], PITCH_DEAD - 3)), within)   # nothing taken off there
    assert max(abs(est.signed_z(nodded(neutral3d[0], d))[i9] - front) for d in (-25, 25)) > 1
    assert not PoseFreeAUEstimator().fit(neutral3d).pitch_drift_.any()            # faces that do not nod


def test_posefree_estimator_roundtrip(neutral3d, tmp_path):
    from fer_au.aus3d import PoseFreeAUEstimator
    est = PoseFreeAUEstimator().fit(neutral3d)
    est.save(tmp_path / "b.json")
    back = PoseFreeAUEstimator.load(tmp_path / "b.json")
    assert np.allclose(back.transform(neutral3d[:20]), est.transform(neutral3d[:20]), atol=1e-3)
    with pytest.raises(ValueError):
        PoseFreeAUEstimator().fit(neutral3d[:1])
    with pytest.raises(RuntimeError):
        PoseFreeAUEstimator().transform(neutral3d)


def test_analyzer_default_is_the_new_stack(astronaut_bgr):
    from fer_au import FaceAnalyzer
    a = FaceAnalyzer(emotion_model=None, au_model=None)
    names = a.model_names()
    assert names["face_model"] == "mediapipe-blazeface" and names["landmark_model"] == "dlib-68+mediapipe-mesh"
    (f,) = a.analyze(astronaut_bgr)
    assert f.mesh.shape == (468, 3) and f.landmarks.shape == (68, 2)
    assert f.aus["AU12"] >= 2 and f.aus["AU25"] >= 2          # she smiles with her lips apart
    # the mesh-only and dlib-only paths still run
    for lm in ("mesh", "dlib"):
        (g,) = FaceAnalyzer(emotion_model=None, au_model=None, landmarks=lm).analyze(astronaut_bgr)
        assert g.aus["AU12"] >= 1.5, (lm, g.aus["AU12"])


def test_dlib_points_that_left_the_face_are_replaced_by_the_mesh():
    from fer_au.analyzer import _keep_on_face
    from fer_au.geometry import CANONICAL_68
    mesh68 = np.stack([CANONICAL_68 * 4, CANONICAL_68 * 4])
    dlib68 = mesh68.copy()
    dlib68[0] += 0.5                     # a pixel of disagreement: kept
    dlib68[1, 17:] += 40.0               # dlib fitted something else: replaced
    out = _keep_on_face(dlib68, mesh68)
    assert np.allclose(out[0], dlib68[0]) and np.allclose(out[1], mesh68[1])
