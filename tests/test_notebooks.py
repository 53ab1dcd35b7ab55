"""Every notebook runs top to bottom on a small subset, so none of them rots.

FER_AU_SUBSET=200 (images per split) keeps each one to a few minutes; the
notebooks read the full data when the variable is unset.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, fer_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("FER_AU_SUBSET", os.environ.get("FER_AU_SUBSET", "200"))
    monkeypatch.setenv("FER_AU_DATA", str(fer_path))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel draws inline, as for a user
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
