"""PrivateTest figures of every shipped model, from the shipped files alone.

    python bench/accuracy.py [--data PATH] [--models cnn,classical,...] [--no-speed] [--update]

Prints, per model: 7- and 6-class accuracy and macro-F1 on PrivateTest,
per-class recall, accuracy against FER+'s majority labels (when fer2013new.csv is beside
the data), file size, and milliseconds per 48x48 face at batch 1, 2, 4 and 8
(median of 50 calls; bench/cnn_speed.py compares the CNN's inference variants).
--update writes the figures to models/metrics.json, which MODEL_CARD.md quotes
and tests/test_shipped_models.py holds the models to; --no-speed leaves the stored
speeds as they are (speeds differ between CPUs: re-measure them all on one).
"""
import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from fer_au import zoo  # noqa: E402
from fer_au.data import load_fer2013  # noqa: E402
from _data import cpu_model, fer2013_path  # noqa: E402
from fer_au.evaluate import ferplus_metrics, metrics, ms_per_face  # noqa: E402

METRICS_FILE = zoo.MODELS_DIR / "metrics.json"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="FER2013 CSV or folder (default: found automatically)")
    ap.add_argument("--models", default=None, help="comma-separated names (default: all shipped)")
    ap.add_argument("--update", action="store_true", help="write the figures to models/metrics.json")
    ap.add_argument("--no-speed", action="store_true", help="measure accuracy only; keep the stored speeds")
    args = ap.parse_args()
    path = fer2013_path(args.data)
    test = load_fer2013(path, ferplus="auto").split("PrivateTest")   # FER+ votes where beside it
    names = args.models.split(",") if args.models else [n for n in zoo.available() if n != "cnn_keras"]  # same network as cnn
    stored = json.loads(METRICS_FILE.read_text()) if METRICS_FILE.exists() else {}
    for name in names:
        model = zoo.load_model(name)
        proba = model.predict_proba(test.images)
        entry = stored.setdefault(name, {})
        size = sum((zoo.MODELS_DIR / f).stat().st_size for f in zoo.REGISTRY[name][1])
        print(f"== {name}  ({size / 1e6:.1f} MB)")
        for scheme in ("fer7", "fer6"):
            m = metrics(proba, test.labels, scheme)
            entry[scheme] = {"accuracy": round(m["accuracy"], 4), "macro_f1": round(m["macro_f1"], 4),
                             "recall": {k: round(v["recall"], 3) for k, v in m["per_class"].items()}}
            recall = "  ".join(f"{k[:4]} {v['recall']:.2f}" for k, v in m["per_class"].items())
            print(f"{scheme}: accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}  recall: {recall}")
        if test.ferplus_votes is not None:   # FER+'s majority labels (fer2013new.csv)
            fp = ferplus_metrics(proba, test.ferplus_votes)
            entry["ferplus"] = {k: {"accuracy": round(fp[k]["accuracy"], 4), "n": fp[k]["n"]}
                                for k in ("fer8", "fer7_subset")}
            print(f"FER+ (majority rule): 8-class accuracy {fp['fer8']['accuracy']:.4f} on {fp['fer8']['n']}; "
                  f"on its {fp['fer7_subset']['n']} images of FER2013's 7 classes {fp['fer7_subset']['accuracy']:.4f}")
        entry.update(size_mb=round(size / 1e6, 2), n=len(test))
        if args.no_speed:
            continue
        # one frame's faces: the live budget is per face at every batch size from 1 to 8
        speed = {f"ms_per_face_batch{b}": round(ms_per_face(model, test.images, batch_size=b, repeats=50), 2)
                 for b in (1, 2, 4, 8)}
        entry.update(speed, cpu=cpu_model())   # speeds differ between CPUs: name it
        precision = getattr(model, "precision", None)  # the CNN's: bfloat16 where the CPU has it
        if precision:
            entry["precision"] = precision
        else:                       # LiteRT's CNN runs float32 (no stale figure from a Keras run)
            entry.pop("precision", None)
        print("speed: " + ", ".join(f"{k} {v}" for k, v in speed.items())
              + (f"  ({precision})" if precision else "") + f" on {cpu_model()}")
    if args.update:
        METRICS_FILE.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
        print(f"wrote {METRICS_FILE}")


if __name__ == "__main__":
    main()
