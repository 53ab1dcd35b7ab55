"""Reading media: arrays of every layout, PIL images, EXIF orientation, bad files, videos."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from fer_au.media import (MediaError, expand_inputs, iter_video, media_kind, open_video, read_image,
                          to_bgr, to_gray)


@pytest.fixture
def rgb():
    """A small RGB image whose channels differ, so a swapped order shows."""
    img = np.zeros((40, 60, 3), np.uint8)
    img[..., 0] = 200   # R
    img[..., 1] = 100   # G
    img[..., 2] = 30    # B
    img[:10, :10] = (10, 220, 240)
    return img


# ------------------------------------------------------------------ arrays
def test_rgb_and_bgr_arrays(rgb):
    out_rgb = to_bgr(rgb, color="rgb")
    assert out_rgb.dtype == np.uint8 and out_rgb.shape == (40, 60, 3)
    assert tuple(out_rgb[20, 30]) == (30, 100, 200)           # B, G, R
    out_bgr = to_bgr(rgb[..., ::-1], color="bgr")
    assert np.array_equal(out_rgb, out_bgr)
    assert out_bgr.flags["C_CONTIGUOUS"]


def test_grey_layouts(rgb):
    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    for arr in (g, g[..., None]):
        out = to_bgr(arr)
        assert out.shape == (40, 60, 3)
        assert np.array_equal(out[..., 0], g) and np.array_equal(out[..., 2], g)
    assert np.array_equal(to_gray(to_bgr(g)), g)


def test_rgba_drops_alpha_onto_white(rgb):
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    rgba[0, 0, 3] = 0                                          # one transparent pixel
    out = to_bgr(rgba, color="rgb")
    assert tuple(out[20, 30]) == (30, 100, 200)
    assert tuple(out[0, 0]) == (255, 255, 255)


def test_16_bit_and_float_arrays(rgb):
    expected = to_bgr(rgb, color="rgb")
    as16 = rgb.astype(np.uint16) * 257
    assert np.array_equal(to_bgr(as16, color="rgb"), expected)
    as_float = rgb.astype(np.float32) / 255.0
    assert np.abs(to_bgr(as_float, color="rgb").astype(int) - expected).max() <= 1
    as_float255 = rgb.astype(np.float64)
    assert np.array_equal(to_bgr(as_float255, color="rgb"), expected)


def test_pil_images_of_several_modes(rgb):
    expected = to_bgr(rgb, color="rgb")
    assert np.array_equal(to_bgr(Image.fromarray(rgb)), expected)
    rgba = Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]), "RGBA")
    assert np.array_equal(to_bgr(rgba), expected)
    grey = Image.fromarray(rgb[..., 1])
    assert np.array_equal(to_bgr(grey)[..., 0], rgb[..., 1])
    i16 = Image.fromarray(rgb[..., 1].astype(np.uint16) * 257)
    assert np.abs(to_bgr(i16)[..., 0].astype(int) - rgb[..., 1]).max() <= 1


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 2), np.uint8), np.zeros((2, 2, 2, 2), np.uint8),
                                 np.zeros((0, 5), np.uint8), np.array([["a"]], dtype=object)])
def test_bad_arrays_are_one_line_errors(bad):
    with pytest.raises(MediaError) as err:
        to_bgr(bad)
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------ files
def test_exif_orientation_is_applied(tmp_path, rgb):
    # A 40x60 picture stored sideways: orientation 6 means "rotate 90 degrees clockwise to view".
    stored = np.ascontiguousarray(np.rot90(rgb, 1))            # 60x40 on disk
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "sideways.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=exif.tobytes())
    img = read_image(path)
    assert img.shape == (40, 60, 3)                             # upright again
    # the bright marker is back in the top-left corner
    assert img[:10, :10].mean() > img[30:, 50:].mean() + 40


def test_16_bit_png_file(tmp_path, rgb):
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), (rgb[..., ::-1].astype(np.uint16) * 257))
    assert np.array_equal(read_image(path), to_bgr(rgb, color="rgb"))
    g16 = tmp_path / "grey16.png"
    cv2.imwrite(str(g16), rgb[..., 1].astype(np.uint16) * 257)
    assert np.abs(read_image(g16)[..., 0].astype(int) - rgb[..., 1]).max() <= 1


def test_path_string_and_pathlike(tmp_path, rgb):
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), rgb[..., ::-1])
    assert np.array_equal(to_bgr(str(path)), to_bgr(path))


@pytest.fixture
def bad_files(tmp_path, rgb):
    good = tmp_path / "good.jpg"
    cv2.imwrite(str(good), rgb[..., ::-1])
    data = good.read_bytes()
    files = {
        "truncated": (tmp_path / "truncated.jpg", data[: len(data) // 2]),
        "corrupt": (tmp_path / "corrupt.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8),
        "not_image": (tmp_path / "notes.txt", b"hello, I am text\n"),
        "empty": (tmp_path / "empty.png", b""),
    }
    for p, content in files.values():
        p.write_bytes(content)
    return {k: p for k, (p, _) in files.items()}


@pytest.mark.parametrize("kind,words", [("truncated", "truncated"), ("corrupt", "corrupt"),
                                        ("not_image", "not an image"), ("empty", "not an image")])
def test_bad_files_raise_one_line(bad_files, kind, words):
    with pytest.raises(MediaError) as err:
        read_image(bad_files[kind])
    msg = str(err.value)
    assert words in msg and str(bad_files[kind]) in msg and "\n" not in msg


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(MediaError, match="no such file"):
        read_image(tmp_path / "nope.jpg")
    with pytest.raises(MediaError, match="folder"):
        read_image(tmp_path)


# ------------------------------------------------------------------ videos
@pytest.fixture
def small_video(tmp_path):
    path = tmp_path / "v.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    assert w.isOpened()
    for i in range(12):
        frame = np.full((48, 64, 3), i * 20, np.uint8)
        w.write(frame)
    w.release()
    return path


def test_iter_video_every_and_start(small_video):
    frames = list(iter_video(small_video))
    assert [f[0] for f in frames] == list(range(12))
    assert frames[5][1] == pytest.approx(0.5)                  # 10 fps
    assert frames[0][2].shape == (48, 64, 3)
    # frames come in order: brightness grows by 20 a frame
    means = [f[2].mean() for f in frames]
    assert all(b > a for a, b in zip(means, means[1:]))
    assert [f[0] for f in iter_video(small_video, every=5)] == [0, 5, 10]
    resumed = list(iter_video(small_video, every=3, start=6))
    assert [f[0] for f in resumed] == [6, 9]
    assert abs(resumed[0][2].mean() - means[6]) < 3            # really frame 6


def test_iter_video_is_a_generator_holding_one_frame(small_video):
    it = iter_video(small_video)
    first = next(it)
    assert first[0] == 0
    it.close()                                                 # releases the capture


def test_bad_videos(tmp_path, small_video):
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"this is not a video" * 10)
    with pytest.raises(MediaError) as err:
        list(iter_video(fake))
    assert "fake.mp4" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(MediaError, match="no such file"):
        open_video(tmp_path / "missing.mp4")
    # A truncated video yields the frames it has, or fails in one line; never a traceback.
    cut = tmp_path / "cut.avi"
    cut.write_bytes(small_video.read_bytes()[: small_video.stat().st_size // 2])
    try:
        frames = list(iter_video(cut))
        assert len(frames) < 12
    except MediaError as exc:
        assert "\n" not in str(exc)


def test_camera_that_does_not_exist():
    with pytest.raises(MediaError, match="camera 57"):
        open_video(57)


# ------------------------------------------------------------------ inputs
def test_expand_inputs(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b.jpg", "a.PNG", "clip.mp4", "notes.txt", ".hidden.jpg", "sub/c.jpeg", "sub/readme.md"):
        (tmp_path / name).write_bytes(b"x")
    files, skipped = expand_inputs([tmp_path])
    assert [f.name for f in files] == ["a.PNG", "b.jpg", "clip.mp4"]
    assert [f.name for f in skipped] == ["notes.txt"]
    files, skipped = expand_inputs([tmp_path], recursive=True)
    assert sorted(f.name for f in files) == ["a.PNG", "b.jpg", "c.jpeg", "clip.mp4"]
    assert sorted(f.name for f in skipped) == ["notes.txt", "readme.md"]
    # explicitly named files are kept, whatever they are, so they get their error row
    files, _ = expand_inputs([tmp_path / "notes.txt", tmp_path / "missing.jpg"])
    assert [f.name for f in files] == ["notes.txt", "missing.jpg"]
    assert media_kind("x.MOV") == "video" and media_kind("x.webp") == "image" and media_kind("x.txt") == "unknown"
