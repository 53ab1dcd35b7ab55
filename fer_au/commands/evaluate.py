"""`python cli.py evaluate --model NAME --data PATH`: score a shipped model on a FER2013 split."""
from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub):
    from ..zoo import REGISTRY
    p = sub.add_parser("evaluate", help="score a shipped emotion model on FER2013",
                       description="Score a shipped model on one FER2013 split: accuracy, macro-F1, "
                                   "per-class precision/recall, and a confusion-matrix PNG. The "
                                   "standard figure is --split PrivateTest with --scheme fer7.")
    p.add_argument("--model", required=True, choices=sorted(REGISTRY), help="which shipped model")
    p.add_argument("--data", required=True, help="fer2013.csv[.gz] or its folder")
    p.add_argument("--split", default="PrivateTest", choices=["Training", "PublicTest", "PrivateTest"])
    p.add_argument("--scheme", default="fer7", choices=["fer7", "fer6"],
                   help="fer6 folds Disgust into Angry (probabilities summed)")
    p.add_argument("--confusion", default=None,
                   help="where to write the confusion-matrix PNG (default confusion_MODEL_SPLIT_SCHEME.png)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--limit", type=int, default=None, help="score only the first N images (quick checks)")
    p.add_argument("--models-dir", default=None, metavar="DIR",
                   help="load the model from DIR instead of models/ (e.g. a candidate that "
                        "`train ... --models-dir DIR` wrote, before shipping it; its "
                        "MANIFEST.sha256 is checked the same way)")
    return p


def run(args) -> int:
    from ..data import load_fer2013
    from ..evaluate import format_report, metrics, plot_confusion
    from ..zoo import load_model

    ds = load_fer2013(args.data).split(args.split)
    if args.limit:
        ds = ds[: args.limit]
    model = load_model(args.model, models_dir=args.models_dir)
    proba = model.predict_proba(ds.images)
    m = metrics(proba, ds.labels, args.scheme)
    m.update(model=args.model, split=args.split)
    png = Path(args.confusion or f"confusion_{args.model}_{args.split}_{args.scheme}.png")
    plot_confusion(m, png, title=f"{args.model} on {args.split} ({args.scheme}): accuracy {m['accuracy']:.3f}")
    m["confusion_png"] = str(png)
    if args.json:
        print(json.dumps(m))
    else:
        print(format_report(m, title=f"{args.model} on {args.split}"))
        print(f"confusion matrix: {png}")
    return 0
