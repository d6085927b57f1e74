"""System tools the tests drive (Debian's chromium, pdftoppm, LibreOffice): found, or the
test is skipped on a laptop and fails in CI (``CI`` set), where they must be installed."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

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


@functools.cache
def _lo_profile() -> Path:
    """This process's LibreOffice profile, made (empty) by its first use, removed at exit."""
    home = Path(tempfile.mkdtemp(prefix="scalingo-audit-lo-profile-"))
    atexit.register(shutil.rmtree, home, True)
    return home


def libreoffice_convert(src: Path, to: str, outdir: Path, *, infilter: str | None = None) -> Path:
    """Convert ``src`` with headless LibreOffice (``--convert-to to``) into ``outdir`` and return
    the file written.

    One profile per test process (:func:`_lo_profile`), filled by the first conversion: a new
    profile costs a second start of LibreOffice. ``SAL_DISABLE_CUPS`` keeps LibreOffice from
    looking for printers (CUPS on localhost:631), which nothing here prints to. (A slow run
    once spent 15 s in one LibreOffice start; whether CUPS was the cause is not known.)
    """
    soffice = system_tool("libreoffice", "soffice", package="libreoffice-calc")
    args = [soffice, "--headless", f"-env:UserInstallation={_lo_profile().as_uri()}"]
    if infilter is not None:
        args.append(f"--infilter={infilter}")
    args += ["--convert-to", to, "--outdir", str(outdir), str(src)]
    env = {**os.environ, "SAL_DISABLE_CUPS": "1"}
    r = subprocess.run(args, capture_output=True, text=True, timeout=180, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    out = outdir / (src.stem + "." + to.split(":")[0])
    assert out.is_file(), f"LibreOffice wrote no {out.name}: {r.stdout}{r.stderr}"
    return out
