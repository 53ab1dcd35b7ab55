"""`python cli.py train classical`: the shipped scikit-learn model (HOG + LBP + dense SIFT,
PCA, plus the landmark face shape; Nystroem RBF, logistic regression)."""
from __future__ import annotations

from pathlib import Path


def add_parser(tsub):
    import argparse

    from ..classical_params import SHIPPED_PARAMS
    p = tsub.add_parser(
        "classical", help="the scikit-learn model (handcrafted features + RBF kernel)",
        description="Train the shipped classical model on Training (plus mirrored copies) with "
                    "the hyper-parameters chosen on PublicTest (bench/classical_compare.py), "
                    "print its PublicTest figures and ship it as models/classical_fer7.joblib "
                    "with its sha256 in the manifest. PrivateTest is never looked at; score it "
                    "with `python cli.py evaluate --model classical`.")
    p.add_argument("--data", required=True, help="fer2013.csv[.gz] or its folder")
    p.add_argument("--pca", type=int, default=SHIPPED_PARAMS["pca"], help="PCA components")
    p.add_argument("--gamma-scale", type=float, default=SHIPPED_PARAMS["gamma_scale"],
                   help="RBF gamma = this / median squared distance between training faces")
    p.add_argument("--n-components", type=int, default=SHIPPED_PARAMS["n_components"],
                   help="Nystroem landmarks of the RBF map")
    p.add_argument("--C", type=float, default=SHIPPED_PARAMS["C"], help="logistic-regression C")
    p.add_argument("--landmarks", choices=["kmeans", "random"], default=SHIPPED_PARAMS["landmarks"],
                   help="Nystroem landmarks: k-means centres or random training faces")
    p.add_argument("--no-hflip", action="store_true", help="do not add mirrored training faces")
    p.add_argument("--flip-test", action=argparse.BooleanOptionalAction,
                   default=SHIPPED_PARAMS["flip_test"],
                   help="average each face's prediction with its mirror image's")
    p.add_argument("--shape-weight", type=float, default=SHIPPED_PARAMS["shape_weight"],
                   help="weight of the face-shape block (dlib landmarks + head pose) beside the "
                        "appearance features; 0 = appearance only")
    p.add_argument("--features-cache", default=None,
                   help="keep the training features in this .npz (e.g. runs/classical_features.npz) "
                        "and reuse them when the faces match; saves the extraction on a re-run")
    p.add_argument("--limit", type=int, default=None,
                   help="train on the first N Training faces only (quick checks; not for shipping)")
    p.add_argument("--models-dir", default=None, help="where to ship the model (default models/)")
    p.add_argument("--seed", type=int, default=0)
    return p


def run(args) -> int:
    import time

    from .. import zoo
    from ..classifiers import ClassicalEmotionModel, save_classical
    from ..data import load_fer2013
    from ..evaluate import format_report, metrics

    ds = load_fer2013(args.data)
    tr, va = ds.split("Training"), ds.split("PublicTest")
    if args.limit:
        tr = tr[: args.limit]
    model = ClassicalEmotionModel(pca=args.pca, gamma_scale=args.gamma_scale, n_components=args.n_components,
                                  landmarks=args.landmarks, C=args.C, hflip=not args.no_hflip,
                                  flip_test=args.flip_test, shape_weight=args.shape_weight, random_state=args.seed,
                                  progress=True)
    t = time.perf_counter()
    model.fit(tr.images, tr.labels, features_cache=args.features_cache)
    print(f"trained on {model.n_train_} faces in {time.perf_counter() - t:.0f} s")
    model.progress = False
    model.compact()
    proba = model.predict_proba(va.images)
    for scheme in ("fer7", "fer6"):
        print(format_report(metrics(proba, va.labels, scheme), title=f"PublicTest ({scheme})"))
    models_dir = Path(args.models_dir or zoo.MODELS_DIR)
    path = save_classical(model, models_dir)
    print(f"shipped {path} ({path.stat().st_size / 1e6:.1f} MB); sha256 in {models_dir / zoo.MANIFEST}")
    return 0
