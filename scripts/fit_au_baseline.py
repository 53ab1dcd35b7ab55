"""Refit the mesh AUs' neutral baseline (models/au_mesh_baseline.json) from FER2013.

    python scripts/fit_au_baseline.py [--data PATH]

The face mesh is run on every FER2013 image once (cached in ~/.cache/fer_au;
~7 min on one core the first time); the baseline is the head frame and the
median and spread of each AU measure over the Neutral faces of the Training
split whose mesh presence is >= 0.5.  No emotion label other than "neutral"
is read: the AUs are never fitted to emotions.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fer_au import zoo  # noqa: E402
from fer_au.data import find_data, load_fer2013  # noqa: E402
from fer_au.labels import FER7  # noqa: E402
from fer_au.mesh import crop_meshes  # noqa: E402
from fer_au.mesh_aus import BASELINE_FILE, MeshAUEstimator  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="FER2013 CSV or folder (default: found automatically)")
    ap.add_argument("--models-dir", default=None, help="where to write the baseline (default: models/)")
    args = ap.parse_args()
    path = find_data(args.data)
    if path is None:
        sys.exit("FER2013 not found: pass --data PATH")
    ds = load_fer2013(path)
    neutral = (ds.usage == "Training") & (ds.labels == FER7.index("neutral"))
    meshes, presence = crop_meshes(ds.images[neutral], progress=True)
    est = MeshAUEstimator().fit(meshes[presence >= 0.5])
    out = Path(args.models_dir or zoo.MODELS_DIR)
    est.save(out / BASELINE_FILE)
    zoo.write_manifest(out)
    print(f"{est.n_fit_} neutral Training faces -> {out / BASELINE_FILE} (manifest updated)")


if __name__ == "__main__":
    main()
