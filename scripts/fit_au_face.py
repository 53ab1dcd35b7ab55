"""Fit the linear AU -> face-shape model that ``fer_au.plots.plot_face`` draws with:
models/au_face.npz.

    python scripts/fit_au_face.py [--data PATH] [--n 6000] [--alpha 10]

On a random subsample of FER2013's Training faces (all of them would take
~15 min of dlib per core the first time; the landmarks are cached in
~/.cache/fer_au, so a rerun takes seconds): dlib's 68 points + the face mesh's
depth -> the default AU intensities (``aus3d.PoseFreeAUEstimator``, exactly what
``analyze`` writes) and the same points in the estimator's frontal head frame
(canonical 48-px units).  A ridge regression then maps the 17 intensities to the
136 coordinates: ``shape = mean + aus @ coef``.  Every face also enters
mirrored (same AUs, mirrored points), so the model is left-right symmetric.
No emotion label is read.  Prints the held-out R^2 per landmark group.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fer_au import zoo  # noqa: E402
from fer_au.aus import AU_CODES  # noqa: E402
from fer_au.aus3d import PoseFreeAUEstimator, frontalize, with_depth  # noqa: E402
from fer_au.data import find_data, load_fer2013  # noqa: E402
from fer_au.faces import crop_landmarks, usable  # noqa: E402
from fer_au.geometry import MIRROR_PERM  # noqa: E402
from fer_au.mesh import crop_meshes  # noqa: E402

FILE = "au_face.npz"
GROUPS = {"jaw": range(0, 17), "brows": range(17, 27), "nose": range(27, 36), "eyes": range(36, 48),
          "mouth": range(48, 68)}


def ridge(X, Y, alpha):
    """Ridge with an unpenalised intercept: returns (intercept (D,), coef (P, D))."""
    mx, my = X.mean(0), Y.mean(0)
    Xc, Yc = X - mx, Y - my
    coef = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ Yc)
    return my - mx @ coef, coef


def mirrored(points2d):
    """Frontal (N, 68, 2) points of the mirrored faces (x about the canonical midline 24)."""
    out = points2d[:, MIRROR_PERM].copy()
    out[..., 0] = 48.0 - out[..., 0]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="FER2013 CSV or folder (default: found automatically)")
    ap.add_argument("--n", type=int, default=6000, help="Training faces to sample (default 6000)")
    ap.add_argument("--alpha", type=float, default=10.0, help="ridge penalty (default 10)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models-dir", default=None, help="where to write the model (default: models/)")
    args = ap.parse_args()
    path = find_data(args.data)
    if path is None:
        sys.exit("FER2013 not found: pass --data PATH")
    ds = load_fer2013(path)
    train = np.flatnonzero(ds.usage == "Training")
    pick = np.sort(np.random.default_rng(args.seed).choice(train, min(args.n, len(train)), replace=False))
    images = ds.images[pick]
    lm, det, res = crop_landmarks(images, progress=True)
    meshes, presence = crop_meshes(images, progress=True)
    ok = usable(det, res) & (presence >= 0.5)
    est = PoseFreeAUEstimator.load_shipped(args.models_dir)
    pts = with_depth(lm[ok], meshes[ok])
    aus = est.transform(pts)                          # (N, 17), 0..5
    shape = frontalize(pts, est.reference_)           # (N, 68, 2) canonical px
    X = np.vstack([aus, aus])
    Y = np.vstack([shape, mirrored(shape)]).reshape(2 * len(shape), -1)

    # held-out check on the last fifth (faces and their mirrors kept together)
    n = len(shape)
    cut = int(0.8 * n)
    tr = np.r_[0:cut, n:n + cut]
    te = np.r_[cut:n, n + cut:2 * n]
    b, W = ridge(X[tr], Y[tr], args.alpha)
    pred = b + X[te] @ W
    err = ((Y[te] - pred) ** 2).reshape(-1, 68, 2).sum(-1)
    var = ((Y[te] - Y[tr].mean(0)) ** 2).reshape(-1, 68, 2).sum(-1)
    print(f"{n} usable faces of {len(pick)} sampled Training faces; held-out R^2 of the points:")
    for g, idx in GROUPS.items():
        idx = list(idx)
        print(f"  {g:6s} {1 - err[:, idx].sum() / var[:, idx].sum():.3f}")

    b, W = ridge(X, Y, args.alpha)
    out = Path(args.models_dir or zoo.MODELS_DIR) / FILE
    np.savez(out, intercept=b.reshape(68, 2).astype(np.float32), coef=W.reshape(-1, 68, 2).astype(np.float32),
             au_codes=np.array(AU_CODES), alpha=np.float64(args.alpha), n_faces=np.int64(n),
             units=np.array("canonical 48-px frontal head frame (aus3d), y down"))
    print(f"-> {out}")
    zoo.write_manifest(out.parent)


if __name__ == "__main__":
    main()
