"""`python cli.py data check PATH`: is this FER2013 file sound, and what is in it?"""
from __future__ import annotations

import sys


def add_parser(sub):
    p = sub.add_parser("data", help="inspect FER2013 files",
                       description="Inspect a FER2013 CSV (plain or .gz) or image folder.")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    c = dsub.add_parser("check", help="count rows per split and label, report bad rows",
                        description="Read FER2013 and print rows per split and per label (with totals) and every "
                                    "problem found. Exits 1 when the file has bad rows, 2 when it "
                                    "cannot be read at all.")
    c.add_argument("path", help="fer2013.csv, fer2013.csv.gz, or a folder (train/<label>/*.jpg)")
    c.add_argument("--ferplus", default="auto",
                   help="fer2013new.csv to check against (default: one beside the CSV, if any; 'none' to skip)")
    c.add_argument("--scheme", choices=["fer7", "fer6", "fer8"], default="fer7",
                   help="label set to count: FER2013's seven, fer6 (disgust joins anger), or fer8: "
                        "FER+'s eight by its voters' majority (needs fer2013new.csv; images without "
                        "a majority, unknown or not a face are counted on their own row)")
    c.add_argument("--ferplus-rule", choices=["majority", "plurality"], default="majority",
                   help="with --scheme fer8: FER+'s own majority rule (default) or the top vote")
    c.add_argument("--no-cache", action="store_true", help="parse the file even if a cached copy exists")
    return p


def _fer8_counts(ds, rule: str):
    """Images per FER+ class (fer8) and split, plus a row for those with no FER+ label."""
    import numpy as np
    import pandas as pd

    from ..data import USAGES
    from ..labels import FER8

    y = ds.ferplus_labels("fer8", rule)
    table = {u: np.bincount(y[(ds.usage == u) & (y >= 0)], minlength=len(FER8)).tolist()
             + [int(((ds.usage == u) & (y < 0)).sum())] for u in USAGES}
    df = pd.DataFrame(table, index=pd.Index(list(FER8) + ["(no label)"], name="fer8"))
    df["total"] = df.sum(axis=1)
    return df


def run(args) -> int:
    import warnings

    from ..data import load_fer2013

    ferplus = None if args.ferplus == "none" else args.ferplus
    with warnings.catch_warnings():          # a bad file: one line and exit 2 (cli.main)
        warnings.simplefilter("ignore")
        ds = load_fer2013(args.path, lenient=True, ferplus=ferplus, cache=not args.no_cache)
    print(f"{args.path}: {len(ds)} images")      # the file given (a cached parse may name another)
    if args.scheme == "fer8":
        if ds.ferplus_votes is None:
            print(f"error: --scheme fer8 counts FER+'s labels: no fer2013new.csv beside {args.path} "
                  "(give it with --ferplus PATH)", file=sys.stderr)
            return 2
        table = _fer8_counts(ds, args.ferplus_rule)
        print(f"FER+ labels by the {args.ferplus_rule} rule:")
    else:
        table = ds.counts(args.scheme)
    table.loc["total"] = table.sum()                # per-split totals, e.g. Training 28,709
    print(table.to_string())
    if ds.ferplus_votes is not None:
        print(f"FER+: {int(ds.ferplus_not_face.sum())} not-a-face images")
        for rule, what in (("majority", "FER+'s majority rule"), ("plurality", "the top vote, ties left out")):
            fp8 = ds.ferplus_labels("fer8", rule)
            fp = ds.ferplus_labels(args.scheme, rule)
            has = fp >= 0
            agree = (fp[has] == ds.y(args.scheme)[has]).mean() if has.any() else float("nan")
            print(f"  {rule} ({what}): {int((fp8 >= 0).sum())} labelled images "
                  f"({int((fp8 == 7).sum())} contempt); FER2013 agrees with the "
                  f"{int(has.sum())} of {args.scheme} on {agree:.1%}")
    if ds.problems:
        print(f"{len(ds.problems)} bad row(s):", file=sys.stderr)
        for p in ds.problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print("no problems found")
    return 0
