"""`fer-au report`: one self-contained HTML file, checked as text and in a real
browser (Debian's chromium, headless; skipped with the reason where it is missing)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fer_au.report import SECTIONS
from fer_au.results import Results, synthetic_results

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A results CSV (a 2-person video, the sample group photo, an image whose file
    is gone, an error row) and its report written by the command line."""
    from fer_au.cli import main
    tmp = tmp_path_factory.mktemp("report")
    video = synthetic_results(seconds=3, fps=10, persons=2, input="clip.mp4")
    group = synthetic_results(seconds=0.1, fps=10, persons=2, input="x", person_column=False)
    group["input"], group["approx_time"], group["person"] = str(SAMPLES / "group.jpg"), np.nan, ["0", "1"]
    gone = group.iloc[:1].copy()
    gone["input"] = str(tmp / "gone.jpg")
    err = pd.DataFrame([{"input": "broken.jpg", "frame": 0, "error": "broken.jpg: not an image or video"}])
    table = Results(pd.concat([video, group, gone, err], ignore_index=True))
    csv = tmp / "results.csv"
    table.to_csv(csv, index=False)
    out = tmp / "report.html"
    assert main(["report", str(csv), "-o", str(out)]) == 0
    return out


def test_report_is_self_contained(report):
    html = report.read_text()
    for s in SECTIONS:
        assert f'id="{s}"' in html
    # nothing is fetched: every image is inline, no external URLs
    srcs = re.findall(r'(?:src|href)="([^"#]+)"', html)
    assert srcs and all(s.startswith("data:") for s in srcs), [s[:40] for s in srcs if not s.startswith("data:")]
    assert "http://" not in html and "https://" not in html
    assert len(re.findall(r'alt="timeline', html)) == 2             # one per person of the video
    assert 'alt="group.jpg" src="data:image/jpeg;base64,' in html   # thumbnail from the original file
    assert "original file not found" in html                        # gone.jpg
    assert "broken.jpg: not an image or video" in html              # the error row
    assert "mediapipe-blazeface" in html and "fer_au-aus-posefree" in html   # models used
    assert 'alt="face of person 0"' in html                         # plot_face per person
    assert "summary_by_person.csv" in html


def test_report_refuses_to_overwrite_its_input(tmp_path):
    from fer_au.cli import main
    csv = tmp_path / "r.html"
    synthetic_results(seconds=1, fps=5).to_csv(csv, index=False)
    assert main(["report", str(csv), "-o", str(csv)]) == 2


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_report_in_headless_chromium(report, tmp_path):
    import cv2
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (CI installs it with apt-get: .ci/run); browser check skipped")
    base = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}"]
    url = report.resolve().as_uri()
    dom = subprocess.run(base + ["--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    for s in SECTIONS:
        assert f'id="{s}"' in dom, f"section {s} missing from the page chromium loaded"
    shot = tmp_path / "shot.png"
    subprocess.run(base + [f"--screenshot={shot}", "--window-size=1280,2000", url],
                   capture_output=True, timeout=120)
    img = cv2.imread(str(shot))
    assert img is not None, "chromium wrote no screenshot"
    assert img.shape[:2] == (2000, 1280)
    # not blank: the dark header, the light page and plots in many colours
    assert img.std() > 20
    assert len(np.unique(img.reshape(-1, 3)[::7], axis=0)) > 200
    header = img[5:40, 5:300].reshape(-1, 3).mean(0)
    assert header.max() < 90, f"header colour {header} is not the report's dark header"
