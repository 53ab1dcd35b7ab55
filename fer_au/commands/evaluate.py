"""`python cli.py evaluate --model NAME --data PATH`: score a shipped model on a FER2013 split,
against FER2013's labels or (``--labels ferplus``) the FER+ voters' labels."""
from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub):
    from ..zoo import REGISTRY
    p = sub.add_parser("evaluate", help="score a shipped emotion model on FER2013 (or FER+ labels)",
                       description="Score a shipped model on one FER2013 split: accuracy, macro-F1, "
                                   "per-class precision/recall, and a confusion-matrix PNG. The "
                                   "standard figure is --split PrivateTest with --scheme fer7. "
                                   "--labels ferplus scores the same images against the FER+ "
                                   "voters' labels (fer2013new.csv): 8-class accuracy (fer8, with "
                                   "contempt) and accuracy on the images whose FER+ label is one "
                                   "of FER2013's seven.")
    p.add_argument("--model", required=True, choices=sorted(REGISTRY), help="which shipped model")
    p.add_argument("--data", required=True, help="fer2013.csv[.gz] or its folder")
    p.add_argument("--split", default="PrivateTest", choices=["Training", "PublicTest", "PrivateTest"])
    p.add_argument("--scheme", default=None, choices=["fer7", "fer6"],
                   help="FER2013 labels: fer7 (default) or fer6, which folds Disgust into Angry "
                        "(probabilities summed); not used with --labels ferplus, which always "
                        "reports fer8 and the fer7 subset")
    p.add_argument("--labels", default="fer2013", choices=["fer2013", "ferplus"],
                   help="whose labels: FER2013's (default) or the FER+ voters' majority "
                        "(not-a-face and unknown images left out)")
    p.add_argument("--ferplus", default="auto", metavar="PATH",
                   help="fer2013new.csv for --labels ferplus (default: the one beside the FER2013 CSV)")
    p.add_argument("--ferplus-rule", default="majority", choices=["majority", "plurality"],
                   help="FER+ label rule: 'majority' (FER+'s own: single votes dropped, the top class "
                        "needs more than half of the rest; default) or 'plurality' (the top vote, "
                        "ties left out)")
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
    from ..data import find_ferplus, load_fer2013
    from ..errors import FerAuError
    from ..evaluate import format_ferplus_report, format_report, ferplus_metrics, metrics, plot_confusion
    from ..zoo import load_model

    ferplus = args.labels == "ferplus"
    if ferplus and args.scheme is not None:
        raise FerAuError("--scheme applies to FER2013's labels; --labels ferplus always reports fer8 "
                         "and the fer7 subset")
    scheme = "fer8" if ferplus else (args.scheme or "fer7")
    votes_path = None
    if ferplus:
        votes_path = find_ferplus(args.data) if args.ferplus == "auto" else Path(args.ferplus)
        if votes_path is None or not Path(votes_path).exists():
            raise FerAuError(f"--labels ferplus needs the FER+ votes fer2013new.csv: none "
                             f"{'beside ' + str(args.data) if args.ferplus == 'auto' else 'at ' + args.ferplus}"
                             " (get it from github.com/microsoft/FERPlus; or pass --ferplus PATH)")
    ds = load_fer2013(args.data, ferplus=votes_path).split(args.split)
    if args.limit:
        ds = ds[: args.limit]
    model = load_model(args.model, models_dir=args.models_dir)
    proba = model.predict_proba(ds.images)
    labels = f"FER+ {args.ferplus_rule} labels" if ferplus else "FER2013 labels"
    if ferplus:
        r = ferplus_metrics(proba, ds.ferplus_votes, rule=args.ferplus_rule)
        m = r["fer8"]
        r.update(model=args.model, split=args.split, accuracy=m["accuracy"],
                 accuracy_fer7_subset=r["fer7_subset"]["accuracy"])
    else:
        r = m = metrics(proba, ds.labels, scheme)
        m.update(labels="fer2013")
    m.update(model=args.model, split=args.split)
    tag = f"ferplus_{args.ferplus_rule}_fer8" if ferplus else scheme
    png = Path(args.confusion or f"confusion_{args.model}_{args.split}_{tag}.png")
    plot_confusion(m, png, title=f"{args.model} on {args.split} ({labels}, {scheme}): "
                                 f"accuracy {m['accuracy']:.3f}")
    r["confusion_png"] = str(png)
    if args.json:
        print(json.dumps(r))
    elif ferplus:
        print(format_ferplus_report(r, title=f"{args.model} on {args.split}, {labels}"))
        print(f"confusion matrix (fer8): {png}")
    else:
        print(format_report(m, title=f"{args.model} on {args.split}"))
        print(f"confusion matrix: {png}")
    return 0
