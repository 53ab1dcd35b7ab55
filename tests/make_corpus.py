"""A corpus of bad, awkward and broken inputs for `analyze`, generated (nothing binary
is committed), with what `analyze` must make of each.

    python tests/make_corpus.py OUT_DIR        # writes the corpus, prints the expectations

Real faces come from ``fer_au.samples`` (public-domain photos that installed packages
ship).  ``make_corpus(root)`` returns ``{path relative to root: Expect}``; tests run
``analyze root --recursive`` and check every input against it (tests/test_reliability.py).

Also here: the helpers tests need to make files unreadable as root
(``unprivileged``), to write AVIs whose header lies, and a variable-frame-rate MP4.
"""
from __future__ import annotations

import ctypes
import os
import struct
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np


@dataclass
class Expect:
    """What `analyze` must write for one input.

    faces : faces per frame (rows per frame = max(1, faces)); None for an input that
        cannot be read at all (then one error row).
    error : words the input's error row must hold (None: no error row).  With faces
        as well, the error row follows the frame rows (a truncated video).
    warning : words the rows' warning column must hold.
    times : expected approx_time per frame (video presentation times), or None.
    needs_unprivileged : only holds where permissions are enforced (root without
        CAP_DAC_OVERRIDE, see ``unprivileged``).
    """
    faces: list | None = None
    error: str | None = None
    warning: str | None = None
    times: list | None = None
    needs_unprivileged: bool = False
    note: str = field(default="", compare=False)

    @property
    def rows(self) -> int:
        n = sum(max(1, f) for f in self.faces) if self.faces is not None else 0
        return n + (1 if self.error else 0)


# ------------------------------------------------------------------ helpers
def bgr_to_pil(bgr):
    from PIL import Image
    return Image.fromarray(np.ascontiguousarray(bgr[..., ::-1]))


def jpeg_bytes(bgr, quality: int = 90) -> bytes:
    import cv2
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def patch_avi_frame_count(path, frames: int) -> None:
    """Make an AVI's header announce ``frames`` frames (avih dwTotalFrames and the
    video stream's strh dwLength), whatever it holds."""
    b = bytearray(Path(path).read_bytes())
    i = b.find(b"avih")
    b[i + 8 + 16:i + 8 + 20] = struct.pack("<I", frames)
    j = b.find(b"strh")
    b[j + 8 + 32:j + 8 + 36] = struct.pack("<I", frames)
    Path(path).write_bytes(bytes(b))


def count_frames(path) -> int:
    import cv2
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.grab():
        n += 1
    cap.release()
    return n


def have_pyav() -> bool:
    try:
        import av  # noqa: F401
        return True
    except ImportError:
        return False


def face_frame(t: float, size=(320, 240), n_faces: int = 1, seed: int = 5):
    """One frame of a moving-face clip (fer_au.samples), BGR."""
    from fer_au.samples import background, moving_faces, paste
    frame = background(*size, seed=seed)
    for name, cx, cy, fs, flip, angle in moving_faces(n_faces, t, size):
        paste(frame, name, cx, cy, fs, flip, angle)
    return frame


def write_vfr_mp4(path, times, size=(320, 240), fmt: str = "mp4", codec: str = "libx264") -> Path:
    """An H.264 video whose frames carry the given presentation times [s] (variable
    frame rate, like a phone's), written with PyAV; ``fmt='h264'`` writes a raw
    elementary stream, which has no presentation times at all."""
    import av
    path = Path(path)
    with av.open(str(path), "w", format=fmt) as out:
        s = out.add_stream(codec, rate=30)
        s.width, s.height, s.pix_fmt = size[0], size[1], "yuv420p"
        s.time_base = Fraction(1, 1000)
        s.codec_context.time_base = Fraction(1, 1000)
        for t in times:
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(face_frame(t, size)[..., ::-1]), format="rgb24")
            f.pts, f.time_base = int(round(t * 1000)), Fraction(1, 1000)
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


# Presentation times of the VFR clip: 10 frames at 10 fps, then 10 at 30 fps.
VFR_TIMES = [i / 10 for i in range(10)] + [1.0 + i / 30 for i in range(10)]


def drop_dac_override() -> None:
    """preexec_fn: a root child loses CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (from
    the bounding set, so its exec'd program runs without them), so file permissions
    apply to it as to any user."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):      # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:   # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def unprivileged_works(probe_dir) -> bool:
    """Whether a child started with ``drop_dac_override`` is refused a chmod-000 file."""
    import subprocess
    p = Path(probe_dir) / ".probe"
    p.write_text("x")
    p.chmod(0)
    try:
        r = subprocess.run([sys.executable, "-c", f"open({str(p)!r}).read()"], preexec_fn=drop_dac_override,
                           capture_output=True, text=True)
        return r.returncode != 0 and "Permission denied" in r.stderr
    except OSError:
        return False
    finally:
        p.chmod(0o644)
        p.unlink()


# ------------------------------------------------------------------ the corpus
def make_corpus(root, huge_side: int = 10000) -> dict[str, Expect]:
    """Write the corpus under ``root``; return ``{relative path: Expect}``."""
    import cv2
    from PIL import Image

    from fer_au.samples import group_photo, no_face_photo, paste, single_photo, write_video

    root = Path(root)
    img, vid = root / "images", root / "videos"
    img.mkdir(parents=True, exist_ok=True)
    vid.mkdir(parents=True, exist_ok=True)
    ex: dict[str, Expect] = {}
    face, group = single_photo("astronaut"), group_photo()
    nothing = cv2.resize(no_face_photo(), (640, 480), interpolation=cv2.INTER_AREA)
    good = jpeg_bytes(face)

    def put(rel, data: bytes, expect: Expect):
        (root / rel).write_bytes(data)
        ex[rel] = expect

    # readable images, awkward ones included
    put("images/face.jpg", good, Expect([1]))
    put("images/group.jpg", jpeg_bytes(group), Expect([4]))
    put("images/no_face.jpg", jpeg_bytes(nothing), Expect([0]))
    cv2.imwrite(str(img / "gray16.png"), (cv2.cvtColor(face, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257))
    ex["images/gray16.png"] = Expect([1], note="16-bit grey PNG")
    bgr_to_pil(face).convert("P", palette=Image.ADAPTIVE, colors=256).save(img / "palette.png")
    ex["images/palette.png"] = Expect([1], note="palette (P mode)")
    bgr_to_pil(face).convert("CMYK").save(img / "cmyk.jpg", quality=92)
    ex["images/cmyk.jpg"] = Expect([1], note="CMYK JPEG")
    exif = Image.Exif()
    exif[0x0112] = 6        # stored a quarter turn left: viewers turn it right to show it upright
    bgr_to_pil(cv2.rotate(face, cv2.ROTATE_90_COUNTERCLOCKWISE)).save(img / "exif_rotated.jpg", exif=exif,
                                                                      quality=92)
    ex["images/exif_rotated.jpg"] = Expect([1], note="EXIF orientation 6")
    cv2.imwrite(str(img / "one_px.png"), np.full((1, 1, 3), 128, np.uint8))
    ex["images/one_px.png"] = Expect([0])
    cv2.imwrite(str(img / "flat.png"), np.full((200, 200, 3), 90, np.uint8))
    ex["images/flat.png"] = Expect([0])
    put("images/padded.jpg", good[:-2] + b"\x00" * 10 + good[-2:],
        Expect([1], warning="extraneous bytes", note="padding before the end marker: pixels intact"))

    # a huge photo: one face, decoded at reduced size for detection
    canvas = np.full((huge_side, huge_side, 3), (150, 170, 160), np.uint8)
    paste(canvas, "astronaut", huge_side * 0.4, huge_side * 0.55, huge_side * 0.15)
    cv2.imwrite(str(img / "huge.jpg"), canvas, [cv2.IMWRITE_JPEG_QUALITY, 85])
    del canvas
    ex["images/huge.jpg"] = Expect([1], note=f"{huge_side}x{huge_side} JPEG")

    # multi-frame images: every frame is read
    frames = [bgr_to_pil(nothing), bgr_to_pil(face)]
    frames[0].save(img / "animated.gif", save_all=True, append_images=frames[1:], duration=[500, 700], loop=0)
    ex["images/animated.gif"] = Expect([0, 1], times=[0.0, 0.5], note="the face is in frame 2")
    frames = [bgr_to_pil(face), bgr_to_pil(nothing)]
    frames[0].save(img / "animated.webp", save_all=True, append_images=frames[1:], duration=400, loop=0,
                   quality=90)
    ex["images/animated.webp"] = Expect([1, 0], times=[0.0, 0.4])
    pages = [bgr_to_pil(group), bgr_to_pil(face)]
    pages[0].save(img / "pages.tif", save_all=True, append_images=pages[1:])
    ex["images/pages.tif"] = Expect([4, 1], note="2-page TIFF")

    # broken images
    put("images/zero.jpg", b"", Expect(error="empty file"))
    put("images/text.jpg", b"this is a text file, not a picture\n" * 20, Expect(error="not an image"))
    put("images/truncated.jpg", good[: len(good) // 2], Expect(error="truncated"))
    ok, png = cv2.imencode(".png", face)
    put("images/truncated.png", png.tobytes()[: len(png) // 2], Expect(error="truncated"))
    damaged = bytearray(good)
    damaged[len(good) // 2: len(good) // 2 + 64] = bytes(64)
    put("images/damaged.jpg", bytes(damaged), Expect(error="damaged image data",
                                                     note="64 zero bytes in the middle: garbled"))
    put("images/locked.jpg", good, Expect(error="permission denied", needs_unprivileged=True))
    (img / "locked.jpg").chmod(0)
    (img / "broken_link.jpg").symlink_to(root / "nowhere.jpg")
    ex["images/broken_link.jpg"] = Expect(error="no such file")
    (img / "notes.txt").write_text("not media: listed as skipped, no row")

    # folders: a link to one elsewhere (followed), a link back up (a loop), an unreadable one
    other = root.parent / (root.name + "_elsewhere")      # outside the tree analysed
    other.mkdir(exist_ok=True)
    (other / "linked_face.jpg").write_bytes(jpeg_bytes(single_photo("hopper", face_size=160, seed=4)))
    (img / "linked").symlink_to(other, target_is_directory=True)
    ex["images/linked/linked_face.jpg"] = Expect([1], note="reached through a folder link")
    (img / "loop").symlink_to(img, target_is_directory=True)
    locked = img / "locked_dir"
    locked.mkdir(exist_ok=True)
    (locked / "hidden_face.jpg").write_bytes(good)
    locked.chmod(0)
    ex["images/locked_dir"] = Expect(error="folder cannot be read: permission denied", needs_unprivileged=True)

    # videos
    write_video(vid / "two_faces.mp4", n_faces=2, seconds=0.8, fps=10, size=(480, 360))
    ex["videos/two_faces.mp4"] = Expect([2] * 8, times=[i / 10 for i in range(8)])
    write_video(vid / "whole.avi", n_faces=1, seconds=2.0, fps=10, size=(320, 240), fourcc="MJPG")
    data = (vid / "whole.avi").read_bytes()
    (vid / "whole.avi").unlink()
    (vid / "truncated.avi").write_bytes(data[: len(data) // 2])
    kept = count_frames(vid / "truncated.avi")
    ex["videos/truncated.avi"] = Expect([1] * kept, error=f"stops at frame {kept}",
                                        note="cut in half: 20 frames announced")
    write_video(vid / "header_lies.avi", n_faces=1, seconds=1.2, fps=10, size=(320, 240), fourcc="MJPG")
    patch_avi_frame_count(vid / "header_lies.avi", 4)
    ex["videos/header_lies.avi"] = Expect([1] * 12, note="header says 4 frames, holds 12")
    put("videos/zero.mp4", b"", Expect(error="empty file"))
    put("videos/text.mp4", b"not a video at all\n" * 40, Expect(error="cannot open"))
    write_video(vid / "locked.mp4", n_faces=1, seconds=0.2, fps=10, size=(320, 240))
    (vid / "locked.mp4").chmod(0)
    ex["videos/locked.mp4"] = Expect(error="permission denied", needs_unprivileged=True)
    if have_pyav():
        write_vfr_mp4(vid / "vfr.mp4", VFR_TIMES)
        ex["videos/vfr.mp4"] = Expect([1] * len(VFR_TIMES), times=VFR_TIMES, note="variable frame rate")
    return ex


def unlock(root) -> None:
    """Give the corpus' locked files back their permissions (so it can be deleted)."""
    for p in Path(root).rglob("locked*"):
        if not p.is_symlink():
            p.chmod(0o755 if p.is_dir() else 0o644)


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "corpus")
    for rel, e in make_corpus(out).items():
        what = f"error ~ {e.error!r}" if e.faces is None else f"faces per frame {e.faces}" + (
            f", then error ~ {e.error!r}" if e.error else "")
        print(f"{rel:<36} {what}{'  (' + e.note + ')' if e.note else ''}")
