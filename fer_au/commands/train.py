"""`python cli.py train TARGET --data PATH`: rebuild a shipped model from FER2013."""
from __future__ import annotations

import importlib

# One module per target, each with add_parser(subparsers) and run(args).
TARGETS = ["fer_au.commands.train_cnn", "fer_au.commands.train_au", "fer_au.commands.train_classical"]


def add_parser(sub):
    p = sub.add_parser("train", help="rebuild the shipped models from FER2013",
                       description="Train a model family on FER2013 (Training split; PublicTest "
                                   "for model selection; PrivateTest is never looked at) and "
                                   "write it into models/ with its sha256 in the manifest.")
    tsub = p.add_subparsers(dest="target", metavar="TARGET", required=True)
    for name in TARGETS:
        module = importlib.import_module(name)
        tp = module.add_parser(tsub)
        tp.set_defaults(_target_run=module.run)
    return p


def run(args) -> int:
    return args._target_run(args)
