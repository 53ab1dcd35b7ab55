"""`python cli.py models`: list the shipped models and check their sha256."""
from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser("models", help="list shipped models and verify their checksums",
                       description="List the models in models/ with their size and whether each file "
                                   "matches models/MANIFEST.sha256. --rehash rewrites the manifest "
                                   "after you retrained a model on purpose.")
    p.add_argument("--rehash", action="store_true", help="rewrite MANIFEST.sha256 from the files present that load (a file that does not "
                        "load keeps its old checksum and is reported)")
    return p


def run(args) -> int:
    import sys

    from .. import zoo

    bad = 0
    if args.rehash:
        problems: list = []
        zoo.write_manifest(problems=problems)
        for path, reason in problems:
            print(f"error: {path}: cannot be loaded ({reason}); its checksum was NOT updated, so it stays "
                  f"refused: {zoo.RESTORE_HINT}", file=sys.stderr)
        bad += len(problems)
    try:
        zoo.read_manifest()
    except zoo.ModelIntegrityError as exc:       # one line, not one per model file
        print(f"error: {exc}", file=sys.stderr)
        return 1
    groups = [(name, e.files) for name, e in zoo.REGISTRY.items()]
    groups += [("perception", zoo.PERCEPTION_FILES), ("plots", getattr(zoo, "PLOT_FILES", ()))]
    for name, files in groups:
        for f in files:
            path = zoo.MODELS_DIR / f
            try:
                zoo.verified_path(f)
                status = "ok"
            except zoo.ModelIntegrityError as exc:
                status, bad = f"FAILED: {exc}", bad + 1
            size = f"{path.stat().st_size / 1e6:.1f} MB" if path.exists() else "-"
            print(f"{name:<12} {f:<40} {size:>9}  {status}")
    return 1 if bad else 0
