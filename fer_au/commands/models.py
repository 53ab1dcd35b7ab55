"""`python cli.py models`: list the shipped models and check their sha256."""
from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser("models", help="list shipped models and verify their checksums",
                       description="List the models in models/ with their size and whether each file "
                                   "matches models/MANIFEST.sha256. --rehash rewrites the manifest "
                                   "after you retrained a model on purpose.")
    p.add_argument("--rehash", action="store_true", help="rewrite MANIFEST.sha256 from the files present")
    return p


def run(args) -> int:
    from .. import zoo

    if args.rehash:
        zoo.write_manifest()
    bad = 0
    for name, (_, files) in zoo.REGISTRY.items():
        for f in files:
            path = zoo.MODELS_DIR / f
            try:
                zoo.verified_path(f)
                status = "ok"
            except zoo.ModelIntegrityError as exc:
                status, bad = f"FAILED: {exc}", bad + 1
            size = f"{path.stat().st_size / 1e6:.1f} MB" if path.exists() else "-"
            print(f"{name:<12} {f:<28} {size:>9}  {status}")
    return 1 if bad else 0
