"""Can creases in a 48-px face carry AU evidence?  The check behind docs/AUS.md,
"What it still cannot see" (issue 11, item 4: texture for AU06, AU09, AU17).

    python bench/au_texture.py [--data PATH]        # ~2 min with the landmark caches warm

Four FACS actions show in the skin as well as in the landmarks: AU04's furrows in
the glabella, AU06's crow's feet beside the outer eye corners, AU09's wrinkles
across and along the nose, AU17's dimpled chin boss.  For each, a crease measure
is read the way the geometric ones are (``crease_measures``): the face's eye
corners and nose mapped onto ``CANONICAL_68`` at FER2013's resolution (1 px =
1 canonical px, a large face first shrunk by area averaging, so a photo and its
48-px crop agree), brightness and contrast normalised, and the mean positive
curvature of the grey level (the larger Hessian eigenvalue at 1 px: a dark line
or pit) in a box that follows the face's own landmarks (``regions``).  Each is
referenced to FER2013's neutral Training faces (median, 1.4826 x MAD).

Two checks decide whether a crease measure may join its AU:
1. label-free (PublicTest, labels unread): its correlation with each AU's
   geometric score (``aus3d``).  It must go with its own AU more than with any AU
   of another region;
2. FER2013's EMFACS pairs (emotion vs neutral, PublicTest), read only as a
   report: the AU alone, the creases alone, and the two added in neutral spreads.
   Adding a measure must not lower a pair that its AU is known for (issue 4's
   floor: anger's AU04 >= 0.65);
3. scale, on the real full-resolution faces of ``bench/_au_validity.py`` (two
   people, eight faces; Grace Hopper wears glasses): the creases of the photo
   and of its 48-px crop (``Face.crop`` re-analysed) must agree within 0.5
   neutral spreads (median), as the geometric AUs do.

The verdict is printed at the end.  No measure is shipped from here: in this
round none passed both (docs/AUS.md).
"""
import argparse
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PAD = 8              # canvas margin around the 48-px frame (the chin reaches y = 52)
SIZE = 48 + 2 * PAD
SIGMA = 1.0          # scale of a crease, canonical px
TEXTURE_AUS = ("AU04", "AU06", "AU09", "AU17")


def alignment(landmarks68):
    """2x3 similarity taking image pixels to the canvas (``CANONICAL_68`` + ``PAD``)."""
    from fer_au.geometry import CANONICAL_68, STABLE, similarity_params
    lm = np.asarray(landmarks68, np.float64)
    a, t = similarity_params(lm[STABLE], CANONICAL_68[STABLE] + PAD)
    return np.hstack([a, t[:, None]])


def texture_patch(gray, landmarks68):
    """The face on the canonical canvas at FER2013's resolution, (64, 64) float32."""
    import cv2
    img = np.asarray(gray)
    m = alignment(landmarks68)
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    if scale < 0.7:      # shrink the face's surroundings by area averaging, then warp ~1:1
        lm = np.asarray(landmarks68, np.float64)
        span = lm.max(0) - lm.min(0)
        x0, y0 = np.maximum(np.floor(lm.min(0) - span * 0.5).astype(int), 0)
        x1, y1 = np.ceil(lm.max(0) + span * 0.5).astype(int)
        sub = img[y0:y1, x0:x1]
        small = cv2.resize(sub, (max(1, round(sub.shape[1] * scale)), max(1, round(sub.shape[0] * scale))),
                           interpolation=cv2.INTER_AREA)
        back = np.array([[sub.shape[1] / small.shape[1], 0, x0], [0, sub.shape[0] / small.shape[0], y0], [0, 0, 1]])
        m, img = (np.vstack([m, [0, 0, 1]]) @ back)[:2], small
    return cv2.warpAffine(img, m, (SIZE, SIZE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE).astype(np.float32)


def crease_map(patch):
    """Positive part of the larger Hessian eigenvalue of the normalised patch."""
    import cv2
    p = np.asarray(patch, np.float32)
    centre = p[PAD + 12:PAD + 44, PAD + 8:PAD + 40]          # brows to mouth, cheek to cheek
    p = (p - centre.mean()) / max(float(centre.std()), 4.0)
    g = cv2.GaussianBlur(p, (0, 0), SIGMA)
    ixx = cv2.Sobel(g, cv2.CV_32F, 2, 0, ksize=3)
    iyy = cv2.Sobel(g, cv2.CV_32F, 0, 2, ksize=3)
    ixy = cv2.Sobel(g, cv2.CV_32F, 1, 1, ksize=3)
    return np.maximum(0.5 * (ixx + iyy) + np.sqrt(0.25 * (ixx - iyy) ** 2 + ixy ** 2), 0.0)


def regions(p):
    """Boxes (x0, x1, y0, y1), canonical px, from the face's landmarks ``p`` in that frame."""
    er, el = p[39, 0] - p[36, 0], p[45, 0] - p[42, 0]
    down = p[8, 1] - p[57, 1]
    return {
        "AU04": [(p[21, 0], p[22, 0], p[[21, 22], 1].mean() - 0.2 * er, min(p[39, 1], p[42, 1]) - 0.3 * er)],
        "AU06": [(p[36, 0] - 0.55 * er, p[36, 0] - 0.05 * er, p[36, 1] - 0.25 * er, p[36, 1] + 0.6 * er),
                 (p[45, 0] + 0.05 * el, p[45, 0] + 0.55 * el, p[45, 1] - 0.25 * el, p[45, 1] + 0.6 * el)],
        "AU09": [(p[39, 0] + 0.2 * er, p[42, 0] - 0.2 * el, min(p[39, 1], p[42, 1]) - 0.1 * er, p[29, 1]),
                 (p[39, 0] - 0.1 * er, p[39, 0] + 0.4 * er, p[39, 1] + 0.2 * er, p[31, 1] - 0.3 * er),
                 (p[42, 0] - 0.4 * el, p[42, 0] + 0.1 * el, p[42, 1] + 0.2 * el, p[35, 1] - 0.3 * el)],
        "AU17": [(p[7, 0] + 0.15 * (p[9, 0] - p[7, 0]), p[9, 0] - 0.15 * (p[9, 0] - p[7, 0]),
                  p[57, 1] + 0.3 * down, p[8, 1] - 0.2 * down)],
    }


def _box_mean(img, x0, x1, y0, y1):
    h, w = img.shape
    c0, c1 = int(np.clip(round(x0 + PAD), 0, w - 1)), int(np.clip(round(x1 + PAD), 1, w))
    r0, r1 = int(np.clip(round(y0 + PAD), 0, h - 1)), int(np.clip(round(y1 + PAD), 1, h))
    return float(img[r0:max(r1, r0 + 1), c0:max(c1, c0 + 1)].mean())


def crease_measures(gray, landmarks68):
    """(4,) crease strengths of ``TEXTURE_AUS`` for one face."""
    lm = np.asarray(landmarks68, np.float64)
    m = alignment(lm)
    p = lm @ m[:, :2].T + m[:, 2] - PAD
    crease = crease_map(texture_patch(gray, lm))
    return np.array([np.mean([_box_mean(crease, *b) for b in boxes]) for boxes in regions(p).values()])


def main():
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    from _au_validity import _largest, real_faces, share_region
    from _data import fer2013_path
    from fer_au.aus import AU_CODES
    from fer_au.aus3d import PoseFreeAUEstimator, with_depth
    from fer_au.data import load_fer2013
    from fer_au.faces import crop_landmarks
    from fer_au.labels import FER7
    from fer_au.mesh import crop_meshes

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="FER2013 CSV or folder (default: found automatically)")
    args = ap.parse_args()
    ds = load_fer2013(fer2013_path(args.data))
    neutral = FER7.index("neutral")
    est = PoseFreeAUEstimator.load_shipped()
    out = {}
    for split, sel in (("neutral", (ds.usage == "Training") & (ds.labels == neutral)),
                       ("test", ds.usage == "PublicTest")):
        meshes, presence = crop_meshes(ds.images[sel], progress=True)
        lm, _, _ = crop_landmarks(ds.images[sel], progress=True)
        found = presence >= 0.5
        imgs, lm, labels = ds.images[sel][found], lm[found], ds.labels[sel][found]
        out[split] = (est.signed_z(with_depth(lm, meshes[found])),
                      np.stack([crease_measures(im, p) for im, p in zip(imgs, lm)]), labels)
    c = np.median(out["neutral"][1], 0)
    s = 1.4826 * np.median(np.abs(out["neutral"][1] - c), 0)
    geo, raw, labels = out["test"]
    tz = (raw - c) / s

    r = pd.DataFrame([[np.corrcoef(tz[:, i], geo[:, j])[0, 1] for j in range(len(AU_CODES))]
                      for i in range(len(TEXTURE_AUS))], index=[f"{a} creases" for a in TEXTURE_AUS],
                     columns=AU_CODES)
    pd.set_option("display.width", 200)
    print(f"\n1. crease measures against the AUs' geometric scores (Pearson r, {len(tz)} PublicTest faces, "
          "labels unread)")
    print(r.round(2).to_string())

    rows, neu = [], labels == neutral
    for i, au in enumerate(TEXTURE_AUS):
        g = geo[:, AU_CODES.index(au)]
        both = g + tz[:, i]
        for e, name in enumerate(FER7):
            if e == neutral:
                continue
            m = labels == e
            y = np.r_[np.ones(m.sum()), np.zeros(neu.sum())]
            rows.append(dict(au=au, emotion=name, **{k: roc_auc_score(y, np.r_[v[m], v[neu]])
                                                     for k, v in (("AU", g), ("creases", tz[:, i]),
                                                                  ("AU + creases", both))}))
    auc = pd.DataFrame(rows).set_index(["au", "emotion"])
    print("\n2. EMFACS AUROC, emotion vs neutral (PublicTest; a report, nothing is chosen on it)")
    print(auc.round(2).unstack("emotion").to_string())

    import cv2

    from fer_au import FaceAnalyzer
    analyzer = FaceAnalyzer(emotion_model=None, au_model=None)
    rows = []
    for name, img in real_faces().items():
        f = _largest(analyzer.analyze(img))
        crop = [] if f is None else analyzer.analyze(f.crop, crop=True)
        if not crop:
            continue
        full = (crease_measures(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), f.landmarks) - c) / s
        small = (crease_measures(f.crop, crop[0].landmarks) - c) / s
        rows.append(dict(face=name, **{f"{a} photo": v for a, v in zip(TEXTURE_AUS, full)},
                         **{f"{a} crop": v for a, v in zip(TEXTURE_AUS, small)}))
    faces = pd.DataFrame(rows).set_index("face")
    scale = {a: float(np.median(np.abs(faces[f"{a} photo"] - faces[f"{a} crop"]))) for a in TEXTURE_AUS}
    print("\n3. creases (neutral spreads) of the real faces: the photo and its 48-px crop")
    print(faces.round(2).to_string())
    print("median |photo - crop|: " + ", ".join(f"{a} {v:.2f}" for a, v in scale.items()))

    print("\nverdict")
    for i, au in enumerate(TEXTURE_AUS):
        others = [a for a in AU_CODES if not share_region(a, au)]
        own, worst = r.loc[f"{au} creases", au], max(others, key=lambda a: r.loc[f"{au} creases", a])
        convergent = own > r.loc[f"{au} creases", worst]
        floor_ok = au != "AU04" or auc.loc[("AU04", "anger"), "AU + creases"] >= 0.65
        scale_ok = scale[au] < 0.5
        print(f"  {au}: r with its own AU {own:+.2f}, best other region {worst} {r.loc[f'{au} creases', worst]:+.2f}"
              f" -> {'convergent' if convergent else 'NOT convergent'}"
              + ("" if floor_ok else "; adding it drops anger's AU04 below issue 4's floor (0.65)")
              + f"; photo vs crop {scale[au]:.2f} {'< 0.5' if scale_ok else '>= 0.5'}"
              + (" -> could join" if convergent and floor_ok and scale_ok else " -> not kept"))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.path.insert(0, str(REPO / "bench"))
    main()
