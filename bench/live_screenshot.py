"""Screenshot of `python cli.py live` running for real in a window, under Xvfb.

    python bench/live_screenshot.py [--source samples/two_faces.mp4] [-o docs/screenshots/live.png]

Starts a virtual X server (Xvfb), runs `cli.py live --source VIDEO` in it,
waits for its window, presses "s" in it (xdotool) so live saves its own
snapshot, grabs the screen (xwd), crops it to the window, presses "q" and
checks that live quit.  Needs the Debian/Ubuntu packages xvfb, xdotool and
x11-apps.  tests/test_live.py uses the same helpers.
"""
from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ("Xvfb", "xdotool", "xwd")
WINDOW_NAME = "fer_au live"


def tools_missing() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


def read_xwd(data: bytes) -> np.ndarray:
    """A 24/32-bit ZPixmap XWD dump (what ``xwd`` writes) -> BGR uint8 (H, W, 3)."""
    fields = struct.unpack(">25I", data[:100])
    header_size, _version, fmt, depth, width, height = fields[:6]
    byte_order, bits_per_pixel, bytes_per_line = fields[7], fields[11], fields[12]
    ncolors = fields[19]
    if fmt != 2 or bits_per_pixel not in (24, 32) or depth < 24:
        raise ValueError(f"unsupported XWD: format {fmt}, depth {depth}, {bits_per_pixel} bits per pixel")
    start = header_size + 12 * ncolors
    nb = bits_per_pixel // 8
    rows = np.frombuffer(data, np.uint8, count=bytes_per_line * height, offset=start)
    px = rows.reshape(height, bytes_per_line)[:, :width * nb].reshape(height, width, nb)
    if byte_order == 0:          # LSBFirst: B, G, R(, X)
        return np.ascontiguousarray(px[..., :3])
    return np.ascontiguousarray(px[..., nb - 3:nb][..., ::-1])   # MSBFirst: (X,) R, G, B


class VirtualDisplay:
    """An Xvfb server on a free display number, for as long as the ``with`` lasts."""

    def __init__(self, size=(1280, 800)):
        self.size = size
        self.proc = None
        self.display = None

    def __enter__(self):
        for n in range(97, 140):
            if Path(f"/tmp/.X11-unix/X{n}").exists() or Path(f"/tmp/.X{n}-lock").exists():
                continue
            proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", f"{self.size[0]}x{self.size[1]}x24",
                                     "-nolisten", "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(100):
                if Path(f"/tmp/.X11-unix/X{n}").exists():
                    break
                if proc.poll() is not None:
                    break
                time.sleep(0.05)
            if proc.poll() is None:
                self.proc, self.display = proc, f":{n}"
                return self
        raise RuntimeError("could not start Xvfb")

    def env(self) -> dict:
        env = dict(os.environ, DISPLAY=self.display)
        env.pop("WAYLAND_DISPLAY", None)
        return env

    def run(self, *cmd, check=True, timeout=30) -> str:
        p = subprocess.run(list(cmd), env=self.env(), capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed: {p.stderr.strip()}")
        return p.stdout

    def find_window(self, name=WINDOW_NAME, timeout=180.0, proc=None) -> str | None:
        """The id of the visible window called ``name``; None if it does not appear in
        ``timeout`` seconds or ``proc`` (the program that should open it) exits first."""
        deadline = time.time() + timeout
        while time.time() < deadline and (proc is None or proc.poll() is None):
            out = self.run("xdotool", "search", "--onlyvisible", "--name", name, check=False)
            ids = out.split()
            if ids:
                return ids[-1]
            time.sleep(0.25)
        return None

    def geometry(self, win) -> tuple[int, int, int, int]:
        out = self.run("xdotool", "getwindowgeometry", "--shell", win)
        g = dict(line.split("=") for line in out.split() if "=" in line)
        return int(g["X"]), int(g["Y"]), int(g["WIDTH"]), int(g["HEIGHT"])

    def key(self, win, key) -> None:
        self.run("xdotool", "windowactivate", "--sync", win, check=False)
        self.run("xdotool", "key", "--window", win, key, check=False)
        self.run("xdotool", "key", key, check=False)

    def screenshot(self) -> np.ndarray:
        p = subprocess.run(["xwd", "-root", "-silent"], env=self.env(), capture_output=True, timeout=30)
        if p.returncode != 0:
            raise RuntimeError(f"xwd failed: {p.stderr.decode(errors='replace').strip()}")
        return read_xwd(p.stdout)

    def __exit__(self, *exc):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def capture_live(source, out_png, snapshot_dir, extra=(), settle=2.0, log=print):
    """Run live in Xvfb, press s, grab the window, press q. Returns a dict of results."""
    import cv2

    with VirtualDisplay() as vd:
        cmd = [sys.executable, str(ROOT / "cli.py"), "live", "--source", str(source), "--realtime",
               "--snapshot-dir", str(snapshot_dir), *extra]
        proc = subprocess.Popen(cmd, env=vd.env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            win = vd.find_window(proc=proc)
            if win is None:
                why = proc.stderr.read().strip() if proc.poll() is not None else "timed out"
                raise RuntimeError(f"the live window never appeared: {why}")
            time.sleep(settle)                       # let tracking and the FPS counter settle
            x, y, w, h = vd.geometry(win)
            vd.key(win, "s")
            screen = vd.screenshot()
            if proc.poll() is not None:
                raise RuntimeError("live ended before the screenshot: use a longer video or a shorter --settle")
            shot = screen[y:y + h, x:x + w]
            Path(out_png).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(out_png), shot)
            log(f"window {w}x{h} at ({x}, {y}) -> {out_png}")
            time.sleep(1.0)
            vd.key(win, "q")
            stdout, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        return {"returncode": proc.returncode, "stdout": stdout, "stderr": stderr, "window": shot,
                "screen": screen, "geometry": (x, y, w, h)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default=str(ROOT / "samples" / "two_faces.mp4"))
    ap.add_argument("-o", "--output", default=str(ROOT / "docs" / "screenshots" / "live.png"))
    ap.add_argument("--settle", type=float, default=2.0, help="seconds to run before the screenshot")
    ap.add_argument("--smooth", action="store_true", help="pass --smooth to live")
    args = ap.parse_args()
    missing = tools_missing()
    if missing:
        raise SystemExit(f"missing: {', '.join(missing)} (apt-get install xvfb xdotool x11-apps)")
    import tempfile
    snaps = Path(tempfile.mkdtemp(prefix="fer_au_snap_"))
    r = capture_live(args.source, args.output, snaps, extra=["--smooth"] if args.smooth else [],
                     settle=args.settle)
    print(r["stdout"].strip())
    print(f"live exited with {r['returncode']}; snapshots: {sorted(p.name for p in snaps.iterdir())}")


if __name__ == "__main__":
    main()
