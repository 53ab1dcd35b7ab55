"""Milliseconds per face of the shipped CNN's inference variants, batch 1 to 8.

    python bench/cnn_speed.py [--repeats 100] [--rounds 3]

Variants: the trained Keras model as saved (BatchNorm layers, float32), the same with
BatchNorm folded into the convolutions (float32), and folded with bfloat16 convolutions
(what `cnn_keras` runs on a CPU with bfloat16 hardware; see fer_au.cnn.fold_batchnorm),
all in TensorFlow; then in LiteRT (no TensorFlow, what `cnn` runs): the float32 TFLite
export and the int8-weight export that ships as models/cnn_fer7.tflite
(fer_au.cnn.export_tflite).  All with the mirror averaging the shipped model uses.  The variants take turns for --rounds rounds
of --repeats calls each, so a noisy neighbour hits them alike; each figure is the median
over all of a variant's calls at that batch size.  Needs no dataset: the faces are random
pixels (the cost does not depend on them).
"""
import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from fer_au import cnn, zoo  # noqa: E402
from fer_au.evaluate import face_times_ms  # noqa: E402
from _data import cpu_model  # noqa: E402

BATCHES = (1, 2, 4, 8)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=100, help="calls per median")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of all variants")
    args = ap.parse_args()
    keras = cnn._keras()
    import tensorflow as tf

    trained = keras.saving.load_model(zoo.verified_path("cnn_fer7.keras"), compile=False)
    as_saved = cnn.EmotionCNN(trained, tta=True)
    # swap in the unfolded model, the path EmotionCNN took before fold_batchnorm
    as_saved._forward = tf.function(lambda x: trained(x, training=False),
                                    input_signature=[tf.TensorSpec([None, *cnn.INPUT_SHAPE], tf.float32)],
                                    reduce_retracing=True)
    variants = {"as saved, float32": as_saved,
                "folded, float32": cnn.EmotionCNN(trained, tta=True, precision="float32"),
                "folded, bfloat16": cnn.EmotionCNN(trained, tta=True, precision="bfloat16")}
    # the float32 file lives until the end: LiteRT maps the file rather than copying it
    tmp = tempfile.TemporaryDirectory()
    float_file = cnn.export_tflite(trained, Path(tmp.name) / "float32.tflite", quantize=False)
    variants["LiteRT, float32"] = cnn.LiteCNN(float_file, tta=True)
    variants["LiteRT, int8 (cnn)"] = zoo.load_model("cnn")
    faces = np.random.default_rng(0).integers(0, 256, (max(BATCHES), 48, 48), dtype=np.uint8)
    times = {(v, b): [] for v in variants for b in BATCHES}
    for _ in range(args.rounds):
        for name, model in variants.items():
            for b in BATCHES:
                times[name, b] += face_times_ms(model, faces, batch_size=b, repeats=args.repeats)
    shipped = cnn.resolve_precision(cnn.SHIPPED_PRECISION)
    print(f"ms per face (median of {args.rounds * args.repeats} calls), mirror averaging on, "
          f"{cnn.default_threads()} threads; CPU: {cpu_model()}; bfloat16 hardware: {cnn.cpu_has_bf16()} "
          f"(cnn_keras runs {shipped} here)")
    print(f"{'variant':22s}" + "".join(f"{'batch ' + str(b):>10s}" for b in BATCHES))
    for name in variants:
        print(f"{name:22s}" + "".join(f"{np.median(times[name, b]):10.2f}" for b in BATCHES))
    del variants
    tmp.cleanup()


if __name__ == "__main__":
    main()
