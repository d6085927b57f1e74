"""Files shipped inside the package: the bundled notebooks, and editable copies of them.

The notebooks are kept once in git, at the repository's ``notebooks/``; the build puts
them into the wheel as ``scalingo_audit/notebooks/`` (pyproject.toml,
``[tool.hatch.build.targets.wheel.sources]``). :func:`notebooks_dir` finds them with
:mod:`importlib.resources` in an installed package and, in a source checkout (an
editable install, or ``PYTHONPATH`` pointing at the repository), in ``notebooks/`` next
to the package.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from .errors import AuditError

PACKAGE = "scalingo_audit"
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
"""Which files in a notebooks directory are notebooks of the toolkit (``NN_name.ipynb``)."""


def notebooks_dir() -> Path:
    """The directory holding the bundled notebooks."""
    packaged = resources.files(PACKAGE) / "notebooks"
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "notebooks").is_dir():
        return checkout / "notebooks"
    raise AuditError(
        "this installation of scalingo-audit has no bundled notebooks (a zipped or partial "
        "install?): reinstall it with pip, or pass --notebooks DIR"
    )


def bundled_notebooks() -> list[Path]:
    """Every bundled notebook (the report's and the analysts' ones), sorted by name."""
    return sorted(notebooks_dir().glob(NOTEBOOK_GLOB))


def copy_notebooks(dest: str | Path) -> list[Path]:
    """Write editable copies of the bundled notebooks into ``dest`` (created if missing).

    Never overwrites: if a notebook of the same name is already there, nothing is copied
    and :class:`~scalingo_audit.errors.AuditError` names it. Returns the copies' paths.
    """
    target = Path(dest)
    if target.exists() and not target.is_dir():
        raise AuditError(f"{target}: not a directory")
    sources = bundled_notebooks()
    taken = [target / nb.name for nb in sources if (target / nb.name).exists()]
    if taken:
        names = ", ".join(p.name for p in taken)
        raise AuditError(
            f"{target}: already has {names}; nothing copied (choose another directory, or "
            "move those files away first)"
        )
    target.mkdir(parents=True, exist_ok=True)
    copies = []
    for nb in sources:
        copy = target / nb.name
        with nb.open("rb") as src, copy.open("xb") as out:  # "x": never replace a file
            shutil.copyfileobj(src, out)
        copies.append(copy)
    return copies
