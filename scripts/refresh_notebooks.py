"""Refresh the notebooks' stored outputs: run each on the demo, keep only checked outputs.

    .venv/bin/python scripts/refresh_notebooks.py [notebooks/01_roles.ipynb ...]

Cells tagged ``keep_output`` (those with ``# NBVAL_CHECK_OUTPUT``, which nbval compares)
keep the output of a fresh run on the demo organisation; every other cell is stripped and
every execution count cleared, so the notebooks stay small and diff well. Run it after
changing the demo organisation or a checked cell.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
KEEP = "keep_output"


def refresh(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    keeps = any(KEEP in c.metadata.get("tags", []) for c in nb.cells)
    if keeps:
        ran = nbformat.from_dict(nb)
        NotebookClient(
            ran, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        ).execute()
    for i, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        if keeps and KEEP in cell.metadata.get("tags", []):
            # nbval only compares a cell that has an execution count ("unrun" cells fail)
            cell.execution_count = ran.cells[i].execution_count
            cell.outputs = ran.cells[i].outputs
        else:
            cell.execution_count = None
            cell.outputs = []
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    print(f"{path.name}: {'outputs refreshed' if keeps else 'stripped'}")


def main(argv: list[str]) -> None:
    paths = [Path(a) for a in argv] or sorted(NOTEBOOKS.glob("*.ipynb"))
    for path in paths:
        refresh(path)


if __name__ == "__main__":
    main(sys.argv[1:])
