"""The FACS path's figures: landmark success, EMFACS concordance of the AUs,
their invariance, the AU emotion models, and what those models learned.

    python bench/aus.py [--data PATH] [--split PrivateTest] [--invariance-faces 500]
                        [--skip-invariance] [--skip-validity] [--skip-models] [--json results.json]

1. Landmarks: how many FER2013 images the face mesh finds a face on (presence
   >= 0.5), per split.
2. EMFACS concordance: AUROC of each AU's intensity (0-5, the default AUs of
   ``fer_au.aus3d``: dlib's points + the mesh's depth) separating each emotion
   from neutral on --split (faces the mesh found), the whole emotion x AU table,
   and the floors of issue 4.
3. Invariance: median |change| of each AU's intensity when the image is rotated
   +-15 deg, scaled 0.5x/2x, shifted, all at random, or mirrored (on
   --invariance-faces faces of --split), through the whole analyzer (BlazeFace,
   dlib + face mesh, AUs).
3b. Validity on real full-resolution faces (``bench/_au_validity.py``):
   selectivity (a synthetic movement of one AU's region, warped into the photo,
   raises that AU by >= 1 and moves AUs of other regions by < 0.3), scale
   consistency (full resolution vs its 48-px crop, median |difference| < 0.5),
   pose (synthetic yaw +-30 deg from the 3-D mesh, median |change| < 0.7).
4. The shipped AU models (au, au_geom, au_app): 7- and 6-class accuracy on PrivateTest.
5. Per-emotion AU importance (mean |SHAP| from XGBoost pred_contribs) and each
   emotion's learned AU profile beside its EMFACS prototype.
Runs on one core (OMP_NUM_THREADS=1); ~5-10 min with the landmark cache warm.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from fer_au import aus, zoo  # noqa: E402
from fer_au.analysis import aus as au_checks  # noqa: E402
from fer_au.analysis.au_models import au_effects, au_importance, au_profile  # noqa: E402
from fer_au.data import load_fer2013  # noqa: E402
from _data import fer2013_path  # noqa: E402
from fer_au.evaluate import metrics  # noqa: E402
from fer_au.mesh import crop_meshes, to_68  # noqa: E402
from fer_au.aus3d import PoseFreeAUEstimator, with_depth  # noqa: E402
from fer_au.faces import crop_landmarks  # noqa: E402

pd.set_option("display.width", 200)
pd.set_option("display.max_columns", 30)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="FER2013 CSV or folder (default: found automatically)")
    ap.add_argument("--split", default="PrivateTest", choices=["Training", "PublicTest", "PrivateTest"])
    ap.add_argument("--invariance-faces", type=int, default=500)
    ap.add_argument("--skip-invariance", action="store_true")
    ap.add_argument("--skip-validity", action="store_true")
    ap.add_argument("--skip-models", action="store_true")
    ap.add_argument("--json", default=None, help="also write every figure to this JSON file")
    args = ap.parse_args()
    path = fer2013_path(args.data)
    ds = load_fer2013(path)
    out = {"split": args.split}

    print("== 1. Landmarks (MediaPipe's face mesh on 48x48 crops)")
    t = time.time()
    meshes, presence = crop_meshes(ds.images, progress=True)
    found = presence >= 0.5
    table = pd.DataFrame({u: {"images": int((ds.usage == u).sum()), "mesh found": int(found[ds.usage == u].sum())}
                          for u in ("Training", "PublicTest", "PrivateTest")}).T
    table["found %"] = (100 * table["mesh found"] / table["images"]).round(1)
    print(table.to_string())
    print(f"({time.time() - t:.0f} s; found = the mesh's face-presence output >= 0.5)")
    out["landmarks"] = table.to_dict(orient="index")

    # the analyzer's default AUs: dlib's points on the crop + the mesh's depth (fer_au.aus3d)
    est = PoseFreeAUEstimator.load_shipped()
    sel = ds.usage == args.split
    part = ds.split(args.split)
    ok = found[sel]
    lm, _, _ = crop_landmarks(part.images, progress=True)
    x = est.transform(with_depth(lm, meshes[sel]))

    print(f"\n== 2. EMFACS concordance on {args.split}: AUROC of each AU's intensity, emotion vs neutral "
          f"({int(ok.sum())} faces the mesh found)")
    auc = au_checks.emfacs_auroc(x[ok], part.labels[ok])
    print(auc.round(3).to_string())
    auc_all = au_checks.emfacs_auroc(x, part.labels)
    floors = au_checks.check_floors(auc)
    floors_all = au_checks.check_floors(auc_all)
    print("\nfloors (issue 4):")
    for f, g in zip(floors, floors_all):
        print(f"  {f['emotion']:<10} {f['AUs']:<10} best {f['best']}: AUROC {f['auroc']:.3f} "
              f"(all {len(part)} faces: {g['auroc']:.3f})  floor {f['floor']:.2f}  "
              f"{'PASS' if f['pass'] else 'FAIL'}")
    out["auroc"] = auc.round(4).to_dict(orient="index")
    out["auroc_all_faces"] = auc_all.round(4).to_dict(orient="index")
    out["floors"] = floors
    print("\nmean intensity per emotion:")
    print(au_checks.means_by_emotion(x[ok], part.labels[ok]).round(2).to_string())

    if not args.skip_invariance:
        n = args.invariance_faces
        idx = np.flatnonzero(ok)[:n]
        print(f"\n== 3. Invariance: median |change| of intensity (0-5 scale) over {len(idx)} {args.split} faces")
        t = time.time()
        from fer_au import FaceAnalyzer
        inv = au_checks.invariance(est, part.images[idx], seed=0, progress=True,
                             analyzer=FaceAnalyzer(emotion_model=None, au_model=None))
        med = au_checks.invariance_table(inv, "median")
        print(med.round(3).to_string())
        print("\nmean |change|:")
        mean = au_checks.invariance_table(inv, "mean")
        print(mean.round(3).to_string())
        worst = float(med.to_numpy().max())
        bil = float(med.loc["mirror", aus.BILATERAL].max())
        print(f"\nlargest median change {worst:.3f} (floor < {au_checks.INVARIANCE_FLOOR}: "
              f"{'PASS' if worst < au_checks.INVARIANCE_FLOOR else 'FAIL'}); mirror, bilateral AUs: {bil:.3f} "
              f"({'PASS' if bil < au_checks.INVARIANCE_FLOOR else 'FAIL'}); the detector found the face in "
              f"{inv['detected']:.1%} of runs; {time.time() - t:.0f} s")
        out["invariance"] = {"median": med.round(4).to_dict(orient="index"),
                             "mean": mean.round(4).to_dict(orient="index"),
                             "max_median": worst, "mirror_bilateral_max_median": bil,
                             "detected": inv["detected"], "faces": int(len(idx))}

    if not args.skip_validity:
        print("\n== 3b. Validity on real full-resolution faces: selectivity, scale, pose")
        from _au_validity import report
        out["validity"] = report()

    if not args.skip_models:
        test = ds.split("PrivateTest")
        print("\n== 4. AU emotion models on PrivateTest")
        out["models"] = {}
        for name in ("au", "au_geom", "au_app"):
            model = zoo.load_model(name)
            proba = model.predict_proba(test.images)
            r = {s: metrics(proba, test.labels, s) for s in ("fer7", "fer6")}
            print(f"{name:<8} fer7 accuracy {r['fer7']['accuracy']:.4f} (macro-F1 {r['fer7']['macro_f1']:.4f})  "
                  f"fer6 accuracy {r['fer6']['accuracy']:.4f} (macro-F1 {r['fer6']['macro_f1']:.4f})")
            out["models"][name] = {s: {"accuracy": r[s]["accuracy"], "macro_f1": r[s]["macro_f1"]} for s in r}

        print("\n== 5. What the AU model learned (model au, PrivateTest)")
        model = zoo.load_model("au")
        feats = model.features(to_68(crop_meshes(test.images)[0]))
        contribs = model.explain(feats)
        imp = au_importance(model, feats, test.labels, contribs=contribs)
        print("mean |SHAP| of each AU for each emotion's score, over that emotion's faces:")
        print(imp.round(3).to_string())
        eff = au_effects(model, feats, contribs=contribs)
        print("\neffect of each AU on each emotion (corr(AU score, its SHAP) x mean |SHAP|; "
              "> 0: more AU -> more emotion):")
        print(eff.round(3).to_string())
        prof = au_profile(model, feats, test.labels, contribs=contribs)
        print("\nlearned AU profile vs EMFACS prototype:")
        print(prof.to_string())
        out["importance"] = imp.round(4).to_dict()
        out["effects"] = eff.round(4).to_dict()
        out["profile"] = prof.reset_index().to_dict(orient="records")

    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=float) + "\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
