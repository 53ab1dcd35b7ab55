"""`pip install` anywhere: the wheel carries the models and the `fer-au` command.

Builds the wheel from this checkout, installs it (without its dependencies: they
come from this test's own environment through a .pth line, so nothing is
downloaded) into a new virtual environment, and runs the commands a new user
would, from a folder outside the checkout, with the checkout out of reach.
"""
import os
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"

pytestmark = pytest.mark.slow


def _run(cmd, cwd, env, timeout=600):
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{cmd} failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return r


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(python, fer-au, environment, working folder) of a fresh venv holding only the wheel."""
    tmp = tmp_path_factory.mktemp("install")
    wheels = tmp / "wheels"
    env = {k: v for k, v in os.environ.items() if k not in ("FER_AU_MODELS", "PYTHONPATH")}
    # build in a copy, so the checkout gets no build/ folder
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "runs", "out"))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
          "-w", str(wheels), str(src)], cwd=tmp, env=env)
    wheel = next(wheels.glob("fer_au-*.whl"))
    target = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    py = target / "bin" / "python"
    # the dependencies: this environment's site-packages as a plain path (its .pth files,
    # among them the editable install of this checkout, are not processed from there)
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q", str(wheel)],
         cwd=tmp, env=env)
    work = tmp / "work"
    work.mkdir()
    shutil.copy(SAMPLES / "astronaut.jpg", work / "photo.jpg")
    shutil.copy(SAMPLES / "two_faces.mp4", work / "video.mp4")
    return py, target / "bin" / "fer-au", env, work, wheel


def test_the_wheel_carries_the_models(installed):
    py, _, env, work, wheel = installed
    r = _run([str(py), "-c", "import fer_au; from fer_au import zoo; print(fer_au.__file__); "
              "print(zoo.MODELS_DIR)"], cwd=work, env=env)
    where, models = r.stdout.splitlines()[:2]
    assert not where.startswith(str(REPO)), f"fer_au imported from the checkout: {where}"
    assert not models.startswith(str(REPO)) and (Path(models) / "cnn_fer7.keras").exists()
    assert wheel.stat().st_size > 20e6          # the weights are in it


def test_commands_work_outside_the_checkout(installed):
    py, fer_au_cmd, env, work, _ = installed
    assert "usage: fer-au" in _run([str(fer_au_cmd), "--help"], cwd=work, env=env).stdout
    assert "usage: python -m fer_au" in _run([str(py), "-m", "fer_au", "--help"], cwd=work, env=env).stdout
    _run([str(py), "-c", "from fer_au import FaceAnalyzer; FaceAnalyzer()"], cwd=work, env=env)
    _run([str(fer_au_cmd), "analyze", "photo.jpg", "-o", "out.csv"], cwd=work, env=env)
    import pandas as pd
    rows = pd.read_csv(work / "out.csv")
    assert len(rows) == 1 and rows["happiness"].notna().all() and rows["AU12"].notna().all()
    _run([str(fer_au_cmd), "live", "--source", "video.mp4", "--no-display", "--max-frames", "10"],
         cwd=work, env=env)


def test_fer_au_models_overrides_the_folder(installed, tmp_path):
    py, _, env, work, _ = installed
    env = dict(env, FER_AU_MODELS=str(tmp_path))
    r = subprocess.run([str(py), "-c", "from fer_au import zoo; print(zoo.MODELS_DIR)"], cwd=work, env=env,
                       capture_output=True, text=True)
    assert r.stdout.strip() == str(tmp_path)
