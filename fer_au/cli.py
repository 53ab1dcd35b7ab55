"""The command line: a thin argparse layer; every subcommand lives in
``fer_au/commands/<name>.py`` with ``add_parser(subparsers)`` and ``run(args)``."""
from __future__ import annotations

import argparse
import importlib
import sys

from .errors import FerAuError

# Order here is the order in --help.
COMMANDS = ["demo", "analyze", "report", "live", "train", "evaluate", "data", "models"]


def invoked_as() -> str:
    """How the user called us, for usage lines: `fer-au`, `python -m fer_au` or `python cli.py`."""
    argv0 = sys.argv[0] if sys.argv else ""
    if argv0.endswith("cli.py"):
        return "python cli.py"
    if argv0.endswith("__main__.py"):
        return "python -m fer_au"
    return "fer-au"


def build_parser() -> argparse.ArgumentParser:
    prog = invoked_as()
    parser = argparse.ArgumentParser(
        prog=prog,
        description="fer_au: facial expression analysis on the FACS model "
                    "(emotions and action units from faces, offline, on the CPU).",
        epilog=f"Run `{prog} COMMAND --help` for each command's options.")
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
    except (FerAuError, FileNotFoundError, ValueError, RuntimeError, OSError) as exc:
        # Bad input is one clear line, not a traceback.
        print(f"error: {exc}", file=sys.stderr)
        return 2
