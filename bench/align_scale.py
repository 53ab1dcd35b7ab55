"""What the CNN sees of a face larger than its 48-px input: sampled or area-averaged.

    python bench/align_scale.py [--data PATH] [--n 600] [--seed 0]

``faces.align_face`` turns a face of any size into the 48x48 crop the CNN reads.
``cv2.warpAffine`` alone only samples the source (its INTER_AREA is bilinear), so a
face five times the crop keeps one pixel in 25 and aliases hair, skin and beard
into noise FER2013's shrunken images do not have.  ``align_face`` area-averages
first (``faces.area_reduced``).  This prints, for both ways ("sampled": warpAffine
alone, as before session 10; "averaged": what ships):

1. sharpness (mean |Laplacian|) of the crops of scikit-image's astronaut and
   matplotlib's Grace Hopper shown at face widths of 48 to 400 px, beside the
   spread of FER2013 PublicTest's own images, and the CNN's top emotion;
2. end to end, ``--n`` PublicTest faces upsampled 5x (240 px) onto a 400-px
   canvas, through the whole analyzer: fer7 accuracy, and agreement with the
   CNN on the original 48-px image.  These faces are smooth (upsampled), so
   this checks that averaging costs nothing where there is no fine detail to
   alias; part 1 shows what it changes where there is;
3. the same faces with pixel grain added at 240 px (``--grain``, i.i.d. normal):
   detail finer than the 48-px input, which real photos have (skin, sensor noise)
   and upsampled faces lack.  Recall per class as well.
"""
import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from _data import fer2013_path  # noqa: E402

from fer_au import faces  # noqa: E402
from fer_au.labels import FER7  # noqa: E402


def sampled(gray, landmarks, size=48):
    """The crop as warpAffine alone makes it (fer_au before session 10)."""
    return cv2.warpAffine(faces._gray(gray), faces.alignment_matrix(landmarks, size), (size, size),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def sharpness(img) -> float:
    return float(np.abs(cv2.Laplacian(np.asarray(img, np.float32), cv2.CV_32F)).mean())


WAYS = {"sampled": sampled, "averaged": faces.align_face}


def portraits(analyzer):
    from fer_au.samples import source_photo
    print("1. crops of two portraits shown at several face widths: sharpness (mean |Laplacian|), top emotion")
    for name in ("astronaut", "hopper"):
        src = source_photo(name)
        width = analyzer.analyze(src)[0].box[2]
        for fw in (48, 96, 150, 250, 400):
            s = fw / width
            img = cv2.resize(src, None, fx=s, fy=s, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
            gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
            lm = analyzer.analyze(img)[0].landmarks
            cells = []
            for way, fn in WAYS.items():
                crop = fn(gray, lm, 48)
                p = analyzer.emotion_model.predict_proba(crop[None])[0]
                cells.append(f"{way} {sharpness(crop):5.1f} {FER7[int(p.argmax())]:>9s} {p.max():.2f}")
            print(f"  {name:9s} face {fw:3d} px | " + " | ".join(cells))


def end_to_end(analyzer, ds, n, seed, grain=0.0, part=2):
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(ds.images), min(n, len(ds.images)), replace=False)
    direct = analyzer.emotion_model.predict_proba(ds.images[idx]).argmax(1)
    y = ds.labels[idx]
    print(f"\n{part}. {len(idx)} PublicTest faces upsampled 5x onto a 400-px canvas"
          + (f", with pixel grain (std {grain:g} grey levels at 240 px)" if grain else "")
          + f", whole analyzer (the CNN on the 48-px originals: accuracy {np.mean(direct == y):.4f})")
    keep = faces.align_face
    try:
        for way, fn in WAYS.items():
            faces.align_face = fn          # what the analyzer calls for every face
            got = []
            for i in idx:
                up = cv2.resize(ds.images[i], (240, 240), interpolation=cv2.INTER_CUBIC)
                if grain:   # detail finer than a 48-px pixel: film grain, skin pores, sensor noise
                    g = np.random.default_rng([seed, int(i)]).normal(0.0, grain, up.shape)
                    up = np.clip(up + g, 0, 255).astype(np.uint8)
                found = analyzer.analyze(cv2.copyMakeBorder(up, 80, 80, 80, 80, cv2.BORDER_REPLICATE))
                got.append(FER7.index(found[0].top_emotion[0]) if found else -1)
            got = np.array(got)
            ok = got >= 0
            recall = "  ".join(f"{FER7[c][:4]} {np.mean(got[ok & (y == c)] == c):.2f}" for c in range(7))
            print(f"  {way:8s}: found {ok.mean():.3f}; accuracy {np.mean(got[ok] == y[ok]):.4f}, "
                  f"agrees with the 48-px original {np.mean(got[ok] == direct[ok]):.4f} ({ok.sum()} faces); "
                  f"recall {recall}")
    finally:
        faces.align_face = keep


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--grain", type=float, default=12.0, help="pixel grain of part 3 (grey levels)")
    args = ap.parse_args()
    from fer_au import FaceAnalyzer
    from fer_au.data import load_fer2013

    analyzer = FaceAnalyzer(au_model=None, aus=False)
    ds = load_fer2013(fer2013_path(args.data)).split("PublicTest")
    v = [sharpness(im) for im in ds.images[:2000]]
    print("FER2013 PublicTest, sharpness of its own 48-px images: percentiles 10/50/90/99 "
          + " / ".join(f"{q:.1f}" for q in np.percentile(v, [10, 50, 90, 99])) + "\n")
    portraits(analyzer)
    end_to_end(analyzer, ds, args.n, args.seed)
    end_to_end(analyzer, ds, args.n, args.seed, grain=args.grain, part=3)


if __name__ == "__main__":
    main()
