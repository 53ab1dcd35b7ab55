"""The command line: a thin argparse layer; every subcommand lives in
``fer_au/commands/<name>.py`` with ``add_parser(subparsers)`` and ``run(args)``."""
from __future__ import annotations

import argparse
import importlib
import sys

# Order here is the order in --help.
COMMANDS = ["demo", "analyze", "live", "train", "evaluate", "data", "models"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python cli.py",
        description="fer_au: facial expression analysis on the FACS model "
                    "(emotions and action units from faces, offline, on the CPU).",
        epilog="Run `python cli.py COMMAND --help` for each command's options.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"fer_au.commands.{name}")
        p = module.add_parser(sub)
        p.set_defaults(_run=module.run)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError, RuntimeError, OSError) as exc:
        # Bad input is one clear line, not a traceback.
        print(f"error: {exc}", file=sys.stderr)
        return 2
