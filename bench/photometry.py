"""The CNN on faces whose brightness and contrast differ from FER2013's, with and
without ``cnn.clamp_photometry`` (what the shipped CNNs apply first).

    python bench/photometry.py [--data PATH] [--model cnn] [--split PublicTest]

Prints fer7 accuracy on the split's faces as they are and after contrast x0.5 and
x0.3 about mid-grey, half the brightness, and gamma 0.5 and 2 (each image as an
8-bit camera would store it: rounded down and clipped to 0-255).  The clamp's range
was chosen on PublicTest (MODEL_CARD, "Brightness and contrast").
"""
import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from _data import fer2013_path  # noqa: E402

SHIFTS = {
    "as they are": lambda x: x,
    "contrast x0.5": lambda x: 128 + 0.5 * (x - 128),
    "contrast x0.3": lambda x: 128 + 0.3 * (x - 128),
    "brightness x0.5": lambda x: 0.5 * x,
    "gamma 0.5": lambda x: 255 * (x / 255) ** 0.5,
    "gamma 2": lambda x: 255 * (x / 255) ** 2,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--split", default="PublicTest")
    args = ap.parse_args()
    from fer_au import zoo
    from fer_au.data import load_fer2013

    ds = load_fer2013(fer2013_path(args.data)).split(args.split)
    x = ds.images.astype(np.float32)
    model = zoo.load_model(args.model)
    shipped = model.clamp
    print(f"{args.model} on {len(ds)} {args.split} faces: fer7 accuracy without / with the clamp")
    try:
        for name, shift in SHIFTS.items():
            faces = np.clip(shift(x), 0, 255).astype(np.uint8)
            acc = []
            for clamp in (False, True):
                model.clamp = clamp
                acc.append(float(np.mean(model.predict_proba(faces).argmax(1) == ds.labels)))
            print(f"  {name:16s} {acc[0]:.4f}  {acc[1]:.4f}")
    finally:
        model.clamp = shipped


if __name__ == "__main__":
    main()
