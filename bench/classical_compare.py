"""Classical classifiers on PublicTest: the comparison, and the shipped model's search.

    python bench/classical_compare.py [--data PATH] [--max-train 10000]
    python bench/classical_compare.py --search [--pca 300] [--gamma-scale 1,2] [--C 3,10] \
        [--n-components 4000] [--shape-weight 0,4] [--features-cache runs/classical_features.npz]

Without --search: every feature set (pixels, HOG, LBP, dense SIFT, all three) x every
classifier (logistic regression, linear SVM, RBF SVM, random forest, k-NN, XGBoost),
trained on a stratified sample of Training (--max-train faces; the RBF SVM is
quadratic in samples) and scored on PublicTest.

With --search: the shipped model (fer_au.classifiers.ClassicalEmotionModel) trained on
all of Training plus mirror images, for each combination of the listed
hyper-parameters, scored on PublicTest. The features are computed once (and cached with
--features-cache). PrivateTest is never read here: the choice is made on PublicTest.
"""
import argparse
import itertools
import os
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from fer_au import classifiers as C  # noqa: E402
from fer_au.training import classical as T  # noqa: E402
from fer_au.data import load_fer2013  # noqa: E402
from _data import fer2013_path  # noqa: E402
from fer_au.evaluate import metrics  # noqa: E402
from fer_au.features import hflip_augment  # noqa: E402
from fer_au.geometry import mirror  # noqa: E402


def floats(text):
    return [float(v) for v in text.split(",")]


def ints(text):
    return [int(v) for v in text.split(",")]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="FER2013 CSV or folder (default: found automatically)")
    ap.add_argument("--max-train", type=int, default=10000, help="comparison: Training faces sampled")
    ap.add_argument("--features", default=",".join(C.FEATURES), help="comparison: feature sets")
    ap.add_argument("--classifiers", default=",".join(C.CLASSIFIERS), help="comparison: classifiers")
    ap.add_argument("--search", action="store_true", help="search the shipped model's hyper-parameters")
    ap.add_argument("--pca", type=ints, default=[C.SHIPPED_PARAMS["pca"]])
    ap.add_argument("--gamma-scale", type=floats, default=[C.SHIPPED_PARAMS["gamma_scale"]])
    ap.add_argument("--n-components", type=ints, default=[C.SHIPPED_PARAMS["n_components"]])
    ap.add_argument("--C", type=floats, default=[C.SHIPPED_PARAMS["C"]])
    ap.add_argument("--shape-weight", type=floats, default=[C.SHIPPED_PARAMS["shape_weight"]],
                    help="weights of the landmark face-shape block (0 = appearance only)")
    ap.add_argument("--features-cache", default=None, help="search: .npz to keep the feature matrices in")
    args = ap.parse_args()

    path = fer2013_path(args.data)
    ds = load_fer2013(path)
    train, val = ds.split("Training"), ds.split("PublicTest")

    if not args.search:
        import pandas as pd
        table = T.compare(train.images, train.labels, val.images, val.labels,
                          features=args.features.split(","), classifiers=args.classifiers.split(","),
                          max_train=args.max_train)
        with pd.option_context("display.width", 120):
            print(f"PublicTest (n={len(val)}), trained on {min(args.max_train, len(train))} Training faces, "
                  f"PCA 200 whitened")
            print(table.round(4).to_string(index=False))
        return

    base = C.ClassicalEmotionModel(**{k: v for k, v in C.SHIPPED_PARAMS.items()
                                      if k in C.ClassicalEmotionModel().get_params()}, progress=True)
    cache = Path(args.features_cache) if args.features_cache else None
    if cache is not None and cache.exists():
        z = np.load(cache)
        H, y, Hv = z["H"], z["y"], z["Hv"]
        print(f"features from {cache}")
    else:
        X, y = hflip_augment(train.images, train.labels)
        H = base.featurize(X, "features (Training + mirrored)")
        Hv = base.featurize(val.images, "features (PublicTest)")
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache, H=H, y=y, Hv=Hv)
    Hvf = base.featurize(val.images[:, :, ::-1], "features (PublicTest mirrored)")
    # face shapes from dlib's landmarks (cached on disk); a mirror image gets mirrored landmarks
    lm, lmv = base.landmarks_of(train.images), base.landmarks_of(val.images)
    S = np.vstack([base.shape_features(lm), base.shape_features(mirror(lm, 48))])
    Sv, Svf = base.shape_features(lmv), base.shape_features(mirror(lmv, 48))
    print(f"Training + mirrored: {H.shape}; PublicTest: {Hv.shape}")
    print("acc7/f1_7/acc6: one view; +flip: the face and its mirror averaged (flip_test=True)")
    print(f"{'pca':>4} {'gamma_scale':>11} {'n_comp':>6} {'C':>6} {'shape':>5} {'acc7':>7} {'f1_7':>7} {'acc6':>7} "
          f"{'acc7+flip':>9} {'f1_7+flip':>9} {'acc6+flip':>9} {'fit_s':>6}")
    grid = itertools.product(args.pca, args.gamma_scale, args.n_components, args.C, args.shape_weight)
    for pca, gs, nc, c, sw in grid:
        model = C.ClassicalEmotionModel(pca=pca, gamma_scale=gs, n_components=nc, C=c, shape_weight=sw)
        t = time.perf_counter()
        model.fit_features(H, y, S)
        proba = model.predict_proba_features(Hv, Sv)
        both = (proba + model.predict_proba_features(Hvf, Svf)) / 2
        m7, m6 = metrics(proba, val.labels, "fer7"), metrics(proba, val.labels, "fer6")
        f7, f6 = metrics(both, val.labels, "fer7"), metrics(both, val.labels, "fer6")
        print(f"{pca:>4} {gs:>11g} {nc:>6} {c:>6g} {sw:>5g} {m7['accuracy']:>7.4f} {m7['macro_f1']:>7.4f} "
              f"{m6['accuracy']:>7.4f} {f7['accuracy']:>9.4f} {f7['macro_f1']:>9.4f} "
              f"{f6['accuracy']:>9.4f} {time.perf_counter() - t:>6.0f}", flush=True)


if __name__ == "__main__":
    main()
