"""System tools the tests drive (Debian's chromium, pdftoppm, LibreOffice): found, or the
test is skipped on a laptop and fails in CI (``CI`` set), where they must be installed."""

from __future__ import annotations

import os
import shutil

import pytest

from scalingo_audit.errors import MissingToolError
from scalingo_audit.pdf import HEADLESS_FLAGS, find_chromium

CHROMIUM_ARGS = list(HEADLESS_FLAGS)


def system_tool(*names: str, package: str) -> str:
    """The path of the first of ``names`` on PATH; otherwise skip, or fail in CI."""
    for name in names:
        path = shutil.which(name)
        if path is not None:
            return path
    if os.environ.get("CI"):
        pytest.fail(f"{names[0]} not found: CI must run this test (apt-get install {package})")
    pytest.skip(f"{names[0]} not found (apt-get install {package} to run this test)")


def chromium_path() -> str:
    return system_tool("chromium", "chromium-browser", package="chromium")


def demo_report_has_pdf() -> bool:
    """Whether the shared demo report (tests/conftest.py) is built with ``pdf=True``: in CI
    always (a missing Chromium fails it there), elsewhere where a Chromium is installed."""
    if os.environ.get("CI"):
        return True
    try:
        find_chromium()
    except MissingToolError:
        return False
    return True
