"""Execute notebooks in place, saving their outputs (full data unless FER_AU_SUBSET is set).

    python scripts/run_notebooks.py [notebooks/NAME.ipynb ...]
    python scripts/run_notebooks.py --tidy notebooks/NAME.ipynb ...   # only tidy saved outputs

Progress bars are saved in their last state, as a terminal would show them.
"""
import argparse
import sys
import time
from pathlib import Path

import nbclient
import nbformat


def is_redraw(output) -> bool:
    """A progress bar's redraw: stderr text that starts with a carriage return and
    ends no line, so a terminal would draw the next one over it."""
    text = output.get("text", "")
    return (output.get("output_type") == "stream" and output.get("name") == "stderr"
            and text.startswith("\r") and "\n" not in text)


def drop_overwritten_redraws(nb) -> None:
    """Keep each progress bar's last state only (nbclient saves one output per update)."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = cell.outputs
        cell.outputs = [o for o, after in zip(outputs, outputs[1:] + [None])
                           if not (is_redraw(o) and after is not None and is_redraw(after))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook in notebooks/")
    ap.add_argument("--tidy", action="store_true", help="do not execute, only tidy the saved outputs")
    args = ap.parse_args()
    paths = args.notebooks or sorted(Path(__file__).resolve().parent.parent.glob("notebooks/*.ipynb"))
    for path in paths:
        t = time.time()
        nb = nbformat.read(path, as_version=4)
        if not args.tidy:
            nbclient.NotebookClient(nb, timeout=7200, kernel_name="python3",
                                    resources={"metadata": {"path": str(path.parent)}}).execute()
        drop_overwritten_redraws(nb)
        nbformat.write(nb, path)
        print(f"{path}: {'tidied' if args.tidy else 'executed'} in {time.time() - t:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
