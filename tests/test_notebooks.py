"""Notebooks as stored in git: one parameters cell, no secrets, outputs only where checked."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


# Notebooks about one audit take a source; those comparing audits take snapshots instead
# (and no as_of: each snapshot is checked as of its own collection time).
PARAMETERS = {
    "06_changes.ipynb": ("old", "new", "policy"),
    "07_trends.ipynb": ("history", "policy"),
}


def test_there_are_eight_notebooks():
    assert [p.name for p in NOTEBOOKS] == [
        "01_roles.ipynb",
        "02_2fa.ipynb",
        "03_overprivileged.ipynb",
        "04_findings.ipynb",
        "05_explorer.ipynb",
        "06_changes.ipynb",
        "07_trends.ipynb",
        "08_compliance.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    src = cells[0].source
    for name in PARAMETERS.get(path.name, ("source", "policy", "as_of")):
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
