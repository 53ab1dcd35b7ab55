"""How many of the shipped CNN's answers bfloat16 changes, on the splits used to choose it.

    python bench/cnn_precision.py [--data PATH] [--train 6000]

Runs the shipped model (mirror averaging on) in float32 and in the shipped mixed
precision (bfloat16 convolutions, first conv and head in float32; see
fer_au.cnn.fold_batchnorm) over PublicTest and the first --train Training faces, and
prints how many top answers differ, the largest probability change, and both
accuracies.  PrivateTest is left out on purpose: the precision was chosen on these.
"""
import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from _data import fer2013_path  # noqa: E402
from fer_au import cnn, zoo  # noqa: E402
from fer_au.data import load_fer2013  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="FER2013 CSV or folder (default: found automatically)")
    ap.add_argument("--train", type=int, default=6000, help="Training faces to include")
    args = ap.parse_args()
    ds = load_fer2013(fer2013_path(args.data))
    public, train = ds.split("PublicTest"), ds.split("Training")
    images = np.concatenate([public.images, train.images[:args.train]])
    labels = np.concatenate([public.labels, train.labels[:args.train]])
    keras = cnn._keras()
    trained = keras.saving.load_model(zoo.verified_path("cnn_fer7.keras"), compile=False)
    exact = cnn.EmotionCNN(trained, tta=True, precision="float32").predict_proba(images)
    mixed = cnn.EmotionCNN(trained, tta=True, precision="bfloat16").predict_proba(images)
    changed = int((exact.argmax(1) != mixed.argmax(1)).sum())
    print(f"PublicTest + {args.train} Training faces ({len(images)}): bfloat16 changes {changed} top answer(s) "
          f"of float32's; largest probability change {np.abs(exact - mixed).max():.4f}")
    for name, p in (("float32", exact), ("bfloat16", mixed)):
        n = len(public)
        print(f"{name:>8}: PublicTest accuracy {(p[:n].argmax(1) == public.labels).mean():.4f}, "
              f"Training subset {(p[n:].argmax(1) == labels[n:]).mean():.4f}")


if __name__ == "__main__":
    main()
