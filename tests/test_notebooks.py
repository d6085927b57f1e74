"""Notebooks as stored in git: one parameters cell, no secrets, outputs only where checked."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_five_notebooks():
    assert [p.name for p in NOTEBOOKS] == [
        "01_roles.ipynb",
        "02_2fa.ipynb",
        "03_overprivileged.ipynb",
        "04_findings.ipynb",
        "05_explorer.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    src = cells[0].source
    for name in ("source", "policy", "as_of"):
        assert re.search(rf"^{name}: str = .*#", src, flags=re.M), name
    assert not re.search(r"token|secret|password", src, flags=re.I)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_only_in_checked_cells(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        checked = "# NBVAL_CHECK_OUTPUT" in cell.source.splitlines()
        tags = cell.metadata.get("tags", [])
        if checked:
            assert "keep_output" in tags and cell.outputs
            assert "remove-cell" in tags  # plain-text figures stay out of the auditors' HTML
        else:
            assert not cell.outputs and cell.execution_count is None
