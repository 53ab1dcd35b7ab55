"""Execute notebooks in place, saving their outputs (full data unless FER_AU_SUBSET is set).

    python scripts/run_notebooks.py [notebooks/NAME.ipynb ...]
"""
import os
import sys
import time
from pathlib import Path

import nbclient
import nbformat

paths = [Path(p) for p in sys.argv[1:]] or sorted(Path(__file__).resolve().parent.parent.glob("notebooks/*.ipynb"))
for path in paths:
    t = time.time()
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=7200, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(nb, path)
    print(f"{path}: executed in {time.time() - t:.0f} s")
