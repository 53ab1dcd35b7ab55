"""Refit the AUs' neutral baselines from FER2013's neutral Training faces:
models/au_posefree_baseline.json (dlib's 68 points + the mesh's depth, the
default AUs) and models/au_mesh_baseline.json (the mesh-only AUs).

    python scripts/fit_au_baseline.py [--data PATH]

dlib's landmarks and the face mesh run on each neutral Training face (cached
in ~/.cache/fer_au; ~3 min on one core the first time); each baseline is a
neutral 3-D face (the head frame) and the median and spread of each AU measure
over the faces where the mesh found a face (presence >= 0.5).  No emotion label
other than "neutral" is read: the AUs are never fitted to emotions.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fer_au import zoo  # noqa: E402
from fer_au.data import find_data, load_fer2013  # noqa: E402
from fer_au.labels import FER7  # noqa: E402
from fer_au.aus3d import BASELINE_FILE as POSEFREE_FILE, PoseFreeAUEstimator, with_depth  # noqa: E402
from fer_au.faces import crop_landmarks  # noqa: E402
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
    found = presence >= 0.5
    out = Path(args.models_dir or zoo.MODELS_DIR)
    est = MeshAUEstimator().fit(meshes[found])
    est.save(out / BASELINE_FILE)
    print(f"mesh AUs: {est.n_fit_} neutral Training faces -> {out / BASELINE_FILE}")
    lm, _, _ = crop_landmarks(ds.images[neutral], progress=True)
    est = PoseFreeAUEstimator().fit(with_depth(lm, meshes)[found])
    est.save(out / POSEFREE_FILE)
    print(f"pose-free AUs: {est.n_fit_} neutral Training faces -> {out / POSEFREE_FILE}")
    zoo.write_manifest(out)


if __name__ == "__main__":
    main()
