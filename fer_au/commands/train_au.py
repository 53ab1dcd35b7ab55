"""`python cli.py train au`: the AU baseline and the XGBoost emotion models on the FACS path."""
from __future__ import annotations


def add_parser(tsub):
    p = tsub.add_parser("au", help="AU baseline + XGBoost on AUs (au), + landmark geometry (au_geom), + HOG (au_app)",
                        description="Find dlib's 68 landmarks on every FER2013 image (cached under "
                                    "~/.cache/fer_au; ~10-20 min the first time on one core), fit the "
                                    "neutral AU baseline on Training's Neutral faces, train XGBoost on "
                                    "Training, tune on PublicTest, score PrivateTest once, and ship "
                                    "models/au_baseline.json, models/au_xgb_fer7.ubj, "
                                    "models/au_geom_xgb_fer7.ubj, models/au_app_xgb_fer7.ubj and "
                                    "models/au_app_hog_pca.npz with their sha256 in the manifest "
                                    "and their accuracy in models/metrics.json.")
    p.add_argument("--data", required=True, help="fer2013.csv[.gz] or its folder")
    p.add_argument("--models", nargs="+", default=["au", "au_geom", "au_app"],
                   choices=["au", "au_geom", "au_app"], help="which models to train (default all three)")
    p.add_argument("--models-dir", default=None, help="where to ship them (default models/)")
    p.add_argument("--threads", type=int, default=1, help="XGBoost threads (default 1)")
    return p


def run(args) -> int:
    from .. import zoo
    from ..training.au import train_models
    from ..data import load_fer2013

    ds = load_fer2013(args.data)
    res = train_models(ds, args.models_dir or zoo.MODELS_DIR, kinds=args.models, progress=True,
                       nthread=args.threads)
    for kind, r in res.items():
        print(f"{kind}: PrivateTest accuracy fer7 {r['fer7']:.4f}  fer6 {r['fer6']:.4f}  "
              f"(PublicTest {r['publictest']:.4f}; {r['params']})")
    return 0
